// Package scim is the bridge's HTTP surface: the /scim/v2 endpoints IdPs
// call (RFC 7644), authentication, request limits, SCIM error bodies,
// health and readiness.
//
// Each resource endpoint (/Users, /Groups) is one handler over a
// mapping.Resource; nothing in it depends on the resource type. Documents
// are parsed and checked with package scimdoc, and errors are turned into
// SCIM error responses in one place (toSCIMError: codes to statuses).
// Requests are reported through Config's observer hook, and LogHandler
// puts the request id into every log line written with a request's context.
package scim
