package scim_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/scim"
)

// The one detail every refused token gets: it never says which check
// failed.
const refusedDetail = "The bearer token is not valid."

// testClock is a settable clock for Config.Now.
type testClock struct{ t atomic.Int64 }

func newClock(t time.Time) *testClock {
	c := &testClock{}
	c.set(t)
	return c
}
func (c *testClock) set(t time.Time)     { c.t.Store(t.UnixNano()) }
func (c *testClock) now() time.Time      { return time.Unix(0, c.t.Load()).UTC() }
func (c *testClock) add(d time.Duration) { c.set(c.now().Add(d)) }

// localIssuer is an OIDC issuer over real HTTP: discovery and a JWKS with
// the public keys of its signers, so that the real go-oidc path (discovery,
// remote key set, verification) runs.
type localIssuer struct {
	url  string
	keys []jwtSigner
	srv  *httptest.Server
}

func newLocalIssuer(t *testing.T, keys ...jwtSigner) *localIssuer {
	t.Helper()
	li := &localIssuer{keys: keys}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                li.url,
			"jwks_uri":                              li.url + "/keys",
			"authorization_endpoint":                li.url + "/authorize",
			"token_endpoint":                        li.url + "/token",
			"id_token_signing_alg_values_supported": []string{"RS256", "HS256"}, // HS256 is never honoured
		})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		var jwks []map[string]string
		for _, k := range li.keys {
			jwks = append(jwks, map[string]string{
				"kty": "RSA", "use": "sig", "alg": "RS256", "kid": k.kid,
				"n": base64.RawURLEncoding.EncodeToString(k.key.N.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.key.E)).Bytes()),
			})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": jwks})
	})
	li.srv = httptest.NewServer(mux)
	t.Cleanup(li.srv.Close)
	li.url = li.srv.URL
	return li
}

// signHS256 signs claims with HMAC-SHA256 under key: the "HS256 with the
// public key" confusion attack when key is the issuer's public key.
func signHS256(t *testing.T, key []byte, kid string, claims map[string]any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid})
	c, _ := json.Marshal(claims)
	input := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(input))
	return input + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// checkRefused checks a SCIM 401 with the one detail for every bad token.
func checkRefused(t *testing.T, r response) {
	t.Helper()
	checkAuthResult(t, r, http.StatusUnauthorized)
	if d, _ := r.body["detail"].(string); d != refusedDetail {
		t.Errorf("detail %q, want %q (the same for every refused token)", d, refusedDetail)
	}
}

func TestOIDCLocalIssuer(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	clock := newClock(now)
	key := newSigner(t, "key-1")
	unknown := newSigner(t, "key-2") // not in the JWKS
	li := newLocalIssuer(t, key)
	const tenant, app = "9188040d-6c67-4c5b-b112-36a304b66dad", "6731de76-14a6-49ae-97bc-6eba6914391e"
	b := newBridge(t, bridgeOptions{cfg: scim.Config{
		StaticTokens: []scim.StaticToken{scim.NewStaticToken("token-1", testToken)}, OIDCIssuer: li.url, OIDCAudience: testAudience,
		OIDCRequiredClaims: map[string]string{"tid": tenant, "azp": app}, OIDCName: "entra-wif",
		HTTPClient: li.srv.Client(), Now: clock.now,
	}})
	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{
			"iss": li.url, "aud": testAudience, "sub": app, "tid": tenant, "azp": app,
			"iat": now.Add(-time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		}
		if edit != nil {
			edit(c)
		}
		return c
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})

	good := key.sign(t, "RS256", claims(nil))
	r := b.request(t, http.MethodGet, protected, nil, bearer(good))
	checkAuthResult(t, r, http.StatusOK)
	if !strings.Contains(b.logs.String(), "caller=entra-wif") {
		t.Errorf("the request's log line does not name the OIDC caller:\n%s", b.logs)
	}

	tests := []struct {
		name  string
		token string
	}{
		{name: "expired", token: key.sign(t, "RS256", claims(func(c map[string]any) {
			c["iat"], c["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
		}))},
		{name: "not yet valid", token: key.sign(t, "RS256", claims(func(c map[string]any) {
			c["nbf"] = now.Add(time.Hour).Unix()
		}))},
		{name: "wrong audience", token: key.sign(t, "RS256", claims(func(c map[string]any) { c["aud"] = "api://other" }))},
		{name: "wrong issuer", token: key.sign(t, "RS256", claims(func(c map[string]any) { c["iss"] = "https://login.example.test/v2.0" }))},
		{name: "unknown key", token: unknown.sign(t, "RS256", claims(nil))},
		{name: "alg none", token: key.sign(t, "none", claims(nil))},
		{name: "HS256 with the public key", token: signHS256(t, pubPEM, key.kid, claims(nil))},
		{name: "HS256 with the public key's DER", token: signHS256(t, pub, key.kid, claims(nil))},
		{name: "required claim missing", token: key.sign(t, "RS256", claims(func(c map[string]any) { delete(c, "tid") }))},
		{name: "required claim from another tenant", token: key.sign(t, "RS256", claims(func(c map[string]any) {
			c["tid"] = "72f988bf-86f1-41af-91ab-2d7cd011db47"
		}))},
		{name: "tampered", token: tamper(t, good)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkRefused(t, b.request(t, http.MethodGet, protected, nil, bearer(tt.token)))
		})
	}
	// A list claim holding the value passes.
	r = b.request(t, http.MethodGet, protected, nil, bearer(key.sign(t, "RS256", claims(func(c map[string]any) {
		c["azp"] = []string{"x", app}
	}))))
	checkAuthResult(t, r, http.StatusOK)
	// Time comes from the clock: the good token expires with it.
	clock.add(2 * time.Hour)
	checkRefused(t, b.request(t, http.MethodGet, protected, nil, bearer(good)))
}

