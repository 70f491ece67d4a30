package emulator

import (
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scim-bridge/scim-bridge/upstream"
)

// timeLayout is UiPath's timestamp format: no zone, 7 fractional digits
// (upstream-api.md §0).
const timeLayout = "2006-01-02T15:04:05.0000000"

func formatTime(t time.Time) string { return t.UTC().Format(timeLayout) }

// state is the organization's directory. Membership is one relation kept in
// two indexes (group → users, user → groups) updated together. Guarded by
// Server.mu.
type state struct {
	seq        int64
	legacy     int64
	users      map[string]*userRec
	groups     map[string]*groupRec
	byName     map[string]string // lower-case userName → id
	byEmail    map[string]string // lower-case email → id
	userGroups map[string]map[string]struct{}
	everyone   string
	admins     string
}

type userRec struct {
	seq int64
	u   upstream.User // GroupIDs is not kept here; see state.userGroups
}

type groupRec struct {
	seq     int64
	g       upstream.Group // Members is not kept here
	members map[string]struct{}
}

func newState(now time.Time) *state {
	st := &state{
		legacy:     1141000,
		users:      map[string]*userRec{},
		groups:     map[string]*groupRec{},
		byName:     map[string]string{},
		byEmail:    map[string]string{},
		userGroups: map[string]map[string]struct{}{},
	}
	st.everyone = st.addGroup(uuid.NewString(), "Everyone", upstream.GroupTypeBuiltIn, now).g.ID
	st.admins = st.addGroup(uuid.NewString(), "Administrators", upstream.GroupTypeBuiltIn, now).g.ID
	return st
}

func (st *state) next() int64 { st.seq++; return st.seq }

func (st *state) addGroup(id, name string, typ int, now time.Time) *groupRec {
	ts := formatTime(now)
	g := &groupRec{
		seq: st.next(),
		g: upstream.Group{
			ID: id, Name: name, DisplayName: name, Type: typ,
			CreationTime: ts, LastModificationTime: ts,
		},
		members: map[string]struct{}{},
	}
	st.groups[id] = g
	return g
}

func (st *state) groupByName(name string) *groupRec {
	for _, g := range st.groups {
		if strings.EqualFold(g.g.Name, name) {
			return g
		}
	}
	return nil
}

// putUser stores u (ID set, GroupIDs ignored) and indexes it; the user joins
// Everyone.
func (st *state) putUser(u upstream.User) *userRec {
	if old, ok := st.users[u.ID]; ok {
		st.unindex(old)
	}
	u.GroupIDs = nil
	rec := &userRec{seq: st.next(), u: u}
	st.users[u.ID] = rec
	st.index(rec)
	if st.userGroups[u.ID] == nil {
		st.userGroups[u.ID] = map[string]struct{}{}
	}
	st.addMember(st.everyone, u.ID)
	return rec
}

func (st *state) index(rec *userRec) {
	st.byName[strings.ToLower(rec.u.UserName)] = rec.u.ID
	if rec.u.Email != "" {
		st.byEmail[strings.ToLower(rec.u.Email)] = rec.u.ID
	}
}

func (st *state) unindex(rec *userRec) {
	if k := strings.ToLower(rec.u.UserName); st.byName[k] == rec.u.ID {
		delete(st.byName, k)
	}
	if k := strings.ToLower(rec.u.Email); st.byEmail[k] == rec.u.ID {
		delete(st.byEmail, k)
	}
}

func (st *state) deleteUser(id string) {
	rec, ok := st.users[id]
	if !ok {
		return
	}
	for gid := range st.userGroups[id] {
		delete(st.groups[gid].members, id)
	}
	delete(st.userGroups, id)
	st.unindex(rec)
	delete(st.users, id)
}

func (st *state) deleteGroup(id string) {
	g, ok := st.groups[id]
	if !ok {
		return
	}
	for uid := range g.members {
		delete(st.userGroups[uid], id)
	}
	delete(st.groups, id)
}

func (st *state) addMember(gid, uid string) {
	st.groups[gid].members[uid] = struct{}{}
	st.userGroups[uid][gid] = struct{}{}
}

func (st *state) removeMember(gid, uid string) {
	delete(st.groups[gid].members, uid)
	delete(st.userGroups[uid], gid)
}

func (st *state) isBuiltIn(gid string) bool {
	g, ok := st.groups[gid]
	return ok && g.g.Type == upstream.GroupTypeBuiltIn
}

