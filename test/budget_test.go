package test

import (
	"strconv"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
)

// TestBudgetSpentAnswers429: when the client-side budget for UiPath is
// spent, a SCIM write fails fast with 429 and a Retry-After the IdP can
// honour, nothing reaches UiPath, and reads keep being served from the store.
func TestBudgetSpentAnswers429(t *testing.T) {
	e := newEnv(t, envtest.Bolt, envOptions{
		budget: map[string]int{"PUT": 1}, budgetWindow: time.Minute, budgetWait: 10 * time.Millisecond,
	})
	id := str(e.must(201, "POST", "/Users", newUserBody("kim@corp.example")).body, "id")
	e.must(200, "PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "Kim 1"}))
	puts := e.emu.CountRequests("PUT")
	r := e.do("PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "Kim 2"}))
	scimError(t, r, 429, "")
	secs, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || secs < 50 || secs > 62 {
		t.Errorf("Retry-After %q, want about a minute", r.header.Get("Retry-After"))
	}
	if got := e.emu.CountRequests("PUT") - puts; got != 0 {
		t.Errorf("%d PUTs reached UiPath past the budget", got)
	}
	if got := e.must(200, "GET", "/Users/"+id, nil).body["displayName"]; got != "Kim 1" {
		t.Errorf("store holds %v, want the last confirmed Kim 1", got)
	}
	e.must(200, "GET", "/Users?filter=userName%20eq%20%22kim%40corp.example%22", nil)
	for _, req := range e.emu.Requests() {
		if req.Status == 429 {
			t.Errorf("UiPath throttled %s %s", req.Method, req.Path)
		}
	}
}
