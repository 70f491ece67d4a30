package mapping

import (
	"strings"
	"unicode/utf8"

	"github.com/scim-bridge/scim-bridge/scimdoc"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// profile is the part of a SCIM User that UiPath keeps.
type profile struct {
	UserName    string
	Email       string
	GivenName   string
	FamilyName  string
	DisplayName string
	Active      bool
}

// profileOf extracts the UiPath-relevant fields of a SCIM User and validates
// what UiPath requires.
func profileOf(res map[string]any) (profile, error) {
	var p profile
	un, ok := res["userName"].(string)
	if !ok || strings.TrimSpace(un) == "" {
		return p, invalidValue("userName is required and must be a non-empty string")
	}
	p.UserName = strings.TrimSpace(un)
	p.Active = true
	if v, present := res["active"]; present && v != nil {
		b, ok := scimdoc.Bool(v)
		if !ok {
			return p, invalidValue("active must be a boolean")
		}
		p.Active = b
	}
	if name, ok := res["name"].(map[string]any); ok {
		p.GivenName, _ = name["givenName"].(string)
		p.FamilyName, _ = name["familyName"].(string)
	}
	p.DisplayName, _ = res["displayName"].(string)
	if p.DisplayName == "" {
		if name, ok := res["name"].(map[string]any); ok {
			p.DisplayName, _ = name["formatted"].(string)
		}
	}
	if p.DisplayName == "" {
		p.DisplayName = strings.TrimSpace(p.GivenName + " " + p.FamilyName)
	}
	p.Email = primaryEmail(res["emails"])
	return p, nil
}

// maxFieldLength is the longest userName, email, name, surname, display
// name or group name the bridge sends UiPath, in characters. UiPath does not
// document its limits; its Identity Server is built on ASP.NET Core
// Identity, whose user name and email columns are 256 characters, and the
// bridge holds the other fields to the same bound. A longer value is
// refused before any UiPath call (a 7 MB displayName once reached UiPath).
const maxFieldLength = 256

// checkInput refuses, before UiPath is asked, a profile from the IdP that
// UiPath cannot store: a field longer than maxFieldLength, or an email
// that is not one '@' between a local part and a domain (the rule UiPath's
// EmailAddress validation applies). Each error names the attribute.
func (p profile) checkInput() error {
	for _, f := range []struct{ attr, v string }{
		{"userName", p.UserName}, {"emails.value", p.Email}, {"name.givenName", p.GivenName},
		{"name.familyName", p.FamilyName}, {"displayName", p.DisplayName},
	} {
		if n := utf8.RuneCountInString(f.v); n > maxFieldLength {
			return invalidValue("%s is %d characters long; UiPath takes at most %d", f.attr, n, maxFieldLength)
		}
	}
	if p.Email != "" {
		local, domain, ok := strings.Cut(p.Email, "@")
		if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || strings.ContainsAny(p.Email, " \t\r\n") {
			return invalidValue("emails.value %q is not an email address UiPath accepts", p.Email)
		}
	}
	return nil
}

// primaryEmail picks the address UiPath gets: the primary one, else the
// work one, else the first.
func primaryEmail(v any) string {
	list, _ := v.([]any)
	var work, first string
	for _, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			continue
		}
		val, _ := m["value"].(string)
		if val == "" {
			continue
		}
		if b, _ := scimdoc.Bool(m["primary"]); b {
			return val
		}
		if t, _ := m["type"].(string); strings.EqualFold(t, "work") && work == "" {
			work = val
		}
		if first == "" {
			first = val
		}
	}
	if work != "" {
		return work
	}
	return first
}

// newUser is the BulkCreate entry for a profile.
func (p profile) newUser(id string) upstream.NewUser {
	return upstream.NewUser{
		ID:                 id,
		UserName:           p.UserName,
		Email:              p.Email,
		Name:               p.GivenName,
		Surname:            p.FamilyName,
		DisplayName:        p.DisplayName,
		Type:               "User",
		InvitationAccepted: true,
	}
}

// updateFrom is the partial PUT /User body that turns old into p, and
// whether it changes anything.
func (p profile) updateFrom(old profile) (upstream.UserUpdate, bool) {
	var u upstream.UserUpdate
	changed := false
	set := func(dst **string, oldV, newV string) {
		if oldV != newV {
			v := newV
			*dst = &v
			changed = true
		}
	}
	set(&u.Name, old.GivenName, p.GivenName)
	set(&u.Surname, old.FamilyName, p.FamilyName)
	set(&u.DisplayName, old.DisplayName, p.DisplayName)
	set(&u.Email, old.Email, p.Email)
	if old.Active != p.Active {
		a := p.Active
		u.IsActive = &a
		changed = true
	}
	return u, changed
}

// profileOfUpstream is what UiPath currently holds for a user, in profile
// terms (used when adopting an existing account).
func profileOfUpstream(u upstream.User) profile {
	deref := func(s *string) string {
		if s == nil {
			return ""
		}
		return *s
	}
	return profile{
		UserName:    u.UserName,
		Email:       u.Email,
		GivenName:   deref(u.Name),
		FamilyName:  deref(u.Surname),
		DisplayName: deref(u.DisplayName),
		Active:      u.IsActive,
	}
}
