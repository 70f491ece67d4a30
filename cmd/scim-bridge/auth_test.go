package main

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/config"
)

func sha256Hex(s string) string {
	d := sha256.Sum256([]byte(s))
	return hex.EncodeToString(d[:])
}

// testIssuer is an OIDC issuer over real HTTP (discovery and JWKS) that
// signs RS256 JWTs.
type testIssuer struct {
	url string
	key *rsa.PrivateKey
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ti := &testIssuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": ti.url, "jwks_uri": ti.url + "/keys",
			"authorization_endpoint": ti.url + "/a", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "k1",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ti.url = srv.URL
	return ti
}

func (ti *testIssuer) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		raw, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(raw)
	}
	input := enc(map[string]any{"alg": "RS256", "kid": "k1", "typ": "JWT"}) + "." + enc(claims)
	d := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, ti.key, crypto.SHA256, d[:])
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// capture sends requests to a running serve and keeps every response's
// status line, headers and body, for the secret scan.
type capture struct {
	t      *testing.T
	s      *runningServe
	client *http.Client
	seen   strings.Builder
	sent   []string // the Authorization values sent
}

func (c *capture) send(base, method, path string, header http.Header, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, base+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header = header
	if v := header.Get("Authorization"); v != "" {
		c.sent = append(c.sent, v)
	}
	res, err := c.client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if path == "/oauth/token" && res.StatusCode == http.StatusOK {
		return res.StatusCode, string(raw) // the one answer that carries a token, by design
	}
	c.seen.WriteString(res.Status + "\n")
	_ = res.Header.Write(&c.seen)
	c.seen.Write(raw)
	c.seen.WriteString("\n")
	return res.StatusCode, string(raw)
}

func auth(v string) http.Header { return http.Header{"Authorization": {v}} }

