package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/upstream"
)

// leaverMonitor checks invariant 1: a user whose deactivation or deletion
// the bridge acknowledged is inactive or absent in UiPath, at the latest
// grace after the acknowledgement. Each time a leaver is seen active is a
// spell; a spell that outlasts the grace is a violation.
type leaverMonitor struct {
	grace      time.Duration
	mu         sync.Mutex
	open       map[string]*spell // by SCIM id + acknowledgement time
	violations []spell
	spells     int // spells seen, violating or not
	// longest is the longest a leaver was seen active after its
	// acknowledgement (closed spells).
	longest time.Duration
}

// spell is one stretch of time a leaver was seen active in UiPath.
type spell struct {
	userName  string
	id        string
	deleted   bool
	acked     time.Time // when the bridge acknowledged the leaving
	firstSeen time.Time
	lastSeen  time.Time
	ended     time.Time // zero while still active
	violating bool
}

func newLeaverMonitor(grace time.Duration) *leaverMonitor {
	return &leaverMonitor{grace: grace, open: map[string]*spell{}}
}

// check compares the leavers with UiPath's users at now; final closes
// every spell still open.
func (m *leaverMonitor) check(leavers map[string]leaver, users []upstream.User, now time.Time, final bool) {
	active := make(map[string]bool, len(users))
	for _, u := range users {
		if u.IsActive {
			active[strings.ToLower(u.ID)] = true
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[string]bool{}
	for id, l := range leavers {
		key := id + "@" + l.since.Format(time.RFC3339Nano)
		seen[key] = true
		sp := m.open[key]
		if !active[strings.ToLower(id)] {
			if sp != nil {
				m.close(key, sp, now)
			}
			continue
		}
		if sp == nil {
			sp = &spell{userName: l.userName, id: id, deleted: l.deleted, acked: l.since, firstSeen: now}
			m.open[key] = sp
			m.spells++
		}
		sp.lastSeen = now
		if now.Sub(l.since) > m.grace {
			sp.violating = true
		}
	}
	for key, sp := range m.open {
		switch {
		case !seen[key]:
			// No longer a leaver: reactivated since.
			m.close(key, sp, now)
		case final:
			// Still active when the run ends.
			if sp.violating {
				m.violations = append(m.violations, *sp)
			}
			delete(m.open, key)
		}
	}
}

func (m *leaverMonitor) close(key string, sp *spell, now time.Time) {
	sp.ended = now
	m.longest = max(m.longest, sp.lastSeen.Sub(sp.acked))
	if sp.violating {
		m.violations = append(m.violations, *sp)
	}
	delete(m.open, key)
}

// result returns the violations, the number of spells and the longest a
// leaver was last seen active after its acknowledgement.
func (m *leaverMonitor) result() ([]spell, int, time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.violations), m.spells, m.longest
}

// memMonitor samples the process's resident set (invariant 3).
type memMonitor struct {
	mu                         sync.Mutex
	start, peak, end, baseline uint64
	baselineAt                 time.Duration
	haveBaseline               bool
	samples                    int
}

func newMemMonitor() *memMonitor { return &memMonitor{} }

// sample records the resident set at offset at into the run.
func (m *memMonitor) sample(at time.Duration) {
	rss := residentBytes()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.samples == 0 {
		m.start = rss
	}
	m.samples++
	m.peak = max(m.peak, rss)
	m.end = rss
	if !m.haveBaseline {
		m.baseline, m.baselineAt = rss, at
	}
}

// markBaseline fixes the baseline at the latest sample (a quarter into the
// run: the population has grown to its target, caches are warm).
func (m *memMonitor) markBaseline() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.haveBaseline = true
}

// rssSlack is added to the allowed growth: the collector's heap target and
// the allocator's caches move by a few MiB without any leak.
const rssSlack = 32 << 20

