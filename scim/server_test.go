package scim_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/scim"
	"github.com/scim-bridge/scim-bridge/scimdoc"
)

func TestHealthz(t *testing.T) {
	b := newBridge(t, bridgeOptions{})
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		r := b.request(t, method, "/healthz", nil, nil)
		if r.status != http.StatusOK {
			t.Errorf("%s /healthz without auth: status %d, want 200", method, r.status)
		}
	}
}

// TestNotFoundOutsideBasePath: a path the SCIM listener does not serve
// (/metrics lives on the admin listener, the admin API too) answers a SCIM
// 404 like one below /scim/v2, not the router's plain-text default.
func TestNotFoundOutsideBasePath(t *testing.T) {
	b := newBridge(t, bridgeOptions{})
	for _, path := range []string{"/", "/metrics", "/admin/v1/status", "/scim", "/favicon.ico"} {
		r := b.request(t, http.MethodGet, path, nil, nil)
		if r.status != http.StatusNotFound || r.header.Get("Content-Type") != "application/scim+json" || r.body["status"] != "404" {
			t.Errorf("GET %s: %d %q %s, want a SCIM 404", path, r.status, r.header.Get("Content-Type"), short(r.raw))
		}
	}
}

// TestReadyz: /readyz answers the report as JSON, 200 only when ready,
// and names each check's state, never its cause.
func TestReadyz(t *testing.T) {
	checks := map[string]string{"store": "ok", "uipath": "error"}
	tests := []struct {
		name       string
		ready      func(context.Context) scim.Readiness
		wantStatus int
		wantBody   string
	}{
		{name: "no check", wantStatus: http.StatusOK, wantBody: `{"status":"ready","checks":{}}`},
		{name: "ready, UiPath down", ready: func(context.Context) scim.Readiness {
			return scim.Readiness{Ready: true, Checks: checks}
		}, wantStatus: http.StatusOK, wantBody: `{"status":"ready","checks":{"store":"ok","uipath":"error"}}`},
		{name: "not ready", ready: func(context.Context) scim.Readiness {
			return scim.Readiness{Checks: map[string]string{"store": "error"}}
		}, wantStatus: http.StatusServiceUnavailable, wantBody: `{"status":"not ready","checks":{"store":"error"}}`},
		{name: "draining", ready: func(context.Context) scim.Readiness {
			return scim.Readiness{Ready: true, Draining: true, Checks: checks}
		}, wantStatus: http.StatusServiceUnavailable, wantBody: `{"status":"draining","checks":{"store":"ok","uipath":"error"}}`},
		{name: "check gets a deadline", ready: func(ctx context.Context) scim.Readiness {
			_, ok := ctx.Deadline()
			return scim.Readiness{Ready: ok}
		}, wantStatus: http.StatusOK, wantBody: `{"status":"ready","checks":{}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBridge(t, bridgeOptions{cfg: scim.Config{Ready: tt.ready}})
			r := b.request(t, http.MethodGet, "/readyz", nil, nil)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tt.wantStatus, short(r.raw))
			}
			if got := strings.TrimSpace(r.raw); got != tt.wantBody {
				t.Errorf("body %s, want %s", got, tt.wantBody)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
		})
	}
}

func TestServiceProviderConfig(t *testing.T) {
	b := newBridge(t, bridgeOptions{cfg: scim.Config{MaxResults: 250, BaseURL: "https://bridge.example/scim/v2/"}})
	r := b.must(t, http.StatusOK, http.MethodGet, "/ServiceProviderConfig", nil)
	if ct := r.header.Get("Content-Type"); ct != "application/scim+json" {
		t.Errorf("Content-Type %q", ct)
	}
	var spc struct {
		Schemas []string
		Patch   struct{ Supported bool }
		Bulk    struct {
			Supported                     bool
			MaxOperations, MaxPayloadSize int
		}
		Filter struct {
			Supported  bool
			MaxResults int
		}
		Etag struct{ Supported bool }
		Meta struct{ Location string }
	}
	if err := json.Unmarshal([]byte(r.raw), &spc); err != nil {
		t.Fatal(err)
	}
	if !spc.Patch.Supported || !spc.Filter.Supported || spc.Filter.MaxResults != 250 || !spc.Etag.Supported {
		t.Errorf("ServiceProviderConfig = %+v; want patch, filter (maxResults 250) and etag supported", spc)
	}
	if !spc.Bulk.Supported || spc.Bulk.MaxOperations != 1000 || spc.Bulk.MaxPayloadSize != 8<<20 {
		t.Errorf("bulk = %+v; want supported, maxOperations 1000 and maxPayloadSize the body limit (8 MiB)", spc.Bulk)
	}
	if want := []string{"urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"}; !slices.Equal(spc.Schemas, want) {
		t.Errorf("schemas = %v, want %v", spc.Schemas, want)
	}
	if want := "https://bridge.example/scim/v2/ServiceProviderConfig"; spc.Meta.Location != want {
		t.Errorf("meta.location = %q, want %q", spc.Meta.Location, want)
	}
	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		wantSCIMError(t, b.api(t, method, "/ServiceProviderConfig", "{}"), http.StatusMethodNotAllowed, "")
	}
}

func TestSchemasAndResourceTypes(t *testing.T) {
	b := newBridge(t, bridgeOptions{})
	r := b.must(t, http.StatusOK, http.MethodGet, "/Schemas", nil)
	var schemas struct {
		TotalResults, ItemsPerPage int
		Resources                  []struct{ ID string }
	}
	if err := json.Unmarshal([]byte(r.raw), &schemas); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range schemas.Resources {
		ids = append(ids, s.ID)
	}
	if want := []string{userURN, enterpriseURN, groupURN}; !slices.Equal(ids, want) {
		t.Errorf("/Schemas ids = %v, want %v", ids, want)
	}
	if schemas.ItemsPerPage != len(ids) || schemas.TotalResults != len(ids) {
		t.Errorf("/Schemas itemsPerPage %d totalResults %d, want both %d", schemas.ItemsPerPage, schemas.TotalResults, len(ids))
	}
	one := b.must(t, http.StatusOK, http.MethodGet, "/Schemas/"+userURN, nil)
	if !strings.Contains(one.raw, `"name":"userName"`) {
		t.Errorf("/Schemas/{User} lacks userName: %s", one.raw)
	}
	b.must(t, http.StatusNotFound, http.MethodGet, "/Schemas/urn:nope", nil)
	b.must(t, http.StatusOK, http.MethodGet, "/ResourceTypes/User", nil)

	r = b.must(t, http.StatusOK, http.MethodGet, "/ResourceTypes", nil)
	var types struct {
		Resources []struct {
			Name, Endpoint, Schema string
			SchemaExtensions       []struct{ Schema string }
		}
	}
	if err := json.Unmarshal([]byte(r.raw), &types); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, rt := range types.Resources {
		desc := rt.Endpoint + " " + rt.Schema
		for _, e := range rt.SchemaExtensions {
			desc += " +" + e.Schema
		}
		got[rt.Name] = desc
	}
	want := map[string]string{
		"User":  "/Users " + userURN + " +" + enterpriseURN,
		"Group": "/Groups " + groupURN,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("/ResourceTypes = %v, want %v", got, want)
	}
}

func TestUnknownEndpoints(t *testing.T) {
	b := newBridge(t, bridgeOptions{})
	tests := []struct {
		name, method, path string
		wantStatus         int
	}{
		{name: "unknown resource", method: http.MethodGet, path: "/Widgets", wantStatus: http.StatusNotFound},
		{name: "too deep", method: http.MethodGet, path: "/Users/a/b", wantStatus: http.StatusNotFound},
		{name: "me", method: http.MethodGet, path: "/Me", wantStatus: http.StatusNotImplemented},
		{name: "get bulk", method: http.MethodGet, path: "/Bulk", wantStatus: http.StatusMethodNotAllowed},
		{name: "delete the collection", method: http.MethodDelete, path: "/Users", wantStatus: http.StatusMethodNotAllowed},
		{name: "post to a resource", method: http.MethodPost, path: "/Groups/x", wantStatus: http.StatusMethodNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantSCIMError(t, b.api(t, tt.method, tt.path, nil), tt.wantStatus, "")
		})
	}
}

func TestRequestID(t *testing.T) {
	b := newBridge(t, bridgeOptions{})
	generated := regexp.MustCompile(`^[0-9a-f]{16}$`)
	tests := []struct {
		name, path, sent string
		wantEcho         bool
	}{
		{name: "echoed", path: scim.BasePath + "/ServiceProviderConfig", sent: "okta-7f3a-91", wantEcho: true},
		{name: "echoed on health", path: "/healthz", sent: "probe-1", wantEcho: true},
		{name: "echoed on a refusal", path: scim.BasePath + "/Nope", sent: "req-404", wantEcho: true},
		{name: "generated", path: scim.BasePath + "/ServiceProviderConfig"},
		{name: "too long is replaced", path: "/healthz", sent: strings.Repeat("x", 65)},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Authorization": {"Bearer " + testToken}}
			if tt.sent != "" {
				h.Set("X-Request-Id", tt.sent)
			}
			got := b.request(t, http.MethodGet, tt.path, nil, h).header.Get("X-Request-Id")
			switch {
			case tt.wantEcho && got != tt.sent:
				t.Errorf("X-Request-Id = %q, want %q echoed", got, tt.sent)
			case !tt.wantEcho && !generated.MatchString(got):
				t.Errorf("X-Request-Id = %q, want 16 generated hex digits", got)
			case !tt.wantEcho && seen[got]:
				t.Errorf("generated X-Request-Id %q twice", got)
			}
			seen[got] = true
		})
	}
}

// TestLogLinesCarryTheRequest: what mapping logs while serving a request
// names that request, so an admin can follow one IdP call through the log.
func TestLogLinesCarryTheRequest(t *testing.T) {
	b := newBridge(t, bridgeOptions{})
	h := http.Header{"Authorization": {"Bearer " + testToken}, "X-Request-Id": {"trace-4711"}, "User-Agent": {"Okta SCIM Client 1.0.0"}}
	res := b.request(t, http.MethodPost, scim.BasePath+"/Users", strings.NewReader(`{"schemas":["`+userURN+`"],"userName":"traced@corp.example"}`), h)
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.raw)
	}
	var line string
	for _, l := range strings.Split(b.logs.String(), "\n") {
		if strings.Contains(l, "component=mapping") && strings.Contains(l, `msg="user created"`) {
			line = l
		}
	}
	for _, want := range []string{"request_id=trace-4711", "idp=okta", "resource=Users"} {
		if !strings.Contains(line, want) {
			t.Errorf("mapping's log line %q lacks %s", line, want)
		}
	}
}

// listPage is a ListResponse.
type listPage struct {
	Schemas      []string
	TotalResults int
	StartIndex   int
	ItemsPerPage int
	Resources    []map[string]any
}

func (b *bridge) list(t *testing.T, query string) listPage {
	t.Helper()
	r := b.must(t, http.StatusOK, http.MethodGet, "/Users"+query, nil)
	var p listPage
	if err := json.Unmarshal([]byte(r.raw), &p); err != nil {
		t.Fatal(err)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/scim+json" {
		t.Errorf("Content-Type %q", ct)
	}
	if len(p.Schemas) != 1 || p.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:ListResponse" {
		t.Errorf("schemas = %v", p.Schemas)
	}
	if p.ItemsPerPage != len(p.Resources) {
		t.Errorf("itemsPerPage = %d, but %d resources returned", p.ItemsPerPage, len(p.Resources))
	}
	return p
}

func ids(p listPage) []string {
	var out []string
	for _, r := range p.Resources {
		id, _ := r["id"].(string)
		out = append(out, id)
	}
	return out
}

func TestListPaging(t *testing.T) {
	b := newBridge(t, bridgeOptions{cfg: scim.Config{MaxResults: 3}})
	var created []string
	for i := range 5 {
		created = append(created, b.createUser(t, fmt.Sprintf("user%d@example.com", i)))
	}

	t.Run("count above MaxResults is capped", func(t *testing.T) {
		for _, q := range []string{"", "?count=100", "?startIndex=1&count=4"} {
			p := b.list(t, q)
			if p.TotalResults != 5 || len(p.Resources) != 3 {
				t.Errorf("GET /Users%s: totalResults %d, %d resources; want 5 and 3 (MaxResults)", q, p.TotalResults, len(p.Resources))
			}
		}
	})

	t.Run("pages are stable and cover every user once", func(t *testing.T) {
		tests := []struct {
			name           string
			query          string
			wantStartIndex int
			wantItems      int
		}{
			{name: "first", query: "?startIndex=1&count=2", wantStartIndex: 1, wantItems: 2},
			{name: "second", query: "?startIndex=3&count=2", wantStartIndex: 3, wantItems: 2},
			{name: "last", query: "?startIndex=5&count=2", wantStartIndex: 5, wantItems: 1},
			{name: "past the end", query: "?startIndex=9&count=2", wantStartIndex: 9, wantItems: 0},
			{name: "count zero", query: "?count=0", wantStartIndex: 1, wantItems: 0},
			{name: "startIndex below one", query: "?startIndex=0&count=1", wantStartIndex: 1, wantItems: 1},
		}
		var all []string
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				first := b.list(t, tt.query)
				if first.StartIndex != tt.wantStartIndex || len(first.Resources) != tt.wantItems || first.TotalResults != 5 {
					t.Errorf("startIndex %d, %d items, totalResults %d; want %d, %d, 5",
						first.StartIndex, len(first.Resources), first.TotalResults, tt.wantStartIndex, tt.wantItems)
				}
				if again := b.list(t, tt.query); !slices.Equal(ids(again), ids(first)) {
					t.Errorf("same page twice: %v then %v", ids(first), ids(again))
				}
				if tt.name == "first" || tt.name == "second" || tt.name == "last" {
					all = append(all, ids(first)...)
				}
			})
		}
		slices.Sort(all)
		want := slices.Sorted(slices.Values(created))
		if !slices.Equal(all, want) {
			t.Errorf("pages hold %v, want each of %v once", all, want)
		}
	})

	t.Run("bad paging parameters", func(t *testing.T) {
		for _, q := range []string{"?count=ten", "?startIndex=x"} {
			wantSCIMError(t, b.api(t, http.MethodGet, "/Users"+q, nil), http.StatusBadRequest, scimdoc.ScimTypeInvalidValue)
		}
	})
}

func TestSearch(t *testing.T) {
	b := newBridge(t, bridgeOptions{})
	var want string
	for i := range 3 {
		id := b.createUser(t, fmt.Sprintf("user%d@example.com", i))
		if i == 1 {
			want = id
		}
	}
	r := b.must(t, http.StatusOK, http.MethodPost, "/Users/.search", map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"},
		"filter":     `userName eq "USER1@example.com" and active eq true`,
		"attributes": []string{"userName", "name.givenName"},
	})
	var p listPage
	if err := json.Unmarshal([]byte(r.raw), &p); err != nil {
		t.Fatal(err)
	}
	if p.TotalResults != 1 || len(p.Resources) != 1 || p.ItemsPerPage != 1 {
		t.Fatalf("search found %d (%d returned), want 1: %s", p.TotalResults, len(p.Resources), r.raw)
	}
	got := p.Resources[0]
	if got["id"] != want || got["userName"] != "user1@example.com" {
		t.Errorf("found %v, want user %s", got, want)
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"id", "name", "schemas", "userName"}; !slices.Equal(keys, want) {
		t.Errorf("returned attributes %v, want %v", keys, want)
	}
	if name, _ := got["name"].(map[string]any); len(name) != 1 || name["givenName"] != "user1" {
		t.Errorf("name = %v, want only givenName", got["name"])
	}

	wantSCIMError(t, b.api(t, http.MethodPost, "/Users/.search", `{"filter":"userName eq"}`), http.StatusBadRequest, scimdoc.ScimTypeInvalidFilter)
	wantSCIMError(t, b.api(t, http.MethodPost, "/Users/.search", `[1]`), http.StatusBadRequest, scimdoc.ScimTypeInvalidSyntax)
}

func TestIfNoneMatch(t *testing.T) {
	b := newBridge(t, bridgeOptions{})
	id := b.createUser(t, "etag@example.com")
	etag := b.must(t, http.StatusOK, http.MethodGet, "/Users/"+id, nil).header.Get("ETag")
	if etag == "" {
		t.Fatal("GET returned no ETag")
	}
	tests := []struct {
		name, header string
		wantStatus   int
	}{
		{name: "current", header: etag, wantStatus: http.StatusNotModified},
		{name: "current among others", header: `W/"999", ` + etag, wantStatus: http.StatusNotModified},
		{name: "current without W/", header: strings.TrimPrefix(etag, "W/"), wantStatus: http.StatusNotModified},
		{name: "any", header: "*", wantStatus: http.StatusNotModified},
		{name: "stale", header: `W/"999"`, wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.api(t, http.MethodGet, "/Users/"+id, nil, "If-None-Match", tt.header)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tt.wantStatus, short(r.raw))
			}
			if r.status == http.StatusNotModified && (r.raw != "" || r.header.Get("ETag") != etag) {
				t.Errorf("304 with body %q and ETag %q; want no body and ETag %q", r.raw, r.header.Get("ETag"), etag)
			}
		})
	}
}

// unsized hides a reader's length, so the client sends the body chunked
// (http.Request: a ContentLength of 0 with a non-nil Body means unknown).
type unsized struct{ io.Reader }

func TestBodyLimit(t *testing.T) {
	const limit = 4096
	b := newBridge(t, bridgeOptions{cfg: scim.Config{MaxBodyBytes: limit}})
	id := b.createUser(t, "small@example.com")

	big := userBody("big@example.com")
	big["displayName"] = strings.Repeat("x", 2*limit) // valid, only too large
	bigJSON, err := json.Marshal(big)
	if err != nil {
		t.Fatal(err)
	}
	bigPatch := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"displayName","value":"` +
		strings.Repeat("x", 2*limit) + `"}]}`
	bigSearch := `{"filter":"userName eq \"small@example.com\"","attributes":["` + strings.Repeat("x", 2*limit) + `"]}`
	tests := []struct {
		name, method, path, body string
	}{
		{name: "create", method: http.MethodPost, path: "/Users", body: string(bigJSON)},
		{name: "replace", method: http.MethodPut, path: "/Users/" + id, body: string(bigJSON)},
		{name: "patch", method: http.MethodPatch, path: "/Users/" + id, body: bigPatch},
		{name: "search", method: http.MethodPost, path: "/Users/.search", body: bigSearch},
	}
	for _, tt := range tests {
		t.Run(tt.name+" chunked", func(t *testing.T) {
			r := b.api(t, tt.method, tt.path, unsized{strings.NewReader(tt.body)})
			wantSCIMError(t, r, http.StatusRequestEntityTooLarge, "")
		})
		t.Run(tt.name+" with Content-Length", func(t *testing.T) {
			r := b.api(t, tt.method, tt.path, tt.body)
			wantSCIMError(t, r, http.StatusRequestEntityTooLarge, "")
		})
	}
	if p := b.list(t, "?filter="+urlQuery(`userName eq "big@example.com"`)); p.TotalResults != 0 {
		t.Errorf("an oversized create went through: %v", ids(p))
	}
	r := b.must(t, http.StatusOK, http.MethodGet, "/Users/"+id, nil)
	if r.body["displayName"] != nil || r.body["userName"] != "small@example.com" {
		t.Errorf("an oversized PUT or PATCH changed the user: %s", r.raw)
	}
	// A body just under the limit still works, chunked (in an attribute
	// UiPath does not keep: displayName has UiPath's own length bound).
	b.must(t, http.StatusOK, http.MethodPatch, "/Users/"+id,
		unsized{strings.NewReader(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"title","value":"` +
			strings.Repeat("y", limit-200) + `"}]}`)})
}

func urlQuery(s string) string { return url.QueryEscape(s) }
