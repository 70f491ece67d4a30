package test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// The fault matrix (issue #9, "Leavers stay out"): every UiPath operation
// the bridge uses, under every kind of fault, on both stores. Each case
// arms its faults, drives the SCIM requests an IdP would send (retrying
// them the way Okta and Entra do), lets the bridge come to rest
// (env.quiesce) and checks that UiPath, the bridge's answers and the store
// all hold the intended state: no duplicate account or group, no leaver
// active, no membership the store and UiPath disagree on.
//
// Cases are named op/fault/scenario, e.g. put-user/late/deactivate-okta.

// Timing of the matrix. The client gives each attempt attemptTimeout; a
// delayed call answers after faultDelay, well past the client's three
// attempts, so that a late write lands after the IdP's retry and the
// opposite write that follows it.
const (
	attemptTimeout = 300 * time.Millisecond
	faultDelay     = 1500 * time.Millisecond
	// retryAfter is what a 429 fault asks for.
	retryAfter = time.Second
	// idpMaxWait caps the IdP's wait before a retry (Okta and Entra honour
	// Retry-After; the test shortens it).
	idpMaxWait = 100 * time.Millisecond
	// idpMaxAttempts is how often the IdP sends one request before the
	// case fails.
	idpMaxAttempts = 8
	// matrixConcurrency is how many cases run at once. The cases mostly
	// wait on deadlines, so they are run from goroutines rather than with
	// t.Parallel, whose limit (-parallel) defaults to GOMAXPROCS.
	matrixConcurrency = 16
	// faultTimes is how many calls a fault affects: as many as the
	// client's attempts, so that a retry-safe call fails to the IdP once
	// and the IdP's retry is exercised too.
	faultTimes = upstream.DefaultMaxAttempts
	// idPrefix starts every id the bridge generates in the matrix, so that
	// a fault can be aimed at GET /User/{id} without hitting the user
	// search (GET /User/users/{partition}).
	idPrefix = "0000fa17-"
)

// guid matches a GUID path segment.
const guid = `[0-9a-fA-F-]{36}`

// upstreamOp is one UiPath operation the bridge uses and how to aim a
// fault at it.
type upstreamOp struct {
	name   string
	method string
	// contains is the fault's PathContains, given the partition id.
	contains func(pid string) string
	// route matches the paths of this operation only, to check that the
	// faults hit it.
	route *regexp.Regexp
	// atSettle arms the faults for the quiesce step instead of the drive:
	// the operation is only called while settling.
	atSettle  bool
	scenarios []scenario
}

func fixed(s string) func(string) string { return func(string) string { return s } }

// faultKind is one way a call can go wrong.
type faultKind struct {
	name   string
	faults func(base emulator.Fault) []emulator.Fault
}

// faultKinds are the faults every operation meets. Before apply: 5xx,
// 429, delay (the client gives up, the call is dropped unapplied), drop.
// Unknown outcome: late (the client gives up, the call lands later),
// lost-5xx and lost-drop (applied, the answer lost).
var faultKinds = []faultKind{
	{"5xx", func(b emulator.Fault) []emulator.Fault { return statuses(b) }},
	{"429", func(b emulator.Fault) []emulator.Fault {
		b.Status, b.RetryAfter, b.Times = http.StatusTooManyRequests, retryAfter, faultTimes
		return []emulator.Fault{b}
	}},
	{"late", func(b emulator.Fault) []emulator.Fault {
		b.Late, b.Delay, b.Times = true, faultDelay, faultTimes
		return []emulator.Fault{b}
	}},
	{"delay", func(b emulator.Fault) []emulator.Fault {
		b.Delay, b.Times = faultDelay, faultTimes
		return []emulator.Fault{b}
	}},
	{"drop", func(b emulator.Fault) []emulator.Fault {
		b.Drop, b.Times = true, faultTimes
		return []emulator.Fault{b}
	}},
	{"lost-5xx", func(b emulator.Fault) []emulator.Fault {
		b.AfterApply = true
		return statuses(b)
	}},
	{"lost-drop", func(b emulator.Fault) []emulator.Fault {
		b.AfterApply, b.Drop, b.Times = true, true, faultTimes
		return []emulator.Fault{b}
	}},
}

// statuses is b answered with 500, then 502, then 503.
func statuses(b emulator.Fault) []emulator.Fault {
	var out []emulator.Fault
	for _, s := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable} {
		f := b
		f.Status, f.Times = s, 1
		out = append(out, f)
	}
	return out
}

// scenario is what the IdP does around the faulted operation and the state
// it intends.
type scenario struct {
	name string
	opts envOptions // strategy and deprovisioning policy
	// pre are faults armed before the operation's own, to make the bridge
	// call it (a lost create answer makes it read the user back).
	pre   func(pid string) []emulator.Fault
	setup func(r *mrun) // before any fault
	drive func(r *mrun) // with the faults armed
	want  intended
}

