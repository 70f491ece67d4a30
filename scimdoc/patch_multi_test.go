package scimdoc

import "testing"

func TestApplyPatchMultiValued(t *testing.T) {
	const two = `{"emails":[{"value":"w@x","type":"work","primary":true},{"value":"h@x","type":"home"}]}`
	runPatchCases(t, []patchCase{
		{
			name: "add single object appends",
			res:  two,
			body: `[{"op":"add","path":"emails","value":{"value":"o@x","type":"other"}}]`,
			want: `{"emails":[{"value":"w@x","type":"work","primary":true},{"value":"h@x","type":"home"},{"value":"o@x","type":"other"}]}`,
		},
		{
			name: "add array skips present entries",
			res:  two,
			body: `[{"op":"add","path":"emails","value":[{"value":"H@X","type":"home"},{"value":"o@x"}]}]`,
			want: `{"emails":[{"value":"w@x","type":"work","primary":true},{"value":"h@x","type":"home"},{"value":"o@x"}]}`,
		},
		{
			name: "replace whole list",
			res:  two,
			body: `[{"op":"replace","path":"emails","value":[{"value":"n@x","type":"work"}]}]`,
			want: `{"emails":[{"value":"n@x","type":"work"}]}`,
		},
		{
			name: "replace list with two primaries keeps the last",
			res:  `{}`,
			body: `[{"op":"replace","path":"phoneNumbers","value":[{"value":"1","primary":true},{"value":"2","primary":true}]}]`,
			want: `{"phoneNumbers":[{"value":"1","primary":false},{"value":"2","primary":true}]}`,
		},
		{
			name: "replace list with null removes it",
			res:  two,
			body: `[{"op":"replace","path":"emails","value":null}]`,
			want: `{}`,
		},
		{
			name: "value path replace touches only matching entries",
			res:  two,
			body: `[{"op":"replace","path":"emails[type eq \"work\"].value","value":"w2@x"}]`,
			want: `{"emails":[{"value":"w2@x","type":"work","primary":true},{"value":"h@x","type":"home"}]}`,
		},
		{
			name: "value path add creates entry from and-of-eq",
			res:  two,
			body: `[{"op":"add","path":"phoneNumbers[type eq \"mobile\" and primary eq true].value","value":"+1"}]`,
			want: `{"emails":[{"value":"w@x","type":"work","primary":true},{"value":"h@x","type":"home"}],"phoneNumbers":[{"type":"mobile","primary":true,"value":"+1"}]}`,
		},
		{
			name:    "value path add with non-eq filter and no match",
			res:     two,
			body:    `[{"op":"add","path":"emails[value co \"zzz\"].value","value":"z@x"}]`,
			wantErr: "noTarget",
		},
		{
			name:    "value path add with or filter and no match",
			res:     two,
			body:    `[{"op":"add","path":"emails[type eq \"a\" or type eq \"b\"].value","value":"z@x"}]`,
			wantErr: "noTarget",
		},
		{
			name: "value path replace with object replaces the entry, keeping the filter's type",
			res:  two,
			body: `[{"op":"replace","path":"emails[type eq \"work\"]","value":{"value":"w2@x","display":"W"}}]`,
			want: `{"emails":[{"value":"w2@x","type":"work","display":"W"},{"value":"h@x","type":"home"}]}`,
		},
		{
			name: "value path add with object merges",
			res:  two,
			body: `[{"op":"add","path":"emails[type eq \"work\"]","value":{"display":"W"}}]`,
			want: `{"emails":[{"value":"w@x","type":"work","primary":true,"display":"W"},{"value":"h@x","type":"home"}]}`,
		},
		{
			name: "value path add object setting primary moves primary",
			res:  two,
			body: `[{"op":"add","path":"emails[type eq \"home\"]","value":{"primary":true}}]`,
			want: `{"emails":[{"value":"w@x","type":"work","primary":false},{"value":"h@x","type":"home","primary":true}]}`,
		},
		{
			name: "remove value path removes entries",
			res:  two,
			body: `[{"op":"remove","path":"emails[type eq \"work\"]"}]`,
			want: `{"emails":[{"value":"h@x","type":"home"}]}`,
		},
		{
			name: "remove value path sub-attribute",
			res:  two,
			body: `[{"op":"remove","path":"emails[type eq \"work\"].primary"}]`,
			want: `{"emails":[{"value":"w@x","type":"work"},{"value":"h@x","type":"home"}]}`,
		},
		{
			name: "remove sub-attribute of every entry",
			res:  two,
			body: `[{"op":"remove","path":"emails.type"}]`,
			want: `{"emails":[{"value":"w@x","primary":true},{"value":"h@x"}]}`,
		},
		{
			name:    "add sub-attribute of every entry needs a filter",
			res:     two,
			body:    `[{"op":"add","path":"emails.type","value":"work"}]`,
			wantErr: "invalidPath",
		},
		{
			name: "filter names and strings are case-insensitive",
			res:  two,
			body: `[{"op":"remove","path":"emails[TYPE eq \"WORK\"]"}]`,
			want: `{"emails":[{"value":"h@x","type":"home"}]}`,
		},
		{
			name: "filter operators",
			res:  `{"addresses":[{"type":"work","locality":"Paris"},{"type":"home","locality":"Lyon"},{"type":"other"}]}`,
			body: `[
				{"op":"add","path":"addresses[locality sw \"pa\"].region","value":"A"},
				{"op":"add","path":"addresses[locality ew \"ON\"].region","value":"B"},
				{"op":"add","path":"addresses[not (locality pr)].region","value":"C"},
				{"op":"add","path":"addresses[locality co \"ar\" or type ne \"work\"].country","value":"FR"},
				{"op":"add","path":"addresses[locality gt \"M\" and locality le \"Paris\"].postalCode","value":"75"},
				{"op":"add","path":"addresses[type ge \"w\" and type lt \"x\"].postalCode","value":"75"}]`,
			want: `{"addresses":[
				{"type":"work","locality":"Paris","region":"A","country":"FR","postalCode":"75"},
				{"type":"home","locality":"Lyon","region":"B","country":"FR"},
				{"type":"other","region":"C","country":"FR"}]}`,
		},
		{
			name: "filter on boolean and null",
			res:  `{"emails":[{"value":"a","primary":true},{"value":"b","primary":false},{"value":"c"}]}`,
			body: `[{"op":"add","path":"emails[primary eq false].type","value":"x"},{"op":"add","path":"emails[primary eq null].type","value":"y"}]`,
			want: `{"emails":[{"value":"a","primary":true},{"value":"b","primary":false,"type":"x"},{"value":"c","type":"y"}]}`,
		},
		{
			name:    "filter on unknown sub-attribute",
			res:     two,
			body:    `[{"op":"remove","path":"emails[colour eq \"red\"]"}]`,
			wantErr: "invalidPath",
		},
		{
			name:    "value path with object value of wrong type",
			res:     two,
			body:    `[{"op":"replace","path":"emails[type eq \"work\"]","value":"w@x"}]`,
			wantErr: "invalidValue",
		},
	})
}

