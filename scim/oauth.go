package scim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// OAuthTokenPath is where the bridge issues access tokens to its OAuth
// clients (RFC 6749 §4.4, the client credentials grant), on the SCIM
// listener.
const OAuthTokenPath = "/oauth/token"

// The iss and aud of the access tokens the bridge issues: it is both the
// authorization server and the resource server, so these only need to
// keep its tokens apart from any other JWT signed with another key.
const (
	oauthIssuerName = "scim-bridge"
	oauthAudience   = "scim-bridge/scim/v2"
)

// OAuthClient is an IdP client that may get access tokens with the client
// credentials grant. Its secret is known by its SHA-256 digest only.
type OAuthClient struct {
	// ID is the client_id, and the caller name of the tokens it gets.
	ID string
	// SecretSHA256 is the SHA-256 digest of the client secret.
	SecretSHA256 [sha256.Size]byte
}

// oauthIssuer issues and verifies the bridge's own access tokens: JWTs
// signed with HMAC-SHA256 (RFC 7519, RFC 9068's at+jwt). The algorithm is
// fixed; a token's header never chooses it.
type oauthIssuer struct {
	clients []OAuthClient
	key     []byte
	ttl     time.Duration
	now     func() time.Time
	log     *slog.Logger
}

func newOAuthIssuer(cfg Config, log *slog.Logger) (*oauthIssuer, error) {
	key := cfg.OAuthSigningKey
	switch {
	case len(key) == 0:
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
	case len(key) < 32:
		return nil, errors.New("scim: the OAuth signing key is shorter than 32 bytes")
	}
	seen := make(map[string]bool)
	for _, c := range cfg.OAuthClients {
		if c.ID == "" || seen[c.ID] {
			return nil, errors.New("scim: OAuth client ids must be unique and not empty")
		}
		seen[c.ID] = true
	}
	return &oauthIssuer{clients: cfg.OAuthClients, key: key, ttl: cfg.OAuthTokenTTL, now: cfg.Now, log: log}, nil
}

// jwtHeader is the header of every token the bridge issues.
var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"at+jwt"}`))

// accessClaims are the claims of an issued token.
type accessClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
	IssuedAt int64  `json:"iat"`
	Expiry   int64  `json:"exp"`
	ID       string `json:"jti"`
	ClientID string `json:"client_id"`
}

// issue returns a signed access token for client id.
func (o *oauthIssuer) issue(id string) (string, error) {
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", err
	}
	now := o.now()
	claims, err := json.Marshal(accessClaims{
		Issuer: oauthIssuerName, Subject: id, Audience: oauthAudience, ClientID: id,
		IssuedAt: now.Unix(), Expiry: now.Add(o.ttl).Unix(), ID: hex.EncodeToString(jti[:]),
	})
	if err != nil {
		return "", err
	}
	input := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(claims)
	return input + "." + base64.RawURLEncoding.EncodeToString(o.sign(input)), nil
}

func (o *oauthIssuer) sign(input string) []byte {
	mac := hmac.New(sha256.New, o.key)
	mac.Write([]byte(input))
	return mac.Sum(nil)
}

// maxClockSkew is how far in the future a token's iat may be: replicas'
// clocks differ a little.
const maxClockSkew = time.Minute

// verify returns the client id of a token the bridge issued, still valid,
// for a client still configured.
func (o *oauthIssuer) verify(token string) (string, bool) {
	header, rest, _ := strings.Cut(token, ".")
	payload, sig, _ := strings.Cut(rest, ".")
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, o.sign(header+"."+payload)) {
		return "", false
	}
	// The signature is ours; the header must still be the one we write.
	if header != jwtHeader {
		return "", false
	}
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", false
	}
	var c accessClaims
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", false
	}
	now := o.now()
	if c.Issuer != oauthIssuerName || c.Audience != oauthAudience || c.Expiry <= now.Unix() ||
		c.IssuedAt > now.Add(maxClockSkew).Unix() {
		return "", false
	}
	for _, cl := range o.clients {
		if cl.ID == c.Subject {
			return cl.ID, true
		}
	}
	return "", false
}

// authenticateClient returns the client whose id and secret these are.
// Every client is compared, in constant time, so that timing tells
// neither whether the id exists nor how much of the secret matched.
func (o *oauthIssuer) authenticateClient(id, secret string) (OAuthClient, bool) {
	d := sha256.Sum256([]byte(secret))
	idd := sha256.Sum256([]byte(id))
	match := -1
	for i, c := range o.clients {
		cid := sha256.Sum256([]byte(c.ID))
		if subtle.ConstantTimeCompare(idd[:], cid[:])&subtle.ConstantTimeCompare(d[:], c.SecretSHA256[:]) == 1 {
			match = i
		}
	}
	if match < 0 {
		return OAuthClient{}, false
	}
	return o.clients[match], true
}

// knownClient reports whether id names a configured client (to log it).
func (o *oauthIssuer) knownClient(id string) bool {
	for _, c := range o.clients {
		if c.ID == id {
			return true
		}
	}
	return false
}

// oauthError is an RFC 6749 §5.2 error response.
type oauthError struct {
	status      int
	Code        string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

func writeOAuthJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="scim-bridge"`)
	}
	w.WriteHeader(status)
	body, _ := json.Marshal(v)
	_, _ = w.Write(body)
}

