package test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// fakeJWT is shaped like a UiPath access token; fault bodies echo it.
const fakeJWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJsZWFrLWNhbmFyeSJ9.bGVhay1jYW5hcnk"

// mintToken gets an access token from the emulator with the bridge's
// credentials: a value of the same kind as the one the bridge holds, which
// must never surface either.
func mintToken(t *testing.T, e *env) string {
	t.Helper()
	clientID, secret := e.emu.Credentials()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.emuURL+"/connect/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := (&http.Client{}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var tr struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&tr); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("token endpoint: %d %v", res.StatusCode, err)
	}
	if !strings.HasPrefix(tr.AccessToken, "eyJ") {
		t.Fatalf("minted token is not a JWT: %.10q…", tr.AccessToken)
	}
	return tr.AccessToken
}

// leakFault is an emulator fault whose body echoes the client secret and a
// bearer token, in one of the error shapes the client parses (or none, for
// plain text); marker shows up in the logs when the shape was parsed.
func leakFault(status int, secret, marker string) emulator.Fault {
	echo := fmt.Sprintf("%s: client_secret=%s rejected for Bearer %s", marker, secret, fakeJWT)
	var body string
	switch status {
	case http.StatusInternalServerError: // ProblemDetails
		body = fmt.Sprintf(`{"title":%q,"errors":{"client_secret":[%q]}}`, echo, secret)
	case http.StatusBadGateway: // a proxy's page: no known shape
		body = "<html><body>502 " + echo + "</body></html>"
	case http.StatusServiceUnavailable: // directory error
		body = fmt.Sprintf(`{"StatusCode":503,"Message":%q}`, echo)
	case http.StatusTooManyRequests: // IdentityResult
		body = fmt.Sprintf(`{"succeeded":false,"errors":[{"code":"Throttled","description":%q}]}`, echo)
	}
	return emulator.Fault{Status: status, Body: body, Times: -1}
}

