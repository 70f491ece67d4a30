package boltstore_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/cache/boltstore"
	"github.com/scim-bridge/scim-bridge/cache/cachetest"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestConformance(t *testing.T) {
	cachetest.Run(t, func(t *testing.T) cache.Store {
		s, err := boltstore.New(boltstore.Config{Path: filepath.Join(t.TempDir(), "store.db")}, testLogger(t))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return s
	})
}

func TestNewRequiresPath(t *testing.T) {
	if _, err := boltstore.New(boltstore.Config{}, nil); err == nil {
		t.Fatal("New with an empty Path succeeded")
	}
}

func TestFileModeAndDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nested", "dir", "store.db")
	s, err := boltstore.New(boltstore.Config{Path: path}, nil) // nil logger: discard
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer s.Close()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("file mode = %o, want 600", mode)
	}
}

// TestLocked checks that a second opener of the file (another process; the
// lock is per open file, so a second open in this process stands in for
// it) gets a clear error instead of hanging.
func TestLocked(t *testing.T) {
	cfg := boltstore.Config{Path: filepath.Join(t.TempDir(), "store.db")}
	s, err := boltstore.New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer s.Close()
	s2, err := boltstore.NewWithTimeout(cfg, testLogger(t), 50*time.Millisecond)
	if err == nil {
		s2.Close()
		t.Fatal("second open of a locked file succeeded")
	}
	if !strings.Contains(err.Error(), "locked by another process") || !errors.Is(err, boltstore.ErrLocked) {
		t.Errorf("err = %q, want it to say the file is locked, wrapping ErrLocked", err)
	}
	ro, err := boltstore.New(boltstore.Config{Path: cfg.Path, ReadOnly: true, OpenTimeout: 50 * time.Millisecond}, testLogger(t))
	if err == nil {
		ro.Close()
		t.Fatal("read-only open of a file open for writing succeeded")
	}
	if !errors.Is(err, boltstore.ErrLocked) {
		t.Errorf("read-only open: err = %q, want ErrLocked", err)
	}
}

