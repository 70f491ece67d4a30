package scimdoc

import (
	"regexp"
	"strings"
	"time"
)

// Validate checks a POST or PUT body (RFC 7644 §3.3, §3.5.1) for a resource
// of kind against the schema tables and returns the attributes it sets: plain
// decoded JSON (map[string]any, []any, string, bool) under canonical names,
// the form the rest of the engine patches and stores. body is not modified;
// numbers may be float64 or json.Number. Every error is an *Error.
//
// The rules are those of the elimity-com/scim validator the bridge used
// before, so that what Okta and Entra ID send is accepted as it was:
//
//   - The body is first normalised with NormalizeResource (Entra's string
//     booleans and bare-string manager).
//   - "schemas" must be an array listing kind's core schema URN, both matched
//     case-insensitively (RFC 7644 §3.10), else invalidSyntax. Extension
//     URNs need not be listed. "schemas" is not part of the result.
//   - Attribute and sub-attribute names match case-insensitively (RFC 7643
//     §2.1). Two spellings of one name in one object are invalidSyntax.
//   - Unknown attributes, sub-attributes and extension objects are dropped
//     silently, not rejected: IdPs send extras (Okta custom attributes,
//     Entra's top-level "manager": null), and the bridge never rejected them.
//   - Read-only attributes (id, meta, groups, manager.displayName) are
//     ignored, whatever their value. Immutable and writeOnly attributes are
//     accepted: POST and PUT may set them (RFC 7643 §7).
//   - null and an empty array mean unassigned (RFC 7644 §3.5.1) and are left
//     out of the result. A required attribute (userName, a Group's
//     displayName) that is missing or null is invalidValue.
//   - Each value must have its attribute's type, else invalidValue naming the
//     attribute: strings and references a JSON string, booleans a boolean
//     (or a string Bool reads), dateTime an xsd:dateTime string, binary a
//     base64 string, complex an object, multi-valued an array. A
//     multi-valued complex attribute given one object is read as an array
//     of it, as PATCH does. Repeated entries (same value and type) are
//     kept once (RFC 7643 §2.4).
//   - An extension object, under its URN, is checked the same way against
//     the extension schema and kept when it sets anything.
//   - A custom extension object (extension.go) is kept as sent, without its
//     null members, when "schemas" lists its URN; it must be an object.
//     Unlisted ones are dropped, as other unknown attributes are.
func Validate(kind Kind, body map[string]any) (map[string]any, error) {
	rt := kind.ResourceType()
	if rt.Schema == nil {
		return nil, Errorf(ScimTypeInvalidValue, "unknown resource type %v", kind)
	}
	if body == nil {
		return nil, Errorf(ScimTypeInvalidSyntax, "the request body must be a JSON object")
	}
	body, _ = copyValue(body).(map[string]any)
	NormalizeResource(body)
	if err := checkSchemas(body, rt.Schema.URN); err != nil {
		return nil, err
	}
	out, err := validateAttrs(rt.Schema.Attrs, body, "")
	if err != nil {
		return nil, err
	}
	for _, ext := range rt.Extensions {
		m, err := extensionObject(body, ext.URN)
		if err != nil {
			return nil, err
		}
		if m == nil {
			continue
		}
		attrs, err := validateAttrs(ext.Attrs, m, ext.URN+":")
		if err != nil {
			return nil, err
		}
		if len(attrs) > 0 {
			out[ext.URN] = attrs
		}
	}
	for _, urn := range declaredSchemas(body) {
		if _, ok := customSchema(kind, urn); !ok {
			continue
		}
		m, err := extensionObject(body, urn)
		if err != nil {
			return nil, err
		}
		if attrs := customAttrs(m); len(attrs) > 0 {
			out[urn] = attrs
		}
	}
	return out, nil
}

// extensionObject returns the object the body holds under an extension's
// URN, nil when it holds none (or null), and an invalidValue error when it
// holds anything but an object.
func extensionObject(body map[string]any, urn string) (map[string]any, *Error) {
	v, err := field(body, urn, "")
	if err != nil || v == nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, Errorf(ScimTypeInvalidValue, "%q must be an object", urn)
	}
	return m, nil
}

// declaredSchemas returns the URNs the body's "schemas" lists.
func declaredSchemas(body map[string]any) []string {
	var list []string
	switch x := foldGet(body, "schemas").(type) {
	case []any:
		for _, e := range x {
			if s, ok := e.(string); ok {
				list = append(list, s)
			}
		}
	case []string:
		list = x
	}
	return list
}

