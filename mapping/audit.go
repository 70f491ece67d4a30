package mapping

import (
	"context"
	"errors"
	"sync"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/scimdoc"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// Every change the bridge makes or refuses is written to the store's audit
// log (cache.Audit): one entry per SCIM write on a user or group, at its
// end, with who asked (Actor), the outcome and the UiPath calls it made;
// one per call the write scheduler sends, and one per membership change
// UiPath refused for good. Entries are written after the resource's locks
// are released, all of one request (or one scheduler round) in one store
// round trip.

// The audit log's operations (cache.AuditEntry.Operation).
const (
	OpCreate     = "create"
	OpReplace    = "replace"
	OpPatch      = "patch"
	OpDelete     = "delete"
	OpDeactivate = "deactivate"
	OpMembership = "membership"
	// OpReconcile is a reconciliation pass's repair (PassID and Drift
	// say which pass and what it found), or the pass's own entry.
	OpReconcile = "reconcile"
)

// ActorScheduler is the IdP the write scheduler's entries name.
const ActorScheduler = "scheduler"

// ActorReconcile is the IdP field of a reconciliation pass's entries.
const ActorReconcile = "reconcile"

// Actor is who asked for the changes made with a context: the SCIM
// request's id, the IdP that sent it and the caller its credential names,
// or the bridge's own work ("scheduler", "reconcile") with no request id.
type Actor struct {
	RequestID, IdP, Caller string
}

type actorKey struct{}

// WithActor returns a context whose changes the audit log attributes to a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the Actor of ctx, if it has one.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// auditBuffer holds the entries of one request or scheduler round until
// its locks are released; safe for concurrent use.
type auditBuffer struct {
	mu      sync.Mutex
	entries []cache.AuditEntry
}

type auditBufferKey struct{}

func withAuditBuffer(ctx context.Context) (context.Context, *auditBuffer) {
	b := &auditBuffer{}
	return context.WithValue(ctx, auditBufferKey{}, b), b
}

// audit records e in the audit log, with Time, RequestID, IdP and Caller from the
// context where e leaves them empty. Within a request or a scheduler round
// it is buffered, and written when that ends (flushAudit); otherwise it is
// written at once.
//
// A failed append is logged and counted (Config.OnAuditFailure), never
// returned: by the time a change is audited UiPath has made it and the
// store recorded it, so failing the request would make the IdP retry, or
// give up on, a change that took effect (a deactivation that did happen
// would look undone). The log line carries the same facts, and the counter
// lets an operator alert on a gap in the trail.
func (p *Provisioner) audit(ctx context.Context, e cache.AuditEntry) {
	if e.Time.IsZero() {
		e.Time = p.cfg.Now().UTC()
	}
	if a, ok := ActorFrom(ctx); ok {
		if e.RequestID == "" {
			e.RequestID = a.RequestID
		}
		if e.IdP == "" {
			e.IdP = a.IdP
		}
		if e.Caller == "" {
			e.Caller = a.Caller
		}
	}
	if b, ok := ctx.Value(auditBufferKey{}).(*auditBuffer); ok {
		b.mu.Lock()
		b.entries = append(b.entries, e)
		b.mu.Unlock()
		return
	}
	p.appendAudit(ctx, e)
}

// flushAudit writes the entries b holds.
func (p *Provisioner) flushAudit(ctx context.Context, b *auditBuffer) {
	b.mu.Lock()
	entries := b.entries
	b.entries = nil
	b.mu.Unlock()
	if len(entries) > 0 {
		p.appendAudit(ctx, entries...)
	}
}

func (p *Provisioner) appendAudit(ctx context.Context, entries ...cache.AuditEntry) {
	rctx, cancel := recordCtx(ctx)
	defer cancel()
	if err := p.store.AppendAudit(rctx, entries...); err != nil {
		p.log.WarnContext(ctx, "audit entries not recorded", "entries", len(entries), "operation", entries[0].Operation,
			"scim_id", entries[0].ID, "outcome", entries[0].Outcome, "error", err)
		if p.cfg.OnAuditFailure != nil {
			p.cfg.OnAuditFailure(len(entries))
		}
	}
}

// auditCalls converts a call log for an entry.
func auditCalls(log *upstream.CallLog) []cache.AuditCall {
	calls := log.Calls()
	if len(calls) == 0 {
		return nil
	}
	out := make([]cache.AuditCall, len(calls))
	for i, c := range calls {
		out[i] = cache.AuditCall(c)
	}
	return out
}

// auditNote is what a write learns on the way that its entry should say:
// set by the code that learns it, read when the write ends.
type auditNote struct {
	mu sync.Mutex
	// deactivation: the write took a user from active to inactive (set),
	// or did not (set, false); nil when the write never got that far.
	deactivation *bool
	queued       bool
	detail       string
}

type auditNoteKey struct{}

// noteAudit changes the note of the write ctx belongs to, if any.
func noteAudit(ctx context.Context, f func(n *auditNote)) {
	if n, ok := ctx.Value(auditNoteKey{}).(*auditNote); ok {
		n.mu.Lock()
		f(n)
		n.mu.Unlock()
	}
}

// auditedWrite is one SCIM write being audited; see beginWrite.
type auditedWrite struct {
	p    *Provisioner
	ctx  context.Context // the write's: with the call log, note and buffer
	op   string
	kind cache.Kind
	id   string
	name string
	// deactivates: the request asks for active=false (asksDeactivation).
	deactivates bool
	log         *upstream.CallLog
	note        *auditNote
	buf         *auditBuffer
}

// beginWrite starts auditing a SCIM write: the returned write's ctx
// collects its UiPath calls, notes and entries; end records them.
func (p *Provisioner) beginWrite(ctx context.Context, op string, kind cache.Kind, id, name string, deactivates bool) *auditedWrite {
	w := &auditedWrite{p: p, op: op, kind: kind, id: id, name: name, deactivates: deactivates,
		log: &upstream.CallLog{}, note: &auditNote{}}
	ctx = upstream.WithCallLog(ctx, w.log)
	ctx = context.WithValue(ctx, auditNoteKey{}, w.note)
	w.ctx, w.buf = withAuditBuffer(ctx)
	return w
}

// end records the write's entry, from the stored record it produced (if
// any) and its error, and writes the entries buffered during it. A user
// PATCH or PUT is a "deactivate" when it took the user from active to
// inactive, or, when it failed before it got that far, when it asked to.
func (w *auditedWrite) end(rec cache.Record, err error) {
	n := w.note
	n.mu.Lock()
	e := cache.AuditEntry{Operation: w.op, Kind: w.kind, ID: w.id, Name: w.name, Outcome: cache.AuditOK, Detail: n.detail}
	deactivating := w.deactivates
	if n.deactivation != nil {
		deactivating = *n.deactivation
	}
	if deactivating && w.kind == cache.KindUser && (w.op == OpPatch || w.op == OpReplace) {
		e.Operation = OpDeactivate
	}
	if n.queued {
		e.Outcome = cache.AuditQueued
	}
	n.mu.Unlock()
	if rec.ID != "" {
		e.ID = rec.ID
	}
	if rec.Name != "" {
		e.Name = rec.Name
	}
	if err != nil {
		e.Outcome, e.Detail = outcomeOf(err)
		if e.Name == "" && e.ID != "" {
			// Failures only: the name for the auditor, outside any lock.
			if r, gerr := w.p.store.Get(w.ctx, w.kind, e.ID); gerr == nil {
				e.Name = r.Name
			}
		}
	}
	e.Calls = auditCalls(w.log)
	w.p.audit(w.ctx, e)
	w.p.flushAudit(w.ctx, w.buf)
}

// outcomeOf is an entry's outcome and detail for a write's error: refused
// when the request or UiPath's answer rules the change out, failed when it
// may succeed later or the cause is the bridge's own.
func outcomeOf(err error) (string, string) {
	err = classify(err)
	var merr *Error
	if !errors.As(err, &merr) {
		return cache.AuditFailed, "internal"
	}
	detail := merr.Code.String() + ": " + merr.Detail
	if len(detail) > 300 {
		detail = detail[:297] + "..."
	}
	switch merr.Code {
	case CodeNotFound, CodeConflict, CodeInvalid, CodeMutability, CodePrecondition:
		return cache.AuditRefused, detail
	}
	return cache.AuditFailed, detail
}

// asksDeactivation reports whether a user write asks for active=false:
// a document with active false, or PATCH operations that leave active
// false on an active user. It names a write that fails before it reaches
// the user (the write itself says so when it gets there).
func asksDeactivation(doc map[string]any, ops []scimdoc.PatchOp) bool {
	if ops != nil {
		doc = map[string]any{"active": true}
		if _, err := scimdoc.ApplyPatch(doc, ops, scimdoc.KindUser); err != nil {
			return false
		}
	}
	active, ok := scimdoc.Bool(doc["active"])
	return ok && !active
}

// nameOf is the userName or displayName a document carries.
func nameOf(doc map[string]any) string {
	for _, k := range []string{"userName", "displayName"} {
		if s, ok := doc[k].(string); ok {
			return s
		}
	}
	return ""
}
