package cache

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Sentinel errors returned by every Store implementation. Callers test them
// with errors.Is.
var (
	// ErrNotFound means no record has the requested key or index value.
	ErrNotFound = errors.New("cache: not found")
	// ErrAlreadyExists means Create found a record with the same id, or a
	// unique index value (the name) already owned by another record.
	ErrAlreadyExists = errors.New("cache: already exists")
	// ErrConflict means Update would move a unique index value (the name)
	// onto one already owned by another record.
	ErrConflict = errors.New("cache: conflict")
	// ErrUnavailable means the store could not be reached (connection
	// refused or lost, pool exhausted, closed): nothing is known about the
	// record, and the same call may succeed later. Stores wrap the cause
	// with it.
	ErrUnavailable = errors.New("cache: store unavailable")
)

// Kind is the resource type of a record.
type Kind string

// The kinds the bridge stores.
const (
	KindUser  Kind = "user"
	KindGroup Kind = "group"
)

// Index names a secondary index that Find (and, for a unique one, Lookup)
// can query.
type Index string

const (
	// IndexName is userName for users and displayName for groups. It is
	// unique within a kind and case-insensitive: values are compared after
	// strings.ToLower.
	IndexName Index = "name"
	// IndexExternalID is the IdP's externalId; case-sensitive (RFC 7643
	// §3.1 makes externalId caseExact). It is not unique: externalId is
	// the client's identifier (RFC 7643 §3.1), and IdPs fill it from
	// attributes that repeat (Entra's older default maps mailNickname),
	// so several records of a kind may share one.
	IndexExternalID Index = "externalId"
)

// Unique reports whether the index holds at most one record per value and
// kind, so that Lookup may query it.
func (i Index) Unique() bool { return i == IndexName }

// Record is what the store keeps for one SCIM resource.
//
// ID is both the SCIM id and the UiPath id (a GUID the bridge generates).
// Name feeds the unique name index, ExternalID the non-unique externalId
// index; an empty value (ExternalID, or a Name the caller failed to
// validate) is not indexed. Members is used
// for groups only: the ids of the member users, without duplicates; Get,
// Lookup and List return them sorted. Stores keep a group's members apart
// from its other fields, so that UpdateMembers costs O(change).
type Record struct {
	Kind       Kind   `json:"kind"`
	ID         string `json:"id"`
	Name       string `json:"name"`
	ExternalID string `json:"externalId,omitempty"`
	// Resource is the SCIM representation last accepted from the IdP,
	// without id, meta, schemas and (for groups) members: what UiPath
	// does not keep lives only here.
	Resource json.RawMessage `json:"resource,omitempty"`
	Members  []string        `json:"members,omitempty"`
	// Deprovisioned reports that the UiPath account was deleted by the
	// `delete` deprovisioning policy while the IdP still knows the user
	// (active=false); a reactivation recreates it under the same id.
	Deprovisioned bool `json:"deprovisioned,omitempty"`
	// Readopted reports that the record was rebuilt from UiPath after a
	// store loss: a write named an id the store did not know and UiPath
	// had (the id is the UiPath GUID). What UiPath does not keep
	// (externalId, attributes beyond the profile) was lost with the store.
	Readopted bool `json:"readopted,omitempty"`
	// Imported reports that `reconcile --import` rebuilt the record from
	// UiPath and the IdP has not written to it since: reconciliation
	// reports it but never repairs it, because nothing says yet that the
	// IdP wants it. The IdP's first write clears it.
	Imported bool      `json:"imported,omitempty"`
	Created  time.Time `json:"created"`
	Modified time.Time `json:"modified"`
	// Version is set to 1 by Create and incremented by every successful
	// Update; callers never set it.
	Version int64 `json:"version"`
}

// Doubt says that UiPath may hold something other than what the store says
// for one resource: a write was sent whose outcome is unknown (a timeout, a
// dropped connection, a 5xx), and UiPath may still apply it, even after a
// later write. The bridge reads such a resource back from UiPath before it
// trusts it, and checks it again at Due; a doubt lives in the store, so
// it survives a restart and is shared by replicas.
type Doubt struct {
	Kind Kind
	ID   string
	// Since is when the latest write with an unknown outcome ended.
	Since time.Time
	// Due is when the resource should next be checked against UiPath.
	Due time.Time
	// Owned says the bridge created or deleted the UiPath object under
	// this id: when the store has no record of it, UiPath must not have
	// it either. Without it, an object unknown to the store is left alone
	// (it may be an account the bridge never owned).
	Owned bool
}

// Page is one page of List results.
type Page struct {
	Records []Record
	// Total is the number of records of that kind in the store.
	Total int
}