// intended is the state a scenario means to reach.
type intended struct {
	users  map[string]wantUser // by userName
	groups map[string][]string // displayName → member userNames
}

// wantUser is a user's intended state.
type wantUser struct {
	active bool
	family string // name.familyName, UiPath's surname
}

const (
	alice = "alice@corp.example"
	bob   = "bob@corp.example"
	ops   = "Ops"
	ops2  = "Ops-renamed"
)

var (
	aliceActive   = map[string]wantUser{alice: {active: true, family: "Family"}}
	aliceInactive = map[string]wantUser{alice: {active: false, family: "Family"}}
)

// Scenarios. A drive's first request meets the faults; "superseded" means
// the IdP gives up on it and sends the opposite change instead (Okta and
// Entra replace a failed event by a newer one for the same resource).

func scCreateUser() scenario {
	return scenario{name: "create", drive: func(r *mrun) { r.oktaCreateUser(alice) }, want: intended{users: aliceActive}}
}

// named is s under another name, for a variant (another policy).
func named(name string, s scenario) scenario {
	s.name = name
	return s
}

// scPre is s under another name, with faults armed before the operation's.
func scPre(name string, pre func(pid string) []emulator.Fault, s scenario) scenario {
	s.name, s.pre = name, pre
	return s
}

// lostAnswer is a fault on path that applies the call and loses its answer.
func lostAnswer(method, path string) func(string) []emulator.Fault {
	return func(string) []emulator.Fault {
		return []emulator.Fault{{Method: method, PathContains: path, Status: http.StatusBadGateway, AfterApply: true}}
	}
}

func scAdoptUser() scenario {
	return scenario{name: "adopt",
		setup: func(r *mrun) {
			old := "Old"
			r.e.emu.SeedUser(upstream.User{UserName: alice, Email: alice, Surname: &old, IsActive: true})
		},
		drive: func(r *mrun) { r.oktaCreateUser(alice) },
		want:  intended{users: aliceActive}}
}

func scProfile() scenario {
	return scenario{name: "profile",
		setup: func(r *mrun) { r.createUser(alice) },
		drive: func(r *mrun) {
			r.retry("PUT", "/Users/"+r.id(alice), newUserBody(alice, "active", true, "name", map[string]any{"givenName": "Given", "familyName": "Renamed"}))
		},
		want: intended{users: map[string]wantUser{alice: {active: true, family: "Renamed"}}}}
}

// activePatch is Entra's activation change: {"op":"Replace","path":"active","value":"True"|"False"}.
func activePatch(active bool) map[string]any {
	v := "False"
	if active {
		v = "True"
	}
	return patchBody(map[string]any{"op": "Replace", "path": "active", "value": v})
}

func scDeactivateOkta() scenario {
	return scenario{name: "deactivate-okta",
		setup: func(r *mrun) { r.createUser(alice) },
		drive: func(r *mrun) { r.retry("PUT", "/Users/"+r.id(alice), newUserBody(alice, "active", false)) },
		want:  intended{users: aliceInactive}}
}

func scDeactivateEntra(o envOptions) scenario {
	return scenario{name: "deactivate-entra", opts: o,
		setup: func(r *mrun) { r.createUser(alice) },
		drive: func(r *mrun) { r.retry("PATCH", "/Users/"+r.id(alice), activePatch(false)) },
		want:  intended{users: aliceInactive}}
}

// scReactivateThenLeave: a leaver is re-assigned (the IdP retries until
// it succeeds) and unassigned again.
func scReactivateThenLeave(o envOptions) scenario {
	return scenario{name: "reactivate-then-leave", opts: o,
		setup: func(r *mrun) { r.createUser(alice); r.must(200, "PATCH", "/Users/"+r.id(alice), activePatch(false)) },
		drive: func(r *mrun) {
			r.retry("PATCH", "/Users/"+r.id(alice), activePatch(true))
			r.retry("PATCH", "/Users/"+r.id(alice), activePatch(false))
		},
		want: intended{users: aliceInactive}}
}

// scReactivateSuperseded: a leaver's re-assignment fails and is withdrawn.
func scReactivateSuperseded() scenario {
	return scenario{name: "reactivate-superseded",
		setup: func(r *mrun) { r.createUser(alice); r.must(200, "PATCH", "/Users/"+r.id(alice), activePatch(false)) },
		drive: func(r *mrun) {
			r.once("PATCH", "/Users/"+r.id(alice), activePatch(true))
			r.retry("PATCH", "/Users/"+r.id(alice), activePatch(false))
		},
		want: intended{users: aliceInactive}}
}

