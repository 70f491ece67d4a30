package scim_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/scim"
)

const (
	oauthClientID = "entra-gallery"
	oauthSecret   = "client-secret-0123456789abcdef0123456789"
)

// oauthBridge is a bridge with one OAuth client, a fixed signing key and
// a settable clock.
func oauthBridge(t *testing.T, key string) (*bridge, *testClock) {
	t.Helper()
	clock := newClock(time.Now().UTC().Truncate(time.Second))
	b := newBridge(t, bridgeOptions{cfg: scim.Config{
		StaticTokens:    []scim.StaticToken{scim.NewStaticToken("token-1", testToken)},
		OAuthClients:    []scim.OAuthClient{{ID: oauthClientID, SecretSHA256: sha(oauthSecret)}},
		OAuthTokenTTL:   15 * time.Minute,
		OAuthSigningKey: []byte(key),
		Now:             clock.now,
	}})
	return b, clock
}

// tokenRequest posts form to the token endpoint, with HTTP Basic when
// basic is not nil.
func (b *bridge) tokenRequest(t *testing.T, form url.Values, basic []string) response {
	t.Helper()
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	if basic != nil {
		h.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(basic[0])+":"+url.QueryEscape(basic[1]))))
	}
	return b.request(t, http.MethodPost, scim.OAuthTokenPath, strings.NewReader(form.Encode()), h)
}

func accessToken(t *testing.T, r response) string {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("token request: %d %s", r.status, r.raw)
	}
	if cc := r.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", cc)
	}
	if r.body["token_type"] != "Bearer" || r.body["expires_in"] != float64(900) {
		t.Errorf("token answer %s: want token_type Bearer, expires_in 900", r.raw)
	}
	tok, _ := r.body["access_token"].(string)
	if strings.Count(tok, ".") != 2 {
		t.Fatalf("access_token %q is not a JWT", tok)
	}
	return tok
}

func TestOAuthClientCredentials(t *testing.T) {
	const key = "signing-key-0123456789abcdef0123456789"
	b, clock := oauthBridge(t, key)
	grant := url.Values{"grant_type": {"client_credentials"}}

	// Basic and form authentication both get a token that opens the API.
	viaBasic := accessToken(t, b.tokenRequest(t, grant, []string{oauthClientID, oauthSecret}))
	viaForm := accessToken(t, b.tokenRequest(t, url.Values{"grant_type": {"client_credentials"},
		"client_id": {oauthClientID}, "client_secret": {oauthSecret}, "scope": {"scim"}}, nil))
	for _, tok := range []string{viaBasic, viaForm} {
		checkAuthResult(t, b.request(t, http.MethodGet, protected, nil, bearer(tok)), http.StatusOK)
	}
	if !strings.Contains(b.logs.String(), "caller="+oauthClientID) {
		t.Errorf("the request's log line does not name the OAuth client")
	}

	// The token's claims: who, for whom, how long.
	raw, _ := base64.RawURLEncoding.DecodeString(strings.Split(viaBasic, ".")[1])
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	if c["sub"] != oauthClientID || c["iss"] == nil || c["aud"] == nil || c["jti"] == nil ||
		c["exp"].(float64)-c["iat"].(float64) != 900 {
		t.Errorf("claims %s", raw)
	}

	forged := func(edit func(map[string]any), signKey, header string) string {
		cl := map[string]any{}
		for k, v := range c {
			cl[k] = v
		}
		if edit != nil {
			edit(cl)
		}
		p, _ := json.Marshal(cl)
		input := base64.RawURLEncoding.EncodeToString([]byte(header)) + "." + base64.RawURLEncoding.EncodeToString(p)
		if signKey == "" {
			return input + "."
		}
		mac := hmac.New(sha256.New, []byte(signKey))
		mac.Write([]byte(input))
		return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
	}
	const ourHeader = `{"alg":"HS256","typ":"at+jwt"}`
	// A correct re-signing with our key is accepted: the forgeries below
	// fail for what they change, not for how they are built.
	checkAuthResult(t, b.request(t, http.MethodGet, protected, nil, bearer(forged(nil, key, ourHeader))), http.StatusOK)
	refused := []struct{ name, token string }{
		{"signed with another key", forged(nil, "another-key-0123456789abcdef0123456789", ourHeader)},
		{"tampered subject", tamper(t, viaBasic)},
		{"another client, our key", forged(func(m map[string]any) { m["sub"] = "someone" }, key, ourHeader)},
		{"alg none", forged(nil, "", `{"alg":"none","typ":"at+jwt"}`)},
		{"header naming another algorithm", forged(nil, key, `{"alg":"HS512","typ":"at+jwt"}`)},
		{"wrong audience", forged(func(m map[string]any) { m["aud"] = "other" }, key, ourHeader)},
		{"wrong issuer", forged(func(m map[string]any) { m["iss"] = "other" }, key, ourHeader)},
		{"issued in the future", forged(func(m map[string]any) { m["iat"] = clock.now().Add(time.Hour).Unix() }, key, ourHeader)},
		{"signature dropped", strings.Join(strings.Split(viaBasic, ".")[:2], ".") + "."},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			checkRefused(t, b.request(t, http.MethodGet, protected, nil, bearer(tt.token)))
		})
	}

	// Expiry follows the clock.
	clock.add(15*time.Minute - time.Second)
	checkAuthResult(t, b.request(t, http.MethodGet, protected, nil, bearer(viaBasic)), http.StatusOK)
	clock.add(time.Second)
	checkRefused(t, b.request(t, http.MethodGet, protected, nil, bearer(viaBasic)))

	// Another bridge with another key does not take this one's tokens;
	// one with the same key does (replicas).
	other, otherClock := oauthBridge(t, "another-key-0123456789abcdef0123456789")
	same, sameClock := oauthBridge(t, key)
	otherClock.set(clock.now())
	sameClock.set(clock.now())
	fresh := accessToken(t, b.tokenRequest(t, grant, []string{oauthClientID, oauthSecret}))
	checkRefused(t, other.request(t, http.MethodGet, protected, nil, bearer(fresh)))
	checkAuthResult(t, same.request(t, http.MethodGet, protected, nil, bearer(fresh)), http.StatusOK)

	for _, secret := range []string{oauthSecret, fresh, viaBasic, viaForm, key} {
		if strings.Contains(b.logs.String(), secret) {
			t.Errorf("a secret or token reached the log")
		}
	}
}

