package cache

import (
	"context"
	"slices"
	"strings"
	"time"
)

// DefaultAuditRetention is how long a store keeps audit entries when its
// configuration says nothing: 90 days.
const DefaultAuditRetention = 90 * 24 * time.Hour

// The outcomes an AuditEntry records.
const (
	// AuditOK: the change is done (UiPath confirmed it, or it needed no
	// call).
	AuditOK = "ok"
	// AuditQueued: the change is stored as desired and queued for the
	// write scheduler, whose own entries say when UiPath confirmed it.
	AuditQueued = "queued"
	// AuditRefused: the bridge or UiPath refused the change for good (an
	// invalid request, a conflict, a precondition, a refusal by UiPath).
	AuditRefused = "refused"
	// AuditFailed: the change could not be made now (UiPath or the store
	// unavailable, throttled, an internal error); a retry may succeed.
	AuditFailed = "failed"
)

// AuditEntry is one change the bridge made or refused, as the audit log
// keeps it. It answers who asked (RequestID, IdP, Caller), what (Operation, Kind,
// ID, Name), what became of it (Outcome, Detail) and what UiPath was told
// and answered (Calls).
type AuditEntry struct {
	// Time is when the change ended (its outcome was known).
	Time time.Time `json:"time"`
	// RequestID is the SCIM request's X-Request-Id; empty for work the
	// bridge does on its own (the scheduler, reconciliation).
	RequestID string `json:"requestId,omitempty"`
	// IdP is who asked: the IdP client's name for a SCIM request, or
	// "scheduler", "reconcile" for the bridge's own work.
	IdP string `json:"idp,omitempty"`
	// Caller is the authenticated credential's name for a SCIM request:
	// a static token's name, an OAuth client's id or the OIDC caller name
	// (from the configuration, never from the request). Empty for the
	// bridge's own work.
	Caller string `json:"caller,omitempty"`
	// Operation is "create", "replace", "patch", "delete", "deactivate"
	// (active=false by PATCH or PUT), "membership" (a scheduler call) or
	// "reconcile".
	Operation string `json:"operation"`
	// Kind and ID are the resource the change addressed.
	Kind Kind   `json:"resource"`
	ID   string `json:"id"`
	// Name is the user's userName or the group's displayName, when known.
	Name string `json:"name,omitempty"`
	// Outcome is AuditOK, AuditQueued, AuditRefused or AuditFailed.
	Outcome string `json:"outcome"`
	// Detail is a short reason: an error code and its explanation, or a
	// note (an adopted account, the members a call carried).
	Detail string `json:"detail,omitempty"`
	// Calls are the UiPath calls the change made, in the order sent.
	Calls []AuditCall `json:"calls,omitempty"`
	// PassID and Drift are set for reconciliation: the pass and the kind
	// of drift repaired.
	PassID string `json:"passId,omitempty"`
	Drift  string `json:"drift,omitempty"`
}

// AuditCall is one HTTP request sent to UiPath for an audited change.
type AuditCall struct {
	At     time.Time `json:"at"`
	Op     string    `json:"op"`
	Method string    `json:"method"`
	// Status is UiPath's answer; 0 when none came back.
	Status int `json:"status"`
}

// AuditQuery selects audit entries. Its zero value selects every entry
// kept.
type AuditQuery struct {
	// Since and Until bound Time, both inclusive; zero: unbounded.
	Since, Until time.Time
	// Subject, when set, keeps the entries whose ID or Name equals it,
	// compared case-insensitively.
	Subject string
	// Limit, when positive, keeps only the newest Limit matching entries.
	Limit int
}

// Matches reports whether e is selected by q. Backends use it so that the
// rule is written once.
func (q AuditQuery) Matches(e AuditEntry) bool {
	if !q.Since.IsZero() && e.Time.Before(q.Since) {
		return false
	}
	if !q.Until.IsZero() && e.Time.After(q.Until) {
		return false
	}
	if q.Subject != "" && !strings.EqualFold(q.Subject, e.ID) && !strings.EqualFold(q.Subject, e.Name) {
		return false
	}
	return true
}

// Audit is the part of the store that keeps the audit log: append-only
// entries, kept for the store's retention (DefaultAuditRetention unless
// configured). Every Store implements it.
type Audit interface {
	// AppendAudit adds entries to the log, atomically. A zero Time is set
	// to now. It also removes the entries older than the newest appended
	// Time minus the retention; that costs what is removed, never what is
	// kept. Nothing else ever changes or removes an entry.
	AppendAudit(ctx context.Context, entries ...AuditEntry) error
	// AuditLog returns the entries q selects, oldest first (by Time;
	// entries with equal times in the order appended).
	AuditLog(ctx context.Context, q AuditQuery) ([]AuditEntry, error)
}

// SortAudit orders entries oldest first, keeping the order of equal
// times, and applies q.Limit (the newest Limit). Backends whose storage
// order may differ slightly from Time use it.
func SortAudit(entries []AuditEntry, q AuditQuery) []AuditEntry {
	slices.SortStableFunc(entries, func(a, b AuditEntry) int { return a.Time.Compare(b.Time) })
	if q.Limit > 0 && len(entries) > q.Limit {
		entries = entries[len(entries)-q.Limit:]
	}
	return entries
}
