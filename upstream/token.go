package upstream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	// defaultTokenLifetime is assumed when the token response has no
	// expires_in; short, so an unknown lifetime costs an extra fetch at worst.
	defaultTokenLifetime = 5 * time.Minute
	// maxRenewMargin caps how long before expiry a token is renewed.
	maxRenewMargin = time.Minute
	// maxTokenBody bounds the token response read into memory.
	maxTokenBody = 64 << 10
)

var errTokenEndpointNotFound = errors.New("token endpoint not found")

// token is a cached access token. access is never logged or put in an error.
type token struct {
	access  string
	expires time.Time
	renewAt time.Time // after this, callers trigger a renewal
	prtID   string    // the prt_id claim, "" if absent
	scopes  []string  // the scopes granted, nil if the grant does not say
}

// tokenFetch is one in-flight token request shared by every caller that
// needs a token while it runs.
type tokenFetch struct {
	done chan struct{}
	tok  token
	err  error
}

// tokenSource obtains access tokens with the client-credentials grant,
// caches them, renews them shortly before expiry and lets concurrent callers
// share one fetch. It is safe for concurrent use.
type tokenSource struct {
	tokenURL string
	path     string // tokenURL's path, for errors and logs
	clientID string
	secret   string
	scope    string
	client   *http.Client
	timeout  time.Duration
	now      func() time.Time
	logger   *slog.Logger

	mu       sync.Mutex
	cur      token
	inflight *tokenFetch
}

func newTokenSource(cfg Config, logger *slog.Logger) *tokenSource {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	path := "/connect/token"
	if u, err := url.Parse(cfg.TokenURL); err == nil {
		path = u.Path
	}
	return &tokenSource{
		tokenURL: cfg.TokenURL,
		path:     path,
		clientID: cfg.ClientID,
		secret:   cfg.ClientSecret,
		scope:    strings.Join(cfg.Scopes, " "),
		client:   cfg.HTTPClient,
		timeout:  cfg.Timeout,
		now:      cfg.Now,
		logger:   logger,
	}
}

// get returns a valid token, fetching one when none is cached or the cached
// one is due for renewal. If a renewal fails while the cached token is still
// unexpired, the cached token is returned.
func (ts *tokenSource) get(ctx context.Context) (token, error) {
	ts.mu.Lock()
	now := ts.now()
	cur := ts.cur
	if cur.access != "" && now.Before(cur.renewAt) {
		ts.mu.Unlock()
		return cur, nil
	}
	f := ts.inflight
	if f == nil {
		if err := ctx.Err(); err != nil {
			ts.mu.Unlock()
			return token{}, err
		}
		f = &tokenFetch{done: make(chan struct{})}
		ts.inflight = f
		// The fetch outlives the caller that started it so that a cancelled
		// caller doesn't fail the others waiting for the same fetch; it is
		// bounded by the timeout instead.
		go ts.run(context.WithoutCancel(ctx), f)
	}
	ts.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		return token{}, ctx.Err()
	}
	if f.err != nil {
		if cur.access != "" && now.Before(cur.expires) && ts.isCurrent(cur.access) {
			ts.logger.Debug("upstream token renewal failed; using the cached token", "error", f.err)
			return cur, nil
		}
		return token{}, f.err
	}
	return f.tok, nil
}

// isCurrent reports whether access is still the cached token (it was not
// invalidated meanwhile).
func (ts *tokenSource) isCurrent(access string) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.cur.access == access
}

// run performs one fetch and publishes its result.
func (ts *tokenSource) run(ctx context.Context, f *tokenFetch) {
	ctx, cancel := context.WithTimeout(ctx, ts.timeout)
	defer cancel()
	tok, err := ts.fetch(ctx)
	ts.mu.Lock()
	if err == nil {
		ts.cur = tok
	}
	ts.inflight = nil
	f.tok, f.err = tok, err
	ts.mu.Unlock()
	close(f.done)
}

// invalidate drops access from the cache if it is still the cached token, so
// that the next get fetches a new one. A newer token is left alone.
func (ts *tokenSource) invalidate(access string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.cur.access == access {
		ts.cur = token{}
	}
}

