package mapping

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// Reconciliation (DESIGN.md "Reconciliation") compares the desired state
// the store holds (what the IdP provisioned) with what UiPath holds, read
// in bulk through the list endpoints, and repairs the difference: profile
// and isActive changes by PUT, lost users and groups recreated under the
// same id, membership drift through the write scheduler's queue. It never
// touches what the bridge does not manage (robots, directory principals,
// built-in groups, accounts and groups it neither created nor adopted,
// records imported but not yet confirmed by the IdP), and it refuses a pass
// whose repairs would remove access from more users than a threshold, or
// that rests on a listing much smaller than the store expects.

// Drift kinds a pass reports.
const (
	DriftMissing           = "missing"            // a managed object UiPath lacks
	DriftProfile           = "profile"            // name, surname, displayName or email differ
	DriftActive            = "active"             // isActive differs (a leaver active in UiPath first)
	DriftMembershipMissing = "membership_missing" // a desired member UiPath lacks
	DriftMembershipExtra   = "membership_extra"   // a managed user UiPath has in a group the IdP did not put them in
	DriftRenamed           = "renamed"            // a managed group's name differs
	DriftUnmanaged         = "unmanaged"          // UiPath holds it, the bridge does not manage it
)

// What a pass did about one drift.
const (
	// ActionRepaired: UiPath confirmed the repair during the pass.
	ActionRepaired = "repaired"
	// ActionPlanned: the repair is queued; the write scheduler sends it.
	ActionPlanned = "planned"
	// ActionReported: the pass did not and will not act on it (a dry run,
	// a refused pass, an object the bridge does not manage, or a resource
	// the IdP changed during the pass).
	ActionReported = "reported"
	// ActionFailed: the repair was tried and did not succeed.
	ActionFailed = "failed"
)

// ReconcileOptions are the choices of one pass.
type ReconcileOptions struct {
	// DryRun compares and reports, and writes nothing to UiPath or the
	// store.
	DryRun bool
	// Import rebuilds store records, marked imported, for UiPath's local
	// users and custom groups the store does not know (after a store
	// loss), so that the IdP's next lookups find them.
	Import bool
	// MaxChanges bounds the users a pass may remove access from
	// (deactivate, delete, remove from a group) without Force. When zero,
	// MaxChangesPercent of the managed users (zero: 5%) applies, and at
	// least 10.
	MaxChanges        int
	MaxChangesPercent float64
	// Force lifts the MaxChanges limit (the listing guards still apply).
	Force bool
	// DrainWait bounds how long the pass waits for the scheduler to send
	// its membership repairs before reporting them as planned; zero → 2
	// minutes.
	DrainWait time.Duration
}

// Drift is one difference a pass found, and what it did about it.
type Drift struct {
	Kind     string `json:"kind"`
	Resource string `json:"resource"` // user or group
	ID       string `json:"id"`
	Name     string `json:"name,omitempty"`
	Group    string `json:"group,omitempty"` // membership kinds: the group's id
	Action   string `json:"action"`
	Detail   string `json:"detail,omitempty"`
	leaver   bool   // removes a leaver's access: reported and repaired first
}

// Population counts one resource type on both sides.
type Population struct {
	Managed int `json:"managed"` // store records the IdP provisioned (imported ones not counted)
	UiPath  int `json:"uipath"`  // UiPath's local users, or its custom groups
}

// ImportCounts counts what --import brought into the store.
type ImportCounts struct {
	Users  int `json:"users"`
	Groups int `json:"groups"`
}

// ReconcileReport is the outcome of one pass (the JSON `reconcile --json`
// prints and the admin API returns).
type ReconcileReport struct {
	PassID     string    `json:"passId"`
	DryRun     bool      `json:"dryRun"`
	StartedAt  time.Time `json:"startedAt"`
	FinishedAt time.Time `json:"finishedAt"`
	// UpstreamCalls counts the pass's UiPath requests per method, retries
	// included; MinimumGets is the fewest GETs that read the organization.
	UpstreamCalls map[string]int `json:"upstreamCalls"`
	MinimumGets   int            `json:"minimumGets"`
	Users         Population     `json:"users"`
	Groups        Population     `json:"groups"`
	// Imported counts the records --import created.
	Imported ImportCounts `json:"imported"`
	Drift    []Drift      `json:"drift"`
	// Refused says why the pass wrote nothing; nil when it was not refused.
	Refused *string `json:"refused"`
}

