package scim_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/cache/redisstore"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scim"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// lookupBenchUsers is the store size issue 4 sets for the lookup target.
const lookupBenchUsers = 100_000

// BenchmarkFilterLookupRedis measures GET /Users?filter=userName eq "…"
// through the whole SCIM handler (auth, routing, filter compilation, store
// lookup, rendering) against Redis holding 100,000 users, seeded directly
// with records shaped like the bridge's. serial is one request at a time;
// parallel runs 16 requesters per CPU, so its ns/op is the inverse of the
// handler's throughput on this machine (without HTTP transport costs).
func BenchmarkFilterLookupRedis(b *testing.B) {
	u, prefix := redistest.URL(b), redistest.Prefix(b)
	store, err := redisstore.New(redisstore.Config{URL: u, Prefix: prefix}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if os.Getenv(redistest.EnvURL) != "" {
			purgeUsers(b, store) // a Redis we did not start: leave nothing behind
		}
		store.Close()
	})
	seedUsers(b, store, lookupBenchUsers)

	te := envtest.New(b, envtest.Config{Emulator: emulator.Config{DisableRateLimits: true}, Store: envtest.NoStore, Quiet: true})
	log := te.Logger
	prov, err := mapping.New(mapping.Config{AdoptExisting: true}, te.Client, store, log)
	if err != nil {
		b.Fatal(err)
	}
	srv, err := scim.New(scim.Config{StaticTokens: []scim.StaticToken{scim.NewStaticToken("token-1", testToken)}}, []mapping.Resource{prov.Users(), prov.Groups()}, log)
	if err != nil {
		b.Fatal(err)
	}
	target := func(i int) string {
		return scim.BasePath + "/Users?filter=" + url.QueryEscape(fmt.Sprintf(`userName eq "%s"`, benchUserName(i)))
	}
	lookup := func(i int) (int, string) {
		req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, target(i), nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		srv.ServeHTTP(w, req)
		return w.Code, w.Body.String()
	}
	if code, body := lookup(lookupBenchUsers / 2); code != http.StatusOK || !strings.Contains(body, `"totalResults":1`) {
		b.Fatalf("lookup: %d %s", code, short(body))
	}

	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if code, _ := lookup(i * 7919 % lookupBenchUsers); code != http.StatusOK {
				b.Fatalf("status %d", code)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		var n atomic.Int64
		b.SetParallelism(16)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if code, body := lookup(int(n.Add(1) * 7919 % lookupBenchUsers)); code != http.StatusOK {
					b.Errorf("status %d %s", code, short(body))
					return
				}
			}
		})
	})
}

func benchUserName(i int) string { return fmt.Sprintf("user%06d@corp.example", i) }

// seedUsers stores n users the way mapping.CreateUser leaves them after an
// Entra create: the resource without id, meta and schemas.
func seedUsers(b *testing.B, store cache.Store, n int) {
	b.Helper()
	now := time.Now().UTC()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				res, _ := json.Marshal(map[string]any{
					"externalId": fmt.Sprintf("user%06d", i), "userName": benchUserName(i), "active": true,
					"displayName": fmt.Sprintf("User %06d", i),
					"emails":      []any{map[string]any{"primary": true, "type": "work", "value": benchUserName(i)}},
					"name":        map[string]any{"formatted": fmt.Sprintf("User %06d", i), "familyName": fmt.Sprintf("%06d", i), "givenName": "User"},
					enterpriseURN: map[string]any{"employeeNumber": fmt.Sprint(100000 + i), "department": "R&D"},
				})
				_, err := store.Create(b.Context(), cache.Record{
					Kind: cache.KindUser, ID: fmt.Sprintf("%08x-0000-4000-8000-000000000000", i),
					Name: benchUserName(i), ExternalID: fmt.Sprintf("user%06d", i), Resource: res, Created: now, Modified: now,
				})
				if err != nil {
					errs <- fmt.Errorf("seed user %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

func purgeUsers(b *testing.B, store cache.Store) {
	for {
		page, err := store.List(b.Context(), cache.KindUser, 0, 1000)
		if err != nil || len(page.Records) == 0 {
			return
		}
		for _, rec := range page.Records {
			if err := store.Delete(b.Context(), cache.KindUser, rec.ID); err != nil && !errors.Is(err, cache.ErrNotFound) {
				b.Logf("purge: %v", err)
				return
			}
		}
	}
}
