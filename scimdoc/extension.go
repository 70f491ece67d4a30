package scimdoc

import (
	"fmt"
	"strings"
)

// Custom schema extensions.
//
// IdP admins map attributes of their own into extension schemas:
// Entra ID writes them as "urn:ietf:params:scim:schemas:extension:<name>:2.0:User:<attr>",
// Okta sends them in an extension object whose URN the body's "schemas"
// lists. The bridge cannot know these schemas in advance, and UiPath has no
// place for them, so it keeps their attributes as sent in the stored SCIM
// document and nowhere else: they are returned, usable in filters and
// projections, and never sent to UiPath.
//
// A custom extension is open: any attribute name (RFC 7644 ATTRNAME) is
// known in it, with type AttrAny, single-valued, no sub-attributes. Which
// URNs are custom extensions is decided here once (customSchema); the
// attributes an operator declares by configuration only change what
// /Schemas says (Extension.Schema).

// customPrefixes are URN prefixes that name SCIM's own schemas and
// messages, never a custom extension.
var customPrefixes = []string{"urn:ietf:params:scim:schemas:core:", "urn:ietf:params:scim:api:"}

// customSchema returns the open schema of urn when urn can name a custom
// extension of kind: a URN ("urn:" and at least two more segments) that is
// not one of the bridge's schemas nor under SCIM's core or API namespaces.
func customSchema(kind Kind, urn string) (*Schema, bool) {
	if kind.ResourceType().Schema == nil || len(urn) < 5 || !strings.EqualFold(urn[:4], "urn:") ||
		strings.Count(urn, ":") < 2 || strings.HasSuffix(urn, ":") ||
		strings.ContainsAny(urn, " \t\"[]()") {
		return nil, false
	}
	for _, p := range customPrefixes {
		if len(urn) >= len(p) && strings.EqualFold(urn[:len(p)], p) {
			return nil, false
		}
	}
	for _, k := range []Kind{KindUser, KindGroup} {
		if _, ok := SchemaByURN(k, urn); ok {
			return nil, false
		}
	}
	return &Schema{URN: urn, Name: urn[strings.LastIndexByte(urn, ':')+1:], Extension: true, Open: true}, true
}

// extensionSchema returns the extension of kind that a whole URN names: one
// of the bridge's extensions, or a custom extension whose URN ends in the
// resource type's name (":User"), which tells it apart from a URN-prefixed
// attribute ("urn:…:acme:2.0:User" against "urn:…:acme:2.0:User:costCenter").
func extensionSchema(kind Kind, urn string) (*Schema, bool) {
	if s, ok := SchemaByURN(kind, urn); ok {
		return s, s.Extension
	}
	s, ok := customSchema(kind, urn)
	if !ok || !strings.EqualFold(s.Name, kind.String()) {
		return nil, false
	}
	return s, true
}

// schemaFor returns the schema of kind that urn names: one of the bridge's,
// or a custom extension.
func schemaFor(kind Kind, urn string) (*Schema, bool) {
	if s, ok := SchemaByURN(kind, urn); ok {
		return s, true
	}
	return customSchema(kind, urn)
}

// IsExtensionKey reports whether key, a top-level member of a stored
// document of kind, holds an extension object: one of the bridge's
// extensions or a custom one (see customSchema). Responses list such keys
// in "schemas".
func IsExtensionKey(kind Kind, key string) bool {
	if s, ok := SchemaByURN(kind, key); ok {
		return s.Extension
	}
	_, ok := customSchema(kind, key)
	return ok
}

// customAttrs reads a custom extension object of a POST or PUT body: kept
// as sent, but without null members and empty arrays, which unassign
// (RFC 7644 §3.5.1).
func customAttrs(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if v == nil {
			continue
		}
		if l, ok := v.([]any); ok && len(l) == 0 {
			continue
		}
		out[k] = copyValue(v)
	}
	return out
}

// Extension is a custom schema extension an operator declares, so that
// /Schemas and /ResourceTypes list it (SchemaResources,
// ResourceTypeResources). Declaring one changes nothing else: attributes of
// any custom extension are kept as sent whether declared or not, and Type
// describes what the IdP is expected to send without being enforced.
type Extension struct {
	// URN is the schema's id. One that ends in ":Group" extends Group;
	// any other extends User.
	URN   string
	Attrs []ExtensionAttr
}

// ExtensionAttr is one declared attribute of an Extension.
type ExtensionAttr struct {
	Name string
	Type AttrType
}

// ParseAttrType returns the AttrType of an RFC 7643 §2.3 keyword that a
// declared extension attribute may have ("string", "boolean", "integer",
// "decimal", "dateTime", "reference", "binary"), matched
// case-insensitively.
func ParseAttrType(s string) (AttrType, bool) {
	for _, t := range []AttrType{AttrString, AttrBoolean, AttrInteger, AttrDecimal, AttrDateTime, AttrReference, AttrBinary} {
		if strings.EqualFold(t.String(), s) {
			return t, true
		}
	}
	return 0, false
}

// Kind returns the resource type e extends.
func (e Extension) Kind() Kind {
	if strings.HasSuffix(strings.ToLower(e.URN), ":group") {
		return KindGroup
	}
	return KindUser
}

// Check reports why e cannot be declared: a URN that is not a custom
// extension's (see customSchema), or an attribute name that RFC 7644's
// ATTRNAME does not allow. It returns nil when e is fine.
func (e Extension) Check() error {
	if _, ok := customSchema(e.Kind(), e.URN); !ok {
		return fmt.Errorf("%q is not a custom extension URN (urn:…, outside SCIM's core and API namespaces)", e.URN)
	}
	for _, a := range e.Attrs {
		if !simpleName(a.Name) || strings.HasPrefix(a.Name, "$") {
			return fmt.Errorf("%q is not a valid attribute name", a.Name)
		}
	}
	return nil
}

// schema returns the schema table /Schemas renders for e.
func (e Extension) schema() *Schema {
	s := &Schema{URN: e.URN, Name: e.URN, Extension: true, Open: true,
		Description: "Custom extension; its attributes are kept as sent and returned, and never sent to UiPath."}
	for _, a := range e.Attrs {
		s.Attrs = append(s.Attrs, &Attr{Name: a.Name, Type: a.Type, Schema: e.URN,
			Description: "Custom attribute, kept as sent."})
	}
	return s
}
