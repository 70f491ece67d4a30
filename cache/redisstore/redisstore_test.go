package redisstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/cache/cachetest"
	"github.com/scim-bridge/scim-bridge/cache/redisstore"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
)

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// newStore returns a store on url under prefix with its own client, and
// deletes the prefix's keys when t ends (never anything else: the Redis may
// be shared).
func newStore(t testing.TB, url, prefix string) *redisstore.Store {
	t.Helper()
	s, err := redisstore.New(redisstore.Config{URL: url, Prefix: prefix}, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { deletePrefix(t, url, prefix) })
	return s
}

func deletePrefix(t testing.TB, url, prefix string) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Errorf("parse URL: %v", err)
		return
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx := context.Background() // t.Context is already done during cleanup
	iter := c.Scan(ctx, 0, "{"+prefix+"}:*", 1000).Iterator()
	for iter.Next(ctx) {
		if err := c.Del(ctx, iter.Val()).Err(); err != nil {
			t.Errorf("delete %s: %v", iter.Val(), err)
			return
		}
	}
	if err := iter.Err(); err != nil {
		t.Errorf("scan %s: %v", prefix, err)
	}
}

func TestConformance(t *testing.T) {
	url := redistest.URL(t)
	cachetest.Run(t, func(t *testing.T) cache.Store {
		return newStore(t, url, redistest.Prefix(t))
	})
}

