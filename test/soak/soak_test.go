package main

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/redistest"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// ciFaultKinds are the fault kinds the short soak injects by default:
// every kind. SCIM_BRIDGE_SOAK_FAULTS, a list such as "late,lost", narrows
// it (to chase one kind's failure).
var ciFaultKinds = []string{kind5xx, kind429, kindDelay, kindDrop, kindLost, kindLate}

// envFaults names the environment variable that overrides ciFaultKinds.
const envFaults = "SCIM_BRIDGE_SOAK_FAULTS"

// TestSoak is the short soak CI runs: about 20s of mixed Okta and Entra
// traffic with faults on each store, then quiescence; every invariant must
// hold.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("the soak runs for about a minute; skipped with -short")
	}
	kinds := ciFaultKinds
	if v := os.Getenv(envFaults); v != "" {
		k, err := parseKinds(v)
		if err != nil {
			t.Fatalf("%s: %v", envFaults, err)
		}
		kinds = k
	}
	for _, store := range []string{"bolt", "redis"} {
		t.Run(store, func(t *testing.T) {
			o := defaultOptions()
			o.store, o.duration, o.rate, o.users, o.groups = store, 20*time.Second, 20, 120, 15
			o.faultKinds, o.faults = kinds, len(kinds) > 0
			o.converge = 60 * time.Second
			if store == "redis" {
				o.redisURL = redistest.URL(t)
			}
			rep, err := soakRun(t.Context(), o, t.Output())
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range rep.failures() {
				t.Error(f)
			}
			if rep.ops["create user"] == 0 || rep.ops["deactivate"] == 0 || rep.ops["add members"] == 0 {
				t.Errorf("the traffic lacks the basic operations: %v", rep.ops)
			}
			if o.faults && sumInts(rep.faults) == 0 {
				t.Error("no fault was injected")
			}
		})
	}
}

// TestLeaverMonitor: a leaver seen active within the grace is a spell,
// not a violation; past the grace it is one, with how long it lasted; a
// reactivated user is no leaver; one still active at the end counts.
func TestLeaverMonitor(t *testing.T) {
	t0 := time.Now()
	m := newLeaverMonitor(10 * time.Second)
	active := func(ids ...string) []upstream.User {
		var out []upstream.User
		for _, id := range ids {
			out = append(out, upstream.User{ID: id, IsActive: true})
		}
		return out
	}
	leavers := map[string]leaver{
		"a": {userName: "a@x", since: t0},
		"b": {userName: "b@x", since: t0},
		"c": {userName: "c@x", since: t0},
	}
	m.check(leavers, active("a", "b", "c"), t0.Add(2*time.Second), false)
	m.check(leavers, active("b", "c"), t0.Add(4*time.Second), false) // a: a short spell, within the grace
	m.check(leavers, active("b", "c"), t0.Add(12*time.Second), false)
	m.check(leavers, active("c"), t0.Add(14*time.Second), false) // b: violated, ended
	delete(leavers, "c")                                         // c reactivated
	m.check(leavers, active("c"), t0.Add(16*time.Second), false)
	leavers["d"] = leaver{userName: "d@x", since: t0.Add(16 * time.Second)}
	m.check(leavers, active("c", "d"), t0.Add(30*time.Second), true) // d still active at the end
	v, spells, longest := m.result()
	if spells != 4 {
		t.Errorf("spells = %d, want 4 (a, b, c, d)", spells)
	}
	if longest != 14*time.Second {
		t.Errorf("longest = %v, want 14s (c, last seen active 14s after its deactivation)", longest)
	}
	var got []string
	for _, s := range v {
		got = append(got, s.userName)
	}
	if strings.Join(got, ",") != "b@x,c@x,d@x" {
		t.Fatalf("violations %v, want b (ended), c (reactivated while violating), d (still active)", got)
	}
	if d := v[0].ended.Sub(v[0].acked); d != 14*time.Second {
		t.Errorf("b lasted %v, want 14s", d)
	}
	if !v[2].ended.IsZero() {
		t.Errorf("d ended at %v, want still active", v[2].ended)
	}
}

// TestInjectorOverlap: a 5xx is attributed to an episode it overlaps,
// with the slack after the episode, and to none in a gap.
func TestInjectorOverlap(t *testing.T) {
	in := newInjector(emulator.New(emulator.Config{}, nil), nil, time.Second, 1)
	t0 := time.Now()
	in.episodes = []episode{{t0, t0.Add(2 * time.Second)}, {t0.Add(10 * time.Second), t0.Add(12 * time.Second)}}
	for _, c := range []struct {
		from, to time.Duration
		want     bool
	}{
		{-2 * time.Second, -time.Second, false},
		{-time.Second, time.Second, true},
		{2500 * time.Millisecond, 2600 * time.Millisecond, true}, // within the slack
		{4 * time.Second, 5 * time.Second, false},
		{9 * time.Second, 13 * time.Second, true},
		{14 * time.Second, 15 * time.Second, false},
	} {
		if got := in.overlaps(t0.Add(c.from), t0.Add(c.to)); got != c.want {
			t.Errorf("overlaps(%v, %v) = %v, want %v", c.from, c.to, got, c.want)
		}
	}
}

// TestFlags: bad flags exit 2 without running.
func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-store", "mongo"}, {"-faults", "maybe"}, {"-fault-kinds", "meteor"}, {"-strategy", "random"}, {"-rate", "0"},
	} {
		var out strings.Builder
		if code := run(args, &out, &out); code != 2 {
			t.Errorf("%v: exit %d, want 2 (%s)", args, code, out.String())
		}
	}
	if k, err := parseKinds("late, lost,late"); err != nil || strings.Join(k, ",") != "late,lost" {
		t.Errorf("parseKinds = %v, %v", k, err)
	}
}
