package main

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// dialect is the IdP that owns an object and speaks for it.
type dialect int

const (
	okta dialect = iota
	entra
)

func (d dialect) String() string {
	if d == okta {
		return "okta"
	}
	return "entra"
}

// userAgent is what each IdP sends, so the bridge's metrics tell them apart.
func (d dialect) userAgent() string {
	if d == okta {
		return "Okta SCIM Client 1.0.0"
	}
	return "Azure AD SCIM Client"
}

// user is the IdP's view of one user: what it has asked the bridge for.
// Fields are guarded by model.mu, except while busy, when only the
// goroutine running an operation on the user touches them.
type user struct {
	idx        int
	owner      dialect
	userName   string
	externalID string
	id         string // SCIM id, "" until the bridge answered a create or a lookup found it

	given, family, display, email string
	version                       int // profile changes so far

	active  bool
	deleted bool // the IdP deleted it (Entra's hard delete)
	// pending: the last change was given up on; the next operation on the
	// user re-sends its whole desired state.
	pending bool
	busy    bool
	// leaverSince is when the bridge acknowledged the deactivation or
	// deletion that made the user a leaver; zero while it is not one.
	leaverSince time.Time
}

// group is the IdP's view of one group.
type group struct {
	idx        int
	owner      dialect
	name       string
	externalID string
	id         string
	renames    int
	members    map[int]bool // user indexes
	deleted    bool
	pending    bool
	busy       bool
}

// model is what both IdPs have asked for, shared by the workers. It picks
// the next operation and the objects it touches, marks them busy so that no
// two operations on one object overlap (IdPs serialise their changes to an
// object), and takes back their new state.
type model struct {
	mu          sync.Mutex
	rng         *rand.Rand
	users       []*user
	groups      []*group
	targetUsers int
	targetGrps  int
	// recent are the users changed last, newest last: a third of the user
	// operations pick one of them, so that changes to one user follow
	// each other closely (a hire undone, a leaver re-pushed), which is
	// when a late write can overtake a newer one.
	recent []*user
}

// recentUsers is how many recently changed users the model remembers.
const recentUsers = 8

func newModel(seed uint64, users, groups int) *model {
	return &model{rng: rand.New(rand.NewPCG(seed, 0x50a4)), targetUsers: users, targetGrps: groups}
}

// newUser adds a user the IdP is about to create, busy.
func (m *model) newUser() *user {
	i := len(m.users)
	d := dialect(m.rng.IntN(2))
	u := &user{idx: i, owner: d, active: true, busy: true,
		userName: fmt.Sprintf("soak%06d@corp.example", i), given: fmt.Sprintf("Given%d", i), family: fmt.Sprintf("Family%d", i)}
	u.display = u.given + " " + u.family
	u.email = u.userName
	if d == okta {
		u.externalID = fmt.Sprintf("00u%06dsoak", i)
	} else {
		u.externalID = fmt.Sprintf("soak-%06d", i)
	}
	m.users = append(m.users, u)
	return u
}

// newGroup adds a group the IdP is about to create, busy.
func (m *model) newGroup() *group {
	i := len(m.groups)
	g := &group{idx: i, owner: dialect(m.rng.IntN(2)), name: fmt.Sprintf("Soak Group %04d", i),
		externalID: fmt.Sprintf("grp-%04d", i), members: map[int]bool{}, busy: true}
	m.groups = append(m.groups, g)
	return g
}

// liveUsers counts users not deleted.
func (m *model) liveUsers() (n int) {
	for _, u := range m.users {
		if !u.deleted {
			n++
		}
	}
	return n
}

func (m *model) liveGroups() (n int) {
	for _, g := range m.groups {
		if !g.deleted {
			n++
		}
	}
	return n
}

// pickUser returns a random idle user for which ok holds, or nil. It
// samples, then scans, so it stays cheap with many users.
func (m *model) pickUser(ok func(*user) bool) *user {
	if len(m.users) == 0 {
		return nil
	}
	if len(m.recent) > 0 && m.rng.IntN(3) == 0 {
		if u := m.recent[m.rng.IntN(len(m.recent))]; !u.busy && ok(u) {
			return u
		}
	}
	for range 16 {
		if u := m.users[m.rng.IntN(len(m.users))]; !u.busy && ok(u) {
			return u
		}
	}
	start := m.rng.IntN(len(m.users))
	for k := range m.users {
		if u := m.users[(start+k)%len(m.users)]; !u.busy && ok(u) {
			return u
		}
	}
	return nil
}

func (m *model) pickGroup(ok func(*group) bool) *group {
	if len(m.groups) == 0 {
		return nil
	}
	start := m.rng.IntN(len(m.groups))
	for k := range m.groups {
		if g := m.groups[(start+k)%len(m.groups)]; !g.busy && ok(g) {
			return g
		}
	}
	return nil
}

// linkable reports whether u can be named in a membership change: created,
// not deleted, not given up on.
func linkable(u *user) bool { return u.id != "" && !u.deleted && !u.pending }

// opKind is one kind of IdP operation.
type opKind int

const (
	opCreateUser opKind = iota
	opUpdateUser
	opDeactivate
	opReactivate
	opDeleteUser
	opCreateGroup
	opAddMembers
	opRemoveMembers
	opRenameGroup
	opDeleteGroup
	opResyncUser
	opResyncGroup
	numOps
)

var opNames = [numOps]string{"create user", "update user", "deactivate", "reactivate", "delete user",
	"create group", "add members", "remove members", "rename group", "delete group", "resync user", "resync group"}

func (k opKind) String() string { return opNames[k] }

// op is one planned IdP operation with the objects it holds busy.
type op struct {
	kind    opKind
	user    *user
	group   *group
	members []*user // for membership changes
}

