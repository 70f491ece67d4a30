package mapping_test

import (
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/cache/boltstore"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/mapping"
)

// TestAuditHelper: audit fills the time, request id and IdP from the
// context, keeps what the caller set (reconciliation's pass and drift),
// and a store that cannot record the entry is logged and counted, never
// returned.
func TestAuditHelper(t *testing.T) {
	store, err := boltstore.New(boltstore.Config{Path: filepath.Join(t.TempDir(), "store.db")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var logs envtest.LogBuffer
	var lost atomic.Int64
	now := time.Date(2026, 3, 2, 17, 5, 9, 0, time.UTC)
	prov, err := mapping.New(mapping.Config{Now: func() time.Time { return now }, OnAuditFailure: func(n int) { lost.Add(int64(n)) }},
		nil, store, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := mapping.WithActor(t.Context(), mapping.Actor{RequestID: "req-1", IdP: "entra"})
	prov.Audit(ctx, cache.AuditEntry{Operation: "deactivate", Kind: cache.KindUser, ID: "u1", Outcome: cache.AuditOK})
	prov.Audit(ctx, cache.AuditEntry{IdP: "reconcile", Operation: "reconcile", Kind: cache.KindUser, ID: "u1", Outcome: cache.AuditOK, PassID: "p1", Drift: "active"})
	got, err := store.AuditLog(t.Context(), cache.AuditQuery{Subject: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got[0].Time.Equal(now) || got[0].RequestID != "req-1" || got[0].IdP != "entra" ||
		got[1].IdP != "reconcile" || got[1].RequestID != "req-1" || got[1].PassID != "p1" || got[1].Drift != "active" {
		t.Fatalf("audit log = %+v", got)
	}

	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	prov.Audit(ctx, cache.AuditEntry{Operation: "delete", Kind: cache.KindUser, ID: "u2", Outcome: cache.AuditOK})
	if lost.Load() != 1 {
		t.Errorf("OnAuditFailure counted %d entries, want 1", lost.Load())
	}
	if out := logs.String(); !strings.Contains(out, "audit entries not recorded") || !strings.Contains(out, "u2") {
		t.Errorf("log does not record the lost entry:\n%s", out)
	}
}
