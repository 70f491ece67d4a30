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

	"github.com/coreos/go-oidc/v3/oidc"
)

// authenticator accepts static bearer tokens and, optionally, JWTs from an
// OIDC issuer.
type authenticator struct {
	digests [][sha256.Size]byte // SHA-256 of each static token

	issuer, audience string
	httpClient       *http.Client
	log              *slog.Logger

	mu       sync.Mutex
	verifier *oidc.IDTokenVerifier // built on first use (discovery needs the network)
}

func newAuthenticator(cfg Config, log *slog.Logger) (*authenticator, error) {
	a := &authenticator{issuer: cfg.OIDCIssuer, audience: cfg.OIDCAudience, httpClient: cfg.HTTPClient, log: log}
	for _, t := range cfg.Tokens {
		if t == "" {
			continue
		}
		a.digests = append(a.digests, sha256.Sum256([]byte(t)))
	}
	if len(a.digests) == 0 && a.issuer == "" {
		return nil, errors.New("scim: no bearer token and no OIDC issuer configured")
	}
	return a, nil
}

// withVerifier installs a verifier directly (tests sign their own tokens).
func (a *authenticator) withVerifier(v *oidc.IDTokenVerifier) { a.verifier = v }

// check reports whether the bearer token is acceptable.
func (a *authenticator) check(ctx context.Context, token string) bool {
	d := sha256.Sum256([]byte(token))
	ok := 0
	for _, want := range a.digests {
		// Compare every digest so timing says nothing about which matched.
		ok |= subtle.ConstantTimeCompare(d[:], want[:])
	}
	if ok == 1 {
		return true
	}
	if a.issuer == "" || strings.Count(token, ".") != 2 {
		return false
	}
	v, err := a.oidcVerifier(ctx)
	if err != nil {
		a.log.Warn("oidc issuer unavailable", "error", err)
		return false
	}
	_, err = v.Verify(ctx, token)
	return err == nil
}

func (a *authenticator) oidcVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.verifier != nil {
		return a.verifier, nil
	}
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, a.httpClient), a.issuer)
	if err != nil {
		return nil, err
	}
	a.verifier = p.Verifier(&oidc.Config{ClientID: a.audience, SkipClientIDCheck: a.audience == ""})
	return a.verifier, nil
}

// authenticate rejects requests without an acceptable bearer token with a
// SCIM 401. Several Authorization headers are ambiguous credentials and
// refused whatever they hold. The token is never logged.
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
		if !s.auth.check(r.Context(), strings.TrimSpace(token)) {
			writeError(w, apiError{Status: http.StatusUnauthorized, Detail: "The bearer token is not valid."})
			return
		}
		next.ServeHTTP(w, r)
	})
}
