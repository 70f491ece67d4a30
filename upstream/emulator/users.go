package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/scim-bridge/scim-bridge/upstream"
)

// bulkCreateBody is the BulkCreate request as the server reads it. It is
// looser than upstream.BulkCreateRequest: type may be a string or a number
// and fields may be null.
type bulkCreateBody struct {
	PartitionGlobalID string        `json:"partitionGlobalId"`
	GroupIDs          []string      `json:"groupIDs"`
	Users             []newUserBody `json:"users"`
}

type newUserBody struct {
	ID                         *string         `json:"id"`
	UserName                   string          `json:"userName"`
	Email                      string          `json:"email"`
	Name                       *string         `json:"name"`
	Surname                    *string         `json:"surname"`
	DisplayName                *string         `json:"displayName"`
	Type                       json.RawMessage `json:"type"`
	LegacyID                   *int64          `json:"legacyId"`
	BypassBasicAuthRestriction bool            `json:"bypassBasicAuthRestriction"`
	InvitationAccepted         bool            `json:"invitationAccepted"`
}

// userTypes are the user type enum names (upstream-api.md §0). Which strings
// BulkCreate accepts is UNCONFIRMED; the emulator accepts these names
// case-insensitively and the numeric codes 0..5.
var userTypes = []string{"user", "robot", "directoryuser", "directorygroup", "robotaccount", "application"}

func parseUserType(raw json.RawMessage) (int, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return upstream.UserTypeUser, true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		for i, name := range userTypes {
			if strings.EqualFold(s, name) {
				return i, true
			}
		}
		if n, err := strconv.Atoi(s); err == nil && n >= 0 && n < len(userTypes) {
			return n, true
		}
		return 0, false
	}
	var n int
	if json.Unmarshal(raw, &n) == nil && n >= 0 && n < len(userTypes) {
		return n, true
	}
	return 0, false
}

// validUserName applies ASP.NET Identity's default AllowedUserNameCharacters.
func validUserName(name string) bool {
	if name == "" {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("@._+-", r):
		default:
			return false
		}
	}
	return true
}

// validEmail is a loose check in the spirit of EmailAddressAttribute: one
// '@' with something on both sides. The real rule is UNCONFIRMED.
func validEmail(email string) bool {
	local, domain, ok := strings.Cut(email, "@")
	return ok && local != "" && domain != "" && !strings.Contains(domain, "@")
}

