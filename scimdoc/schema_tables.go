package scimdoc

// The schema tables below are the bridge's one schema definition. They say
// what the bridge does, which is RFC 7643 §4 and §8.7.1 except where noted:
// the bridge also enforces unique externalIds per resource type and unique
// group displayNames (UiPath group names are unique), so those say
// uniqueness "server".

func defAttr(t AttrType, name, desc string) *Attr {
	return &Attr{Name: name, Type: t, Description: desc}
}

func defString(name, desc string) *Attr { return defAttr(AttrString, name, desc) }

func defExact(name, desc string) *Attr { return defString(name, desc).exact() }

func defBool(name, desc string) *Attr { return defAttr(AttrBoolean, name, desc) }

func defDateTime(name, desc string) *Attr { return defAttr(AttrDateTime, name, desc) }

// defRef is a reference. RFC 7643 §2.3.7 calls references case-exact, but
// the bridge's filters and PATCH compare them case-insensitively, and the
// tables say what the bridge does; meta.location is the exception.
func defRef(name, desc string, refTypes ...string) *Attr {
	a := defAttr(AttrReference, name, desc)
	a.ReferenceTypes = refTypes
	return a
}

func defComplex(name, desc string, subs ...*Attr) *Attr {
	a := defAttr(AttrComplex, name, desc)
	a.SubAttrs = subs
	return a
}

func defMulti(name, desc string, subs ...*Attr) *Attr {
	a := defComplex(name, desc, subs...)
	a.MultiValued = true
	return a
}

// defPlural is a multi-valued attribute with the sub-attributes of RFC 7643
// §2.4 and the canonical type values of its §4.1.2 definition.
func defPlural(name, desc, what string, types ...string) *Attr {
	return defMulti(name, desc,
		defString("value", what),
		defString("display", "A human-readable name, primarily used for display purposes."),
		defString("type", "A label indicating the attribute's function.").canonical(types...),
		defBool("primary", "A Boolean value indicating the preferred value; at most one value is primary."),
	)
}

func (a *Attr) exact() *Attr {
	a.CaseExact = true
	return a
}

func (a *Attr) required() *Attr {
	a.Required = true
	return a
}

// readOnly marks a and its sub-attributes read-only (RFC 7643 §8.7.1 does
// the same for meta and groups).
func (a *Attr) readOnly() *Attr {
	a.Mutability = MutabilityReadOnly
	for _, s := range a.SubAttrs {
		s.readOnly()
	}
	return a
}

func (a *Attr) immutable() *Attr {
	a.Mutability = MutabilityImmutable
	return a
}

func (a *Attr) unique() *Attr {
	a.Uniqueness = UniquenessServer
	return a
}

func (a *Attr) canonical(values ...string) *Attr {
	a.CanonicalValues = values
	return a
}

func defSchema(urn string, attrs ...*Attr) []*Attr {
	for _, a := range attrs {
		a.Schema = urn
	}
	return attrs
}

// defID is the common attribute id (RFC 7643 §3.1).
func defID() *Attr {
	a := defExact("id", "Unique identifier for the resource, assigned by the bridge.").readOnly().unique()
	a.Returned = ReturnedAlways
	return a
}

// defExternalID is the common attribute externalId (RFC 7643 §3.1).
func defExternalID() *Attr {
	return defExact("externalId", "An identifier for the resource as defined by the provisioning client; "+
		"unique among the bridge's resources of a type.").unique()
}

// defMeta is the common attribute meta (RFC 7643 §3.1).
func defMeta() *Attr {
	return defComplex("meta", "A complex attribute containing resource metadata.",
		defExact("resourceType", "The name of the resource type of the resource."),
		defDateTime("created", "The DateTime that the resource was added to the service provider."),
		defDateTime("lastModified", "The most recent DateTime that the details of this resource were updated."),
		defRef("location", "The URI of the resource being returned.", "uri").exact(),
		defExact("version", "The version (entity tag) of the resource being returned."),
	).readOnly()
}