// scLeaveThenRejoin: under the delete policy a leaver loses the account,
// then is re-assigned (recreated under the same id).
func scLeaveThenRejoin() scenario {
	return scenario{name: "leave-then-rejoin", opts: envOptions{deprovision: "delete"},
		setup: func(r *mrun) { r.createUser(alice) },
		drive: func(r *mrun) {
			r.retry("PATCH", "/Users/"+r.id(alice), activePatch(false))
			r.retry("PATCH", "/Users/"+r.id(alice), activePatch(true))
		},
		want: intended{users: aliceActive}}
}

func scDeleteUser() scenario {
	return scenario{name: "delete",
		setup: func(r *mrun) { r.createUser(alice); r.createGroup(ops, alice) },
		drive: func(r *mrun) { r.retry("DELETE", "/Users/"+r.id(alice), nil) },
		want:  intended{groups: map[string][]string{ops: nil}}}
}

func memberAdd(ids ...string) map[string]any {
	var v []any
	for _, id := range ids {
		v = append(v, map[string]any{"value": id})
	}
	return patchBody(map[string]any{"op": "add", "path": "members", "value": v})
}

// memberRemove is Entra's removal: members[value eq "id"].
func memberRemove(id string) map[string]any {
	return patchBody(map[string]any{"op": "remove", "path": `members[value eq "` + id + `"]`})
}

func scAddMember(strategy string) scenario {
	return scenario{name: "add-member", opts: envOptions{strategy: strategy},
		setup: func(r *mrun) { r.createUser(alice); r.createGroup(ops) },
		drive: func(r *mrun) { r.retry("PATCH", "/Groups/"+r.id(ops), memberAdd(r.id(alice))) },
		want:  intended{users: aliceActive, groups: map[string][]string{ops: {alice}}}}
}

// scAddMembersAuto adds two users to one group: under auto the fewest
// calls is one PUT /Group.
func scAddMembersAuto() scenario {
	return scenario{name: "add-members-auto", opts: envOptions{strategy: "auto"},
		setup: func(r *mrun) { r.createUser(alice); r.createUser(bob); r.createGroup(ops) },
		drive: func(r *mrun) { r.retry("PATCH", "/Groups/"+r.id(ops), memberAdd(r.id(alice), r.id(bob))) },
		want: intended{users: map[string]wantUser{alice: {true, "Family"}, bob: {true, "Family"}},
			groups: map[string][]string{ops: {alice, bob}}}}
}

func scAddThenRemove(strategy string) scenario {
	return scenario{name: "add-then-remove", opts: envOptions{strategy: strategy},
		setup: func(r *mrun) { r.createUser(alice); r.createGroup(ops) },
		drive: func(r *mrun) {
			r.retry("PATCH", "/Groups/"+r.id(ops), memberAdd(r.id(alice)))
			r.retry("PATCH", "/Groups/"+r.id(ops), memberRemove(r.id(alice)))
		},
		want: intended{users: aliceActive, groups: map[string][]string{ops: nil}}}
}

func scAddSuperseded(strategy string) scenario {
	return scenario{name: "add-superseded", opts: envOptions{strategy: strategy},
		setup: func(r *mrun) { r.createUser(alice); r.createGroup(ops) },
		drive: func(r *mrun) {
			r.once("PATCH", "/Groups/"+r.id(ops), memberAdd(r.id(alice)))
			r.retry("PATCH", "/Groups/"+r.id(ops), memberRemove(r.id(alice)))
		},
		want: intended{users: aliceActive, groups: map[string][]string{ops: nil}}}
}

func scRemoveMember(strategy string) scenario {
	return scenario{name: "remove-member", opts: envOptions{strategy: strategy},
		setup: func(r *mrun) { r.createUser(alice); r.createGroup(ops, alice) },
		drive: func(r *mrun) { r.retry("PATCH", "/Groups/"+r.id(ops), memberRemove(r.id(alice))) },
		want:  intended{users: aliceActive, groups: map[string][]string{ops: nil}}}
}

func rename(name string) map[string]any {
	return patchBody(map[string]any{"op": "replace", "path": "displayName", "value": name})
}

func scRename() scenario {
	return scenario{name: "rename",
		setup: func(r *mrun) { r.createUser(alice); r.createGroup(ops, alice) },
		drive: func(r *mrun) { r.retry("PATCH", "/Groups/"+r.id(ops), rename(ops2)) },
		want:  intended{users: aliceActive, groups: map[string][]string{ops2: {alice}}}}
}

func scRenameAndBack() scenario {
	return scenario{name: "rename-and-back",
		setup: func(r *mrun) { r.createUser(alice); r.createGroup(ops, alice) },
		drive: func(r *mrun) {
			r.retry("PATCH", "/Groups/"+r.id(ops), rename(ops2))
			r.retry("PATCH", "/Groups/"+r.id(ops), rename(ops))
		},
		want: intended{users: aliceActive, groups: map[string][]string{ops: {alice}}}}
}

