package test

// Replayed IdP traffic (STYLE §7 "IdP fixtures", issue 3).
//
// Every file in testdata/okta and testdata/entra is one request sequence an
// IdP sends (../shared/idp-traffic.md §1), replayed over HTTP against a fresh
// whole bridge (emulator + real client + store + mapping + scim) once per
// store backend and per membership strategy the fixture names.
//
// Fixture format (JSON, unknown fields are an error):
//
//	{
//	  "description": "what the IdP does and what must happen",
//	  "source": "idp-traffic.md §B.1 step 2",
//	  "options": {"strategies": ["user", "group"], "deprovision": "disable", "noAdopt": false},
//	  "headers": {"User-Agent": "Okta SCIM Client 1.0.0"},   // sent with every step
//	  "secrets": ["x9Kq2mz1"],          // must never appear in any response body
//	  "seed": {                         // UiPath state before the first step
//	    "groups": ["Legacy"],
//	    "users": [{"userName": "...", "email": "...", "name": "...", "surname": "...",
//	               "displayName": "...", "isActive": true, "groups": ["Legacy"]}]},
//	  "steps": [{
//	    "name": "existence check",
//	    "method": "GET",
//	    "path": "/Users?filter=userName eq \"ada@corp.example\"",
//	    "headers": {"If-Match": "..."},   // added to the fixture's headers
//	    "body": {...},                     // sent as written (whitespace aside); null/absent = no body
//	    "status": 200,                     // or a list of accepted statuses: [200, 201]
//	    "response": {...},                 // JSON subset the body must match (see below)
//	    "responseHeaders": {"Content-Type": "application/scim+json"}, // value is a prefix
//	    "capture": {"ada": "id"},          // variable ← response field (dotted path)
//	    "uipath": {                        // UiPath (emulator) state after the step
//	      "userCount": 1,                  // all accounts
//	      "groupCount": 1,                 // custom groups (built-ins ignored)
//	      "users": {"ada@corp.example": {"id": "${ada}", "isActive": true, "email": "...",
//	                "name": "Ada", "surname": "...", "displayName": "...", "groups": ["Finance"]}},
//	      "absentUsers": ["x@corp.example"],
//	      "groups": {"Finance": {"id": "${fin}", "name": "Finance", "members": ["ada@corp.example"]}},
//	      "absentGroups": ["Old Name"]}
//	  }]
//	}
//
// Paths are relative to /scim/v2; spaces and double quotes in the query are
// percent-encoded by the runner, so Entra's filters can be written as they
// appear in its logs. "${name}" anywhere in a step (path, headers, body,
// expectations, UiPath keys) is replaced by a captured variable; an unknown
// variable fails the fixture.
//
// Response matching: objects match by key, recursively (extra keys in the
// answer are fine); arrays must have the same length and match element-wise,
// unless their first element is "~contains", in which case every other
// element must match a distinct element of the answer, in any order. Numbers
// compare by their JSON text, so 5 does not match 5.0. The string "~any"
// matches any non-null value; as an object member, "~absent" requires the key
// to be missing.
//
// UiPath users are found by userName and groups by name (case-insensitive);
// each must match exactly one account or group, so a duplicate fails.
// Membership ("groups" of a user, "members" of a group, by name) is checked
// from both sides: the user's groupIDs and the group's member ids, ignoring
// built-in groups such as Everyone.
//
// Besides the step expectations, every answer with a body must be
// application/scim+json and a 204 must have no body.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/upstream"
)

type replayFixture struct {
	Description string            `json:"description"`
	Source      string            `json:"source"`
	Options     replayOptions     `json:"options"`
	Headers     map[string]string `json:"headers"`
	Secrets     []string          `json:"secrets"`
	Seed        replaySeed        `json:"seed"`
	Steps       []json.RawMessage `json:"steps"`

	file string // "okta/create.json"
}

type replayOptions struct {
	Strategy    string   `json:"strategy"`
	Strategies  []string `json:"strategies"`
	Deprovision string   `json:"deprovision"`
	NoAdopt     bool     `json:"noAdopt"`
}

