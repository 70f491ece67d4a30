package upstream

import (
	"context"
	"errors"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// ErrBudgetExhausted is wrapped by the *Error a call returns when the
// client-side budget had no room for it within Config.MaxBudgetWait. The call
// was not sent.
var ErrBudgetExhausted = errors.New("upstream: client-side rate budget exhausted")

// Budget paces calls per HTTP method so that the bridge never exceeds
// UiPath's per-organization rate limits. TryTake takes one call of method
// from the budget and returns 0, or, when there is no room, takes nothing and
// returns how long until there may be. A priority call (a deprovisioning one,
// see Deprovisioning) may also use the share of the limit the budget
// reserves for such calls; the wait returned is for the caller's class.
// Implementations are safe for concurrent use; a shared one (Redis) paces
// every replica together.
type Budget interface {
	TryTake(ctx context.Context, method string, priority bool) (time.Duration, error)
}

type deprovisioningKey struct{}

// Deprovisioning returns a context whose UiPath calls deprovision a user (a
// deactivation or a deletion): the client asks the budget for them as
// priority calls, which may use the reserve that other calls cannot touch,
// so that leavers never wait behind other writes.
func Deprovisioning(ctx context.Context) context.Context {
	return context.WithValue(ctx, deprovisioningKey{}, true)
}

// IsDeprovisioning reports whether ctx was marked by Deprovisioning.
func IsDeprovisioning(ctx context.Context) bool {
	return ctx.Value(deprovisioningKey{}) != nil
}

// reservedMethods are the methods a budget keeps a reserve of: the ones
// deprovisioning uses (PUT isActive=false, DELETE).
var reservedMethods = []string{http.MethodPut, http.MethodDelete}

// ReservedCalls returns how many calls of each method in limits a budget
// with reserve r keeps for priority calls: ceil(limit*r) for PUT and
// DELETE, none for other methods. A method whose reserve would leave other
// calls no room at all (limit-reserved < 1) gets none either, and so does
// every method when r is not in (0, 1). Method names are returned upper
// case; methods without a reserve are left out.
//
// It is the one statement of the rule: LocalBudget applies it, and the
// shared budget in cache/redisstore is given its result.
func ReservedCalls(limits map[string]int, r float64) map[string]int {
	if !(r > 0 && r < 1) {
		return nil
	}
	out := map[string]int{}
	for m, limit := range limits {
		m = strings.ToUpper(m)
		if !slices.Contains(reservedMethods, m) || limit <= 0 {
			continue
		}
		n := int(math.Ceil(float64(limit) * r))
		if n > 0 && limit-n >= 1 {
			out[m] = n
		}
	}
	return out
}

// BudgetPad is the margin added to a budget window: a call the budget
// allowed may reach UiPath a little later than it was allowed, and UiPath
// counts arrivals in fixed windows.
func BudgetPad(window time.Duration) time.Duration {
	return min(max(window/50, 20*time.Millisecond), 2*time.Second)
}

// LocalBudget is an in-process Budget: a sliding log per method, so no
// interval of Window (plus BudgetPad) ever holds more than the limit,
// whatever the phase of UiPath's fixed windows. Methods without a limit are
// not paced. It keeps no reserve unless WithReserve sets one.
type LocalBudget struct {
	mu       sync.Mutex
	limits   map[string]int
	reserved map[string]int // per method, calls only priority calls may use
	window   time.Duration
	now      func() time.Time
	log      map[string][]time.Time // per method, oldest first
}

// NewLocalBudget returns a LocalBudget allowing limits[method] calls per
// window, with no reserve. A nil now means time.Now.
func NewLocalBudget(limits map[string]int, window time.Duration, now func() time.Time) *LocalBudget {
	if now == nil {
		now = time.Now
	}
	l := make(map[string]int, len(limits))
	for m, n := range limits {
		l[strings.ToUpper(m)] = n
	}
	return &LocalBudget{limits: l, window: window + BudgetPad(window), now: now, log: map[string][]time.Time{}}
}

// WithReserve keeps the fraction r (0 ≤ r < 1) of the PUT and DELETE limits
// for priority calls, as ReservedCalls counts it: a call that is not
// priority is admitted only while the window holds fewer than limit-reserved
// calls of its method, a priority call while it holds fewer than limit. An r
// outside [0, 1) means no reserve. It replaces any earlier reserve and
// returns b.
func (b *LocalBudget) WithReserve(r float64) *LocalBudget {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reserved = ReservedCalls(b.limits, r)
	return b
}

// TryTake implements Budget.
func (b *LocalBudget) TryTake(_ context.Context, method string, priority bool) (time.Duration, error) {
	method = strings.ToUpper(method)
	limit, ok := b.limits[method]
	if !ok || limit <= 0 {
		return 0, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	room := limit
	if !priority {
		room -= b.reserved[method]
	}
	now := b.now()
	q := b.log[method]
	cut := 0
	for cut < len(q) && !q[cut].After(now.Add(-b.window)) {
		cut++
	}
	q = q[cut:]
	if len(q) < room {
		b.log[method] = append(q, now)
		return 0, nil
	}
	b.log[method] = q
	// Room comes when the window holds room-1 calls: once the entry
	// len(q)-room (0 = oldest) has left it. Priority calls may have filled
	// the reserve, so for a call that is not priority that is not
	// necessarily the oldest.
	return q[len(q)-room].Add(b.window).Sub(now) + time.Millisecond, nil
}

// BudgetUse is one limited method's share of a budget's current window,
// for status reports.
type BudgetUse struct {
	// Used is the calls of the method in the window now, priority ones
	// included.
	Used int
	// Limit is the calls the window may hold; Reserved is the part of it
	// only priority (deprovisioning) calls may use.
	Limit, Reserved int
}

// Usage returns, for every method with a limit (upper case), the calls in
// the window now, the limit and the reserve. It takes nothing.
func (b *LocalBudget) Usage(_ context.Context) (map[string]BudgetUse, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	out := make(map[string]BudgetUse, len(b.limits))
	for m, limit := range b.limits {
		if limit <= 0 {
			continue
		}
		used := 0
		for _, at := range b.log[m] {
			if at.After(now.Add(-b.window)) {
				used++
			}
		}
		out[m] = BudgetUse{Used: used, Limit: limit, Reserved: b.reserved[m]}
	}
	return out, nil
}

// takeBudget waits for room in the budget for one call, at most
// MaxBudgetWait in all and never past ctx's deadline; past that it returns a 429-like retryable *Error
// wrapping ErrBudgetExhausted with the wait still needed.
func (c *Client) takeBudget(ctx context.Context, r request) (time.Duration, *Error) {
	if c.cfg.Budget == nil {
		return 0, nil
	}
	waited := time.Duration(0)
	for {
		d, err := c.cfg.Budget.TryTake(ctx, r.method, IsDeprovisioning(ctx))
		if err != nil {
			return waited, &Error{Op: r.op, Method: r.method, Path: r.path, Retryable: true, Err: err}
		}
		if d <= 0 {
			return waited, nil
		}
		if ctx.Value(noBudgetWaitKey{}) != nil {
			return waited, &Error{Op: r.op, Method: r.method, Path: r.path, StatusCode: http.StatusTooManyRequests,
				Retryable: true, RetryAfter: d, Err: ErrBudgetExhausted}
		}
		dl, hasDeadline := ctx.Deadline()
		if waited+d > c.cfg.MaxBudgetWait || (hasDeadline && time.Until(dl) < d) {
			c.logger.Warn("upstream budget exhausted", "method", r.method, "retry_after", d)
			c.observe(Observation{Op: r.op, Method: r.method, BudgetWait: waited, BudgetExhausted: true})
			return waited, &Error{Op: r.op, Method: r.method, Path: r.path, StatusCode: http.StatusTooManyRequests,
				Retryable: true, RetryAfter: d, Err: ErrBudgetExhausted}
		}
		if err := c.cfg.Sleep(ctx, d); err != nil {
			return waited, &Error{Op: r.op, Method: r.method, Path: r.path, Retryable: true, Err: err}
		}
		waited += d
	}
}

type noBudgetWaitKey struct{}

// WithoutBudgetWait returns a context whose calls are sent only if the
// rate budget has room now: a call that would have to wait fails at once
// with ErrBudgetExhausted. It is for calls that can be put off (a
// read-back the background check can make later) rather than delay the
// request they belong to.
func WithoutBudgetWait(ctx context.Context) context.Context {
	return context.WithValue(ctx, noBudgetWaitKey{}, true)
}

// observe tells Config.Observe about an attempt, if it is set.
func (c *Client) observe(o Observation) {
	if c.cfg.Observe != nil {
		c.cfg.Observe(o)
	}
}