// TestTwoReplicas runs parallel Updates of one record through two stores
// with separate clients, as two bridge replicas would.
func TestTwoReplicas(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	a, b := newStore(t, url, prefix), newStore(t, url, prefix)
	defer a.Close()
	defer b.Close()
	ctx := t.Context()
	if _, err := a.Create(ctx, cache.Record{Kind: cache.KindGroup, ID: "g1", Name: "Admins"}); err != nil {
		t.Fatal(err)
	}
	const perReplica = 25
	var wg sync.WaitGroup
	errs := make(chan error, 2*perReplica)
	for r, s := range []*redisstore.Store{a, b} {
		for i := range perReplica {
			member := fmt.Sprintf("r%d-u%02d", r, i)
			wg.Go(func() {
				_, err := s.Update(ctx, cache.KindGroup, "g1", func(rec cache.Record) (cache.Record, error) {
					rec.Members = append(append([]string(nil), rec.Members...), member)
					return rec, nil
				})
				if err != nil {
					errs <- err
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Update: %v", err)
	}
	got, err := b.Get(ctx, cache.KindGroup, "g1")
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Members) != 2*perReplica || got.Version != 2*perReplica+1 {
		t.Errorf("got %d members, Version %d; want %d and %d", len(got.Members), got.Version, 2*perReplica, 2*perReplica+1)
	}
	for _, m := range got.Members {
		groups, err := a.GroupsOf(ctx, m)
		if err != nil || len(groups) != 1 || groups[0] != "g1" {
			t.Errorf("GroupsOf(%s) = %q, %v; want [g1]", m, groups, err)
		}
	}
}

// TestPrefixIsolation checks that stores under different prefixes on one
// Redis share nothing: ids, names, order, sequence or membership.
func TestPrefixIsolation(t *testing.T) {
	url := redistest.URL(t)
	a, b := newStore(t, url, redistest.Prefix(t)), newStore(t, url, redistest.Prefix(t))
	defer a.Close()
	defer b.Close()
	ctx := t.Context()
	rec := cache.Record{Kind: cache.KindUser, ID: "u1", Name: "ada", ExternalID: "e1"}
	if _, err := a.Create(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Create(ctx, cache.Record{Kind: cache.KindGroup, ID: "g1", Name: "G", Members: []string{"u1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Get(ctx, cache.KindUser, "u1"); err == nil {
		t.Error("b sees a's record")
	}
	if _, err := b.Lookup(ctx, cache.KindUser, cache.IndexName, "ada"); err == nil {
		t.Error("b sees a's name index")
	}
	if g, err := b.GroupsOf(ctx, "u1"); err != nil || len(g) != 0 {
		t.Errorf("b.GroupsOf = %q, %v; want none", g, err)
	}
	if p, err := b.List(ctx, cache.KindUser, 0, 10); err != nil || p.Total != 0 {
		t.Errorf("b.List = %+v, %v; want empty", p, err)
	}
	// The same id, name and externalId are free under b's prefix.
	if _, err := b.Create(ctx, rec); err != nil {
		t.Errorf("b.Create: %v", err)
	}
	if err := b.Delete(ctx, cache.KindUser, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Get(ctx, cache.KindUser, "u1"); err != nil {
		t.Errorf("a lost its record to b's Delete: %v", err)
	}
}

func TestKeysShareHashTag(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	s := newStore(t, url, prefix)
	defer s.Close()
	ctx := t.Context()
	if _, err := s.Create(ctx, cache.Record{Kind: cache.KindGroup, ID: "g1", Name: "G", ExternalID: "x", Members: []string{"u1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.QueueMembers(ctx, "g1", []string{"u2"}, nil, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	if err := s.AddFailure(ctx, cache.Failure{Group: "g1", User: "u3", Reason: "gone"}); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendAudit(ctx, cache.AuditEntry{Operation: "create", Kind: cache.KindGroup, ID: "g1", Outcome: cache.AuditOK}); err != nil {
		t.Fatal(err)
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	keys, err := c.Keys(ctx, "*"+prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	// rec, members, name, ext, order, seq, ug × 2, pending, pq:g, pq:u, failures, audit
	if len(keys) != 13 {
		t.Errorf("keys = %q, want 13", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "{"+prefix+"}:") {
			t.Errorf("key %q lacks the hash tag {%s}", k, prefix)
		}
	}
}

func TestNew(t *testing.T) {
	tests := []struct {
		name    string
		cfg     redisstore.Config
		wantErr string
	}{
		{name: "no URL or client", cfg: redisstore.Config{}, wantErr: "URL or Client is required"},
		{name: "bad scheme", cfg: redisstore.Config{URL: "http://localhost:6379"}, wantErr: "invalid URL"},
		{name: "brace in prefix", cfg: redisstore.Config{URL: "redis://localhost:6379", Prefix: "a{b}"}, wantErr: "must not contain"},
		{name: "bad URL hides password", cfg: redisstore.Config{URL: "redis://user:hunter2@local host:6379/%zz"}, wantErr: "invalid URL"},
		{name: "ok", cfg: redisstore.Config{URL: "rediss://user:pw@localhost:6380/2"}},
		{name: "sentinel", cfg: redisstore.Config{URL: "redis://:hunter2@s1:26379/0?master_name=mymaster&addr=s2:26379&password=pw"}},
		{name: "sentinel empty master", cfg: redisstore.Config{URL: "redis://:hunter2@s1:26379?master_name="}, wantErr: "master_name is empty"},
		{name: "sentinel unknown option", cfg: redisstore.Config{URL: "redis://:hunter2@s1:26379?master_name=m&bogus=1"}, wantErr: "unexpected option"},
		{name: "min_replicas", cfg: redisstore.Config{URL: "redis://:hunter2@s1:26379/0?master_name=m&min_replicas=2"}},
		{name: "min_replicas plain", cfg: redisstore.Config{URL: "redis://localhost:6379/0?min_replicas=1"}},
		{name: "min_replicas not a count", cfg: redisstore.Config{URL: "redis://:hunter2@localhost:6379/0?min_replicas=-1"}, wantErr: "not a count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := redisstore.New(tt.cfg, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New: err = %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error leaks the password: %v", err)
			}
		})
	}
}

func TestClientNotClosed(t *testing.T) {
	url := redistest.URL(t)
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	s, err := redisstore.New(redisstore.Config{Client: c, Prefix: redistest.Prefix(t)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(t.Context()).Err(); err != nil {
		t.Errorf("caller's client closed by Store.Close: %v", err)
	}
}

func TestPingDown(t *testing.T) {
	// Nothing listens on port 1; no retries, so the failure is quick.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer c.Close()
	s, err := redisstore.New(redisstore.Config{Client: c}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping of a down Redis succeeded")
	}
}

// TestMinReplicas: with min_replicas every write waits for the replicas; a
// write they do not confirm is unavailable (it could vanish in a
// failover), and with a live replica every write goes through, the store's
// conformance suite included.
func TestMinReplicas(t *testing.T) {
	master := redistest.Start(t)
	client := func(addr string) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { c.Close() })
		return c
	}
	t.Run("no replica", func(t *testing.T) {
		s, err := redisstore.New(redisstore.Config{URL: master.URL() + "?min_replicas=1", Prefix: "alone", ReplicaTimeout: 100 * time.Millisecond}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		start := time.Now()
		_, err = s.Create(t.Context(), cache.Record{Kind: cache.KindUser, ID: "u1", Name: "ada"})
		if !errors.Is(err, cache.ErrUnavailable) {
			t.Fatalf("Create without a replica: %v, want cache.ErrUnavailable", err)
		}
		// The unconfirmed record is taken back: a retry must not find it.
		if _, err := s.Get(t.Context(), cache.KindUser, "u1"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Get after an unconfirmed create: %v, want cache.ErrNotFound", err)
		}
		if _, err := s.Lookup(t.Context(), cache.KindUser, cache.IndexName, "ada"); !errors.Is(err, cache.ErrNotFound) {
			t.Fatalf("Lookup after an unconfirmed create: %v, want cache.ErrNotFound", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("the failed write took %v", d)
		}
		// A create that found the id taken wrote nothing: what is there stays.
		plain, err := redisstore.New(redisstore.Config{URL: master.URL(), Prefix: "alone"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer plain.Close()
		if _, err := plain.Create(t.Context(), cache.Record{Kind: cache.KindUser, ID: "u2", Name: "bob"}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Create(t.Context(), cache.Record{Kind: cache.KindUser, ID: "u2", Name: "bob"}); err == nil {
			t.Fatal("a second create of u2 succeeded")
		}
		if _, err := s.Get(t.Context(), cache.KindUser, "u2"); err != nil {
			t.Fatalf("the existing record was taken away by a refused create: %v", err)
		}
		// The NOSCRIPT path: a flushed script cache is loaded again.
		if err := client(master.Addr()).ScriptFlush(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.AddDoubt(t.Context(), cache.Doubt{Kind: cache.KindUser, ID: "u1", Since: time.Now(), Due: time.Now()}); !errors.Is(err, cache.ErrUnavailable) {
			t.Fatalf("AddDoubt without a replica after SCRIPT FLUSH: %v", err)
		}
	})
	host, port, _ := strings.Cut(master.Addr(), ":")
	replica := client(redistest.Start(t, "--replicaof", host, port).Addr())
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(replica.Info(t.Context(), "replication").Val(), "master_link_status:up") {
		if time.Now().After(deadline) {
			t.Fatal("the replica never synced")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Run("with a replica", func(t *testing.T) {
		cachetest.Run(t, func(t *testing.T) cache.Store {
			s, err := redisstore.New(redisstore.Config{URL: master.URL() + "?min_replicas=1", Prefix: "rep:" + t.Name()}, nil)
			if err != nil {
				t.Fatal(err)
			}
			return s
		})
	})
}

// TestAuditRetention: Config.AuditRetention sets how far back an append
// trims the audit stream.
func TestAuditRetention(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	s, err := redisstore.New(redisstore.Config{URL: url, Prefix: prefix, AuditRetention: time.Hour}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { deletePrefix(t, url, prefix) })
	defer s.Close()
	cachetest.AuditRetention(t, s, time.Hour)
}

// TestLegacyExternalIDs: keys written before externalId could be shared
// (one string key per value naming one record) are read by Find as they
// are, with no migration step; a record sharing that value joins it, and
// a write of the legacy record moves it into the shared index and drops
// its legacy key.
func TestLegacyExternalIDs(t *testing.T) {
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	s := newStore(t, url, prefix)
	defer s.Close()
	ctx := t.Context()
	opts, _ := redis.ParseURL(url)
	admin := redis.NewClient(opts)
	defer admin.Close()
	p := "{" + prefix + "}:"
	for _, r := range []cache.Record{
		{Kind: cache.KindUser, ID: "u1", Name: "ada", ExternalID: "e1"},
		{Kind: cache.KindGroup, ID: "g1", Name: "G", ExternalID: "e1"},
	} {
		if _, err := s.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		// Rewrite its index entry as an older version kept it.
		if err := admin.Del(ctx, p+"extids:"+string(r.Kind)+":e1").Err(); err != nil {
			t.Fatal(err)
		}
		if err := admin.Set(ctx, p+"ext:"+string(r.Kind)+":e1", r.ID, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	find := func(kind cache.Kind, ext string, want ...string) {
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
	find(cache.KindUser, "e1", "u1")
	find(cache.KindGroup, "e1", "g1")
	if _, err := s.Create(ctx, cache.Record{Kind: cache.KindUser, ID: "u2", Name: "grace", ExternalID: "e1"}); err != nil {
		t.Fatalf("Create sharing a legacy externalId: %v", err)
	}
	find(cache.KindUser, "e1", "u1", "u2")
	// Any write of the legacy record files it in the shared index.
	if _, err := s.Update(ctx, cache.KindUser, "u1", func(r cache.Record) (cache.Record, error) { return r, nil }); err != nil {
		t.Fatal(err)
	}
	if n, err := admin.Exists(ctx, p+"ext:user:e1").Result(); err != nil || n != 0 {
		t.Errorf("legacy key after the update: exists %d, %v", n, err)
	}
	find(cache.KindUser, "e1", "u1", "u2")
	// A stale legacy key (its record now elsewhere) matches nothing.
	if err := admin.Set(ctx, p+"ext:user:e7", "u2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	find(cache.KindUser, "e7")
	// Deleting the legacy group drops its key.
	if err := s.Delete(ctx, cache.KindGroup, "g1"); err != nil {
		t.Fatal(err)
	}
	if n, err := admin.Exists(ctx, p+"ext:group:e1").Result(); err != nil || n != 0 {
		t.Errorf("legacy key after the delete: exists %d, %v", n, err)
	}
	find(cache.KindGroup, "e1")
}
