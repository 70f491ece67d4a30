package scimdoc

// ResourceType describes one resource type the bridge serves (RFC 7643 §6).
type ResourceType struct {
	Kind        Kind
	Name        string // "User": meta.resourceType
	Endpoint    string // "/Users"
	Description string
	Schema      *Schema   // the core schema
	Extensions  []*Schema // schema extensions
}

// ResourceTypes returns the resource types the bridge serves.
func ResourceTypes() []ResourceType {
	return []ResourceType{KindUser.ResourceType(), KindGroup.ResourceType()}
}

// ResourceType returns the description of k's resource type.
func (k Kind) ResourceType() ResourceType {
	switch k {
	case KindUser:
		return ResourceType{Kind: k, Name: "User", Endpoint: "/Users", Description: "User Account", Schema: userSchema, Extensions: []*Schema{enterpriseSchema}}
	case KindGroup:
		return ResourceType{Kind: k, Name: "Group", Endpoint: "/Groups", Description: "Group", Schema: groupSchema}
	}
	return ResourceType{}
}
