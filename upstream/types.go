package upstream

// Wire types of the UiPath Identity Server Platform Management API
// (../shared/upstream-api.md). JSON names follow the API's irregular casing
// (groupIDs, directoryUserIDsToAdd, ...). Enums travel as numbers.

// User type codes (upstream-api.md §0).
const (
	UserTypeUser          = 0
	UserTypeRobot         = 1
	UserTypeDirectoryUser = 2
)

// Group type codes.
const (
	GroupTypeBuiltIn = 0
	GroupTypeCustom  = 1
)

// User is a UiPath user as returned by GET /User/{id}, the user list and
// BulkCreate. Nullable strings are pointers.
type User struct {
	ID                         string   `json:"id"`
	UserName                   string   `json:"userName"`
	Email                      string   `json:"email"`
	EmailConfirmed             bool     `json:"emailConfirmed"`
	Name                       *string  `json:"name"`
	Surname                    *string  `json:"surname"`
	DisplayName                *string  `json:"displayName"`
	CreationTime               string   `json:"creationTime"`
	LastModificationTime       *string  `json:"lastModificationTime"`
	LastLoginTime              *string  `json:"lastLoginTime"`
	GroupIDs                   []string `json:"groupIDs"`
	LegacyID                   int64    `json:"legacyId"`
	IsActive                   bool     `json:"isActive"`
	BypassBasicAuthRestriction bool     `json:"bypassBasicAuthRestriction"`
	Type                       int      `json:"type"`
	Category                   int      `json:"category"`
	InvitationAccepted         bool     `json:"invitationAccepted"`
}

// NewUser is one entry of a BulkCreate request. ID is the client-generated
// GUID; the bridge always sets it.
type NewUser struct {
	ID                         string `json:"id,omitempty"`
	UserName                   string `json:"userName"`
	Email                      string `json:"email,omitempty"`
	Name                       string `json:"name,omitempty"`
	Surname                    string `json:"surname,omitempty"`
	DisplayName                string `json:"displayName,omitempty"`
	Type                       string `json:"type,omitempty"`
	BypassBasicAuthRestriction bool   `json:"bypassBasicAuthRestriction"`
	InvitationAccepted         bool   `json:"invitationAccepted"`
}

// BulkCreateRequest is the body of POST /User/BulkCreate.
type BulkCreateRequest struct {
	PartitionGlobalID string    `json:"partitionGlobalId"`
	GroupIDs          []string  `json:"groupIDs,omitempty"`
	Users             []NewUser `json:"users"`
}

// IdentityError is one entry of an IdentityResult's errors.
type IdentityError struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

// IdentityResult is ASP.NET Identity's result shape.
type IdentityResult struct {
	Succeeded bool            `json:"succeeded"`
	Errors    []IdentityError `json:"errors"`
}

// BulkCreateResponse is the body BulkCreate answers with, on success and on
// failure.
type BulkCreateResponse struct {
	Result IdentityResult `json:"result"`
	Users  []User         `json:"users"`
}

// UserUpdate is the body of PUT /User/{id}. Only non-nil fields change;
// group deltas are applied idempotently.
type UserUpdate struct {
	Name             *string  `json:"name,omitempty"`
	Surname          *string  `json:"surname,omitempty"`
	DisplayName      *string  `json:"displayName,omitempty"`
	Email            *string  `json:"email,omitempty"`
	IsActive         *bool    `json:"isActive,omitempty"`
	GroupIDsToAdd    []string `json:"groupIDsToAdd,omitempty"`
	GroupIDsToRemove []string `json:"groupIDsToRemove,omitempty"`
}

// UserPage is the paged answer of GET /User/users/{partition}.
type UserPage struct {
	TotalCount int    `json:"totalCount"`
	Results    []User `json:"results"`
}

// GroupMember is an entry of a group's members array.
type GroupMember struct {
	ObjectType  string  `json:"objectType"`
	Source      string  `json:"source"`
	Identifier  string  `json:"identifier"`
	Name        string  `json:"name"`
	DisplayName *string `json:"displayName"`
	Email       string  `json:"email"`
	FirstName   *string `json:"firstName"`
	LastName    *string `json:"lastName"`
}

// Group is a UiPath local group.
type Group struct {
	ID                   string        `json:"id"`
	Name                 string        `json:"name"`
	DisplayName          string        `json:"displayName"`
	Type                 int           `json:"type"`
	CreationTime         string        `json:"creationTime"`
	LastModificationTime string        `json:"lastModificationTime"`
	Members              []GroupMember `json:"members"`
	MappedRole           *string       `json:"mappedRole"`
	Scope                *string       `json:"scope"`
}

// NewGroup is the body of POST /Group. ID must be a client-generated GUID.
type NewGroup struct {
	PartitionGlobalID      string   `json:"partitionGlobalId"`
	ID                     string   `json:"id"`
	Name                   string   `json:"name"`
	DirectoryUserMemberIDs []string `json:"directoryUserMemberIDs,omitempty"`
}

// GroupUpdate is the body of PUT /Group/{id}. Name is required by UiPath
// even for membership-only edits.
type GroupUpdate struct {
	PartitionGlobalID        string   `json:"partitionGlobalId"`
	Name                     string   `json:"name"`
	DirectoryUserIDsToAdd    []string `json:"directoryUserIDsToAdd,omitempty"`
	DirectoryUserIDsToRemove []string `json:"directoryUserIDsToRemove,omitempty"`
}

// MemberRef is an entry of GET /Group/{partition}/{id}/Members.
type MemberRef struct {
	ID   string `json:"id"`
	Type int    `json:"type"`
}

// MemberPage is the paged answer of the group members endpoint.
type MemberPage struct {
	TotalCount int         `json:"totalCount"`
	Results    []MemberRef `json:"results"`
}

// ProblemDetails is the RFC 7807 body of UiPath's validation errors.
type ProblemDetails struct {
	Type    string              `json:"type,omitempty"`
	Title   string              `json:"title,omitempty"`
	Status  int                 `json:"status,omitempty"`
	TraceID string              `json:"traceId,omitempty"`
	Errors  map[string][]string `json:"errors,omitempty"`
}

// TokenResponse is the token endpoint's answer.
type TokenResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int    `json:"expires_in"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope"`
}
