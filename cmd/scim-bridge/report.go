package main

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"time"

	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// statusFailures is how many of the latest permanent failures a status
// report lists.
const statusFailures = 20

// statusReport is what `scim-bridge status --json` prints and the admin
// API serves at /admin/v1/status. Its JSON names are part of the admin
// API: add fields, never rename them.
type statusReport struct {
	// Store is the backend: "redis" or "embedded".
	Store string `json:"store"`
	// GeneratedAt is when the report was read.
	GeneratedAt time.Time        `json:"generatedAt"`
	Membership  membershipStatus `json:"membership"`
	Budget      budgetStatus     `json:"budget"`
	// Failures are the latest membership changes UiPath refused for good
	// (at most statusFailures), newest first; never null.
	Failures []failureStatus `json:"failures"`
}

// membershipStatus is the queue of membership changes acknowledged to the
// IdP and not yet confirmed by UiPath.
type membershipStatus struct {
	Pending  int `json:"pending"`
	InFlight int `json:"inFlight"` // a sender holds them now
	Backoff  int `json:"backoff"`  // waiting after a failed try
	// OldestSeconds is the age of the oldest pending change (0: none).
	OldestSeconds float64 `json:"oldestSeconds"`
	// PlannedCalls is the UiPath calls (PUTs) the scheduler's plan needs
	// to carry every pending change.
	PlannedCalls int `json:"plannedCalls"`
	// HoldingPush: the calls wait for an IdP push that keeps coming back
	// to the same groups or users to pause.
	HoldingPush bool `json:"holdingPush"`
	// DrainEstimateSeconds is drainEstimate's figure: how long the budget
	// needs to let PlannedCalls through.
	DrainEstimateSeconds float64 `json:"drainEstimateSeconds"`
}

// budgetStatus is the client-side UiPath budget: per limited method, the
// calls in the sliding window now (every replica's, with Redis).
type budgetStatus struct {
	// WindowSeconds is the sliding window the budget counts over: the
	// configured window plus upstream.BudgetPad.
	WindowSeconds float64                 `json:"windowSeconds"`
	Methods       map[string]methodBudget `json:"methods"`
}

// methodBudget is one method's share of the window.
type methodBudget struct {
	Used     int `json:"used"`
	Limit    int `json:"limit"`
	Reserved int `json:"reserved"` // for deprovisioning only
}

// failureStatus is one membership change UiPath refused for good.
type failureStatus struct {
	Group  string    `json:"group"`
	User   string    `json:"user"`
	Add    bool      `json:"add"`
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// usageBudget is a budget that can say how much of its window is used:
// upstream.LocalBudget, or the Redis one through redisBudget.
type usageBudget interface {
	upstream.Budget
	Usage(ctx context.Context) (map[string]upstream.BudgetUse, error)
}

// statusSource reads a status report: the provisioner's queue and the
// budget, from one process's view of the store.
type statusSource struct {
	store  string
	prov   *mapping.Provisioner
	budget usageBudget
	window time.Duration // the budget's window, pad included
}

// report reads the queue and the budget now.
func (s statusSource) report(ctx context.Context) (statusReport, error) {
	q, err := s.prov.QueueStatus(ctx, statusFailures)
	if err != nil {
		return statusReport{}, err
	}
	use, err := s.budget.Usage(ctx)
	if err != nil {
		return statusReport{}, fmt.Errorf("budget usage: %w", err)
	}
	r := statusReport{
		Store:       s.store,
		GeneratedAt: time.Now().UTC().Truncate(time.Millisecond),
		Membership: membershipStatus{
			Pending:       q.Pending,
			InFlight:      q.InFlight,
			Backoff:       q.Backoff,
			OldestSeconds: seconds(q.Oldest),
			PlannedCalls:  q.PlannedCalls,
			HoldingPush:   q.HoldingPush,
		},
		Budget:   budgetStatus{WindowSeconds: seconds(s.window), Methods: make(map[string]methodBudget, len(use))},
		Failures: make([]failureStatus, 0, len(q.Failures)),
	}
	put, limited := use[http.MethodPut]
	r.Membership.DrainEstimateSeconds = seconds(drainEstimate(q.PlannedCalls, put, limited, s.window))
	for m, u := range use {
		r.Budget.Methods[m] = methodBudget{Used: u.Used, Limit: u.Limit, Reserved: u.Reserved}
	}
	for _, f := range q.Failures {
		r.Failures = append(r.Failures, failureStatus{Group: f.Group, User: f.User, Add: f.Add, Reason: f.Reason, At: f.At})
	}
	return r, nil
}

// drainEstimate is how long the budget needs to let planned membership
// calls (all PUTs) through, at the rate membership traffic gets: the PUT
// limit less the deprovisioning reserve, per window. What is left of that
// room in the current window goes first; the rest takes whole windows:
//
//	room  = limit - reserved
//	now   = max(0, room - used)
//	rest  = max(0, planned - now)
//	drain = ceil(rest / room) × window
//
// so 0 when the plan fits in the room left now. It is rough: calls leave
// the sliding window one by one, so room comes back sooner than a whole
// window; the scheduler waits for changes to settle and for backoffs; and
// other writes (profile updates, new changes) and deprovisioning compete
// for the same PUTs. A PUT budget that is not limited drains at once.
func drainEstimate(planned int, put upstream.BudgetUse, limited bool, window time.Duration) time.Duration {
	room := put.Limit - put.Reserved
	if planned <= 0 || !limited || room <= 0 {
		return 0
	}
	rest := planned - max(0, room-put.Used)
	if rest <= 0 {
		return 0
	}
	windows := (rest + room - 1) / room
	return time.Duration(windows) * window
}

// seconds is d in seconds, to the millisecond.
func seconds(d time.Duration) float64 {
	return math.Round(d.Seconds()*1000) / 1000
}
