package scim_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/scim-bridge/scim-bridge/scim"
)

// protected is a cheap endpoint behind authentication.
const protected = scim.BasePath + "/ServiceProviderConfig"

func TestStaticBearerTokens(t *testing.T) {
	b := newBridge(t, bridgeOptions{})
	tests := []struct {
		name       string
		header     string // Authorization; "" sends none
		wantStatus int
	}{
		{name: "missing", wantStatus: http.StatusUnauthorized},
		{name: "bearer without token", header: "Bearer", wantStatus: http.StatusUnauthorized},
		{name: "bearer with blank token", header: "Bearer    ", wantStatus: http.StatusUnauthorized},
		{name: "basic scheme", header: "Basic " + base64.StdEncoding.EncodeToString([]byte("okta:"+testToken)), wantStatus: http.StatusUnauthorized},
		{name: "right token under another scheme", header: "Token " + testToken, wantStatus: http.StatusUnauthorized},
		{name: "token without scheme", header: testToken, wantStatus: http.StatusUnauthorized},
		{name: "wrong token", header: "Bearer not-the-token", wantStatus: http.StatusUnauthorized},
		{name: "prefix of the token", header: "Bearer " + testToken[:len(testToken)-1], wantStatus: http.StatusUnauthorized},
		{name: "token with a suffix", header: "Bearer " + testToken + "x", wantStatus: http.StatusUnauthorized},
		{name: "both tokens joined", header: "Bearer " + testToken + otherToken, wantStatus: http.StatusUnauthorized},
		{name: "right token", header: "Bearer " + testToken, wantStatus: http.StatusOK},
		{name: "second of two tokens", header: "Bearer " + otherToken, wantStatus: http.StatusOK},
		{name: "lower-case scheme", header: "bearer " + testToken, wantStatus: http.StatusOK},
		{name: "upper-case scheme", header: "BEARER " + testToken, wantStatus: http.StatusOK},
		{name: "extra spaces before the token", header: "Bearer   " + testToken, wantStatus: http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.header != "" {
				h.Set("Authorization", tt.header)
			}
			r := b.request(t, http.MethodGet, protected, nil, h)
			checkAuthResult(t, r, tt.wantStatus)
		})
	}
	if strings.Contains(b.logs.String(), testToken) || strings.Contains(b.logs.String(), otherToken) {
		t.Errorf("a bearer token reached the log:\n%s", b.logs)
	}
}

// checkAuthResult checks that r passed authentication (200) or was
// refused with a SCIM 401 and a WWW-Authenticate challenge.
func checkAuthResult(t *testing.T, r response, wantStatus int) {
	t.Helper()
	if wantStatus != http.StatusUnauthorized {
		if r.status != wantStatus {
			t.Fatalf("status %d, want %d: %s", r.status, wantStatus, short(r.raw))
		}
		return
	}
	wantSCIMError(t, r, http.StatusUnauthorized, "")
	if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer ") {
		t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
	}
	if strings.Contains(r.raw, testToken) || strings.Contains(r.raw, otherToken) {
		t.Errorf("401 body echoes a token: %s", r.raw)
	}
}

func TestEveryAPIRouteNeedsAuth(t *testing.T) {
	b := newBridge(t, bridgeOptions{})
	id := b.createUser(t, "guarded@example.com")
	tests := []struct {
		name, method, path string
	}{
		{name: "list users", method: http.MethodGet, path: "/Users"},
		{name: "get user", method: http.MethodGet, path: "/Users/" + id},
		{name: "delete user", method: http.MethodDelete, path: "/Users/" + id},
		{name: "create group", method: http.MethodPost, path: "/Groups"},
		{name: "search groups", method: http.MethodPost, path: "/Groups/.search"},
		{name: "schemas", method: http.MethodGet, path: "/Schemas"},
		{name: "resource types", method: http.MethodGet, path: "/ResourceTypes"},
		{name: "unknown endpoint", method: http.MethodGet, path: "/Nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.request(t, tt.method, scim.BasePath+tt.path, nil, http.Header{"Authorization": {"Bearer wrong"}})
			checkAuthResult(t, r, http.StatusUnauthorized)
		})
	}
	// The user survived the unauthenticated DELETE.
	b.must(t, http.StatusOK, http.MethodGet, "/Users/"+id, nil)
}

func TestNewNeedsACredential(t *testing.T) {
	tests := []struct {
		name    string
		cfg     scim.Config
		wantErr bool
	}{
		{name: "nothing", cfg: scim.Config{}, wantErr: true},
		{name: "only empty tokens", cfg: scim.Config{StaticTokens: []scim.StaticToken{scim.NewStaticToken("token-1", ""), scim.NewStaticToken("token-2", "")}}, wantErr: true},
		{name: "audience without issuer", cfg: scim.Config{OIDCAudience: "scim-bridge"}, wantErr: true},
		{name: "a token", cfg: scim.Config{StaticTokens: []scim.StaticToken{scim.NewStaticToken("token-1", "t")}}},
		{name: "an issuer", cfg: scim.Config{OIDCIssuer: "https://idp.example.test"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scim.New(tt.cfg, nil, nil)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Errorf("New error = %v, want error: %v", err, tt.wantErr)
			}
		})
	}
}

const (
	testIssuer   = "https://idp.example.test/oauth2/default"
	testAudience = "api://scim-bridge"
)

