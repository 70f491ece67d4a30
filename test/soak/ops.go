package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// SCIM schema URNs.
const (
	userURN       = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupURN      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	patchURN      = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	// aadFlag is the query flag of Entra's standard-PATCH mode.
	aadFlag = "?aadOptscim062020"
)

// listAnswer is the part of a ListResponse the IdPs read.
type listAnswer struct {
	TotalResults int `json:"totalResults"`
	Resources    []struct {
		ID string `json:"id"`
	} `json:"Resources"`
}

// outcome is how an operation ended, as the IdP sees it.
type outcome int

const (
	acked   outcome = iota // the bridge acknowledged it
	gaveUp                 // failed after every attempt
	refused                // an unexpected 4xx
	stopped                // the run ended first
)

// execute runs o against the bridge and records its outcome in the model.
func (s *soak) execute(ctx context.Context, o op) {
	defer s.model.done(o)
	var res outcome
	var a answer
	switch o.kind {
	case opCreateUser:
		res, a = s.createUser(ctx, o.user)
	case opUpdateUser:
		res, a = s.updateUser(ctx, o.user)
	case opDeactivate:
		res, a = s.setActive(ctx, o.user, false)
	case opReactivate:
		res, a = s.setActive(ctx, o.user, true)
	case opDeleteUser:
		res, a = s.deleteUser(ctx, o.user)
	case opResyncUser:
		res, a = s.resyncUser(ctx, o.user)
	case opCreateGroup:
		res, a = s.createGroup(ctx, o.group)
	case opAddMembers, opRemoveMembers:
		res, a = s.changeMembers(ctx, o.group, o.members, o.kind == opAddMembers)
	case opRenameGroup:
		res, a = s.renameGroup(ctx, o.group)
	case opDeleteGroup:
		res, a = s.deleteGroup(ctx, o.group)
	case opResyncGroup:
		res, a = s.resyncGroup(ctx, o.group)
	}
	st := s.idp.st
	st.mu.Lock()
	defer st.mu.Unlock()
	st.ops[o.kind.String()]++
	name := ""
	if o.user != nil {
		name = o.user.userName
	} else if o.group != nil {
		name = fmt.Sprintf("group %d", o.group.idx)
	}
	switch res {
	case gaveUp:
		st.gaveUp[o.kind.String()]++
		st.example("%s %s: gave up after %d attempts, last answer %d %s", o.kind, name, s.idp.attempts, a.status, cut(string(a.body), 160))
	case refused:
		st.refused[fmt.Sprintf("%s → %d", o.kind, a.status)]++
		st.example("%s %s: refused: %d %s", o.kind, name, a.status, cut(string(a.body), 200))
	}
}

// send is idp.do that classifies the answer: ok lists the statuses that
// acknowledge the operation.
func (s *soak) send(ctx context.Context, d dialect, method, path string, body any, ok ...int) (outcome, answer) {
	a, err := s.idp.do(ctx, d, method, path, body)
	switch {
	case errors.Is(err, errGaveUp):
		return gaveUp, a
	case err != nil:
		return stopped, a
	}
	for _, st := range ok {
		if a.status == st {
			return acked, a
		}
	}
	return refused, a
}

// settleOutcome marks the object pending unless the operation was
// acknowledged, under the model's lock: a change the IdP gave up on (or
// that was refused, or cut short) is re-sent whole later.
func (s *soak) settleOutcome(res outcome, pending *bool, onAck func()) {
	s.model.mu.Lock()
	defer s.model.mu.Unlock()
	if res == acked {
		*pending = false
		if onAck != nil {
			onAck()
		}
		return
	}
	*pending = true
}

func filterPath(resource, attr, value string, d dialect) string {
	f := fmt.Sprintf(`%s eq "%s"`, attr, value)
	if d == okta {
		return "/" + resource + "?filter=" + url.PathEscape(f) + "&startIndex=1&count=100"
	}
	q := "filter=" + url.QueryEscape(f)
	if resource == "Groups" {
		q = "excludedAttributes=members&" + q
	}
	return "/" + resource + "?" + q
}

