package test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/mapping"
)

// auditOf reads the store's audit log about subject.
func (e *env) auditOf(subject string) []cache.AuditEntry {
	e.t.Helper()
	got, err := e.store.AuditLog(e.t.Context(), cache.AuditQuery{Subject: subject})
	if err != nil {
		e.t.Fatalf("AuditLog(%q): %v", subject, err)
	}
	return got
}

// TestAuditTrail: the audit log answers "when was this leaver's access
// removed, by which request, confirmed by UiPath when": the deactivation
// names the IdP's request and the PUT UiPath answered 200. A refused
// request is there as refused; a queued membership change as queued,
// then the scheduler's call that sent it.
func TestAuditTrail(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		// Strategy group: the scheduler's call addresses the group.
		e := newEnv(t, store, envOptions{queued: true, quiet: time.Millisecond, strategy: "group", userNameChange: mapping.UserNameRefuse})
		const okta = "Okta SCIM Client 1.0"
		r := e.must(201, "POST", "/Users", map[string]any{
			"schemas": []string{userSchema}, "userName": "leaver@corp.example", "active": true,
			"emails": []any{map[string]any{"primary": true, "value": "leaver@corp.example"}},
		}, "X-Request-Id", "req-create-1", "User-Agent", okta)
		id := str(r.body, "id")

		before := time.Now()
		e.must(200, "PATCH", "/Users/"+id, patchBody(map[string]any{"op": "replace", "path": "active", "value": "False"}),
			"X-Request-Id", "req-leave-7", "User-Agent", "Azure AD SCIM client")
		after := time.Now()
		// Refused: renames are, under SCIM_BRIDGE_USERNAME_CHANGE=refuse.
		e.must(400, "PUT", "/Users/"+id, map[string]any{"schemas": []string{userSchema}, "userName": "renamed@corp.example", "active": false},
			"X-Request-Id", "req-rename-2", "User-Agent", okta)

		log := e.auditOf("LEAVER@corp.example")
		if len(log) != 3 {
			t.Fatalf("audit of the leaver = %+v, want create, deactivate, refused replace", log)
		}
		c, d, x := log[0], log[1], log[2]
		if c.Operation != "create" || c.Outcome != cache.AuditOK || c.RequestID != "req-create-1" || c.IdP != "okta" ||
			c.ID != id || c.Kind != cache.KindUser || len(c.Calls) == 0 || c.Calls[0].Method != http.MethodPost {
			t.Errorf("create entry = %+v", c)
		}
		if d.Operation != "deactivate" || d.Outcome != cache.AuditOK || d.RequestID != "req-leave-7" || d.IdP != "entra" ||
			d.ID != id || d.Name != "leaver@corp.example" {
			t.Errorf("deactivation entry = %+v", d)
		}
		var put *cache.AuditCall
		for i, call := range d.Calls {
			if call.Method == http.MethodPut {
				put = &d.Calls[i]
			}
		}
		if put == nil || put.Status != 200 || put.At.Before(before.Add(-time.Second)) || put.At.After(after.Add(time.Second)) ||
			d.Time.Before(put.At) {
			t.Errorf("deactivation's UiPath PUT = %+v (entry at %v), want 200 between %v and %v", put, d.Time, before, after)
		}
		if x.Operation != "replace" || x.Outcome != cache.AuditRefused || x.RequestID != "req-rename-2" ||
			!strings.Contains(x.Detail, "mutability") || len(x.Calls) != 0 {
			t.Errorf("refused replace entry = %+v", x)
		}
		// A write for an id nobody has is refused too.
		e.must(404, "PATCH", "/Users/no-such-user", patchBody(map[string]any{"op": "replace", "path": "active", "value": false}),
			"X-Request-Id", "req-ghost")
		if g := e.auditOf("no-such-user"); len(g) != 1 || g[0].Outcome != cache.AuditRefused || g[0].Operation != "deactivate" || g[0].RequestID != "req-ghost" {
			t.Errorf("audit of an unknown id = %+v, want one refused deactivation", g)
		}

		// A queued membership change, then the scheduler's call.
		member := str(e.must(201, "POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "joiner@corp.example"}).body, "id")
		gid := str(e.must(201, "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Staff"}).body, "id")
		e.must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": member}}}),
			"X-Request-Id", "req-join-3", "User-Agent", okta)
		var sent []cache.AuditEntry
		for deadline := time.Now().Add(10 * time.Second); ; {
			glog := e.auditOf("staff")
			sent = sent[:0]
			for _, en := range glog {
				if en.IdP == "scheduler" {
					sent = append(sent, en)
				}
			}
			if len(sent) > 0 {
				if len(glog) < 3 || glog[1].Operation != "patch" || glog[1].Outcome != cache.AuditQueued || glog[1].RequestID != "req-join-3" {
					t.Errorf("group audit = %+v, want create, the queued patch, then the scheduler's call", glog)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no scheduler entry for the group after 10s: %+v", glog)
			}
			time.Sleep(10 * time.Millisecond)
		}
		s := sent[0]
		if s.Operation != "membership" || s.Outcome != cache.AuditOK || s.ID != gid || s.Kind != cache.KindGroup || s.RequestID != "" ||
			len(s.Calls) != 1 || s.Calls[0].Method != http.MethodPut || s.Calls[0].Status != 200 || !strings.Contains(s.Detail, member) {
			t.Errorf("scheduler entry = %+v", s)
		}
	})
}