// jwtSigner signs RS256 JWTs by hand (RFC 7515 compact serialisation), so
// the test controls every claim and the key.
type jwtSigner struct {
	key *rsa.PrivateKey
	kid string
}

func newSigner(t *testing.T, kid string) jwtSigner {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return jwtSigner{key: key, kid: kid}
}

func (s jwtSigner) sign(t *testing.T, alg string, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(raw)
	}
	input := enc(map[string]any{"alg": alg, "typ": "JWT", "kid": s.kid}) + "." + enc(claims)
	if alg == "none" {
		return input + "."
	}
	digest := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.key, crypto.SHA256, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestOIDCBearerTokens(t *testing.T) {
	// A fixed clock: expiry is decided by the verifier's Now, not the wall.
	now := time.Date(2031, 3, 14, 9, 26, 53, 0, time.UTC)
	idp := newSigner(t, "idp-key")
	stranger := newSigner(t, "idp-key") // same kid, different key

	b := newBridge(t, bridgeOptions{cfg: scim.Config{
		StaticTokens: []scim.StaticToken{scim.NewStaticToken("token-1", testToken)}, OIDCIssuer: testIssuer, OIDCAudience: testAudience,
	}})
	scim.SetVerifier(b.srv, oidc.NewVerifier(testIssuer,
		&oidc.StaticKeySet{PublicKeys: []crypto.PublicKey{&idp.key.PublicKey}},
		&oidc.Config{ClientID: testAudience, Now: func() time.Time { return now }}))

	claims := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{
			"iss": testIssuer,
			"aud": testAudience,
			"sub": "okta-provisioning",
			"iat": now.Add(-time.Minute).Unix(),
			"exp": now.Add(time.Hour).Unix(),
		}
		if edit != nil {
			edit(c)
		}
		return c
	}
	tests := []struct {
		name       string
		token      string
		wantStatus int
	}{
		{name: "valid", token: idp.sign(t, "RS256", claims(nil)), wantStatus: http.StatusOK},
		{name: "audience in a list", token: idp.sign(t, "RS256", claims(func(c map[string]any) {
			c["aud"] = []string{"other", testAudience}
		})), wantStatus: http.StatusOK},
		{name: "static token still accepted", token: testToken, wantStatus: http.StatusOK},
		{name: "wrong audience", token: idp.sign(t, "RS256", claims(func(c map[string]any) {
			c["aud"] = "api://something-else"
		})), wantStatus: http.StatusUnauthorized},
		{name: "no audience", token: idp.sign(t, "RS256", claims(func(c map[string]any) {
			delete(c, "aud")
		})), wantStatus: http.StatusUnauthorized},
		{name: "wrong issuer", token: idp.sign(t, "RS256", claims(func(c map[string]any) {
			c["iss"] = "https://evil.example.test/oauth2/default"
		})), wantStatus: http.StatusUnauthorized},
		{name: "expired", token: idp.sign(t, "RS256", claims(func(c map[string]any) {
			c["iat"] = now.Add(-3 * time.Hour).Unix()
			c["exp"] = now.Add(-time.Hour).Unix()
		})), wantStatus: http.StatusUnauthorized},
		{name: "signed by another key", token: stranger.sign(t, "RS256", claims(nil)), wantStatus: http.StatusUnauthorized},
		{name: "unsigned", token: idp.sign(t, "none", claims(nil)), wantStatus: http.StatusUnauthorized},
		{name: "tampered payload", token: tamper(t, idp.sign(t, "RS256", claims(nil))), wantStatus: http.StatusUnauthorized},
		{name: "three dots of garbage", token: "a.b.c", wantStatus: http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := b.request(t, http.MethodGet, protected, nil, http.Header{"Authorization": {"Bearer " + tt.token}})
			checkAuthResult(t, r, tt.wantStatus)
		})
	}
}

// tamper swaps the payload of a signed JWT for one that names another
// subject, keeping the original signature.
func tamper(t *testing.T, jwt string) string {
	t.Helper()
	parts := strings.Split(jwt, ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	c["sub"] = "someone-else"
	raw, _ = json.Marshal(c)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	return strings.Join(parts, ".")
}

// A JWT is refused, not an error, when the issuer cannot be reached for
// discovery.
func TestOIDCIssuerUnreachable(t *testing.T) {
	down := &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return nil, errors.New("dial tcp: connection refused")
	})}
	b := newBridge(t, bridgeOptions{cfg: scim.Config{
		StaticTokens: []scim.StaticToken{scim.NewStaticToken("token-1", testToken)}, OIDCIssuer: testIssuer, OIDCAudience: testAudience, HTTPClient: down,
	}})
	jwt := newSigner(t, "k").sign(t, "RS256", map[string]any{"iss": testIssuer, "aud": testAudience})
	r := b.request(t, http.MethodGet, protected, nil, http.Header{"Authorization": {"Bearer " + jwt}})
	checkAuthResult(t, r, http.StatusUnauthorized)
	if strings.Contains(b.logs.String(), jwt) {
		t.Errorf("the JWT reached the log")
	}
	// Static tokens keep working while the issuer is down.
	r = b.request(t, http.MethodGet, protected, nil, http.Header{"Authorization": {"Bearer " + testToken}})
	checkAuthResult(t, r, http.StatusOK)
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
