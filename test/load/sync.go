package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// The HTTP methods of UiPath's rate-limit classes, in table order.
var classes = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete}

// limits are UiPath's documented counts per window (upstream-api.md §10),
// the emulator's and the bridge's defaults.
var limits = map[string]int{http.MethodGet: 300, http.MethodPost: 24000, http.MethodPut: 160, http.MethodDelete: 160}

const (
	userURN       = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupURN      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	patchURN      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
)

// phase is the outcome of one phase of the sync.
type phase struct {
	name string
	st   *stats
	// upstream counts the emulator's API calls by method; throttled the
	// calls it answered 429.
	upstream  map[string]int
	throttled int
	// minimum is the theoretical minimum of upstream calls by method;
	// expected what the strategy should spend (equal under auto).
	minimum, expected map[string]int
	// globalMin is the minimum vertex cover of all the phase's membership
	// changes taken together (-1 when the phase has none).
	globalMin  int
	wall       time.Duration
	bridge     usage // CPU spent in the phase, peak RSS so far
	harnessCPU time.Duration
}

// syncRun is one Entra-like initial sync against a bridge process.
type syncRun struct {
	opts     options
	emu      *emulator.Server
	bridge   *bridgeProc
	idp      *idp
	wl       *workload
	rng      *rand.Rand
	userIDs  []string // SCIM id per user index; "" if its create failed
	groupIDs []string
	phases   []phase
}

func (r *syncRun) run(ctx context.Context) error {
	phases := []struct {
		name string
		f    func(ctx context.Context, p *phase)
	}{
		{"users", r.usersPhase},
		{"groups", r.groupsPhase},
		{"re-org", r.reorgPhase},
		{"exit", r.exitPhase},
	}
	for _, ph := range phases {
		p := r.measure(ctx, ph.name, ph.f)
		r.phases = append(r.phases, p)
		printPhases(os.Stdout, r.opts, r.phases[len(r.phases)-1:], false)
		if ctx.Err() != nil {
			return fmt.Errorf("phase %s: %w (deadline -timeout %v)", ph.name, ctx.Err(), r.opts.timeout)
		}
	}
	fmt.Println()
	printPhases(os.Stdout, r.opts, r.phases, true)
	return r.check(ctx)
}

// measure runs f as one phase and collects its figures.
func (r *syncRun) measure(ctx context.Context, name string, f func(ctx context.Context, p *phase)) phase {
	p := phase{name: name, st: newStats(), minimum: map[string]int{}, expected: map[string]int{}, globalMin: -1}
	before, _ := readUsage(r.bridge.pid())
	self, _ := readUsage(os.Getpid())
	start := time.Now()
	f(ctx, &p)
	p.wall = time.Since(start)
	after, _ := readUsage(r.bridge.pid())
	selfAfter, _ := readUsage(os.Getpid())
	p.bridge = usage{cpu: after.cpu - before.cpu, peakMB: after.peakMB}
	p.harnessCPU = selfAfter.cpu - self.cpu
	p.upstream = map[string]int{}
	for _, req := range r.emu.Requests() {
		if !strings.HasPrefix(req.Path, "/api/") {
			continue // token calls are not rate-limited API calls
		}
		p.upstream[req.Method]++
		if req.Status == http.StatusTooManyRequests {
			p.throttled++
		}
	}
	r.emu.ResetRequests()
	return p
}

// entraUser is the body Entra ID POSTs for user i (idp-traffic.md §B.2),
// nulls and empty arrays included.
func entraUser(i int) map[string]any {
	name := userName(i)
	return map[string]any{
		"schemas":      []any{userURN, enterpriseURN},
		"externalId":   fmt.Sprintf("user%06d", i),
		"userName":     name,
		"active":       true,
		"displayName":  fmt.Sprintf("User %06d", i),
		"emails":       []any{map[string]any{"primary": true, "type": "work", "value": name}},
		"meta":         map[string]any{"resourceType": "User"},
		"name":         map[string]any{"formatted": fmt.Sprintf("User %06d", i), "familyName": fmt.Sprintf("%06d", i), "givenName": "User"},
		"roles":        []any{},
		"phoneNumbers": nil,
		"title":        nil,
		"manager":      nil,
		enterpriseURN:  map[string]any{"employeeNumber": fmt.Sprint(100000 + i), "department": fmt.Sprintf("Dept %d", i%37)},
	}
}

