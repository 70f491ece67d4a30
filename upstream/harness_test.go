package upstream_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"

	"github.com/scim-bridge/scim-bridge/internal/clocktest"
)

// newClock is the fake clock the client and the emulator share.
func newClock() *clocktest.Clock { return clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

// env is a client talking over real HTTP to a fresh emulator. By default
// both share one fake clock, rate limits are off, and Sleep records its
// waits and advances the clock instead of sleeping.
type env struct {
	t      *testing.T
	emu    *emulator.Server
	url    string // the emulator's identity root
	c      *upstream.Client
	cfg    upstream.Config
	clock  *clocktest.Clock
	logs   *envtest.LogBuffer
	mu     sync.Mutex
	sleeps []time.Duration
}

type envOption struct {
	emu      func(*emulator.Config)
	client   func(*upstream.Config)
	pageSize int
}

func newEnv(t *testing.T, opt envOption) *env {
	t.Helper()
	e := &env{t: t, clock: newClock()}
	ecfg := emulator.Config{DisableRateLimits: true, Now: e.clock.Now}
	if opt.emu != nil {
		opt.emu(&ecfg)
	}
	te := envtest.New(t, envtest.Config{
		Emulator: ecfg,
		Store:    envtest.NoStore,
		Client: func(c *upstream.Config) {
			c.Now = e.clock.Now
			c.Sleep = func(ctx context.Context, d time.Duration) error {
				e.mu.Lock()
				e.sleeps = append(e.sleeps, d)
				e.mu.Unlock()
				e.clock.Advance(d)
				return ctx.Err()
			}
			if opt.client != nil {
				opt.client(c)
			}
		},
		NewClient: func(cfg upstream.Config, logger *slog.Logger) (*upstream.Client, error) {
			return upstream.NewWithPageSize(cfg, logger, opt.pageSize)
		},
	})
	upstream.SetJitter(te.Client, func() float64 { return 0 })
	e.emu, e.url, e.c, e.cfg, e.logs = te.Emulator, te.URL, te.Client, te.ClientConfig, te.Logs
	return e
}

func (e *env) waits() []time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]time.Duration(nil), e.sleeps...)
}

// tokenCalls counts requests to the token endpoint.
func (e *env) tokenCalls() int {
	n := 0
	for _, r := range e.emu.Requests() {
		if strings.HasSuffix(r.Path, "/connect/token") {
			n++
		}
	}
	return n
}

// calls counts API requests with method whose path contains part.
func (e *env) calls(method, part string) int {
	n := 0
	for _, r := range e.emu.Requests() {
		if r.Method == method && strings.HasPrefix(r.Path, "/api/") && strings.Contains(r.Path, part) {
			n++
		}
	}
	return n
}

// seedUser stores a user in the emulator.
func (e *env) seedUser(userName, email string) upstream.User {
	return e.emu.SeedUser(upstream.User{ID: newGUID(), UserName: userName, Email: email, IsActive: true})
}

// createUser creates a user through the client.
func (e *env) createUser(userName string, groupIDs ...string) upstream.User {
	e.t.Helper()
	u, err := e.c.CreateUser(e.t.Context(), upstream.NewUser{ID: newGUID(), UserName: userName, Email: userName}, groupIDs)
	if err != nil {
		e.t.Fatalf("CreateUser(%s): %v", userName, err)
	}
	return u
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// asError returns the *upstream.Error in err or fails the test.
func asError(t *testing.T, err error) *upstream.Error {
	t.Helper()
	var ue *upstream.Error
	if !errors.As(err, &ue) {
		t.Fatalf("error %v (%T) holds no *upstream.Error", err, err)
	}
	return ue
}

// recordingTransport remembers every bearer token the client sent and
// every access token the token endpoint returned, for the leak test.
type recordingTransport struct {
	base   http.RoundTripper
	mu     sync.Mutex
	tokens []string
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		rt.add(strings.TrimPrefix(h, "Bearer "))
	}
	resp, err := rt.base.RoundTrip(r)
	if err == nil && strings.HasSuffix(r.URL.Path, "/connect/token") {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		resp.Body = io.NopCloser(bytes.NewReader(body))
		if _, rest, ok := strings.Cut(string(body), `"access_token":"`); ok {
			tok, _, _ := strings.Cut(rest, `"`)
			rt.add(tok)
		}
	}
	return resp, err
}

func (rt *recordingTransport) add(tok string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.tokens = append(rt.tokens, tok)
}

func (rt *recordingTransport) seen() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]string(nil), rt.tokens...)
}

// slogTo returns a debug-level text logger writing to w.
func slogTo(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