func TestApplyPatchMembers(t *testing.T) {
	const grp = `{"displayName":"F","members":[{"value":"abc","display":"A"},{"value":"def"}]}`
	runPatchCases(t, []patchCase{
		{
			name: "member value compares case-exactly",
			kind: KindGroup,
			res:  grp,
			body: `[{"op":"remove","path":"members[value eq \"ABC\"]"}]`,
			want: grp,
		},
		{
			name: "add member differing only in case is a new member",
			kind: KindGroup,
			res:  grp,
			body: `[{"op":"add","path":"members","value":[{"value":"DEF"}]}]`,
			want: `{"displayName":"F","members":[{"value":"abc","display":"A"},{"value":"def"},{"value":"DEF"}]}`,
		},
		{
			name: "remove members without value clears all",
			kind: KindGroup,
			res:  grp,
			body: `[{"op":"remove","path":"members"}]`,
			want: `{"displayName":"F"}`,
		},
		{
			name: "remove members with an empty value array removes nothing",
			kind: KindGroup,
			res:  grp,
			body: `[{"op":"remove","path":"members","value":[]}]`,
			want: grp,
		},
		{
			name: "remove members with several values",
			kind: KindGroup,
			res:  `{"displayName":"F","members":[{"value":"a"},{"value":"b"},{"value":"c"}]}`,
			body: `[{"op":"Remove","path":"members","value":[{"value":"a"},{"value":"c","display":"whatever"}]}]`,
			want: `{"displayName":"F","members":[{"value":"b"}]}`,
		},
		{
			name: "replace members with empty array",
			kind: KindGroup,
			res:  grp,
			body: `[{"op":"replace","path":"members","value":[]}]`,
			want: `{"displayName":"F","members":[]}`,
		},
		{
			name: "replace members dedupes and normalises",
			kind: KindGroup,
			res:  grp,
			body: `[{"op":"replace","path":"members","value":[{"value":"x","$ref":null,"Display":"X"},{"value":"x"},{"value":"y","type":"User"}]}]`,
			want: `{"displayName":"F","members":[{"value":"x","display":"X"},{"value":"y","type":"User"}]}`,
		},
		{
			name:    "member without value",
			kind:    KindGroup,
			res:     grp,
			body:    `[{"op":"add","path":"members","value":[{"display":"nobody"}]}]`,
			wantErr: "invalidValue",
		},
		{
			name:    "member with numeric value",
			kind:    KindGroup,
			res:     grp,
			body:    `[{"op":"add","path":"members","value":[{"value":42}]}]`,
			wantErr: "invalidValue",
		},
		{
			name:    "legacy remove with a value-less entry",
			kind:    KindGroup,
			res:     grp,
			body:    `[{"op":"remove","path":"members","value":[{"$ref":null}]}]`,
			wantErr: "invalidValue",
		},
		{
			name: "add member through value path creates it",
			kind: KindGroup,
			res:  grp,
			body: `[{"op":"add","path":"members[value eq \"ghi\"]","value":{"display":"G"}}]`,
			want: `{"displayName":"F","members":[{"value":"abc","display":"A"},{"value":"def"},{"value":"ghi","display":"G"}]}`,
		},
		{
			name: "update member display through value path",
			kind: KindGroup,
			res:  grp,
			body: `[{"op":"replace","path":"members[value eq \"def\"].display","value":"D"}]`,
			want: `{"displayName":"F","members":[{"value":"abc","display":"A"},{"value":"def","display":"D"}]}`,
		},
	})
}