func (o replayOptions) strategies() []string {
	out := slices.Clone(o.Strategies)
	if o.Strategy != "" {
		out = append(out, o.Strategy)
	}
	if len(out) == 0 {
		out = []string{"user"}
	}
	return out
}

type replaySeed struct {
	Groups []string         `json:"groups"`
	Users  []replaySeedUser `json:"users"`
}

type replaySeedUser struct {
	UserName    string   `json:"userName"`
	Email       string   `json:"email"`
	Name        *string  `json:"name"`
	Surname     *string  `json:"surname"`
	DisplayName *string  `json:"displayName"`
	IsActive    *bool    `json:"isActive"`
	Groups      []string `json:"groups"`
}

type replayStep struct {
	Name            string            `json:"name"`
	Method          string            `json:"method"`
	Path            string            `json:"path"`
	Headers         map[string]string `json:"headers"`
	Body            json.RawMessage   `json:"body"`
	Status          statusSet         `json:"status"`
	Response        json.RawMessage   `json:"response"`
	ResponseHeaders map[string]string `json:"responseHeaders"`
	Capture         map[string]string `json:"capture"`
	// UiPath is decoded after the step's captures, so it may use them.
	UiPath json.RawMessage `json:"uipath"`
}

// statusSet is a status or a list of accepted statuses.
type statusSet []int

func (s *statusSet) UnmarshalJSON(b []byte) error {
	var one int
	if err := json.Unmarshal(b, &one); err == nil {
		*s = statusSet{one}
		return nil
	}
	var many []int
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("status must be an integer or a list of integers: %s", b)
	}
	*s = many
	return nil
}

type uipathState struct {
	UserCount    *int                   `json:"userCount"`
	GroupCount   *int                   `json:"groupCount"`
	Users        map[string]uipathUser  `json:"users"`
	AbsentUsers  []string               `json:"absentUsers"`
	Groups       map[string]uipathGroup `json:"groups"`
	AbsentGroups []string               `json:"absentGroups"`
}

type uipathUser struct {
	ID          *string   `json:"id"`
	IsActive    *bool     `json:"isActive"`
	Email       *string   `json:"email"`
	Name        *string   `json:"name"`
	Surname     *string   `json:"surname"`
	DisplayName *string   `json:"displayName"`
	Groups      *[]string `json:"groups"`
}

type uipathGroup struct {
	ID      *string   `json:"id"`
	Name    *string   `json:"name"` // exact spelling; the key matches any case
	Members *[]string `json:"members"`
}

// TestReplayIdPTraffic replays every recorded IdP sequence against a fresh
// bridge per store and strategy.
func TestReplayIdPTraffic(t *testing.T) {
	fixtures := loadReplayFixtures(t)
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, fx := range fixtures {
			t.Run(strings.TrimSuffix(fx.file, ".json"), func(t *testing.T) {
				t.Parallel()
				for _, strategy := range fx.Options.strategies() {
					t.Run(strategy, func(t *testing.T) {
						e := newEnv(t, store, envOptions{
							strategy: strategy, deprovision: fx.Options.Deprovision, noAdopt: fx.Options.NoAdopt,
						})
						r := &replayer{t: t, e: e, fx: fx, vars: map[string]string{}}
						r.run()
					})
				}
			})
		}
	})
}

func loadReplayFixtures(t *testing.T) []*replayFixture {
	t.Helper()
	var out []*replayFixture
	for _, idp := range []string{"okta", "entra"} {
		files, err := filepath.Glob(filepath.Join("testdata", idp, "*.json"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no fixtures in testdata/%s", idp)
		}
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			fx := &replayFixture{file: idp + "/" + filepath.Base(f)}
			if err := strictUnmarshal(raw, fx); err != nil {
				t.Fatalf("%s: %v", fx.file, err)
			}
			if fx.Description == "" || fx.Source == "" || len(fx.Steps) == 0 {
				t.Fatalf("%s: description, source and steps are required", fx.file)
			}
			out = append(out, fx)
		}
	}
	return out
}

func strictUnmarshal(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}

