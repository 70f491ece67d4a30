// Package scim is the bridge's HTTP surface: the /scim/v2 endpoints IdPs
// call (RFC 7644), authentication, request limits, SCIM error bodies,
// health and readiness.
//
// Resource endpoints (/Users, /Groups) are served here so that every status
// code, header (ETag, Location, Retry-After) and IdP dialect quirk is under
// the bridge's control; elimity-com/scim supplies the schemas, request
// validation, filter evaluation and the discovery endpoints (/Schemas,
// /ResourceTypes).
package scim
