package scimdoc

import "strings"

// Schema URNs of the resources the bridge serves (RFC 7643 §8.7.1).
const (
	UserSchemaURN           = "urn:ietf:params:scim:schemas:core:2.0:User"
	GroupSchemaURN          = "urn:ietf:params:scim:schemas:core:2.0:Group"
	EnterpriseUserSchemaURN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
)

// Kind says which SCIM resource type a map holds.
type Kind int

// Resource kinds. The zero value is no kind; functions given it report
// that no attribute is known.
const (
	KindUser Kind = iota + 1
	KindGroup
)

// String returns the resource type name of k ("User", "Group"), or
// "unknown".
func (k Kind) String() string {
	switch k {
	case KindUser:
		return "User"
	case KindGroup:
		return "Group"
	}
	return "unknown"
}

// AttrType is a SCIM attribute data type (RFC 7643 §2.3), limited to the
// types the bridge's schemas use (no decimal or integer attribute exists).
type AttrType int

// Attribute types.
const (
	AttrString AttrType = iota
	AttrBoolean
	AttrComplex
	AttrReference
	AttrDateTime
	AttrBinary // base64 (RFC 7643 §2.3.6): x509Certificates.value
	AttrInteger
	AttrDecimal
	// AttrAny is an attribute of a custom extension (extension.go): its
	// value is kept as sent, whatever its JSON type.
	AttrAny
)

// String returns the RFC 7643 §2.3 keyword of the type ("dateTime").
func (t AttrType) String() string {
	switch t {
	case AttrBoolean:
		return "boolean"
	case AttrComplex:
		return "complex"
	case AttrReference:
		return "reference"
	case AttrDateTime:
		return "dateTime"
	case AttrBinary:
		return "binary"
	case AttrInteger:
		return "integer"
	case AttrDecimal:
		return "decimal"
	}
	return "string"
}

// Mutability is a SCIM attribute's mutability (RFC 7643 §7). The zero value
// is MutabilityReadWrite.
type Mutability int

// Mutabilities.
const (
	MutabilityReadWrite Mutability = iota
	MutabilityReadOnly
	MutabilityImmutable
	MutabilityWriteOnly
)

// String returns the RFC 7643 §7 keyword of the mutability ("readOnly").
func (m Mutability) String() string {
	switch m {
	case MutabilityReadOnly:
		return "readOnly"
	case MutabilityImmutable:
		return "immutable"
	case MutabilityWriteOnly:
		return "writeOnly"
	}
	return "readWrite"
}

// Returned says when an attribute appears in responses (RFC 7643 §7). The
// zero value is ReturnedDefault.
type Returned int

// Returned values.
const (
	ReturnedDefault Returned = iota // returned unless excludedAttributes names it
	ReturnedAlways                  // returned whatever the request asks
	ReturnedNever                   // never returned (password)
	ReturnedRequest                 // returned only when attributes names it
)

// String returns the RFC 7643 §7 keyword of the value ("always").
func (r Returned) String() string {
	switch r {
	case ReturnedAlways:
		return "always"
	case ReturnedNever:
		return "never"
	case ReturnedRequest:
		return "request"
	}
	return "default"
}

// Uniqueness says how the bridge enforces unique values of an attribute
// (RFC 7643 §7). The zero value is UniquenessNone.
type Uniqueness int

// Uniqueness values.
const (
	UniquenessNone   Uniqueness = iota
	UniquenessServer            // unique among the bridge's resources of a type
	UniquenessGlobal
)

// String returns the RFC 7643 §7 keyword of the value ("server").
func (u Uniqueness) String() string {
	switch u {
	case UniquenessServer:
		return "server"
	case UniquenessGlobal:
		return "global"
	}
	return "none"
}

// Attr describes one attribute or sub-attribute with the characteristics of
// RFC 7643 §7. It is the one definition the bridge has: body validation
// (Validate), PATCH, filters, sorting and the /Schemas document
// (SchemaResources) all read it. Attrs returned by this package are shared
// tables and must not be modified.
type Attr struct {
	Name        string // canonical spelling
	Type        AttrType
	MultiValued bool
	// Required attributes must be in every POST and PUT body (Validate
	// enforces it, except on read-only attributes).
	Required        bool
	CaseExact       bool
	Mutability      Mutability
	Returned        Returned
	Uniqueness      Uniqueness
	Description     string
	CanonicalValues []string // suggested values, e.g. emails.type
	ReferenceTypes  []string // for AttrReference: "User", "external", "uri"
	SubAttrs        []*Attr  // for AttrComplex
	// Schema is the URN of the schema that defines a top-level attribute.
	// Core attributes live at the top of a resource map, extension
	// attributes in the map stored under the extension's URN. Empty for
	// sub-attributes.
	Schema string
}

// Sub returns the sub-attribute called name, matched case-insensitively.
func (a *Attr) Sub(name string) (*Attr, bool) {
	return findAttr(a.SubAttrs, name)
}