func scCreateGroup() scenario {
	return scenario{name: "create",
		setup: func(r *mrun) { r.createUser(alice) },
		drive: func(r *mrun) { r.oktaCreateGroup(ops, alice) },
		want:  intended{users: aliceActive, groups: map[string][]string{ops: {alice}}}}
}

func scAdoptGroup() scenario {
	s := scCreateGroup()
	s.name = "adopt"
	setup := s.setup
	s.setup = func(r *mrun) { setup(r); r.e.emu.SeedGroup(ops) }
	return s
}

func scDeleteGroup() scenario {
	return scenario{name: "delete",
		setup: func(r *mrun) { r.createUser(alice); r.createGroup(ops, alice) },
		drive: func(r *mrun) { r.retry("DELETE", "/Groups/"+r.id(ops), nil) },
		want:  intended{users: aliceActive}}
}

// matrixOps is the table: every upstream operation with the scenarios that
// make the bridge call it.
func matrixOps() []upstreamOp {
	deleteOpts := envOptions{deprovision: "delete"}
	userPath := "/api/User/" + idPrefix
	return []upstreamOp{
		{name: "token", method: "POST", contains: fixed("/connect/token"), route: regexp.MustCompile(`^/connect/token$`),
			scenarios: []scenario{scCreateUser()}},
		{name: "create-user", method: "POST", contains: fixed("/api/User/BulkCreate"), route: regexp.MustCompile(`^/api/User/BulkCreate$`),
			scenarios: []scenario{scCreateUser(), named("recreate-then-leave", scReactivateThenLeave(deleteOpts))}},
		{name: "get-user", method: "GET", contains: fixed(userPath), route: regexp.MustCompile(`^/api/User/` + guid + `$`),
			scenarios: []scenario{scPre("lost-create", lostAnswer("POST", "/api/User/BulkCreate"), scCreateUser())}},
		{name: "search-user", method: "GET", contains: fixed("/api/User/users/"), route: regexp.MustCompile(`^/api/User/users/` + guid + `$`),
			scenarios: []scenario{scAdoptUser()}},
		{name: "put-user", method: "PUT", contains: fixed(userPath), route: regexp.MustCompile(`^/api/User/` + guid + `$`),
			scenarios: []scenario{
				scProfile(), scDeactivateOkta(), scDeactivateEntra(envOptions{}),
				scReactivateThenLeave(envOptions{}), scReactivateSuperseded(),
				scAddMember("user"), scAddThenRemove("user"), scAddSuperseded("user"), scRemoveMember("user"),
			}},
		{name: "delete-user", method: "DELETE", contains: fixed(userPath), route: regexp.MustCompile(`^/api/User/` + guid + `$`),
			scenarios: []scenario{scDeleteUser(), named("deactivate-by-delete", scDeactivateEntra(deleteOpts)), scLeaveThenRejoin()}},
		{name: "create-group", method: "POST", contains: fixed("/api/Group"), route: regexp.MustCompile(`^/api/Group$`),
			scenarios: []scenario{scCreateGroup()}},
		{name: "get-group", method: "GET", contains: func(pid string) string { return "/api/Group/" + pid + "/" + idPrefix },
			route:     regexp.MustCompile(`^/api/Group/` + guid + `/` + guid + `$`),
			scenarios: []scenario{scPre("lost-create", lostAnswer("POST", "/api/Group"), scCreateGroup())}},
		{name: "list-groups", method: "GET", contains: func(pid string) string { return "/api/Group/" + pid }, route: regexp.MustCompile(`^/api/Group/` + guid + `$`),
			scenarios: []scenario{scAdoptGroup()}},
		{name: "put-group", method: "PUT", contains: fixed("/api/Group/"), route: regexp.MustCompile(`^/api/Group/` + guid + `$`),
			scenarios: []scenario{
				scRename(), scRenameAndBack(),
				scAddMember("group"), scAddMembersAuto(), scAddThenRemove("group"), scAddSuperseded("group"), scRemoveMember("group"),
			}},
		{name: "delete-group", method: "DELETE", contains: fixed("/api/Group/"), route: regexp.MustCompile(`^/api/Group/` + guid + `/` + guid + `$`),
			scenarios: []scenario{scDeleteGroup()}},
		// Nothing calls GroupMembers while serving a request: the faults
		// meet the settle step, after a group write whose answer was lost
		// and that the IdP then reversed.
		{name: "group-members", method: "GET", contains: fixed("/Members"), route: regexp.MustCompile(`^/api/Group/` + guid + `/` + guid + `/Members$`),
			atSettle: true,
			scenarios: []scenario{scPre("add-superseded", func(string) []emulator.Fault {
				return []emulator.Fault{{Method: "PUT", PathContains: "/api/Group/", Status: http.StatusBadGateway, AfterApply: true, Times: faultTimes}}
			}, scAddSuperseded("group"))}},
	}
}