func TestOAuthTokenErrors(t *testing.T) {
	b, _ := oauthBridge(t, "signing-key-0123456789abcdef0123456789")
	grant := url.Values{"grant_type": {"client_credentials"}}
	withForm := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name       string
		form       url.Values
		basic      []string
		wantStatus int
		wantError  string
	}{
		{name: "wrong secret", form: grant, basic: []string{oauthClientID, oauthSecret + "x"}, wantStatus: 401, wantError: "invalid_client"},
		{name: "wrong secret in the form", form: withForm("grant_type", "client_credentials", "client_id", oauthClientID, "client_secret", "nope"), wantStatus: 401, wantError: "invalid_client"},
		{name: "unknown client", form: grant, basic: []string{"stranger", oauthSecret}, wantStatus: 401, wantError: "invalid_client"},
		{name: "no client authentication", form: grant, wantStatus: 401, wantError: "invalid_client"},
		{name: "empty secret", form: withForm("grant_type", "client_credentials", "client_id", oauthClientID, "client_secret", ""), wantStatus: 401, wantError: "invalid_client"},
		{name: "another grant", form: withForm("grant_type", "password", "username", "u", "password", "p"), basic: []string{oauthClientID, oauthSecret}, wantStatus: 400, wantError: "unsupported_grant_type"},
		{name: "authorization code grant", form: withForm("grant_type", "authorization_code", "code", "x"), basic: []string{oauthClientID, oauthSecret}, wantStatus: 400, wantError: "unsupported_grant_type"},
		{name: "no grant", form: url.Values{}, basic: []string{oauthClientID, oauthSecret}, wantStatus: 400, wantError: "invalid_request"},
		{name: "grant twice", form: withForm("grant_type", "client_credentials", "grant_type", "client_credentials"), basic: []string{oauthClientID, oauthSecret}, wantStatus: 400, wantError: "invalid_request"},
		{name: "Basic and a form secret", form: withForm("grant_type", "client_credentials", "client_secret", oauthSecret), basic: []string{oauthClientID, oauthSecret}, wantStatus: 400, wantError: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.tokenRequest(t, tt.form, tt.basic)
			if r.status != tt.wantStatus || r.body["error"] != tt.wantError {
				t.Fatalf("%d %s, want %d with error %s", r.status, r.raw, tt.wantStatus, tt.wantError)
			}
			if _, has := r.body["access_token"]; has {
				t.Error("an access token with an error")
			}
			if tt.wantStatus == 401 && !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic ") {
				t.Errorf("WWW-Authenticate %q, want a Basic challenge", r.header.Get("WWW-Authenticate"))
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Error("an error answer without Cache-Control: no-store")
			}
		})
	}
	// Not a form, not POST, secrets in the URL.
	r := b.request(t, http.MethodPost, scim.OAuthTokenPath, strings.NewReader(`{"grant_type":"client_credentials"}`), http.Header{"Content-Type": {"application/json"}})
	if r.status != 400 || r.body["error"] != "invalid_request" {
		t.Errorf("JSON body: %d %s", r.status, r.raw)
	}
	r = b.request(t, http.MethodGet, scim.OAuthTokenPath+"?grant_type=client_credentials&client_id="+oauthClientID+"&client_secret="+oauthSecret, nil, nil)
	if r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d %s", r.status, r.raw)
	}
	r = b.request(t, http.MethodPost, scim.OAuthTokenPath+"?client_id="+oauthClientID+"&client_secret="+oauthSecret,
		strings.NewReader("grant_type=client_credentials"), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if r.status != 400 || r.body["error"] != "invalid_request" {
		t.Errorf("credentials in the URL: %d %s", r.status, r.raw)
	}
	if strings.Contains(b.logs.String(), oauthSecret) {
		t.Error("the client secret reached the log")
	}

	// Without OAuth clients the endpoint does not exist.
	plain := newBridge(t, bridgeOptions{})
	if r := plain.tokenRequest(t, grant, []string{oauthClientID, oauthSecret}); r.status != http.StatusNotFound {
		t.Errorf("token endpoint without clients: %d", r.status)
	}
}