// TestNoSecretLeaks drives successful and failing traffic through the
// whole bridge while UiPath answers with bodies that echo the client secret
// and bearer tokens, then checks that no SCIM answer (body or header) and
// no log line holds the client secret, the SCIM bearer token, a UiPath
// access token or an Authorization header (STYLE.md §4).
func TestNoSecretLeaks(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		var rb [12]byte
		_, _ = rand.Read(rb[:])
		e := newEnv(t, store, envOptions{emulator: emulator.Config{ClientSecret: "uipath-secret-" + hex.EncodeToString(rb[:])}})
		minted := mintToken(t, e)

		var seen []response
		send := func(method, path string, body any, headers ...string) response {
			t.Helper()
			r := e.do(method, path, body, headers...)
			seen = append(seen, r)
			return r
		}
		expect := func(r response, ok func(int) bool, what string) {
			t.Helper()
			if !ok(r.status) {
				t.Fatalf("%s: status %d: %s", what, r.status, r.raw)
			}
		}
		is := func(want int) func(int) bool { return func(s int) bool { return s == want } }
		failed := func(s int) bool { return s >= 500 || s == http.StatusTooManyRequests }

		// The very first token request fails: the body echoes the secret.
		e.emu.Inject(emulator.Fault{PathContains: "/connect/token", Status: http.StatusInternalServerError, Times: -1,
			Body: fmt.Sprintf(`{"error":"server_error","error_description":"marker-token: bad client_secret %s; last Bearer %s"}`, e.secret, fakeJWT)})
		expect(send("POST", "/Users", newUserBody("early@corp.example")), failed, "create while the token endpoint fails")
		e.emu.ClearFaults()

		// Successful traffic.
		alice := str(send("POST", "/Users", newUserBody("alice@corp.example")).body, "id")
		bob := str(send("POST", "/Users", newUserBody("bob@corp.example")).body, "id")
		if alice == "" || bob == "" {
			t.Fatalf("creates failed: %+v", seen)
		}
		gid := str(send("POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "Finance",
			"members": []any{map[string]any{"value": alice}}}).body, "id")
		if gid == "" {
			t.Fatalf("group create failed: %s", seen[len(seen)-1].raw)
		}
		expect(send("PATCH", "/Users/"+alice, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "Alice"})), is(200), "patch user")
		expect(send("PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": bob}}})), is(204), "patch group")
		expect(send("GET", "/Users?filter=userName%20eq%20%22alice%40corp.example%22", nil), is(200), "list")

		// Refused credentials: a near-miss of the SCIM token, a UiPath token.
		expect(send("GET", "/Users", nil, "Authorization", "Bearer "+e.token+"-wrong"), is(401), "wrong token")
		expect(send("GET", "/Users/"+alice, nil, "Authorization", "Bearer "+minted), is(401), "UiPath token")

		// UiPath fails every API call, echoing the secret and a token.
		for _, status := range []int{500, 502, 503, 429} {
			marker := fmt.Sprintf("marker-%d", status)
			e.emu.Inject(leakFault(status, e.secret, marker))
			expect(send("POST", "/Users", newUserBody(fmt.Sprintf("u%d@corp.example", status))), failed, marker+" create")
			expect(send("PATCH", "/Users/"+alice, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "Alice " + marker})), failed, marker+" patch user")
			expect(send("PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "remove", "path": `members[value eq "` + bob + `"]`})), failed, marker+" patch group")
			e.emu.ClearFaults()
		}

		// UiPath rejects the cached token and the renewal fails.
		e.emu.Inject(emulator.Fault{Status: http.StatusUnauthorized, Body: `{"Message":"marker-401: token ` + fakeJWT + ` expired"}`})
		e.emu.Inject(emulator.Fault{PathContains: "/connect/token", Status: http.StatusInternalServerError, Times: -1,
			Body: `{"error":"server_error","error_description":"marker-renew: client_secret ` + e.secret + ` not accepted"}`})
		expect(send("PATCH", "/Users/"+bob, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "Bob"})), failed, "patch during token renewal failure")
		e.emu.ClearFaults()

		// Back to normal.
		expect(send("PATCH", "/Users/"+bob, patchBody(map[string]any{"op": "replace", "path": "displayName", "value": "Bob"})), is(200), "patch after recovery")
		expect(send("DELETE", "/Users/"+bob, nil), is(204), "delete")

		// The faults really were served.
		served := map[string]bool{}
		for _, r := range e.emu.Requests() {
			served[fmt.Sprintf("%d %v", r.Status, strings.Contains(r.Path, "/connect/token"))] = true
		}
		for _, want := range []string{"500 true", "500 false", "502 false", "503 false", "429 false", "401 false"} {
			if !served[want] {
				t.Errorf("emulator never answered %q (status, token call): %v", want, served)
			}
		}

		logs := e.logs.String()
		if logs == "" {
			t.Fatal("no logs captured")
		}
		// The logs do tell what failed, with the echoed bodies parsed and
		// the credentials in them masked.
		for _, want := range []string{
			"status=500", "status=502", "status=503", "status=429", "status=401", "/connect/token",
			"marker-token", "marker-500", "marker-503", "marker-429", "marker-renew",
			"<redacted>", "<jwt>",
		} {
			if !strings.Contains(logs, want) {
				t.Errorf("logs lack %q", want)
			}
		}

		forbidden := map[string]string{
			"UiPath client secret": e.secret,
			"SCIM bearer token":    e.token,
			"minted access token":  minted,
			"a JWT":                "eyJ",
			"an auth header":       "Authorization",
		}
		for name, s := range forbidden {
			if i := strings.Index(logs, s); i >= 0 {
				t.Errorf("logs hold %s: …%s…", name, logs[max(0, i-200):min(len(logs), i+80)])
			}
			for _, r := range seen {
				if strings.Contains(r.raw, s) {
					t.Errorf("SCIM answer %d holds %s: %s", r.status, name, r.raw)
				}
				for k, vs := range r.header {
					if strings.Contains(k, s) || strings.Contains(strings.Join(vs, "\n"), s) {
						t.Errorf("SCIM answer %d header %s holds %s: %q", r.status, k, name, vs)
					}
				}
			}
		}
	})
}
