package mapping_test

// The test environment of package mapping: the real provisioner over the
// real UiPath client, talking HTTP to the UiPath emulator, with a real
// mapping store (bbolt on disk, or a private Redis). Nothing is mocked; a
// pass-through recorder in front of the emulator keeps the bodies of the
// write calls so tests can check what was sent, not only how often.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scimdoc"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// envOptions configures newEnv. The zero value is a bolt store and the
// provisioner's defaults (strategy user, deprovision disable, no adoption).
type envOptions struct {
	// store selects the mapping store; zero means bolt in t.TempDir().
	store envtest.Store
	// cfg configures the provisioner.
	cfg mapping.Config
	// latency is added to every UiPath call (to widen race windows).
	latency time.Duration
	// pageSize, when set, is the client's page size for user listings.
	pageSize int
}

// env is one provisioner with everything it talks to.
type env struct {
	t      *testing.T
	emu    *emulator.Server
	prov   *mapping.Provisioner
	users  mapping.Resource
	groups mapping.Resource
	store  cache.Store
	wire   *wire
	// up is the provisioner's UiPath client, for tests that change UiPath
	// behind the bridge's back (an admin deleting an account).
	up *upstream.Client
	// ids names test users: ids["ada"] is ada's SCIM id.
	ids map[string]string
}

// newEnv assembles an env on the shared test environment (emulator over
// HTTP, the real client, a real store); t.Cleanup tears it down.
func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	w := &wire{}
	cfg := envtest.Config{
		Emulator: emulator.Config{DisableRateLimits: true, Latency: o.latency},
		Wrap:     w.wrap,
		Store:    o.store,
	}
	if o.pageSize > 0 {
		cfg.Client = func(c *upstream.Config) { c.PageSize = o.pageSize }
	}
	te := envtest.New(t, cfg)
	prov, err := mapping.New(o.cfg, te.Client, te.Store, te.Logger.With("component", "mapping"))
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, emu: te.Emulator, prov: prov, users: prov.Users(), groups: prov.Groups(), store: te.Store, wire: w, up: te.Client}
}

// forEachStore runs f on the embedded store and on Redis.
func forEachStore(t *testing.T, f func(t *testing.T, store envtest.Store)) {
	for _, s := range []envtest.Store{envtest.Bolt, envtest.Redis} {
		t.Run(s.String(), func(t *testing.T) { f(t, s) })
	}
}

// wire records the API write calls (not GETs, not token calls) that reach
// the emulator, with their JSON bodies, and passes them on unchanged.
type wire struct {
	mu    sync.Mutex
	calls []wireCall
}

type wireCall struct {
	Method, Path string // Path without the /api prefix, e.g. /User/{id}
	Body         map[string]any
}

func (w *wire) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/") {
			raw, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(raw))
			c := wireCall{Method: r.Method, Path: strings.TrimPrefix(r.URL.Path, "/api")}
			_ = json.Unmarshal(raw, &c.Body)
			w.mu.Lock()
			w.calls = append(w.calls, c)
			w.mu.Unlock()
		}
		h.ServeHTTP(rw, r)
	})
}

// sent returns the recorded write calls with that method whose path starts
// with prefix.
func (w *wire) sent(method, prefix string) []wireCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []wireCall
	for _, c := range w.calls {
		if c.Method == method && strings.HasPrefix(c.Path, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// all returns every recorded write call.
func (w *wire) all() []wireCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]wireCall(nil), w.calls...)
}

// reset forgets the recorded calls.
func (w *wire) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls = nil
}

// calls counts the API calls in the emulator's request log with that
// method whose path (without /api) starts with prefix.
func (e *env) calls(method, prefix string) int {
	n := 0
	for _, r := range e.emu.Requests() {
		if r.Method == method && strings.HasPrefix(r.Path, "/api"+prefix) {
			n++
		}
	}
	return n
}

// resetCalls forgets the calls made so far, in the emulator's log and in
// the wire recorder, so that a test counts only what follows.
func (e *env) resetCalls() {
	e.emu.ResetRequests()
	e.wire.reset()
}

// writes counts the API write calls (POST, PUT, DELETE) the emulator saw.
func (e *env) writes() int {
	return e.calls(http.MethodPost, "/") + e.calls(http.MethodPut, "/") + e.calls(http.MethodDelete, "/")
}

// doc decodes a JSON object the way the HTTP layer does.
func doc(t *testing.T, raw string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatalf("bad test document %s: %v", raw, err)
	}
	return m
}

// ops parses a PATCH body the way the HTTP layer does.
func ops(t *testing.T, raw string) []scimdoc.PatchOp {
	t.Helper()
	o, err := scimdoc.ParsePatch([]byte(raw))
	if err != nil {
		t.Fatalf("bad test PATCH body %s: %v", raw, err)
	}
	return o
}