// Schema is one schema's attribute table (RFC 7643 §7).
type Schema struct {
	URN         string
	Name        string // "User", "EnterpriseUser", "Group" (RFC 7643 §8.7.1)
	Description string
	Extension   bool // stored under URN in the resource map
	// Open marks a custom extension (extension.go): every attribute name
	// is known in it, with type AttrAny.
	Open  bool
	Attrs []*Attr
}

// Attr returns the attribute called name, matched case-insensitively. In
// an open schema every name that RFC 7644's ATTRNAME allows is known, as
// spelled.
func (s *Schema) Attr(name string) (*Attr, bool) {
	if a, ok := findAttr(s.Attrs, name); ok || !s.Open {
		return a, ok
	}
	if !simpleName(name) || strings.HasPrefix(name, "$") {
		return nil, false
	}
	return &Attr{Name: name, Type: AttrAny, Schema: s.URN}, true
}

func findAttr(attrs []*Attr, name string) (*Attr, bool) {
	for _, a := range attrs {
		if strings.EqualFold(a.Name, name) {
			return a, true
		}
	}
	return nil, false
}

// Schemas returns the schemas of kind: the core schema first, then its
// extensions. It returns nil for an unknown kind.
func Schemas(kind Kind) []*Schema {
	switch kind {
	case KindUser:
		return []*Schema{userSchema, enterpriseSchema}
	case KindGroup:
		return []*Schema{groupSchema}
	}
	return nil
}

// SchemaByURN returns the schema of kind whose URN is urn, matched
// case-insensitively.
func SchemaByURN(kind Kind, urn string) (*Schema, bool) {
	for _, s := range Schemas(kind) {
		if strings.EqualFold(s.URN, urn) {
			return s, true
		}
	}
	return nil, false
}

// LookupAttr returns the top-level attribute of kind called name. A name
// without a URN prefix is looked up in the core schema, then in the
// extensions (Entra's older "manager" path); a prefixed name
// ("urn:…:enterprise:2.0:User:department") only in the schema it names.
func LookupAttr(kind Kind, name string) (*Attr, bool) {
	if s, rest, ok := splitURN(kind, name); ok {
		return s.Attr(rest)
	}
	for _, s := range Schemas(kind) {
		if a, ok := s.Attr(name); ok {
			return a, true
		}
	}
	return nil, false
}

// CanonicalAttr returns the canonical spelling of an attribute name of kind,
// matched case-insensitively, and reports whether it is known. It accepts a
// plain name ("username"), a sub-attribute ("name.givenname"), a URN-prefixed
// name and an extension URN itself. Core attributes come back without
// prefix ("userName", "name.givenName"); extension attributes come back
// fully qualified ("urn:…:enterprise:2.0:User:department",
// "urn:…:enterprise:2.0:User:manager.value").
func CanonicalAttr(kind Kind, name string) (canonical string, ok bool) {
	if s, ok := extensionSchema(kind, name); ok {
		return s.URN, true
	}
	top, sub, hasSub := name, "", false
	if s, rest, ok := splitURN(kind, name); ok {
		top = rest
		if i := strings.IndexByte(rest, '.'); i >= 0 {
			top, sub, hasSub = rest[:i], rest[i+1:], true
		}
		a, ok := s.Attr(top)
		if !ok {
			return "", false
		}
		return qualifyAttr(a, sub, hasSub)
	}
	if i := strings.IndexByte(name, '.'); i >= 0 {
		top, sub, hasSub = name[:i], name[i+1:], true
	}
	a, ok := LookupAttr(kind, top)
	if !ok {
		return "", false
	}
	return qualifyAttr(a, sub, hasSub)
}

func qualifyAttr(a *Attr, sub string, hasSub bool) (string, bool) {
	name := a.Name
	if hasSub {
		s, ok := a.Sub(sub)
		if !ok {
			return "", false
		}
		name += "." + s.Name
	}
	if a.Schema != UserSchemaURN && a.Schema != GroupSchemaURN && a.Schema != "" {
		name = a.Schema + ":" + name
	}
	return name, true
}

// splitURN splits "urn:…:User:attr" into the schema of kind and "attr".
// A URN that is none of the bridge's schemas is split at its last colon
// into a custom extension and the attribute.
func splitURN(kind Kind, name string) (*Schema, string, bool) {
	for _, s := range Schemas(kind) {
		if len(name) > len(s.URN)+1 && strings.EqualFold(name[:len(s.URN)], s.URN) && name[len(s.URN)] == ':' {
			return s, name[len(s.URN)+1:], true
		}
	}
	if i := strings.LastIndexByte(name, ':'); i > 0 {
		if s, ok := customSchema(kind, name[:i]); ok {
			return s, name[i+1:], true
		}
	}
	return nil, "", false
}