// replayer runs one fixture against one env.
type replayer struct {
	t     *testing.T
	e     *env
	fx    *replayFixture
	vars  map[string]string
	where string // "okta/x.json step 2 \"name\"" for messages
}

func (r *replayer) errorf(format string, args ...any) {
	r.t.Helper()
	r.t.Errorf("%s: %s", r.where, fmt.Sprintf(format, args...))
}

func (r *replayer) fatalf(format string, args ...any) {
	r.t.Helper()
	r.t.Fatalf("%s: %s", r.where, fmt.Sprintf(format, args...))
}

func (r *replayer) run() {
	t := r.t
	t.Cleanup(func() {
		if t.Failed() {
			logs := r.e.logs.String()
			if len(logs) > 6000 {
				logs = "…" + logs[len(logs)-6000:]
			}
			t.Logf("%s: bridge log tail:\n%s", r.fx.file, logs)
		}
	})
	r.where = r.fx.file + " seed"
	r.seed()
	for i, raw := range r.fx.Steps {
		r.where = fmt.Sprintf("%s step %d", r.fx.file, i+1)
		// Substitute everything but the UiPath expectation now; that one
		// may use what this very step captures.
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil {
			r.fatalf("bad step: %v", err)
		}
		ui := fields["uipath"]
		delete(fields, "uipath")
		// No HTML escaping: the body goes out as written ("R&D" stays).
		var early bytes.Buffer
		enc := json.NewEncoder(&early)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(fields); err != nil {
			r.fatalf("bad step: %v", err)
		}
		var st replayStep
		if err := strictUnmarshal([]byte(r.substitute(early.String(), true)), &st); err != nil {
			r.fatalf("bad step: %v", err)
		}
		st.UiPath = ui
		r.where = fmt.Sprintf("%s step %d %q", r.fx.file, i+1, st.Name)
		r.step(st)
	}
}

func (r *replayer) seed() {
	for _, g := range r.fx.Seed.Groups {
		r.e.emu.SeedGroup(g)
	}
	for _, u := range r.fx.Seed.Users {
		var gids []string
		for _, name := range u.Groups {
			gids = append(gids, r.e.emu.SeedGroup(name).ID)
		}
		active := u.IsActive == nil || *u.IsActive
		r.e.emu.SeedUser(upstream.User{
			UserName: u.UserName, Email: u.Email, Name: u.Name, Surname: u.Surname,
			DisplayName: u.DisplayName, IsActive: active, GroupIDs: gids,
		})
	}
}

var replayVar = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)

// substitute replaces ${name} with captured variables, JSON-escaped when
// inJSON.
func (r *replayer) substitute(s string, inJSON bool) string {
	return replayVar.ReplaceAllStringFunc(s, func(m string) string {
		name := replayVar.FindStringSubmatch(m)[1]
		v, ok := r.vars[name]
		if !ok {
			r.fatalf("unknown variable ${%s} (captured so far: %v)", name, sortedKeysOf(r.vars))
		}
		if inJSON {
			b, _ := json.Marshal(v)
			return string(b[1 : len(b)-1])
		}
		return v
	})
}