// matrixCase is one cell of the matrix.
type matrixCase struct {
	name string // op/fault/scenario
	op   upstreamOp
	kind faultKind
	sc   scenario
}

// caseStats is what a case cost.
type caseStats struct {
	name        string
	outcome     string // pass, fail, skip
	idpRetries  int    // requests the IdP repeated
	idpRequests int    // SCIM requests the IdP sent, retries included
	calls       int    // UiPath calls (token calls included) from the first faulted request on
	opCalls     int    // of which to the faulted operation
}

// TestFaultMatrix runs the matrix on both stores.
func TestFaultMatrix(t *testing.T) {
	var cases []matrixCase
	for _, op := range matrixOps() {
		for _, kind := range faultKinds {
			for _, sc := range op.scenarios {
				cases = append(cases, matrixCase{name: op.name + "/" + kind.name + "/" + sc.name, op: op, kind: kind, sc: sc})
			}
		}
	}
	var mu sync.Mutex
	var stats []caseStats
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		var redisURL string
		if store == envtest.Redis {
			redisURL = redistest.URL(t) // one server for every case; each keeps its own key prefix
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, matrixConcurrency)
		for _, c := range cases {
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				st := caseStats{outcome: "fail"}
				ran := false
				t.Run(c.name, func(t *testing.T) {
					ran = true
					defer func() {
						if t.Skipped() {
							st.outcome = "skip"
						} else if !t.Failed() {
							st.outcome = "pass"
						}
					}()
					runMatrixCase(t, store, redisURL, c, &st)
				})
				if !ran {
					return // filtered out by -run
				}
				st.name = store.String() + "/" + c.name
				mu.Lock()
				stats = append(stats, st)
				mu.Unlock()
			})
		}
		wg.Wait()
	})
	logMatrixStats(t, stats)
}

// mrun is one case's IdP and its view of the bridge.
type mrun struct {
	t        *testing.T
	e        *env
	ids      map[string]string // userName or displayName → SCIM id
	retries  int
	requests int
}

// runMatrixCase runs one case and records what it cost in st.
func runMatrixCase(t *testing.T, store envtest.Store, redisURL string, c matrixCase, st *caseStats) {
	o := c.sc.opts
	o.redisURL = redisURL
	o.client = func(cfg *upstream.Config) { cfg.Timeout = attemptTimeout }
	var seq atomic.Int64
	o.newID = func() string { return fmt.Sprintf("%s0000-4000-8000-%012x", idPrefix, seq.Add(1)) }
	e := newEnv(t, store, o)
	r := &mrun{t: t, e: e, ids: map[string]string{}}
	if c.sc.setup != nil {
		c.sc.setup(r)
	}
	pid := e.emu.PartitionID()
	base := emulator.Fault{Method: c.op.method, PathContains: c.op.contains(pid), PathMatches: c.op.route}
	arm := func() {
		for _, f := range c.kind.faults(base) {
			e.emu.Inject(f)
		}
	}
	e.emu.ResetRequests()
	if c.sc.pre != nil {
		for _, f := range c.sc.pre(pid) {
			e.emu.Inject(f)
		}
	}
	if !c.op.atSettle {
		arm()
	}
	c.sc.drive(r)
	e.emu.ClearFaults() // what the drive did not meet must not meet the settle step
	if c.op.atSettle {
		arm()
	}
	e.quiesce()
	e.emu.ClearFaults()

	reqs := e.emu.Requests()
	st.idpRetries, st.idpRequests, st.calls = r.retries, r.requests, len(reqs)
	hit := false
	for _, q := range reqs {
		if q.Method != c.op.method || !c.op.route.MatchString(q.Path) {
			continue
		}
		st.opCalls++
		hit = true
	}
	if first := firstMatch(reqs, base); first != nil && !c.op.route.MatchString(first.Path) {
		t.Errorf("the fault aimed at %s met %s %s instead", c.op.name, first.Method, first.Path)
	}
	t.Logf("IdP: %d requests, %d retries; UiPath: %d calls, %d of them %s", st.idpRequests, st.idpRetries, st.calls, st.opCalls, c.op.name)
	if !hit {
		t.Fatalf("the scenario never called %s: the faults were not exercised", c.op.name)
	}
	r.checkState(c.sc.want, o.deprovision == "delete")
}

// firstMatch returns the first logged call the fault base would match.
func firstMatch(reqs []emulator.Request, base emulator.Fault) *emulator.Request {
	for i, q := range reqs {
		if strings.EqualFold(q.Method, base.Method) && strings.Contains(q.Path, base.PathContains) &&
			(base.PathMatches == nil || base.PathMatches.MatchString(q.Path)) {
			return &reqs[i]
		}
	}
	return nil
}

