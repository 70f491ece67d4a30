package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// deprovisionReserve is the share of the PUT and DELETE budgets the bridge
// keeps for deprovisioning (SCIM_BRIDGE_DEPROVISION_RESERVE, the bridge's
// default), which the harness sets explicitly so that its own figures of
// the room left to membership writes hold.
const deprovisionReserve = 0.1

// leaverPoll is how often the emulator is asked whether a leaver is
// disabled yet; leaverGrace how long after the deactivation's answer it
// still is.
const (
	leaverPoll  = 2 * time.Millisecond
	leaverGrace = time.Minute
)

// leaverReport is what the leaver phase measured.
type leaverReport struct {
	moved int // users the phase's re-org moves
	// needed is the PUTs the re-org needs (one plan over all its changes
	// with -writes queued, one per request's plan with sync), and
	// perWindow the PUTs per window the reserve leaves to them.
	needed, perWindow int
	// fullAt is when, from the phase's start, the re-org's PUTs first
	// filled the budget (-1: not seen), and from then on the leavers are
	// sent spread over the budget windows the re-org fills whole; without
	// it, from the phase's start over the time the re-org's PUTs need at
	// the budget's pace. first and over are when the first leaver was due
	// and the time they were spread over.
	fullAt, first, over time.Duration
	// Per leaver sent, in sending order: its id (the same in SCIM and in
	// UiPath), when its PATCH was sent, the time until the emulator showed
	// it disabled (-1: never, within leaverGrace of the answer), and the
	// PUTs UiPath received in the budget window (plus pad) before it was
	// sent.
	ids      []string
	sentAt   []time.Time
	ttd      []time.Duration
	inWindow []int
	// pending is the bridge's metricPending read just before each leaver
	// was sent (-1: the scrape failed).
	pending []float64
	st      *stats // the deactivations' requests
	// The bridge's own histogram (sum, count) before and after the phase.
	bridgeBefore, bridgeAfter [2]float64
}

func deprovisionSeconds(m map[string]float64) [2]float64 {
	return [2]float64{m[metricDeprovision+"_sum"], m[metricDeprovision+"_count"]}
}

// leaversPhase is a second re-org wave that keeps the PUT budget full,
// and during it -leavers deactivations (PATCH active "False", not
// deleted), sent one by one, spread over the time the re-org needs at
// the budget's pace, each on a connection of its own.
func (r *syncRun) leaversPhase(ctx context.Context, p *phase) {
	lr := &leaverReport{st: newStats(), moved: r.wl.moved2}
	p.leavers = lr
	if m, err := scrape(ctx, r.bridge.adminURL); err == nil {
		lr.bridgeBefore = deprovisionSeconds(m)
	}
	jobs := append(r.planJobs(p, r.wl.moveOut2, false), r.planJobs(p, r.wl.moveIn2, true)...)
	lr.needed = p.perRequestExpected
	if r.opts.writes == mapping.WritesQueued && len(p.changes) > 0 {
		lr.needed = len(mapping.PlanMembership(r.opts.strategy, p.changes))
	}
	lr.perWindow = limits[http.MethodPut] - reservedPUT()
	spread := time.Duration(float64(lr.needed) / float64(lr.perWindow) * float64(r.opts.window))
	whole := lr.needed / lr.perWindow // budget windows the re-org fills whole

	var leavers []int
	for _, u := range r.wl.leavers {
		if r.userIDs[u] != "" {
			leavers = append(leavers, u)
			p.fixed[http.MethodPut]++ // the deactivation
			r.disabled[u] = true
		}
	}
	n := len(leavers)
	lr.ids, lr.sentAt, lr.ttd, lr.pending = make([]string, n), make([]time.Time, n), make([]time.Duration, n), make([]float64, n)
	start := time.Now()
	lr.fullAt = -1
	var wg sync.WaitGroup
	wg.Go(func() {
		at0, over := start, spread
		if whole > 0 {
			if full, ok := r.waitBudgetFull(ctx, lr.perWindow, start.Add(spread+r.budgetSpan())); ok {
				lr.fullAt = full.Sub(start)
				at0, over = full, time.Duration(whole)*r.budgetSpan()
			} else {
				at0 = time.Now()
			}
		}
		lr.first, lr.over = at0.Sub(start), over
		for i, u := range leavers {
			at := at0.Add(time.Duration(float64(over) * (float64(i) + 0.5) / float64(n)))
			wg.Go(func() {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(at)):
				}
				r.leave(ctx, lr, i, r.userIDs[u])
			})
		}
	})
	r.runMembershipJobs(ctx, p, jobs)
	wg.Wait()
	p.st.add(lr.st)
}

// waitBudgetFull waits until UiPath has received perWindow PUTs or more
// within the budget's span, and returns when; false if that did not happen
// by deadline. The log holds the phase's calls only: with the budget clear
// at the phase's start, they are all there is in the budget.
func (r *syncRun) waitBudgetFull(ctx context.Context, perWindow int, deadline time.Time) (time.Time, bool) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		now := time.Now()
		n := 0
		for _, q := range r.emu.Requests() {
			if q.Method == http.MethodPut && strings.HasPrefix(q.Path, "/api/") && q.Status != http.StatusTooManyRequests &&
				q.At.After(now.Add(-r.budgetSpan())) {
				n++
			}
		}
		if n >= perWindow {
			return now, true
		}
		if now.After(deadline) {
			return time.Time{}, false
		}
		select {
		case <-ctx.Done():
			return time.Time{}, false
		case <-tick.C:
		}
	}
}

