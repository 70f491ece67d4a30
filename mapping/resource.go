package mapping

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/scimdoc"
)

// Resource is the provisioner's contract for one SCIM resource type (RFC
// 7644 §3): the HTTP layer holds one per endpoint and never branches on the
// type. Every method that changes a resource checks ifMatch ("" = no
// condition) inside the resource's lock, so the version compared is the
// one changed. Every error is an *Error.
type Resource interface {
	// Kind is the SCIM resource type served.
	Kind() scimdoc.Kind
	// Create provisions a resource from a validated document (§3.3).
	Create(ctx context.Context, doc map[string]any) (Item, error)
	// Get returns one resource; reads never call UiPath.
	Get(ctx context.Context, id string) (Item, error)
	// Replace replaces a resource's attributes (PUT, §3.5.1).
	Replace(ctx context.Context, id string, doc map[string]any, ifMatch string) (Item, error)
	// Patch applies PATCH operations (§3.5.2).
	Patch(ctx context.Context, id string, ops []scimdoc.PatchOp, ifMatch string) (Item, error)
	// Delete deletes the UiPath object and forgets the resource (§3.6).
	Delete(ctx context.Context, id, ifMatch string) error
	// List answers a query from the store (§3.4.2).
	List(ctx context.Context, req ListRequest) (ListResult, error)
}

// Item is one resource as the store holds it, ready to render.
type Item struct {
	Kind       scimdoc.Kind
	ID         string
	ExternalID string
	// Version is the resource's ETag (scimdoc.ETag).
	Version           string
	Created, Modified time.Time
	// Doc is the stored SCIM document: a JSON object of the attributes the
	// IdP sent, without id, schemas, meta and the membership attributes.
	// It may be empty.
	Doc json.RawMessage
	// Members are a group's member ids, sorted.
	Members []string
	// Groups are the groups a user belongs to. Display is set on single
	// reads; lists leave it empty so that a lookup costs the same whatever
	// the number of groups.
	Groups []GroupRef
}

// GroupRef names a group a user belongs to.
type GroupRef struct {
	ID, Display string
}

// Attrs returns the item's SCIM attributes (without id, schemas and meta):
// the stored document, plus members for a group, plus groups and the
// default active:true for a user. Each call returns a new map. The HTTP
// layer, which knows the base URL, adds the references' "$ref".
func (it Item) Attrs() (map[string]any, error) {
	res := map[string]any{}
	if len(it.Doc) > 0 {
		if err := json.Unmarshal(it.Doc, &res); err != nil {
			return nil, fmt.Errorf("decode stored %s %s: %w", it.Kind, it.ID, err)
		}
	}
	switch it.Kind {
	case scimdoc.KindGroup:
		res["members"] = scimdoc.MemberList(it.Members)
	case scimdoc.KindUser:
		if len(it.Groups) > 0 {
			list := make([]any, 0, len(it.Groups))
			for _, g := range it.Groups {
				e := map[string]any{"value": g.ID, "type": "direct"}
				if g.Display != "" {
					e["display"] = g.Display
				}
				list = append(list, e)
			}
			res["groups"] = list
		}
		if _, ok := res["active"]; !ok {
			res["active"] = true
		}
	}
	return res, nil
}

// WithCommon returns a copy of attrs plus the common attributes (RFC 7643
// §3.1): id, externalId and meta (without location). Filters and sorting
// test it; the HTTP layer adds schemas and meta.location to answer with it.
func (it Item) WithCommon(attrs map[string]any) map[string]any {
	m := make(map[string]any, len(attrs)+4)
	for k, v := range attrs {
		m[k] = v
	}
	m["id"] = it.ID
	if it.ExternalID != "" {
		m["externalId"] = it.ExternalID
	}
	m["meta"] = it.meta()
	return m
}

// meta returns the item's meta attribute (RFC 7643 §3.1) without location,
// which only the HTTP layer knows.
func (it Item) meta() map[string]any {
	return map[string]any{
		"resourceType": it.Kind.String(),
		"created":      it.Created.UTC().Format(time.RFC3339Nano),
		"lastModified": it.Modified.UTC().Format(time.RFC3339Nano),
		"version":      it.Version,
	}
}

// itemOf makes an Item from a store record.
func itemOf(rec cache.Record, groups []GroupRef) Item {
	kind := scimdoc.KindUser
	if rec.Kind == cache.KindGroup {
		kind = scimdoc.KindGroup
	}
	it := Item{
		Kind: kind, ID: rec.ID, ExternalID: rec.ExternalID, Version: scimdoc.ETag(rec.Version),
		Created: rec.Created, Modified: rec.Modified, Doc: json.RawMessage(rec.Resource),
	}
	if kind == scimdoc.KindGroup {
		it.Members = rec.Members
		if it.Members == nil {
			it.Members = []string{}
		}
	} else {
		it.Groups = groups
	}
	return it
}

func groupRefs(ids []string) []GroupRef {
	if len(ids) == 0 {
		return nil
	}
	out := make([]GroupRef, len(ids))
	for i, id := range ids {
		out[i] = GroupRef{ID: id}
	}
	return out
}

