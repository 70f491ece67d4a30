package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

const (
	// maxPageSize is the largest top the API accepts (upstream-api.md §0).
	maxPageSize = 1000
	// backoffBase is the first retry wait before jitter; it doubles per attempt.
	backoffBase = 200 * time.Millisecond
	// maxBody bounds a successful response body; maxErrorBody an error body.
	maxBody      = 32 << 20
	maxErrorBody = 64 << 10
)

// Client calls the UiPath Platform Management API with client-credentials
// tokens. It is safe for concurrent use.
//
// Every call has a deadline per attempt (Config.Timeout). Retry-safe calls
// (GET, PUT, DELETE) are retried on 429, 5xx and transport errors; POST
// creates are retried only on 429, because any other failure may follow an
// applied create: callers check by the client-generated id. A 401 drops the
// cached token and repeats the call once with a new one. Failures are
// returned as *Error (possibly wrapped); a 404 matches ErrNotFound.
type Client struct {
	cfg      Config
	api      string // BaseURL + "/api"
	logger   *slog.Logger
	tokens   *tokenSource
	pageSize int            // top for the reads that page internally
	jitter   func() float64 // in [0, 1), spreads backoff waits
}

// New returns a Client for cfg, or an error listing every invalid field. A
// nil logger discards. New does no I/O: the first call fetches the token.
func New(cfg Config, logger *slog.Logger) (*Client, error) {
	return newClient(cfg, logger, cfg.PageSize)
}

// newClient is New with the page size used by GroupMembers and the Find
// methods as a test seam.
func newClient(cfg Config, logger *slog.Logger, pageSize int) (*Client, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if pageSize <= 0 || pageSize > maxPageSize {
		pageSize = maxPageSize
	}
	return &Client{
		cfg:      cfg,
		api:      cfg.BaseURL + "/api",
		logger:   logger,
		tokens:   newTokenSource(cfg, logger),
		pageSize: pageSize,
		jitter:   rand.Float64,
	}, nil
}

// PartitionID returns the organization GUID: Config.PartitionID, or else the
// prt_id claim of the access token (fetching a token if none is cached).
func (c *Client) PartitionID(ctx context.Context) (string, error) {
	if c.cfg.PartitionID != "" {
		return c.cfg.PartitionID, nil
	}
	tok, err := c.token(ctx)
	if err != nil {
		return "", fmt.Errorf("resolve partition: %w", err)
	}
	if tok.prtID == "" {
		return "", errors.New("upstream: resolve partition: no partition ID configured and the access token has no prt_id claim")
	}
	return tok.prtID, nil
}

// Ping checks readiness: it obtains a token (or reuses the cached one) and
// makes sure the partition is known. It makes no API call, so it spends none
// of the organization's rate budget.
func (c *Client) Ping(ctx context.Context) error {
	if _, err := c.tokens.get(ctx); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	_, err := c.PartitionID(ctx)
	return err
}

// request describes one API call.
type request struct {
	op     string     // for errors: "get user", ...
	method string     // HTTP method
	path   string     // escaped path below the API base, e.g. "/User/{id}"
	query  url.Values // optional
	body   any        // JSON-encoded when non-nil
	out    any        // JSON-decoded from a non-empty 2xx body when non-nil
}

// outcome is the result of one attempt.
type outcome struct {
	status   int
	err      *Error
	tokenErr bool   // err came from the token endpoint
	access   string // the token the attempt used
	sent     bool   // the request went to the transport: UiPath may have seen it
}

// do runs r with the retry, re-authentication and deadline rules described
// on Client, and returns the final status.
func (c *Client) do(ctx context.Context, r request) (int, error) {
	var payload []byte
	if r.body != nil {
		var err error
		if payload, err = json.Marshal(r.body); err != nil {
			return 0, &Error{Op: r.op, Method: r.method, Path: r.path, Err: fmt.Errorf("encode request: %w", err)}
		}
	}
	idempotent := r.method != http.MethodPost
	reauthed := false
	mayHaveApplied := false // an earlier attempt's outcome is unknown
	for attempt := 1; ; {
		o := c.try(ctx, r, payload, attempt)
		noteAttempt(ctx, r.method, o)
		noteCall(ctx, r, o)
		if o.err == nil {
			return o.status, nil
		}
		e := o.err
		if !o.tokenErr {
			if e.StatusCode == http.StatusUnauthorized && !reauthed {
				reauthed = true
				c.tokens.invalidate(o.access)
				c.logger.Debug("upstream token rejected; fetching a new one", "method", r.method, "path", r.path)
				continue
			}
			if r.method == http.MethodDelete && e.StatusCode == http.StatusNotFound && mayHaveApplied {
				// The earlier attempt deleted it; its response was lost.
				return http.StatusNoContent, nil
			}
			if e.StatusCode == 0 || e.StatusCode >= 500 {
				mayHaveApplied = true
			}
		}
		if errors.Is(e, ErrBudgetExhausted) {
			// Nothing was sent, and the budget already waited its share.
			return 0, e
		}
		retry := idempotent || o.tokenErr || e.StatusCode == http.StatusTooManyRequests
		if !retry || !c.wait(ctx, e, attempt) {
			return 0, c.final(r, o)
		}
		attempt++
	}
}