// fetch requests a new token from the token endpoint.
func (ts *tokenSource) fetch(ctx context.Context) (token, error) {
	return ts.fetchScope(ctx, ts.scope)
}

// fetchScope requests a new token for scope; an empty scope sends no scope
// parameter, which grants every scope the application has.
func (ts *tokenSource) fetchScope(ctx context.Context, scope string) (token, error) {
	const op = "get token"
	form := url.Values{
		"grant_type":    {"client_credentials"},
		"client_id":     {ts.clientID},
		"client_secret": {ts.secret},
	}
	if scope != "" {
		form.Set("scope", scope)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ts.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return token{}, &Error{Op: op, Method: http.MethodPost, Path: ts.path, Err: errors.New("cannot build request")}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")

	start := ts.now()
	resp, err := ts.client.Do(req)
	if err != nil {
		ts.logger.Debug("upstream token request failed", "path", ts.path, "duration", ts.now().Sub(start))
		return token{}, &Error{Op: op, Method: http.MethodPost, Path: ts.path, Retryable: true, Err: transportCause(err)}
	}
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, maxTokenBody))
	resp.Body.Close()
	ts.logger.Debug("upstream token request", "method", http.MethodPost, "path", ts.path,
		"status", resp.StatusCode, "duration", ts.now().Sub(start))
	if resp.StatusCode != http.StatusOK {
		e := newStatusError(op, http.MethodPost, ts.path, resp.StatusCode, resp.Header, redact(body, ts.secret), ts.now())
		if e.StatusCode == http.StatusNotFound {
			// A missing token endpoint is a configuration error, not a
			// missing resource: don't let it read as ErrNotFound.
			e.Err = errTokenEndpointNotFound
		}
		return token{}, e
	}
	if readErr != nil {
		return token{}, &Error{Op: op, Method: http.MethodPost, Path: ts.path, StatusCode: resp.StatusCode,
			Retryable: true, Err: transportCause(readErr)}
	}
	var tr TokenResponse
	if err := json.Unmarshal(body, &tr); err != nil || tr.AccessToken == "" {
		return token{}, &Error{Op: op, Method: http.MethodPost, Path: ts.path, StatusCode: resp.StatusCode,
			Detail: "token response has no access_token"}
	}
	if tr.TokenType != "" && !strings.EqualFold(tr.TokenType, "Bearer") {
		return token{}, &Error{Op: op, Method: http.MethodPost, Path: ts.path, StatusCode: resp.StatusCode,
			Detail: "unsupported token type " + truncate(tr.TokenType, 20)}
	}
	lifetime := time.Duration(tr.ExpiresIn) * time.Second
	if lifetime <= 0 {
		lifetime = defaultTokenLifetime
	}
	prt, _ := jwtStringClaim(tr.AccessToken, "prt_id")
	scopes := strings.Fields(tr.Scope)
	if len(scopes) == 0 {
		scopes = jwtScopes(tr.AccessToken)
	}
	return token{
		access:  tr.AccessToken,
		expires: start.Add(lifetime),
		renewAt: start.Add(lifetime - renewMargin(lifetime)),
		prtID:   prt,
		scopes:  scopes,
	}, nil
}

// renewMargin is how long before expiry a token of the given lifetime is
// renewed: a tenth of the lifetime or a minute, whichever is smaller.
func renewMargin(lifetime time.Duration) time.Duration {
	return min(lifetime/10, maxRenewMargin)
}

// jwtStringClaim decodes the payload of a JWT, without verifying it, and
// returns the named string claim. Errors never include the token.
func jwtStringClaim(jwt, name string) (string, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return "", errors.New("access token is not a JWT")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return "", errors.New("access token payload is not base64url")
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", errors.New("access token payload is not a JSON object")
	}
	raw, ok := claims[name]
	if !ok {
		return "", fmt.Errorf("access token has no %s claim", name)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil || s == "" {
		return "", fmt.Errorf("access token %s claim is not a non-empty string", name)
	}
	return s, nil
}

// transportCause strips the *url.Error wrapper net/http puts around
// transport errors: its text repeats the whole request URL, which says
// nothing the Error's Method and Path don't.
func transportCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
