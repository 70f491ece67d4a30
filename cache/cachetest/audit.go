package cachetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
)

// auditAt is an audit entry at base+d about the user id.
func auditAt(d time.Duration, id, name, op string) cache.AuditEntry {
	return cache.AuditEntry{
		Time: base.Add(d), RequestID: "req-" + id + "-" + op, IdP: "okta", Operation: op,
		Kind: cache.KindUser, ID: id, Name: name, Outcome: cache.AuditOK,
	}
}

func mustAudit(t *testing.T, s cache.Store, q cache.AuditQuery) []cache.AuditEntry {
	t.Helper()
	got, err := s.AuditLog(ctx(t), q)
	if err != nil {
		t.Fatalf("AuditLog(%+v): %v", q, err)
	}
	return got
}

// wantAudit fails the test unless got and want hold the same entries in
// the same order, compared as the JSON the log is read as.
func wantAudit(t *testing.T, op string, got, want []cache.AuditEntry) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if string(g) != string(w) {
		t.Errorf("%s:\n got %s\nwant %s", op, g, w)
	}
}

// testAudit: appended entries come back whole, oldest first; a query
// selects by time window (both ends inclusive), by subject (id or name,
// case-insensitively) and keeps the newest Limit.
func testAudit(t *testing.T, s cache.Store) {
	wantAudit(t, "empty log", mustAudit(t, s, cache.AuditQuery{}), nil)
	full := cache.AuditEntry{
		Time: base, RequestID: "r1", IdP: "entra", Caller: "entra-prod", Operation: "deactivate", Kind: cache.KindUser,
		ID: "u1", Name: "Ada@Example.com", Outcome: cache.AuditOK, Detail: "adopted",
		Calls: []cache.AuditCall{
			{At: base.Add(-time.Second), Op: "update user", Method: "PUT", Status: 503},
			{At: base.Add(-time.Millisecond), Op: "update user", Method: "PUT", Status: 200},
		},
		PassID: "p1", Drift: "active",
	}
	g1 := cache.AuditEntry{Time: base.Add(time.Minute), IdP: "scheduler", Operation: "membership",
		Kind: cache.KindGroup, ID: "g1", Name: "Staff", Outcome: cache.AuditQueued}
	u2 := auditAt(2*time.Minute, "u2", "bob@example.com", "create")
	u1 := auditAt(3*time.Minute+time.Nanosecond, "u1", "ada@example.com", "patch")
	if err := s.AppendAudit(ctx(t), full, g1); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	if err := s.AppendAudit(ctx(t), u2, u1); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	if err := s.AppendAudit(ctx(t)); err != nil {
		t.Fatalf("AppendAudit of nothing: %v", err)
	}
	all := []cache.AuditEntry{full, g1, u2, u1}
	tests := []struct {
		name string
		q    cache.AuditQuery
		want []cache.AuditEntry
	}{
		{"all", cache.AuditQuery{}, all},
		{"since", cache.AuditQuery{Since: base.Add(time.Minute)}, all[1:]},
		{"until", cache.AuditQuery{Until: base.Add(2 * time.Minute)}, all[:3]},
		{"window", cache.AuditQuery{Since: base.Add(30 * time.Second), Until: base.Add(3 * time.Minute)}, all[1:3]},
		{"nanosecond edge", cache.AuditQuery{Since: base.Add(3*time.Minute + time.Nanosecond)}, all[3:]},
		{"empty window", cache.AuditQuery{Since: base.Add(time.Hour)}, nil},
		{"by id", cache.AuditQuery{Subject: "U1"}, []cache.AuditEntry{full, u1}},
		{"by name", cache.AuditQuery{Subject: "ADA@example.COM"}, []cache.AuditEntry{full, u1}},
		{"group by name", cache.AuditQuery{Subject: "staff"}, all[1:2]},
		{"unknown subject", cache.AuditQuery{Subject: "nobody"}, nil},
		{"limit keeps the newest", cache.AuditQuery{Limit: 2}, all[2:]},
		{"limit with subject and window", cache.AuditQuery{Subject: "u1", Until: base.Add(time.Hour), Limit: 1}, all[3:]},
		{"limit above count", cache.AuditQuery{Limit: 10}, all},
	}
	for _, tt := range tests {
		wantAudit(t, tt.name, mustAudit(t, s, tt.q), tt.want)
	}
}