// weights of the steady mix once the population is at its target.
var opWeights = [numOps]int{
	opCreateUser: 4, opUpdateUser: 14, opDeactivate: 10, opReactivate: 5, opDeleteUser: 4,
	opCreateGroup: 2, opAddMembers: 18, opRemoveMembers: 12, opRenameGroup: 4, opDeleteGroup: 1,
	opResyncUser: 6, opResyncGroup: 6,
}

// next plans the next operation, marking its objects busy, or returns
// false when nothing is eligible right now.
func (m *model) next() (op, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	// Grow to the target first, then keep churning around it.
	if m.liveUsers() < m.targetUsers/2 {
		return op{kind: opCreateUser, user: m.newUser()}, true
	}
	if m.liveGroups() < m.targetGrps/2 {
		return op{kind: opCreateGroup, group: m.newGroup()}, true
	}
	total := 0
	for _, w := range opWeights {
		total += w
	}
	for range 8 {
		x := m.rng.IntN(total)
		k := opKind(0)
		for ; x >= opWeights[k]; k++ {
			x -= opWeights[k]
		}
		if o, ok := m.plan(k); ok {
			return o, true
		}
	}
	return op{}, false
}

// plan picks the objects for an operation of kind k.
func (m *model) plan(k opKind) (op, bool) {
	o := op{kind: k}
	switch k {
	case opCreateUser:
		if m.liveUsers() >= m.targetUsers {
			return o, false
		}
		o.user = m.newUser()
		return o, true
	case opCreateGroup:
		if m.liveGroups() >= m.targetGrps {
			return o, false
		}
		o.group = m.newGroup()
		return o, true
	case opUpdateUser:
		o.user = m.pickUser(func(u *user) bool { return linkable(u) })
	case opDeactivate:
		o.user = m.pickUser(func(u *user) bool { return linkable(u) && u.active })
	case opReactivate:
		o.user = m.pickUser(func(u *user) bool { return linkable(u) && !u.active })
	case opDeleteUser:
		// Entra deletes users it soft-deleted before; Okta never deletes.
		o.user = m.pickUser(func(u *user) bool { return linkable(u) && !u.active && u.owner == entra })
	case opResyncUser:
		o.user = m.pickUser(func(u *user) bool { return u.pending })
	case opResyncGroup:
		o.group = m.pickGroup(func(g *group) bool { return g.pending })
	case opRenameGroup, opDeleteGroup:
		o.group = m.pickGroup(func(g *group) bool { return g.id != "" && !g.deleted && !g.pending })
	case opAddMembers, opRemoveMembers:
		o.group = m.pickGroup(func(g *group) bool { return g.id != "" && !g.deleted && !g.pending })
		if o.group == nil {
			return o, false
		}
		want := 1 + m.rng.IntN(3)
		for range want * 4 {
			var u *user
			if k == opAddMembers {
				u = m.pickUser(func(u *user) bool { return linkable(u) && !o.group.members[u.idx] && !slices.Contains(o.members, u) })
			} else {
				u = m.pickMember(o.group, o.members)
			}
			if u == nil || len(o.members) == want {
				break
			}
			u.busy = true
			o.members = append(o.members, u)
		}
		if len(o.members) == 0 {
			return o, false
		}
		o.group.busy = true
		return o, true
	}
	if o.user == nil && o.group == nil {
		return o, false
	}
	if o.user != nil {
		o.user.busy = true
		m.touch(o.user)
	}
	if o.group != nil {
		o.group.busy = true
	}
	return o, true
}

// touch records u as recently changed.
func (m *model) touch(u *user) {
	if i := slices.Index(m.recent, u); i >= 0 {
		m.recent = slices.Delete(m.recent, i, i+1)
	}
	m.recent = append(m.recent, u)
	if len(m.recent) > recentUsers {
		m.recent = m.recent[1:]
	}
}

// pickMember returns a random idle member of g not in taken.
func (m *model) pickMember(g *group, taken []*user) *user {
	var cands []*user
	for i := range g.members {
		if u := m.users[i]; !u.busy && !slices.Contains(taken, u) {
			cands = append(cands, u)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	slices.SortFunc(cands, func(a, b *user) int { return a.idx - b.idx })
	return cands[m.rng.IntN(len(cands))]
}

// done releases the objects of o.
func (m *model) done(o op) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o.user != nil {
		o.user.busy = false
	}
	if o.group != nil {
		o.group.busy = false
	}
	for _, u := range o.members {
		u.busy = false
	}
}

// removeFromGroups forgets a deleted user in every group's wanted members
// (the bridge drops a deleted user from its groups). Called with m.mu held.
func (m *model) removeFromGroups(idx int) {
	for _, g := range m.groups {
		delete(g.members, idx)
	}
}

// leavers returns the users that must not be active in UiPath, with the
// time the bridge acknowledged their leaving, by SCIM id.
func (m *model) leavers() map[string]leaver {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]leaver{}
	for _, u := range m.users {
		if u.id != "" && !u.leaverSince.IsZero() {
			out[u.id] = leaver{userName: u.userName, since: u.leaverSince, deleted: u.deleted}
		}
	}
	return out
}

// leaver is a user whose leaving the bridge acknowledged.
type leaver struct {
	userName string
	since    time.Time
	deleted  bool
}

// undo gives back the objects of an operation that was planned but not
// started. A planned create stays in the model as a change to re-send.
func (m *model) undo(o op) {
	m.mu.Lock()
	switch o.kind {
	case opCreateUser:
		o.user.pending = true
	case opCreateGroup:
		o.group.pending = true
	}
	m.mu.Unlock()
	m.done(o)
}
