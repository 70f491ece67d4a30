package mapping

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/scimdoc"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// Code says what kind of failure an *Error is. The HTTP layer, and only it,
// turns a code into a status.
type Code int

// Failure codes.
const (
	// CodeInternal is a failure that is neither the client's doing nor
	// transient: a bug, or UiPath refusing a change for a reason the bridge
	// cannot put into SCIM terms. Its detail is generic; the cause is in Err.
	CodeInternal Code = iota
	// CodeNotFound: no resource has that id.
	CodeNotFound
	// CodeConflict: a uniqueness rule (userName, displayName, an account
	// UiPath already has) forbids the change.
	CodeConflict
	// CodeInvalid: the request breaks a rule; ScimType refines it
	// (invalidValue, invalidFilter, invalidPath, noTarget, invalidSyntax).
	CodeInvalid
	// CodeMutability: the request changes something that cannot change.
	CodeMutability
	// CodePrecondition: If-Match names a version that is not the current one.
	CodePrecondition
	// CodeUnavailable: UiPath or the store cannot be reached, or the request
	// ran out of time; retrying after RetryAfter may succeed.
	CodeUnavailable
	// CodeThrottled: UiPath's rate limit (or the bridge's budget for it) has
	// no room; retry after RetryAfter.
	CodeThrottled
)

var codeNames = [...]string{"internal", "not found", "conflict", "invalid", "mutability", "precondition", "unavailable", "throttled"}

func (c Code) String() string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("code(%d)", int(c))
}

// Error is how every Resource method fails. Detail is written for the admin
// reading the IdP's log and never holds a secret or an upstream body; Err is
// the cause, for the bridge's own log.
type Error struct {
	Code     Code
	ScimType string // a scimdoc.ScimType* refinement; may be empty
	Detail   string
	// RetryAfter is how long the client should wait before retrying
	// (CodeUnavailable, CodeThrottled); zero otherwise.
	RetryAfter time.Duration
	Err        error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Detail, e.Err)
	}
	return e.Code.String() + ": " + e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNotFound is wrapped by the *Error returned for an unknown resource id.
var ErrNotFound = errors.New("mapping: resource not found")

func notFound(kind, id string) error {
	return &Error{Code: CodeNotFound, Detail: fmt.Sprintf("%s %q not found", kind, id), Err: ErrNotFound}
}

func invalidValue(format string, args ...any) error {
	return &Error{Code: CodeInvalid, ScimType: scimdoc.ScimTypeInvalidValue, Detail: fmt.Sprintf(format, args...)}
}

func uniqueness(format string, args ...any) error {
	return &Error{Code: CodeConflict, ScimType: scimdoc.ScimTypeUniqueness, Detail: fmt.Sprintf(format, args...)}
}

func mutability(format string, args ...any) error {
	return &Error{Code: CodeMutability, ScimType: scimdoc.ScimTypeMutability, Detail: fmt.Sprintf(format, args...)}
}

func preconditionFailed(id string) error {
	return &Error{Code: CodePrecondition, Detail: fmt.Sprintf("resource %q has changed: its version does not match If-Match", id)}
}

// partialError reports a membership change of which only some upstream
// calls succeeded. The store holds exactly the confirmed part, so the IdP's
// retry completes the rest.
type partialError struct {
	failedUsers   []string
	failed, total int
	retryable     bool
	err           error // the first failure
}

func (e *partialError) Error() string {
	return fmt.Sprintf("%d of %d membership changes failed: %v", e.failed, e.total, e.err)
}

func (e *partialError) Unwrap() error { return e.err }

// Retry-After values when the cause gave none.
const (
	defaultRetryAfter = 30 * time.Second // UiPath unavailable or throttling
	storeRetryAfter   = 10 * time.Second // a Redis failover or restart takes seconds
)

