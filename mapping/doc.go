// Package mapping is the provisioner: it carries SCIM resources into UiPath
// objects and keeps the mapping store in step, so that the store only ever
// records what UiPath confirmed.
//
// Its contract with the HTTP layer is Resource, one per SCIM resource type
// (Provisioner.Users, Provisioner.Groups): create, get, replace, patch,
// delete and list, each checking If-Match inside the resource's lock. It
// decides adoption of existing UiPath accounts and groups, the
// deprovisioning policy, and which upstream calls carry a membership change
// (the planner). Document rules (PATCH, filters, schemas) come from
// package scimdoc.
//
// Every error a Resource returns is an *Error with a Code (not found,
// conflict, invalid, mutability, precondition, unavailable, throttled,
// internal); the package knows nothing of HTTP statuses. Every write, and
// every call the write scheduler sends, is recorded in the store's audit
// log with the Actor its context carries (audit.go). It logs with the
// request's context, so a context-aware handler can name the request.
package mapping