// IdP behaviour.

// send makes one SCIM request and counts it.
func (r *mrun) send(method, path string, body any) response {
	r.t.Helper()
	r.requests++
	res := r.e.do(method, path, body)
	if res.status == http.StatusTooManyRequests || res.status == http.StatusServiceUnavailable {
		if s, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || s < 1 {
			r.t.Errorf("%s %s: %d without a usable Retry-After (%q)", method, path, res.status, res.header.Get("Retry-After"))
		}
	}
	return res
}

// retryable reports whether Okta and Entra send a request again after
// this status.
func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// backOff waits as the IdP would before a retry: Retry-After, capped.
func (r *mrun) backOff(res response) {
	d := idpMaxWait
	if s, err := strconv.Atoi(res.header.Get("Retry-After")); err == nil {
		d = min(d, time.Duration(s)*time.Second)
	}
	time.Sleep(d)
}

// retry sends a request until the bridge accepts it, repeating it on 429
// and 5xx. A DELETE answered 404 after a failed attempt is done: the
// attempt deleted it.
func (r *mrun) retry(method, path string, body any) response {
	r.t.Helper()
	var res response
	for attempt := 1; attempt <= idpMaxAttempts; attempt++ {
		if attempt > 1 {
			r.retries++
		}
		res = r.send(method, path, body)
		switch {
		case res.status < 300:
			return res
		case method == "DELETE" && res.status == http.StatusNotFound && attempt > 1:
			return res
		case !retryable(res.status):
			r.t.Fatalf("%s %s: status %d, which the IdP does not retry: %s", method, path, res.status, res.raw)
		}
		r.backOff(res)
	}
	r.t.Fatalf("%s %s: still %d after %d attempts: %s", method, path, res.status, idpMaxAttempts, res.raw)
	return res
}

// once sends a request the IdP does not repeat: a newer change for the
// same resource supersedes it.
func (r *mrun) once(method, path string, body any) response {
	r.t.Helper()
	res := r.send(method, path, body)
	r.t.Logf("%s %s (not retried): %d", method, path, res.status)
	return res
}

// lookup is the IdP's existence check: filter on a name attribute.
func (r *mrun) lookup(resource, attr, value string) (string, bool) {
	r.t.Helper()
	filter := url.QueryEscape(attr + ` eq "` + value + `"`)
	for attempt := 1; ; attempt++ {
		res := r.send("GET", "/"+resource+"?filter="+filter, nil)
		if res.status == http.StatusOK {
			list, _ := res.body["Resources"].([]any)
			if len(list) == 0 {
				return "", false
			}
			m, _ := list[0].(map[string]any)
			return str(m, "id"), true
		}
		if !retryable(res.status) || attempt == idpMaxAttempts {
			r.t.Fatalf("lookup %s %s: status %d: %s", resource, value, res.status, res.raw)
		}
		r.retries++
		r.backOff(res)
	}
}

// oktaCreate is Okta's create: look the resource up by name, POST it only
// when absent, and start over on 429, 5xx and 409.
func (r *mrun) oktaCreate(resource, attr, name string, body map[string]any) {
	r.t.Helper()
	for attempt := 1; attempt <= idpMaxAttempts; attempt++ {
		if attempt > 1 {
			r.retries++
		}
		if id, ok := r.lookup(resource, attr, name); ok {
			r.ids[name] = id
			return
		}
		res := r.send("POST", "/"+resource, body)
		switch {
		case res.status == http.StatusCreated:
			r.ids[name] = str(res.body, "id")
			return
		case res.status == http.StatusConflict:
		case retryable(res.status):
			r.backOff(res)
		default:
			r.t.Fatalf("create %s %s: status %d: %s", resource, name, res.status, res.raw)
		}
	}
	r.t.Fatalf("create %s %s: not created after %d attempts", resource, name, idpMaxAttempts)
}

func (r *mrun) oktaCreateUser(userName string) {
	r.t.Helper()
	r.oktaCreate("Users", "userName", userName, newUserBody(userName, "active", true))
}

func (r *mrun) oktaCreateGroup(name string, members ...string) {
	r.t.Helper()
	r.oktaCreate("Groups", "displayName", name, r.groupBody(name, members...))
}

func (r *mrun) groupBody(name string, members ...string) map[string]any {
	var list []any
	for _, m := range members {
		list = append(list, map[string]any{"value": r.id(m)})
	}
	return map[string]any{"schemas": []string{groupSchema}, "displayName": name, "members": list}
}

// Setup, before any fault.

