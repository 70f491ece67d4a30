package scim

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/scim-bridge/scim-bridge/mapping"
)

// StaticToken is a static bearer token an IdP may present, known by its
// SHA-256 digest only, and the caller name it authenticates.
type StaticToken struct {
	// Name is the caller name: a metric label and a log and audit field.
	Name string
	// SHA256 is the token's SHA-256 digest; the token itself is not kept.
	SHA256 [sha256.Size]byte
}

// NewStaticToken is the static token token with caller name name, kept by
// its digest.
func NewStaticToken(name, token string) StaticToken {
	return StaticToken{Name: name, SHA256: sha256.Sum256([]byte(token))}
}

// emptyDigest is the digest of the empty token, which is no credential.
var emptyDigest = sha256.Sum256(nil)

// credentials returns a copy of tokens without the empty token's.
func credentials(tokens []StaticToken) []StaticToken {
	out := make([]StaticToken, 0, len(tokens))
	for _, t := range tokens {
		if t.SHA256 != emptyDigest {
			out = append(out, t)
		}
	}
	return out
}

// DefaultOIDCName is the caller name of OIDC JWTs when Config.OIDCName is
// empty.
const DefaultOIDCName = "oidc"

// oidcAlgorithms are the JWT algorithms accepted from the OIDC issuer:
// asymmetric only, so that neither "none" nor an HMAC keyed with the
// issuer's public key can pass (RFC 8725 §3.1).
var oidcAlgorithms = []string{
	oidc.RS256, oidc.RS384, oidc.RS512,
	oidc.ES256, oidc.ES384, oidc.ES512,
	oidc.PS256, oidc.PS384, oidc.PS512,
	oidc.EdDSA,
}

// authenticator accepts static bearer tokens, access tokens the bridge
// issued itself (oauth), and JWTs from an OIDC issuer; each resolves to a
// caller name from the configuration.
type authenticator struct {
	tokens atomic.Pointer[[]StaticToken]
	oauth  *oauthIssuer // nil: no OAuth clients

	issuer, audience, oidcName string
	requiredClaims             map[string]string
	httpClient                 *http.Client
	now                        func() time.Time
	log                        *slog.Logger

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier // built on first use (discovery needs the network)
}

func newAuthenticator(cfg Config, log *slog.Logger) (*authenticator, error) {
	a := &authenticator{
		issuer: cfg.OIDCIssuer, audience: cfg.OIDCAudience, oidcName: cfg.OIDCName,
		requiredClaims: cfg.OIDCRequiredClaims, httpClient: cfg.HTTPClient, now: cfg.Now, log: log,
	}
	tokens := credentials(cfg.StaticTokens)
	a.tokens.Store(&tokens)
	if a.issuer == "" && a.audience != "" {
		return nil, errors.New("scim: an OIDC audience without an issuer")
	}
	if len(cfg.OAuthClients) > 0 {
		o, err := newOAuthIssuer(cfg, log)
		if err != nil {
			return nil, err
		}
		a.oauth = o
	}
	if len(tokens) == 0 && a.issuer == "" && a.oauth == nil {
		return nil, errors.New("scim: no bearer token, no OAuth client and no OIDC issuer configured")
	}
	return a, nil
}

// setTokens replaces the static tokens; requests authenticated from then
// on use the new set.
func (a *authenticator) setTokens(tokens []StaticToken) {
	tokens = credentials(tokens)
	a.tokens.Store(&tokens)
}

// withVerifier installs a verifier directly (tests sign their own tokens).
func (a *authenticator) withVerifier(v *oidc.IDTokenVerifier) { a.verifier = v }

// check returns the caller name the bearer token authenticates, or false
// when it is not acceptable. Why a token is refused is never told.
func (a *authenticator) check(ctx context.Context, token string) (string, bool) {
	d := sha256.Sum256([]byte(token))
	match := -1
	for i, t := range *a.tokens.Load() {
		// Compare every digest so timing says nothing about which matched.
		if subtle.ConstantTimeCompare(d[:], t.SHA256[:]) == 1 {
			match = i
		}
	}
	if match >= 0 {
		return (*a.tokens.Load())[match].Name, true
	}
	if strings.Count(token, ".") != 2 {
		return "", false
	}
	if a.oauth != nil {
		if caller, ok := a.oauth.verify(token); ok {
			return caller, true
		}
	}
	if a.issuer == "" {
		return "", false
	}
	v, err := a.oidcVerifier(ctx)
	if err != nil {
		a.log.WarnContext(ctx, "oidc issuer unavailable", "error", err)
		return "", false
	}
	idToken, err := v.Verify(ctx, token)
	if err != nil {
		a.log.DebugContext(ctx, "oidc token refused", "error", err)
		return "", false
	}
	if len(a.requiredClaims) > 0 {
		var claims map[string]any
		if err := idToken.Claims(&claims); err != nil {
			return "", false
		}
		for name, want := range a.requiredClaims {
			if !claimHas(claims[name], want) {
				a.log.DebugContext(ctx, "oidc token refused: a required claim is missing or differs", "claim", name)
				return "", false
			}
		}
	}
	return a.oidcName, true
}

// claimHas reports whether a JWT claim's value is want, or a list holding
// want.
func claimHas(v any, want string) bool {
	switch v := v.(type) {
	case string:
		return v == want
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok && s == want {
				return true
			}
		}
	}
	return false
}

func (a *authenticator) oidcVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.verifier != nil {
		return a.verifier, nil
	}
	// Discovery outlives the request that triggers it: the key set it
	// returns fetches keys with this context later.
	dctx := oidc.ClientContext(context.WithoutCancel(ctx), a.httpClient)
	p, err := oidc.NewProvider(dctx, a.issuer)
	if err != nil {
		return nil, err
	}
	a.verifier = p.Verifier(&oidc.Config{ClientID: a.audience, SupportedSigningAlgs: oidcAlgorithms, Now: a.now})
	return a.verifier, nil
}

// authenticate rejects requests without an acceptable bearer token with a
// SCIM 401, and names the caller of the others in the request's context
// (logs, the audit log, metrics). Several Authorization headers are
// ambiguous credentials and refused whatever they hold; a token in the
// query string (RFC 6750 §2.3) is never accepted. The token is never
// logged.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.Header.Values("Authorization")) > 1 {
			writeError(w, apiError{Status: http.StatusUnauthorized, Detail: "Exactly one Authorization header is required."})
			return
		}
		h := r.Header.Get("Authorization")
		scheme, token, found := strings.Cut(h, " ")
		if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			writeError(w, apiError{Status: http.StatusUnauthorized, Detail: "A bearer token is required."})
			return
		}
		caller, ok := s.auth.check(r.Context(), strings.TrimSpace(token))
		if !ok {
			writeError(w, apiError{Status: http.StatusUnauthorized, Detail: "The bearer token is not valid."})
			return
		}
		ctx := r.Context()
		if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
			info.caller = caller // before any goroutine of the handler reads it
		}
		if act, ok := mapping.ActorFrom(ctx); ok {
			act.Caller = caller
			ctx = mapping.WithActor(ctx, act)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}
