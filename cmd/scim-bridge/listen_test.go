package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/config"
	"github.com/scim-bridge/scim-bridge/internal/tlstest"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// poolOf returns a pool trusting every certificate in a PEM file.
func poolOf(t *testing.T, file string) *x509.CertPool {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(raw) {
		t.Fatalf("no certificate in %s", file)
	}
	return p
}

// servedSerial connects to addr over TLS (trusting pool) and returns the
// serial number of the certificate the server presents.
func servedSerial(t *testing.T, addr string, pool *x509.CertPool) *big.Int {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber
}

// TestServeTLS serves the SCIM listener over TLS from generated files,
// replaces them with a new pair and sees the new certificate served
// without a restart, while a connection made before keeps working; a
// broken pair written over them is refused and the last good one kept;
// TLS 1.1 is refused; healthcheck finds the listener over https.
func TestServeTLS(t *testing.T) {
	old := certCheckEvery
	certCheckEvery = 100 * time.Millisecond
	t.Cleanup(func() { certCheckEvery = old })

	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	first := ca.Issue(t, tlstest.Leaf{})
	certFile, keyFile := first.Write(t, dir)
	s := startServe(t, map[string]string{"TLS_CERT_FILE": certFile, "TLS_KEY_FILE": keyFile, "LOG_LEVEL": "info"})
	addr := strings.TrimPrefix(s.base, "https://")
	pool := ca.Pool()

	if got := servedSerial(t, addr, pool); got.Cmp(first.Serial) != 0 {
		t.Fatalf("served serial %v, want %v", got, first.Serial)
	}
	if code, body := s.do(http.MethodGet, "/scim/v2/Users", ""); code != http.StatusOK {
		t.Fatalf("GET /Users over TLS: %d %s", code, body)
	}
	// A kept-alive connection from before the change.
	kept := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer kept.CloseIdleConnections()
	get := func() int {
		res, err := kept.Get(s.base + "/healthz")
		if err != nil {
			t.Fatalf("kept connection: %v", err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	get()

	second := ca.Issue(t, tlstest.Leaf{})
	second.Write(t, dir)
	deadline := time.Now().Add(10 * time.Second)
	for servedSerial(t, addr, pool).Cmp(second.Serial) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the new certificate (serial %v) not served within 10s:\n%s", second.Serial, s.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if code := get(); code != http.StatusOK {
		t.Errorf("kept connection after the reload: %d", code)
	}

	// A key that is not the certificate's: logged, and the pair before
	// stays in service.
	third := ca.Issue(t, tlstest.Leaf{})
	if err := os.WriteFile(certFile, third.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(s.stderr.String(), "does not load") {
		if time.Now().After(deadline) {
			t.Fatalf("a broken pair was not reported within 10s:\n%s", s.stderr.String())
		}
		_ = servedSerial(t, addr, pool)
		time.Sleep(50 * time.Millisecond)
	}
	if got := servedSerial(t, addr, pool); got.Cmp(second.Serial) != 0 {
		t.Errorf("after a broken pair: serial %v, want the last good one %v", got, second.Serial)
	}
	if strings.Contains(s.stderr.String(), "PRIVATE KEY") {
		t.Errorf("the log holds key material:\n%s", s.stderr.String())
	}

	// TLS 1.1 and below are refused.
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil {
		c.Close()
		t.Error("a TLS 1.1 client was served")
	}
	// Plain HTTP on the TLS port gets no SCIM answer.
	if res, err := http.Get("http://" + addr + "/scim/v2/Users"); err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP on the TLS listener: %d, want 400", res.StatusCode)
		}
	}

	// healthcheck builds https://127.0.0.1:port/healthz from the same
	// configuration, skipping verification on loopback.
	var out, errOut strings.Builder
	if code := healthcheckCmd(t.Context(), nil, &out, &errOut); code != 0 {
		t.Errorf("healthcheck: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "https://"+addr+"/healthz") {
		t.Errorf("healthcheck asked %q, want https://%s/healthz", out.String(), addr)
	}
}

// TestHealthcheck: exit 0 on 200, 1 with the reason otherwise (an
// unhealthy answer, nothing listening), and the URL built from the
// configuration.
func TestHealthcheck(t *testing.T) {
	s := startServe(t, nil)
	run := func(args ...string) (int, string) {
		var out, errOut strings.Builder
		code := healthcheckCmd(t.Context(), args, &out, &errOut)
		return code, out.String() + errOut.String()
	}
	if code, out := run(); code != 0 || !strings.Contains(out, s.base+"/healthz") {
		t.Errorf("healthcheck from the configuration: %d %q", code, out)
	}
	if code, out := run("-url", s.base+"/readyz"); code != 0 {
		t.Errorf("healthcheck -url /readyz: %d %q", code, out)
	}
	if code, out := run("-url", s.base+"/scim/v2/Users"); code != 1 || !strings.Contains(out, "401") {
		t.Errorf("healthcheck of a 401: %d %q, want 1 naming the status", code, out)
	}
	dead := "http://" + freeAddr(t) + "/healthz"
	if code, out := run("-url", dead, "-timeout", "2s"); code != 1 || !strings.Contains(out, "refused") {
		t.Errorf("healthcheck of nothing: %d %q, want 1 naming the reason", code, out)
	}
	if code, _ := run("-url", "ftp://x"); code != 2 {
		t.Errorf("healthcheck of an ftp URL: %d, want 2", code)
	}

	for _, tt := range []struct {
		listen string
		tls    bool
		want   string
	}{
		{":8080", false, "http://127.0.0.1:8080/healthz"},
		{"0.0.0.0:9000", true, "https://127.0.0.1:9000/healthz"},
		{"[::]:9000", false, "http://127.0.0.1:9000/healthz"},
		{"10.1.2.3:8443", true, "https://10.1.2.3:8443/healthz"},
		{"[::1]:8080", false, "http://[::1]:8080/healthz"},
	} {
		cfg, err := config.Load(os.Getenv, "")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Listen = tt.listen
		cfg.TLSCertFile, cfg.TLSKeyFile = "", ""
		if tt.tls {
			cfg.TLSCertFile, cfg.TLSKeyFile = "c", "k"
		}
		if got := healthURL(cfg); got != tt.want {
			t.Errorf("healthURL(%s, tls %v) = %s, want %s", tt.listen, tt.tls, got, tt.want)
		}
	}
}

// TestProbeUiPathState: UiPath's state comes from the last call the bridge
// made; with none in the last 30 s the probe asks once (one GET), and
// probes meanwhile reuse that answer. UiPath is never a readiness
// condition; the store is.
func TestProbeUiPathState(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	var storeErr error
	p := newProbe(func(context.Context) error { return storeErr }, slog.New(slog.DiscardHandler))
	p.now = func() time.Time { return now }
	checks := 0
	var answer func() error
	p.check = func(context.Context) error {
		checks++
		return answer()
	}
	ready := func() (bool, string) {
		r := p.Ready(t.Context())
		return r.Ready, r.Checks["uipath"]
	}

	// UiPath answers 404 for the probe's user: up.
	answer = func() error {
		p.Observe(upstream.Observation{Method: "GET", Status: 404})
		return &upstream.Error{StatusCode: 404, Err: upstream.ErrNotFound}
	}
	if ok, st := ready(); !ok || st != "ok" || checks != 1 {
		t.Fatalf("first probe: ready %v, uipath %q, checks %d; want true, ok, 1", ok, st, checks)
	}
	now = now.Add(29 * time.Second)
	if _, st := ready(); st != "ok" || checks != 1 {
		t.Errorf("within 30s: uipath %q, checks %d; want ok from the cache, 1", st, checks)
	}

	// UiPath stops answering: the next check says so, the bridge stays
	// ready.
	answer = func() error {
		p.Observe(upstream.Observation{Method: "GET"})
		return &upstream.Error{Err: errors.New("connection refused"), Retryable: true}
	}
	now = now.Add(2 * time.Second)
	if ok, st := ready(); !ok || st != "error" || checks != 2 {
		t.Errorf("UiPath down: ready %v, uipath %q, checks %d; want true, error, 2", ok, st, checks)
	}
	// A call the bridge made for the IdP tells the probe too: no GET.
	now = now.Add(time.Minute)
	p.Observe(upstream.Observation{Method: "PUT", Status: 200})
	if _, st := ready(); st != "ok" || checks != 2 {
		t.Errorf("after a good call: uipath %q, checks %d; want ok, 2", st, checks)
	}
	p.Observe(upstream.Observation{Method: "PUT", Status: 429})
	if _, st := ready(); st != "throttled" {
		t.Errorf("after a 429: uipath %q, want throttled", st)
	}
	// No token (the token endpoint refused the secret): Observe saw no
	// status, the check's error says it.
	now = now.Add(time.Minute)
	answer = func() error { return fmt.Errorf("get user: %w", &upstream.Error{Op: "get token", StatusCode: 401}) }
	if _, st := ready(); st != "error" || checks != 3 {
		t.Errorf("token refused: uipath %q, checks %d; want error, 3", st, checks)
	}
	// No room in the budget: not asked, the last state stands.
	now = now.Add(time.Minute)
	answer = func() error { return upstream.ErrBudgetExhausted }
	if _, st := ready(); st != "error" {
		t.Errorf("budget exhausted: uipath %q, want the last state", st)
	}

	storeErr = errors.New("redis: connection refused")
	if r := p.Ready(t.Context()); r.Ready || r.Checks["store"] != "error" {
		t.Errorf("store down: %+v, want not ready, store error", r)
	}
	storeErr = nil
	p.Drain()
	if r := p.Ready(t.Context()); !r.Draining {
		t.Errorf("after Drain: %+v, want draining", r)
	}
}

// TestServeReadyzWithUiPathDown runs serve and takes UiPath away: /readyz
// stays 200 and says uipath "error" (the bridge can still answer reads),
// on both listeners, at the cost of at most one GET per 30 s.
func TestServeReadyzWithUiPathDown(t *testing.T) {
	s := startServe(t, nil)
	readyz := func(base string) (int, string) {
		res, err := s.client.Get(base + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, strings.TrimSpace(string(b))
	}
	if code, body := readyz(s.base); code != 200 || body != `{"status":"ready","checks":{"store":"ok","uipath":"ok"}}` {
		t.Fatalf("/readyz: %d %s", code, body)
	}
	if code, body := readyz(s.admin); code != 200 || !strings.Contains(body, `"status":"ready"`) {
		t.Fatalf("/readyz on the admin listener: %d %s", code, body)
	}
	gets := func() int {
		n := 0
		for _, r := range s.emu.Requests() {
			if r.Method == http.MethodGet && strings.Contains(r.Path, probeUserID) {
				n++
			}
		}
		return n
	}
	if n := gets(); n != 1 {
		t.Errorf("UiPath GETs for two probes: %d, want 1", n)
	}
	// UiPath fails every call from now on; a write tells the probe.
	s.emu.Inject(emulator.Fault{Status: http.StatusServiceUnavailable, Times: -1})
	if code, _ := s.do(http.MethodPost, "/scim/v2/Users", scimUser("down@corp.example")); code < 500 {
		t.Fatalf("create with UiPath down: %d, want 5xx", code)
	}
	if code, body := readyz(s.base); code != 200 || body != `{"status":"ready","checks":{"store":"ok","uipath":"error"}}` {
		t.Errorf("/readyz with UiPath down: %d %s, want 200 reporting uipath error", code, body)
	}
	// Reads are still answered.
	if code, body := s.do(http.MethodGet, "/scim/v2/Users", ""); code != 200 {
		t.Errorf("GET /Users with UiPath down: %d %s", code, body)
	}
	if n := gets(); n != 1 {
		t.Errorf("UiPath GETs for the probes: %d, want 1", n)
	}
}

// slowTimeouts shortens the listeners' timeouts for one test: the same
// server, with its phases cut short enough to wait for.
func slowTimeouts(t *testing.T) {
	old := listenerTimeouts
	listenerTimeouts.readHeader, listenerTimeouts.read = time.Second, 2*time.Second
	listenerTimeouts.write, listenerTimeouts.idle = 5*time.Second, 2*time.Second
	t.Cleanup(func() { listenerTimeouts = old })
}

// TestSlowClients: a client that sends its headers (Slowloris) or its body
// at a byte a second is cut off by the listener's timeouts, within the
// bound, and never gets a success; the bridge stays healthy.
func TestSlowClients(t *testing.T) {
	slowTimeouts(t)
	s := startServe(t, nil)
	addr := strings.TrimPrefix(s.base, "http://")
	body := scimUser("slow@corp.example")
	tests := []struct {
		name  string
		head  string // sent at once
		drip  string // then one byte a second
		bound time.Duration
	}{
		{
			name: "slow headers",
			head: "GET /scim/v2/Users HTTP/1.1\r\nHost: bridge\r\n",
			drip: strings.Repeat("X-Padding: a\r\n", 10),
			// ReadHeaderTimeout, and a second of slack.
			bound: listenerTimeouts.readHeader + time.Second,
		},
		{
			name: "slow body",
			head: fmt.Sprintf("POST /scim/v2/Users HTTP/1.1\r\nHost: bridge\r\nAuthorization: Bearer %s\r\n"+
				"Content-Type: application/scim+json\r\nContent-Length: %d\r\n\r\n", s.token, len(body)),
			drip:  body,
			bound: listenerTimeouts.read + time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			start := time.Now()
			if _, err := io.WriteString(c, tt.head); err != nil {
				t.Fatal(err)
			}
			go func() {
				for i := range len(tt.drip) {
					time.Sleep(time.Second)
					if _, err := c.Write([]byte{tt.drip[i]}); err != nil {
						return
					}
				}
			}()
			_ = c.SetReadDeadline(start.Add(tt.bound + 5*time.Second))
			res, err := http.ReadResponse(bufio.NewReader(c), nil)
			took := time.Since(start)
			if err == nil {
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode < 400 {
					t.Errorf("a slow client got %d", res.StatusCode)
				}
				// The answer came; the server must close the connection too.
				_, err = c.Read(make([]byte, 1))
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("the connection was still open after %v", took)
			}
			if took > tt.bound {
				t.Errorf("cut off after %v, want within %v", took, tt.bound)
			}
			t.Logf("cut off after %v (bound %v): status %v, %v", took.Round(10*time.Millisecond), tt.bound, statusOf(res), err)
		})
	}
	if code, _ := s.do(http.MethodGet, "/healthz", ""); code != http.StatusOK {
		t.Errorf("/healthz after slow clients: %d", code)
	}
	if hasUser(s.emu, "slow@corp.example") {
		t.Error("the slow body's user was created")
	}
}

func statusOf(res *http.Response) string {
	if res == nil {
		return "none"
	}
	return res.Status
}
