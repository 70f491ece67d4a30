package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/upstream"
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
	// fixed counts, by method, the calls no plan can merge: creates (POST),
	// deactivations (PUT) and deletions (DELETE).
	fixed map[string]int
	// perRequest and perRequestExpected are the membership calls of the
	// phase's PATCHes each planned on its own: auto's plan (the minimum)
	// and the configured strategy's.
	perRequest, perRequestExpected int
	// changes are all the phase's membership changes.
	changes []mapping.Change
	// minimum is the fewest upstream calls by method, expected what the
	// strategy should spend (equal under auto); set by finish. With
	// -writes sync the membership calls in them are per request, with
	// queued those of one plan over all the phase's changes.
	minimum, expected map[string]int
	// globalMin is the minimum vertex cover of all the phase's membership
	// changes taken together (-1 when the phase has none), and reference
	// globalMin plus the fixed calls: the fewest writes of the phase.
	globalMin, reference int
	wall                 time.Duration
	lastAnswer           time.Time // when the phase's last IdP request ended
	// again counts the PUTs to a user or group already written in the
	// phase, and againRes those resources.
	again, againRes int
	drain           drain // how the wait for an empty queue ended
	bridge          usage // CPU spent in the phase, peak RSS so far
	harnessCPU      time.Duration
	leavers         *leaverReport // the leaver phase only
}

// finish sets the phase's minimum, expectation and reference from its
// fixed calls and membership changes, for the writes mode o.writes.
func (p *phase) finish(o options) {
	p.globalMin = -1
	global := 0
	if len(p.changes) > 0 {
		p.globalMin = len(mapping.PlanMembership(mapping.StrategyAuto, p.changes))
		global = len(mapping.PlanMembership(o.strategy, p.changes))
	}
	p.minimum, p.expected = maps.Clone(p.fixed), maps.Clone(p.fixed)
	if o.writes == mapping.WritesQueued {
		p.minimum[http.MethodPut] += max(p.globalMin, 0)
		p.expected[http.MethodPut] += global
	} else {
		p.minimum[http.MethodPut] += p.perRequest
		p.expected[http.MethodPut] += p.perRequestExpected
	}
	p.reference = sum(p.fixed) + max(p.globalMin, 0)
}

// writes is the phase's upstream calls other than reads.
func (p *phase) writes() int { return sum(p.upstream) - p.upstream[http.MethodGet] }

// syncRun is one Entra-like initial sync against a bridge process.
type syncRun struct {
	opts   options
	emu    *emulator.Server
	bridge *bridgeProc
	idp    *idp
	// leaverIdP sends the leavers' deactivations on connections of their
	// own, so that they never queue behind the re-org's PATCHes in the
	// harness's own connection pool.
	leaverIdP *idp
	wl        *workload
	rng       *rand.Rand
	userIDs   []string // SCIM id per user index; "" if its create failed
	groupIDs  []string
	phases    []phase
	// The state the IdP asked for so far: members per group, users
	// deleted, users disabled.
	want     []map[int]bool
	deleted  map[int]bool
	disabled map[int]bool
	// lastWrite is when UiPath received the latest write so far.
	lastWrite time.Time
	// unmanaged are the ids (lower case) of the users the reconcile phase
	// seeded in UiPath behind the bridge's back, which it never manages.
	unmanaged map[string]bool
}

// budgetSpan is how long the bridge's budget counts a call: the window
// plus its pad.
func (r *syncRun) budgetSpan() time.Duration {
	return r.opts.window + upstream.BudgetPad(r.opts.window)
}

// waitBudgetClear waits until the latest write has left the budget's
// window.
func (r *syncRun) waitBudgetClear(ctx context.Context) {
	if r.lastWrite.IsZero() {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(time.Until(r.lastWrite.Add(r.budgetSpan()))):
	}
}

// syncPhase is one phase of the sync mode.
type syncPhase struct {
	name string
	run  func(r *syncRun, ctx context.Context, p *phase)
}

// syncPhases are the sync mode's phases, in order (-until names the last).
var syncPhases = []syncPhase{
	{"users", (*syncRun).usersPhase},
	{"groups", (*syncRun).groupsPhase},
	{"re-org", (*syncRun).reorgPhase},
	{"leavers", (*syncRun).leaversPhase},
	{"exit", (*syncRun).exitPhase},
}

// syncPhaseIndex is the position of the phase called name, or -1.
func syncPhaseIndex(name string) int {
	return slices.IndexFunc(syncPhases, func(ph syncPhase) bool { return ph.name == name })
}

// syncPhaseNames lists the phases' names, in order.
func syncPhaseNames() []string {
	names := make([]string, len(syncPhases))
	for i, ph := range syncPhases {
		names[i] = ph.name
	}
	return names
}

