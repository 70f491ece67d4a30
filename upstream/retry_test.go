package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

func TestTokenCachedAndRenewed(t *testing.T) {
	e := newEnv(t, envOption{})
	ctx := t.Context()
	u := e.seedUser("a@example.com", "a@example.com")
	for range 10 {
		if _, err := e.c.GetUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.c.ListGroups(ctx); err != nil {
		t.Fatal(err)
	}
	if n := e.tokenCalls(); n != 1 {
		t.Fatalf("%d token calls for 11 API calls, want 1", n)
	}
	e.clock.Advance(58 * time.Minute)
	if _, err := e.c.GetUser(ctx, u.ID); err != nil || e.tokenCalls() != 1 {
		t.Fatalf("token renewed 2 minutes before expiry (%d calls, %v)", e.tokenCalls(), err)
	}
	e.clock.Advance(90 * time.Second) // 30s left, inside the 60s margin
	if _, err := e.c.GetUser(ctx, u.ID); err != nil || e.tokenCalls() != 2 {
		t.Fatalf("token not renewed inside the margin (%d calls, %v)", e.tokenCalls(), err)
	}
	e.clock.Advance(3 * time.Hour) // long expired
	if _, err := e.c.GetUser(ctx, u.ID); err != nil || e.tokenCalls() != 3 {
		t.Fatalf("expired token not replaced (%d calls, %v)", e.tokenCalls(), err)
	}
}

func TestConcurrentCallersShareOneToken(t *testing.T) {
	e := newEnv(t, envOption{})
	u := e.seedUser("a@example.com", "a@example.com")
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if _, err := e.c.GetUser(t.Context(), u.ID); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := e.tokenCalls(); n != 1 {
		t.Errorf("%d token calls for 16 concurrent callers, want 1", n)
	}
}

func TestUnauthorizedRefetchesTokenOnce(t *testing.T) {
	// The emulator's clock runs ahead of the client's: the cached token
	// looks fresh to the client but is expired upstream.
	emuClock := newClock()
	e := newEnv(t, envOption{emu: func(c *emulator.Config) { c.Now = emuClock.Now }})
	u := e.seedUser("a@example.com", "a@example.com")
	if _, err := e.c.GetUser(t.Context(), u.ID); err != nil {
		t.Fatal(err)
	}
	emuClock.Advance(2 * time.Hour)
	e.emu.ResetRequests()
	if _, err := e.c.GetUser(t.Context(), u.ID); err != nil {
		t.Fatalf("GetUser with a token expired upstream: %v", err)
	}
	if tok, get := e.tokenCalls(), e.calls(http.MethodGet, "/User/"); tok != 1 || get != 2 {
		t.Errorf("%d token calls and %d GETs, want 1 and 2", tok, get)
	}

	// A POST rejected with 401 is also repeated: nothing was applied.
	e.emu.Inject(emulator.Fault{Method: http.MethodPost, PathContains: "/BulkCreate", Status: http.StatusUnauthorized})
	if _, err := e.c.CreateUser(t.Context(), upstream.NewUser{ID: newGUID(), UserName: "b@example.com"}, nil); err != nil {
		t.Fatalf("CreateUser after a 401: %v", err)
	}

	// A second 401 in a row is returned, not retried again.
	e.emu.ResetRequests()
	e.emu.Inject(emulator.Fault{Method: http.MethodGet, Status: http.StatusUnauthorized, Times: 2})
	_, err := e.c.GetUser(t.Context(), u.ID)
	if ue := asError(t, err); ue.StatusCode != http.StatusUnauthorized || ue.Retryable {
		t.Errorf("error = %+v", ue)
	}
	if tok, get := e.tokenCalls(), e.calls(http.MethodGet, "/User/"); tok != 1 || get != 2 {
		t.Errorf("%d token calls and %d GETs, want 1 and 2", tok, get)
	}
}

func TestRetryAfterHonouredForGET(t *testing.T) {
	e := newEnv(t, envOption{})
	u := e.seedUser("a@example.com", "a@example.com")
	e.emu.Inject(emulator.Fault{Method: http.MethodGet, Status: http.StatusTooManyRequests, RetryAfter: 3 * time.Second})
	if _, err := e.c.GetUser(t.Context(), u.ID); err != nil {
		t.Fatalf("GetUser after one 429: %v", err)
	}
	if got := e.waits(); !slices.Equal(got, []time.Duration{3 * time.Second}) {
		t.Errorf("waits = %v, want [3s]", got)
	}
	if n := e.calls(http.MethodGet, "/User/"); n != 2 {
		t.Errorf("%d GETs, want 2", n)
	}
}

func TestRateLimitWindowFromEmulator(t *testing.T) {
	// Real emulator limits: 2 GETs per 10s window. The third waits for the
	// window to reset (Sleep advances the shared clock) and then succeeds.
	e := newEnv(t, envOption{emu: func(c *emulator.Config) {
		c.DisableRateLimits = false
		c.Limits = map[string]int{http.MethodGet: 2}
		c.Window = 10 * time.Second
	}})
	u := e.seedUser("a@example.com", "a@example.com")
	for i := range 3 {
		if _, err := e.c.GetUser(t.Context(), u.ID); err != nil {
			t.Fatalf("GetUser #%d: %v", i+1, err)
		}
	}
	if got := e.waits(); !slices.Equal(got, []time.Duration{10 * time.Second}) {
		t.Errorf("waits = %v, want [10s]", got)
	}
}

func TestRetryAfterLongerThanMaxIsReturned(t *testing.T) {
	e := newEnv(t, envOption{})
	u := e.seedUser("a@example.com", "a@example.com")
	e.emu.Inject(emulator.Fault{Method: http.MethodGet, Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Minute})
	_, err := e.c.GetUser(t.Context(), u.ID)
	if !upstream.IsRetryable(err) || upstream.RetryAfter(err) != 2*time.Minute {
		t.Fatalf("got %v (retryable %v, after %v), want retryable with RetryAfter 2m",
			err, upstream.IsRetryable(err), upstream.RetryAfter(err))
	}
	if len(e.waits()) != 0 || e.calls(http.MethodGet, "/User/") != 1 {
		t.Errorf("waited %v over %d GETs, want no wait and 1 GET", e.waits(), e.calls(http.MethodGet, "/User/"))
	}
}

func TestServerErrorsBackOffThenGiveUp(t *testing.T) {
	e := newEnv(t, envOption{})
	u := e.seedUser("a@example.com", "a@example.com")

	e.emu.Inject(emulator.Fault{Method: http.MethodGet, Status: http.StatusServiceUnavailable, Times: 2})
	if _, err := e.c.GetUser(t.Context(), u.ID); err != nil {
		t.Fatalf("GetUser after two 503s: %v", err)
	}
	// Jitter 0: half of 200ms, then half of 400ms.
	if got := e.waits(); !slices.Equal(got, []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}) {
		t.Errorf("waits = %v", got)
	}

	e.emu.ResetRequests()
	e.emu.Inject(emulator.Fault{Method: http.MethodPut, Status: http.StatusInternalServerError, Times: -1,
		Body: `<html>proxy error</html>`})
	err := e.c.UpdateUser(t.Context(), u.ID, upstream.UserUpdate{Name: ptr("x")})
	e.emu.ClearFaults()
	ue := asError(t, err)
	if !ue.Retryable || ue.StatusCode != http.StatusInternalServerError || ue.Detail != "" {
		t.Errorf("error = %+v", ue)
	}
	if n := e.calls(http.MethodPut, "/User/"); n != upstream.DefaultMaxAttempts {
		t.Errorf("%d PUT attempts, want %d", n, upstream.DefaultMaxAttempts)
	}
}