// testAuditOrder: entries come back by time whatever order they were
// appended in; equal times keep the order appended. A zero Time is set
// to now.
func testAuditOrder(t *testing.T, s cache.Store) {
	late, early := auditAt(2*time.Minute, "a", "", "create"), auditAt(time.Minute, "b", "", "create")
	same1, same2 := auditAt(3*time.Minute, "c", "", "create"), auditAt(3*time.Minute, "d", "", "create")
	for _, e := range []cache.AuditEntry{late, early, same1, same2} {
		if err := s.AppendAudit(ctx(t), e); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}
	want := []cache.AuditEntry{early, late, same1, same2}
	wantAudit(t, "out of order", mustAudit(t, s, cache.AuditQuery{}), want)
	wantAudit(t, "out of order, window", mustAudit(t, s, cache.AuditQuery{Since: base.Add(time.Minute), Until: base.Add(2 * time.Minute)}), want[:2])

	before := time.Now()
	if err := s.AppendAudit(ctx(t), cache.AuditEntry{Operation: "delete", Kind: cache.KindGroup, ID: "g", Outcome: cache.AuditOK}); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	got := mustAudit(t, s, cache.AuditQuery{Subject: "g"})
	if len(got) != 1 || got[0].Time.Before(before.Add(-time.Second)) || got[0].Time.After(time.Now().Add(time.Second)) {
		t.Errorf("entry appended with a zero Time = %+v, want one at now (%v)", got, before)
	}
}

// testAuditRetention: an append removes the entries older than its newest
// Time minus the retention (the default, 90 days), and only those.
func testAuditRetention(t *testing.T, s cache.Store) {
	old := auditAt(0, "old", "", "create")
	kept := auditAt(time.Hour, "kept", "", "create")
	if err := s.AppendAudit(ctx(t), old, kept); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	wantAudit(t, "before the prune", mustAudit(t, s, cache.AuditQuery{}), []cache.AuditEntry{old, kept})
	now := auditAt(cache.DefaultAuditRetention+time.Minute, "new", "", "delete")
	if err := s.AppendAudit(ctx(t), now); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	wantAudit(t, "after the prune", mustAudit(t, s, cache.AuditQuery{}), []cache.AuditEntry{kept, now})
	wantAudit(t, "pruned, by subject", mustAudit(t, s, cache.AuditQuery{Subject: "old"}), nil)
}

// testParallelAudit: concurrent appends lose nothing.
func testParallelAudit(t *testing.T, s cache.Store) {
	const workers, each = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				e := auditAt(time.Duration(i)*time.Millisecond, fmt.Sprintf("w%d-%d", w, i), "", "patch")
				if err := s.AppendAudit(ctx(t), e); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("AppendAudit: %v", err)
	}
	got := mustAudit(t, s, cache.AuditQuery{})
	if len(got) != workers*each {
		t.Fatalf("AuditLog holds %d entries, want %d", len(got), workers*each)
	}
	seen := map[string]bool{}
	for i, e := range got {
		seen[e.ID] = true
		if i > 0 && e.Time.Before(got[i-1].Time) {
			t.Errorf("entry %d (%v) is older than entry %d (%v)", i, e.Time, i-1, got[i-1].Time)
		}
	}
	if len(seen) != workers*each {
		t.Errorf("AuditLog holds %d distinct entries, want %d", len(seen), workers*each)
	}
}

// AuditRetention checks a store configured to keep audit entries for
// retention: an append removes what is older than its Time minus
// retention, and keeps the rest. Backends call it with their own
// configuration (Run's stores keep the default).
func AuditRetention(t *testing.T, s cache.Store, retention time.Duration) {
	t.Helper()
	old := auditAt(0, "old", "", "create")
	edge := auditAt(time.Minute, "edge", "", "create")
	if err := s.AppendAudit(ctx(t), old, edge); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	now := auditAt(retention+time.Minute, "new", "", "delete")
	if err := s.AppendAudit(ctx(t), now); err != nil {
		t.Fatalf("AppendAudit: %v", err)
	}
	wantAudit(t, "after the prune", mustAudit(t, s, cache.AuditQuery{}), []cache.AuditEntry{edge, now})
}
