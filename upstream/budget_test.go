package upstream_test

import (
	"context"
	"errors"
	"maps"
	"math"
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
		wait, err := b.TryTake(t.Context(), "PUT", false)
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
	if wait, _ := b.TryTake(t.Context(), "GET", false); wait != 0 {
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

func TestReservedCalls(t *testing.T) {
	tests := []struct {
		name   string
		limits map[string]int
		r      float64
		want   map[string]int
	}{
		{name: "UiPath's limits at 10%", limits: map[string]int{"GET": 300, "POST": 24000, "PUT": 160, "DELETE": 160}, r: 0.1,
			want: map[string]int{"PUT": 16, "DELETE": 16}},
		{name: "rounded up", limits: map[string]int{"put": 10, "Delete": 7}, r: 0.25, want: map[string]int{"PUT": 3, "DELETE": 2}},
		{name: "half of two", limits: map[string]int{"PUT": 2}, r: 0.5, want: map[string]int{"PUT": 1}},
		{name: "none when others would get no room", limits: map[string]int{"PUT": 1, "DELETE": 3}, r: 0.9, want: map[string]int{}},
		{name: "GET, POST and PATCH keep none", limits: map[string]int{"GET": 300, "POST": 10, "PATCH": 10}, r: 0.5, want: map[string]int{}},
		{name: "zero", limits: map[string]int{"PUT": 160}, r: 0},
		{name: "one", limits: map[string]int{"PUT": 160}, r: 1},
		{name: "negative", limits: map[string]int{"PUT": 160}, r: -0.1},
		{name: "NaN", limits: map[string]int{"PUT": 160}, r: math.NaN()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := upstream.ReservedCalls(tt.limits, tt.r)
			if !maps.Equal(got, tt.want) {
				t.Errorf("ReservedCalls(%v, %v) = %v, want %v", tt.limits, tt.r, got, tt.want)
			}
		})
	}
}

// take is one TryTake and its outcome.
func take(t *testing.T, b upstream.Budget, method string, priority bool) time.Duration {
	t.Helper()
	wait, err := b.TryTake(t.Context(), method, priority)
	if err != nil {
		t.Fatal(err)
	}
	return wait
}

// TestLocalBudgetReserve: with a reserve, calls that are not priority stop
// at limit-reserved, priority calls go on up to the limit, and the wait
// each refused call is told is exactly when its class has room again.
func TestLocalBudgetReserve(t *testing.T) {
	const window = 10 * time.Second
	span := window + upstream.BudgetPad(window) // how long a call stays in the log
	for _, method := range []string{"PUT", "DELETE"} {
		t.Run(method, func(t *testing.T) {
			c := newClock()
			t0 := c.Now()
			// 10 at 25%: 3 reserved, 7 for everyone.
			b := upstream.NewLocalBudget(map[string]int{method: 10}, window, c.Now).WithReserve(0.25)
			for i := range 7 {
				if w := take(t, b, method, false); w != 0 {
					t.Fatalf("call %d refused (wait %v) below limit-reserved", i+1, w)
				}
				c.Advance(time.Second)
			}
			// t0+7s: 7 calls, at t0 … t0+6s.
			if w, want := take(t, b, method, false), t0.Add(span).Sub(c.Now())+time.Millisecond; w != want {
				t.Fatalf("8th ordinary call: wait %v, want %v (until the oldest leaves)", w, want)
			}
			for i := range 3 {
				if w := take(t, b, method, true); w != 0 {
					t.Fatalf("priority call %d refused (wait %v) within the reserve", i+1, w)
				}
			}
			// 10 calls now: at t0 … t0+6s and three at t0+7s.
			wp := take(t, b, method, true)
			if want := t0.Add(span).Sub(c.Now()) + time.Millisecond; wp != want {
				t.Fatalf("priority call past the limit: wait %v, want %v (until the oldest leaves)", wp, want)
			}
			// An ordinary call needs the window down to 6 calls: four must
			// leave, the fourth oldest was taken at t0+3s.
			wo := take(t, b, method, false)
			if want := t0.Add(3*time.Second).Add(span).Sub(c.Now()) + time.Millisecond; wo != want {
				t.Fatalf("ordinary call with the reserve in use: wait %v, want %v (until the 4th oldest leaves)", wo, want)
			}
			// Each class gets room when it was told, not before (the wait
			// has a 1ms margin).
			c.Advance(wp - 2*time.Millisecond)
			if w := take(t, b, method, true); w != 2*time.Millisecond {
				t.Fatalf("priority call 2ms early: wait %v, want 2ms", w)
			}
			c.Advance(2 * time.Millisecond)
			if w, want := take(t, b, method, false), wo-wp; w != want {
				t.Fatalf("ordinary call once the oldest left: wait %v, want the rest of its wait, %v", w, want)
			}
			if w := take(t, b, method, true); w != 0 {
				t.Fatalf("priority call at its wait: refused (wait %v)", w)
			}
			// That call filled the window again: an ordinary call now
			// waits for the call of t0+4s.
			wo = take(t, b, method, false)
			if want := t0.Add(4*time.Second).Add(span).Sub(c.Now()) + time.Millisecond; wo != want {
				t.Fatalf("ordinary call: wait %v, want %v", wo, want)
			}
			c.Advance(wo - 2*time.Millisecond)
			if w := take(t, b, method, false); w != 2*time.Millisecond {
				t.Fatalf("ordinary call 2ms early: wait %v, want 2ms", w)
			}
			c.Advance(2 * time.Millisecond)
			if w := take(t, b, method, false); w != 0 {
				t.Fatalf("ordinary call at its wait: refused (wait %v)", w)
			}
		})
	}
}

// TestLocalBudgetReserveOnlyPUTAndDELETE: GET and POST keep no reserve:
// ordinary calls get their whole limit.
func TestLocalBudgetReserveOnlyPUTAndDELETE(t *testing.T) {
	c := newClock()
	b := upstream.NewLocalBudget(map[string]int{"GET": 4, "POST": 4}, time.Minute, c.Now).WithReserve(0.5)
	for _, m := range []string{"GET", "POST"} {
		for i := range 4 {
			if w := take(t, b, m, false); w != 0 {
				t.Fatalf("%s call %d refused (wait %v)", m, i+1, w)
			}
		}
		if w := take(t, b, m, true); w == 0 {
			t.Fatalf("%s: a priority call went past the limit", m)
		}
	}
}

// TestLocalBudgetNoReserve: reserve 0 (and the default) is the budget as
// before: both classes share the whole limit and wait for the oldest call.
func TestLocalBudgetNoReserve(t *testing.T) {
	const window = time.Minute
	span := window + upstream.BudgetPad(window)
	for _, tc := range []struct {
		name string
		b    func(now func() time.Time) *upstream.LocalBudget
	}{
		{"default", func(now func() time.Time) *upstream.LocalBudget {
			return upstream.NewLocalBudget(map[string]int{"PUT": 3}, window, now)
		}},
		{"WithReserve(0)", func(now func() time.Time) *upstream.LocalBudget {
			return upstream.NewLocalBudget(map[string]int{"PUT": 3}, window, now).WithReserve(0)
		}},
		{"reserve taken back", func(now func() time.Time) *upstream.LocalBudget {
			return upstream.NewLocalBudget(map[string]int{"PUT": 3}, window, now).WithReserve(0.5).WithReserve(0)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			t0 := c.Now()
			b := tc.b(c.Now)
			for i, prio := range []bool{false, true, false} {
				if w := take(t, b, "PUT", prio); w != 0 {
					t.Fatalf("call %d refused (wait %v)", i+1, w)
				}
				c.Advance(time.Second)
			}
			want := t0.Add(span).Sub(c.Now()) + time.Millisecond
			for _, prio := range []bool{false, true} {
				if w := take(t, b, "PUT", prio); w != want {
					t.Errorf("priority=%v past the limit: wait %v, want %v", prio, w, want)
				}
			}
		})
	}
}

// TestLocalBudgetReserveSlidingWindow: whatever the mix of calls, no
// interval of one window holds more than the limit, nor more ordinary calls
// than limit-reserved; and no call is refused when its class has room.
func TestLocalBudgetReserveSlidingWindow(t *testing.T) {
	c := newClock()
	const limit, window = 8, 10 * time.Second
	span := window + upstream.BudgetPad(window)
	b := upstream.NewLocalBudget(map[string]int{"DELETE": limit}, window, c.Now).WithReserve(0.25) // 2 reserved
	r := rand.New(rand.NewPCG(9, 10))
	type call struct {
		at       time.Time
		priority bool
	}
	var taken []call
	inWindow := func(now time.Time, ordinaryOnly bool) int {
		n := 0
		for _, x := range taken {
			if x.at.After(now.Add(-span)) && (!ordinaryOnly || !x.priority) {
				n++
			}
		}
		return n
	}
	for range 3000 {
		c.Advance(time.Duration(r.IntN(3000)) * time.Millisecond)
		prio := r.IntN(4) == 0
		room := limit
		if !prio {
			room = limit - 2
		}
		before := inWindow(c.Now(), false)
		wait := take(t, b, "DELETE", prio)
		if (wait == 0) != (before < room) {
			t.Fatalf("priority=%v with %d calls in the window: wait %v", prio, before, wait)
		}
		if wait == 0 {
			taken = append(taken, call{c.Now(), prio})
		}
	}
	for i := range taken {
		n, ordinary := 0, 0
		for j := i; j < len(taken) && taken[j].at.Sub(taken[i].at) < window; j++ {
			n++
			if !taken[j].priority {
				ordinary++
			}
		}
		if n > limit || ordinary > limit-2 {
			t.Fatalf("%d calls, %d of them ordinary, within one window starting %v", n, ordinary, taken[i].at)
		}
	}
}

// TestDeprovisioningUsesTheReserve: when the budget refuses ordinary calls,
// a call marked as deprovisioning is still sent, up to the limit.
func TestDeprovisioningUsesTheReserve(t *testing.T) {
	e := newEnv(t, envOption{client: func(c *upstream.Config) { c.MaxBudgetWait = time.Second }})
	// PUT 4 at 50%: 2 for everyone, 2 more for deprovisioning.
	e.cfg.Budget = upstream.NewLocalBudget(map[string]int{"PUT": 4}, time.Minute, e.clock.Now).WithReserve(0.5)
	c, err := upstream.New(e.cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if upstream.IsDeprovisioning(t.Context()) || !upstream.IsDeprovisioning(upstream.Deprovisioning(t.Context())) {
		t.Fatal("IsDeprovisioning does not see the mark")
	}
	u1, u2 := e.seedUser("stays@corp.example", "stays@corp.example"), e.seedUser("leaves@corp.example", "leaves@corp.example")
	name := "Renamed"
	for i := range 2 {
		if err := c.UpdateUser(t.Context(), u1.ID, upstream.UserUpdate{Name: &name}); err != nil {
			t.Fatalf("ordinary update %d: %v", i+1, err)
		}
	}
	if err := c.UpdateUser(t.Context(), u1.ID, upstream.UserUpdate{Name: &name}); !errors.Is(err, upstream.ErrBudgetExhausted) {
		t.Fatalf("third ordinary update: %v, want ErrBudgetExhausted", err)
	}
	before := e.calls("PUT", u2.ID)
	inactive := false
	ctx := upstream.Deprovisioning(t.Context())
	if err := c.UpdateUser(ctx, u2.ID, upstream.UserUpdate{IsActive: &inactive}); err != nil {
		t.Fatalf("deactivation with ordinary calls refused: %v", err)
	}
	if got := e.calls("PUT", u2.ID) - before; got != 1 {
		t.Fatalf("the deactivation reached UiPath %d times, want 1", got)
	}
	if u, ok := e.emu.User(u2.ID); !ok || u.IsActive {
		t.Fatalf("the leaver is still active in UiPath: %+v", u)
	}
	if w := e.waits(); len(w) != 0 {
		t.Errorf("the deactivation waited %v", w)
	}
	// The reserve has a limit too: the limit.
	if err := c.UpdateUser(ctx, u2.ID, upstream.UserUpdate{IsActive: &inactive}); err != nil {
		t.Fatalf("second deprovisioning call: %v", err)
	}
	if err := c.UpdateUser(ctx, u2.ID, upstream.UserUpdate{IsActive: &inactive}); !errors.Is(err, upstream.ErrBudgetExhausted) {
		t.Fatalf("deprovisioning call past the limit: %v, want ErrBudgetExhausted", err)
	}
}

// TestLocalBudgetUsage: Usage counts the calls of each limited method in
// the window now, priority ones and refused ones apart (refused calls are
// not counted), reports the limit and the reserve, forgets calls that left
// the window, and takes nothing itself.
func TestLocalBudgetUsage(t *testing.T) {
	const window = 10 * time.Second
	span := window + upstream.BudgetPad(window)
	c := newClock()
	b := upstream.NewLocalBudget(map[string]int{"get": 3, "PUT": 4, "DELETE": 10}, window, c.Now).WithReserve(0.5)
	usage := func() map[string]upstream.BudgetUse {
		t.Helper()
		u, err := b.Usage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	want := map[string]upstream.BudgetUse{
		"GET":    {Used: 0, Limit: 3},
		"PUT":    {Used: 0, Limit: 4, Reserved: 2},
		"DELETE": {Used: 0, Limit: 10, Reserved: 5},
	}
	if got := usage(); !maps.Equal(got, want) {
		t.Fatalf("fresh budget: %v, want %v", got, want)
	}
	take(t, b, "GET", false)
	take(t, b, "PUT", false)
	take(t, b, "PUT", false)
	if w := take(t, b, "PUT", false); w == 0 {
		t.Fatal("ordinary PUT into the reserve was taken")
	}
	c.Advance(window / 2)
	take(t, b, "PUT", true)
	take(t, b, "POST", false) // not limited: never counted
	want["GET"] = upstream.BudgetUse{Used: 1, Limit: 3}
	want["PUT"] = upstream.BudgetUse{Used: 3, Limit: 4, Reserved: 2}
	for range 2 { // reading twice: Usage takes nothing
		if got := usage(); !maps.Equal(got, want) {
			t.Fatalf("after takes: %v, want %v", got, want)
		}
	}
	// The first calls leave the window; the priority one stays.
	c.Advance(span - window/2)
	want["GET"] = upstream.BudgetUse{Used: 0, Limit: 3}
	want["PUT"] = upstream.BudgetUse{Used: 1, Limit: 4, Reserved: 2}
	if got := usage(); !maps.Equal(got, want) {
		t.Fatalf("once the first calls left the window: %v, want %v", got, want)
	}
}