// checkSchemas enforces that the schemas attribute lists urn.
func checkSchemas(body map[string]any, urn string) *Error {
	v, err := field(body, "schemas", "")
	if err != nil {
		return err
	}
	if !isList(v) {
		if _, ok := v.([]string); !ok {
			v = nil
		}
	}
	for _, s := range declaredSchemas(map[string]any{"schemas": v}) {
		if strings.EqualFold(s, urn) {
			return nil
		}
	}
	return Errorf(ScimTypeInvalidSyntax, "the \"schemas\" attribute must list %s", urn)
}

// field returns the value of name in m, matched case-insensitively; nil if
// absent. Two keys spelling name differently are invalidSyntax.
func field(m map[string]any, name, prefix string) (any, *Error) {
	var hit any
	found := false
	for k, v := range m {
		if !strings.EqualFold(k, name) {
			continue
		}
		if found {
			return nil, Errorf(ScimTypeInvalidSyntax, "attribute %q is given more than once", prefix+name)
		}
		hit, found = v, true
	}
	return hit, nil
}

// validateAttrs checks the attributes of one object (a resource, an
// extension object or a complex value) and returns those it sets. prefix
// names the object in errors: "", "urn:…:User:", "name.".
func validateAttrs(attrs []*Attr, obj map[string]any, prefix string) (map[string]any, *Error) {
	out := make(map[string]any, len(obj))
	for _, a := range attrs {
		v, err := field(obj, a.Name, prefix)
		if err != nil {
			return nil, err
		}
		got, err := validateAttr(a, v, prefix+a.Name)
		if err != nil {
			return nil, err
		}
		if got != nil {
			out[a.Name] = got
		}
	}
	return out, nil
}

// validateAttr checks one attribute's value; nil means it sets nothing.
func validateAttr(a *Attr, v any, path string) (any, *Error) {
	if v == nil {
		if a.Required && a.Mutability != MutabilityReadOnly {
			return nil, Errorf(ScimTypeInvalidValue, "attribute %q is required", path)
		}
		return nil, nil
	}
	if a.Mutability == MutabilityReadOnly {
		return nil, nil
	}
	if !a.MultiValued {
		return validateValue(a, v, path)
	}
	var items []any
	switch {
	case isList(v):
		items = listOf(v)
	case a.Type == AttrComplex && isObject(v):
		items = []any{v}
	default:
		return nil, Errorf(ScimTypeInvalidValue, "attribute %q must be an array", path)
	}
	if len(items) == 0 {
		if a.Required {
			return nil, Errorf(ScimTypeInvalidValue, "attribute %q is required", path)
		}
		return nil, nil
	}
	out := make([]any, 0, len(items))
	for _, it := range items {
		got, err := validateValue(a, it, path)
		if err != nil {
			return nil, err
		}
		out = append(out, got)
	}
	if a.Type == AttrComplex {
		out = dedupe(a, out)
	}
	return out, nil
}

func isObject(v any) bool {
	_, ok := v.(map[string]any)
	return ok
}

// base64Value is what elimity-com/scim accepted as binary: padded standard
// base64 without line breaks (RFC 7643 §2.3.6, RFC 4648 §4).
var base64Value = regexp.MustCompile(`^([A-Za-z0-9+/]{4})*([A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2}==)?$`)

// validateValue checks one (non-null) value of a, or one element of a
// multi-valued a.
func validateValue(a *Attr, v any, path string) (any, *Error) {
	switch a.Type {
	case AttrBoolean:
		if b, ok := Bool(v); ok {
			return b, nil
		}
		return nil, Errorf(ScimTypeInvalidValue, "attribute %q must be a boolean", path)
	case AttrComplex:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, Errorf(ScimTypeInvalidValue, "attribute %q must be an object", path)
		}
		return validateAttrs(a.SubAttrs, m, path+".")
	}
	s, ok := v.(string)
	if !ok {
		return nil, Errorf(ScimTypeInvalidValue, "attribute %q must be a string", path)
	}
	switch {
	case a.Type == AttrDateTime && !isDateTime(s):
		return nil, Errorf(ScimTypeInvalidValue, "attribute %q must be a dateTime such as 2008-01-23T04:56:22Z", path)
	case a.Type == AttrBinary && !base64Value.MatchString(s):
		return nil, Errorf(ScimTypeInvalidValue, "attribute %q must be base64", path)
	}
	return s, nil
}

// isDateTime reports whether s is an xsd:dateTime (RFC 7643 §2.3.5), with
// or without a time zone.
func isDateTime(s string) bool {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}