// reservedPUT is the PUTs per window the bridge keeps for deprovisioning.
func reservedPUT() int {
	return upstream.ReservedCalls(limits, deprovisionReserve)[http.MethodPut]
}

// leave sends leaver i's deactivation and measures the time from sending
// it until the emulator shows the account disabled, polling the emulator
// every leaverPoll meanwhile, whatever the bridge answers and when.
func (r *syncRun) leave(ctx context.Context, lr *leaverReport, i int, id string) {
	lr.ids[i], lr.ttd[i], lr.pending[i] = id, -1, -1
	if m, err := scrape(ctx, r.bridge.adminURL); err == nil {
		lr.pending[i] = m[metricPending]
	}
	seen := make(chan time.Duration, 1)
	stop := make(chan struct{})
	defer close(stop)
	t0 := time.Now()
	lr.sentAt[i] = t0
	go func() {
		tick := time.NewTicker(leaverPoll)
		defer tick.Stop()
		for {
			if u, ok := r.emu.User(id); ok && !u.IsActive {
				seen <- time.Since(t0)
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	r.leaverIdP.do(ctx, lr.st, http.MethodPatch, "/Users/"+id, disableBody(), nil)
	select {
	case d := <-seen:
		lr.ttd[i] = d
	case <-time.After(leaverGrace):
	case <-ctx.Done():
	}
}

// budgetAtSend counts, for each leaver, the PUTs UiPath received in the
// budget's span (window plus pad) before the leaver was sent: the
// re-org's and the earlier leavers' deactivations, since the bridge admits
// a membership call only while the span holds fewer than perWindow PUTs of
// any kind. A full budget reads a little under perWindow at most instants:
// the scheduler refills it call by call as the oldest leave the span.
func (lr *leaverReport) budgetAtSend(reqs []emulator.Request, window time.Duration) {
	span := window + upstream.BudgetPad(window)
	var puts []time.Time
	for _, q := range reqs {
		if q.Method == http.MethodPut && strings.HasPrefix(q.Path, "/api/") && q.Status != http.StatusTooManyRequests {
			puts = append(puts, q.At)
		}
	}
	lr.inWindow = make([]int, len(lr.sentAt))
	for i, t := range lr.sentAt {
		if t.IsZero() {
			lr.inWindow[i] = -1
			continue
		}
		for _, at := range puts {
			if at.After(t.Add(-span)) && at.Before(t) {
				lr.inWindow[i]++
			}
		}
	}
}

// print writes the leaver phase's own figures.
func (lr *leaverReport) print(w io.Writer, name string) {
	sent := 0
	var ttd []time.Duration
	var use, pending []string
	for i, t := range lr.sentAt {
		if t.IsZero() {
			continue
		}
		sent++
		if lr.ttd[i] >= 0 {
			ttd = append(ttd, lr.ttd[i])
		}
		if i < len(lr.inWindow) {
			use = append(use, fmt.Sprint(lr.inWindow[i]))
		}
		pending = append(pending, fmt.Sprint(lr.pending[i]))
	}
	fmt.Fprintf(w, "  %s: re-org moving %d users needs %d PUTs, %.1f windows of the %d the reserve leaves\n",
		name, lr.moved, lr.needed, float64(lr.needed)/float64(lr.perWindow), lr.perWindow)
	if lr.fullAt >= 0 {
		fmt.Fprintf(w, "  %s: the re-org's PUTs filled the budget %s into the phase; %d leavers sent from then on, over %s\n",
			name, secs(lr.fullAt), sent, secs(lr.over))
	} else {
		fmt.Fprintf(w, "  %s: the re-org's PUTs were not seen filling the budget; %d leavers sent from %s into the phase, over %s\n",
			name, sent, secs(lr.first), secs(lr.over))
	}
	fmt.Fprintf(w, "  %s: when each leaver was sent: PUTs in the budget window before it, earlier deactivations included (membership calls may use %d): %s; membership changes pending: %s\n",
		name, lr.perWindow, strings.Join(use, " "), strings.Join(pending, " "))
	if lr.needed < lr.perWindow {
		fmt.Fprintf(w, "  %s: the re-org needs less than one window of PUTs: it cannot keep the budget full (with -writes queued one plan needs at most one call per group it touches: raise -groups or -leaver-reorg)\n", name)
	}
	fmt.Fprintf(w, "  %s: disabled in UiPath %d/%d; time-to-disabled p50 %s, p99 %s, max %s; deactivation answers p50 %s, p99 %s; IdP 429s on deactivations %d, failed %d\n",
		name, len(ttd), sent, ms(percentile(ttd, 0.5)), ms(percentile(ttd, 0.99)), ms(percentile(ttd, 1)),
		ms(lr.st.percentile(0.5)), ms(lr.st.percentile(0.99)), lr.st.retry429, lr.st.failed)
	if n := lr.bridgeAfter[1] - lr.bridgeBefore[1]; n > 0 {
		fmt.Fprintf(w, "  %s: the bridge's %s: %.0f observations, mean %s\n",
			name, metricDeprovision, n, ms(time.Duration((lr.bridgeAfter[0]-lr.bridgeBefore[0])/n*float64(time.Second))))
	}
}