// lookup finds an object by a filter; it returns its id, "" when there is
// none, and the outcome of the lookup.
func (s *soak) lookup(ctx context.Context, d dialect, resource, attr, value string) (string, outcome, answer) {
	res, a := s.send(ctx, d, http.MethodGet, filterPath(resource, attr, value, d), nil, http.StatusOK)
	if res != acked {
		return "", res, a
	}
	var l listAnswer
	if err := json.Unmarshal(a.body, &l); err != nil || l.TotalResults > 1 {
		return "", refused, a
	}
	if l.TotalResults == 1 && len(l.Resources) == 1 {
		return l.Resources[0].ID, acked, a
	}
	return "", acked, a
}

// userBody is the whole user as the owning IdP sends it in a POST or PUT.
// The model's lock must be held or the user busy.
func userBody(u *user, withID bool) map[string]any {
	emails := []any{map[string]any{"primary": true, "value": u.email, "type": "work"}}
	var b map[string]any
	if u.owner == okta {
		b = map[string]any{
			"schemas": []any{userURN}, "userName": u.userName, "externalId": u.externalID,
			"name":   map[string]any{"givenName": u.given, "familyName": u.family},
			"emails": emails, "displayName": u.display, "locale": "en-US", "groups": []any{},
			"password": "x9Kq2mz1", "active": u.active,
		}
	} else {
		b = map[string]any{
			"schemas": []any{userURN, enterpriseURN}, "externalId": u.externalID, "userName": u.userName,
			"active": u.active, "displayName": u.display, "emails": emails, "meta": map[string]any{"resourceType": "User"},
			"name":  map[string]any{"formatted": u.display, "familyName": u.family, "givenName": u.given},
			"roles": []any{}, "phoneNumbers": nil, "title": nil, "manager": nil,
			enterpriseURN: map[string]any{"employeeNumber": fmt.Sprint(1000 + u.idx), "department": "Soak"},
		}
	}
	if withID {
		b["id"] = u.id
	}
	return b
}

func patch(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{"schemas": []any{patchURN}, "Operations": list}
}

// createUser looks the user up by userName, as both IdPs do, and creates
// it when the bridge does not have it.
func (s *soak) createUser(ctx context.Context, u *user) (outcome, answer) {
	id, found, res, a := s.createOrLink(ctx, u.owner, "Users", "userName", u.userName, func() map[string]any {
		s.model.mu.Lock()
		defer s.model.mu.Unlock()
		return userBody(u, false)
	})
	s.settleOutcome(res, &u.pending, func() {
		u.id = id
		// Found rather than created: the IdP pushes its whole state next.
		u.pending = found
	})
	return res, a
}

// createOrLink looks the resource up by attr = value, as both IdPs do, and
// POSTs body() when the bridge does not have it. A 409 means an earlier
// attempt got through: it links what the bridge has. found reports an
// acknowledged answer that did not create the resource (the lookup or
// the relink found it).
func (s *soak) createOrLink(ctx context.Context, d dialect, resource, attr, value string, body func() map[string]any) (id string, found bool, res outcome, a answer) {
	id, res, a = s.lookup(ctx, d, resource, attr, value)
	if res == acked && id == "" {
		res, a = s.send(ctx, d, http.MethodPost, "/"+resource, body(), http.StatusCreated, http.StatusConflict)
		if res == acked && a.status == http.StatusConflict {
			id, res, a = s.lookup(ctx, d, resource, attr, value)
			if res == acked && id == "" {
				res = refused
			}
		} else if res == acked {
			id = idOf(a.body)
		}
	}
	return id, res == acked && a.status != http.StatusCreated, res, a
}

func idOf(body []byte) string {
	var v struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(body, &v)
	return v.ID
}

