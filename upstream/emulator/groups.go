package emulator

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/scim-bridge/scim-bridge/upstream"
)

// Built-in groups (Everyone, Administrators) cannot be renamed, deleted or
// have their membership edited through PUT /Group (upstream-api.md §4). The
// error shape is UNCONFIRMED; the emulator answers 400 with an
// IdentityResult whose code is codeBuiltIn, like the other business-rule
// failures of groups.
const codeBuiltIn = "CannotModifyBuiltInGroup"

func builtInError(name string) upstream.IdentityError {
	return upstream.IdentityError{Code: codeBuiltIn,
		Description: fmt.Sprintf("Group '%s' is a built-in group and cannot be modified.", name)}
}

func duplicateGroupName(name string) upstream.IdentityError {
	return upstream.IdentityError{Code: "DuplicateGroupName",
		Description: fmt.Sprintf("Group name '%s' is already taken.", name)}
}

// pathPartitionAndGroup validates {partitionGlobalId} and, when wanted,
// {groupId}.
func (s *Server) pathPartitionAndGroup(w http.ResponseWriter, params map[string]string, wantGroup bool) (string, bool) {
	p := problems{}
	s.checkPartition(p, params["partitionGlobalId"])
	var gid string
	if wantGroup {
		var ok bool
		if gid, ok = parseGUID(params["groupId"]); !ok {
			p.invalidValue("groupId", params["groupId"])
		}
	}
	if len(p) > 0 {
		writeProblem(w, p)
		return "", false
	}
	return gid, true
}

// handleListGroups implements GET /Group/{partitionGlobalId}: a plain array,
// members empty.
func (s *Server) handleListGroups(w http.ResponseWriter, _ *http.Request, params map[string]string) {
	if _, ok := s.pathPartitionAndGroup(w, params, false); !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []upstream.Group{}
	for _, g := range s.st.orderedGroups() {
		out = append(out, s.st.groupView(g, false))
	}
	writeJSON(w, http.StatusOK, out)
}

// handleGetGroup implements GET /Group/{partitionGlobalId}/{groupId}, with
// members filled (the docs' behaviour, upstream-api.md §4).
func (s *Server) handleGetGroup(w http.ResponseWriter, _ *http.Request, params map[string]string) {
	gid, ok := s.pathPartitionAndGroup(w, params, true)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.st.groups[gid]
	if g == nil {
		writeNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, s.st.groupView(g, true))
}

