package cachetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
)

// Run runs the conformance suite. newStore must return a fresh, empty store
// for the test it is given; it is called once per subtest, and the backend
// arranges its own cleanup with t.Cleanup. Run closes each store at the end
// of its subtest.
func Run(t *testing.T, newStore func(t *testing.T) cache.Store) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s cache.Store)
	}{
		// crud.go
		{"CreateGet", testCreateGet},
		{"CreateSetsVersion", testCreateSetsVersion},
		{"CreateEmptyID", testCreateEmptyID},
		{"CreateDuplicateID", testCreateDuplicateID},
		{"CreateDuplicateName", testCreateDuplicateName},
		{"CreateSharedExternalID", testCreateSharedExternalID},
		{"Missing", testMissing},
		{"Update", testUpdate},
		{"Readopted", testReadopted},
		{"UpdateFnError", testUpdateFnError},
		{"Delete", testDelete},
		{"KindsSeparate", testKindsSeparate},
		{"Ping", testPing},
		// index.go
		{"LookupName", testLookupName},
		{"FindName", testFindName},
		{"FindExternalID", testFindExternalID},
		{"FindGroupMembers", testFindGroupMembers},
		{"LookupUnknownIndex", testLookupUnknownIndex},
		{"EmptyExternalIDNotIndexed", testEmptyExternalIDNotIndexed},
		{"EmptyNameNotIndexed", testEmptyNameNotIndexed},
		{"UpdateRename", testUpdateRename},
		{"UpdateExternalID", testUpdateExternalID},
		{"UpdateConflict", testUpdateConflict},
		{"GroupsOf", testGroupsOf},
		{"GroupsOfDelete", testGroupsOfDelete},
		// members.go
		{"UpdateMembers", testUpdateMembers},
		{"UpdateMembersIdempotent", testUpdateMembersIdempotent},
		{"UpdateMembersRemoveThenAdd", testUpdateMembersRemoveThenAdd},
		{"UpdateMembersFn", testUpdateMembersFn},
		{"UpdateMembersFnError", testUpdateMembersFnError},
		{"UpdateMembersNotFound", testUpdateMembersNotFound},
		{"UpdateMembersConflict", testUpdateMembersConflict},
		{"UpdateMembersGroupsOf", testUpdateMembersGroupsOf},
		{"UpdateMembersDelete", testUpdateMembersDelete},
		{"ParallelUpdateMembers", testParallelUpdateMembers},
		// list.go
		{"List", testList},
		{"ListAfterDelete", testListAfterDelete},
		{"ListInvalid", testListInvalid},
		{"Pipeline", testPipeline},
		// concurrency.go
		{"ParallelUpdate", testParallelUpdate},
		{"ParallelMembers", testParallelMembers},
		{"ParallelCreateSameName", testParallelCreateSameName},
		{"ParallelRename", testParallelRename},
		// doubt.go
		{"Doubts", testDoubts},
		{"ResolveDoubt", testResolveDoubt},
		// pending.go
		{"QueueMembers", testQueueMembers},
		{"QueueCancels", testQueueCancels},
		{"ClaimPending", testClaimPending},
		{"QueueTurnsClaimed", testQueueTurnsClaimed},
		{"SettlePending", testSettlePending},
		{"UpdateMembersSettlesQueue", testUpdateMembersSettlesQueue},
		{"Failures", testFailures},
		{"ParallelQueue", testParallelQueue},
		// audit.go
		{"Audit", testAudit},
		{"AuditOrder", testAuditOrder},
		{"AuditRetention", testAuditRetention},
		{"ParallelAudit", testParallelAudit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			})
			tt.fn(t, s)
		})
	}
}

// base is the creation time of the records the suite makes; UTC and
// without a monotonic reading so that it survives any encoding.
var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func user(id, name, externalID string) cache.Record {
	return cache.Record{
		Kind:       cache.KindUser,
		ID:         id,
		Name:       name,
		ExternalID: externalID,
		Resource:   json.RawMessage(`{"userName":"` + name + `","n":0}`),
		Created:    base,
		Modified:   base,
	}
}

