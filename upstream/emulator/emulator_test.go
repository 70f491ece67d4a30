package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/upstream"

	"github.com/scim-bridge/scim-bridge/internal/clocktest"
)

type harness struct {
	t     *testing.T
	srv   *Server
	url   string
	clock *clocktest.Clock
	tok   string
}

// newHarness serves an emulator over real HTTP with a fake clock. Rate
// limits stay on unless cfg says otherwise.
func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	clock := clocktest.New(time.Date(2025, 8, 12, 6, 41, 10, 90166300, time.UTC))
	if cfg.Now == nil {
		cfg.Now = clock.Now
	}
	srv := New(cfg, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})))
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	h := &harness{t: t, srv: srv, url: ts.URL, clock: clock}
	h.tok = h.token("")
	return h
}

// tokenResp posts a client-credentials form and returns status and body.
func (h *harness) tokenResp(form url.Values) (int, []byte) {
	h.t.Helper()
	resp, err := http.Post(h.url+"/connect/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func (h *harness) token(scope string) string {
	h.t.Helper()
	id, secret := h.srv.Credentials()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}}
	if scope != "" {
		form.Set("scope", scope)
	}
	status, b := h.tokenResp(form)
	if status != http.StatusOK {
		h.t.Fatalf("token: %d %s", status, b)
	}
	var tr upstream.TokenResponse
	if err := json.Unmarshal(b, &tr); err != nil {
		h.t.Fatal(err)
	}
	return tr.AccessToken
}

// req is one API call.
type req struct {
	method, path string
	body         any    // marshalled to JSON unless string
	token        string // "" = harness token; "-" = none
	contentType  string // "" = application/json when there is a body
	// noContentType sends the body without a Content-Type.
	noContentType bool
}

func (h *harness) do(r req) (*http.Response, []byte) {
	h.t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		body = bytes.NewReader(j)
	}
	hr, err := http.NewRequestWithContext(h.t.Context(), r.method, h.url+r.path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	switch {
	case r.noContentType:
	case r.contentType != "":
		hr.Header.Set("Content-Type", r.contentType)
	case body != nil:
		hr.Header.Set("Content-Type", "application/json")
	}
	switch r.token {
	case "":
		hr.Header.Set("Authorization", "Bearer "+h.tok)
	case "-":
	default:
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := http.DefaultTransport.RoundTrip(hr)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// call is do for the common case and checks the status.
func (h *harness) call(method, path string, body any, wantStatus int) []byte {
	h.t.Helper()
	resp, b := h.do(req{method: method, path: path, body: body})
	if resp.StatusCode != wantStatus {
		h.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, resp.StatusCode, wantStatus, b)
	}
	return b
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

func TestTokenEndpoint(t *testing.T) {
	h := newHarness(t, Config{GrantedScopes: []string{"PM.User", "PM.Group"}})
	id, secret := h.srv.Credentials()
	good := func() url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret}, "scope": {"PM.User PM.Group"}}
	}
	with := func(k, v string) url.Values { f := good(); f.Set(k, v); return f }
	tests := []struct {
		name      string
		form      url.Values
		wantCode  int
		wantError string
	}{
		{name: "ok", form: good(), wantCode: 200},
		{name: "scope omitted grants all", form: with("scope", ""), wantCode: 200},
		{name: "wrong secret", form: with("client_secret", "nope"), wantCode: 400, wantError: "invalid_client"},
		{name: "unknown client", form: with("client_id", "other"), wantCode: 400, wantError: "invalid_client"},
		{name: "unknown scope", form: with("scope", "PM.User Nope"), wantCode: 400, wantError: "invalid_scope"},
		{name: "ungranted scope", form: with("scope", "PM.Directory"), wantCode: 400, wantError: "invalid_scope"},
		{name: "wrong grant", form: with("grant_type", "password"), wantCode: 400, wantError: "unsupported_grant_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, b := h.tokenResp(tt.form)
			if status != tt.wantCode {
				t.Fatalf("status %d, want %d: %s", status, tt.wantCode, b)
			}
			if tt.wantError != "" {
				if got := decode[map[string]string](t, b)["error"]; got != tt.wantError {
					t.Errorf("error %q, want %q", got, tt.wantError)
				}
				return
			}
			tr := decode[upstream.TokenResponse](t, b)
			if tr.TokenType != "Bearer" || tr.ExpiresIn != 3600 || tr.Scope != "PM.User PM.Group" {
				t.Errorf("token response %+v", tr)
			}
			parts := strings.Split(tr.AccessToken, ".")
			if len(parts) != 3 {
				t.Fatalf("not a JWT: %q", tr.AccessToken)
			}
			pb, err := base64.RawURLEncoding.DecodeString(parts[1])
			if err != nil {
				t.Fatal(err)
			}
			c := decode[claims](t, pb)
			if c.PrtID != h.srv.PartitionID() || c.Sub != id || c.ClientID != id || c.Scope != "PM.User PM.Group" || c.Exp-c.Iat != 3600 || c.Iss == "" {
				t.Errorf("claims %+v", c)
			}
		})
	}

	t.Run("basic auth", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodPost, h.url+"/connect/token", strings.NewReader("grant_type=client_credentials"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth(id, secret)
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("status %d", resp.StatusCode)
		}
	})
	t.Run("json body rejected", func(t *testing.T) {
		resp, err := http.Post(h.url+"/connect/token", "application/json", strings.NewReader(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("status %d, want 400", resp.StatusCode)
		}
	})
	t.Run("GET is 405", func(t *testing.T) {
		resp, err := http.Get(h.url + "/connect/token")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 405 {
			t.Errorf("status %d, want 405", resp.StatusCode)
		}
	})
	if n := h.srv.CountRequests(http.MethodPost); n != 0 {
		t.Errorf("CountRequests(POST) = %d; token calls must not count", n)
	}
}

