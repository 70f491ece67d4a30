package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/clocktest"
)

// newTokenClock is a fake clock at a fixed start.
func newTokenClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
}

// tokenServer is a minimal token endpoint: it counts requests, checks the
// form and answers with a numbered JWT carrying prt_id, or with failWith.
type tokenServer struct {
	t        *testing.T
	calls    atomic.Int32
	failWith atomic.Int32 // HTTP status to fail with, 0 = succeed
	gate     chan struct{}
	entered  chan struct{}
}

func (ts *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := ts.calls.Add(1)
	if ts.entered != nil {
		ts.entered <- struct{}{}
	}
	if ts.gate != nil {
		<-ts.gate
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" ||
		r.PostForm.Get("client_id") != "app" || r.PostForm.Get("client_secret") != "top-secret" ||
		r.PostForm.Get("scope") != "PM.User PM.Group" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_request"}`)
		return
	}
	if code := ts.failWith.Load(); code != 0 {
		w.WriteHeader(int(code))
		// A hostile endpoint echoing the secret must not leak it.
		fmt.Fprint(w, `{"error":"invalid_client","error_description":"bad secret top-secret"}`)
		return
	}
	tok := fakeJWT(ts.t, map[string]any{"prt_id": "org-guid", "n": n})
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"access_token":%q,"expires_in":3600,"token_type":"Bearer","scope":"PM.User"}`, tok)
}

func newTokenSourceForTest(t *testing.T, ts *tokenServer, clock *clocktest.Clock) *tokenSource {
	t.Helper()
	srv := httptest.NewServer(ts)
	t.Cleanup(srv.Close)
	cfg := Config{BaseURL: srv.URL, ClientID: "app", ClientSecret: "top-secret", Now: clock.Now}.withDefaults()
	return newTokenSource(cfg, nil)
}

func TestTokenCachedAndRenewed(t *testing.T) {
	clock := newTokenClock()
	srv := &tokenServer{t: t}
	ts := newTokenSourceForTest(t, srv, clock)
	ctx := t.Context()

	first, err := ts.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.prtID != "org-guid" {
		t.Errorf("prtID = %q", first.prtID)
	}
	for range 5 {
		if tok, err := ts.get(ctx); err != nil || tok.access != first.access {
			t.Fatalf("cached token not reused: %v", err)
		}
	}
	clock.Advance(58 * time.Minute) // 2 minutes left: still cached
	if tok, _ := ts.get(ctx); tok.access != first.access || srv.calls.Load() != 1 {
		t.Fatalf("token renewed too early (%d calls)", srv.calls.Load())
	}
	clock.Advance(90 * time.Second) // 30s left: inside the 60s margin
	second, err := ts.get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second.access == first.access || srv.calls.Load() != 2 {
		t.Fatalf("token not renewed inside the margin (%d calls)", srv.calls.Load())
	}
}

func TestTokenRenewalFailureKeepsValidToken(t *testing.T) {
	clock := newTokenClock()
	srv := &tokenServer{t: t}
	ts := newTokenSourceForTest(t, srv, clock)
	first, err := ts.get(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	srv.failWith.Store(http.StatusServiceUnavailable)
	clock.Advance(59*time.Minute + 30*time.Second)
	if tok, err := ts.get(t.Context()); err != nil || tok.access != first.access {
		t.Fatalf("renewal failure with a valid token: got %v", err)
	}
	clock.Advance(time.Minute) // expired now
	_, err = ts.get(t.Context())
	if !IsRetryable(err) {
		t.Fatalf("expired token and failing endpoint: got %v, want a retryable error", err)
	}
}

func TestTokenSingleFlight(t *testing.T) {
	srv := &tokenServer{t: t, gate: make(chan struct{}), entered: make(chan struct{}, 100)}
	ts := newTokenSourceForTest(t, srv, newTokenClock())

	const n = 20
	var started, done sync.WaitGroup
	started.Add(n)
	done.Add(n)
	errs := make(chan error, n)
	toks := make(chan string, n)
	for range n {
		go func() {
			defer done.Done()
			started.Done()
			tok, err := ts.get(t.Context())
			errs <- err
			toks <- tok.access
		}()
	}
	<-srv.entered
	started.Wait()
	// A waiter that gives up must not disturb the shared fetch.
	cctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := ts.get(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled waiter: got %v, want context.Canceled", err)
	}
	close(srv.gate)
	done.Wait()
	close(errs)
	close(toks)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	var first string
	for tok := range toks {
		if first == "" {
			first = tok
		}
		if tok != first {
			t.Error("callers got different tokens")
		}
	}
	if got := srv.calls.Load(); got != 1 {
		t.Errorf("%d token requests for %d concurrent callers, want 1", got, n)
	}
}

func TestTokenInvalidate(t *testing.T) {
	srv := &tokenServer{t: t}
	ts := newTokenSourceForTest(t, srv, newTokenClock())
	first, _ := ts.get(t.Context())
	ts.invalidate("some-older-token")
	if tok, _ := ts.get(t.Context()); tok.access != first.access {
		t.Fatal("invalidating another token dropped the cached one")
	}
	ts.invalidate(first.access)
	if tok, _ := ts.get(t.Context()); tok.access == first.access || srv.calls.Load() != 2 {
		t.Fatal("invalidate did not force a new token")
	}
}

func TestTokenErrorsHoldNoSecret(t *testing.T) {
	for _, status := range []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusNotFound, http.StatusInternalServerError} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			srv := &tokenServer{t: t}
			srv.failWith.Store(int32(status))
			ts := newTokenSourceForTest(t, srv, newTokenClock())
			_, err := ts.get(t.Context())
			var e *Error
			if !errors.As(err, &e) || e.StatusCode != status {
				t.Fatalf("got %v, want *Error with status %d", err, status)
			}
			if strings.Contains(err.Error(), "top-secret") {
				t.Errorf("error %q contains the client secret", err)
			}
			if errors.Is(err, ErrNotFound) {
				t.Errorf("token endpoint error %q matches ErrNotFound", err)
			}
			if got, want := e.Retryable, status >= 500; got != want {
				t.Errorf("Retryable = %v, want %v", got, want)
			}
		})
	}
}
