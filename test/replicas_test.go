package test

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/cache/redisstore"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scim"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// newReplicas starts n bridges that share one Redis (same prefix) and one
// UiPath, as n `scim-bridge serve` processes would; each has its own
// client, store connection, provisioner and HTTP server.
func newReplicas(t *testing.T, n int, strategy string) []*env {
	t.Helper()
	url, prefix := redistest.URL(t), redistest.Prefix(t)
	te := envtest.New(t, envtest.Config{
		// A little latency widens the window in which unserialised changes interleave.
		Emulator: emulator.Config{DisableRateLimits: true, Latency: 3 * time.Millisecond},
		Store:    envtest.NoStore, // each replica opens its own connection below
		Quiet:    true,
	})
	emu := te.Emulator
	clientCfg := te.ClientConfig
	clientCfg.Sleep = nil // back off between retries as serve does
	var out []*env
	for range n {
		client, err := upstream.New(clientCfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		store, err := redisstore.New(redisstore.Config{URL: url, Prefix: prefix}, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { store.Close() })
		prov, err := mapping.New(mapping.Config{Strategy: strategy, AdoptExisting: true}, client, store, nil)
		if err != nil {
			t.Fatal(err)
		}
		token := "replica-token-0123456789"
		h, err := scim.New(scim.Config{Tokens: []string{token}}, []mapping.Resource{prov.Users(), prov.Groups()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		out = append(out, &env{t: t, emu: emu, store: store, url: srv.URL + scim.BasePath, token: token,
			client: srv.Client(), logs: &envtest.LogBuffer{}})
	}
	return out
}

// TestReplicasConcurrentChanges hammers the same group and users through two
// bridges on one Redis; no update may be lost and no account duplicated.
func TestReplicasConcurrentChanges(t *testing.T) {
	for _, strategy := range []string{"user", "auto"} {
		t.Run(strategy, func(t *testing.T) {
			rs := newReplicas(t, 2, strategy)
			a := rs[0]
			const n = 16
			users := make([]string, n)
			for i := range n {
				users[i] = str(rs[i%2].must(201, "POST", "/Users", newUserBody(fmt.Sprintf("r%02d@corp.example", i))).body, "id")
			}
			gid := str(a.must(201, "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Hammered"}).body, "id")

			// Every user joins by its own PATCH, through alternating replicas, all at once.
			parallel(n, func(i int) {
				rs[i%2].must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": users[i]}}}))
			})
			a.checkMembers(gid, users...)

			// Half leave while the group is renamed and the others' profiles change.
			parallel(n, func(i int) {
				r := rs[i%2]
				if i < n/2 {
					r.must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "remove", "path": `members[value eq "` + users[i] + `"]`}))
				} else {
					r.must(200, "PATCH", "/Users/"+users[i], patchBody(map[string]any{"op": "replace", "path": "displayName", "value": fmt.Sprintf("Renamed %d", i)}))
				}
				if i == 0 {
					r.must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "Hammered EMEA"}))
				}
			})
			a.checkMembers(gid, users[n/2:]...)
			if g, _ := a.emu.Group(gid); g.Name != "Hammered EMEA" {
				t.Errorf("group name %q", g.Name)
			}
			for i := n / 2; i < n; i++ {
				if got := deref(a.upstreamUser(users[i]).DisplayName); got != fmt.Sprintf("Renamed %d", i) {
					t.Errorf("user %d displayName %q", i, got)
				}
			}

			// The same member added and removed, and the same user renamed, from
			// both replicas at once: whatever order wins, UiPath and the store
			// must agree afterwards.
			x := users[n-1]
			parallel(24, func(i int) {
				r := rs[i%2]
				switch i % 3 {
				case 0:
					r.must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": x}}}))
				case 1:
					r.must(204, "PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "remove", "path": `members[value eq "` + x + `"]`}))
				default:
					r.must(200, "PATCH", "/Users/"+x, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": fmt.Sprintf("Name %d", i)}))
				}
			})
			stored := memberValues(a.must(200, "GET", "/Groups/"+gid, nil).body)
			a.checkMembers(gid, stored...)
			if got, want := deref(a.upstreamUser(x).DisplayName), a.must(200, "GET", "/Users/"+x, nil).body["displayName"]; got != want {
				t.Errorf("UiPath displayName %q, store %q", got, want)
			}

			// The same person created through both replicas at once: one account.
			var created atomic.Int32
			parallel(8, func(i int) {
				r := rs[i%2].do("POST", "/Users", newUserBody("twin@corp.example"))
				switch r.status {
				case 201:
					created.Add(1)
				case 409:
				default:
					t.Errorf("concurrent create: %d %s", r.status, r.raw)
				}
			})
			if created.Load() != 1 {
				t.Errorf("%d creates succeeded, want 1", created.Load())
			}
			if c := countUpstreamUsers(a, "twin@corp.example"); c != 1 {
				t.Errorf("UiPath has %d twin accounts", c)
			}
			page, err := a.store.List(t.Context(), cache.KindUser, 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			var storeIDs, upIDs []string
			for _, r := range page.Records {
				storeIDs = append(storeIDs, r.ID)
			}
			for _, u := range a.emu.Users() {
				upIDs = append(upIDs, u.ID)
			}
			if !slices.Equal(sorted(storeIDs), sorted(upIDs)) {
				t.Errorf("store users %v != UiPath users %v", storeIDs, upIDs)
			}
		})
	}
}

func parallel(n int, f func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(i)
		}()
	}
	wg.Wait()
}