// TestServeAuthentication runs serve with every kind of IdP credential at
// once: named, hashed and file tokens, an OAuth client, an OIDC issuer
// with required claims, and admin tokens. Each authenticates and names its
// caller in the metrics; the tokens file rotates without a restart (an
// added token works, a removed one stops, a bad file keeps the previous
// tokens); and no configured secret, issued token or Authorization value
// appears in the log, any response or /metrics.
func TestServeAuthentication(t *testing.T) {
	var (
		oktaToken   = "okta-" + randomToken()
		entraToken  = "entra-" + randomToken() // configured by hash only
		fileToken   = "file-" + randomToken()
		nextToken   = "next-" + randomToken()
		shortToken  = "short-" + randomToken()[:20]
		adminToken  = "admin-" + randomToken()
		clientSec   = "client-secret-" + randomToken()
		signingKey  = "signing-key-" + randomToken()
		tokensFile  = filepath.Join(t.TempDir(), "tokens")
		issuer      = newTestIssuer(t)
		aud         = "api://scim-bridge-test"
		writeTokens = func(content string) {
			t.Helper()
			// Write then rename, as a Kubernetes Secret update does.
			tmp := tokensFile + ".tmp"
			if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, tokensFile); err != nil {
				t.Fatal(err)
			}
		}
	)
	writeTokens("# IdP tokens\nfile-idp:" + fileToken + "\n")
	s := startServe(t, map[string]string{
		"TOKENS":               "okta:" + oktaToken + ",entra:sha256:" + sha256Hex(entraToken),
		"TOKENS_FILE":          tokensFile,
		"OAUTH_CLIENTS":        "gallery:sha256:" + sha256Hex(clientSec),
		"OAUTH_SIGNING_KEY":    signingKey,
		"OAUTH_TOKEN_TTL":      "10m",
		"OIDC_ISSUER":          issuer.url,
		"OIDC_AUDIENCE":        aud,
		"OIDC_REQUIRED_CLAIMS": "tid=tenant-1",
		"OIDC_NAME":            "wif",
		"ADMIN_TOKENS":         adminToken,
		"LOG_LEVEL":            "debug",
	})
	c := &capture{t: t, s: s, client: s.client}
	now := time.Now()
	goodJWT := issuer.sign(t, map[string]any{"iss": issuer.url, "aud": aud, "sub": "app", "tid": "tenant-1",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	badJWT := issuer.sign(t, map[string]any{"iss": issuer.url, "aud": aud, "sub": "app", "tid": "tenant-2",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})

	code, body := c.send(s.base, http.MethodPost, "/oauth/token",
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
		url.Values{"grant_type": {"client_credentials"}, "client_id": {"gallery"}, "client_secret": {clientSec}}.Encode())
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &tok) != nil || tok.AccessToken == "" {
		t.Fatalf("token request: %d %s", code, body)
	}
	c.send(s.base, http.MethodPost, "/oauth/token", http.Header{"Content-Type": {"application/x-www-form-urlencoded"},
		"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("gallery:"+clientSec+"x"))}}, "grant_type=client_credentials")

	const path = "/scim/v2/ServiceProviderConfig"
	for _, tt := range []struct {
		name, header string
		want         int
	}{
		{"named token", "Bearer " + oktaToken, 200},
		{"hashed token", "Bearer " + entraToken, 200},
		{"file token", "Bearer " + fileToken, 200},
		{"OAuth access token", "Bearer " + tok.AccessToken, 200},
		{"OIDC JWT", "Bearer " + goodJWT, 200},
		{"OIDC JWT from another tenant", "Bearer " + badJWT, 401},
		{"the hash itself", "Bearer " + sha256Hex(entraToken), 401},
		{"client secret as a bearer token", "Bearer " + clientSec, 401},
		{"admin token", "Bearer " + adminToken, 401},
		{"Basic", "Basic " + base64.StdEncoding.EncodeToString([]byte("okta:"+oktaToken)), 401},
	} {
		if code, body := c.send(s.base, http.MethodGet, path, auth(tt.header), ""); code != tt.want {
			t.Errorf("%s: %d, want %d: %s", tt.name, code, tt.want, body)
		}
	}
	if code, body := c.send(s.base, http.MethodGet, path+"?access_token="+oktaToken, nil, ""); code != 401 {
		t.Errorf("token in the query: %d %s", code, body)
	}

	// Rotation: the file now holds the next token and no longer the old one.
	writeTokens("file-idp:" + nextToken + "\n")
	waitFor(t, 15*time.Second, "the added token to work", func() bool {
		code, _ := c.send(s.base, http.MethodGet, path, auth("Bearer "+nextToken), "")
		return code == 200
	})
	if code, _ := c.send(s.base, http.MethodGet, path, auth("Bearer "+fileToken), ""); code != 401 {
		t.Errorf("the removed token still works: %d", code)
	}
	// A bad file (a token too short) keeps the previous tokens.
	writeTokens("file-idp:" + nextToken + "\nshort:" + shortToken + "\n")
	waitFor(t, 15*time.Second, "the bad file to be reported", func() bool {
		return strings.Contains(s.stderr.String(), "tokens file not reloaded")
	})
	if code, _ := c.send(s.base, http.MethodGet, path, auth("Bearer "+nextToken), ""); code != 200 {
		t.Errorf("the previous tokens stopped working after a bad file: %d", code)
	}
	if code, _ := c.send(s.base, http.MethodGet, path, auth("Bearer "+shortToken), ""); code != 401 {
		t.Errorf("the short token was accepted: %d", code)
	}

	// Every caller is named in the metrics (on the admin listener).
	code, metricsText := c.send(s.admin, http.MethodGet, "/metrics", auth("Bearer "+adminToken), "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	for _, caller := range []string{"okta", "entra", "file-idp", "gallery", "wif"} {
		if !strings.Contains(metricsText, `caller="`+caller+`"`) {
			t.Errorf("/metrics has no series for caller %s", caller)
		}
	}
	c.send(s.admin, http.MethodGet, "/admin/v1/status", auth("Bearer "+oktaToken), "") // an IdP token on the admin API: refused

	s.stop()
	out := c.seen.String() + "\n" + s.stderr.String()
	for name, secret := range map[string]string{
		"okta token": oktaToken, "entra token": entraToken, "file token": fileToken, "next token": nextToken,
		"short token": shortToken, "admin token": adminToken, "client secret": clientSec, "signing key": signingKey,
		"issued access token": tok.AccessToken, "OIDC JWT": goodJWT, "refused OIDC JWT": badJWT,
		"access token signature": tok.AccessToken[strings.LastIndex(tok.AccessToken, ".")+1:],
	} {
		if strings.Contains(out, secret) {
			t.Errorf("the %s appears in the log, a response or /metrics", name)
		}
	}
	for _, v := range c.sent {
		_, cred, _ := strings.Cut(v, " ")
		if strings.Contains(out, cred) {
			t.Errorf("the Authorization value %.12s… appears in the log, a response or /metrics", v)
		}
	}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestOAuthTokenOutlivesRestart: with the embedded store and no configured
// signing key, an access token issued before a restart is still accepted
// after it (the IdP keeps its token for up to an hour), because the key is
// kept beside the store, readable by its owner only.
func TestOAuthTokenOutlivesRestart(t *testing.T) {
	secret := "client-secret-" + randomToken()
	settings := map[string]string{
		"DATA_DIR":      t.TempDir(),
		"OAUTH_CLIENTS": "gallery:sha256:" + sha256Hex(secret),
	}
	first := startServe(t, settings)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"gallery"}, "client_secret": {secret}}
	res, err := first.client.Post(first.base+"/oauth/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	var issued struct {
		AccessToken string `json:"access_token"`
	}
	err = json.NewDecoder(res.Body).Decode(&issued)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || issued.AccessToken == "" {
		t.Fatalf("token endpoint: %d, %v", res.StatusCode, err)
	}
	use := func(s *runningServe) int {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.base+"/scim/v2/ServiceProviderConfig", nil)
		req.Header.Set("Authorization", "Bearer "+issued.AccessToken)
		res, err := s.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := use(first); code != http.StatusOK {
		t.Fatalf("issued token before the restart: %d", code)
	}
	first.stop()

	second := startServe(t, settings)
	if code := use(second); code != http.StatusOK {
		t.Errorf("issued token after the restart: %d, want 200", code)
	}
	info, err := os.Stat(filepath.Join(settings["DATA_DIR"], signingKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && info.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", signingKeyFile, info.Mode().Perm())
	}
	if strings.Contains(second.stderr.String(), secret) {
		t.Error("the log holds the client secret")
	}
}

// TestEmbeddedSigningKeyOnce: processes starting together on one directory
// end with one key, and a damaged key file is refused, not replaced.
func TestEmbeddedSigningKeyOnce(t *testing.T) {
	dir := t.TempDir()
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := embeddedSigningKey(dir)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for i, k := range keys {
		if len(k) < config.MinSigningKeyLength || !bytes.Equal(k, keys[0]) {
			t.Fatalf("key %d = %d bytes, differs from the first: %v", i, len(k), !bytes.Equal(k, keys[0]))
		}
	}
	if err := os.WriteFile(filepath.Join(dir, signingKeyFile), []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := embeddedSigningKey(dir); err == nil {
		t.Error("a 5-byte key file was accepted")
	}
}