func TestUnauthorized(t *testing.T) {
	h := newHarness(t, Config{})
	other := newHarness(t, Config{PartitionID: h.srv.PartitionID()})
	expired := h.token("")
	h.clock.Advance(time.Hour)
	path := "/api/User/users/" + h.srv.PartitionID()
	tampered := h.tok[:len(h.tok)-4] + "AAAA"
	tests := []struct {
		name   string
		header string
	}{
		{name: "missing", header: ""},
		{name: "basic scheme", header: "Basic Zm9vOmJhcg=="},
		{name: "empty bearer", header: "Bearer "},
		{name: "malformed", header: "Bearer not-a-jwt"},
		{name: "bad signature", header: "Bearer " + tampered},
		{name: "other server's key", header: "Bearer " + other.tok},
		{name: "expired", header: "Bearer " + expired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, h.url+path, nil)
			if tt.header != "" {
				r.Header.Set("Authorization", tt.header)
			}
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 401 || len(b) != 0 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("got %d %q WWW-Authenticate %q", resp.StatusCode, b, resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
	// A fresh token still works after the clock moved.
	h.tok = h.token("")
	h.call(http.MethodGet, path, nil, 200)
}

func TestScopes(t *testing.T) {
	h := newHarness(t, Config{GrantedScopes: []string{"PM.User", "PM.User.Read", "PM.Group.Write", "PM.Group"}})
	pid := h.srv.PartitionID()
	uid := h.srv.SeedUser(upstream.User{UserName: "a@example.com"}).ID
	readOnly := h.token("PM.User.Read")
	groupWrite := h.token("PM.Group.Write")
	tests := []struct {
		name, token, method, path string
		body                      any
		wantStatus                int
		wantMsg                   string
	}{
		{"read scope reads", readOnly, "GET", "/api/User/" + uid, nil, 200, ""},
		{"read scope cannot write", readOnly, "PUT", "/api/User/" + uid, map[string]any{"name": "x"}, 403,
			"Scope(s) 'PM.User.Read' is(are) invalid. Expect to have 'PM.User' or 'PM.User.Write'. "},
		{"group scope cannot read users", groupWrite, "GET", "/api/User/" + uid, nil, 403,
			"Scope(s) 'PM.Group.Write' is(are) invalid. Expect to have 'PM.User' or 'PM.User.Read'. "},
		{"write scope cannot read groups", groupWrite, "GET", "/api/Group/" + pid, nil, 403,
			"Scope(s) 'PM.Group.Write' is(are) invalid. Expect to have 'PM.Group' or 'PM.Group.Read'. "},
		{"write scope writes groups", groupWrite, "POST", "/api/Group",
			upstream.NewGroup{PartitionGlobalID: pid, ID: "5b0f5b0e-3c43-4c1a-9d0e-111111111111", Name: "G"}, 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := h.do(req{method: tt.method, path: tt.path, body: tt.body, token: tt.token})
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, b)
			}
			if tt.wantMsg != "" {
				if got := decode[map[string]string](t, b)["errorMessage"]; got != tt.wantMsg {
					t.Errorf("errorMessage %q, want %q", got, tt.wantMsg)
				}
			}
		})
	}
}

func TestRouting(t *testing.T) {
	h := newHarness(t, Config{})
	pid := h.srv.PartitionID()
	tests := []struct {
		name, method, path string
		wantStatus         int
		wantAllow          string
	}{
		{"unknown api route", "GET", "/api/Nope", 404, ""},
		{"unknown root", "GET", "/elsewhere", 404, ""},
		{"wrong method", "PATCH", "/api/User/" + pid, 405, "DELETE, GET, PUT"},
		{"literal beats parameter", "GET", "/api/User/BulkCreate", 405, "POST"},
		{"case-insensitive literals", "GET", "/api/user/USERS/" + pid, 200, ""},
		{"trailing slash", "GET", "/api/Group/" + pid + "/", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, b := h.do(req{method: tt.method, path: tt.path})
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, b)
			}
			if got := resp.Header.Get("Allow"); got != tt.wantAllow {
				t.Errorf("Allow %q, want %q", got, tt.wantAllow)
			}
		})
	}
	var doc map[string]any
	resp, err := http.Get(h.url + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || doc["token_endpoint"] != h.url+"/connect/token" {
		t.Errorf("discovery %v %v", doc, err)
	}
}