// patchBody wraps operations (a JSON array) in a PatchOp message.
func patchBody(operations string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + operations + `}`
}

// userJSON is an Okta-style user document.
func userJSON(userName, given, family, externalID string) string {
	b, _ := json.Marshal(map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
		"userName":   userName,
		"externalId": externalID,
		"name":       map[string]any{"givenName": given, "familyName": family},
		"emails":     []any{map[string]any{"value": userName, "type": "work", "primary": true}},
		"active":     true,
	})
	return string(b)
}

// mustUser creates a user named <local>@corp.example.
func (e *env) mustUser(local string) mapping.Item {
	e.t.Helper()
	it, err := e.users.Create(e.t.Context(), doc(e.t, userJSON(local+"@corp.example", strings.ToUpper(local[:1])+local[1:], "Test", "ext-"+local)))
	if err != nil {
		e.t.Fatalf("create user %s: %v", local, err)
	}
	return it
}

// mustGroup creates a group with members.
func (e *env) mustGroup(name string, members ...string) mapping.Item {
	e.t.Helper()
	list := make([]any, len(members))
	for i, m := range members {
		list[i] = map[string]any{"value": m}
	}
	it, err := e.groups.Create(e.t.Context(), map[string]any{
		"schemas":     []any{"urn:ietf:params:scim:schemas:core:2.0:Group"},
		"displayName": name,
		"members":     list,
	})
	if err != nil {
		e.t.Fatalf("create group %s: %v", name, err)
	}
	return it
}

// record returns the store's record, or ok=false if there is none.
func (e *env) record(kind cache.Kind, id string) (cache.Record, bool) {
	e.t.Helper()
	rec, err := e.store.Get(e.t.Context(), kind, id)
	if errors.Is(err, cache.ErrNotFound) {
		return rec, false
	}
	if err != nil {
		e.t.Fatalf("store get %s %s: %v", kind, id, err)
	}
	return rec, true
}

// groupsOf returns the store's groups of a user.
func (e *env) groupsOf(userID string) []string {
	e.t.Helper()
	ids, err := e.store.GroupsOf(e.t.Context(), userID)
	if err != nil {
		e.t.Fatal(err)
	}
	return ids
}

// upUser returns the UiPath account, failing the test if there is none.
func (e *env) upUser(id string) upstream.User {
	e.t.Helper()
	u, ok := e.emu.User(id)
	if !ok {
		e.t.Fatalf("UiPath has no user %s", id)
	}
	return u
}

// codeOf names the code of a Resource error: "" for nil. An error that is
// not an *mapping.Error breaks the Resource contract and is named so.
func codeOf(err error) string {
	if err == nil {
		return ""
	}
	var merr *mapping.Error
	if !errors.As(err, &merr) {
		return "not a *mapping.Error: " + err.Error()
	}
	return merr.Code.String()
}

// asError returns err as a *mapping.Error, failing the test otherwise.
func asError(t *testing.T, err error) *mapping.Error {
	t.Helper()
	var merr *mapping.Error
	if !errors.As(err, &merr) {
		t.Fatalf("error %v (%T) is not a *mapping.Error", err, err)
	}
	return merr
}

// attrsOf decodes an item's attributes.
func attrsOf(t *testing.T, it mapping.Item) map[string]any {
	t.Helper()
	a, err := it.Attrs()
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// deref reads a UiPath nullable string.
func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func ptr[T any](v T) *T { return &v }

// merge returns the JSON object base with the top-level members of extra
// set over it.
func merge(base, extra string) string {
	var b, x map[string]any
	if err := json.Unmarshal([]byte(base), &b); err != nil {
		panic(err)
	}
	if err := json.Unmarshal([]byte(extra), &x); err != nil {
		panic(err)
	}
	for k, v := range x {
		b[k] = v
	}
	out, _ := json.Marshal(b)
	return string(out)
}

// users3 creates ada, bob and carol and names them in e.ids.
func (e *env) users3() {
	e.t.Helper()
	if e.ids == nil {
		e.ids = map[string]string{}
	}
	for _, n := range []string{"ada", "bob", "carol"} {
		e.ids[n] = e.mustUser(n).ID
	}
}

// idsOf maps names to ids, sorted; an empty list gives an empty slice.
func (e *env) idsOf(names ...string) []string {
	out := []string{}
	for _, n := range names {
		out = append(out, e.ids[n])
	}
	slices.Sort(out)
	return out
}

// expand replaces {name} with the id of that user.
func (e *env) expand(s string) string {
	for n, id := range e.ids {
		s = strings.ReplaceAll(s, "{"+n+"}", id)
	}
	return s
}

// stringsOf reads a JSON array of strings.
func stringsOf(v any) []string {
	out := []string{}
	list, _ := v.([]any)
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// sorted returns the ids sorted.
func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
