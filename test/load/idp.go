package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// stats collects what the simulated IdP saw during one phase. It is safe
// for concurrent use.
type stats struct {
	mu        sync.Mutex
	requests  map[string]int // logical SCIM requests by method
	failed    int            // requests that ended in a non-2xx other than 429/503, or a transport error
	retry429  int            // 429 answers waited out and retried
	retry503  int            // 503 answers waited out and retried
	latencies []time.Duration
	failures  []string // the first few failure descriptions
}

func newStats() *stats { return &stats{requests: map[string]int{}} }

const keepFailures = 5

func (s *stats) fail(desc string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failed++
	if len(s.failures) < keepFailures {
		s.failures = append(s.failures, desc)
	}
}

// add adds o's counts, latencies and failures to s.
func (s *stats) add(o *stats) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range o.requests {
		s.requests[k] += v
	}
	s.failed += o.failed
	s.retry429 += o.retry429
	s.retry503 += o.retry503
	s.latencies = append(s.latencies, o.latencies...)
	for _, f := range o.failures {
		if len(s.failures) < keepFailures {
			s.failures = append(s.failures, f)
		}
	}
}

// percentile returns the p-th percentile (0..1) of the recorded latencies.
func (s *stats) percentile(p float64) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return percentile(s.latencies, p)
}

// percentile sorts d in place and returns its p-th percentile.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(float64(len(d)-1) * p)
	return d[i]
}

// idp is the simulated identity provider: a SCIM client that behaves like
// a good one (it waits Retry-After on 429 and 503 and retries the same
// request).
type idp struct {
	base   string // SCIM base URL, …/scim/v2
	token  string
	client *http.Client
	// last is when the latest answer (or transport error) came, in Unix
	// nanoseconds: the queue is judged drained only well after it.
	last atomic.Int64
}

// lastAnswer is when the latest request ended (zero time if none did).
func (c *idp) lastAnswer() time.Time {
	if n := c.last.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

func (c *idp) noteAnswer() {
	now := time.Now().UnixNano()
	for {
		old := c.last.Load()
		if old >= now || c.last.CompareAndSwap(old, now) {
			return
		}
	}
}

func newIdP(bridgeURL, token string, conns int) *idp {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = conns
	tr.MaxIdleConnsPerHost = conns
	tr.MaxConnsPerHost = conns
	return &idp{base: bridgeURL + "/scim/v2", token: token, client: &http.Client{Transport: tr, Timeout: 2 * time.Minute}}
}

// do sends one SCIM request, retrying after 429 and 503 as long as ctx
// allows, and decodes a 2xx JSON answer into out (when out is not nil). It
// reports whether the request succeeded; failures are recorded in st.
func (c *idp) do(ctx context.Context, st *stats, method, path string, body any, out any) bool {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			panic(err) // the harness builds every body itself
		}
	}
	st.mu.Lock()
	st.requests[method]++
	st.mu.Unlock()
	for {
		var rd io.Reader
		if raw != nil {
			rd = bytes.NewReader(raw)
		}
		req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
		if err != nil {
			st.fail(fmt.Sprintf("%s %s: %v", method, path, err))
			return false
		}
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Accept", "application/scim+json")
		if raw != nil {
			req.Header.Set("Content-Type", "application/scim+json")
		}
		start := time.Now()
		res, err := c.client.Do(req)
		if err != nil {
			c.noteAnswer()
			st.fail(fmt.Sprintf("%s %s: %v", method, path, err))
			return false
		}
		resBody, err := io.ReadAll(res.Body)
		res.Body.Close()
		c.noteAnswer()
		elapsed := time.Since(start)
		st.mu.Lock()
		st.latencies = append(st.latencies, elapsed)
		st.mu.Unlock()
		if err != nil {
			st.fail(fmt.Sprintf("%s %s: read answer: %v", method, path, err))
			return false
		}
		switch {
		case res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable:
			st.mu.Lock()
			if res.StatusCode == http.StatusTooManyRequests {
				st.retry429++
			} else {
				st.retry503++
			}
			st.mu.Unlock()
			wait := time.Second
			if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s >= 0 {
				wait = time.Duration(s) * time.Second
			}
			select {
			case <-ctx.Done():
				st.fail(fmt.Sprintf("%s %s: deadline while waiting Retry-After after %d", method, path, res.StatusCode))
				return false
			case <-time.After(wait):
			}
			continue
		case res.StatusCode/100 != 2:
			st.fail(fmt.Sprintf("%s %s: %d %s", method, path, res.StatusCode, cut(string(resBody), 300)))
			return false
		}
		if out != nil && len(resBody) > 0 {
			if err := json.Unmarshal(resBody, out); err != nil {
				st.fail(fmt.Sprintf("%s %s: decode answer: %v", method, path, err))
				return false
			}
		}
		return true
	}
}

func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// runJobs runs jobs on n workers until they are done or ctx ends.
func runJobs(ctx context.Context, n int, jobs []func(ctx context.Context)) {
	ch := make(chan func(ctx context.Context))
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for job := range ch {
				if ctx.Err() == nil {
					job(ctx)
				}
			}
		})
	}
	for _, j := range jobs {
		if ctx.Err() != nil {
			break
		}
		ch <- j
	}
	close(ch)
	wg.Wait()
}