// handleGroupMembers implements GET /Group/{partitionGlobalId}/{groupId}/Members
// ?top=&skip=, ordered by member id.
func (s *Server) handleGroupMembers(w http.ResponseWriter, r *http.Request, params map[string]string) {
	p := problems{}
	s.checkPartition(p, params["partitionGlobalId"])
	gid, ok := parseGUID(params["groupId"])
	if !ok {
		p.invalidValue("groupId", params["groupId"])
	}
	top, skip := paging(r.URL.Query(), p)
	if len(p) > 0 {
		writeProblem(w, p)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.st.groups[gid]
	if g == nil {
		writeNotFound(w)
		return
	}
	ids := sortedKeys(g.members)
	refs := make([]upstream.MemberRef, len(ids))
	for i, id := range ids {
		refs[i] = upstream.MemberRef{ID: id, Type: s.st.users[id].u.Type}
	}
	writeJSON(w, http.StatusOK, upstream.MemberPage{TotalCount: len(refs), Results: page(refs, top, skip)})
}

// unknownUsers adds a problem for every id that is not an existing user.
func (st *state) unknownUsers(p problems, field string, ids []string) {
	for _, id := range ids {
		if st.users[id] == nil {
			p.add(field, fmt.Sprintf("User '%s' was not found.", id))
		}
	}
}

// handleCreateGroup implements POST /Group (upstream-api.md §4): the
// client-generated id is required. A duplicate name or an existing id is a
// 400 IdentityResult (DuplicateGroupName / DuplicateId; UNCONFIRMED).
// Members must be existing users (400 ProblemDetails otherwise).
func (s *Server) handleCreateGroup(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	var body upstream.NewGroup
	if !decodeBody(w, r, &body) {
		return
	}
	p := problems{}
	s.checkPartition(p, body.PartitionGlobalID)
	var gid string
	switch id, ok := parseGUID(body.ID); {
	case body.ID == "":
		p.required("id")
	case !ok:
		p.add("$.id", "The JSON value could not be converted to System.Guid. Path: $.id")
	default:
		gid = id
	}
	name := strings.TrimSpace(body.Name)
	if name == "" {
		p.required("name")
	}
	members := checkIDs(p, "directoryUserMemberIDs", body.DirectoryUserMemberIDs)
	if len(p) > 0 {
		writeProblem(w, p)
		return
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.unknownUsers(p, "directoryUserMemberIDs", members)
	if len(p) > 0 {
		writeProblem(w, p)
		return
	}
	if s.st.groups[gid] != nil {
		writeIdentityFailure(w, http.StatusBadRequest, upstream.IdentityError{Code: "DuplicateId",
			Description: fmt.Sprintf("Group id '%s' is already taken.", gid)})
		return
	}
	if s.st.groupByName(name) != nil {
		writeIdentityFailure(w, http.StatusBadRequest, duplicateGroupName(name))
		return
	}
	g := s.st.addGroup(gid, name, upstream.GroupTypeCustom, now)
	for _, uid := range members {
		s.st.addMember(gid, uid)
	}
	s.logMembership(r, gid, members, true)
	writeJSON(w, http.StatusCreated, s.st.groupView(g, true))
}

// handleUpdateGroup implements PUT /Group/{groupId}: rename and delta
// membership (upstream-api.md §4). name is required even for
// membership-only edits; adds and removes are idempotent; removes apply
// after adds.
func (s *Server) handleUpdateGroup(w http.ResponseWriter, r *http.Request, params map[string]string) {
	gid, ok := pathGUID(w, params, "groupId")
	if !ok {
		return
	}
	var body upstream.GroupUpdate
	if !decodeBody(w, r, &body) {
		return
	}
	p := problems{}
	s.checkPartition(p, body.PartitionGlobalID)
	name := strings.TrimSpace(body.Name)
	if name == "" {
		p.required("name")
	}
	add := checkIDs(p, "directoryUserIDsToAdd", body.DirectoryUserIDsToAdd)
	remove := checkIDs(p, "directoryUserIDsToRemove", body.DirectoryUserIDsToRemove)
	if len(p) > 0 {
		writeProblem(w, p)
		return
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.st.groups[gid]
	if g == nil {
		writeNotFound(w)
		return
	}
	s.st.unknownUsers(p, "directoryUserIDsToAdd", add)
	s.st.unknownUsers(p, "directoryUserIDsToRemove", remove)
	if len(p) > 0 {
		writeProblem(w, p)
		return
	}
	if g.g.Type == upstream.GroupTypeBuiltIn && (name != g.g.Name || len(add) > 0 || len(remove) > 0) {
		writeIdentityFailure(w, http.StatusBadRequest, builtInError(g.g.Name))
		return
	}
	if other := s.st.groupByName(name); other != nil && other != g {
		writeIdentityFailure(w, http.StatusBadRequest, duplicateGroupName(name))
		return
	}
	g.g.Name, g.g.DisplayName = name, name
	for _, uid := range add {
		s.st.addMember(gid, uid)
	}
	for _, uid := range remove {
		s.st.removeMember(gid, uid)
	}
	s.logMembership(r, gid, add, true)
	s.logMembership(r, gid, remove, false)
	g.g.LastModificationTime = formatTime(now)
	writeJSON(w, http.StatusOK, s.st.groupView(g, true))
}

// handleDeleteGroup implements DELETE /Group/{partitionGlobalId}/{groupId}:
// 204, 404 if absent; members lose the group from their groupIDs.
func (s *Server) handleDeleteGroup(w http.ResponseWriter, _ *http.Request, params map[string]string) {
	gid, ok := s.pathPartitionAndGroup(w, params, true)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.st.groups[gid]
	switch {
	case g == nil:
		writeNotFound(w)
	case g.g.Type == upstream.GroupTypeBuiltIn:
		writeIdentityFailure(w, http.StatusBadRequest, builtInError(g.g.Name))
	default:
		s.st.deleteGroup(gid)
		w.WriteHeader(http.StatusNoContent)
	}
}

// handleDeleteGroups implements the bulk DELETE /Group/{partitionGlobalId}
// with body {"groupIDs":[...]}. Unknown ids are ignored; a built-in group in
// the list fails the whole call. A missing body is rejected (the docs'
// "delete all local groups" reading is UNCONFIRMED).
func (s *Server) handleDeleteGroups(w http.ResponseWriter, r *http.Request, params map[string]string) {
	if _, ok := s.pathPartitionAndGroup(w, params, false); !ok {
		return
	}
	var body struct {
		GroupIDs []string `json:"groupIDs"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	p := problems{}
	ids := checkIDs(p, "groupIDs", body.GroupIDs)
	if len(p) > 0 {
		writeProblem(w, p)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if s.st.isBuiltIn(id) {
			writeIdentityFailure(w, http.StatusBadRequest, builtInError(s.st.groups[id].g.Name))
			return
		}
	}
	for _, id := range ids {
		s.st.deleteGroup(id)
	}
	w.WriteHeader(http.StatusNoContent)
}