func TestApplyPatchManager(t *testing.T) {
	const withMgr = `{"userName":"ada","` + entURN + `":{"department":"R&D","manager":{"value":"m1","$ref":"../Users/m1"}}}`
	runPatchCases(t, []patchCase{
		{
			name: "manager object",
			res:  `{"userName":"ada"}`,
			body: `[{"op":"replace","path":"` + entURN + `:manager","value":{"value":"m2","$ref":"../Users/m2"}}]`,
			want: `{"userName":"ada","` + entURN + `":{"manager":{"value":"m2","$ref":"../Users/m2"}}}`,
		},
		{
			name: "manager sub-attribute",
			res:  withMgr,
			body: `[{"op":"replace","path":"` + entURN + `:manager.displayName","value":"Boss"}]`,
			want: `{"userName":"ada","` + entURN + `":{"department":"R&D","manager":{"value":"m1","$ref":"../Users/m1","displayName":"Boss"}}}`,
		},
		{
			name: "remove manager",
			res:  withMgr,
			body: `[{"op":"remove","path":"` + entURN + `:manager"}]`,
			want: `{"userName":"ada","` + entURN + `":{"department":"R&D"}}`,
		},
		{
			name: "remove manager by unprefixed name",
			res:  withMgr,
			body: `[{"op":"Remove","path":"manager"}]`,
			want: `{"userName":"ada","` + entURN + `":{"department":"R&D"}}`,
		},
		{
			name: "empty manager id unassigns",
			res:  withMgr,
			body: `[{"op":"Replace","path":"manager","value":""}]`,
			want: `{"userName":"ada","` + entURN + `":{"department":"R&D"}}`,
		},
		{
			name: "manager null in path-less value",
			res:  withMgr,
			body: `[{"op":"replace","value":{"` + entURN + `:manager":null}}]`,
			want: `{"userName":"ada","` + entURN + `":{"department":"R&D"}}`,
		},
		{
			name:    "manager empty array",
			res:     withMgr,
			body:    `[{"op":"add","path":"manager","value":[]}]`,
			wantErr: "invalidValue",
		},
		{
			name:    "manager number",
			res:     withMgr,
			body:    `[{"op":"add","path":"manager","value":7}]`,
			wantErr: "invalidValue",
		},
	})
}