func sha(s string) [sha256.Size]byte { return sha256.Sum256([]byte(s)) }

func TestNamedStaticTokens(t *testing.T) {
	const okta = "okta-prod-token-0123456789abcdef0123456789"
	const entra = "entra-prod-token-0123456789abcdef012345678"
	b := newBridge(t, bridgeOptions{cfg: scim.Config{
		StaticTokens: []scim.StaticToken{scim.NewStaticToken("token-1", testToken), {Name: "okta-prod", SHA256: sha(okta)}, {Name: "entra-prod", SHA256: sha(entra)}},
	}})
	id := b.createUser(t, "named.caller@example.com") // testToken: token-1
	r := b.request(t, http.MethodPatch, scim.BasePath+"/Users/"+id,
		strings.NewReader(`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`),
		http.Header{"Authorization": {"Bearer " + okta}, "Content-Type": {"application/scim+json"}, "User-Agent": {"Okta SCIM Client"}})
	if r.status != http.StatusOK && r.status != http.StatusNoContent {
		t.Fatalf("PATCH with a named token: %d %s", r.status, short(r.raw))
	}
	checkAuthResult(t, b.request(t, http.MethodGet, protected, nil, bearer(entra)), http.StatusOK)
	logs := b.logs.String()
	for _, want := range []string{"caller=token-1", "caller=okta-prod", "caller=entra-prod"} {
		if !strings.Contains(logs, want) {
			t.Errorf("no log line with %s", want)
		}
	}
	// The audit log names the caller of each change.
	entries, err := b.store.AuditLog(t.Context(), cache.AuditQuery{Subject: id})
	if err != nil {
		t.Fatal(err)
	}
	var callers []string
	for _, e := range entries {
		callers = append(callers, e.Operation+":"+e.Caller)
	}
	if got := strings.Join(callers, " "); got != "create:token-1 deactivate:okta-prod" {
		t.Errorf("audit callers %q, want create:token-1 deactivate:okta-prod", got)
	}

	// Rotation while serving: the new set alone is accepted from then on.
	const next = "okta-next-token-0123456789abcdef0123456789"
	b.srv.SetStaticTokens([]scim.StaticToken{{Name: "okta-next", SHA256: sha(next)}})
	checkAuthResult(t, b.request(t, http.MethodGet, protected, nil, bearer(next)), http.StatusOK)
	for _, old := range []string{testToken, okta, entra} {
		checkRefused(t, b.request(t, http.MethodGet, protected, nil, bearer(old)))
	}
	if strings.Contains(b.logs.String(), okta) || strings.Contains(b.logs.String(), next) {
		t.Error("a token reached the log")
	}
}

func TestAuthorizationHeaderBypass(t *testing.T) {
	b := newBridge(t, bridgeOptions{})
	tests := []struct {
		name   string
		path   string
		header http.Header
	}{
		{name: "no header", path: protected},
		{name: "empty header", path: protected, header: http.Header{"Authorization": {""}}},
		{name: "two headers, both good", path: protected, header: http.Header{"Authorization": {"Bearer " + testToken, "Bearer " + testToken}}},
		{name: "two headers, good and bad", path: protected, header: http.Header{"Authorization": {"Bearer " + testToken, "Bearer wrong"}}},
		{name: "two headers, empty then good", path: protected, header: http.Header{"Authorization": {"", "Bearer " + testToken}}},
		{name: "Basic", path: protected, header: http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(testToken+":"))}}},
		{name: "Token scheme", path: protected, header: http.Header{"Authorization": {"Token " + testToken}}},
		{name: "odd-case scheme with a bad token", path: protected, header: http.Header{"Authorization": {"bEaReR wrong"}}},
		{name: "scheme glued to the token", path: protected, header: http.Header{"Authorization": {"Bearer" + testToken}}},
		{name: "tab after the scheme", path: protected, header: http.Header{"Authorization": {"Bearer\t" + testToken}}},
		{name: "token in the query", path: protected + "?access_token=" + url.QueryEscape(testToken)},
		{name: "token in the query, bad header", path: protected + "?access_token=" + url.QueryEscape(testToken), header: bearer("wrong")},
		{name: "other header names", path: protected, header: http.Header{"X-Authorization": {"Bearer " + testToken}, "Proxy-Authorization": {"Bearer " + testToken}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkAuthResult(t, b.request(t, http.MethodGet, tt.path, nil, tt.header), http.StatusUnauthorized)
		})
	}
	// An odd-case scheme with the right token is the same credential.
	checkAuthResult(t, b.request(t, http.MethodGet, protected, nil, http.Header{"Authorization": {"bEaReR " + testToken}}), http.StatusOK)
}