func group(id, name string, members ...string) cache.Record {
	return cache.Record{
		Kind:     cache.KindGroup,
		ID:       id,
		Name:     name,
		Resource: json.RawMessage(`{"displayName":"` + name + `"}`),
		Members:  members,
		Created:  base,
		Modified: base,
	}
}

func groupExt(id, name, externalID string, members ...string) cache.Record {
	g := group(id, name, members...)
	g.ExternalID = externalID
	return g
}

func mustCreate(t *testing.T, s cache.Store, rec cache.Record) cache.Record {
	t.Helper()
	got, err := s.Create(t.Context(), rec)
	if err != nil {
		t.Fatalf("Create(%s %s): %v", rec.Kind, rec.ID, err)
	}
	return got
}

func mustGet(t *testing.T, s cache.Store, kind cache.Kind, id string) cache.Record {
	t.Helper()
	got, err := s.Get(t.Context(), kind, id)
	if err != nil {
		t.Fatalf("Get(%s %s): %v", kind, id, err)
	}
	return got
}

// wantRecord fails the test if got differs from want. Times are compared
// with Equal, Resource as JSON values, and a nil Members equals an empty one.
func wantRecord(t *testing.T, op string, got, want cache.Record) {
	t.Helper()
	if d := diffRecord(got, want); d != "" {
		t.Errorf("%s: record mismatch (-got +want):\n%s", op, d)
	}
}

func diffRecord(got, want cache.Record) string {
	var b strings.Builder
	field := func(name string, g, w any) {
		fmt.Fprintf(&b, "  %s: -%v +%v\n", name, g, w)
	}
	if got.Kind != want.Kind {
		field("Kind", got.Kind, want.Kind)
	}
	if got.ID != want.ID {
		field("ID", got.ID, want.ID)
	}
	if got.Name != want.Name {
		field("Name", got.Name, want.Name)
	}
	if got.ExternalID != want.ExternalID {
		field("ExternalID", got.ExternalID, want.ExternalID)
	}
	if !jsonEqual(got.Resource, want.Resource) {
		field("Resource", string(got.Resource), string(want.Resource))
	}
	if !slices.Equal(got.Members, want.Members) {
		field("Members", got.Members, want.Members)
	}
	if !got.Created.Equal(want.Created) {
		field("Created", got.Created, want.Created)
	}
	if !got.Modified.Equal(want.Modified) {
		field("Modified", got.Modified, want.Modified)
	}
	if got.Version != want.Version {
		field("Version", got.Version, want.Version)
	}
	// Any other field (one added to cache.Record later) must round-trip too.
	g, w := got, want
	for _, r := range []*cache.Record{&g, &w} {
		r.Resource, r.Members, r.Created, r.Modified = nil, nil, time.Time{}, time.Time{}
	}
	if !reflect.DeepEqual(g, w) {
		field("other fields", fmt.Sprintf("%+v", g), fmt.Sprintf("%+v", w))
	}
	return b.String()
}

func jsonEqual(a, b json.RawMessage) bool {
	if len(a) == 0 || len(b) == 0 {
		return len(a) == len(b)
	}
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

// counter reads the "n" field of a record's Resource.
func counter(t *testing.T, rec cache.Record) int {
	t.Helper()
	var v struct{ N int }
	if err := json.Unmarshal(rec.Resource, &v); err != nil {
		t.Fatalf("decode resource %s: %v", rec.Resource, err)
	}
	return v.N
}

// increment is an Update fn that adds one to the "n" field of Resource.
func increment(rec cache.Record) (cache.Record, error) {
	var v map[string]any
	if err := json.Unmarshal(rec.Resource, &v); err != nil {
		return rec, err
	}
	n, _ := v["n"].(float64)
	v["n"] = n + 1
	res, err := json.Marshal(v)
	if err != nil {
		return rec, err
	}
	rec.Resource = res
	return rec, nil
}

func ids(recs []cache.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// ctx is a shorthand for the subtest context.
func ctx(t *testing.T) context.Context { return t.Context() }