// Store is the mapping store contract. Implementations are safe for
// concurrent use by multiple goroutines and, for shared backends, by multiple
// processes.
type Store interface {
	// Get returns the record with the given id, or ErrNotFound.
	Get(ctx context.Context, kind Kind, id string) (Record, error)
	// Lookup returns the record whose value of a unique index (IndexName)
	// equals value, compared case-insensitively, or ErrNotFound. On a
	// non-unique index (IndexExternalID) it returns an error that is not
	// ErrNotFound: use Find.
	Lookup(ctx context.Context, kind Kind, index Index, value string) (Record, error)
	// Find returns every record of a kind whose index value equals value,
	// in List's order (by creation, ties by id), and an empty slice when
	// none does; it reads index and records atomically. It serves every
	// index: IndexName yields at most one record.
	Find(ctx context.Context, kind Kind, index Index, value string) ([]Record, error)
	// Create stores a new record. It sets Version to 1. It returns
	// ErrAlreadyExists if the id exists or if Name is already indexed for
	// another record of the same kind; then nothing is written. A shared
	// ExternalID is no conflict.
	Create(ctx context.Context, rec Record) (Record, error)
	// Update applies fn to the current record and stores the result
	// atomically (compare-and-swap): if the record changed between read and
	// write, fn runs again on the new value, so fn may run more than once and
	// must have no side effects. An error from fn aborts the update and is
	// returned as is. Update keeps Kind, ID and Created, increments Version,
	// maintains the indexes and the user → group membership index, and
	// returns the stored record. It returns ErrNotFound if the record does
	// not exist and ErrConflict if a new Name is taken.
	Update(ctx context.Context, kind Kind, id string, fn func(Record) (Record, error)) (Record, error)
	// UpdateMembers changes a group's members by a delta and, through fn,
	// its other fields, in one atomic step: the ids in remove leave, then
	// the ids in add join, so an id in both ends up a member. Both are
	// idempotent: adding a member or removing a non-member is no change.
	// fn, when non-nil, sees the record without its members (Members nil)
	// and may change Name, ExternalID, Resource and Modified; a Members
	// value it returns is ignored. Like Update, fn may run more than once,
	// and an error from it aborts the change, with nothing written, and is
	// returned as is. Version is incremented (even if the delta changes
	// nothing), the user → group index is maintained for the delta only,
	// and the returned record has Members nil. It costs O(len(add) +
	// len(remove)) plus the record's own fields, never O(members). It
	// returns ErrNotFound if there is no such group and ErrConflict as
	// Update.
	UpdateMembers(ctx context.Context, groupID string, add, remove []string, fn func(Record) (Record, error)) (Record, error)
	// Delete removes the record, its index entries and (for a group) its
	// membership entries. It returns ErrNotFound if there is no record. It is
	// atomic.
	Delete(ctx context.Context, kind Kind, id string) error
	// List returns up to limit records of a kind starting at offset
	// (0-based), in a stable order (by creation, ties by id), and the total
	// count. A limit of 0 returns only the total.
	List(ctx context.Context, kind Kind, offset, limit int) (Page, error)
	// GroupsOf returns the ids of the groups whose Members contain userID,
	// sorted. A user in no group (or unknown) yields an empty slice.
	GroupsOf(ctx context.Context, userID string) ([]string, error)
	// AddDoubt records that a resource's UiPath state is in doubt, merging
	// with a doubt already recorded for it: the later Since, the earlier
	// Due, Owned if either is. Times are kept to the millisecond.
	AddDoubt(ctx context.Context, d Doubt) error
	// GetDoubt returns the doubt recorded for a resource, if any.
	GetDoubt(ctx context.Context, kind Kind, id string) (Doubt, bool, error)
	// DueDoubts returns up to limit doubts whose Due is at or before t,
	// earliest first (limit <= 0: all of them).
	DueDoubts(ctx context.Context, t time.Time, limit int) ([]Doubt, error)
	// ResolveDoubt acts on d only if no later doubt was recorded since d was
	// read (the stored Since still equals d.Since): with a zero next the
	// doubt is removed, otherwise it stays, due at next. It is atomic.
	ResolveDoubt(ctx context.Context, d Doubt, next time.Time) error
	// Queue holds the pending membership changes (pending.go).
	Queue
	// Audit keeps the audit log (audit.go).
	Audit
	// Ping reports whether the backend is reachable.
	Ping(ctx context.Context) error
	// Close releases the backend's resources.
	Close() error
}

// Locker is implemented by stores shared between processes (Redis): it
// serialises work on one resource across every replica. Lock waits until
// key is free or ctx ends, holds it at most ttl if the holder dies (a live
// holder keeps it), and returns the function that releases it. Stores used
// by a single process need not implement it.
type Locker interface {
	Lock(ctx context.Context, key string, ttl time.Duration) (unlock func(), err error)
}

// LookupGrouper is implemented by stores that can answer a Lookup (a
// unique index) and the found record's GroupsOf in one round trip (Redis);
// the bridge uses it on the userName lookups IdPs make constantly.
type LookupGrouper interface {
	LookupWithGroups(ctx context.Context, kind Kind, index Index, value string) (Record, []string, error)
}

// MembersDelta is the change UpdateMembers and QueueMembers make, for a
// backend's compare-and-swap loop: fn (when non-nil) applied to the
// record read without its members, Members left nil, and the delta to
// write (add, remove) unchanged. Both backends use it, so the rule is
// stated once.
func MembersDelta(add, remove []string, fn func(Record) (Record, error)) func(Record) (Record, []string, []string, error) {
	return func(old Record) (Record, []string, []string, error) {
		rec := old
		if fn != nil {
			var err error
			if rec, err = fn(old); err != nil {
				return rec, nil, nil, err
			}
		}
		rec.Members = nil
		return rec, add, remove, nil
	}
}
