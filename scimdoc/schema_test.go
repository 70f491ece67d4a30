package scimdoc

import "testing"

func TestCanonicalAttr(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kind   Kind
		in     string
		want   string
		wantOK bool
	}{
		{name: "plain", kind: KindUser, in: "username", want: "userName", wantOK: true},
		{name: "sub-attribute", kind: KindUser, in: "NAME.GIVENNAME", want: "name.givenName", wantOK: true},
		{name: "core URN prefix", kind: KindUser, in: "urn:ietf:params:scim:schemas:core:2.0:user:emails", want: "emails", wantOK: true},
		{name: "extension attribute", kind: KindUser, in: EnterpriseUserSchemaURN + ":DEPARTMENT", want: EnterpriseUserSchemaURN + ":department", wantOK: true},
		{name: "extension sub-attribute", kind: KindUser, in: EnterpriseUserSchemaURN + ":manager.VALUE", want: EnterpriseUserSchemaURN + ":manager.value", wantOK: true},
		{name: "unprefixed extension attribute", kind: KindUser, in: "employeenumber", want: EnterpriseUserSchemaURN + ":employeeNumber", wantOK: true},
		{name: "extension URN", kind: KindUser, in: "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER", want: EnterpriseUserSchemaURN, wantOK: true},
		{name: "group members", kind: KindGroup, in: "Members.Value", want: "members.value", wantOK: true},
		{name: "member $ref", kind: KindGroup, in: "members.$REF", want: "members.$ref", wantOK: true},
		{name: "extension not on group", kind: KindGroup, in: EnterpriseUserSchemaURN + ":department"},
		{name: "user attribute not on group", kind: KindGroup, in: "userName"},
		{name: "unknown", kind: KindUser, in: "shoeSize"},
		{name: "unknown sub", kind: KindUser, in: "name.nick"},
		{name: "unknown kind", kind: 0, in: "userName"},
		{name: "empty", kind: KindUser, in: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := CanonicalAttr(tc.kind, tc.in)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("CanonicalAttr(%v, %q) = %q, %v; want %q, %v", tc.kind, tc.in, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestAttrTable(t *testing.T) {
	for _, tc := range []struct {
		kind       Kind
		name       string
		wantType   AttrType
		wantMulti  bool
		wantExact  bool
		wantMut    Mutability
		wantSchema string
	}{
		{KindUser, "id", AttrString, false, true, MutabilityReadOnly, UserSchemaURN},
		{KindUser, "meta", AttrComplex, false, false, MutabilityReadOnly, UserSchemaURN},
		{KindUser, "groups", AttrComplex, true, false, MutabilityReadOnly, UserSchemaURN},
		{KindUser, "externalId", AttrString, false, true, MutabilityReadWrite, UserSchemaURN},
		{KindUser, "active", AttrBoolean, false, false, MutabilityReadWrite, UserSchemaURN},
		{KindUser, "emails", AttrComplex, true, false, MutabilityReadWrite, UserSchemaURN},
		{KindUser, "manager", AttrComplex, false, false, MutabilityReadWrite, EnterpriseUserSchemaURN},
		{KindGroup, "members", AttrComplex, true, false, MutabilityReadWrite, GroupSchemaURN},
		{KindGroup, "id", AttrString, false, true, MutabilityReadOnly, GroupSchemaURN},
	} {
		a, ok := LookupAttr(tc.kind, tc.name)
		if !ok {
			t.Errorf("%v %s: not found", tc.kind, tc.name)
			continue
		}
		if a.Type != tc.wantType || a.MultiValued != tc.wantMulti || a.CaseExact != tc.wantExact || a.Mutability != tc.wantMut || a.Schema != tc.wantSchema {
			t.Errorf("%v %s = %+v", tc.kind, tc.name, *a)
		}
	}
	for _, tc := range []struct {
		kind      Kind
		attr, sub string
		wantExact bool
	}{
		{KindGroup, "members", "value", true},
		{KindUser, "manager", "value", true},
		{KindUser, "emails", "value", false},
		{KindUser, "emails", "primary", false},
	} {
		a, _ := LookupAttr(tc.kind, tc.attr)
		s, ok := a.Sub(tc.sub)
		if !ok || s.CaseExact != tc.wantExact {
			t.Errorf("%s.%s: ok=%v caseExact=%v", tc.attr, tc.sub, ok, s != nil && s.CaseExact)
		}
	}
	if s, ok := SchemaByURN(KindGroup, "urn:ietf:params:scim:schemas:core:2.0:group"); !ok || s.URN != GroupSchemaURN {
		t.Errorf("SchemaByURN(group) = %v, %v", s, ok)
	}
	if got := KindUser.String() + KindGroup.String() + Kind(0).String(); got != "UserGroupunknown" {
		t.Errorf("String() = %q", got)
	}
}
