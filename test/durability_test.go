package test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/cache/boltstore"
	"github.com/scim-bridge/scim-bridge/cache/redisstore"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// queuedCrashBudget paces the bridge of TestCrashWithQueuedMembership: 10
// PUTs a window, one kept for leavers, so 9 membership calls per window.
const (
	queuedCrashPUTs   = 10
	queuedCrashWindow = 2 * time.Second
)

// TestCrashWithQueuedMembership: the real binary in queued mode, with a
// PUT budget far below what the traffic needs, acknowledges a burst of
// membership PATCHes over 40 groups (adds, removes of members already in
// UiPath, joins undone by the next PATCH). While the queue still holds most
// of it, the bridge is SIGKILLed in the middle of a call UiPath has applied
// but not answered. Restarted on the same store, the bridge must show the
// acknowledged state at once, and UiPath must converge to exactly that
// state, with every change applied once: only the pairs of the call the
// crash interrupted may be sent a second time, and once at most.
func TestCrashWithQueuedMembership(t *testing.T) {
	bin := buildBridge(t)
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		t.Parallel() // each waits out the claim of the interrupted call
		const nUsers, nGroups, workers = 60, 40, 8
		te := upstreamEnv(t)
		emu := te.Emulator
		settings := storeConfig(t, store)
		settings["MEMBERSHIP_WRITES"] = "queued"
		settings["MEMBERSHIP_STRATEGY"] = "auto"
		settings["UIPATH_BUDGET"] = fmt.Sprintf("GET=1000000,POST=1000000,PUT=%d,DELETE=1000000", queuedCrashPUTs)
		settings["UIPATH_BUDGET_WINDOW"] = queuedCrashWindow.String()
		settings["DEPROVISION_RESERVE"] = "10%"
		b := startBridge(t, bin, te, settings)
		c := newIdP(t, b)

		_, users := pushUsers(t, c, "queued", nUsers, workers)
		groups := make([]string, nGroups)
		if err := onWorkers(nGroups, workers, func(i int) error {
			id, err := c.ensureGroup(fmt.Sprintf("Queued %02d", i))
			groups[i] = id
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n := emu.CountRequests(http.MethodPut); n != 0 {
			t.Fatalf("the setup made %d PUTs", n)
		}

		// want[g] is the acknowledged members of group g. Each group's
		// PATCHes go in order from one worker; a PATCH counts once the
		// bridge answered it 2xx.
		want := make([]map[string]bool, nGroups)
		patches := 0
		patch := func(g int, op string, ids ...string) error {
			var body map[string]any
			if op == "add" {
				vals := make([]any, len(ids))
				for i, id := range ids {
					vals[i] = map[string]any{"value": id}
				}
				body = patchBody(map[string]any{"op": "add", "path": "members", "value": vals})
			} else {
				body = patchBody(map[string]any{"op": "remove", "path": `members[value eq "` + ids[0] + `"]`})
			}
			if _, err := c.retry("PATCH", "/Groups/"+groups[g], body); err != nil {
				return err
			}
			for _, id := range ids {
				want[g][id] = op == "add"
			}
			return nil
		}
		pick := func(rng *rand.Rand, g int, member bool) string {
			for {
				if id := users[rng.IntN(nUsers)]; want[g][id] == member {
					return id
				}
			}
		}
		// Phase 1: two PATCHes of three joins per group.
		if err := onWorkers(nGroups, workers, func(g int) error {
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			want[g] = map[string]bool{}
			for range 2 {
				var ids []string
				for len(ids) < 3 {
					if id := pick(rng, g, false); !slices.Contains(ids, id) {
						ids = append(ids, id)
					}
				}
				if err := patch(g, "add", ids...); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		patches += 2 * nGroups
		// Once the scheduler has sent a window's worth, some groups' joins
		// are in UiPath and their removals below reach it too.
		waitFor(t, 20*time.Second, "the first membership calls", func() bool { return len(callsOf(emu.MembershipLog())) >= 5 })
		// Phase 2: a leave, a join undone by the next PATCH, one more join.
		if err := onWorkers(nGroups, workers, func(g int) error {
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			steps := []func() error{
				func() error { return patch(g, "remove", pick(rng, g, true)) },
				func() error {
					x := pick(rng, g, false)
					if err := patch(g, "add", x); err != nil {
						return err
					}
					return patch(g, "remove", x)
				},
				func() error { return patch(g, "add", pick(rng, g, false)) },
			}
			for _, step := range steps {
				if err := step(); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		patches += 4 * nGroups
		acked := func(g int) []string {
			var ids []string
			for id, in := range want[g] {
				if in {
					ids = append(ids, strings.ToLower(id))
				}
			}
			slices.Sort(ids)
			return ids
		}

		// The next call UiPath applies is never answered: the kill lands
		// while the bridge waits for it.
		emu.Inject(emulator.Fault{Method: http.MethodPut, Delay: time.Minute, AfterApply: true})
		var held int
		waitFor(t, 20*time.Second, "a membership call applied and not yet answered", func() bool {
			answered := map[int]bool{}
			for _, r := range emu.Requests() {
				answered[r.Call] = true
			}
			for _, call := range callsOf(emu.MembershipLog()) {
				if !answered[call] {
					held = call
					return true
				}
			}
			return false
		})
		if b.Exited() {
			t.Fatal("the bridge died before it was killed")
		}
		b.Kill()
		killedAt := time.Now()
		emu.ClearFaults()
		atKill := emu.MembershipLog()
		// The calls the crash interrupted: applied, and their answer never
		// read (the held one's connection closed with the process).
		waitFor(t, 10*time.Second, "the held call to end", func() bool {
			return slices.ContainsFunc(emu.Requests(), func(r emulator.Request) bool { return r.Call == held })
		})
		putsAtKill := emu.CountRequests(http.MethodPut)
		status := map[int]int{}
		for _, r := range emu.Requests() {
			status[r.Call] = r.Status
		}
		var interrupted []int
		for _, call := range callsOf(atKill) {
			if s := status[call]; s < 200 || s > 299 {
				interrupted = append(interrupted, call)
			}
		}
		if !slices.Equal(interrupted, []int{held}) {
			t.Fatalf("calls interrupted by the crash %v, want only the held call %d", interrupted, held)
		}
		inFlight := map[pair]bool{}
		for _, op := range atKill {
			if op.Call == held {
				inFlight[pairOf(op)] = true
			}
		}

		// The queue at the kill, read from the store the dead bridge left.
		pendingAtKill, _ := readQueue(t, store, settings)
		if len(pendingAtKill) <= len(inFlight) {
			t.Fatalf("%d changes pending at the kill (%d in the interrupted call): the queue had drained, the test proves nothing", len(pendingAtKill), len(inFlight))
		}
		for _, p := range pendingAtKill {
			if inFlight[pair{strings.ToLower(p.Group), strings.ToLower(p.User)}] && !p.Attempted {
				t.Errorf("pending %+v of the interrupted call is not marked attempted", p)
			}
		}

		b.Start()
		restartedAt := time.Now()
		// The bridge answers with the acknowledged state at once: one list
		// of every group, members included.
		r, err := c.retry("GET", fmt.Sprintf("/Groups?startIndex=1&count=%d", nGroups+10), nil)
		if err != nil {
			t.Fatal(err)
		}
		listed, _ := r.body["Resources"].([]any)
		if len(listed) != nGroups {
			t.Fatalf("after the restart GET /Groups lists %d groups, want %d", len(listed), nGroups)
		}
		for _, item := range listed {
			m, _ := item.(map[string]any)
			g := slices.Index(groups, str(m, "id"))
			if g < 0 {
				t.Fatalf("after the restart GET /Groups lists an unknown group %v", m)
			}
			if got := sortedFold(memberValues(m)); !slices.Equal(got, acked(g)) {
				t.Fatalf("after the restart GET /Groups shows group %d with %v, want the acknowledged %v", g, got, acked(g))
			}
		}
		// UiPath converges, and the bridge's queue is empty. The claim of
		// the interrupted call (30s) must run out before it is sent again.
		waitFor(t, 75*time.Second, "UiPath to hold the acknowledged state and the queue to drain", func() bool {
			for g, gid := range groups {
				if !slices.Equal(sortedFold(emu.GroupMemberIDs(gid)), acked(g)) {
					return false
				}
			}
			m := scrapeMetrics(t, b)
			// A round that began after calls were sent found nothing.
			return m["scim_bridge_membership_calls_sent_total"] > 0 && m["scim_bridge_membership_pending"] == 0
		})
		converged := time.Since(restartedAt)
		b.Kill()
		if p, fails := readQueue(t, store, settings); len(p) > 0 || len(fails) > 0 {
			t.Fatalf("after convergence %d changes still pending (%+v), %d recorded as refused (%+v)", len(p), p, len(fails), fails)
		}

		// Every change applied once; only the interrupted call's pairs
		// may have been sent again, once, after the restart.
		log := emu.MembershipLog()
		lastBeforeKill := slices.Max(callsOf(atKill))
		again := 0
		for p, ops := range opsByPair(log) {
			r := resent(ops)
			again += len(r)
			switch {
			case len(r) == 0:
			case len(r) > 1:
				t.Errorf("pair %v sent again %d times: %s", p, len(r), opsString(ops))
			case !inFlight[p]:
				t.Errorf("pair %v sent again, but the interrupted call %d did not carry it: %s", p, held, opsString(ops))
			case r[0].Call <= lastBeforeKill:
				t.Errorf("pair %v sent again before the crash: %s", p, opsString(ops))
			}
		}
		for g, gid := range groups {
			if got := sortedFold(emu.GroupMemberIDs(gid)); !slices.Equal(got, acked(g)) {
				t.Errorf("group %d in UiPath %v, want %v", g, got, acked(g))
			}
		}
		t.Logf("figures: store=%v %d PATCHes acknowledged over %d groups; PUT budget %d per %v; at the kill %d PUTs sent (the last held unanswered), %d changes pending, the interrupted call carried %d; after the restart %d PUTs, converged in %v (%v after the kill); %d changes applied in all, %d sent again",
			store, patches, nGroups, queuedCrashPUTs, queuedCrashWindow, putsAtKill, len(pendingAtKill), len(inFlight),
			emu.CountRequests(http.MethodPut)-putsAtKill, converged.Round(time.Millisecond), time.Since(killedAt).Round(time.Millisecond), len(log), again)
	})
}

// readQueue returns the pending membership changes and the recorded
// failures in the store of a bridge that is not running (bbolt's file is
// locked while it runs).
func readQueue(t *testing.T, kind envtest.Store, settings map[string]string) ([]cache.Pending, []cache.Failure) {
	t.Helper()
	var s cache.Store
	var err error
	switch kind {
	case envtest.Bolt:
		s, err = boltstore.New(boltstore.Config{Path: filepath.Join(settings["DATA_DIR"], "scim-bridge.db")}, nil)
	case envtest.Redis:
		s, err = redisstore.New(redisstore.Config{URL: settings["REDIS_URL"], Prefix: settings["REDIS_PREFIX"]}, nil)
	default:
		t.Fatalf("store %v", kind)
	}
	if err != nil {
		t.Fatalf("open the %v store: %v", kind, err)
	}
	defer s.Close()
	p, err := s.PendingChanges(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.Failures(t.Context(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return p, f
}

// scrapeMetrics reads the bridge's unlabelled metrics (name → value); an
// unreachable bridge gives none.
func scrapeMetrics(t *testing.T, b *bridgeProc) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	res, err := http.Get("http://" + b.adminAddr + "/metrics")
	if err != nil {
		return out
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		name, val, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") || strings.Contains(name, "{") {
			continue
		}
		if v, err := strconv.ParseFloat(val, 64); err == nil {
			out[name] = v
		}
	}
	return out
}