// refusal turns UiPath's refusal of a value into the error the IdP can act
// on: a duplicate is a uniqueness conflict, a validation failure an
// invalidValue naming UiPath's reason. Other errors pass through.
func refusal(err error) error {
	var uerr *upstream.Error
	if !errors.As(err, &uerr) || uerr.Retryable {
		return err
	}
	switch {
	case uerr.HasCode(upstream.CodeDuplicateEmail):
		return &Error{Code: CodeConflict, ScimType: scimdoc.ScimTypeUniqueness, Detail: "UiPath already has another account with this email", Err: err}
	case uerr.HasCode(upstream.CodeDuplicateUserName):
		return &Error{Code: CodeConflict, ScimType: scimdoc.ScimTypeUniqueness, Detail: "UiPath already has another account with this userName", Err: err}
	case uerr.HasCode(upstream.CodeDuplicateGroupName):
		return &Error{Code: CodeConflict, ScimType: scimdoc.ScimTypeUniqueness, Detail: "UiPath already has another group with this name", Err: err}
	case len(uerr.Codes) > 0 && (uerr.StatusCode < 300 || uerr.StatusCode == 400),
		uerr.StatusCode == 400 && len(uerr.Fields) > 0:
		detail := "UiPath rejected the value"
		if uerr.Detail != "" {
			detail += ": " + uerr.Detail
		}
		return &Error{Code: CodeInvalid, ScimType: scimdoc.ScimTypeInvalidValue, Detail: detail, Err: err}
	}
	return err
}

// classify turns any error a Resource method meets into an *Error: the one
// place where upstream, store and document failures become codes.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var merr *Error
	if errors.As(err, &merr) {
		return err
	}
	var derr *scimdoc.Error
	if errors.As(err, &derr) {
		code := CodeInvalid
		if derr.ScimType == scimdoc.ScimTypeMutability {
			code = CodeMutability
		}
		return &Error{Code: code, ScimType: derr.ScimType, Detail: derr.Detail, Err: err}
	}
	var partial *partialError
	if errors.As(err, &partial) {
		return classifyPartial(partial)
	}
	var uerr *upstream.Error
	switch {
	case errors.As(err, &uerr) && uerr.Retryable && uerr.StatusCode == 429:
		return &Error{Code: CodeThrottled, Detail: "UiPath's rate limit for this organization is reached; retry after Retry-After.", RetryAfter: retryAfterOf(err), Err: err}
	case errors.As(err, &uerr) && uerr.Retryable:
		return &Error{Code: CodeUnavailable, Detail: "UiPath is unavailable; retry later.", RetryAfter: retryAfterOf(err), Err: err}
	case errors.Is(err, cache.ErrUnavailable):
		return &Error{Code: CodeUnavailable, Detail: "The bridge's mapping store is unavailable; retry later.", RetryAfter: storeRetryAfter, Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Code: CodeUnavailable, Detail: "The request timed out; retry later.", RetryAfter: defaultRetryAfter, Err: err}
	case errors.As(err, &uerr):
		return &Error{Code: CodeInternal, Detail: "UiPath refused the change; see the bridge log.", Err: err}
	}
	return &Error{Code: CodeInternal, Detail: "Internal error; see the bridge log.", Err: err}
}

func classifyPartial(p *partialError) error {
	members := listIDs(p.failedUsers)
	if !p.retryable {
		return &Error{Code: CodeInternal, Err: p,
			Detail: fmt.Sprintf("%d of %d membership changes were refused by UiPath (members %s); the rest were saved. See the bridge log.", p.failed, p.total, members)}
	}
	code := CodeUnavailable
	var uerr *upstream.Error
	if errors.As(p.err, &uerr) && uerr.StatusCode == 429 {
		code = CodeThrottled
	}
	return &Error{Code: code, RetryAfter: retryAfterOf(p.err), Err: p,
		Detail: fmt.Sprintf("%d of %d membership changes could not be applied in UiPath yet (members %s); the rest were saved. Retry the request.", p.failed, p.total, members)}
}

func retryAfterOf(err error) time.Duration {
	if d := upstream.RetryAfter(err); d > 0 {
		return d
	}
	return defaultRetryAfter
}

// listIDs names at most 10 ids for an error detail.
func listIDs(ids []string) string {
	if len(ids) > 10 {
		return strings.Join(ids[:10], ", ") + fmt.Sprintf(" and %d more", len(ids)-10)
	}
	return strings.Join(ids, ", ")
}
