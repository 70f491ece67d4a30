package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// refuses reports whether a TCP connection to addr is refused.
func refuses(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err == nil {
		c.Close()
		return false
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// scimUser is a minimal SCIM user body.
func scimUser(userName string) string {
	return fmt.Sprintf(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,`+
		`"name":{"givenName":"Given","familyName":"Family"},"emails":[{"value":%q,"type":"work","primary":true}],"active":true}`,
		userName, userName)
}

// heldEmulator serves the emulator (next) and can hold the next BulkCreate
// call before the emulator sees it, so that a test knows a request is in
// flight.
type heldEmulator struct {
	next    http.Handler
	armed   atomic.Bool
	arrived chan struct{} // closed when the held call arrives
	release chan struct{} // closed to let it through
}

func (h *heldEmulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasSuffix(r.URL.Path, "/BulkCreate") && h.armed.CompareAndSwap(true, false) {
		close(h.arrived)
		<-h.release
	}
	h.next.ServeHTTP(w, r)
}

func hasUser(emu *emulator.Server, userName string) bool {
	for _, u := range emu.Users() {
		if u.UserName == userName {
			return true
		}
	}
	return false
}

// TestServeLifecycle runs serve as an operator would (configuration from
// SCIM_BRIDGE_* variables, embedded store, the emulator as UiPath):
// it comes up healthy and ready, provisions a user, and on cancellation
// finishes the request in flight, exits 0 and stops listening.
func TestServeLifecycle(t *testing.T) {
	held := &heldEmulator{arrived: make(chan struct{}), release: make(chan struct{})}
	te := envtest.New(t, envtest.Config{
		Emulator: emulator.Config{ClientSecret: "emu-secret-" + randomToken()},
		Wrap:     func(h http.Handler) http.Handler { held.next = h; return held },
		Store:    envtest.NoStore,
		Quiet:    true,
	})
	emu := te.Emulator
	releaseOnce := sync.OnceFunc(func() { close(held.release) })
	t.Cleanup(releaseOnce) // runs before the emulator's server closes, which waits for held calls

	addr := freeAddr(t)
	token := "scim-token-" + randomToken()
	clientID, secret := emu.Credentials()
	dataDir := t.TempDir()
	setConfigEnv(t, map[string]string{
		"LISTEN":               addr,
		"ADMIN_LISTEN":         freeAddr(t),
		"TOKENS":               token,
		"UIPATH_URL":           te.URL,
		"UIPATH_CLIENT_ID":     clientID,
		"UIPATH_CLIENT_SECRET": secret,
		"DATA_DIR":             dataDir,
		"LOG_LEVEL":            "debug",
		"SHUTDOWN_TIMEOUT":     "10s",
		"DRAIN_DELAY":          "1s",
	})

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr envtest.LogBuffer
	done := make(chan int, 1)
	go func() { done <- serveCmd(ctx, nil, &stdout, &stderr) }()
	exited := false
	t.Cleanup(func() {
		if exited {
			return
		}
		cancel()
		releaseOnce()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("serve did not return within 15s of its context ending")
		}
	})

	client := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	base := "http://" + addr
	get := func(path string) (int, error) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+path, nil)
		if err != nil {
			return 0, err
		}
		res, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		defer res.Body.Close()
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode, nil
	}
	createUser := func(userName string) (int, string, error) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/scim/v2/Users", strings.NewReader(scimUser(userName)))
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		res, err := client.Do(req)
		if err != nil {
			return 0, "", err
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		return res.StatusCode, string(body), err
	}

	// Up: poll /healthz (bounded) until the server answers.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if status, err := get("/healthz"); err == nil && status == http.StatusOK {
			break
		}
		select {
		case code := <-done:
			exited = true
			t.Fatalf("serve exited %d before coming up:\n%s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not healthy on %s within 10s:\n%s", addr, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if status, err := get("/readyz"); err != nil || status != http.StatusOK {
		t.Fatalf("/readyz: %d %v, want 200:\n%s", status, err, stderr.String())
	}
	if matches, _ := filepath.Glob(filepath.Join(dataDir, "*.db")); len(matches) == 0 {
		t.Errorf("no embedded store in SCIM_BRIDGE_DATA_DIR %s", dataDir)
	}

	if status, body, err := createUser("ada@example.com"); err != nil || status != http.StatusCreated {
		t.Fatalf("create: %d %v: %s", status, err, body)
	}
	if !hasUser(emu, "ada@example.com") {
		t.Fatalf("UiPath lacks the created user: %+v", emu.Users())
	}

	// A slow create is in flight when serve's context ends.
	emu.Inject(emulator.Fault{Method: http.MethodPost, PathContains: "BulkCreate", Delay: 300 * time.Millisecond})
	held.armed.Store(true)
	type result struct {
		status int
		body   string
		err    error
	}
	slow := make(chan result, 1)
	go func() {
		status, body, err := createUser("grace@example.com")
		slow <- result{status, body, err}
	}()
	select {
	case <-held.arrived:
	case r := <-slow:
		t.Fatalf("slow create finished before reaching UiPath: %+v", r)
	case <-time.After(10 * time.Second):
		t.Fatal("slow create never reached UiPath")
	}
	cancel()
	// The drain: /readyz turns 503 at once, the listener still serves.
	deadline = time.Now().Add(time.Second)
	for {
		status, err := get("/readyz")
		if err == nil && status == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz during the drain: %d %v, want 503", status, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if status, err := get("/healthz"); err != nil || status != http.StatusOK {
		t.Errorf("/healthz during the drain: %d %v, want 200", status, err)
	}
	// Shutdown then closes the listener; the held request is still running.
	deadline = time.Now().Add(10 * time.Second)
	for !refuses(addr) {
		if time.Now().After(deadline) {
			t.Fatal("serve still accepts connections 10s after its context ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case code := <-done:
		exited = true
		t.Fatalf("serve returned %d while a request was in flight", code)
	default:
	}
	releaseOnce()

	select {
	case r := <-slow:
		if r.err != nil || r.status != http.StatusCreated {
			t.Errorf("in-flight create during shutdown: %d %v: %s", r.status, r.err, r.body)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("in-flight create never answered")
	}
	if !hasUser(emu, "grace@example.com") {
		t.Errorf("UiPath lacks the user created during shutdown")
	}
	select {
	case code := <-done:
		exited = true
		if code != 0 {
			t.Fatalf("serve exited %d, want 0:\n%s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not return after the in-flight request finished")
	}
	if !refuses(addr) {
		t.Error("port still accepts connections after serve returned")
	}

	logs := stderr.String()
	for _, want := range []string{"scim-bridge serving", `"store":"embedded"`, "draining", "shutting down", "listeners closed", "background work stopped", "store closed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	for _, leak := range []string{secret, token, "eyJ"} {
		if strings.Contains(logs+stdout.String(), leak) {
			t.Errorf("output holds %q:\n%s", leak, logs)
		}
	}
}

// TestServeInvalidConfig: serve refuses a broken configuration with exit 1,
// naming every problem at once, never a secret value, and without
// listening.
func TestServeInvalidConfig(t *testing.T) {
	const (
		clientSecret = "cs-leak-canary-0d3f9a"
		redisPW      = "redis-pw-canary-71be"
	)
	addr := freeAddr(t)
	setConfigEnv(t, map[string]string{
		"LISTEN":               addr,
		"UIPATH_URL":           "ftp://uipath.example/identity_",
		"UIPATH_CLIENT_SECRET": clientSecret,
		"REDIS_URL":            "http://:" + redisPW + "@127.0.0.1:6379",
		"MEMBERSHIP_STRATEGY":  "sideways",
		"SHUTDOWN_TIMEOUT":     "soon",
	})
	var stdout, stderr bytes.Buffer
	if code := serveCmd(t.Context(), nil, &stdout, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String() + stderr.String()
	for _, want := range []string{
		"no IdP authentication",
		"SCIM_BRIDGE_UIPATH_URL:",
		"SCIM_BRIDGE_UIPATH_TOKEN_URL:",
		"SCIM_BRIDGE_UIPATH_CLIENT_ID: required",
		"SCIM_BRIDGE_REDIS_URL:",
		"SCIM_BRIDGE_MEMBERSHIP_STRATEGY:",
		"SCIM_BRIDGE_SHUTDOWN_TIMEOUT:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, leak := range []string{clientSecret, redisPW} {
		if strings.Contains(out, leak) {
			t.Errorf("output reveals %q:\n%s", leak, out)
		}
	}
	if !refuses(addr) {
		t.Errorf("something listens on %s after a refused start", addr)
	}
}
