package upstream_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// TestCallLog: a context's CallLog sees every attempt sent with it, retries
// included, with UiPath's status, and nothing sent with other contexts.
func TestCallLog(t *testing.T) {
	e := newEnv(t, envOption{})
	u := e.seedUser("ada@example.com", "ada@example.com")
	if _, err := e.c.GetUser(t.Context(), u.ID); err != nil { // token and partition outside the log
		t.Fatal(err)
	}

	var log upstream.CallLog
	ctx := upstream.WithCallLog(t.Context(), &log)
	e.emu.Inject(emulator.Fault{Method: http.MethodGet, Status: http.StatusServiceUnavailable, Times: 1})
	if _, err := e.c.GetUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.c.UpdateUser(ctx, u.ID, upstream.UserUpdate{IsActive: new(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.GetUser(ctx, newGUID()); err == nil {
		t.Fatal("GetUser of an unknown id succeeded")
	}
	if _, err := e.c.GetUser(context.WithoutCancel(t.Context()), u.ID); err != nil { // not logged
		t.Fatal(err)
	}

	calls := log.Calls()
	want := []struct {
		method string
		status int
	}{{"GET", 503}, {"GET", 200}, {"PUT", 200}, {"GET", 404}}
	if len(calls) != len(want) {
		t.Fatalf("logged %d calls, want %d: %+v", len(calls), len(want), calls)
	}
	for i, w := range want {
		c := calls[i]
		if c.Method != w.method || c.Status != w.status || c.Op == "" || time.Since(c.At) > time.Minute {
			t.Errorf("call %d = %+v, want %s answered %d", i, c, w.method, w.status)
		}
	}
	if n := log.Counts(); n["GET"] != 3 || n["PUT"] != 1 || n["POST"] != 0 || n["DELETE"] != 0 {
		t.Errorf("Counts = %v", n)
	}
}

// TestCallLogNests: a call made with a context carrying a log made inside
// another log's context is in both; the inner log has only its own.
func TestCallLogNests(t *testing.T) {
	e := newEnv(t, envOption{})
	u := e.seedUser("ada@example.com", "ada@example.com")
	var outer, inner upstream.CallLog
	ctx := upstream.WithCallLog(t.Context(), &outer)
	if _, err := e.c.GetUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.GetUser(upstream.WithCallLog(ctx, &inner), u.ID); err != nil {
		t.Fatal(err)
	}
	if n, m := len(outer.Calls()), len(inner.Calls()); n != 2 || m != 1 {
		t.Errorf("outer log %d calls, inner %d; want 2 and 1", n, m)
	}
}
