// Package logpii keeps personal data (userNames, emails, display names,
// externalIds) in logs as the operator chose: in full, as a short hash,
// or not at all (SCIM_BRIDGE_LOG_PII).
//
// A package that logs personal data wraps it in Value; the process
// logger's handler, wrapped by Handler with the configured Mode, renders
// it. Without such a handler a Value logs as its hash, the default mode:
// a library logging to a plain handler (a test's) never writes personal
// data in full by accident. The mode lives in the handler, so there is no
// package-level state.
//
// Ids (SCIM ids, UiPath GUIDs) are not personal data and are logged as
// they are; the audit trail is not a log and keeps names in full.
package logpii
