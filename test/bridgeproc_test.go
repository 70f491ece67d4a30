package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
	"github.com/scim-bridge/scim-bridge/scim"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// This file runs the real `scim-bridge serve` binary as a subprocess, the
// way an operator does, and plays an IdP against it that retries like
// Okta: for the crash and Redis fault tests, which kill processes.

// buildBridge builds ./cmd/scim-bridge into a directory of t and returns
// the binary's path.
func buildBridge(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "scim-bridge")
	goBin, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
	if err != nil {
		t.Fatalf("go not on PATH: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), goBin, "build", "-o", bin, "github.com/scim-bridge/scim-bridge/cmd/scim-bridge")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// upstreamEnv is the emulator the bridge subprocess talks to, served in
// process, with rate limits off (the crash tests send thousands of PUTs).
func upstreamEnv(t *testing.T) *envtest.Env {
	t.Helper()
	return envtest.New(t, envtest.Config{
		Emulator: emulator.Config{DisableRateLimits: true},
		Store:    envtest.NoStore,
		Quiet:    true,
	})
}

// bridgeProc is a `scim-bridge serve` subprocess. Restarts reuse the
// listen address and the configuration, so the IdP sees the same URL.
type bridgeProc struct {
	t    *testing.T
	bin  string
	env  []string
	addr string
	// adminAddr is the admin listener's, where /metrics is.
	adminAddr string
	token     string
	logs      *envtest.LogBuffer

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	starts int
}

// storeConfig is the store part of a bridge's configuration: a data dir
// for the embedded store, a Redis URL and a prefix for Redis.
func storeConfig(t *testing.T, kind envtest.Store) map[string]string {
	switch kind {
	case envtest.Bolt:
		return map[string]string{"DATA_DIR": t.TempDir()}
	case envtest.Redis:
		return map[string]string{"REDIS_URL": redistest.URL(t), "REDIS_PREFIX": redistest.Prefix(t)}
	}
	t.Fatalf("store %v", kind)
	return nil
}

// startBridge starts serve against the emulator of te with the settings
// (SCIM_BRIDGE_ names without the prefix) merged over the test defaults:
// no client-side budget to speak of (the emulator's limits are off too),
// text logs at info level.
func startBridge(t *testing.T, bin string, te *envtest.Env, settings map[string]string) *bridgeProc {
	t.Helper()
	id, secret := te.Emulator.Credentials()
	token := "crash-token-" + strings.Repeat("k", 24)
	cfg := map[string]string{
		"LISTEN":               freeLoopback(t),
		"ADMIN_LISTEN":         freeLoopback(t),
		"TOKENS":               token,
		"UIPATH_URL":           te.URL,
		"UIPATH_CLIENT_ID":     id,
		"UIPATH_CLIENT_SECRET": secret,
		"UIPATH_BUDGET":        "GET=1000000,POST=1000000,PUT=1000000,DELETE=1000000",
		"LOG_FORMAT":           "text",
		"LOG_LEVEL":            "info",
		"SHUTDOWN_TIMEOUT":     "2s",
	}
	for k, v := range settings {
		cfg[k] = v
	}
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SCIM_BRIDGE_") && !strings.HasPrefix(kv, "GOGC=") && !strings.HasPrefix(kv, "GOMEMLIMIT=") {
			env = append(env, kv)
		}
	}
	for k, v := range cfg {
		env = append(env, "SCIM_BRIDGE_"+k+"="+v)
	}
	b := &bridgeProc{t: t, bin: bin, env: env, addr: cfg["LISTEN"], adminAddr: cfg["ADMIN_LISTEN"], token: token, logs: &envtest.LogBuffer{}}
	t.Cleanup(func() {
		b.Kill()
		if t.Failed() {
			t.Logf("bridge logs (last 6000 bytes):\n%s", tail(b.logs.String(), 6000))
		}
	})
	b.Start()
	return b
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// Start starts the process and waits until /healthz answers.
func (b *bridgeProc) Start() {
	b.t.Helper()
	b.mu.Lock()
	b.starts++
	fmt.Fprintf(b.logs, "=== start %d\n", b.starts)
	cmd := exec.Command(b.bin, "serve")
	cmd.Env = b.env
	cmd.Stdout, cmd.Stderr = b.logs, b.logs
	if err := cmd.Start(); err != nil {
		b.mu.Unlock()
		b.t.Fatalf("start bridge: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	b.cmd, b.exited = cmd, exited
	b.mu.Unlock()

	deadline := time.Now().Add(20 * time.Second)
	for {
		res, err := http.Get("http://" + b.addr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
		select {
		case <-exited:
			b.t.Fatalf("bridge exited at start:\n%s", tail(b.logs.String(), 4000))
		default:
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("bridge not healthy after 20s:\n%s", tail(b.logs.String(), 4000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill sends SIGKILL (no graceful shutdown, nothing flushed) and waits
// for the process to be gone. Killing a dead bridge does nothing.
func (b *bridgeProc) Kill() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return
	}
	_ = b.cmd.Process.Signal(syscall.SIGKILL)
	<-b.exited
	b.cmd = nil
	fmt.Fprintf(b.logs, "=== killed\n")
}

// Exited reports whether the process has ended on its own.
func (b *bridgeProc) Exited() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cmd == nil {
		return true
	}
	select {
	case <-b.exited:
		return true
	default:
		return false
	}
}

// idp plays the IdP: it sends SCIM requests to the bridge and retries every
// one that did not get a 2xx (a transport error too, as when the bridge is
// down), as Okta does. It honours Retry-After up to maxWait, so that tests
// stay fast; it counts the requests and the retries.
type idp struct {
	t       *testing.T
	base    string
	token   string
	client  *http.Client
	maxWait time.Duration
	// deadline bounds the retries of one request.
	deadline time.Duration
	// permanent4xx makes a 4xx answer other than 408, 409 and 429 final,
	// as it is for an IdP; otherwise every non-2xx answer is retried.
	permanent4xx bool

	// observe, when set, sees every answer with the time its request was
	// sent and how long the answer took (status 0: transport error).
	observe func(sent time.Time, took time.Duration, r response)

	requests, retries atomic.Int64
	statuses          sync.Map // int status (0: transport error) → *atomic.Int64
}

func newIdP(t *testing.T, b *bridgeProc) *idp {
	return &idp{
		t: t, base: "http://" + b.addr + scim.BasePath, token: b.token,
		client:   &http.Client{Timeout: 60 * time.Second},
		maxWait:  500 * time.Millisecond,
		deadline: 90 * time.Second,
	}
}

// send makes one attempt. A transport error comes back as status 0.
func (c *idp) send(method, path string, body any) response {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			panic(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("User-Agent", "Okta SCIM Client 1.0.0")
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	c.requests.Add(1)
	sent := time.Now()
	r := c.roundTrip(req)
	c.count(r.status)
	if c.observe != nil {
		c.observe(sent, time.Since(sent), r)
	}
	return r
}

func (c *idp) roundTrip(req *http.Request) response {
	res, err := c.client.Do(req)
	if err != nil {
		return response{raw: err.Error()}
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.body)
	}
	return r
}

func (c *idp) count(status int) {
	v, _ := c.statuses.LoadOrStore(status, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// statusCounts returns how many answers of each status the IdP got (0 is
// a transport error), for the logs.
func (c *idp) statusCounts() string {
	var keys []int
	c.statuses.Range(func(k, _ any) bool { keys = append(keys, k.(int)); return true })
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		v, _ := c.statuses.Load(k)
		parts = append(parts, fmt.Sprintf("%d:%d", k, v.(*atomic.Int64).Load()))
	}
	return strings.Join(parts, " ")
}

// wait sleeps as the Retry-After of r asks, at most maxWait, and at least
// 50ms (a transport error has none).
func (c *idp) wait(r response) {
	d := 50 * time.Millisecond
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err == nil && s > 0 {
		d = time.Duration(s) * time.Second
	}
	time.Sleep(min(d, c.maxWait))
}

var errGaveUp = errors.New("idp: gave up")

// final reports whether an answer of that status ends the retries.
func (c *idp) final(status int) bool {
	return c.permanent4xx && status >= 400 && status < 500 && status != 408 && status != 409 && status != 429
}

// retry sends the request until it gets a 2xx and returns that answer.
func (c *idp) retry(method, path string, body any) (response, error) {
	end := time.Now().Add(c.deadline)
	for {
		r := c.send(method, path, body)
		if r.status >= 200 && r.status < 300 {
			return r, nil
		}
		if time.Now().After(end) || c.final(r.status) {
			return r, fmt.Errorf("%w: %s %s: last answer %d %s", errGaveUp, method, path, r.status, r.raw)
		}
		c.retries.Add(1)
		c.wait(r)
	}
}

// ensureUser is Okta's push of a new user: look it up by userName and POST
// it if absent, the whole retried until it succeeds. It returns the id.
func (c *idp) ensureUser(userName string) (string, error) {
	return c.ensure("/Users", "userName", userName, map[string]any{
		"schemas": []string{userSchema}, "userName": userName, "active": true,
		"name":   map[string]any{"givenName": "Given", "familyName": "Family"},
		"emails": []any{map[string]any{"value": userName, "type": "work", "primary": true}},
	})
}

// ensureGroup is the push of a group: look it up by displayName and POST
// it (without members) if absent.
func (c *idp) ensureGroup(name string) (string, error) {
	return c.ensure("/Groups", "displayName", name, map[string]any{
		"schemas": []string{groupSchema}, "displayName": name,
	})
}

func (c *idp) ensure(resource, attr, value string, body map[string]any) (string, error) {
	end := time.Now().Add(c.deadline)
	lookup := resource + "?filter=" + url.QueryEscape(attr+` eq "`+value+`"`)
	for {
		r := c.send("GET", lookup, nil)
		if r.status == 200 {
			if res, _ := r.body["Resources"].([]any); len(res) == 1 {
				m, _ := res[0].(map[string]any)
				return str(m, "id"), nil
			}
			r = c.send("POST", resource, body)
			if r.status == 201 {
				return str(r.body, "id"), nil
			}
		}
		if time.Now().After(end) || c.final(r.status) {
			return "", fmt.Errorf("%w: push %s %q: last answer %d %s", errGaveUp, resource, value, r.status, r.raw)
		}
		c.retries.Add(1)
		c.wait(r)
	}
}

// onWorkers runs f(i) for i in [0, n) on workers goroutines and returns the
// errors joined.
func onWorkers(n, workers int, f func(i int) error) error {
	var mu sync.Mutex
	var errs []error
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