// handleBulkCreate implements POST /User/BulkCreate (upstream-api.md §3).
// The batch is atomic: any identity error fails all users with HTTP 400
// (UNCONFIRMED status) and a BulkCreateResponse carrying every error.
func (s *Server) handleBulkCreate(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	var body bulkCreateBody
	if !decodeBody(w, r, &body) {
		return
	}
	p := problems{}
	s.checkPartition(p, body.PartitionGlobalID)
	if body.Users == nil {
		p.required("users")
	}
	groupIDs := checkIDs(p, "groupIDs", body.GroupIDs)
	ids := make([]string, len(body.Users))
	types := make([]int, len(body.Users))
	for i, u := range body.Users {
		if u.ID != nil && *u.ID != "" {
			id, ok := parseGUID(*u.ID)
			if !ok {
				p.add(fmt.Sprintf("$.users[%d].id", i), fmt.Sprintf("The JSON value could not be converted to System.Guid. Path: $.users[%d].id", i))
			}
			ids[i] = id
		}
		t, ok := parseUserType(u.Type)
		if !ok {
			p.add(fmt.Sprintf("$.users[%d].type", i), fmt.Sprintf("The JSON value could not be converted to UserType. Path: $.users[%d].type", i))
		}
		types[i] = t
	}
	if len(p) > 0 {
		writeProblem(w, p)
		return
	}

	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	// Unknown groups: UNCONFIRMED; answered as a validation problem.
	for _, gid := range groupIDs {
		if s.st.groups[gid] == nil {
			p.add("groupIDs", fmt.Sprintf("Group '%s' was not found.", gid))
		}
	}
	if len(p) > 0 {
		writeProblem(w, p)
		return
	}
	var errs []upstream.IdentityError
	names, emails, seenIDs := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i, u := range body.Users {
		lname := strings.ToLower(u.UserName)
		switch {
		case !validUserName(u.UserName):
			errs = append(errs, upstream.IdentityError{Code: "InvalidUserName",
				Description: fmt.Sprintf("Username '%s' is invalid, can only contain letters or digits.", u.UserName)})
		case names[lname] || s.st.byName[lname] != "":
			errs = append(errs, upstream.IdentityError{Code: "DuplicateUserName",
				Description: fmt.Sprintf("Username '%s' is already taken.", u.UserName)})
		}
		names[lname] = true
		if u.Email != "" {
			lemail := strings.ToLower(u.Email)
			switch {
			case !validEmail(u.Email):
				errs = append(errs, upstream.IdentityError{Code: "InvalidEmail",
					Description: fmt.Sprintf("Email '%s' is invalid.", u.Email)})
			case emails[lemail] || s.st.byEmail[lemail] != "":
				errs = append(errs, upstream.IdentityError{Code: "DuplicateEmail",
					Description: fmt.Sprintf("Email '%s' is already taken.", u.Email)})
			}
			emails[lemail] = true
		}
		// An id that is already taken: UNCONFIRMED; reported like the
		// other duplicates, with code DuplicateId.
		if id := ids[i]; id != "" {
			if seenIDs[id] || s.st.users[id] != nil {
				errs = append(errs, upstream.IdentityError{Code: "DuplicateId",
					Description: fmt.Sprintf("User id '%s' is already taken.", id)})
			}
			seenIDs[id] = true
		}
	}
	if len(errs) > 0 {
		writeJSON(w, http.StatusBadRequest, upstream.BulkCreateResponse{
			Result: upstream.IdentityResult{Succeeded: false, Errors: errs},
			Users:  []upstream.User{},
		})
		return
	}
	ts := formatTime(now)
	created := make([]upstream.User, 0, len(body.Users))
	for i, nu := range body.Users {
		id := ids[i]
		if id == "" {
			id = uuid.NewString()
		}
		legacy := int64(0)
		if nu.LegacyID != nil && *nu.LegacyID != 0 {
			legacy = *nu.LegacyID
		} else {
			s.st.legacy++
			legacy = s.st.legacy
		}
		rec := s.st.putUser(upstream.User{
			ID:                         id,
			UserName:                   nu.UserName,
			Email:                      nu.Email,
			Name:                       clonePtr(nu.Name),
			Surname:                    clonePtr(nu.Surname),
			DisplayName:                clonePtr(nu.DisplayName),
			CreationTime:               ts,
			LegacyID:                   legacy,
			IsActive:                   true,
			BypassBasicAuthRestriction: nu.BypassBasicAuthRestriction,
			Type:                       types[i],
			Category:                   0, // local
			InvitationAccepted:         nu.InvitationAccepted,
		})
		for _, gid := range groupIDs {
			s.st.addMember(gid, id)
			s.logMembership(r, gid, []string{id}, true)
		}
		created = append(created, s.st.userView(rec))
	}
	writeJSON(w, http.StatusOK, upstream.BulkCreateResponse{
		Result: upstream.IdentityResult{Succeeded: true, Errors: []upstream.IdentityError{}},
		Users:  created,
	})
}

// pathGUID validates a GUID route parameter; on failure it writes a 400
// ProblemDetails naming the parameter.
func pathGUID(w http.ResponseWriter, params map[string]string, name string) (string, bool) {
	v := params[name]
	id, ok := parseGUID(v)
	if !ok {
		p := problems{}
		p.invalidValue(name, v)
		writeProblem(w, p)
	}
	return id, ok
}

// handleGetUser implements GET /User/{userId}.
func (s *Server) handleGetUser(w http.ResponseWriter, _ *http.Request, params map[string]string) {
	id, ok := pathGUID(w, params, "userId")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.st.users[id]
	if rec == nil {
		writeNotFound(w)
		return
	}
	writeJSON(w, http.StatusOK, s.st.userView(rec))
}

// handleDeleteUser implements DELETE /User/{userId}: 204, or 404 if absent.
// The user leaves every group.
func (s *Server) handleDeleteUser(w http.ResponseWriter, _ *http.Request, params map[string]string) {
	id, ok := pathGUID(w, params, "userId")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.st.users[id] == nil {
		writeNotFound(w)
		return
	}
	s.st.deleteUser(id)
	w.WriteHeader(http.StatusNoContent)
}