func (r *mrun) must(status int, method, path string, body any) response {
	r.t.Helper()
	return r.e.must(status, method, path, body)
}

func (r *mrun) createUser(userName string) {
	r.t.Helper()
	r.ids[userName] = str(r.must(http.StatusCreated, "POST", "/Users", newUserBody(userName, "active", true)).body, "id")
}

func (r *mrun) createGroup(name string, members ...string) {
	r.t.Helper()
	r.ids[name] = str(r.must(http.StatusCreated, "POST", "/Groups", r.groupBody(name, members...)).body, "id")
}

// id is the SCIM id of a user or group the run created.
func (r *mrun) id(name string) string {
	r.t.Helper()
	id, ok := r.ids[name]
	if !ok {
		r.t.Fatalf("no id for %s", name)
	}
	return id
}

// The intended state.

// scimUser is a user as the bridge answers it.
type scimUser struct {
	id, userName, family string
	active               bool
}

// checkState compares UiPath, the bridge's answers and the store with
// want. Under the delete policy an inactive user has no UiPath account.
func (r *mrun) checkState(want intended, deleteInactive bool) {
	r.t.Helper()
	t, e := r.t, r.e

	// The bridge's answers.
	users := map[string][]scimUser{} // lower userName →
	userName := map[string]string{}  // SCIM id → userName
	for _, m := range r.list("Users") {
		u := scimUser{id: str(m, "id"), userName: str(m, "userName"), family: str(m, "name", "familyName"), active: m["active"] == true}
		users[strings.ToLower(u.userName)] = append(users[strings.ToLower(u.userName)], u)
		userName[u.id] = u.userName
	}
	groups := map[string][]map[string]any{} // displayName →
	for _, m := range r.list("Groups") {
		groups[str(m, "displayName")] = append(groups[str(m, "displayName")], m)
	}

	// UiPath.
	upUsers := map[string][]upstream.User{}
	upName := map[string]string{}
	for _, u := range e.emu.Users() {
		upUsers[strings.ToLower(u.UserName)] = append(upUsers[strings.ToLower(u.UserName)], u)
		upName[strings.ToLower(u.ID)] = u.UserName
	}
	upGroups := map[string][]upstream.Group{}
	for _, g := range e.emu.Groups() {
		if g.Type != upstream.GroupTypeBuiltIn {
			upGroups[g.Name] = append(upGroups[g.Name], g)
		}
	}

	for name, w := range want.users {
		key := strings.ToLower(name)
		got := users[key]
		if len(got) != 1 {
			t.Errorf("user %s: the bridge lists %d, want 1", name, len(got))
			continue
		}
		s := got[0]
		if s.active != w.active || s.family != w.family {
			t.Errorf("user %s: the bridge says active=%v familyName=%q, want active=%v %q", name, s.active, s.family, w.active, w.family)
		}
		ups := upUsers[key]
		if deleteInactive && !w.active {
			if len(ups) != 0 {
				t.Errorf("user %s: a leaver under the delete policy still has %d UiPath account(s), active=%v", name, len(ups), ups[0].IsActive)
			}
			continue
		}
		switch {
		case len(ups) == 0:
			t.Errorf("user %s: no UiPath account", name)
			continue
		case len(ups) > 1:
			t.Errorf("user %s: %d UiPath accounts (duplicate)", name, len(ups))
		}
		u := ups[0]
		if !strings.EqualFold(u.ID, s.id) {
			t.Errorf("user %s: the bridge links %s, UiPath's account is %s", name, s.id, u.ID)
		}
		if u.IsActive && !w.active {
			t.Errorf("user %s: LEAVER ACTIVE in UiPath (the bridge says active=%v)", name, s.active)
		} else if u.IsActive != w.active {
			t.Errorf("user %s: UiPath active=%v, want %v", name, u.IsActive, w.active)
		}
		if deref(u.Surname) != w.family {
			t.Errorf("user %s: UiPath surname %q, want %q", name, deref(u.Surname), w.family)
		}
	}
	for key, list := range users {
		if !wantsUser(want, key) {
			t.Errorf("the bridge lists unintended user %s (%d)", list[0].userName, len(list))
		}
	}
	for key, list := range upUsers {
		if !wantsUser(want, key) {
			t.Errorf("UiPath has unintended account(s) %s: %d", list[0].UserName, len(list))
		}
	}

	for name, members := range want.groups {
		got := groups[name]
		if len(got) != 1 {
			t.Errorf("group %s: the bridge lists %d, want 1", name, len(got))
			continue
		}
		gid := str(got[0], "id")
		wantMembers := sortedFold(members)
		if m := names(memberValues(got[0]), userName); !slices.Equal(m, wantMembers) {
			t.Errorf("group %s: the bridge lists members %v, want %v", name, m, wantMembers)
		}
		ups := upGroups[name]
		switch {
		case len(ups) == 0:
			t.Errorf("group %s: not in UiPath", name)
			continue
		case len(ups) > 1:
			t.Errorf("group %s: %d UiPath groups (duplicate)", name, len(ups))
		}
		g := ups[0]
		if !strings.EqualFold(g.ID, gid) {
			t.Errorf("group %s: the bridge links %s, UiPath's group is %s", name, gid, g.ID)
		}
		upMembers := e.emu.GroupMemberIDs(g.ID)
		if m := names(upMembers, upName); !slices.Equal(m, wantMembers) {
			t.Errorf("group %s: UiPath members %v, want %v", name, m, wantMembers)
		}
		if store := memberValues(got[0]); !sameIDs(store, upMembers) {
			t.Errorf("group %s: MEMBERSHIP DISAGREES: the store has %v, UiPath %v", name, store, upMembers)
		}
	}
	for name := range groups {
		if _, ok := want.groups[name]; !ok {
			t.Errorf("the bridge lists unintended group %s", name)
		}
	}
	for name, list := range upGroups {
		if _, ok := want.groups[name]; !ok {
			t.Errorf("UiPath has unintended group(s) %s: %d", name, len(list))
		}
	}
	r.checkStore(users, groups)
}