func (r *syncRun) run(ctx context.Context) error {
	phases := syncPhases[:syncPhaseIndex(r.opts.until)+1]
	var bad []error
	for _, ph := range phases {
		name := ph.name
		// Each phase starts with the whole budget, so that its wall time
		// compares with its own floor: the bridge's budget, like UiPath's
		// limit, still counts the previous phase's last writes for a window.
		r.waitBudgetClear(ctx)
		p := r.measure(ctx, name, func(ctx context.Context, p *phase) { ph.run(r, ctx, p) })
		r.phases = append(r.phases, p)
		printPhases(os.Stdout, r.opts, r.phases[len(r.phases)-1:], false)
		if p.leavers != nil {
			p.leavers.print(os.Stdout, p.name)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("phase %s: %w (deadline -timeout %v)", name, ctx.Err(), r.opts.timeout)
		}
		if p.drain.err != nil {
			return fmt.Errorf("after %s: the queue did not drain: %w", name, p.drain.err)
		}
		// The state the IdP asked for so far: with the queue empty,
		// UiPath must hold it.
		if err := r.checkState(ctx, name); err != nil {
			bad = append(bad, err)
		}
	}
	fmt.Println()
	printPhases(os.Stdout, r.opts, r.phases, true)
	for _, p := range r.phases {
		if p.leavers != nil {
			p.leavers.print(os.Stdout, p.name)
		}
	}
	if r.opts.reconcile && r.opts.until == "exit" && len(bad) == 0 {
		// Once the queue is empty and UiPath agreed with the IdP.
		if err := r.reconcilePhase(ctx); err != nil {
			bad = append(bad, err)
		}
		if err := r.checkState(ctx, "reconcile"); err != nil {
			bad = append(bad, err)
		}
	}
	return errors.Join(bad...)
}

// lastAnswer is when the IdP's latest request of either client ended.
func (r *syncRun) lastAnswer() time.Time {
	a, b := r.idp.lastAnswer(), r.leaverIdP.lastAnswer()
	if b.After(a) {
		return b
	}
	return a
}

// measure runs f as one phase, waits until the bridge's queue is empty,
// collects the phase's figures and checks UiPath's state.
//
// The wait: metricPending must read 0 on a scrape taken settleDelay or
// more after the phase's last IdP answer. With -writes queued the phase's
// wall time runs until that scrape: the IdP was answered before UiPath was
// written. With sync the bridge answers a change only once UiPath has it,
// so the wall time ends with the last answer, unless the first scrape
// still saw changes pending.
func (r *syncRun) measure(ctx context.Context, name string, f func(ctx context.Context, p *phase)) phase {
	p := phase{name: name, st: newStats(), fixed: map[string]int{}}
	before, _ := readUsage(r.bridge.pid())
	self, _ := readUsage(os.Getpid())
	start := time.Now()
	f(ctx, &p)
	answered := time.Now()
	p.lastAnswer = r.lastAnswer()
	p.drain = waitQueueEmpty(ctx, r.bridge.adminURL, p.lastAnswer.Add(settleDelay))
	switch {
	case p.drain.err != nil:
		p.wall = time.Since(start)
	case r.opts.writes == mapping.WritesQueued || p.drain.scrapes > 1:
		p.wall = p.drain.at.Sub(start)
	default:
		p.wall = answered.Sub(start)
	}
	after, _ := readUsage(r.bridge.pid())
	selfAfter, _ := readUsage(os.Getpid())
	p.bridge = usage{cpu: after.cpu - before.cpu, peakMB: after.peakMB}
	p.harnessCPU = selfAfter.cpu - self.cpu
	p.upstream = map[string]int{}
	reqs := r.emu.Requests()
	puts := map[string]int{}
	for _, req := range reqs {
		if req.Method == http.MethodPut && strings.HasPrefix(req.Path, "/api/") && req.Status != http.StatusTooManyRequests {
			puts[strings.ToLower(req.Path)]++
		}
		if !strings.HasPrefix(req.Path, "/api/") {
			continue // token calls are not rate-limited API calls
		}
		p.upstream[req.Method]++
		if req.Status == http.StatusTooManyRequests {
			p.throttled++
		}
		if slices.Contains(writeClasses, req.Method) && req.At.After(r.lastWrite) {
			r.lastWrite = req.At
		}
	}
	r.emu.ResetRequests()
	for _, n := range puts {
		if n > 1 {
			p.again += n - 1
			p.againRes++
		}
	}
	if p.leavers != nil {
		p.leavers.budgetAtSend(reqs, r.opts.window)
		if m, err := scrape(ctx, r.bridge.adminURL); err == nil {
			p.leavers.bridgeAfter = deprovisionSeconds(m)
		}
	}
	p.finish(r.opts)
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
	p.fixed[http.MethodPost] = r.wl.users
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
// -batch members and records their changes in the phase (and in the
// state the IdP asks for), with their cost planned per request: auto's
// plan (the minimum) and the strategy's.
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
				if add {
					r.want[g][u] = true
				} else {
					delete(r.want[g], u)
				}
			}
			p.perRequest += len(mapping.PlanMembership(mapping.StrategyAuto, j.changes))
			p.perRequestExpected += len(mapping.PlanMembership(r.opts.strategy, j.changes))
			p.changes = append(p.changes, j.changes...)
			jobs = append(jobs, j)
		}
	}
	return jobs
}

