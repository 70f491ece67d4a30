package test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"strings"
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
	return newReplicasWith(t, n, mapping.Config{Strategy: strategy, AdoptExisting: true})
}

// newReplicasWith is newReplicas with each replica's provisioner configured
// by cfg; env.prov is the provisioner.
func newReplicasWith(t *testing.T, n int, cfg mapping.Config) []*env {
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
		prov, err := mapping.New(cfg, client, store, nil)
		if err != nil {
			t.Fatal(err)
		}
		token := "replica-token-0123456789"
		h, err := scim.New(scim.Config{StaticTokens: []scim.StaticToken{scim.NewStaticToken("token-1", token)}}, []mapping.Resource{prov.Users(), prov.Groups()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h)
		t.Cleanup(srv.Close)
		out = append(out, &env{t: t, emu: emu, store: store, url: srv.URL + scim.BasePath, token: token,
			client: srv.Client(), logs: &envtest.LogBuffer{}, prov: prov})
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

// TestReplicasDrainOneQueue: two replicas on one Redis, each running its own
// write scheduler (and settler, as serve does), take membership PATCHes for
// the same groups at once, in queued mode, while both schedulers send.
// Every pair is driven by one IdP worker, so its final state is known;
// the workers spread their PATCHes over both replicas. Which scheduler
// sends is the luck of the scheduler lock, so a second burst runs with
// only the scheduler that sent less: it drains what both replicas
// acknowledged. Once the queue is empty, UiPath and the store hold exactly
// the acknowledged state, and the emulator's membership log shows every
// change applied exactly once: no op that finds its pair already as it
// asks (a change sent twice).
func TestReplicasDrainOneQueue(t *testing.T) {
	const nUsers, nGroups, workers, rounds = 24, 8, 8, 6
	rs := newReplicasWith(t, 2, mapping.Config{
		Strategy: mapping.StrategyAuto, AdoptExisting: true,
		MembershipWrites: mapping.WritesQueued,
		// Short, so that the schedulers send while the PATCHes go on and
		// changes are turned round while a call carries them.
		Quiet: 5 * time.Millisecond,
	})
	// Per replica: the calls its scheduler sent, and how to stop it.
	var sent [2]atomic.Int64
	var stop [2]func()
	for i, r := range rs {
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.prov.RunScheduler(ctx, func(rep mapping.RoundReport, _ error) { sent[i].Add(int64(rep.Sent)) })
		}()
		stop[i] = func() { cancel(); <-done }
		go r.prov.RunSettler(t.Context(), 50*time.Millisecond, nil)
	}
	a := rs[0]
	users := make([]string, nUsers)
	for i := range nUsers {
		users[i] = str(rs[i%2].must(201, "POST", "/Users", newUserBody(fmt.Sprintf("q%02d@corp.example", i))).body, "id")
	}
	groups := make([]string, nGroups)
	for i := range nGroups {
		groups[i] = str(rs[i%2].must(201, "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": fmt.Sprintf("Queue %d", i)}).body, "id")
	}

	// Worker w owns the users u with u%workers == w: it alone changes
	// their pairs, so its model of them (member[w]) is exact. Each round it
	// sends, for every group, one PATCH adding and removing some of its
	// users, through the replicas in turn.
	member := make([]map[[2]int]bool, workers) // worker → (group, user index) → member
	rngs := make([]*rand.Rand, workers)
	for w := range workers {
		member[w] = map[[2]int]bool{}
		rngs[w] = rand.New(rand.NewPCG(uint64(w), 7))
	}
	var patches atomic.Int64
	burst := func(from, to int) {
		t.Helper()
		var mu sync.Mutex
		var errs []error
		parallel(workers, func(w int) {
			rng := rngs[w]
			for round := from; round < to; round++ {
				for g := range nGroups {
					var ops []any
					var adds []any
					for u := w; u < nUsers; u += workers {
						if rng.IntN(3) == 0 {
							continue // untouched this round
						}
						k := [2]int{g, u}
						if member[w][k] {
							ops = append(ops, map[string]any{"op": "remove", "path": `members[value eq "` + users[u] + `"]`})
						} else {
							adds = append(adds, map[string]any{"value": users[u]})
						}
						member[w][k] = !member[w][k]
					}
					if len(adds) > 0 {
						ops = append(ops, map[string]any{"op": "add", "path": "members", "value": adds})
					}
					if len(ops) == 0 {
						continue
					}
					body := map[string]any{"schemas": []string{patchSchema}, "Operations": ops}
					patches.Add(1)
					if r := rs[(w+round+g)%2].do("PATCH", "/Groups/"+groups[g], body); r.status != 204 {
						mu.Lock()
						errs = append(errs, fmt.Errorf("PATCH group %d: %d %s", g, r.status, r.raw))
						mu.Unlock()
					}
				}
			}
		})
		if len(errs) > 0 {
			t.Fatalf("%d PATCHes failed; first: %v", len(errs), errs[0])
		}
	}
	// want returns the acknowledged members of group g, lower case, sorted.
	want := func(g int) []string {
		var ids []string
		for w := range workers {
			for k, in := range member[w] {
				if k[0] == g && in {
					ids = append(ids, strings.ToLower(users[k[1]]))
				}
			}
		}
		slices.Sort(ids)
		return ids
	}
	// drain checks that the store shows the acknowledged state, then waits
	// for the queue to empty into UiPath.
	drain := func(phase string) {
		t.Helper()
		for g, gid := range groups {
			if got := sortedFold(memberValues(rs[g%2].must(200, "GET", "/Groups/"+gid, nil).body)); !slices.Equal(got, want(g)) {
				t.Fatalf("%s: group %d: the store has %v, want the acknowledged %v", phase, g, got, want(g))
			}
		}
		waitFor(t, 30*time.Second, phase+": the queue to drain into UiPath", func() bool {
			if p, err := a.store.PendingChanges(t.Context()); err != nil || len(p) > 0 {
				return false
			}
			for g, gid := range groups {
				if !slices.Equal(sortedFold(a.emu.GroupMemberIDs(gid)), want(g)) {
					return false
				}
			}
			return true
		})
	}

	start := time.Now()
	burst(0, rounds)
	acked := time.Since(start)
	drain("both schedulers")
	drained := time.Since(start)
	sent1 := [2]int64{sent[0].Load(), sent[1].Load()}
	// The queue is empty: stopping a scheduler interrupts no call.
	busier := 0
	if sent1[1] > sent1[0] {
		busier = 1
	}
	stop[busier]()
	other := 1 - busier
	burst(rounds, 2*rounds)
	drain("one scheduler")
	if n := sent[other].Load() - sent1[other]; n == 0 {
		t.Errorf("replica %d's scheduler sent nothing of the second burst, alone", other)
	}

	log := a.emu.MembershipLog()
	changes := 0
	for p, ops := range opsByPair(log) {
		if again := resent(ops); len(again) > 0 {
			t.Errorf("pair %v: ops %s; %d sent again", p, opsString(ops), len(again))
		}
		changes += len(ops)
	}
	for g, gid := range groups {
		a.checkMembers(gid, want(g)...)
	}
	if fails, err := a.store.Failures(t.Context(), 0); err != nil || len(fails) > 0 {
		t.Errorf("failures recorded: %+v %v", fails, err)
	}
	t.Logf("figures: %d PATCHes in two bursts; the first acknowledged in %v and drained after %v, by replica A %d calls, B %d; the second by replica %c alone, %d calls; UiPath applied %d changes in %d calls",
		patches.Load(), acked.Round(time.Millisecond), drained.Round(time.Millisecond), sent1[0], sent1[1],
		'A'+other, sent[other].Load()-sent1[other], changes, len(callsOf(log)))
}
