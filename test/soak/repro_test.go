package main

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// The repros: the smallest sequences that broke an invariant in the soak
// before the bridge checked writes with an unknown outcome. They stay as
// regression tests.

// reproEnv builds the soak's bridge on the embedded store with one user
// created, and returns it with the user's SCIM id.
func reproEnv(t *testing.T) (*soak, *user) {
	t.Helper()
	o := defaultOptions()
	o.faults, o.faultKinds = false, nil
	s, cleanup, err := newSoak(o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	s.model.mu.Lock()
	u := s.model.newUser()
	u.owner = entra
	s.model.mu.Unlock()
	if res, a := s.createUser(t.Context(), u); res != acked {
		t.Fatalf("create: %d %s", a.status, a.body)
	}
	return s, u
}

// lateActivation sends the Entra PATCH that sets active, with the first
// PUT /User it causes held past the bridge's deadline and applied late
// when late is set.
func lateActivation(t *testing.T, s *soak, u *user, active, late bool) {
	t.Helper()
	if late {
		s.emu.Inject(emulator.Fault{Method: http.MethodPut, PathContains: "/api/User/" + u.id, Late: true,
			Delay: s.opts.upstreamTimeout + time.Second})
	}
	v := "False"
	if active {
		v = "True"
	}
	a, err := s.idp.do(t.Context(), entra, http.MethodPatch, "/Users/"+u.id,
		patch(map[string]any{"op": "Replace", "path": "active", "value": v}))
	if err != nil || a.status != http.StatusOK {
		t.Fatalf("PATCH active %s: %d %v %s", v, a.status, err, a.body)
	}
}

// settledTo runs the bridge's settle pass, as serve does every few
// seconds, until UiPath shows the user's activation as want, for at most
// the late-write window and a little more. It reports whether it did.
func settledTo(t *testing.T, s *soak, u *user, want bool) bool {
	t.Helper()
	deadline := time.Now().Add(8 * time.Second)
	for time.Now().Before(deadline) {
		if err := s.settle(t.Context()); err != nil {
			t.Logf("settle: %v", err)
		}
		if up, ok := s.emu.User(u.id); ok && up.IsActive == want {
			return true
		}
		time.Sleep(200 * time.Millisecond)
	}
	return false
}

// TestReproLateReactivationRevivesLeaver: a reactivation whose first PUT
// /User times out (and is retried, and acknowledged) lands in UiPath after
// the deactivation that followed it. Before the bridge checked such
// writes, the leaver stayed active in UiPath for good while the store said
// inactive (invariant 1); now the check puts the deactivation back.
func TestReproLateReactivationRevivesLeaver(t *testing.T) {
	s, u := reproEnv(t)
	lateActivation(t, s, u, false, false)
	lateActivation(t, s, u, true, true) // acknowledged; its first PUT is still held
	lateActivation(t, s, u, false, false)
	time.Sleep(s.opts.upstreamTimeout + 2*time.Second) // the held PUT lands
	if !settledTo(t, s, u, false) {
		t.Errorf("leaver %s is still active in UiPath after its acknowledged deactivation (a late reactivation landed after it)", u.userName)
	}
}

// TestReproLateDeactivationLosesReactivation: the mirror image: a
// deactivation applied late undid the acknowledged reactivation that
// followed it (a lost update at quiescence).
func TestReproLateDeactivationLosesReactivation(t *testing.T) {
	s, u := reproEnv(t)
	lateActivation(t, s, u, false, true)
	lateActivation(t, s, u, true, false)
	time.Sleep(s.opts.upstreamTimeout + 2*time.Second)
	if !settledTo(t, s, u, true) {
		t.Errorf("user %s is still inactive in UiPath after its acknowledged reactivation (a late deactivation landed after it)", u.userName)
	}
}
