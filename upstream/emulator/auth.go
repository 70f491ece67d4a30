package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/scim-bridge/scim-bridge/upstream"
)

// claims is the payload of the emulator's access tokens. UiPath's tokens
// carry prt_id, the organization GUID (upstream-api.md §2). scope is a
// space-separated string here.
type claims struct {
	Iss      string `json:"iss"`
	Sub      string `json:"sub"`
	ClientID string `json:"client_id"`
	PrtID    string `json:"prt_id"`
	Scope    string `json:"scope"`
	Iat      int64  `json:"iat"`
	Nbf      int64  `json:"nbf"`
	Exp      int64  `json:"exp"`
	Jti      string `json:"jti"`
}

// allows reports whether the token's scopes admit method on resource: the
// resource scope grants both, ".Read" grants GET, ".Write" everything else
// (upstream-api.md §1).
func (c *claims) allows(resource, method string) bool {
	want := resource + ".Write"
	if method == http.MethodGet || method == http.MethodHead {
		want = resource + ".Read"
	}
	for _, s := range strings.Fields(c.Scope) {
		if s == resource || s == want {
			return true
		}
	}
	return false
}

var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

func (s *Server) sign(c claims) string {
	payload, _ := json.Marshal(c)
	signing := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(signing))
	return signing + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// verify checks a compact JWS made by sign. It returns the claims, or a
// reason for the WWW-Authenticate error description.
func (s *Server) verify(token string) (*claims, string) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, "The token is malformed"
	}
	hb, err := base64.RawURLEncoding.DecodeString(parts[0])
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err != nil || json.Unmarshal(hb, &hdr) != nil || hdr.Alg != "HS256" {
		return nil, "The token header is invalid"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, "The signature is invalid"
	}
	pb, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c claims
	if err != nil || json.Unmarshal(pb, &c) != nil {
		return nil, "The token payload is invalid"
	}
	if now := s.cfg.Now().Unix(); c.Exp <= now {
		return nil, "The token is expired"
	}
	return &c, ""
}

// authenticate reads the bearer token. A nil result with an empty reason
// means no (usable) Authorization header was sent.
func (s *Server) authenticate(r *http.Request) (*claims, string) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return nil, ""
	}
	return s.verify(strings.TrimSpace(token))
}

// oauthError sends an OAuth 2.0 token-endpoint error. IdentityServer (which
// UiPath Identity is built on) answers every token error, invalid_client
// included, with 400; the reference leaves the status UNCONFIRMED.
func oauthError(w http.ResponseWriter, code string) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusBadRequest, map[string]string{"error": code})
}

// handleToken implements POST /connect/token for the client_credentials
// grant (upstream-api.md §1). Credentials are accepted in the form
// (client_secret_post) or as HTTP Basic (client_secret_basic). An absent
// scope parameter grants every scope the application has, as
// IdentityServer does.
func (s *Server) handleToken(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		oauthError(w, "invalid_request")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		oauthError(w, "invalid_request")
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok {
		id, secret = bid, bsecret
	}
	if id != s.cfg.ClientID ||
		subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.ClientSecret)) != 1 {
		oauthError(w, "invalid_client")
		return
	}
	if r.PostForm.Get("grant_type") != "client_credentials" {
		oauthError(w, "unsupported_grant_type")
		return
	}
	scopes := strings.Fields(r.PostForm.Get("scope"))
	if len(scopes) == 0 {
		scopes = s.cfg.GrantedScopes
	}
	for _, sc := range scopes {
		// Exact match: an app granted PM.User may not ask for
		// PM.User.Read, as in IdentityServer's allowed-scopes check.
		if !slices.Contains(s.cfg.GrantedScopes, sc) {
			oauthError(w, "invalid_scope")
			return
		}
	}
	scope := strings.Join(scopes, " ")
	now := s.cfg.Now()
	tok := s.sign(claims{
		Iss:      issuer(r),
		Sub:      s.cfg.ClientID,
		ClientID: s.cfg.ClientID,
		PrtID:    s.cfg.PartitionID,
		Scope:    scope,
		Iat:      now.Unix(),
		Nbf:      now.Unix(),
		Exp:      now.Add(s.cfg.TokenTTL).Unix(),
		Jti:      uuid.NewString(),
	})
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	writeJSON(w, http.StatusOK, upstream.TokenResponse{
		AccessToken: tok,
		ExpiresIn:   int(s.cfg.TokenTTL / time.Second),
		TokenType:   "Bearer",
		Scope:       scope,
	})
}

// handleDiscovery serves a minimal OIDC discovery document, enough for a
// client to find the token endpoint.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	iss := issuer(r)
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"token_endpoint":                        iss + "/connect/token",
		"grant_types_supported":                 []string{"client_credentials"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "client_secret_basic"},
		"scopes_supported":                      s.cfg.GrantedScopes,
	})
}

func issuer(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
