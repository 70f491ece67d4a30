package scim_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scim"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// The static tokens every test bridge accepts.
const (
	testToken  = "first-static-token-0123456789"
	otherToken = "second-static-token-9876543210"
)

const (
	errorURN      = "urn:ietf:params:scim:api:messages:2.0:Error"
	userURN       = "urn:ietf:params:scim:schemas:core:2.0:User"
	groupURN      = "urn:ietf:params:scim:schemas:core:2.0:Group"
	enterpriseURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// bridge is the SCIM server over a real provisioner: the UiPath emulator
// behind httptest, the real upstream client and a bolt store on disk.
type bridge struct {
	srv    *scim.Server
	prov   *mapping.Provisioner
	emu    *emulator.Server
	url    string // root URL of the SCIM server (BasePath not included)
	client *http.Client
	logs   *envtest.LogBuffer
	store  cache.Store
}

type bridgeOptions struct {
	cfg      scim.Config // StaticTokens defaults to testToken and otherToken (token-1, token-2)
	emulator emulator.Config
	quiet    bool // discard logs (benchmarks)
}

// newBridge assembles a bridge on the shared test environment; everything
// is closed by tb.Cleanup.
func newBridge(tb testing.TB, o bridgeOptions) *bridge {
	tb.Helper()
	te := envtest.New(tb, envtest.Config{Emulator: o.emulator, Quiet: o.quiet})
	// Wrapped as cmd wraps the process logger.
	log := slog.New(scim.LogHandler(te.Logger.Handler()))
	prov, err := mapping.New(mapping.Config{AdoptExisting: true}, te.Client, te.Store, log.With("component", "mapping"))
	if err != nil {
		tb.Fatal(err)
	}
	cfg := o.cfg
	if cfg.StaticTokens == nil {
		cfg.StaticTokens = []scim.StaticToken{scim.NewStaticToken("token-1", testToken), scim.NewStaticToken("token-2", otherToken)}
	}
	srv, err := scim.New(cfg, []mapping.Resource{prov.Users(), prov.Groups()}, log.With("component", "scim"))
	if err != nil {
		tb.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	tb.Cleanup(hs.Close)
	return &bridge{srv: srv, prov: prov, emu: te.Emulator, url: hs.URL, client: hs.Client(), logs: te.Logs, store: te.Store}
}

// response is an answer from the bridge.
type response struct {
	status int
	header http.Header
	raw    string
	body   map[string]any // nil unless the body is a JSON object
}

// request sends a request to path (relative to the server root) with
// exactly the given headers.
func (b *bridge) request(tb testing.TB, method, path string, body io.Reader, header http.Header) response {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), method, b.url+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := b.client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("%s %s: read body: %v", method, path, err)
	}
	r := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &r.body)
	return r
}

// api sends an authenticated request to path under BasePath. body is sent
// as is when it is a string or io.Reader and JSON-encoded otherwise;
// kv are extra header name/value pairs.
func (b *bridge) api(tb testing.TB, method, path string, body any, kv ...string) response {
	tb.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case io.Reader:
		rd = v
	default:
		raw, err := json.Marshal(v)
		if err != nil {
			tb.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	h := http.Header{"Authorization": {"Bearer " + testToken}}
	if rd != nil {
		h.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return b.request(tb, method, scim.BasePath+path, rd, h)
}

// must is api that fails unless the status is want.
func (b *bridge) must(tb testing.TB, want int, method, path string, body any, kv ...string) response {
	tb.Helper()
	r := b.api(tb, method, path, body, kv...)
	if r.status != want {
		tb.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, short(r.raw))
	}
	return r
}

// createUser creates a user over HTTP and returns its id.
func (b *bridge) createUser(tb testing.TB, userName string) string {
	tb.Helper()
	r := b.must(tb, http.StatusCreated, http.MethodPost, "/Users", userBody(userName))
	id, _ := r.body["id"].(string)
	if id == "" {
		tb.Fatalf("created user has no id: %s", r.raw)
	}
	return id
}

func userBody(userName string) map[string]any {
	local, _, _ := strings.Cut(userName, "@")
	return map[string]any{
		"schemas":  []string{userURN},
		"userName": userName,
		"name":     map[string]any{"givenName": local, "familyName": "Tester"},
		"emails":   []any{map[string]any{"value": userName, "type": "work", "primary": true}},
		"active":   true,
	}
}

// wantSCIMError checks that r is a SCIM error (RFC 7644 §3.12) with that
// status and scimType.
func wantSCIMError(tb testing.TB, r response, status int, scimType string) {
	tb.Helper()
	if r.status != status {
		tb.Fatalf("status %d, want %d: %s", r.status, status, short(r.raw))
	}
	if ct := r.header.Get("Content-Type"); ct != "application/scim+json" {
		tb.Errorf("Content-Type %q, want application/scim+json", ct)
	}
	if r.body == nil {
		tb.Fatalf("error body is not a JSON object: %q", short(r.raw))
	}
	schemas, _ := r.body["schemas"].([]any)
	if len(schemas) != 1 || schemas[0] != errorURN {
		tb.Errorf("schemas = %v, want [%s]", r.body["schemas"], errorURN)
	}
	if got, ok := r.body["status"].(string); !ok || got != strconv.Itoa(status) {
		tb.Errorf("status field = %#v, want the string %q", r.body["status"], strconv.Itoa(status))
	}
	if got, _ := r.body["scimType"].(string); got != scimType {
		tb.Errorf("scimType = %q, want %q", got, scimType)
	}
}

// short cuts a response body for a failure message.
func short(s string) string {
	if len(s) <= 300 {
		return s
	}
	return s[:300] + "…"
}
