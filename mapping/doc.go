// Package mapping is the bridge core: it translates SCIM resources into
// UiPath objects and back, applies PATCH operations, plans the upstream calls
// a membership change needs, and carries every change through the upstream
// client and the mapping store so that the store only ever records what
// UiPath confirmed.
//
// The Provisioner is the entry point for the HTTP layer: one method per SCIM
// operation (create, get, replace, patch, delete, list) for users and
// groups. Its errors are *Error values that carry the SCIM status and
// scimType, or *upstream.Error values when UiPath failed.
package mapping