// orderedUsers returns the users in creation order.
func (st *state) orderedUsers() []*userRec {
	out := make([]*userRec, 0, len(st.users))
	for _, u := range st.users {
		out = append(out, u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// orderedGroups returns the groups in creation order (built-ins first).
func (st *state) orderedGroups() []*groupRec {
	out := make([]*groupRec, 0, len(st.groups))
	for _, g := range st.groups {
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
	return out
}

// userView is a deep copy of a user with groupIDs filled (sorted).
func (st *state) userView(rec *userRec) upstream.User {
	u := rec.u
	u.Name = clonePtr(u.Name)
	u.Surname = clonePtr(u.Surname)
	u.DisplayName = clonePtr(u.DisplayName)
	u.LastModificationTime = clonePtr(u.LastModificationTime)
	u.LastLoginTime = clonePtr(u.LastLoginTime)
	u.GroupIDs = sortedKeys(st.userGroups[u.ID])
	return u
}

// groupView is a copy of a group; members are filled when withMembers is
// set, else empty (as in list results).
func (st *state) groupView(rec *groupRec, withMembers bool) upstream.Group {
	g := rec.g
	g.MappedRole = clonePtr(g.MappedRole)
	g.Scope = clonePtr(g.Scope)
	g.Members = []upstream.GroupMember{}
	if withMembers {
		for _, uid := range sortedKeys(rec.members) {
			u := st.users[uid].u
			g.Members = append(g.Members, upstream.GroupMember{
				ObjectType:  "DirectoryUser",
				Source:      "local",
				Identifier:  u.ID,
				Name:        u.UserName,
				DisplayName: clonePtr(u.DisplayName),
				Email:       u.Email,
				FirstName:   clonePtr(u.Name),
				LastName:    clonePtr(u.Surname),
			})
		}
	}
	return g
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Users returns deep copies of all users in creation order.
func (s *Server) Users() []upstream.User {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.st.orderedUsers()
	out := make([]upstream.User, len(recs))
	for i, r := range recs {
		out[i] = s.st.userView(r)
	}
	return out
}

// User returns a deep copy of one user, with groupIDs filled.
func (s *Server) User(id string) (upstream.User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.st.users[canonical(id)]
	if !ok {
		return upstream.User{}, false
	}
	return s.st.userView(rec), true
}

// Groups returns deep copies of all groups, built-ins included, in creation
// order, with members filled.
func (s *Server) Groups() []upstream.Group {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.st.orderedGroups()
	out := make([]upstream.Group, len(recs))
	for i, r := range recs {
		out[i] = s.st.groupView(r, true)
	}
	return out
}

// Group returns a deep copy of one group, with members filled.
func (s *Server) Group(id string) (upstream.Group, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.st.groups[canonical(id)]
	if !ok {
		return upstream.Group{}, false
	}
	return s.st.groupView(rec, true), true
}

// GroupMemberIDs returns the sorted ids of a group's members; nil if the
// group does not exist.
func (s *Server) GroupMemberIDs(id string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.st.groups[canonical(id)]
	if !ok {
		return nil
	}
	return sortedKeys(rec.members)
}

// SeedUser stores a pre-existing UiPath account, as if created outside the
// bridge. An empty ID, CreationTime or LegacyID is filled; the user joins
// Everyone and the existing groups among u.GroupIDs (others are ignored).
// An existing user with the same id is replaced. It returns the stored user.
func (s *Server) SeedUser(u upstream.User) upstream.User {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, ok := parseGUID(u.ID); ok {
		u.ID = id
	} else if u.ID == "" {
		u.ID = uuid.NewString()
	}
	if u.CreationTime == "" {
		u.CreationTime = formatTime(now)
	}
	if u.LegacyID == 0 {
		s.st.legacy++
		u.LegacyID = s.st.legacy
	}
	groups := u.GroupIDs
	s.st.deleteUser(u.ID)
	u.Name, u.Surname, u.DisplayName = clonePtr(u.Name), clonePtr(u.Surname), clonePtr(u.DisplayName)
	u.LastModificationTime, u.LastLoginTime = clonePtr(u.LastModificationTime), clonePtr(u.LastLoginTime)
	rec := s.st.putUser(u)
	for _, g := range groups {
		if gid := canonical(g); s.st.groups[gid] != nil {
			s.st.addMember(gid, u.ID)
		}
	}
	return s.st.userView(rec)
}

// SeedGroup creates a custom group with the given name, or returns the
// existing group of that name (case-insensitive).
func (s *Server) SeedGroup(name string) upstream.Group {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if g := s.st.groupByName(name); g != nil {
		return s.st.groupView(g, true)
	}
	return s.st.groupView(s.st.addGroup(uuid.NewString(), name, upstream.GroupTypeCustom, now), true)
}

// The methods below change UiPath behind the bridge's back, as an
// administrator in the portal would, without a request or a rate-limit
// charge: drift for reconciliation tests and the load harness.

// DeleteUser deletes a user and its memberships, and reports whether it
// existed.
func (s *Server) DeleteUser(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	id = canonical(id)
	_, ok := s.st.users[id]
	s.st.deleteUser(id)
	return ok
}

// DeleteGroup deletes a custom group and its memberships, and reports
// whether it did (built-in groups are kept).
func (s *Server) DeleteGroup(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	id = canonical(id)
	if _, ok := s.st.groups[id]; !ok || s.st.isBuiltIn(id) {
		return false
	}
	s.st.deleteGroup(id)
	return true
}

// RenameGroup renames a custom group, and reports whether it did.
func (s *Server) RenameGroup(id, name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.st.groups[canonical(id)]
	if !ok || g.g.Type == upstream.GroupTypeBuiltIn {
		return false
	}
	g.g.Name = name
	return true
}

// SetMember adds a user to a group or removes it, and reports whether both
// exist.
func (s *Server) SetMember(groupID, userID string, member bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	gid, uid := canonical(groupID), canonical(userID)
	if s.st.groups[gid] == nil || s.st.users[uid] == nil {
		return false
	}
	if member {
		s.st.addMember(gid, uid)
	} else {
		s.st.removeMember(gid, uid)
	}
	return true
}

// canonical returns the canonical form of a GUID, or s unchanged.
func canonical(s string) string {
	if id, ok := parseGUID(s); ok {
		return id
	}
	return s
}