// checkStore compares the store's records with the bridge's answers: the
// same users and groups, the same members, and a user → group index that
// agrees with the groups.
func (r *mrun) checkStore(users map[string][]scimUser, groups map[string][]map[string]any) {
	r.t.Helper()
	t, ctx := r.t, r.t.Context()
	nUsers := 0
	for _, l := range users {
		nUsers += len(l)
	}
	up, err := r.e.store.List(ctx, cache.KindUser, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(up.Records) != nUsers {
		t.Errorf("the store holds %d users, the bridge lists %d", len(up.Records), nUsers)
	}
	gp, err := r.e.store.List(ctx, cache.KindGroup, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	memberOf := map[string][]string{}
	for _, g := range gp.Records {
		scim := groups[g.Name]
		if len(scim) != 1 || str(scim[0], "id") != g.ID {
			t.Errorf("the store's group %s %s is not what the bridge lists", g.ID, g.Name)
		} else if m := memberValues(scim[0]); !sameIDs(m, g.Members) {
			t.Errorf("group %s: the store holds members %v, the bridge lists %v", g.Name, g.Members, m)
		}
		for _, m := range g.Members {
			memberOf[m] = append(memberOf[m], g.ID)
		}
	}
	for _, u := range up.Records {
		got, err := r.e.store.GroupsOf(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !sameIDs(got, memberOf[u.ID]) {
			t.Errorf("user %s: the store's group index says %v, the groups say %v", u.Name, got, memberOf[u.ID])
		}
	}
}

// list returns every resource the bridge lists.
func (r *mrun) list(resource string) []map[string]any {
	r.t.Helper()
	res := r.e.must(http.StatusOK, "GET", "/"+resource+"?count=1000", nil)
	var out []map[string]any
	list, _ := res.body["Resources"].([]any)
	for _, item := range list {
		m, _ := item.(map[string]any)
		out = append(out, m)
	}
	return out
}

func wantsUser(want intended, lowerName string) bool {
	for name := range want.users {
		if strings.ToLower(name) == lowerName {
			return true
		}
	}
	return false
}

// names maps ids to lower-case names (unknown ids kept as "?id"), sorted.
func names(ids []string, byID map[string]string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		n, ok := byID[id]
		if !ok {
			n, ok = byID[strings.ToLower(id)]
		}
		if !ok {
			n = "?" + id
		}
		out = append(out, strings.ToLower(n))
	}
	slices.Sort(out)
	return out
}

func sortedFold(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.ToLower(v)
	}
	slices.Sort(out)
	return out
}

// sameIDs compares two id sets, ignoring order and case.
func sameIDs(a, b []string) bool {
	return slices.Equal(sortedFold(a), sortedFold(b))
}

// logMatrixStats logs what every case cost, and the totals per operation
// and fault.
func logMatrixStats(t *testing.T, stats []caseStats) {
	sort.Slice(stats, func(i, j int) bool { return stats[i].name < stats[j].name })
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-62s %-5s %8s %8s %6s %6s\n", "case", "", "idp-req", "retries", "calls", "op")
	count := map[string]int{}
	for _, s := range stats {
		fmt.Fprintf(&b, "%-62s %-5s %8d %8d %6d %6d\n", s.name, s.outcome, s.idpRequests, s.idpRetries, s.calls, s.opCalls)
		count[s.outcome]++
	}
	fmt.Fprintf(&b, "%d cases: %d pass, %d fail, %d skip\n", len(stats), count["pass"], count["fail"], count["skip"])
	t.Log(b.String())
}
