// Package scimdoc is the bridge's SCIM document engine: every rule about a
// SCIM document that an IdP sends or receives lives here once, and nothing
// here knows about UiPath, the store or HTTP.
//
// It holds the one schema definition of the resources the bridge serves
// (schema.go, resourcetype.go: RFC 7643 §4, §6) and the rules built on it:
// request bodies (NormalizeResource, Clean), PATCH (ParsePatch, ApplyPatch,
// PatchGroup; RFC 7644 §3.5.2), filters (CompileFilter; §3.4.2.2), sorting
// (CompileSort; §3.4.2.3), attribute projection (NewProjection; §3.4.2.5),
// member values (MemberIDs), entity tags (ETag, MatchETag; §3.14) and
// booleans (Bool). The Okta and Entra ID dialects (string booleans,
// path-less PATCH values with dotted keys, member removal by value, the
// manager as a bare id) are accepted by these same functions.
//
// Bad input is always reported as an *Error carrying the RFC 7644 §3.12
// scimType and a detail safe to show to the client; the HTTP layer answers
// it with 400.
package scimdoc