// handleDeleteUsers implements the bulk DELETE /User. Ids of users that do
// not exist are ignored (UNCONFIRMED).
func (s *Server) handleDeleteUsers(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	var body struct {
		PartitionGlobalID string   `json:"partitionGlobalId"`
		UserIDs           []string `json:"userIds"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	p := problems{}
	s.checkPartition(p, body.PartitionGlobalID)
	ids := checkIDs(p, "userIds", body.UserIDs)
	if len(p) > 0 {
		writeProblem(w, p)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		s.st.deleteUser(id)
	}
	w.WriteHeader(http.StatusNoContent)
}

// userUpdateBody is PUT /User/{id}'s body: upstream.UserUpdate plus fields
// the bridge does not send but UiPath accepts.
type userUpdateBody struct {
	upstream.UserUpdate
	BypassBasicAuthRestriction *bool `json:"bypassBasicAuthRestriction"`
	InvitationAccepted         *bool `json:"invitationAccepted"`
}

// handleUpdateUser implements PUT /User/{userId} (upstream-api.md §3): only
// present fields change. A duplicate email answers 200 with
// succeeded:false and changes nothing (UNCONFIRMED status, as the reference
// infers). Group deltas are idempotent; users cannot leave Everyone, so
// adding or removing it is a no-op.
func (s *Server) handleUpdateUser(w http.ResponseWriter, r *http.Request, params map[string]string) {
	id, ok := pathGUID(w, params, "userId")
	if !ok {
		return
	}
	var body userUpdateBody
	if !decodeBody(w, r, &body) {
		return
	}
	p := problems{}
	add := checkIDs(p, "groupIDsToAdd", body.GroupIDsToAdd)
	remove := checkIDs(p, "groupIDsToRemove", body.GroupIDsToRemove)
	if len(p) > 0 {
		writeProblem(w, p)
		return
	}
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	rec := s.st.users[id]
	if rec == nil {
		writeNotFound(w)
		return
	}
	for _, gid := range add {
		if s.st.groups[gid] == nil {
			p.add("groupIDsToAdd", fmt.Sprintf("Group '%s' was not found.", gid))
		}
	}
	for _, gid := range remove {
		if s.st.groups[gid] == nil {
			p.add("groupIDsToRemove", fmt.Sprintf("Group '%s' was not found.", gid))
		}
	}
	if len(p) > 0 {
		writeProblem(w, p)
		return
	}
	if e := body.Email; e != nil && *e != "" {
		if !validEmail(*e) {
			writeIdentityFailure(w, http.StatusOK, upstream.IdentityError{Code: "InvalidEmail",
				Description: fmt.Sprintf("Email '%s' is invalid.", *e)})
			return
		}
		if other := s.st.byEmail[strings.ToLower(*e)]; other != "" && other != id {
			writeIdentityFailure(w, http.StatusOK, upstream.IdentityError{Code: "DuplicateEmail",
				Description: "Email is already taken."})
			return
		}
	}
	s.st.unindex(rec)
	u := &rec.u
	if body.Name != nil {
		u.Name = clonePtr(body.Name)
	}
	if body.Surname != nil {
		u.Surname = clonePtr(body.Surname)
	}
	if body.DisplayName != nil {
		u.DisplayName = clonePtr(body.DisplayName)
	}
	if body.Email != nil {
		u.Email = *body.Email
	}
	if body.IsActive != nil {
		u.IsActive = *body.IsActive
	}
	if body.BypassBasicAuthRestriction != nil {
		u.BypassBasicAuthRestriction = *body.BypassBasicAuthRestriction
	}
	if body.InvitationAccepted != nil {
		u.InvitationAccepted = *body.InvitationAccepted
	}
	s.st.index(rec)
	for _, gid := range add {
		s.st.addMember(gid, id)
		s.logMembership(r, gid, []string{id}, true)
	}
	for _, gid := range remove {
		if gid != s.st.everyone {
			s.st.removeMember(gid, id)
		}
		s.logMembership(r, gid, []string{id}, false)
	}
	ts := formatTime(now)
	u.LastModificationTime = &ts
	writeJSON(w, http.StatusOK, upstream.IdentityResult{Succeeded: true, Errors: []upstream.IdentityError{}})
}