// Remaining counts the drift the pass left: everything not repaired except
// what the bridge does not manage (which is only ever reported).
func (r ReconcileReport) Remaining() int {
	n := 0
	for _, d := range r.Drift {
		if d.Kind != DriftUnmanaged && d.Action != ActionRepaired {
			n++
		}
	}
	return n
}

// ExitCode is the command's exit status for the report: 0 in sync after
// the pass, 1 drift remains, 2 refused.
func (r ReconcileReport) ExitCode() int {
	switch {
	case r.Refused != nil:
		return 2
	case r.Remaining() > 0:
		return 1
	}
	return 0
}

// ErrPassRunning is returned when another reconciliation pass holds the
// store's lease.
var ErrPassRunning = errors.New("another reconciliation pass is running")

// passLeaseWait is how long a pass waits for the lease before giving up:
// passes are nightly, so a running one means this one is not needed.
const passLeaseWait = 2 * time.Second

const defaultDrainWait = 2 * time.Minute

// uiPathState is what one pass read from UiPath.
type uiPathState struct {
	users  map[string]upstream.User  // local users by id
	groups map[string]upstream.Group // custom groups by id
	// members of each group: local users whose groupIDs name it.
	members map[string]map[string]bool
}

// storeState is what one pass read from the store.
type storeState struct {
	users   map[string]cache.Record
	groups  map[string]cache.Record
	pending map[[2]string]bool // (group, user) pairs the scheduler owns
}

// pass is one reconciliation pass in progress.
type pass struct {
	p      *Provisioner
	opt    ReconcileOptions
	rep    *ReconcileReport
	store  storeState
	up     uiPathState
	policy string
	// repairs, in the order they are made.
	users   []userRepair
	groups  []groupRepair
	members map[string]*memberRepair // by group id
	// unmanaged are the findings of UiPath objects the store lacks, by id
	// (indexes into rep.Drift), which --import turns into records.
	unmanaged map[string]int
	// recreated are the users whose lost account the pass recreated.
	recreated []string
	// pageSize is the size of UiPath's user pages (the first page's).
	pageSize int
	// expectUsers counts the managed users UiPath should list, foundUsers
	// those it does (compareUser counts them for guard).
	expectUsers, foundUsers int
}

// userRepair is the drift of one managed user and the call that repairs it.
type userRepair struct {
	rec    cache.Record
	want   profile
	has    *upstream.User // nil: UiPath lacks the account
	drifts []int          // indexes into rep.Drift
	leaver bool           // removes access (deactivate or delete)
}

type groupRepair struct {
	rec    cache.Record
	has    *upstream.Group
	drifts []int
}

type memberRepair struct {
	rec         cache.Record
	add, remove []string
	drifts      map[[2]string]int // (user, add/remove) → index into rep.Drift
}

// Reconcile runs one reconciliation pass. The returned error means the
// pass could not run (UiPath or the store unreachable, another pass
// running); a refused pass is a report with Refused set and no error.
func (p *Provisioner) Reconcile(ctx context.Context, opt ReconcileOptions) (rep ReconcileReport, err error) {
	rep = ReconcileReport{PassID: p.cfg.NewID(), DryRun: opt.DryRun, StartedAt: p.cfg.Now().UTC(), Drift: []Drift{}}
	var calls upstream.CallLog
	ctx = upstream.WithCallLog(ctx, &calls)
	defer func() {
		rep.UpstreamCalls = calls.Counts()
		rep.FinishedAt = p.cfg.Now().UTC()
	}()
	// One pass per provisioner; the store's lease makes it one per
	// organization.
	if !p.reconciling.CompareAndSwap(false, true) {
		return rep, ErrPassRunning
	}
	defer p.reconciling.Store(false)
	if l, ok := p.store.(cache.Locker); ok {
		lctx, cancel := context.WithTimeout(ctx, passLeaseWait)
		unlock, err := l.Lock(lctx, "reconcile", p.cfg.LockTTL)
		cancel()
		if err != nil {
			if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
				return rep, ErrPassRunning
			}
			return rep, fmt.Errorf("reconcile lease: %w", err)
		}
		defer unlock()
	}
	ps := &pass{p: p, opt: opt, rep: &rep, policy: p.cfg.Deprovision, members: map[string]*memberRepair{}, unmanaged: map[string]int{}}
	// The store first: a record written after this snapshot changes its
	// version, and a repair of a record whose version changed is left to
	// the IdP's change (see checkUnchanged).
	if err := ps.readStore(ctx); err != nil {
		return rep, err
	}
	if err := ps.readUiPath(ctx); err != nil {
		return rep, err
	}
	ps.compare()
	if reason := ps.guard(); reason != "" {
		rep.Refused = &reason
		p.log.WarnContext(ctx, "reconcile: pass refused; nothing written", "pass", rep.PassID, "reason", reason)
		ps.finishUnacted()
		if !opt.DryRun {
			// A refusal is a decision an operator must be able to find.
			p.audit(ctx, cache.AuditEntry{IdP: ActorReconcile, Operation: OpReconcile, ID: rep.PassID,
				Outcome: cache.AuditRefused, Detail: reason, PassID: rep.PassID})
		}
		return rep, nil
	}
	if opt.DryRun {
		ps.finishUnacted()
		return rep, nil
	}
	ps.repair(ctx)
	if opt.Import {
		ps.importUnmanaged(ctx)
	}
	sortDrift(rep.Drift)
	p.log.InfoContext(ctx, "reconcile: pass done", "pass", rep.PassID, "drift", len(rep.Drift),
		"remaining", rep.Remaining(), "gets", calls.Counts()["GET"])
	return rep, nil
}

