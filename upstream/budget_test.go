package upstream_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// TestLocalBudgetSlidingWindow: no interval of one window ever holds more
// than the limit, whatever the pattern of takes.
func TestLocalBudgetSlidingWindow(t *testing.T) {
	c := newClock()
	const limit, window = 5, 10 * time.Second
	b := upstream.NewLocalBudget(map[string]int{"put": limit}, window, c.Now)
	r := rand.New(rand.NewPCG(7, 8))
	var taken []time.Time
	for range 2000 {
		c.Advance(time.Duration(r.IntN(4000)) * time.Millisecond)
		wait, err := b.TryTake(t.Context(), "PUT")
		if err != nil {
			t.Fatal(err)
		}
		if wait == 0 {
			taken = append(taken, c.Now())
		} else if wait > window+upstream.BudgetPad(window)+time.Millisecond {
			t.Fatalf("wait %v longer than a window", wait)
		}
	}
	for i := range taken {
		n := 0
		for j := i; j < len(taken) && taken[j].Sub(taken[i]) < window; j++ {
			n++
		}
		if n > limit {
			t.Fatalf("%d calls within one window starting %v", n, taken[i])
		}
	}
	if len(taken) < 100 {
		t.Fatalf("budget too stingy: only %d calls allowed", len(taken))
	}
	if wait, _ := b.TryTake(t.Context(), "GET"); wait != 0 {
		t.Error("a method without a limit was paced")
	}
}

// TestBudgetKeepsClientUnderUiPathLimits: with UiPath's limits on (a tight
// PUT limit) and the same budget client-side, many writes all succeed, none
// is throttled by UiPath, and the client waited instead.
func TestBudgetKeepsClientUnderUiPathLimits(t *testing.T) {
	const window = 10 * time.Second
	e := newEnv(t, envOption{
		emu: func(c *emulator.Config) {
			c.DisableRateLimits = false
			c.Limits = map[string]int{"PUT": 4, "GET": 1000}
			c.Window = window
		},
		client: func(c *upstream.Config) {
			c.MaxBudgetWait = time.Minute
		},
	})
	// The budget shares the env's fake clock; the client's Sleep advances it.
	e.cfg.Budget = upstream.NewLocalBudget(map[string]int{"PUT": 4}, window, e.clock.Now)
	c, err := upstream.New(e.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := uuid.NewString()
	if _, err := c.CreateUser(t.Context(), upstream.NewUser{ID: id, UserName: "paced@corp.example"}, nil); err != nil {
		t.Fatal(err)
	}
	start := e.clock.Now()
	for i := range 12 {
		name := "n" + string(rune('a'+i))
		if err := c.UpdateUser(t.Context(), id, upstream.UserUpdate{Name: &name}); err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	for _, r := range e.emu.Requests() {
		if r.Status == 429 {
			t.Fatalf("UiPath throttled %s %s", r.Method, r.Path)
		}
	}
	if elapsed := e.clock.Now().Sub(start); elapsed < 2*window {
		t.Errorf("12 PUTs at 4 per %v took %v of (fake) time; the budget did not pace", window, elapsed)
	}
}

// TestBudgetExhaustedIsA429: when the wait would exceed MaxBudgetWait, the
// call is not sent and fails with a retryable 429 carrying Retry-After.
func TestBudgetExhaustedIsA429(t *testing.T) {
	e := newEnv(t, envOption{client: func(c *upstream.Config) { c.MaxBudgetWait = time.Second }})
	e.cfg.Budget = upstream.NewLocalBudget(map[string]int{"DELETE": 1}, time.Minute, e.clock.Now)
	var seen []upstream.Observation
	e.cfg.Observe = func(o upstream.Observation) { seen = append(seen, o) } // calls are sequential here
	c, err := upstream.New(e.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.DeleteUser(t.Context(), uuid.NewString()) // takes the only slot (404 is fine)
	before := e.emu.CountRequests("DELETE")
	err = c.DeleteUser(t.Context(), uuid.NewString())
	var ue *upstream.Error
	if !errors.As(err, &ue) || !errors.Is(err, upstream.ErrBudgetExhausted) || ue.StatusCode != 429 || !ue.Retryable || ue.RetryAfter < 50*time.Second {
		t.Fatalf("got %v (%+v), want a retryable 429 budget error with Retry-After ≈ 1m", err, ue)
	}
	if got := e.emu.CountRequests("DELETE") - before; got != 0 {
		t.Errorf("a refused call reached UiPath %d times", got)
	}
	// Observe saw the sent call with UiPath's status and the refused one as
	// exhausted, with nothing sent.
	if len(seen) != 2 || seen[0].Op != "delete user" || seen[0].Method != "DELETE" || seen[0].Status != 404 || seen[0].BudgetExhausted ||
		seen[1].Status != 0 || !seen[1].BudgetExhausted {
		t.Errorf("observations %+v", seen)
	}
}

// TestBudgetRespectsDeadline: a call whose wait for room would outlast its
// context's deadline fails at once with the 429, instead of waiting.
func TestBudgetRespectsDeadline(t *testing.T) {
	e := newEnv(t, envOption{client: func(c *upstream.Config) { c.MaxBudgetWait = time.Hour }})
	e.cfg.Budget = upstream.NewLocalBudget(map[string]int{"DELETE": 1}, time.Minute, e.clock.Now)
	c, err := upstream.New(e.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = c.DeleteUser(t.Context(), uuid.NewString())
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err = c.DeleteUser(ctx, uuid.NewString())
	if !errors.Is(err, upstream.ErrBudgetExhausted) {
		t.Fatalf("got %v, want ErrBudgetExhausted", err)
	}
	if w := e.waits(); len(w) != 0 {
		t.Errorf("waited %v although the deadline was nearer than the room", w)
	}
}

// TestWithoutBudgetWait: a call that may be put off fails at once when the
// budget has no room, where the same call otherwise waits for it.
func TestWithoutBudgetWait(t *testing.T) {
	e := newEnv(t, envOption{client: func(c *upstream.Config) { c.MaxBudgetWait = 5 * time.Minute }})
	e.cfg.Budget = upstream.NewLocalBudget(map[string]int{"GET": 1}, time.Minute, e.clock.Now)
	c, err := upstream.New(e.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	u := e.seedUser("a@example.com", "a@example.com")
	if _, err := c.GetUser(t.Context(), u.ID); err != nil {
		t.Fatal(err)
	}
	start := e.clock.Now()
	_, err = c.GetUser(upstream.WithoutBudgetWait(t.Context()), u.ID)
	if !errors.Is(err, upstream.ErrBudgetExhausted) {
		t.Fatalf("GetUser without budget wait: %v, want ErrBudgetExhausted", err)
	}
	if waited := e.clock.Now().Sub(start); waited != 0 {
		t.Errorf("it waited %v", waited)
	}
	if _, err := c.GetUser(t.Context(), u.ID); err != nil {
		t.Fatalf("GetUser allowed to wait: %v", err)
	}
	if waited := e.clock.Now().Sub(start); waited < 50*time.Second {
		t.Errorf("the waiting call waited only %v for a one-minute budget", waited)
	}
}
