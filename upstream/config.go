package upstream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxAttempts  = 3
	DefaultMaxRetryWait = 30 * time.Second
)

// defaultScopes are requested when Config.Scopes is empty: the scope
// resources of the User and Group APIs, all the client calls.
var defaultScopes = []string{"PM.User", "PM.Group"}

// NeededScopes returns the scope resources of the APIs the client calls
// (the User and Group APIs), which it requests when Config.Scopes is
// empty. An application needs each granted whole, or as its .Read and
// .Write halves together.
func NeededScopes() []string { return slices.Clone(defaultScopes) }

// Config configures a Client. Only BaseURL, ClientID and ClientSecret are
// required; every other zero value has the default documented on its field.
type Config struct {
	// BaseURL is the identity root, e.g.
	// https://cloud.uipath.com/acme/identity_. The API lives at
	// BaseURL+"/api". Required.
	BaseURL string
	// TokenURL is the OAuth token endpoint. Zero means BaseURL+"/connect/token".
	// On Automation Cloud it is https://cloud.uipath.com/identity_/connect/token.
	TokenURL string
	// ClientID of the confidential external application. Required.
	ClientID string
	// ClientSecret of the external application. Required. It is sent only in
	// the token request's form body, never logged and never put in an error.
	ClientSecret string
	// Scopes requested with client credentials. Zero means PM.User PM.Group, the scopes of the User and Group APIs the client calls.
	Scopes []string
	// PartitionID is the organization GUID. Zero means the prt_id claim of
	// the access token.
	PartitionID string
	// HTTPClient sends every request. Zero means a new client with dial, TLS
	// and response-header timeouts (never http.DefaultClient).
	HTTPClient *http.Client
	// Timeout bounds each HTTP attempt (API call or token fetch); every retry
	// attempt gets a fresh Timeout. The caller's context bounds the whole
	// call. Zero means DefaultTimeout.
	Timeout time.Duration
	// MaxAttempts is how many attempts a retry-safe call gets. Zero means
	// DefaultMaxAttempts; 1 disables retries.
	MaxAttempts int
	// MaxRetryWait caps one wait between attempts. A Retry-After longer than
	// this is not waited for: the call returns its retryable *Error with
	// RetryAfter set. Zero means DefaultMaxRetryWait.
	MaxRetryWait time.Duration
	// Now is the clock for token expiry and HTTP-date Retry-After. Zero means
	// time.Now.
	Now func() time.Time
	// Budget, when set, paces every API call (not token calls) so the bridge
	// stays inside UiPath's rate limits; calls whose context is marked by
	// Deprovisioning are taken as priority calls. Zero: no client-side
	// pacing.
	Budget Budget
	// MaxBudgetWait is how long one call may wait for room in Budget before
	// it fails with ErrBudgetExhausted (a retryable 429 with RetryAfter).
	// Zero means 20s.
	MaxBudgetWait time.Duration
	// Sleep waits between attempts and returns early with ctx's error when ctx
	// ends. Zero means a timer that honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error
	// Observe, when set, is told about every attempt at an API call (token
	// calls excluded), for metrics. It must be quick and safe for concurrent
	// use. Zero: nothing is told.
	Observe func(Observation)
	// PageSize is the top of the reads that page (listing users, a
	// group's members, finding a user); zero or more than the API's 1,000
	// means 1,000. Smaller pages only cost more calls: it is for tests
	// and tools that exercise paging.
	PageSize int
}

// Observation describes one attempt at an API call. It carries no id, no
// path and no body: only what is safe as a metric label.
type Observation struct {
	// Op names the operation, e.g. "create user", "update group".
	Op string
	// Method is the HTTP method, which is also UiPath's rate-limit class.
	Method string
	// Status is UiPath's HTTP status; 0 when no response came (transport
	// error, timeout) or nothing was sent (BudgetExhausted).
	Status int
	// Duration is how long the request took, budget wait excluded.
	Duration time.Duration
	// BudgetWait is how long the attempt waited for room in the budget.
	BudgetWait time.Duration
	// BudgetExhausted reports that the budget had no room within
	// MaxBudgetWait: nothing was sent.
	BudgetExhausted bool
}

// withDefaults returns cfg with every zero field set to its default.
func (cfg Config) withDefaults() Config {
	cfg.BaseURL = strings.TrimRight(strings.TrimSpace(cfg.BaseURL), "/")
	if cfg.TokenURL == "" && cfg.BaseURL != "" {
		cfg.TokenURL = cfg.BaseURL + "/connect/token"
	}
	if len(cfg.Scopes) == 0 {
		cfg.Scopes = defaultScopes
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = newHTTPClient(cfg.Timeout)
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MaxRetryWait <= 0 {
		cfg.MaxRetryWait = DefaultMaxRetryWait
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Sleep == nil {
		cfg.Sleep = sleepCtx
	}
	if cfg.MaxBudgetWait <= 0 {
		cfg.MaxBudgetWait = 20 * time.Second
	}
	return cfg
}

// validate reports every problem of a defaulted config at once. It never
// mentions the secret's value.
func (cfg Config) validate() error {
	var errs []error
	if cfg.BaseURL == "" {
		errs = append(errs, errors.New("base URL is required"))
	} else if err := checkURL(cfg.BaseURL); err != nil {
		errs = append(errs, fmt.Errorf("base URL: %w", err))
	}
	if cfg.TokenURL != "" {
		if err := checkURL(cfg.TokenURL); err != nil {
			errs = append(errs, fmt.Errorf("token URL: %w", err))
		}
	}
	if cfg.ClientID == "" {
		errs = append(errs, errors.New("client ID is required"))
	}
	if cfg.ClientSecret == "" {
		errs = append(errs, errors.New("client secret is required"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("upstream: invalid config: %w", err)
	}
	return nil
}

// checkURL accepts absolute http(s) URLs without query, fragment or user info.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL")
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("scheme must be http or https")
	case u.Host == "":
		return errors.New("host is missing")
	case u.User != nil:
		return errors.New("must not contain user info")
	case u.RawQuery != "" || u.Fragment != "":
		return errors.New("must not contain a query or fragment")
	}
	return nil
}

// newHTTPClient is the default client: bounded dial, TLS handshake and
// response-header waits, pooled keep-alive connections.
func newHTTPClient(timeout time.Duration) *http.Client {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
	}}
}

// sleepCtx waits for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