func TestCreateNotRetriedAfterPossibleApply(t *testing.T) {
	e := newEnv(t, envOption{})
	ctx := t.Context()

	// The user is stored, then the answer is lost as a 500.
	e.emu.Inject(emulator.Fault{Method: http.MethodPost, PathContains: "/BulkCreate", Status: 500, AfterApply: true})
	id := newGUID()
	_, err := e.c.CreateUser(ctx, upstream.NewUser{ID: id, UserName: "a@example.com"}, nil)
	ue := asError(t, err)
	if !ue.Retryable || ue.StatusCode != http.StatusInternalServerError {
		t.Errorf("error = %+v, want retryable 500", ue)
	}
	if n := e.calls(http.MethodPost, "/BulkCreate"); n != 1 {
		t.Errorf("%d POSTs, want 1 (no retry)", n)
	}
	if got, err := e.c.GetUser(ctx, id); err != nil || got.UserName != "a@example.com" {
		t.Errorf("the create was applied but GetUser(id) = %+v, %v", got, err)
	}

	e.emu.Inject(emulator.Fault{Method: http.MethodPost, PathContains: "/Group", Status: 502, AfterApply: true})
	gid := newGUID()
	if _, err := e.c.CreateGroup(ctx, gid, "G", nil); !upstream.IsRetryable(err) {
		t.Errorf("CreateGroup after a lost answer: %v, want retryable", err)
	}
	if n := e.calls(http.MethodPost, "/Group"); n != 1 {
		t.Errorf("%d group POSTs, want 1", n)
	}
	if _, ok := e.emu.Group(gid); !ok {
		t.Error("the group create was applied but the group is missing")
	}
}

