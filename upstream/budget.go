package upstream

import (
	"context"
	"errors"
	"net/http"
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
// returns how long until there may be. Implementations are safe for
// concurrent use; a shared one (Redis) paces every replica together.
type Budget interface {
	TryTake(ctx context.Context, method string) (time.Duration, error)
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
// not paced.
type LocalBudget struct {
	mu     sync.Mutex
	limits map[string]int
	window time.Duration
	now    func() time.Time
	log    map[string][]time.Time // per method, oldest first
}

// NewLocalBudget returns a LocalBudget allowing limits[method] calls per
// window. A nil now means time.Now.
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

// TryTake implements Budget.
func (b *LocalBudget) TryTake(_ context.Context, method string) (time.Duration, error) {
	method = strings.ToUpper(method)
	limit, ok := b.limits[method]
	if !ok || limit <= 0 {
		return 0, nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	q := b.log[method]
	cut := 0
	for cut < len(q) && !q[cut].After(now.Add(-b.window)) {
		cut++
	}
	q = q[cut:]
	if len(q) < limit {
		b.log[method] = append(q, now)
		return 0, nil
	}
	b.log[method] = q
	return q[0].Add(b.window).Sub(now) + time.Millisecond, nil
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
		d, err := c.cfg.Budget.TryTake(ctx, r.method)
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