// wait decides whether to retry after attempt failed with e and, if so,
// sleeps first: Retry-After when given, else jittered exponential backoff.
// It reports false when e is not retryable, the attempts are used up,
// Retry-After exceeds MaxRetryWait, or ctx ends.
func (c *Client) wait(ctx context.Context, e *Error, attempt int) bool {
	if !e.Retryable || ctx.Err() != nil || attempt >= c.cfg.MaxAttempts || e.RetryAfter > c.cfg.MaxRetryWait {
		return false
	}
	d := e.RetryAfter
	if d == 0 {
		d = backoff(attempt, backoffBase, c.cfg.MaxRetryWait, c.jitter())
	}
	c.logger.Debug("upstream retry", "method", e.Method, "path", e.Path, "status", e.StatusCode,
		"attempt", attempt, "wait", d)
	return c.cfg.Sleep(ctx, d) == nil
}

// token returns an access token, retrying a failed token request like a
// retry-safe call (nothing reaches the API before a token exists).
func (c *Client) token(ctx context.Context) (token, error) {
	for attempt := 1; ; attempt++ {
		tok, err := c.tokens.get(ctx)
		if err == nil {
			return tok, nil
		}
		var e *Error
		if !errors.As(err, &e) || !c.wait(ctx, e, attempt) {
			return token{}, err
		}
	}
}

// final turns the last attempt's outcome into the returned error. Token
// failures keep their own *Error, wrapped with the operation.
func (c *Client) final(r request, o outcome) error {
	if o.tokenErr {
		return fmt.Errorf("%s: %w", r.op, o.err)
	}
	return o.err
}

// try makes one attempt: token, request, response.
func (c *Client) try(ctx context.Context, r request, payload []byte, attempt int) outcome {
	tok, err := c.tokens.get(ctx)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			e = &Error{Op: "get token", Method: http.MethodPost, Path: c.tokens.path, Err: err}
		}
		return outcome{err: e, tokenErr: true}
	}
	o := outcome{access: tok.access}
	budgetWait, e := c.takeBudget(ctx, r)
	if e != nil {
		o.err = e
		return o
	}
	fail := func(status int, retryable bool, cause error) outcome {
		o.err = &Error{Op: r.op, Method: r.method, Path: r.path, StatusCode: status, Retryable: retryable, Err: cause}
		return o
	}

	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	target := c.api + r.path
	if len(r.query) > 0 {
		target += "?" + r.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, r.method, target, body)
	if err != nil {
		return fail(0, false, errors.New("cannot build request"))
	}
	req.Header.Set("Authorization", "Bearer "+tok.access)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	start := time.Now()
	o.sent = true
	resp, err := c.cfg.HTTPClient.Do(req)
	obs := Observation{Op: r.op, Method: r.method, BudgetWait: budgetWait}
	if err != nil {
		obs.Duration = time.Since(start)
		c.observe(obs)
		cause := transportCause(err)
		c.logger.Debug("upstream request failed", "method", r.method, "path", r.path,
			"duration", time.Since(start), "attempt", attempt, "error", cause)
		return fail(0, true, cause)
	}
	defer resp.Body.Close()
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	limit := int64(maxErrorBody)
	if ok {
		limit = maxBody
	}
	data, readErr := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	obs.Status, obs.Duration = resp.StatusCode, time.Since(start)
	c.observe(obs)
	c.logger.Debug("upstream request", "method", r.method, "path", r.path, "status", resp.StatusCode,
		"duration", time.Since(start), "attempt", attempt)
	if !ok {
		if len(data) > maxErrorBody {
			data = nil // truncated JSON would not parse anyway
		}
		data = redact(data, tok.access, c.cfg.ClientSecret)
		o.err = newStatusError(r.op, r.method, r.path, resp.StatusCode, resp.Header, data, c.cfg.Now())
		return o
	}
	switch {
	case readErr != nil:
		return fail(resp.StatusCode, true, fmt.Errorf("read response: %w", transportCause(readErr)))
	case int64(len(data)) > limit:
		return fail(resp.StatusCode, false, errors.New("response body too large"))
	}
	if r.out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, r.out); err != nil {
			return fail(resp.StatusCode, false, errors.New("cannot decode response body"))
		}
	}
	o.status = resp.StatusCode
	return o
}

// backoff returns the wait before retry number attempt (1-based): base
// doubled per attempt, capped at limit, with "equal jitter" (the upper half
// is random, r in [0, 1)).
func backoff(attempt int, base, limit time.Duration, r float64) time.Duration {
	d := base
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	half := d / 2
	return half + time.Duration(r*float64(d-half))
}

// redact replaces each secret in body with a placeholder before the body is
// parsed for an error's Detail.
func redact(body []byte, secrets ...string) []byte {
	for _, s := range secrets {
		if s != "" && bytes.Contains(body, []byte(s)) {
			body = bytes.ReplaceAll(body, []byte(s), []byte("<redacted>"))
		}
	}
	return body
}
