package scimdoc

import "fmt"

// SCIM error types (RFC 7644 §3.12) that the document engine and the
// layers above it report.
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

// Error is a document the client sent that the engine cannot accept: a
// body, filter, path, PATCH operation or sort that breaks a rule of RFC
// 7643/7644 or of the bridge's schemas. ScimType is one of the ScimType
// constants; Detail is written for the admin reading the IdP's log and is
// safe to show to the client. Every error the package returns for bad input
// is an *Error; the HTTP layer answers it with 400.
type Error struct {
	ScimType string
	Detail   string
}

// Error returns the scimType and detail, prefixed "scimdoc: ".
func (e *Error) Error() string {
	return "scimdoc: " + e.ScimType + ": " + e.Detail
}

// Errorf returns an *Error of scimType with a formatted detail.
func Errorf(scimType, format string, args ...any) *Error {
	return &Error{ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}
