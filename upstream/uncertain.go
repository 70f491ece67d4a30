package upstream

import (
	"context"
	"net/http"
	"sync/atomic"
)

// Uncertainty collects, for the calls made with a context from
// TrackUncertain, whether any write attempt ended without a known outcome:
// a transport error once the request may have been sent (timeout, dropped
// connection) or a 5xx. UiPath may have applied such an attempt, or may
// still apply it later, even when a retry then succeeded: the caller
// cannot trust UiPath to hold what it last wrote until it reads it back.
type Uncertainty struct{ n atomic.Int64 }

type uncertaintyKey struct{}

// TrackUncertain returns a context whose write calls report into the
// returned Uncertainty. Nested tracking reports to the innermost one only.
func TrackUncertain(ctx context.Context) (context.Context, *Uncertainty) {
	u := &Uncertainty{}
	return context.WithValue(ctx, uncertaintyKey{}, u), u
}

// Any reports whether a tracked write attempt had an unknown outcome.
func (u *Uncertainty) Any() bool { return u != nil && u.n.Load() > 0 }

// Count is the number of tracked write attempts with an unknown outcome.
func (u *Uncertainty) Count() int64 {
	if u == nil {
		return 0
	}
	return u.n.Load()
}

// noteAttempt records an attempt of a write whose outcome is unknown.
func noteAttempt(ctx context.Context, method string, o outcome) {
	if method == http.MethodGet || !o.sent || o.err == nil {
		return
	}
	if s := o.err.StatusCode; s != 0 && s < 500 {
		return
	}
	if u, ok := ctx.Value(uncertaintyKey{}).(*Uncertainty); ok {
		u.n.Add(1)
	}
}
