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
// types the bridge's schemas use.
type AttrType int

// Attribute types.
const (
	AttrString AttrType = iota
	AttrBoolean
	AttrComplex
	AttrReference
	AttrDateTime
)

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

// Attr describes one attribute or sub-attribute. Attrs returned by this
// package are shared tables and must not be modified.
type Attr struct {
	Name        string // canonical spelling
	Type        AttrType
	MultiValued bool
	CaseExact   bool
	Mutability  Mutability
	SubAttrs    []*Attr // for AttrComplex
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

// Schema is one schema's attribute table.
type Schema struct {
	URN       string
	Extension bool // stored under URN in the resource map
	Attrs     []*Attr
}

// Attr returns the attribute called name, matched case-insensitively.
func (s *Schema) Attr(name string) (*Attr, bool) {
	return findAttr(s.Attrs, name)
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
	if s, ok := SchemaByURN(kind, name); ok && s.Extension {
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
	if s, ok := schemaOfAttr(a); ok && s.Extension {
		name = s.URN + ":" + name
	}
	return name, true
}

func schemaOfAttr(a *Attr) (*Schema, bool) {
	for _, s := range []*Schema{userSchema, enterpriseSchema, groupSchema} {
		if s.URN == a.Schema {
			return s, true
		}
	}
	return nil, false
}

// splitURN splits "urn:…:User:attr" into the schema of kind and "attr".
func splitURN(kind Kind, name string) (*Schema, string, bool) {
	for _, s := range Schemas(kind) {
		if len(name) > len(s.URN)+1 && strings.EqualFold(name[:len(s.URN)], s.URN) && name[len(s.URN)] == ':' {
			return s, name[len(s.URN)+1:], true
		}
	}
	return nil, "", false
}

func defString(name string) *Attr { return &Attr{Name: name, Type: AttrString} }

func defExact(name string) *Attr { return &Attr{Name: name, Type: AttrString, CaseExact: true} }

func defRef(name string) *Attr { return &Attr{Name: name, Type: AttrReference} }

func defBool(name string) *Attr { return &Attr{Name: name, Type: AttrBoolean} }

func defComplex(name string, subs ...*Attr) *Attr {
	return &Attr{Name: name, Type: AttrComplex, SubAttrs: subs}
}

func defMulti(name string, subs ...*Attr) *Attr {
	return &Attr{Name: name, Type: AttrComplex, MultiValued: true, SubAttrs: subs}
}

func defReadOnly(a *Attr) *Attr {
	a.Mutability = MutabilityReadOnly
	return a
}

// plural is the sub-attribute set of RFC 7643 §2.4 multi-valued attributes.
func defPlural(name string) *Attr {
	return defMulti(name, defString("value"), defString("display"), defString("type"), defBool("primary"))
}

func defMeta() *Attr {
	return defReadOnly(defComplex("meta", defExact("resourceType"), &Attr{Name: "created", Type: AttrDateTime},
		&Attr{Name: "lastModified", Type: AttrDateTime}, &Attr{Name: "location", Type: AttrReference, CaseExact: true}, defExact("version")))
}

func defSchema(urn string, attrs ...*Attr) []*Attr {
	for _, a := range attrs {
		a.Schema = urn
	}
	return attrs
}

// userSchema is RFC 7643 §4.1.
var userSchema = &Schema{URN: UserSchemaURN, Attrs: defSchema(UserSchemaURN,
	defReadOnly(defExact("id")),
	defExact("externalId"),
	defMeta(),
	defString("userName"),
	defComplex("name", defString("formatted"), defString("familyName"), defString("givenName"), defString("middleName"),
		defString("honorificPrefix"), defString("honorificSuffix")),
	defString("displayName"),
	defString("nickName"),
	defRef("profileUrl"),
	defString("title"),
	defString("userType"),
	defString("preferredLanguage"),
	defString("locale"),
	defString("timezone"),
	defBool("active"),
	&Attr{Name: "password", Type: AttrString, Mutability: MutabilityWriteOnly},
	defPlural("emails"),
	defPlural("phoneNumbers"),
	defPlural("ims"),
	defMulti("photos", defRef("value"), defString("display"), defString("type"), defBool("primary")),
	defMulti("addresses", defString("formatted"), defString("streetAddress"), defString("locality"), defString("region"),
		defString("postalCode"), defString("country"), defString("type"), defBool("primary")),
	defReadOnly(defMulti("groups", defExact("value"), defRef("$ref"), defString("display"), defString("type"))),
	defPlural("entitlements"),
	defPlural("roles"),
	defPlural("x509Certificates"),
)}

// enterpriseSchema is RFC 7643 §4.3.
var enterpriseSchema = &Schema{URN: EnterpriseUserSchemaURN, Extension: true, Attrs: defSchema(EnterpriseUserSchemaURN,
	defString("employeeNumber"),
	defString("costCenter"),
	defString("organization"),
	defString("division"),
	defString("department"),
	defComplex("manager", defExact("value"), defRef("$ref"), defString("displayName")),
)}

// groupSchema is RFC 7643 §4.2, with the display sub-attribute IdPs send
// on members.
var groupSchema = &Schema{URN: GroupSchemaURN, Attrs: defSchema(GroupSchemaURN,
	defReadOnly(defExact("id")),
	defExact("externalId"),
	defMeta(),
	defString("displayName"),
	defMulti("members", defExact("value"), defRef("$ref"), defString("display"), defString("type")),
)}
