package mapping

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/logpii"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// A SCIM id is the GUID of its UiPath object, so a store that lost records
// (Redis restarted without persistence, a lost bbolt file) does not stop
// UiPath from holding what the IdP names. A write for an id the store does
// not know therefore asks UiPath (GET /User/{id}, GET /Group/{pgid}/{id})
// before it answers 404; when UiPath has a local user or a custom group
// under that id, the record is rebuilt from it (re-adoption: the record is
// marked cache.Record.Readopted) and the write applied to it, so that a
// deactivation or delete after a store loss still takes effect in UiPath.
// Robots, directory users and built-in groups are never re-adopted. Reads
// never ask UiPath (GETs are its scarcest budget).
//
// The other way round, an object the store has and UiPath lost (deleted
// there by an admin) is recreated under the same id, with its memberships,
// by the writes that need it (a profile change, a group change, the
// scheduler's calls); a deactivation or delete of it already holds.

// maxReadoptLookups bounds the members one group write may look up in
// UiPath to re-adopt them (one GET each); a request naming more unknown
// members re-adopts that many and asks the IdP to retry, so that its
// retries converge.
const maxReadoptLookups = 50

// readoptUser rebuilds the record of a user the store does not know from
// the UiPath account with that id, and stores it. Without such an account
// (or for one the bridge never manages: a robot, a directory user) it
// answers not found.
func (p *Provisioner) readoptUser(ctx context.Context, id string) (cache.Record, error) {
	if _, err := uuid.Parse(id); err != nil {
		return cache.Record{}, notFound("user", id)
	}
	u, err := p.up.GetUser(ctx, id)
	if errors.Is(err, upstream.ErrNotFound) {
		return cache.Record{}, notFound("user", id)
	}
	if err != nil {
		return cache.Record{}, fmt.Errorf("look up user %s in UiPath: %w", id, err)
	}
	if u.Type != upstream.UserTypeUser {
		p.log.InfoContext(ctx, "unknown id names a UiPath account the bridge does not manage: not re-adopted", "scim_id", id, "type", u.Type)
		return cache.Record{}, notFound("user", id)
	}
	body, err := json.Marshal(resourceOfUpstream(u))
	if err != nil {
		return cache.Record{}, fmt.Errorf("encode user: %w", err)
	}
	now := p.cfg.Now().UTC()
	return p.storeReadopted(ctx, cache.Record{
		Kind: cache.KindUser, ID: id, Name: u.UserName, Resource: body,
		Created: now, Modified: now, Readopted: true,
	})
}

// resourceOfUpstream is the SCIM user a create would have stored for what
// UiPath holds (see profileOf for the mapping).
func resourceOfUpstream(u upstream.User) map[string]any {
	res := map[string]any{"userName": u.UserName, "active": u.IsActive}
	name := map[string]any{}
	if u.Name != nil && *u.Name != "" {
		name["givenName"] = *u.Name
	}
	if u.Surname != nil && *u.Surname != "" {
		name["familyName"] = *u.Surname
	}
	if len(name) > 0 {
		res["name"] = name
	}
	if u.DisplayName != nil && *u.DisplayName != "" {
		res["displayName"] = *u.DisplayName
	}
	if u.Email != "" {
		res["emails"] = []any{map[string]any{"value": u.Email, "type": "work", "primary": true}}
	}
	return res
}

// readoptGroup rebuilds the record of a group the store does not know from
// the UiPath custom group with that id, with, when members is set, the
// members UiPath lists that the store knows as users.
func (p *Provisioner) readoptGroup(ctx context.Context, id string, members bool) (cache.Record, error) {
	if _, err := uuid.Parse(id); err != nil {
		return cache.Record{}, notFound("group", id)
	}
	g, err := p.up.GetGroup(ctx, id)
	if errors.Is(err, upstream.ErrNotFound) {
		return cache.Record{}, notFound("group", id)
	}
	if err != nil {
		return cache.Record{}, fmt.Errorf("look up group %s in UiPath: %w", id, err)
	}
	if g.Type != upstream.GroupTypeCustom {
		p.log.InfoContext(ctx, "unknown id names a UiPath group the bridge does not manage: not re-adopted", "scim_id", id, "type", g.Type)
		return cache.Record{}, notFound("group", id)
	}
	var known []string
	if members {
		refs, err := p.up.GroupMembers(ctx, id)
		if err != nil {
			return cache.Record{}, fmt.Errorf("list members of group %s in UiPath: %w", id, err)
		}
		for _, m := range refs {
			_, err := p.store.Get(ctx, cache.KindUser, m.ID)
			switch {
			case err == nil:
				known = append(known, m.ID)
			case !errors.Is(err, cache.ErrNotFound):
				return cache.Record{}, fmt.Errorf("look up member %s: %w", m.ID, err)
			}
		}
	}
	body, err := json.Marshal(map[string]any{"displayName": g.Name})
	if err != nil {
		return cache.Record{}, fmt.Errorf("encode group: %w", err)
	}
	now := p.cfg.Now().UTC()
	rec, err := p.storeReadopted(ctx, cache.Record{
		Kind: cache.KindGroup, ID: id, Name: g.Name, Resource: body, Members: known,
		Created: now, Modified: now, Readopted: true,
	})
	if err != nil || len(known) == 0 {
		return rec, err
	}
	// A member deleted meanwhile must not stay listed (see deleteUser).
	return p.forgetDeletedMembers(ctx, rec, setOf(known))
}

// storeReadopted creates a re-adopted record. Another request re-adopting
// the same id at once is no failure: its record is the one used.
func (p *Provisioner) storeReadopted(ctx context.Context, rec cache.Record) (cache.Record, error) {
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	stored, err := p.store.Create(rctx, rec)
	if errors.Is(err, cache.ErrAlreadyExists) {
		cur, gerr := p.store.Get(ctx, rec.Kind, rec.ID)
		if gerr == nil {
			return cur, nil
		}
		if !errors.Is(gerr, cache.ErrNotFound) {
			return cache.Record{}, fmt.Errorf("re-read %s %s: %w", rec.Kind, rec.ID, gerr)
		}
		// The name is the store's under another id.
		return cache.Record{}, uniqueness("UiPath %s %s is named %q, which the bridge's store gives to another %s", rec.Kind, rec.ID, rec.Name, rec.Kind)
	}
	if err != nil {
		return cache.Record{}, fmt.Errorf("store re-adopted %s %s: %w", rec.Kind, rec.ID, err)
	}
	p.log.WarnContext(ctx, "re-adopted from UiPath after a store loss", "kind", rec.Kind, "scim_id", rec.ID, "name", logpii.Value(rec.Name), "members", len(rec.Members))
	return stored, nil
}

// loadOrReadopt returns the store's record of a user or group a write
// names, re-adopting it from UiPath when the store does not know it. It
// reports whether the record was re-adopted by this call (or a concurrent
// one).
func (p *Provisioner) loadOrReadopt(ctx context.Context, kind cache.Kind, id string, members bool) (cache.Record, bool, error) {
	rec, err := p.store.Get(ctx, kind, id)
	if !errors.Is(err, cache.ErrNotFound) {
		return rec, false, err
	}
	if kind == cache.KindUser {
		rec, err = p.readoptUser(ctx, id)
	} else {
		rec, err = p.readoptGroup(ctx, id, members)
	}
	if err == nil {
		noteAudit(ctx, func(n *auditNote) { n.detail = "re-adopted from UiPath: the store did not know the id" })
	}
	return rec, err == nil, err
}