func TestCreateRetriedOnThrottle(t *testing.T) {
	e := newEnv(t, envOption{})
	e.emu.Inject(emulator.Fault{Method: http.MethodPost, PathContains: "/BulkCreate", Status: 429, RetryAfter: time.Second})
	id := newGUID()
	if _, err := e.c.CreateUser(t.Context(), upstream.NewUser{ID: id, UserName: "a@example.com"}, nil); err != nil {
		t.Fatalf("CreateUser after a 429: %v", err)
	}
	if n := e.calls(http.MethodPost, "/BulkCreate"); n != 2 || len(e.emu.Users()) != 1 {
		t.Errorf("%d POSTs and %d users, want 2 and 1", n, len(e.emu.Users()))
	}
}

func TestDeleteWithLostAnswerSucceeds(t *testing.T) {
	e := newEnv(t, envOption{})
	u := e.seedUser("a@example.com", "a@example.com")
	e.emu.Inject(emulator.Fault{Method: http.MethodDelete, Status: http.StatusBadGateway, AfterApply: true})
	if err := e.c.DeleteUser(t.Context(), u.ID); err != nil {
		t.Fatalf("DeleteUser whose first answer was lost: %v", err)
	}
	g := e.emu.SeedGroup("G")
	e.emu.Inject(emulator.Fault{Method: http.MethodDelete, Status: http.StatusServiceUnavailable, AfterApply: true})
	if err := e.c.DeleteGroup(t.Context(), g.ID); err != nil {
		t.Fatalf("DeleteGroup whose first answer was lost: %v", err)
	}
	// Throttled first: nothing was applied, so a later 404 is a real 404.
	e.emu.Inject(emulator.Fault{Method: http.MethodDelete, Status: http.StatusTooManyRequests})
	if err := e.c.DeleteUser(t.Context(), newGUID()); !errors.Is(err, upstream.ErrNotFound) {
		t.Errorf("DeleteUser(unknown) after 429: %v, want ErrNotFound", err)
	}
}

func TestAttemptTimeout(t *testing.T) {
	// Real time: each attempt may last 100ms; the emulator stalls once.
	e := newEnv(t, envOption{client: func(c *upstream.Config) { c.Timeout = 100 * time.Millisecond }})
	u := e.seedUser("a@example.com", "a@example.com")
	e.emu.Inject(emulator.Fault{Method: http.MethodGet, Delay: 5 * time.Second})
	if _, err := e.c.GetUser(t.Context(), u.ID); err != nil {
		t.Fatalf("GetUser after one stalled attempt: %v", err)
	}

	e.emu.Inject(emulator.Fault{Method: http.MethodPost, Delay: 5 * time.Second, AfterApply: true})
	id := newGUID()
	_, err := e.c.CreateUser(t.Context(), upstream.NewUser{ID: id, UserName: "b@example.com"}, nil)
	ue := asError(t, err)
	if !ue.Retryable || ue.StatusCode != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("error = %+v, want a retryable timeout", ue)
	}
	// A retry would have met DuplicateId (a 400), not a timeout; the stalled
	// request itself enters the emulator's log only when its handler ends.
	if n := e.calls(http.MethodPost, "/BulkCreate"); n > 1 {
		t.Errorf("%d POSTs, want 1", n)
	}
	if _, ok := e.emu.User(id); !ok {
		t.Error("the timed-out create was applied upstream but the user is missing")
	}
}