// quiesce brings the system to rest after the traffic: it waits for
// writes held by late faults to land, re-sends every change the IdPs gave
// up on (their next sync cycle), and then waits until the bridge's store
// and UiPath agree with the model. It returns how long that took from the
// end of the traffic, and the differences left when it gives up (nil when
// they agree).
func (s *soak) quiesce(ctx context.Context) (time.Duration, []diff) {
	start := time.Now()
	deadline := start.Add(s.opts.converge)
	// A late fault holds a call for at most the deadline plus 2s.
	if s.opts.faults {
		time.Sleep(s.opts.upstreamTimeout + 2500*time.Millisecond)
	}
	for round := 0; round < 10 && time.Now().Before(deadline); round++ {
		var ops []op
		s.model.mu.Lock()
		for _, u := range s.model.users {
			if u.pending {
				u.busy = true
				ops = append(ops, op{kind: opResyncUser, user: u})
			}
		}
		for _, g := range s.model.groups {
			if g.pending {
				g.busy = true
				ops = append(ops, op{kind: opResyncGroup, group: g})
			}
		}
		s.model.mu.Unlock()
		if len(ops) == 0 {
			break
		}
		// Users first: groups name them.
		for _, o := range ops {
			s.execute(ctx, o)
		}
	}
	var diffs []diff
	for {
		if err := s.settle(ctx); err != nil {
			s.logs.note("settle: " + err.Error())
		}
		diffs = s.compare(ctx)
		if len(diffs) == 0 {
			return time.Since(start), nil
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return time.Since(start), diffs
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// diff is one way the final state differs from what the IdPs asked for.
type diff struct {
	class  string // lost update, missing, not deleted, duplicate, orphan, pending
	detail string
}

// scimUser is the part of a SCIM user the check compares.
type scimUser struct {
	Active      bool   `json:"active"`
	DisplayName string `json:"displayName"`
	Name        struct {
		GivenName  string `json:"givenName"`
		FamilyName string `json:"familyName"`
	} `json:"name"`
	Emails []struct {
		Value string `json:"value"`
	} `json:"emails"`
}

// scimGroup is the part of a SCIM group the check compares.
type scimGroup struct {
	DisplayName string `json:"displayName"`
	Members     []struct {
		Value string `json:"value"`
	} `json:"members"`
}

// compare returns every difference between the model and the bridge's
// store (read through SCIM GET, which the store answers) and UiPath.
func (s *soak) compare(ctx context.Context) []diff {
	var out []diff
	add := func(class, format string, args ...any) {
		out = append(out, diff{class, fmt.Sprintf(format, args...)})
	}
	upUsers := map[string]upstream.User{}
	for _, u := range s.emu.Users() {
		upUsers[strings.ToLower(u.ID)] = u
	}
	upGroups := map[string]upstream.Group{}
	for _, g := range s.emu.Groups() {
		if g.Type == upstream.GroupTypeCustom {
			upGroups[strings.ToLower(g.ID)] = g
		}
	}
	s.model.mu.Lock()
	users := make([]user, len(s.model.users))
	for i, u := range s.model.users {
		users[i] = *u
	}
	groups := make([]group, len(s.model.groups))
	for i, g := range s.model.groups {
		groups[i] = *g
		groups[i].members = make(map[int]bool, len(g.members))
		for k := range g.members {
			groups[i].members[k] = true
		}
	}
	s.model.mu.Unlock()

	known := map[string]bool{}
	names := map[string]bool{}
	for _, u := range users {
		names[strings.ToLower(u.userName)] = true
		if u.pending {
			add("pending", "user %s: the IdP never got its last change through", u.userName)
		}
		if u.id == "" {
			if !u.deleted {
				add("missing", "user %s: never created", u.userName)
			}
			continue
		}
		id := strings.ToLower(u.id)
		known[id] = true
		up, inUiPath := upUsers[id]
		var sc scimUser
		status := s.get(ctx, "/Users/"+u.id, &sc)
		if u.deleted {
			if inUiPath {
				add("not deleted", "user %s (%s): deleted by the IdP, still in UiPath (active %v)", u.userName, u.id, up.IsActive)
			}
			if status != http.StatusNotFound {
				add("not deleted", "user %s (%s): deleted by the IdP, the bridge answers GET with %d", u.userName, u.id, status)
			}
			continue
		}
		if !inUiPath {
			add("missing", "user %s (%s): not in UiPath", u.userName, u.id)
		} else {
			if up.IsActive != u.active {
				add("lost update", "user %s (%s): UiPath active %v, IdP wants %v", u.userName, u.id, up.IsActive, u.active)
			}
			if got := deref(up.Surname); got != u.family {
				add("lost update", "user %s (%s): UiPath surname %q, IdP wants %q", u.userName, u.id, got, u.family)
			}
			if got := deref(up.DisplayName); got != u.display {
				add("lost update", "user %s (%s): UiPath displayName %q, IdP wants %q", u.userName, u.id, got, u.display)
			}
			if !strings.EqualFold(up.Email, u.email) {
				add("lost update", "user %s (%s): UiPath email %q, IdP wants %q", u.userName, u.id, up.Email, u.email)
			}
		}
		switch {
		case status != http.StatusOK:
			add("missing", "user %s (%s): the bridge answers GET with %d", u.userName, u.id, status)
		default:
			if sc.Active != u.active {
				add("lost update", "user %s (%s): store active %v, IdP wants %v", u.userName, u.id, sc.Active, u.active)
			}
			if sc.Name.FamilyName != u.family || sc.DisplayName != u.display {
				add("lost update", "user %s (%s): store name %q/%q, IdP wants %q/%q", u.userName, u.id, sc.Name.FamilyName, sc.DisplayName, u.family, u.display)
			}
			if len(sc.Emails) == 0 || !strings.EqualFold(sc.Emails[0].Value, u.email) {
				add("lost update", "user %s (%s): store emails %v, IdP wants %q", u.userName, u.id, sc.Emails, u.email)
			}
		}
	}
	for id, up := range upUsers {
		if known[id] {
			continue
		}
		if names[strings.ToLower(up.UserName)] {
			add("duplicate", "UiPath user %s (%s) is not the IdP's account of that userName", up.UserName, up.ID)
		} else {
			add("orphan", "UiPath user %s (%s) belongs to no IdP user", up.UserName, up.ID)
		}
	}

	knownGroups := map[string]bool{}
	groupNames := map[string]bool{}
	for _, g := range groups {
		groupNames[strings.ToLower(g.name)] = true
		if g.pending {
			add("pending", "group %d %q: the IdP never got its last change through", g.idx, g.name)
		}
		if g.id == "" {
			if !g.deleted {
				add("missing", "group %d %q: never created", g.idx, g.name)
			}
			continue
		}
		id := strings.ToLower(g.id)
		knownGroups[id] = true
		up, inUiPath := upGroups[id]
		var sc scimGroup
		status := s.get(ctx, "/Groups/"+g.id, &sc)
		if g.deleted {
			if inUiPath {
				add("not deleted", "group %q (%s): deleted by the IdP, still in UiPath", g.name, g.id)
			}
			if status != http.StatusNotFound {
				add("not deleted", "group %q (%s): deleted by the IdP, the bridge answers GET with %d", g.name, g.id, status)
			}
			continue
		}
		var want []string
		for i := range g.members {
			want = append(want, strings.ToLower(users[i].id))
		}
		slices.Sort(want)
		if !inUiPath {
			add("missing", "group %q (%s): not in UiPath", g.name, g.id)
		} else {
			if up.Name != g.name {
				add("lost update", "group %q (%s): UiPath name %q", g.name, g.id, up.Name)
			}
			var got []string
			for _, m := range s.emu.GroupMemberIDs(g.id) {
				got = append(got, strings.ToLower(m))
			}
			slices.Sort(got)
			if extra, missing := setDiff(got, want); len(extra)+len(missing) > 0 {
				add("lost update", "group %q (%s): UiPath members: %d extra %v, %d missing %v", g.name, g.id, len(extra), extra, len(missing), missing)
			}
		}
		if status != http.StatusOK {
			add("missing", "group %q (%s): the bridge answers GET with %d", g.name, g.id, status)
			continue
		}
		if sc.DisplayName != g.name {
			add("lost update", "group %q (%s): store displayName %q", g.name, g.id, sc.DisplayName)
		}
		var got []string
		for _, m := range sc.Members {
			got = append(got, strings.ToLower(m.Value))
		}
		slices.Sort(got)
		if extra, missing := setDiff(got, want); len(extra)+len(missing) > 0 {
			add("lost update", "group %q (%s): store members: %d extra %v, %d missing %v", g.name, g.id, len(extra), extra, len(missing), missing)
		}
	}
	for id, up := range upGroups {
		if knownGroups[id] {
			continue
		}
		if groupNames[strings.ToLower(up.Name)] {
			add("duplicate", "UiPath group %q (%s) is not the IdP's group of that name", up.Name, up.ID)
		} else {
			add("orphan", "UiPath group %q (%s) belongs to no IdP group", up.Name, up.ID)
		}
	}
	return out
}

// get reads path from the bridge into out and returns the status (0 when
// no answer came).
func (s *soak) get(ctx context.Context, path string, out any) int {
	a, _, _ := s.reader.once(ctx, okta, http.MethodGet, path, nil)
	if a.status == http.StatusOK {
		if err := json.Unmarshal(a.body, out); err != nil {
			return -1
		}
	}
	return a.status
}

// setDiff returns the elements of got not in want and of want not in got;
// both are sorted.
func setDiff(got, want []string) (extra, missing []string) {
	for _, g := range got {
		if _, ok := slices.BinarySearch(want, g); !ok {
			extra = append(extra, g)
		}
	}
	for _, w := range want {
		if _, ok := slices.BinarySearch(got, w); !ok {
			missing = append(missing, w)
		}
	}
	return extra, missing
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// lineCounter counts the lines the bridge logs (warnings and errors) while
// passing them on, and keeps the last few.
type lineCounter struct {
	mu    sync.Mutex
	w     io.Writer
	lines int
	last  []string
}

const keepLines = 5

func (c *lineCounter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, l := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		c.lines++
		c.last = append(c.last, cut(l, 400))
		if len(c.last) > keepLines {
			c.last = c.last[1:]
		}
	}
	return c.w.Write(p)
}

// note logs a line of the harness's own.
func (c *lineCounter) note(line string) { _, _ = c.Write([]byte("soak: " + line + "\n")) }