// readStore snapshots every record and every pending pair.
func (ps *pass) readStore(ctx context.Context) error {
	ps.store = storeState{users: map[string]cache.Record{}, groups: map[string]cache.Record{}, pending: map[[2]string]bool{}}
	for _, kind := range []cache.Kind{cache.KindUser, cache.KindGroup} {
		dst := ps.store.users
		if kind == cache.KindGroup {
			dst = ps.store.groups
		}
		for off := 0; ; {
			page, err := ps.p.store.List(ctx, kind, off, 1000)
			if err != nil {
				return fmt.Errorf("reconcile: read the store's %ss: %w", kind, err)
			}
			for _, r := range page.Records {
				dst[r.ID] = r
			}
			off += len(page.Records)
			if len(page.Records) == 0 || off >= page.Total {
				break
			}
		}
	}
	pend, err := ps.p.store.PendingChanges(ctx)
	if err != nil {
		return fmt.Errorf("reconcile: read the queue: %w", err)
	}
	for _, c := range pend {
		ps.store.pending[[2]string{c.Group, c.User}] = true
	}
	for _, r := range ps.store.users {
		if !r.Imported {
			ps.rep.Users.Managed++
		}
	}
	for _, r := range ps.store.groups {
		if !r.Imported {
			ps.rep.Groups.Managed++
		}
	}
	return nil
}

