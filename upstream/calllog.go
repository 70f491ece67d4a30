package upstream

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Call is one HTTP request the client sent to UiPath on behalf of a
// context carrying a CallLog. Retries are separate calls.
type Call struct {
	At     time.Time `json:"at"`
	Op     string    `json:"op"`     // "update user", "create group", ...
	Method string    `json:"method"` // GET, POST, PUT, DELETE
	Status int       `json:"status"` // UiPath's status; 0 when no response came back
}

// CallLog collects the calls made with a context from WithCallLog. It is
// how a caller counts what one SCIM request or one reconciliation pass cost
// in UiPath calls, and what UiPath answered, without sharing counters with
// the rest of the process. Safe for concurrent use.
type CallLog struct {
	mu    sync.Mutex
	calls []Call
	// outer is the log of the enclosing context: a call is recorded in
	// every log of the chain, so that a pass that counts its calls still
	// sees those of a write it makes that keeps its own log.
	outer *CallLog
}

type callLogKey struct{}

// WithCallLog returns a context whose UiPath calls are appended to log,
// and to the logs of the contexts it was made from. log must be fresh
// (used with one WithCallLog only).
func WithCallLog(ctx context.Context, log *CallLog) context.Context {
	if outer, ok := ctx.Value(callLogKey{}).(*CallLog); ok && outer != log {
		log.outer = outer
	}
	return context.WithValue(ctx, callLogKey{}, log)
}

// Calls returns a copy of the calls recorded so far, in the order sent.
func (l *CallLog) Calls() []Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Call(nil), l.calls...)
}

// Counts returns the number of calls per HTTP method, with every method
// class the budget knows present (zero when unused).
func (l *CallLog) Counts() map[string]int {
	out := map[string]int{http.MethodGet: 0, http.MethodPost: 0, http.MethodPut: 0, http.MethodDelete: 0}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range l.calls {
		out[c.Method]++
	}
	return out
}

// noteCall records one sent attempt in ctx's CallLog, if it has one.
func noteCall(ctx context.Context, r request, o outcome) {
	if !o.sent {
		return
	}
	l, ok := ctx.Value(callLogKey{}).(*CallLog)
	if !ok || l == nil {
		return
	}
	status := o.status
	if o.err != nil {
		status = o.err.StatusCode
	}
	c := Call{At: time.Now().UTC(), Op: r.op, Method: r.method, Status: status}
	for ; l != nil; l = l.outer {
		l.mu.Lock()
		l.calls = append(l.calls, c)
		l.mu.Unlock()
	}
}