// TestReadOnly: a read-only open creates nothing, reads what a writer left
// (the queue included) beside another reader, refuses writes, and keeps a
// writer out until it closes.
func TestReadOnly(t *testing.T) {
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "store.db")
	roCfg := boltstore.Config{Path: path, ReadOnly: true, OpenTimeout: 50 * time.Millisecond}
	if _, err := boltstore.New(roCfg, testLogger(t)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read-only open of a missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("read-only open created %s: %v", dir, err)
	}

	w, err := boltstore.New(boltstore.Config{Path: path}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Create(ctx, cache.Record{Kind: cache.KindUser, ID: "u", Name: "u"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Create(ctx, cache.Record{Kind: cache.KindGroup, ID: "g", Name: "G"}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if _, err := w.QueueMembers(ctx, "g", []string{"u"}, nil, now, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.AddFailure(ctx, cache.Failure{Group: "g", User: "u", Add: true, Reason: "refused", At: now}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	r1, err := boltstore.New(roCfg, testLogger(t))
	if err != nil {
		t.Fatalf("read-only open: %v", err)
	}
	defer r1.Close()
	r2, err := boltstore.New(roCfg, testLogger(t))
	if err != nil {
		t.Fatalf("second reader: %v", err)
	}
	defer r2.Close()
	pend, err := r2.PendingChanges(ctx)
	if err != nil || len(pend) != 1 || pend[0].Group != "g" || pend[0].User != "u" || !pend[0].Add {
		t.Errorf("pending read back: %+v, %v", pend, err)
	}
	if f, err := r1.Failures(ctx, 10); err != nil || len(f) != 1 || f[0].Reason != "refused" {
		t.Errorf("failures read back: %+v, %v", f, err)
	}
	if _, err := r1.Create(ctx, cache.Record{Kind: cache.KindUser, ID: "v", Name: "v"}); err == nil {
		t.Error("a read-only store took a write")
	}
	if w, err := boltstore.NewWithTimeout(boltstore.Config{Path: path}, testLogger(t), 50*time.Millisecond); !errors.Is(err, boltstore.ErrLocked) {
		if err == nil {
			w.Close()
		}
		t.Errorf("writer beside a reader: %v, want ErrLocked", err)
	}
}

// TestReopen checks that records, indexes, membership and creation order
// survive a restart, and that the sequence keeps growing after it.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	cfg := boltstore.Config{Path: filepath.Join(t.TempDir(), "store.db")}
	s, err := boltstore.New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	for _, id := range []string{"b", "a"} {
		if _, err := s.Create(ctx, cache.Record{Kind: cache.KindUser, ID: id, Name: "n-" + id}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(ctx, cache.Record{Kind: cache.KindGroup, ID: "g", Name: "G", Members: []string{"a"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = boltstore.New(cfg, testLogger(t))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	if _, err := s.Create(ctx, cache.Record{Kind: cache.KindUser, ID: "0", Name: "n-0"}); err != nil {
		t.Fatal(err)
	}
	p, err := s.List(ctx, cache.KindUser, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range p.Records {
		got = append(got, r.ID)
	}
	if want := []string{"b", "a", "0"}; !slices.Equal(got, want) || p.Total != 3 {
		t.Errorf("List after reopen = %q total %d, want %q total 3", got, p.Total, want)
	}
	if r, err := s.Lookup(ctx, cache.KindUser, cache.IndexName, "N-A"); err != nil || r.ID != "a" {
		t.Errorf("Lookup after reopen = %q, %v", r.ID, err)
	}
	if g, err := s.GroupsOf(ctx, "a"); err != nil || !slices.Equal(g, []string{"g"}) {
		t.Errorf("GroupsOf after reopen = %q, %v", g, err)
	}
}

func TestPingClosed(t *testing.T) {
	s, err := boltstore.New(boltstore.Config{Path: filepath.Join(t.TempDir(), "store.db")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping on a closed store succeeded")
	}
}

func BenchmarkLookup(b *testing.B) {
	const users = 10_000
	s, err := boltstore.NewNoSync(boltstore.Config{Path: filepath.Join(b.TempDir(), "store.db")}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := b.Context()
	for i := range users {
		rec := cache.Record{
			Kind:     cache.KindUser,
			ID:       fmt.Sprintf("%08d-0000-4000-8000-000000000000", i),
			Name:     fmt.Sprintf("User%d@Example.com", i),
			Resource: json.RawMessage(`{"userName":"x","name":{"givenName":"Ada","familyName":"Lovelace"},"active":true}`),
		}
		if _, err := s.Create(ctx, rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		name := fmt.Sprintf("user%d@example.com", i%users)
		if _, err := s.Lookup(ctx, cache.KindUser, cache.IndexName, name); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// TestAuditRetention: Config.AuditRetention sets how far back an append
// prunes the audit bucket.
func TestAuditRetention(t *testing.T) {
	s, err := boltstore.New(boltstore.Config{Path: filepath.Join(t.TempDir(), "store.db"), AuditRetention: time.Hour}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cachetest.AuditRetention(t, s, time.Hour)
}

// TestAuditReadOnlyOldFile: a file no version with the audit log wrote
// opens read-only, and its audit log is empty.
func TestAuditReadOnlyOldFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "store.db")
	s, err := boltstore.New(boltstore.Config{Path: path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	ro, err := boltstore.New(boltstore.Config{Path: path, ReadOnly: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	got, err := ro.AuditLog(t.Context(), cache.AuditQuery{})
	if err != nil || len(got) != 0 {
		t.Fatalf("AuditLog = %v, %v; want none", got, err)
	}
	if err := ro.AppendAudit(t.Context(), cache.AuditEntry{ID: "x"}); err == nil {
		t.Error("AppendAudit on a read-only store succeeded")
	}
}

// benchEntry is a typical audit entry: a deactivation with its two calls.
func benchEntry(i int) cache.AuditEntry {
	now := time.Now().UTC()
	return cache.AuditEntry{Time: now, RequestID: "5c1f0e2a00000001", IdP: "entra", Operation: "deactivate", Kind: cache.KindUser,
		ID: fmt.Sprintf("%08d-0000-4000-8000-000000000000", i), Name: fmt.Sprintf("user%d@example.com", i), Outcome: cache.AuditOK,
		Calls: []cache.AuditCall{{At: now, Op: "update user", Method: "PUT", Status: 200}, {At: now, Op: "get user", Method: "GET", Status: 200}}}
}

// BenchmarkAppendAudit measures one audit append on a file that syncs
// every commit (as serve runs it), alone and from 16 requesters per CPU
// (appends share a transaction and an fsync).
func BenchmarkAppendAudit(b *testing.B) {
	for _, par := range []int{0, 16} {
		b.Run(fmt.Sprintf("parallel=%d", par), func(b *testing.B) {
			s, err := boltstore.New(boltstore.Config{Path: filepath.Join(b.TempDir(), "store.db")}, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := b.Context()
			b.ReportAllocs()
			if par == 0 {
				i := 0
				for b.Loop() {
					if err := s.AppendAudit(ctx, benchEntry(i)); err != nil {
						b.Fatal(err)
					}
					i++
				}
				return
			}
			b.SetParallelism(par)
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					if err := s.AppendAudit(ctx, benchEntry(i)); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// TestLegacyExternalIDs: a file written before externalId could be shared
// (one index entry per value) reads correctly read-only, is migrated by
// the first read-write open, and a second open finds nothing to do; the
// records it held are found by externalId, shared ones included once they
// are written again.
func TestLegacyExternalIDs(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "store.db")
	cfg := boltstore.Config{Path: path}
	s, err := boltstore.New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []cache.Record{
		{Kind: cache.KindUser, ID: "u1", Name: "ada", ExternalID: "e1"},
		{Kind: cache.KindUser, ID: "u2", Name: "grace", ExternalID: "e2"},
		{Kind: cache.KindGroup, ID: "g1", Name: "G", ExternalID: "e1"},
	} {
		if _, err := s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := boltstore.WriteLegacyExternalIDs(path); err != nil {
		t.Fatal(err)
	}

	find := func(s *boltstore.Store, kind cache.Kind, ext string, want ...string) {
		t.Helper()
		recs, err := s.Find(ctx, kind, cache.IndexExternalID, ext)
		var got []string
		for _, r := range recs {
			got = append(got, r.ID)
		}
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("Find(%s %s) = %q, %v; want %q", kind, ext, got, err, want)
		}
	}
	ro, err := boltstore.New(boltstore.Config{Path: path, ReadOnly: true}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	find(ro, cache.KindUser, "e1", "u1")
	find(ro, cache.KindGroup, "e1", "g1")
	if err := ro.Close(); err != nil {
		t.Fatal(err)
	}
	if legacy, err := boltstore.HasLegacyExternalIDs(path); err != nil || !legacy {
		t.Fatalf("legacy layout before migration = %v, %v; want true", legacy, err)
	}

	for range 2 { // the second open finds a migrated file
		s, err = boltstore.New(cfg, testLogger(t))
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		find(s, cache.KindUser, "e1", "u1")
		find(s, cache.KindUser, "e2", "u2")
		find(s, cache.KindGroup, "e1", "g1")
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if legacy, err := boltstore.HasLegacyExternalIDs(path); err != nil || legacy {
			t.Fatalf("legacy layout after open = %v, %v; want false", legacy, err)
		}
	}
	s, err = boltstore.New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Create(ctx, cache.Record{Kind: cache.KindUser, ID: "u3", Name: "linus", ExternalID: "e1"}); err != nil {
		t.Fatalf("Create sharing a migrated externalId: %v", err)
	}
	find(s, cache.KindUser, "e1", "u1", "u3")
	if _, err := s.Update(ctx, cache.KindUser, "u1", func(r cache.Record) (cache.Record, error) {
		r.ExternalID = "e9"
		return r, nil
	}); err != nil {
		t.Fatal(err)
	}
	find(s, cache.KindUser, "e1", "u3")
	find(s, cache.KindUser, "e9", "u1")
}