// userSchema is RFC 7643 §4.1.
var userSchema = &Schema{
	URN: UserSchemaURN, Name: "User", Description: "User Account",
	Attrs: defSchema(UserSchemaURN,
		defID(),
		defExternalID(),
		defMeta(),
		defString("userName", "Unique identifier for the User, used by the user to sign in. REQUIRED.").required().unique(),
		defComplex("name", "The components of the user's real name.",
			defString("formatted", "The full name, formatted for display."),
			defString("familyName", "The family name of the User, or last name."),
			defString("givenName", "The given name of the User, or first name."),
			defString("middleName", "The middle name(s) of the User."),
			defString("honorificPrefix", "The honorific prefix(es) of the User, e.g. 'Ms.'."),
			defString("honorificSuffix", "The honorific suffix(es) of the User, e.g. 'III'."),
		),
		defString("displayName", "The name of the User, suitable for display to end-users."),
		defString("nickName", "The casual way to address the user in real life."),
		defRef("profileUrl", "A fully qualified URL pointing to a page representing the User's online profile.", "external"),
		defString("title", "The user's title, such as 'Vice President'."),
		defString("userType", "The relationship between the organization and the user, e.g. 'Employee'."),
		defString("preferredLanguage", "The User's preferred written or spoken language, e.g. 'en-US'."),
		defString("locale", "The User's default location for localizing currency, dates and numbers, e.g. 'en-US'."),
		defString("timezone", "The User's time zone in the 'Olson' format, e.g. 'America/Los_Angeles'."),
		defBool("active", "A Boolean value indicating the User's administrative status."),
		passwordAttr(),
		defPlural("emails", "Email addresses for the user.", "Email address for the user.", "work", "home", "other"),
		defPlural("phoneNumbers", "Phone numbers for the User.", "Phone number of the User.",
			"work", "home", "mobile", "fax", "pager", "other"),
		defPlural("ims", "Instant messaging addresses for the User.", "Instant messaging address for the User.",
			"aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"),
		defMulti("photos", "URLs of photos of the User.",
			defRef("value", "URL of a photo of the User.", "external"),
			defString("display", "A human-readable name, primarily used for display purposes."),
			defString("type", "A label indicating the attribute's function.").canonical("photo", "thumbnail"),
			defBool("primary", "A Boolean value indicating the preferred photo."),
		),
		defMulti("addresses", "A physical mailing address for this User.",
			defString("formatted", "The full mailing address, formatted for display."),
			defString("streetAddress", "The full street address component."),
			defString("locality", "The city or locality component."),
			defString("region", "The state or region component."),
			defString("postalCode", "The zip code or postal code component."),
			defString("country", "The country name component."),
			defString("type", "A label indicating the attribute's function.").canonical("work", "home", "other"),
			defBool("primary", "A Boolean value indicating the preferred mailing address."),
		),
		defMulti("groups", "A list of groups to which the user belongs, managed through the Group resource.",
			defExact("value", "The identifier of the User's group."),
			defRef("$ref", "The URI of the corresponding Group resource.", "User", "Group"),
			defString("display", "A human-readable name, primarily used for display purposes."),
			defString("type", "A label indicating the membership.").canonical("direct", "indirect"),
		).readOnly(),
		defPlural("entitlements", "A list of entitlements for the User.", "The value of an entitlement."),
		defPlural("roles", "A list of roles for the User.", "The value of a role."),
		defMulti("x509Certificates", "A list of certificates issued to the User.",
			defAttr(AttrBinary, "value", "The value of an X.509 certificate, base64-encoded DER.").exact(),
			defString("display", "A human-readable name, primarily used for display purposes."),
			defString("type", "A label indicating the attribute's function."),
			defBool("primary", "A Boolean value indicating the preferred certificate."),
		),
	),
}

// passwordAttr is writeOnly and never returned (RFC 7643 §4.1.1); the
// bridge does not keep it (Clean drops it).
func passwordAttr() *Attr {
	a := defString("password", "The User's cleartext password, accepted on create and replace; never returned.")
	a.Mutability = MutabilityWriteOnly
	a.Returned = ReturnedNever
	return a
}

// enterpriseSchema is RFC 7643 §4.3. The manager's displayName is
// read-only there, and POST/PUT bodies drop it.
var enterpriseSchema = &Schema{
	URN: EnterpriseUserSchemaURN, Name: "EnterpriseUser", Description: "Enterprise User", Extension: true,
	Attrs: defSchema(EnterpriseUserSchemaURN,
		defString("employeeNumber", "Numeric or alphanumeric identifier assigned to a person by the organization."),
		defString("costCenter", "Identifies the name of a cost center."),
		defString("organization", "Identifies the name of an organization."),
		defString("division", "Identifies the name of a division."),
		defString("department", "Identifies the name of a department."),
		defComplex("manager", "The User's manager.",
			defExact("value", "The id of the SCIM resource representing the User's manager."),
			defRef("$ref", "The URI of the SCIM resource representing the User's manager.", "User"),
			defString("displayName", "The displayName of the User's manager.").readOnly(),
		),
	),
}

// groupSchema is RFC 7643 §4.2, with the display sub-attribute IdPs send
// on members. Member sub-attributes are immutable: a member is added or
// removed, never edited in place.
var groupSchema = &Schema{
	URN: GroupSchemaURN, Name: "Group", Description: "Group",
	Attrs: defSchema(GroupSchemaURN,
		defID(),
		defExternalID(),
		defMeta(),
		defString("displayName", "A human-readable name for the Group; unique among the bridge's groups. REQUIRED.").required().unique(),
		defMulti("members", "A list of members of the Group.",
			defExact("value", "Identifier of the member of this Group.").immutable(),
			defRef("$ref", "The URI corresponding to a SCIM resource that is a member of this Group.", "User", "Group").immutable(),
			memberDisplay(),
			defString("type", "A label indicating the type of resource.").canonical("User", "Group").immutable(),
		),
	),
}

// memberDisplay is accepted from the IdP (Entra sends it) and not kept:
// the store holds member ids only, so /Schemas says it is never returned,
// which is what the bridge does.
func memberDisplay() *Attr {
	a := defString("display", "A human-readable name for the member; accepted and not kept (the bridge stores member ids), so never returned.").immutable()
	a.Returned = ReturnedNever
	return a
}