// ListRequest is a SCIM list or search request after the HTTP layer
// parsed it.
type ListRequest struct {
	// Filter selects resources; nil selects all.
	Filter *scimdoc.Filter
	// Sort orders them; nil keeps the store's stable order (creation).
	Sort *scimdoc.Sort
	// Offset is 0-based; Count is the page size (0 = only the total).
	Offset, Count int
}

// ListResult is a page of a list plus the number of matches.
type ListResult struct {
	Total int
	Items []Item
}

// Users returns the Resource for SCIM users.
func (p *Provisioner) Users() Resource { return users{p} }

// Groups returns the Resource for SCIM groups.
func (p *Provisioner) Groups() Resource { return groups{p} }

// users implements Resource for users; its methods live in users.go.
type users struct{ p *Provisioner }

// groups implements Resource for groups; its methods live in groups.go.
type groups struct{ p *Provisioner }

var (
	_ Resource = users{}
	_ Resource = groups{}
)

func (users) Kind() scimdoc.Kind  { return scimdoc.KindUser }
func (groups) Kind() scimdoc.Kind { return scimdoc.KindGroup }

func (u users) Create(ctx context.Context, doc map[string]any) (Item, error) {
	w := u.p.beginWrite(ctx, OpCreate, cache.KindUser, "", nameOf(doc), false)
	rec, err := u.p.createUser(w.ctx, doc)
	w.end(rec, err)
	return u.p.userItem(ctx, rec, err)
}

func (u users) Get(ctx context.Context, id string) (Item, error) {
	rec, err := u.p.getUser(ctx, id)
	return u.p.userItem(ctx, rec, err)
}

func (u users) Replace(ctx context.Context, id string, doc map[string]any, ifMatch string) (Item, error) {
	w := u.p.beginWrite(ctx, OpReplace, cache.KindUser, id, nameOf(doc), asksDeactivation(doc, nil))
	rec, err := u.p.replaceUser(w.ctx, id, doc, ifMatch)
	w.end(rec, err)
	return u.p.userItem(ctx, rec, err)
}

func (u users) Patch(ctx context.Context, id string, ops []scimdoc.PatchOp, ifMatch string) (Item, error) {
	w := u.p.beginWrite(ctx, OpPatch, cache.KindUser, id, "", asksDeactivation(nil, ops))
	rec, err := u.p.patchUser(w.ctx, id, ops, ifMatch)
	w.end(rec, err)
	return u.p.userItem(ctx, rec, err)
}

func (u users) Delete(ctx context.Context, id, ifMatch string) error {
	w := u.p.beginWrite(ctx, OpDelete, cache.KindUser, id, "", false)
	rec, err := u.p.deleteUser(w.ctx, id, ifMatch)
	err = classify(err)
	w.end(rec, err)
	return err
}

func (u users) List(ctx context.Context, req ListRequest) (ListResult, error) {
	res, err := u.p.list(ctx, cache.KindUser, req)
	return res, classify(err)
}

func (g groups) Create(ctx context.Context, doc map[string]any) (Item, error) {
	w := g.p.beginWrite(ctx, OpCreate, cache.KindGroup, "", nameOf(doc), false)
	rec, err := g.p.createGroup(w.ctx, doc)
	err = classify(err)
	w.end(rec, err)
	return itemOf(rec, nil), err
}

func (g groups) Get(ctx context.Context, id string) (Item, error) {
	rec, err := g.p.getGroup(ctx, id)
	return itemOf(rec, nil), classify(err)
}

func (g groups) Replace(ctx context.Context, id string, doc map[string]any, ifMatch string) (Item, error) {
	w := g.p.beginWrite(ctx, OpReplace, cache.KindGroup, id, nameOf(doc), false)
	rec, err := g.p.replaceGroup(w.ctx, id, doc, ifMatch)
	err = classify(err)
	w.end(rec, err)
	return itemOf(rec, nil), err
}

func (g groups) Patch(ctx context.Context, id string, ops []scimdoc.PatchOp, ifMatch string) (Item, error) {
	w := g.p.beginWrite(ctx, OpPatch, cache.KindGroup, id, "", false)
	rec, err := g.p.patchGroup(w.ctx, id, ops, ifMatch)
	err = classify(err)
	w.end(rec, err)
	return itemOf(rec, nil), err
}

func (g groups) Delete(ctx context.Context, id, ifMatch string) error {
	w := g.p.beginWrite(ctx, OpDelete, cache.KindGroup, id, "", false)
	rec, err := g.p.deleteGroup(w.ctx, id, ifMatch)
	err = classify(err)
	w.end(rec, err)
	return err
}

func (g groups) List(ctx context.Context, req ListRequest) (ListResult, error) {
	res, err := g.p.list(ctx, cache.KindGroup, req)
	return res, classify(err)
}

// userItem renders a user record for a single-resource answer, its groups
// named (display).
func (p *Provisioner) userItem(ctx context.Context, rec cache.Record, err error) (Item, error) {
	if err != nil {
		return Item{}, classify(err)
	}
	ids, err := p.store.GroupsOf(ctx, rec.ID)
	if err != nil {
		return Item{}, classify(fmt.Errorf("groups of %s: %w", rec.ID, err))
	}
	refs := groupRefs(ids)
	for i := range refs {
		if grec, err := p.store.Get(ctx, cache.KindGroup, refs[i].ID); err == nil {
			refs[i].Display = grec.Name
		}
	}
	return itemOf(rec, refs), nil
}
