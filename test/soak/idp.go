package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// stats collects what the simulated IdPs saw. It is safe for concurrent
// use.
type stats struct {
	mu        sync.Mutex
	requests  map[string]int // HTTP requests sent (attempts), by method
	statuses  map[int]int    // answers by status; 0 = no answer (transport error)
	ops       map[string]int // operations by kind
	retries   map[string]int // attempts repeated, by reason: 429, 5xx, transport
	gaveUp    map[string]int // operations abandoned after -idp-attempts, by kind
	refused   map[string]int // operations answered with an unexpected 4xx, by kind and status
	examples  []string       // the first few refusals and give-ups, for the report
	fault5xx  int            // 5xx answers to attempts that overlapped a fault episode
	stray5xx  int            // 5xx answers outside every fault episode
	strays    []string       // the first few of them
	behind    int            // ticks skipped because every worker was busy
	idle      int            // ticks with no eligible operation
	latencies []time.Duration
}

func newStats() *stats {
	return &stats{requests: map[string]int{}, statuses: map[int]int{}, ops: map[string]int{},
		retries: map[string]int{}, gaveUp: map[string]int{}, refused: map[string]int{}}
}

const keepExamples = 8

func (s *stats) example(format string, args ...any) {
	if len(s.examples) < keepExamples {
		s.examples = append(s.examples, fmt.Sprintf(format, args...))
	}
}

// idp is the SCIM client both simulated IdPs use: it sends a request and
// retries it the way Okta and Entra do, within bounds.
type idp struct {
	base     string // SCIM base URL, …/scim/v2
	token    string
	client   *http.Client
	st       *stats
	faults   *injector
	attempts int           // attempts per request before giving up
	backoff  time.Duration // first wait after a 5xx or lost connection; doubles, capped at 8×
}

// answer is the final answer to a request: status 0 when none came.
type answer struct {
	status int
	body   []byte
}

// errGaveUp reports that a request still failed after every attempt.
var errGaveUp = errors.New("gave up")

// do sends method path with body (JSON-encoded unless nil) as IdP d. It
// retries on 429 (after Retry-After), 5xx and transport errors (with
// backoff) and returns the first other answer, or errGaveUp with the last
// answer when the attempts are used up, or ctx's error.
func (c *idp) do(ctx context.Context, d dialect, method, path string, body any) (answer, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			panic(err) // the harness builds every body itself
		}
	}
	wait := c.backoff
	var last answer
	for attempt := 1; ; attempt++ {
		a, retryAfter, err := c.once(ctx, d, method, path, raw)
		if ctx.Err() != nil {
			return a, ctx.Err()
		}
		last = a
		var reason string
		switch {
		case err != nil:
			reason = "transport"
		case a.status == http.StatusTooManyRequests:
			reason = "429"
		case a.status >= 500:
			reason = "5xx"
		default:
			return a, nil
		}
		if attempt >= c.attempts {
			return last, errGaveUp
		}
		c.st.mu.Lock()
		c.st.retries[reason]++
		c.st.mu.Unlock()
		d := wait
		if reason == "429" {
			d = max(retryAfter, 100*time.Millisecond)
		} else {
			wait = min(2*wait, 8*c.backoff)
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(d):
		}
	}
}

// once sends one attempt and records it.
func (c *idp) once(ctx context.Context, d dialect, method, path string, raw []byte) (answer, time.Duration, error) {
	var rd io.Reader
	if raw != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		panic(err) // the harness builds every path itself
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/scim+json")
	req.Header.Set("User-Agent", d.userAgent())
	if raw != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	start := time.Now()
	res, err := c.client.Do(req)
	var a answer
	if err == nil {
		a.body, err = io.ReadAll(res.Body)
		res.Body.Close()
		a.status = res.StatusCode
	}
	end := time.Now()
	var retryAfter time.Duration
	if err == nil {
		if s, perr := strconv.Atoi(res.Header.Get("Retry-After")); perr == nil && s >= 0 {
			retryAfter = time.Duration(s) * time.Second
		}
	}
	if ctx.Err() != nil {
		return a, 0, err // stopped by the harness, not an answer
	}
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	c.st.requests[method]++
	c.st.statuses[a.status]++
	c.st.latencies = append(c.st.latencies, end.Sub(start))
	if a.status >= 500 {
		if c.faults.overlaps(start, end) {
			c.st.fault5xx++
		} else {
			c.st.stray5xx++
			if len(c.st.strays) < keepExamples {
				c.st.strays = append(c.st.strays, fmt.Sprintf("%s %s %s at %s: %d %s",
					d, method, path, start.Format("15:04:05.000"), a.status, cut(string(a.body), 200)))
			}
		}
	}
	return a, retryAfter, err
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
