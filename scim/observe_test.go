package scim_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/scim"
)

// TestObserve checks that Config.Observe hears once about every request
// below BasePath, answered or refused, with labels from the fixed sets and
// the status sent, and never about the probes or /metrics (which the
// server no longer serves).
func TestObserve(t *testing.T) {
	seen := make(chan scim.RequestObservation, 64)
	b := newBridge(t, bridgeOptions{cfg: scim.Config{Observe: func(o scim.RequestObservation) { seen <- o }}})
	const userName = "observed.person@corp.example"
	okta := func(kv ...string) http.Header {
		h := http.Header{"Authorization": {"Bearer " + testToken}, "User-Agent": {"Okta SCIM Client 1.0.0"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	id := b.createUser(t, userName) // the harness client's User-Agent: other
	tests := []struct {
		name, method, path string
		header             http.Header
		want               scim.RequestObservation // Duration is checked apart
	}{
		{name: "read by Okta", method: http.MethodGet, path: "/Users/" + id, header: okta(),
			want: scim.RequestObservation{IdP: "okta", Caller: "token-1", Method: "GET", Resource: "Users", Code: 200}},
		{name: "filter by Entra", method: http.MethodGet, path: "/Users?filter=userName%20eq%20%22" + userName + "%22",
			header: okta("User-Agent", "Azure AD SCIM Client"),
			want:   scim.RequestObservation{IdP: "entra", Caller: "token-1", Method: "GET", Resource: "Users", Code: 200}},
		{name: "refused token", method: http.MethodGet, path: "/Groups", header: okta("Authorization", "Bearer wrong"),
			want: scim.RequestObservation{IdP: "okta", Method: "GET", Resource: "Groups", Code: 401}},
		{name: "unknown resource", method: http.MethodGet, path: "/Widgets/" + userName, header: okta(),
			want: scim.RequestObservation{IdP: "okta", Caller: "token-1", Method: "GET", Resource: "other", Code: 404}},
		{name: "unknown method", method: "PROPFIND", path: "/Users", header: okta(),
			want: scim.RequestObservation{IdP: "okta", Caller: "token-1", Method: "other", Resource: "Users", Code: 405}},
		{name: "discovery", method: http.MethodGet, path: "/ServiceProviderConfig", header: okta(),
			want: scim.RequestObservation{IdP: "okta", Caller: "token-1", Method: "GET", Resource: "ServiceProviderConfig", Code: 200}},
	}
	// next waits for the observation of the request just answered: the
	// server may reply before its deferred Observe has run.
	next := func(t *testing.T) scim.RequestObservation {
		t.Helper()
		select {
		case o := <-seen:
			return o
		case <-time.After(5 * time.Second):
			t.Fatal("no observation")
			return scim.RequestObservation{}
		}
	}
	create := next(t)
	if create.IdP != "other" || create.Method != "POST" || create.Resource != "Users" || create.Code != 201 || create.Duration <= 0 {
		t.Errorf("create observed as %+v", create)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if r := b.request(t, tt.method, scim.BasePath+tt.path, nil, tt.header); r.status != tt.want.Code {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want.Code, short(r.raw))
			}
			got := next(t)
			if got.Duration <= 0 {
				t.Errorf("Duration = %v, want > 0", got.Duration)
			}
			got.Duration = 0
			if got != tt.want {
				t.Errorf("observed %+v, want %+v", got, tt.want)
			}
		})
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		r := b.request(t, http.MethodGet, path, nil, nil)
		if path == "/metrics" && r.status != http.StatusNotFound {
			t.Errorf("GET /metrics: status %d, want 404 (cmd/scim-bridge serves it)", r.status)
		}
	}
	select {
	case o := <-seen:
		t.Errorf("observed a request outside %s: %+v", scim.BasePath, o)
	case <-time.After(100 * time.Millisecond):
	}
}