func sortedKeysOf[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// encodeQuery percent-encodes the spaces and double quotes IdP logs show
// literally in filters; anything already encoded is left alone.
func encodeQuery(path string) string {
	p, q, ok := strings.Cut(path, "?")
	if !ok {
		return path
	}
	q = strings.NewReplacer(" ", "%20", `"`, "%22").Replace(q)
	return p + "?" + q
}

func (r *replayer) step(st replayStep) {
	t := r.t
	t.Helper()
	if st.Method == "" || st.Path == "" || len(st.Status) == 0 {
		r.fatalf("method, path and status are required")
	}
	var body io.Reader
	hasBody := len(st.Body) > 0 && string(st.Body) != "null"
	if hasBody {
		body = bytes.NewReader(st.Body)
	}
	req, err := http.NewRequestWithContext(t.Context(), st.Method, r.e.url+encodeQuery(st.Path), body)
	if err != nil {
		r.fatalf("build request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+r.e.token)
	if hasBody {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for k, v := range r.fx.Headers {
		req.Header.Set(k, v)
	}
	for k, v := range st.Headers {
		req.Header.Set(k, v)
	}
	res, err := r.e.client.Do(req)
	if err != nil {
		r.fatalf("%s %s: %v", st.Method, st.Path, err)
	}
	raw, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		r.fatalf("read response: %v", err)
	}
	if !slices.Contains(st.Status, res.StatusCode) {
		r.fatalf("%s %s: status %d, want %v; body %s", st.Method, st.Path, res.StatusCode, []int(st.Status), raw)
	}

	// Invariants of every answer.
	if res.StatusCode == http.StatusNoContent && len(bytes.TrimSpace(raw)) > 0 {
		r.errorf("204 with a body: %s", raw)
	}
	if len(bytes.TrimSpace(raw)) > 0 && !strings.HasPrefix(res.Header.Get("Content-Type"), "application/scim+json") {
		r.errorf("Content-Type %q, want application/scim+json", res.Header.Get("Content-Type"))
	}
	for _, s := range r.fx.Secrets {
		if bytes.Contains(raw, []byte(s)) {
			r.errorf("response echoes the secret %q: %s", s, raw)
		}
	}
	for k, want := range st.ResponseHeaders {
		if got := res.Header.Get(k); !strings.HasPrefix(got, want) {
			r.errorf("header %s = %q, want %q", k, got, want)
		}
	}

	var got any
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := decodeNumbers(raw, &got); err != nil {
			r.fatalf("response is not JSON (%v): %s", err, raw)
		}
	}
	if len(st.Response) > 0 && string(st.Response) != "null" {
		var want any
		if err := decodeNumbers(st.Response, &want); err != nil {
			r.fatalf("bad response expectation: %v", err)
		}
		if diffs := matchJSON("", want, got); len(diffs) > 0 {
			r.errorf("response mismatch:\n\t%s\nbody: %s", strings.Join(diffs, "\n\t"), raw)
		}
	}
	for name, path := range st.Capture {
		v, ok := lookupPath(got, path)
		if !ok || v == nil {
			r.fatalf("capture %s: no %q in the response: %s", name, path, raw)
		}
		switch x := v.(type) {
		case string:
			r.vars[name] = x
		case json.Number:
			r.vars[name] = x.String()
		default:
			r.fatalf("capture %s: %q is not a string or number: %v", name, path, v)
		}
	}
	if len(st.UiPath) > 0 && string(st.UiPath) != "null" {
		var want uipathState
		if err := strictUnmarshal([]byte(r.substitute(string(st.UiPath), true)), &want); err != nil {
			r.fatalf("bad uipath expectation: %v", err)
		}
		r.checkUiPath(want)
	}
}

func decodeNumbers(raw []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	return d.Decode(v)
}

// matchJSON reports where got does not contain want (see the format comment).
func matchJSON(at string, want, got any) []string {
	if s, ok := want.(string); ok && s == "~any" {
		if got == nil {
			return []string{fmt.Sprintf("%s: missing or null, want a value", orRoot(at))}
		}
		return nil
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want an object", orRoot(at), short(got))}
		}
		var diffs []string
		for _, k := range sortedKeysOf(w) {
			gv, present := g[k]
			if s, ok := w[k].(string); ok && s == "~absent" {
				if present {
					diffs = append(diffs, fmt.Sprintf("%s: present (%s), want absent", join(at, k), short(gv)))
				}
				continue
			}
			if !present {
				diffs = append(diffs, fmt.Sprintf("%s: missing, want %s", join(at, k), short(w[k])))
				continue
			}
			diffs = append(diffs, matchJSON(join(at, k), w[k], gv)...)
		}
		return diffs
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want an array", orRoot(at), short(got))}
		}
		if len(w) > 0 && w[0] == "~contains" {
			used := make([]bool, len(g))
		next:
			for i, we := range w[1:] {
				for j, ge := range g {
					if !used[j] && len(matchJSON("", we, ge)) == 0 {
						used[j] = true
						continue next
					}
				}
				return []string{fmt.Sprintf("%s: no element matches expected element %d %s; got %s", orRoot(at), i+1, short(we), short(got))}
			}
			return nil
		}
		if len(w) != len(g) {
			return []string{fmt.Sprintf("%s: %d elements, want %d; got %s", orRoot(at), len(g), len(w), short(got))}
		}
		var diffs []string
		for i := range w {
			diffs = append(diffs, matchJSON(fmt.Sprintf("%s[%d]", at, i), w[i], g[i])...)
		}
		return diffs
	case json.Number:
		if g, ok := got.(json.Number); !ok || g.String() != w.String() {
			return []string{fmt.Sprintf("%s: got %s, want %s", orRoot(at), short(got), w)}
		}
		return nil
	default:
		if want != got {
			return []string{fmt.Sprintf("%s: got %s, want %s", orRoot(at), short(got), short(want))}
		}
		return nil
	}
}