func TestCallerCancellationStopsRetries(t *testing.T) {
	e := newEnv(t, envOption{})
	u := e.seedUser("a@example.com", "a@example.com")
	ctx, cancel := context.WithCancel(t.Context())
	e.emu.Inject(emulator.Fault{Method: http.MethodGet, Status: 503, Times: -1})
	defer e.emu.ClearFaults()
	cancel()
	if _, err := e.c.GetUser(ctx, u.ID); err == nil {
		t.Fatal("GetUser with a cancelled context succeeded")
	}
	if n := e.calls(http.MethodGet, "/User/"); n > 1 {
		t.Errorf("%d attempts with a cancelled context", n)
	}
}

// TestUncertainOutcomesTracked: a write attempt that ended without a known
// outcome (dropped, timed out, 5xx) is reported even when a retry then
// succeeded; refusals, throttling, reads and successes are not.
func TestUncertainOutcomesTracked(t *testing.T) {
	e := newEnv(t, envOption{client: func(c *upstream.Config) { c.Timeout = 100 * time.Millisecond }})
	u := e.seedUser("a@example.com", "a@example.com")
	off := false
	cases := []struct {
		name      string
		fault     *emulator.Fault
		call      func(ctx context.Context) error
		uncertain bool
	}{
		{"clean write", nil, func(ctx context.Context) error { return e.c.UpdateUser(ctx, u.ID, upstream.UserUpdate{IsActive: &off}) }, false},
		{"dropped then retried", &emulator.Fault{Method: http.MethodPut, Drop: true},
			func(ctx context.Context) error { return e.c.UpdateUser(ctx, u.ID, upstream.UserUpdate{IsActive: &off}) }, true},
		{"applied, answer lost", &emulator.Fault{Method: http.MethodPut, Status: http.StatusBadGateway, AfterApply: true},
			func(ctx context.Context) error { return e.c.UpdateUser(ctx, u.ID, upstream.UserUpdate{IsActive: &off}) }, true},
		{"timed out, lands late", &emulator.Fault{Method: http.MethodPut, Late: true, Delay: 300 * time.Millisecond},
			func(ctx context.Context) error { return e.c.UpdateUser(ctx, u.ID, upstream.UserUpdate{IsActive: &off}) }, true},
		{"throttled", &emulator.Fault{Method: http.MethodPut, Status: http.StatusTooManyRequests},
			func(ctx context.Context) error { return e.c.UpdateUser(ctx, u.ID, upstream.UserUpdate{IsActive: &off}) }, false},
		{"refused", nil, func(ctx context.Context) error {
			return e.c.UpdateUser(ctx, newGUID(), upstream.UserUpdate{IsActive: &off})
		}, false},
		{"read failed", &emulator.Fault{Method: http.MethodGet, Status: http.StatusInternalServerError, Times: -1},
			func(ctx context.Context) error { _, err := e.c.GetUser(ctx, u.ID); return err }, false},
		{"create timed out", &emulator.Fault{Method: http.MethodPost, PathContains: "BulkCreate", Delay: time.Second},
			func(ctx context.Context) error {
				_, err := e.c.CreateUser(ctx, upstream.NewUser{ID: newGUID(), UserName: "late@example.com"}, nil)
				return err
			}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.emu.ClearFaults()
			if tc.fault != nil {
				e.emu.Inject(*tc.fault)
			}
			ctx, unc := upstream.TrackUncertain(t.Context())
			_ = tc.call(ctx)
			if unc.Any() != tc.uncertain {
				t.Errorf("uncertain = %v (%d attempts), want %v", unc.Any(), unc.Count(), tc.uncertain)
			}
		})
	}
	// Without tracking nothing is recorded, and nothing breaks.
	e.emu.ClearFaults()
	e.emu.Inject(emulator.Fault{Method: http.MethodPut, Drop: true})
	if err := e.c.UpdateUser(t.Context(), u.ID, upstream.UserUpdate{IsActive: &off}); err != nil {
		t.Errorf("untracked retried write: %v", err)
	}
}