func filterQuery(attr, value string, extra string) string {
	q := "filter=" + url.QueryEscape(fmt.Sprintf(`%s eq "%s"`, attr, value))
	if extra != "" {
		q = extra + "&" + q
	}
	return "?" + q
}

type created struct {
	ID string `json:"id"`
}

func (r *syncRun) usersPhase(ctx context.Context, p *phase) {
	jobs := make([]func(context.Context), r.wl.users)
	for i := range r.wl.users {
		jobs[i] = func(ctx context.Context) {
			if !r.idp.do(ctx, p.st, http.MethodGet, "/Users"+filterQuery("userName", userName(i), ""), nil, nil) {
				return
			}
			var c created
			if r.idp.do(ctx, p.st, http.MethodPost, "/Users", entraUser(i), &c) {
				r.userIDs[i] = c.ID
			}
		}
	}
	p.minimum[http.MethodPost] = r.wl.users
	p.expected[http.MethodPost] = r.wl.users
	runJobs(ctx, r.opts.concurrency, jobs)
}

// membershipJob is one member PATCH on a group and its planned cost.
type membershipJob struct {
	group   int
	users   []int
	add     bool
	changes []mapping.Change
}

// planJobs turns per-group member lists into PATCH jobs of at most
// -batch members, records their minimum (per request: the planner's auto
// plan for that request's changes) and the strategy's expectation, and
// returns them shuffled, as an IdP working through many groups at once
// sends them.
func (r *syncRun) planJobs(p *phase, perGroup [][]int, add bool) []membershipJob {
	var jobs []membershipJob
	for g, users := range perGroup {
		if r.groupIDs[g] == "" {
			continue
		}
		var known []int
		for _, u := range users {
			if r.userIDs[u] != "" {
				known = append(known, u)
			}
		}
		for _, b := range batches(known, r.opts.batch) {
			j := membershipJob{group: g, users: b, add: add}
			for _, u := range b {
				j.changes = append(j.changes, mapping.Change{User: r.userIDs[u], Group: r.groupIDs[g], Add: add})
			}
			p.minimum[http.MethodPut] += len(mapping.PlanMembership(mapping.StrategyAuto, j.changes))
			p.expected[http.MethodPut] += len(mapping.PlanMembership(r.opts.strategy, j.changes))
			jobs = append(jobs, j)
		}
	}
	return jobs
}

func (r *syncRun) runMembershipJobs(ctx context.Context, p *phase, jobs []membershipJob) {
	r.rng.Shuffle(len(jobs), func(i, k int) { jobs[i], jobs[k] = jobs[k], jobs[i] })
	var all []mapping.Change
	fns := make([]func(context.Context), len(jobs))
	for i, j := range jobs {
		all = append(all, j.changes...)
		op := "Add"
		if !j.add {
			op = "Remove" // Entra's legacy removal: a value array on path members
		}
		values := make([]any, len(j.users))
		for k, u := range j.users {
			values[k] = map[string]any{"$ref": nil, "value": r.userIDs[u]}
		}
		body := map[string]any{
			"schemas":    []any{patchURN},
			"Operations": []any{map[string]any{"op": op, "path": "members", "value": values}},
		}
		fns[i] = func(ctx context.Context) {
			r.idp.do(ctx, p.st, http.MethodPatch, "/Groups/"+r.groupIDs[j.group], body, nil)
		}
	}
	if len(all) > 0 {
		p.globalMin = len(mapping.PlanMembership(mapping.StrategyAuto, all))
	}
	runJobs(ctx, r.opts.concurrency, fns)
}

func (r *syncRun) groupsPhase(ctx context.Context, p *phase) {
	jobs := make([]func(context.Context), r.wl.groups)
	for g := range r.wl.groups {
		jobs[g] = func(ctx context.Context) {
			name := groupName(g)
			if !r.idp.do(ctx, p.st, http.MethodGet, "/Groups"+filterQuery("displayName", name, "excludedAttributes=members"), nil, nil) {
				return
			}
			body := map[string]any{
				"schemas": []any{groupURN}, "externalId": fmt.Sprintf("grp-%04d", g),
				"displayName": name, "meta": map[string]any{"resourceType": "Group"},
			}
			var c created
			if r.idp.do(ctx, p.st, http.MethodPost, "/Groups", body, &c) {
				r.groupIDs[g] = c.ID
			}
		}
	}
	p.minimum[http.MethodPost] = r.wl.groups
	p.expected[http.MethodPost] = r.wl.groups
	runJobs(ctx, r.opts.concurrency, jobs)
	r.runMembershipJobs(ctx, p, r.planJobs(p, r.wl.members, true))
}

