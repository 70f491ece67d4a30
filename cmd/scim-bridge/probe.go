package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scim-bridge/scim-bridge/scim"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// uipathCheckEvery is how long UiPath's state, once known from a call, is
// reported without asking again: /readyz spends at most one GET of
// UiPath's small budget per this period, and none while the bridge calls
// UiPath anyway.
const uipathCheckEvery = 30 * time.Second

// uipathCheckTimeout bounds the GET /readyz makes when UiPath's state is
// stale.
const uipathCheckTimeout = 3 * time.Second

// probeUserID is the user the UiPath check asks for: no account has it, so
// UiPath's 404 says it answers, and the answer carries no one's data.
const probeUserID = "00000000-0000-0000-0000-000000000000"

// probe is what /readyz reports on both listeners: ready while the store
// answers and the process is not draining. UiPath's state is reported but
// is no condition: during a UiPath outage the bridge still answers reads
// from the store and tells the IdP to retry writes (503/429 with
// Retry-After), which it can do only if it stays in rotation.
//
// UiPath's state comes from the last call the bridge made (observe sees
// every attempt); when there was none in the last uipathCheckEvery, the
// probe makes one cheap GET, one at a time, without waiting for the rate
// budget. A cached token is no evidence: it outlives UiPath.
type probe struct {
	ping     func(context.Context) error // the store
	check    func(context.Context) error // one UiPath GET; nil: not asked
	now      func() time.Time
	log      *slog.Logger
	draining atomic.Bool

	mu       sync.Mutex
	uipath   string // "ok", "error", "throttled", "" (unknown)
	uipathAt time.Time
	checking sync.Mutex // held by the probe asking UiPath
}

func newProbe(ping func(context.Context) error, log *slog.Logger) *probe {
	return &probe{ping: ping, now: time.Now, log: log}
}

// Drain makes /readyz answer 503 from now on.
func (p *probe) Drain() { p.draining.Store(true) }

// Observe records the outcome of one UiPath call attempt; it is meant for
// upstream.Config.Observe.
func (p *probe) Observe(o upstream.Observation) {
	if o.BudgetExhausted {
		return // nothing was sent: says nothing about UiPath
	}
	p.record(uipathState(o.Status))
}

func (p *probe) record(state string) {
	p.mu.Lock()
	p.uipath, p.uipathAt = state, p.now()
	p.mu.Unlock()
}

// uipathState is what an answer with status says of UiPath: 0 (no answer),
// a 5xx, or a refused token (401, 403) is an error; a 429 is throttling;
// anything else is an answer from a working UiPath.
func uipathState(status int) string {
	switch {
	case status == 0, status >= 500, status == 401, status == 403:
		return "error"
	case status == 429:
		return "throttled"
	}
	return "ok"
}

// Ready implements scim.Config.Ready.
func (p *probe) Ready(ctx context.Context) scim.Readiness {
	r := scim.Readiness{Ready: true, Draining: p.draining.Load(), Checks: map[string]string{"store": "ok"}}
	if err := p.ping(ctx); err != nil {
		r.Ready = false
		r.Checks["store"] = "error"
		p.log.WarnContext(ctx, "readiness: the store does not answer", "error", err)
	}
	r.Checks["uipath"] = p.uipathNow(ctx)
	if r.Checks["uipath"] == "" {
		r.Checks["uipath"] = "unknown"
	}
	return r
}

// uipathNow returns UiPath's state, asking it when the last word is older
// than uipathCheckEvery and no other probe is asking.
func (p *probe) uipathNow(ctx context.Context) string {
	p.mu.Lock()
	state, fresh := p.uipath, p.now().Sub(p.uipathAt) < uipathCheckEvery
	p.mu.Unlock()
	if fresh || p.check == nil || !p.checking.TryLock() {
		return state
	}
	defer p.checking.Unlock()
	ctx, cancel := context.WithTimeout(upstream.WithoutBudgetWait(ctx), uipathCheckTimeout)
	defer cancel()
	asked := p.now()
	err := p.check(ctx)
	if errors.Is(err, upstream.ErrBudgetExhausted) {
		return state // not asked: the budget is for the IdP's requests
	}
	if err != nil && !errors.Is(err, upstream.ErrNotFound) {
		p.log.WarnContext(ctx, "readiness: UiPath check failed (reported, not a readiness condition)", "error", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.uipathAt.Before(asked) {
		// Observe saw no answer: no token, or nothing came back.
		p.uipath, p.uipathAt = "error", p.now()
	}
	return p.uipath
}