// readUiPath lists every user (a page of the client's size, 1,000, each
// with its groups) and every group: ceil(users/1000) + 1 GETs, never one per
// object. A GET the budget has no room for waits until it has: the pass
// spreads over time instead of taking reads from the IdP's requests.
func (ps *pass) readUiPath(ctx context.Context) error {
	ps.up = uiPathState{users: map[string]upstream.User{}, groups: map[string]upstream.Group{}, members: map[string]map[string]bool{}}
	users, total, err := ps.listUsers(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Type != upstream.UserTypeUser {
			continue // robots and directory principals are never the bridge's
		}
		ps.up.users[u.ID] = u
		for _, g := range u.GroupIDs {
			if ps.up.members[g] == nil {
				ps.up.members[g] = map[string]bool{}
			}
			ps.up.members[g][u.ID] = true
		}
	}
	var groups []upstream.Group
	err = paced(ctx, func() (err error) {
		groups, err = ps.p.up.ListGroups(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("reconcile: list UiPath groups: %w", err)
	}
	for _, g := range groups {
		if g.Type == upstream.GroupTypeCustom {
			ps.up.groups[g.ID] = g
		}
	}
	ps.rep.MinimumGets = listPages(total, ps.pageSize) + 1
	ps.rep.Users.UiPath = len(ps.up.users)
	ps.rep.Groups.UiPath = len(ps.up.groups)
	return nil
}

// listAttempts bounds how often a listing that changed while it was read
// is read again.
const listAttempts = 3

// listUsers reads every user, page after page. Pages are offsets into a
// list that may change meanwhile (an account created or deleted shifts
// every later page by one), which would show a user as missing or twice.
// A read whose pages disagree on the total, or that holds another number
// of distinct users than the total, or a user twice, is read again (at
// most listAttempts times): only a consistent listing may say an account
// is missing, since the repair recreates it.
func (ps *pass) listUsers(ctx context.Context) ([]upstream.User, int, error) {
	for attempt := 1; ; attempt++ {
		var all []upstream.User
		seen := map[string]bool{}
		consistent, total := true, -1
		for skip := 0; ; {
			var page upstream.UserPage
			err := paced(ctx, func() (err error) {
				page, err = ps.p.up.SearchUsers(ctx, "", 0, skip)
				return err
			})
			if err != nil {
				return nil, 0, fmt.Errorf("reconcile: list UiPath users: %w", err)
			}
			if skip == 0 {
				ps.pageSize = max(len(page.Results), 1)
			}
			if total >= 0 && page.TotalCount != total {
				consistent = false
			}
			total = page.TotalCount
			for _, u := range page.Results {
				if seen[u.ID] {
					consistent = false
					continue
				}
				seen[u.ID] = true
				all = append(all, u)
			}
			skip += len(page.Results)
			if len(page.Results) == 0 || skip >= page.TotalCount {
				break
			}
		}
		if consistent && len(all) == total {
			return all, total, nil
		}
		if attempt == listAttempts {
			return nil, 0, fmt.Errorf("reconcile: UiPath's user listing changed while it was read, %d times in a row; try again when fewer accounts are being created or deleted", listAttempts)
		}
		ps.p.log.InfoContext(ctx, "reconcile: UiPath's user listing changed while it was read; reading it again", "pass", ps.rep.PassID, "attempt", attempt)
	}
}

// listPages is how many pages of size hold n users (one at least).
func listPages(n, size int) int {
	return max(1, (n+size-1)/max(size, 1))
}

// paced runs call, waiting out a client-side budget that has no room
// (upstream.ErrBudgetExhausted) for as long as ctx allows.
func paced(ctx context.Context, call func() error) error {
	for {
		err := call()
		if !errors.Is(err, upstream.ErrBudgetExhausted) {
			return err
		}
		t := time.NewTimer(max(upstream.RetryAfter(err), 100*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// drift appends a finding and returns its index.
func (ps *pass) drift(d Drift) int {
	ps.rep.Drift = append(ps.rep.Drift, d)
	return len(ps.rep.Drift) - 1
}

// compare classifies every difference and plans its repair.
func (ps *pass) compare() {
	for _, id := range sortedKeys(ps.store.users) {
		ps.compareUser(ps.store.users[id])
	}
	for _, id := range sortedKeys(ps.store.groups) {
		ps.compareGroup(ps.store.groups[id])
	}
	suffix := ""
	if ps.opt.Import {
		suffix = " (--import brings it into the store, marked imported)"
	}
	for _, id := range sortedKeys(ps.up.users) {
		if _, ok := ps.store.users[id]; !ok {
			u := ps.up.users[id]
			ps.unmanaged[id] = ps.drift(Drift{Kind: DriftUnmanaged, Resource: "user", ID: id, Name: u.UserName, Action: ActionReported,
				Detail: "a UiPath user the bridge does not manage: left alone" + suffix})
		}
	}
	for _, id := range sortedKeys(ps.up.groups) {
		if _, ok := ps.store.groups[id]; !ok {
			g := ps.up.groups[id]
			ps.unmanaged[id] = ps.drift(Drift{Kind: DriftUnmanaged, Resource: "group", ID: id, Name: g.Name, Action: ActionReported,
				Detail: "a UiPath group the bridge does not manage: left alone" + suffix})
		}
	}
}

const importedDetail = "imported from UiPath and not yet confirmed by the IdP: left alone"

func (ps *pass) compareUser(rec cache.Record) {
	res, err := decodeResource(rec)
	var want profile
	if err == nil {
		want, err = profileOf(res)
	}
	// What the listing guard expects UiPath to list: the managed users
	// with an account (an inactive user's may be gone, rightly).
	if !rec.Imported && !rec.Deprovisioned && (err != nil || want.Active) {
		ps.expectUsers++
		if _, ok := ps.up.users[rec.ID]; ok {
			ps.foundUsers++
		}
	}
	if err != nil {
		ps.drift(Drift{Kind: DriftProfile, Resource: "user", ID: rec.ID, Name: rec.Name, Action: ActionFailed,
			Detail: "the stored user cannot be read: " + err.Error()})
		return
	}
	u, present := ps.up.users[rec.ID]
	r := userRepair{rec: rec, want: want}
	if present {
		r.has = &u
	}
	report := func(kind, detail string) {
		leaver := kind == DriftActive && r.leaver
		r.drifts = append(r.drifts, ps.drift(Drift{Kind: kind, Resource: "user", ID: rec.ID, Name: rec.Name, Detail: detail, leaver: leaver}))
	}
	switch {
	case rec.Deprovisioned:
		// Deleted by the delete policy: no account is the goal.
		if present {
			r.leaver = true
			report(DriftActive, fmt.Sprintf("deprovisioned (deleted by policy) but UiPath has the account (isActive %t): delete it", u.IsActive))
		}
	case !present:
		if want.Active {
			report(DriftMissing, "UiPath has no account under this id: recreate it with its groups")
		}
		// An inactive user without an account has no access either way.
	default:
		have := profileOfUpstream(u)
		var diffs []string
		for _, f := range []struct{ name, have, want string }{
			{"name", have.GivenName, want.GivenName},
			{"surname", have.FamilyName, want.FamilyName},
			{"displayName", have.DisplayName, want.DisplayName},
		} {
			if f.have != f.want {
				diffs = append(diffs, fmt.Sprintf("%s %q, want %q", f.name, f.have, f.want))
			}
		}
		if !strings.EqualFold(have.Email, want.Email) {
			diffs = append(diffs, fmt.Sprintf("email %q, want %q", have.Email, want.Email))
		}
		if len(diffs) > 0 {
			report(DriftProfile, strings.Join(diffs, "; "))
		}
		if have.Active != want.Active {
			if !want.Active {
				r.leaver = true
				verb := "disable it"
				if ps.policy == DeprovisionDelete {
					verb = "delete it (policy delete)"
				}
				report(DriftActive, "a leaver is active in UiPath: "+verb)
			} else {
				report(DriftActive, "the IdP has the user active, UiPath has the account disabled: enable it")
			}
		}
	}
	if len(r.drifts) == 0 {
		return
	}
	if rec.Imported {
		ps.unacted(r.drifts, importedDetail)
		return
	}
	ps.users = append(ps.users, r)
}

func (ps *pass) compareGroup(rec cache.Record) {
	g, present := ps.up.groups[rec.ID]
	r := groupRepair{rec: rec}
	if present {
		r.has = &g
	}
	report := func(kind, detail string) {
		r.drifts = append(r.drifts, ps.drift(Drift{Kind: kind, Resource: "group", ID: rec.ID, Name: rec.Name, Detail: detail}))
	}
	if !present {
		report(DriftMissing, "UiPath has no group under this id: recreate it with its members")
	} else if g.Name != rec.Name {
		report(DriftRenamed, fmt.Sprintf("UiPath names it %q: rename it back", g.Name))
	}
	if len(r.drifts) > 0 {
		if rec.Imported {
			ps.unacted(r.drifts, importedDetail)
		} else {
			ps.groups = append(ps.groups, r)
		}
	}
	if present {
		ps.compareMembers(rec)
	}
}

// compareMembers finds the membership drift of a group UiPath has. A pair
// the scheduler has pending is its business; a user whose account is
// missing gets its groups when it is recreated.
func (ps *pass) compareMembers(rec cache.Record) {
	have := ps.up.members[rec.ID]
	want := setOf(rec.Members)
	m := &memberRepair{rec: rec, drifts: map[[2]string]int{}}
	note := func(kind, user string, add bool, action, detail string) {
		name := ""
		if u, ok := ps.store.users[user]; ok {
			name = u.Name
		} else if u, ok := ps.up.users[user]; ok {
			name = u.UserName
		}
		i := ps.drift(Drift{Kind: kind, Resource: "user", ID: user, Name: name, Group: rec.ID, Action: action, Detail: detail})
		if action == "" {
			m.drifts[[2]string{user, fmt.Sprint(add)}] = i
			if add {
				m.add = append(m.add, user)
			} else {
				m.remove = append(m.remove, user)
			}
		}
	}
	for _, id := range rec.Members {
		u, known := ps.store.users[id]
		_, inUiPath := ps.up.users[id]
		if !known || u.Deprovisioned || !inUiPath || have[id] || ps.store.pending[[2]string{rec.ID, id}] {
			continue
		}
		if u.Imported || rec.Imported {
			note(DriftMembershipMissing, id, true, ActionReported, importedDetail)
			continue
		}
		note(DriftMembershipMissing, id, true, "", "UiPath lacks this member: add it")
	}
	for _, id := range sortedKeys(have) {
		if want[id] || ps.store.pending[[2]string{rec.ID, id}] {
			continue
		}
		u, known := ps.store.users[id]
		switch {
		case !known:
			note(DriftUnmanaged, id, false, ActionReported,
				"a UiPath user the bridge does not manage is a member of this managed group: left alone")
		case u.Imported || rec.Imported:
			note(DriftMembershipExtra, id, false, ActionReported, importedDetail)
		default:
			note(DriftMembershipExtra, id, false, "", "UiPath has a member the IdP did not put in the group: remove it")
		}
	}
	if len(m.add)+len(m.remove) > 0 {
		ps.members[rec.ID] = m
	}
}

// unacted marks findings the pass will not act on.
func (ps *pass) unacted(idx []int, detail string) {
	for _, i := range idx {
		ps.rep.Drift[i].Action = ActionReported
		ps.rep.Drift[i].Detail += " (" + detail + ")"
	}
}

// finishUnacted marks every finding not yet decided as reported (a dry run
// or a refused pass) and sorts the report.
func (ps *pass) finishUnacted() {
	for i := range ps.rep.Drift {
		if ps.rep.Drift[i].Action == "" {
			ps.rep.Drift[i].Action = ActionReported
		}
	}
	sortDrift(ps.rep.Drift)
}

// guard returns why the pass must not write, or "".
func (ps *pass) guard() string {
	// A listing much smaller than the store expects is a failed read, not
	// an organization that emptied overnight.
	if reason := listingShort("users", ps.expectUsers, ps.foundUsers, len(ps.up.users)); reason != "" {
		return reason
	}
	expectGroups, foundGroups := 0, 0
	for _, r := range ps.store.groups {
		if r.Imported {
			continue
		}
		expectGroups++
		if _, ok := ps.up.groups[r.ID]; ok {
			foundGroups++
		}
	}
	if reason := listingShort("groups", expectGroups, foundGroups, len(ps.up.groups)); reason != "" {
		return reason
	}
	if ps.opt.Force {
		return ""
	}
	removals := map[string]bool{}
	for _, r := range ps.users {
		if r.leaver {
			removals[r.rec.ID] = true
		}
	}
	for _, m := range ps.members {
		for _, u := range m.remove {
			removals[u] = true
		}
	}
	if limit := ps.removalLimit(); len(removals) > limit {
		return fmt.Sprintf("the repairs would remove access from %d users (deactivate, delete or remove from a group), more than the limit of %d: check the drift (--dry-run), then run again with --force or a higher --max-changes",
			len(removals), limit)
	}
	return ""
}

// listingShort refuses a listing that holds none, or under half, of what
// the store expects (expect objects, found of them listed, listed in all).
func listingShort(what string, expect, found, listed int) string {
	switch {
	case expect > 0 && listed == 0:
		return fmt.Sprintf("UiPath listed no %s while the store expects %d: an empty listing is taken as a failed read, not as an empty organization", what, expect)
	case expect >= 10 && found*2 < expect:
		return fmt.Sprintf("UiPath's listing holds only %d of the %d %s the store expects: taken as a failed read", found, expect, what)
	}
	return ""
}

// removalLimit is how many users a pass may remove access from.
func (ps *pass) removalLimit() int {
	if ps.opt.MaxChanges > 0 {
		return ps.opt.MaxChanges
	}
	pct := ps.opt.MaxChangesPercent
	if pct <= 0 {
		pct = 5
	}
	return max(10, int(math.Ceil(float64(ps.rep.Users.Managed)*pct/100)))
}

// sortDrift orders a report: leavers active in UiPath first (the security
// case), then by kind, resource, name and id.
func sortDrift(d []Drift) {
	rank := func(x Drift) int {
		if x.leaver {
			return 0
		}
		if x.Kind == DriftUnmanaged {
			return 2
		}
		return 1
	}
	slices.SortStableFunc(d, func(a, b Drift) int {
		if c := rank(a) - rank(b); c != 0 {
			return c
		}
		for _, c := range []int{strings.Compare(a.Kind, b.Kind), strings.Compare(a.Resource, b.Resource),
			strings.Compare(a.Group, b.Group), strings.Compare(a.Name, b.Name), strings.Compare(a.ID, b.ID)} {
			if c != 0 {
				return c
			}
		}
		return 0
	})
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