func (r *syncRun) reorgPhase(ctx context.Context, p *phase) {
	jobs := append(r.planJobs(p, r.wl.moveOut, false), r.planJobs(p, r.wl.moveIn, true)...)
	r.runMembershipJobs(ctx, p, jobs)
}

func (r *syncRun) exitPhase(ctx context.Context, p *phase) {
	var jobs []func(context.Context)
	for _, u := range r.wl.exits {
		id := r.userIDs[u]
		if id == "" {
			continue
		}
		p.minimum[http.MethodPut]++ // the disable
		p.minimum[http.MethodDelete]++
		jobs = append(jobs, func(ctx context.Context) {
			body := map[string]any{
				"schemas":    []any{patchURN},
				"Operations": []any{map[string]any{"op": "Replace", "path": "active", "value": "False"}},
			}
			if !r.idp.do(ctx, p.st, http.MethodPatch, "/Users/"+id, body, nil) {
				return
			}
			r.idp.do(ctx, p.st, http.MethodDelete, "/Users/"+id, nil, nil)
		})
	}
	p.expected[http.MethodPut] = p.minimum[http.MethodPut]
	p.expected[http.MethodDelete] = p.minimum[http.MethodDelete]
	runJobs(ctx, r.opts.concurrency, jobs)
}

// check compares every group's members in UiPath (the emulator) and in the
// bridge (SCIM GET /Groups/{id}) with what the IdP asked for.
func (r *syncRun) check(ctx context.Context) error {
	exited := map[int]bool{}
	for _, u := range r.wl.exits {
		exited[u] = true
	}
	st := newStats()
	var bad []string
	for g := range r.wl.groups {
		if r.groupIDs[g] == "" {
			continue
		}
		want := map[int]bool{}
		for _, u := range r.wl.members[g] {
			want[u] = true
		}
		for _, u := range r.wl.moveOut[g] {
			delete(want, u)
		}
		for _, u := range r.wl.moveIn[g] {
			want[u] = true
		}
		var wantIDs []string
		for u := range want {
			if !exited[u] && r.userIDs[u] != "" {
				wantIDs = append(wantIDs, strings.ToLower(r.userIDs[u]))
			}
		}
		slices.Sort(wantIDs)
		var upIDs []string
		for _, id := range r.emu.GroupMemberIDs(r.groupIDs[g]) {
			upIDs = append(upIDs, strings.ToLower(id))
		}
		slices.Sort(upIDs)
		if !slices.Equal(upIDs, wantIDs) {
			bad = append(bad, fmt.Sprintf("%s: UiPath has %d members, want %d", groupName(g), len(upIDs), len(wantIDs)))
		}
		var got struct {
			Members []struct {
				Value string `json:"value"`
			} `json:"members"`
		}
		if !r.idp.do(ctx, st, http.MethodGet, "/Groups/"+r.groupIDs[g], nil, &got) {
			bad = append(bad, fmt.Sprintf("%s: GET failed: %v", groupName(g), st.failures))
			continue
		}
		var scimIDs []string
		for _, m := range got.Members {
			scimIDs = append(scimIDs, strings.ToLower(m.Value))
		}
		slices.Sort(scimIDs)
		if !slices.Equal(scimIDs, wantIDs) {
			bad = append(bad, fmt.Sprintf("%s: the bridge reports %d members, want %d", groupName(g), len(scimIDs), len(wantIDs)))
		}
	}
	wantUsers := 0
	for u, id := range r.userIDs {
		if id != "" && !exited[u] {
			wantUsers++
		}
	}
	if n := len(r.emu.Users()); n != wantUsers {
		bad = append(bad, fmt.Sprintf("UiPath has %d users, want %d", n, wantUsers))
	}
	if len(bad) > 0 {
		if len(bad) > 10 {
			bad = append(bad[:10], fmt.Sprintf("… and %d more", len(bad)-10))
		}
		return fmt.Errorf("final state differs from the IdP's:\n  %s", strings.Join(bad, "\n  "))
	}
	fmt.Printf("state check: UiPath and the bridge agree with the IdP: %d users, %d groups, every member list equal\n", wantUsers, r.wl.groups)
	return nil
}
