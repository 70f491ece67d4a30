package mapping_test

import (
	"fmt"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/mapping"
)

// shared reports whether the env's store may be shared by replicas of the
// bridge (it serialises work across processes: Redis). The embedded store
// serves a single process.
func (e *env) shared() bool {
	_, ok := e.store.(cache.Locker)
	return ok
}

// replicas returns n provisioners over the env's store and UiPath: the
// env's own and n-1 more, which share no in-process lock with it, as
// replicas of the bridge do.
func (e *env) replicas(n int, cfg mapping.Config) []*mapping.Provisioner {
	e.t.Helper()
	out := []*mapping.Provisioner{e.prov}
	for range n - 1 {
		p, err := mapping.New(cfg, e.up, e.store, nil)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// TestConcurrentMemberAdds: IdPs send membership PATCHes for one group in
// parallel (Entra does); each must land, in UiPath and in the store, and
// none may undo another.
func TestConcurrentMemberAdds(t *testing.T) {
	const n = 8
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, strategy := range []string{mapping.StrategyUser, mapping.StrategyGroup} {
			t.Run(strategy, func(t *testing.T) {
				cfg := mapping.Config{Strategy: strategy}
				e := newEnv(t, envOptions{store: store, cfg: cfg})
				provs := []*mapping.Provisioner{e.prov}
				if e.shared() {
					provs = e.replicas(3, cfg)
				}
				var ids []string
				for i := range n {
					ids = append(ids, e.mustUser(fmt.Sprintf("user%d", i)).ID)
				}
				g := e.mustGroup("Engineers")
				e.resetCalls()
				var wg sync.WaitGroup
				errs := make([]error, n)
				for i, id := range ids {
					wg.Go(func() {
						body := patchBody(`[{"op":"Add","path":"members","value":[{"value":"` + id + `"}]}]`)
						_, errs[i] = provs[i%len(provs)].Groups().Patch(t.Context(), g.ID, ops(t, body), "")
					})
				}
				wg.Wait()
				for i, err := range errs {
					if err != nil {
						t.Errorf("PATCH %d: %v", i, err)
					}
				}
				want := sorted(ids...)
				rec, _ := e.record(cache.KindGroup, g.ID)
				if !slices.Equal(rec.Members, want) {
					t.Errorf("store members %v, want all %d", rec.Members, n)
				}
				if got := e.emu.GroupMemberIDs(g.ID); !slices.Equal(got, want) {
					t.Errorf("UiPath members %v, want all %d", got, n)
				}
				if rec.Version != n+1 {
					t.Errorf("group version %d, want %d: one write per PATCH", rec.Version, n+1)
				}
				if got := e.calls(http.MethodPut, "/"); got != n {
					t.Errorf("%d PUT calls, want %d", got, n)
				}
			})
		}
	})
}

// TestConcurrentCreateSameUserName: of parallel creates of one userName,
// exactly one wins; UiPath gets one account and the store one user.
func TestConcurrentCreateSameUserName(t *testing.T) {
	const n = 6
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store})
		provs := []*mapping.Provisioner{e.prov}
		if e.shared() {
			provs = e.replicas(3, mapping.Config{})
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				raw := userJSON("ada@corp.example", "Ada", "Lovelace", fmt.Sprintf("okta-%d", i))
				_, errs[i] = provs[i%len(provs)].Users().Create(t.Context(), doc(t, raw))
			})
		}
		wg.Wait()
		won := 0
		for i, err := range errs {
			switch codeOf(err) {
			case "":
				won++
			case "conflict":
			default:
				t.Errorf("create %d: %v, want success or conflict", i, err)
			}
		}
		if won != 1 {
			t.Errorf("%d creates succeeded, want exactly 1", won)
		}
		if got := len(e.emu.Users()); got != 1 {
			t.Errorf("UiPath has %d accounts, want 1", got)
		}
		if page, err := e.users.List(t.Context(), mapping.ListRequest{}); err != nil || page.Total != 1 {
			t.Errorf("store holds %d users (%v), want 1", page.Total, err)
		}
	})
}

// TestDeleteUserRacesGroupAdd: one replica deletes users while another adds
// them to a group. Whatever the interleaving, the store's group never lists
// a user the store no longer has, and UiPath's group equals the store's.
func TestDeleteUserRacesGroupAdd(t *testing.T) {
	const n = 6
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, strategy := range []string{mapping.StrategyUser, mapping.StrategyGroup} {
			t.Run(strategy, func(t *testing.T) {
				cfg := mapping.Config{Strategy: strategy}
				// Latency on every UiPath call puts the delete inside the
				// add's window between its member check and its store write.
				e := newEnv(t, envOptions{store: store, cfg: cfg, latency: 15 * time.Millisecond})
				provs := []*mapping.Provisioner{e.prov, e.prov}
				if e.shared() {
					provs = e.replicas(2, cfg)
				}
				g := e.mustGroup("Leavers")
				var ids []string
				for i := range n {
					ids = append(ids, e.mustUser(fmt.Sprintf("racer%d", i)).ID)
				}
				var wg sync.WaitGroup
				for _, id := range ids {
					wg.Add(2)
					go func() {
						defer wg.Done()
						_ = provs[0].Users().Delete(t.Context(), id, "")
					}()
					go func() {
						defer wg.Done()
						_, _ = provs[1].Groups().Patch(t.Context(), g.ID, ops(t, patchBody(`[{"op":"add","path":"members","value":[{"value":"`+id+`"}]}]`)), "")
					}()
				}
				wg.Wait()
				rec, _ := e.record(cache.KindGroup, g.ID)
				for _, m := range rec.Members {
					if _, ok := e.record(cache.KindUser, m); !ok {
						t.Errorf("the store's group lists %s, a user the store no longer has", m)
					}
				}
				if got := e.emu.GroupMemberIDs(g.ID); !slices.Equal(got, rec.Members) && !(len(got) == 0 && len(rec.Members) == 0) {
					t.Errorf("UiPath members %v, store members %v", got, rec.Members)
				}
			})
		}
	})
}