func orRoot(at string) string {
	if at == "" {
		return "(body)"
	}
	return at
}

func join(at, k string) string {
	if at == "" {
		return k
	}
	return at + "." + k
}

func short(v any) string {
	if v == nil {
		return "null"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}

// lookupPath follows a dotted path ("Resources.0.id", "name.familyName",
// "urn:…:enterprise:2.0:User.department"). Keys may themselves contain dots
// (schema URNs): the longest key that prefixes the rest is taken.
func lookupPath(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	switch x := v.(type) {
	case map[string]any:
		best := ""
		for k := range x {
			if (path == k || strings.HasPrefix(path, k+".")) && len(k) > len(best) {
				best = k
			}
		}
		if best == "" {
			return nil, false
		}
		return lookupPath(x[best], strings.TrimPrefix(strings.TrimPrefix(path, best), "."))
	case []any:
		head, rest, _ := strings.Cut(path, ".")
		i, err := strconv.Atoi(head)
		if err != nil || i < 0 || i >= len(x) {
			return nil, false
		}
		return lookupPath(x[i], rest)
	}
	return nil, false
}

// checkUiPath compares the emulator's state with the expectation.
func (r *replayer) checkUiPath(want uipathState) {
	r.t.Helper()
	emu := r.e.emu
	users := emu.Users()
	var custom []upstream.Group
	for _, g := range emu.Groups() {
		if g.Type != upstream.GroupTypeBuiltIn {
			custom = append(custom, g)
		}
	}
	userName := map[string]string{} // id → userName
	for _, u := range users {
		userName[strings.ToLower(u.ID)] = u.UserName
	}
	groupName := map[string]string{} // id → name, custom groups only
	for _, g := range custom {
		groupName[strings.ToLower(g.ID)] = g.Name
	}
	findUsers := func(name string) []upstream.User {
		var out []upstream.User
		for _, u := range users {
			if strings.EqualFold(u.UserName, name) {
				out = append(out, u)
			}
		}
		return out
	}
	findGroups := func(name string) []upstream.Group {
		var out []upstream.Group
		for _, g := range custom {
			if strings.EqualFold(g.Name, name) {
				out = append(out, g)
			}
		}
		return out
	}

	if want.UserCount != nil && len(users) != *want.UserCount {
		r.errorf("UiPath has %d accounts, want %d: %v", len(users), *want.UserCount, sortedKeysOf(invert(userName)))
	}
	if want.GroupCount != nil && len(custom) != *want.GroupCount {
		r.errorf("UiPath has %d custom groups, want %d: %v", len(custom), *want.GroupCount, sortedKeysOf(invert(groupName)))
	}
	for _, name := range want.AbsentUsers {
		if n := len(findUsers(name)); n != 0 {
			r.errorf("UiPath still has %d account(s) %q", n, name)
		}
	}
	for _, name := range want.AbsentGroups {
		if n := len(findGroups(name)); n != 0 {
			r.errorf("UiPath still has %d group(s) %q", n, name)
		}
	}

	for _, name := range sortedKeysOf(want.Users) {
		wu := want.Users[name]
		found := findUsers(name)
		if len(found) != 1 {
			r.errorf("UiPath has %d accounts with userName %q, want exactly 1", len(found), name)
			continue
		}
		u := found[0]
		where := "UiPath user " + name
		if wu.ID != nil && !strings.EqualFold(u.ID, *wu.ID) {
			r.errorf("%s: id %s, want %s", where, u.ID, *wu.ID)
		}
		if wu.IsActive != nil && u.IsActive != *wu.IsActive {
			r.errorf("%s: isActive %v, want %v", where, u.IsActive, *wu.IsActive)
		}
		if wu.Email != nil && u.Email != *wu.Email {
			r.errorf("%s: email %q, want %q", where, u.Email, *wu.Email)
		}
		for _, f := range []struct {
			field     string
			got, want *string
		}{{"name", u.Name, wu.Name}, {"surname", u.Surname, wu.Surname}, {"displayName", u.DisplayName, wu.DisplayName}} {
			if f.want != nil && deref(f.got) != *f.want {
				r.errorf("%s: %s %q, want %q", where, f.field, deref(f.got), *f.want)
			}
		}
		if wu.Groups == nil {
			continue
		}
		wantGroups := sorted(*wu.Groups)
		// The user's side: its groupIDs.
		var gotGroups []string
		for _, gid := range u.GroupIDs {
			if n, ok := groupName[strings.ToLower(gid)]; ok {
				gotGroups = append(gotGroups, n)
			} else if g, ok := emu.Group(gid); !ok || g.Type != upstream.GroupTypeBuiltIn {
				gotGroups = append(gotGroups, "?"+gid)
			}
		}
		if gotGroups = sorted(gotGroups); !equalFoldSets(gotGroups, wantGroups) {
			r.errorf("%s: groupIDs name groups %v, want %v", where, gotGroups, wantGroups)
		}
		// The groups' side: their member ids.
		var memberOf []string
		for _, g := range custom {
			if containsFold(emu.GroupMemberIDs(g.ID), u.ID) {
				memberOf = append(memberOf, g.Name)
			}
		}
		if memberOf = sorted(memberOf); !equalFoldSets(memberOf, wantGroups) {
			r.errorf("%s: is a member (by group member ids) of %v, want %v", where, memberOf, wantGroups)
		}
	}

	for _, name := range sortedKeysOf(want.Groups) {
		wg := want.Groups[name]
		found := findGroups(name)
		if len(found) != 1 {
			r.errorf("UiPath has %d groups named %q, want exactly 1 (groups: %v)", len(found), name, sortedKeysOf(invert(groupName)))
			continue
		}
		g := found[0]
		where := "UiPath group " + name
		if wg.ID != nil && !strings.EqualFold(g.ID, *wg.ID) {
			r.errorf("%s: id %s, want %s", where, g.ID, *wg.ID)
		}
		if wg.Name != nil && g.Name != *wg.Name {
			r.errorf("%s: name %q, want %q", where, g.Name, *wg.Name)
		}
		if wg.Members == nil {
			continue
		}
		wantMembers := sorted(*wg.Members)
		// The group's side: member ids.
		var got []string
		for _, id := range emu.GroupMemberIDs(g.ID) {
			if n, ok := userName[strings.ToLower(id)]; ok {
				got = append(got, n)
			} else {
				got = append(got, "?"+id)
			}
		}
		if got = sorted(got); !equalFoldSets(got, wantMembers) {
			r.errorf("%s: member ids name users %v, want %v", where, got, wantMembers)
		}
		// The users' side: their groupIDs.
		var holders []string
		for _, u := range users {
			if containsFold(u.GroupIDs, g.ID) {
				holders = append(holders, u.UserName)
			}
		}
		if holders = sorted(holders); !equalFoldSets(holders, wantMembers) {
			r.errorf("%s: users whose groupIDs list it are %v, want %v", where, holders, wantMembers)
		}
	}
}

func invert(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[v] = k
	}
	return out
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(x string) bool { return strings.EqualFold(x, s) })
}

// equalFoldSets compares two sorted lists case-insensitively.
func equalFoldSets(a, b []string) bool {
	a, b = lowerSorted(a), lowerSorted(b)
	return slices.Equal(a, b)
}

func lowerSorted(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strings.ToLower(x)
	}
	slices.Sort(out)
	return out
}