// runMembershipJobs sends jobs shuffled, as an IdP working through many
// groups at once sends them.
func (r *syncRun) runMembershipJobs(ctx context.Context, p *phase, jobs []membershipJob) {
	r.rng.Shuffle(len(jobs), func(i, k int) { jobs[i], jobs[k] = jobs[k], jobs[i] })
	fns := make([]func(context.Context), len(jobs))
	for i, j := range jobs {
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
	if r.opts.order == "grouped" {
		// As Okta's group push and Entra's per-group membership delta
		// send them: one group's PATCHes one after another, many groups
		// at once.
		byGroup := map[int][]func(context.Context){}
		var order []int
		for i, j := range jobs {
			if byGroup[j.group] == nil {
				order = append(order, j.group)
			}
			byGroup[j.group] = append(byGroup[j.group], fns[i])
		}
		fns = fns[:0]
		for _, g := range order {
			seq := byGroup[g]
			fns = append(fns, func(ctx context.Context) {
				for _, f := range seq {
					f(ctx)
				}
			})
		}
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
	p.fixed[http.MethodPost] = r.wl.groups
	runJobs(ctx, r.opts.concurrency, jobs)
	r.runMembershipJobs(ctx, p, r.planJobs(p, r.wl.members, true))
}

func (r *syncRun) reorgPhase(ctx context.Context, p *phase) {
	r.runMembershipJobs(ctx, p, append(r.planJobs(p, r.wl.moveOut, false), r.planJobs(p, r.wl.moveIn, true)...))
}

// disableBody is Entra's legacy deactivation.
func disableBody() map[string]any {
	return map[string]any{
		"schemas":    []any{patchURN},
		"Operations": []any{map[string]any{"op": "Replace", "path": "active", "value": "False"}},
	}
}

func (r *syncRun) exitPhase(ctx context.Context, p *phase) {
	var jobs []func(context.Context)
	for _, u := range r.wl.exits {
		id := r.userIDs[u]
		if id == "" {
			continue
		}
		p.fixed[http.MethodPut]++ // the disable
		p.fixed[http.MethodDelete]++
		r.disabled[u], r.deleted[u] = true, true
		jobs = append(jobs, func(ctx context.Context) {
			if !r.idp.do(ctx, p.st, http.MethodPatch, "/Users/"+id, disableBody(), nil) {
				return
			}
			r.idp.do(ctx, p.st, http.MethodDelete, "/Users/"+id, nil, nil)
		})
	}
	runJobs(ctx, r.opts.concurrency, jobs)
}

// checkState compares UiPath (the emulator) and the bridge with what the
// IdP asked for up to the end of phase name: every group's members in
// UiPath and in the bridge (SCIM GET /Groups/{id}), the users UiPath has,
// and which of them are disabled.
func (r *syncRun) checkState(ctx context.Context, name string) error {
	st := newStats()
	var bad []string
	groups := 0
	for g := range r.wl.groups {
		if r.groupIDs[g] == "" {
			continue
		}
		groups++
		var wantIDs []string
		for u := range r.want[g] {
			if !r.deleted[u] && r.userIDs[u] != "" {
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
	wantUsers, wantDisabled := 0, map[string]bool{}
	for u, id := range r.userIDs {
		if id == "" || r.deleted[u] {
			continue
		}
		wantUsers++
		if r.disabled[u] {
			wantDisabled[strings.ToLower(id)] = true
		}
	}
	users := slices.DeleteFunc(r.emu.Users(), func(u upstream.User) bool { return r.unmanaged[strings.ToLower(u.ID)] })
	if len(users) != wantUsers {
		bad = append(bad, fmt.Sprintf("UiPath has %d users, want %d", len(users), wantUsers))
	}
	for _, u := range users {
		id := strings.ToLower(u.ID)
		switch {
		case u.IsActive && wantDisabled[id]:
			bad = append(bad, fmt.Sprintf("user %s is active in UiPath, want disabled", id))
		case !u.IsActive && !wantDisabled[id]:
			bad = append(bad, fmt.Sprintf("user %s is disabled in UiPath, want active", id))
		}
	}
	if len(bad) > 0 {
		if len(bad) > 10 {
			bad = append(bad[:10], fmt.Sprintf("… and %d more", len(bad)-10))
		}
		err := fmt.Errorf("after %s, the state differs from the IdP's:\n  %s", name, strings.Join(bad, "\n  "))
		fmt.Printf("state after %s: %v\n", name, err)
		return err
	}
	fmt.Printf("state after %s: UiPath and the bridge agree with the IdP: %d users (%d disabled), %d groups, every member list equal\n",
		name, wantUsers, len(wantDisabled), groups)
	return nil
}
