package mapping

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/scim-bridge/scim-bridge/upstream"
)

// SCIM error types (RFC 7644 §3.12) used by the bridge.
const (
	ScimTypeUniqueness    = "uniqueness"
	ScimTypeInvalidValue  = "invalidValue"
	ScimTypeInvalidFilter = "invalidFilter"
	ScimTypeInvalidSyntax = "invalidSyntax"
	ScimTypeInvalidPath   = "invalidPath"
	ScimTypeNoTarget      = "noTarget"
	ScimTypeMutability    = "mutability"
	ScimTypeTooMany       = "tooMany"
)

// Error is a failure the IdP caused or must be told about in SCIM terms:
// Status is the HTTP status and ScimType the RFC 7644 error type (may be
// empty). Detail is written for the admin reading the IdP's log; it never
// holds a secret or an upstream body.
type Error struct {
	Status   int
	ScimType string
	Detail   string
	Err      error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %v", e.Detail, e.Err)
	}
	return e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// ErrNotFound is wrapped by the *Error returned for an unknown resource id.
var ErrNotFound = errors.New("mapping: resource not found")

func notFound(kind, id string) error {
	return &Error{Status: http.StatusNotFound, Detail: fmt.Sprintf("%s %q not found", kind, id), Err: ErrNotFound}
}

func invalidValue(format string, args ...any) error {
	return &Error{Status: http.StatusBadRequest, ScimType: ScimTypeInvalidValue, Detail: fmt.Sprintf(format, args...)}
}

func uniqueness(format string, args ...any) error {
	return &Error{Status: http.StatusConflict, ScimType: ScimTypeUniqueness, Detail: fmt.Sprintf(format, args...)}
}

func mutability(format string, args ...any) error {
	return &Error{Status: http.StatusBadRequest, ScimType: ScimTypeMutability, Detail: fmt.Sprintf(format, args...)}
}

// PreconditionFailed is returned when If-Match names a version that is not
// the current one (RFC 7644 §3.14).
func preconditionFailed(id string) error {
	return &Error{Status: http.StatusPreconditionFailed, Detail: fmt.Sprintf("resource %q has changed: its version does not match If-Match", id)}
}

// PartialError reports a membership change of which only some upstream calls
// succeeded. The store holds exactly the confirmed part, so the IdP's retry
// completes the rest.
type PartialError struct {
	// FailedUsers are the ids of the users whose membership change failed.
	FailedUsers []string
	Failed      int // changes that failed
	Total       int // changes attempted
	Retryable   bool
	Err         error // the first failure
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%d of %d membership changes failed: %v", e.Failed, e.Total, e.Err)
}

func (e *PartialError) Unwrap() error { return e.Err }

// refusal turns UiPath's refusal of a value into the SCIM error the IdP
// can act on: a duplicate is a uniqueness conflict, a validation failure an
// invalidValue naming UiPath's reason. Other errors pass through.
func refusal(err error) error {
	var uerr *upstream.Error
	if !errors.As(err, &uerr) || uerr.Retryable {
		return err
	}
	switch {
	case uerr.HasCode(upstream.CodeDuplicateEmail):
		return &Error{Status: http.StatusConflict, ScimType: ScimTypeUniqueness, Detail: "UiPath already has another account with this email", Err: err}
	case uerr.HasCode(upstream.CodeDuplicateUserName):
		return &Error{Status: http.StatusConflict, ScimType: ScimTypeUniqueness, Detail: "UiPath already has another account with this userName", Err: err}
	case uerr.HasCode(upstream.CodeDuplicateGroupName):
		return &Error{Status: http.StatusConflict, ScimType: ScimTypeUniqueness, Detail: "UiPath already has another group with this name", Err: err}
	case len(uerr.Codes) > 0 && (uerr.StatusCode < 300 || uerr.StatusCode == http.StatusBadRequest),
		uerr.StatusCode == http.StatusBadRequest && len(uerr.Fields) > 0:
		detail := "UiPath rejected the value"
		if uerr.Detail != "" {
			detail += ": " + uerr.Detail
		}
		return &Error{Status: http.StatusBadRequest, ScimType: ScimTypeInvalidValue, Detail: detail, Err: err}
	}
	return err
}