// updateUser changes the user's profile: Okta PUTs the whole user, Entra
// PATCHes the changed attributes (flag form or legacy form).
func (s *soak) updateUser(ctx context.Context, u *user) (outcome, answer) {
	s.model.mu.Lock()
	u.version++
	u.family = fmt.Sprintf("Family%d-v%d", u.idx, u.version)
	u.display = u.given + " " + u.family
	if u.version%3 == 0 {
		u.email = fmt.Sprintf("soak%06d.v%d@corp.example", u.idx, u.version)
	}
	var path string
	var body map[string]any
	switch {
	case u.owner == okta:
		path, body = "/Users/"+u.id, userBody(u, true)
	case s.model.rng.IntN(2) == 0:
		path = "/Users/" + u.id + aadFlag
		body = patch(
			map[string]any{"op": "replace", "path": `emails[type eq "work"].value`, "value": u.email},
			map[string]any{"op": "replace", "value": map[string]any{"displayName": u.display, "name.familyName": u.family}})
	default:
		path = "/Users/" + u.id
		body = patch(
			map[string]any{"op": "Replace", "path": "displayName", "value": u.display},
			map[string]any{"op": "Replace", "path": "name.familyName", "value": u.family},
			map[string]any{"op": "Replace", "path": `emails[type eq "work"].value`, "value": u.email})
	}
	s.model.mu.Unlock()
	method := http.MethodPatch
	if u.owner == okta {
		method = http.MethodPut
	}
	res, a := s.send(ctx, u.owner, method, path, body, http.StatusOK, http.StatusNoContent)
	s.settleOutcome(res, &u.pending, nil)
	return res, a
}

// setActive deactivates or reactivates the user in its IdP's forms: Okta
// PUTs the user or PATCHes a path-less replace; Entra PATCHes path active
// with "False"/"True" (legacy) or a boolean (flag form).
func (s *soak) setActive(ctx context.Context, u *user, active bool) (outcome, answer) {
	s.model.mu.Lock()
	u.active = active
	if active {
		u.leaverSince = time.Time{} // from now on it may be active
	}
	method, path := http.MethodPatch, "/Users/"+u.id
	var body map[string]any
	form := s.model.rng.IntN(2)
	switch {
	case u.owner == okta && form == 0:
		method, body = http.MethodPut, userBody(u, true)
	case u.owner == okta:
		body = patch(map[string]any{"op": "replace", "value": map[string]any{"active": active}})
	case form == 0:
		v := "False"
		if active {
			v = "True"
		}
		body = patch(map[string]any{"op": "Replace", "path": "active", "value": v})
	default:
		path += aadFlag
		body = patch(map[string]any{"op": "replace", "path": "active", "value": active})
	}
	s.model.mu.Unlock()
	res, a := s.send(ctx, u.owner, method, path, body, http.StatusOK, http.StatusNoContent)
	s.settleOutcome(res, &u.pending, func() {
		if !active {
			u.leaverSince = time.Now()
		}
	})
	return res, a
}

// deleteUser is Entra's hard delete of a user it soft-deleted.
func (s *soak) deleteUser(ctx context.Context, u *user) (outcome, answer) {
	s.model.mu.Lock()
	u.deleted = true
	s.model.removeFromGroups(u.idx)
	s.model.mu.Unlock()
	res, a := s.send(ctx, u.owner, http.MethodDelete, "/Users/"+u.id, nil, http.StatusNoContent, http.StatusNotFound)
	s.settleOutcome(res, &u.pending, func() {
		if u.leaverSince.IsZero() {
			u.leaverSince = time.Now()
		}
	})
	return res, a
}

// resyncUser re-sends the whole desired state of a user whose last change
// was given up on: the create, the delete, or a PUT of every attribute.
func (s *soak) resyncUser(ctx context.Context, u *user) (outcome, answer) {
	s.model.mu.Lock()
	id, deleted, active := u.id, u.deleted, u.active
	body := userBody(u, true)
	s.model.mu.Unlock()
	switch {
	case id == "":
		return s.createUser(ctx, u)
	case deleted:
		return s.deleteUser(ctx, u)
	}
	res, a := s.send(ctx, u.owner, http.MethodPut, "/Users/"+id, body, http.StatusOK)
	s.settleOutcome(res, &u.pending, func() {
		if !active && u.leaverSince.IsZero() {
			u.leaverSince = time.Now()
		}
	})
	return res, a
}

// createGroup looks the group up by displayName and creates it when the
// bridge does not have it.
func (s *soak) createGroup(ctx context.Context, g *group) (outcome, answer) {
	s.model.mu.Lock()
	name := g.name
	body := map[string]any{"schemas": []any{groupURN}, "displayName": name}
	if g.owner == okta {
		body["members"] = []any{}
	} else {
		body["externalId"] = g.externalID
		body["meta"] = map[string]any{"resourceType": "Group"}
	}
	s.model.mu.Unlock()
	id, found, res, a := s.createOrLink(ctx, g.owner, "Groups", "displayName", name, func() map[string]any { return body })
	s.settleOutcome(res, &g.pending, func() {
		g.id = id
		g.pending = found || len(g.members) > 0
	})
	return res, a
}