// maxTokenRequestBytes caps a token request's body.
const maxTokenRequestBytes = 16 << 10

// oauthToken serves OAuthTokenPath: POST, a form body with
// grant_type=client_credentials, the client authenticated by HTTP Basic
// or client_id and client_secret fields, never both; credentials in the
// URL are refused. The answer is the token and its lifetime, not to be
// cached (RFC 6749 §5.1). Without OAuth clients the path does not exist.
func (s *Server) oauthToken() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := s.auth.oauth
		if o == nil {
			notFound(w, r)
			return
		}
		fail := func(e oauthError) {
			writeOAuthJSON(w, e.status, e)
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			fail(oauthError{status: http.StatusMethodNotAllowed, Code: "invalid_request", Description: "The token endpoint takes POST."})
			return
		}
		if q := r.URL.Query(); q.Has("client_secret") || q.Has("client_id") || q.Has("grant_type") {
			fail(oauthError{status: http.StatusBadRequest, Code: "invalid_request", Description: "Parameters go in the form body, never in the URL."})
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/x-www-form-urlencoded" {
			fail(oauthError{status: http.StatusBadRequest, Code: "invalid_request", Description: "The body must be application/x-www-form-urlencoded."})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxTokenRequestBytes)
		if err := r.ParseForm(); err != nil {
			fail(oauthError{status: http.StatusBadRequest, Code: "invalid_request", Description: "The form body cannot be read."})
			return
		}
		form := r.PostForm
		for _, p := range []string{"grant_type", "client_id", "client_secret"} {
			if len(form[p]) > 1 {
				fail(oauthError{status: http.StatusBadRequest, Code: "invalid_request", Description: p + " is given more than once."})
				return
			}
		}
		id, secret, basic := r.BasicAuth()
		if basic {
			// RFC 6749 §2.3.1: both are form-encoded before Basic.
			var err1, err2 error
			id, err1 = url.QueryUnescape(id)
			secret, err2 = url.QueryUnescape(secret)
			if err1 != nil || err2 != nil {
				fail(oauthError{status: http.StatusUnauthorized, Code: "invalid_client", Description: "Client authentication failed."})
				return
			}
			if form.Has("client_secret") {
				fail(oauthError{status: http.StatusBadRequest, Code: "invalid_request", Description: "Use one client authentication method, not two."})
				return
			}
		} else {
			id, secret = form.Get("client_id"), form.Get("client_secret")
		}
		switch gt := form.Get("grant_type"); {
		case gt == "":
			fail(oauthError{status: http.StatusBadRequest, Code: "invalid_request", Description: "grant_type is required."})
			return
		case gt != "client_credentials":
			fail(oauthError{status: http.StatusBadRequest, Code: "unsupported_grant_type", Description: "Only client_credentials is supported."})
			return
		}
		if r.Header.Get("Authorization") != "" && !basic {
			fail(oauthError{status: http.StatusUnauthorized, Code: "invalid_client", Description: "Client authentication failed."})
			return
		}
		client, ok := o.authenticateClient(id, secret)
		if !ok || id == "" || secret == "" {
			if o.knownClient(id) {
				s.log.WarnContext(r.Context(), "oauth client authentication failed", "client_id", id)
			} else {
				s.log.WarnContext(r.Context(), "oauth client authentication failed: unknown client")
			}
			fail(oauthError{status: http.StatusUnauthorized, Code: "invalid_client", Description: "Client authentication failed."})
			return
		}
		token, err := o.issue(client.ID)
		if err != nil {
			s.log.ErrorContext(r.Context(), "oauth token not issued", "client_id", client.ID, "error", err)
			fail(oauthError{status: http.StatusInternalServerError, Code: "server_error"})
			return
		}
		s.log.InfoContext(r.Context(), "oauth token issued", "client_id", client.ID, "expires_in", int64(o.ttl.Seconds()))
		writeOAuthJSON(w, http.StatusOK, struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
			ExpiresIn   int64  `json:"expires_in"`
		}{token, "Bearer", int64(o.ttl.Seconds())})
	})
}
