package scimdoc

// ResourceType describes one resource endpoint of the bridge (RFC 7643 §6):
// its name, endpoint, core schema and schema extensions. The schemas are
// the shared tables of Schemas and must not be modified.
type ResourceType struct {
	Kind        Kind
	Name        string // "User"; also the resource type's id and meta.resourceType
	Endpoint    string // "/Users", relative to the base URL
	Description string
	Schema      *Schema   // the core schema
	Extensions  []*Schema // schema extensions, all optional
}

// ResourceTypes returns the resource types the bridge serves: User, then
// Group.
func ResourceTypes() []ResourceType {
	return []ResourceType{KindUser.ResourceType(), KindGroup.ResourceType()}
}

// ResourceType returns the resource type of k, built from the same tables
// as Schemas(k). It returns the zero ResourceType for an unknown kind.
func (k Kind) ResourceType() ResourceType {
	s := Schemas(k)
	if len(s) == 0 {
		return ResourceType{}
	}
	rt := ResourceType{Kind: k, Name: k.String(), Schema: s[0], Extensions: s[1:]}
	switch k {
	case KindUser:
		rt.Endpoint, rt.Description = "/Users", "User Account"
	case KindGroup:
		rt.Endpoint, rt.Description = "/Groups", "Group"
	}
	return rt
}