// changeMembers adds or removes members in the group owner's dialect.
func (s *soak) changeMembers(ctx context.Context, g *group, members []*user, add bool) (outcome, answer) {
	s.model.mu.Lock()
	for _, u := range members {
		if add {
			g.members[u.idx] = true
		} else {
			delete(g.members, u.idx)
		}
	}
	path := "/Groups/" + g.id
	var ops []map[string]any
	legacy := g.owner == entra && s.model.rng.IntN(2) == 0
	if g.owner == entra && !legacy {
		path += aadFlag
	}
	values := make([]any, len(members))
	for i, u := range members {
		switch {
		case legacy:
			values[i] = map[string]any{"$ref": nil, "value": u.id}
		case g.owner == okta:
			values[i] = map[string]any{"value": u.id, "display": u.userName}
		default:
			values[i] = map[string]any{"value": u.id}
		}
	}
	switch {
	case add && legacy:
		ops = append(ops, map[string]any{"op": "Add", "path": "members", "value": values})
	case add:
		ops = append(ops, map[string]any{"op": "add", "path": "members", "value": values})
	case legacy:
		ops = append(ops, map[string]any{"op": "Remove", "path": "members", "value": values})
	default:
		for _, u := range members {
			ops = append(ops, map[string]any{"op": "remove", "path": fmt.Sprintf(`members[value eq "%s"]`, u.id)})
		}
	}
	s.model.mu.Unlock()
	res, a := s.send(ctx, g.owner, http.MethodPatch, path, patch(ops...), http.StatusOK, http.StatusNoContent)
	s.settleOutcome(res, &g.pending, nil)
	return res, a
}

// renameGroup: Okta's path-less replace with id and displayName, Entra's
// Replace of path displayName.
func (s *soak) renameGroup(ctx context.Context, g *group) (outcome, answer) {
	s.model.mu.Lock()
	g.renames++
	g.name = fmt.Sprintf("Soak Group %04d r%d", g.idx, g.renames)
	var body map[string]any
	if g.owner == okta {
		body = patch(map[string]any{"op": "replace", "value": map[string]any{"id": g.id, "displayName": g.name}})
	} else {
		body = patch(map[string]any{"op": "Replace", "path": "displayName", "value": g.name})
	}
	s.model.mu.Unlock()
	res, a := s.send(ctx, g.owner, http.MethodPatch, "/Groups/"+g.id, body, http.StatusOK, http.StatusNoContent)
	s.settleOutcome(res, &g.pending, nil)
	return res, a
}

func (s *soak) deleteGroup(ctx context.Context, g *group) (outcome, answer) {
	s.model.mu.Lock()
	g.deleted = true
	s.model.mu.Unlock()
	res, a := s.send(ctx, g.owner, http.MethodDelete, "/Groups/"+g.id, nil, http.StatusNoContent, http.StatusNotFound)
	s.settleOutcome(res, &g.pending, nil)
	return res, a
}

// resyncGroup re-sends the whole desired state of a group whose last
// change was given up on: the create, the delete, or a PUT with every
// member (as Okta's group push does).
func (s *soak) resyncGroup(ctx context.Context, g *group) (outcome, answer) {
	s.model.mu.Lock()
	id, deleted := g.id, g.deleted
	members := []any{}
	for i := range g.members {
		u := s.model.users[i]
		members = append(members, map[string]any{"value": u.id, "display": u.userName})
	}
	body := map[string]any{"schemas": []any{groupURN}, "id": id, "displayName": g.name, "members": members}
	s.model.mu.Unlock()
	switch {
	case id == "":
		return s.createGroup(ctx, g)
	case deleted:
		return s.deleteGroup(ctx, g)
	}
	res, a := s.send(ctx, g.owner, http.MethodPut, "/Groups/"+id, body, http.StatusOK)
	s.settleOutcome(res, &g.pending, nil)
	return res, a
}
