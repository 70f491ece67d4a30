package scimdoc

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	filter "github.com/scim2/filter-parser/v2"
)

// FuzzFilter compiles arbitrary filters and evaluates them against a
// realistic user: no input may panic, and every refusal must be an
// invalidFilter error for the IdP.
func FuzzFilter(f *testing.F) {
	for _, seed := range []string{
		`userName eq "ada@corp.example"`,
		`USERNAME EQ "A"`,
		`externalId eq "x" and id eq "y"`,
		`id eq "7d1e" and manager eq "8aa1"`,
		`emails[type eq "work" and value co "@"]`,
		`emails.value sw "ada"`,
		`not (title pr) or active eq false`,
		`meta.created gt "2025-01-01T00:00:00Z"`,
		`meta.lastModified le "2025-01-01T00:00:00.123Z"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m"`,
		`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department co "&"`,
		`name.familyName ge "L" and name.givenName lt "Z"`,
		`displayName eq null`,
		`members[value eq "1"]`,
		`((userName pr))`,
		`userName eq 12`,
		`active eq "True"`,
		// Past the bounds (limits.go): refused before parsing.
		strings.Repeat("(", 17) + `userName pr` + strings.Repeat(")", 17),
		strings.Repeat("(", 5000) + `userName eq "x"` + strings.Repeat(")", 5000),
		`emails[` + strings.Repeat("(", 20) + `type eq "work"` + strings.Repeat(")", 20) + `]`,
		`userName eq "` + strings.Repeat(`\"(`, 3000) + `"`,
	} {
		f.Add(seed)
	}
	user := map[string]any{
		"id": "1", "externalId": "ext", "userName": "ada@corp.example", "active": true, "title": "Countess",
		"name":                  map[string]any{"givenName": "Ada", "familyName": "Lovelace"},
		"emails":                []any{map[string]any{"value": "ada@corp.example", "type": "work", "primary": true}, "not-an-object", 42.0},
		"phoneNumbers":          map[string]any{"wrong": "shape"},
		"roles":                 []any{nil},
		"meta":                  map[string]any{"created": "2025-08-12T06:41:10.0901663Z", "lastModified": "not a time"},
		EnterpriseUserSchemaURN: map[string]any{"department": "R&D", "manager": "bare-string"},
	}
	f.Fuzz(func(t *testing.T, raw string) {
		for _, kind := range []Kind{KindUser, KindGroup} {
			flt, err := CompileFilter(kind, raw)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.ScimType != ScimTypeInvalidFilter {
					t.Fatalf("CompileFilter(%q) = %v, want an invalidFilter *Error", raw, err)
				}
				continue
			}
			flt.Match(user)
			flt.IndexHint()
		}
	})
}

// TestSimpleEqMatchesParser: the fast path for `attr eq "value"` builds
// exactly what the general parser builds.
func TestSimpleEqMatchesParser(t *testing.T) {
	for _, raw := range []string{
		`userName eq "ada@corp.example"`,
		`  USERNAME EQ "A"  `,
		`name.familyName Eq "Brien"`,
		`externalId eq ""`,
	} {
		fast, ok := parseSimpleEq(raw)
		if !ok {
			t.Errorf("%q: fast path not taken", raw)
			continue
		}
		slow, err := filter.ParseFilter([]byte(strings.TrimSpace(raw)))
		if err != nil {
			t.Fatalf("%q: %v", raw, err)
		}
		if fmt.Sprint(fast) != fmt.Sprint(slow) {
			t.Errorf("%q: fast %v, parser %v", raw, fast, slow)
		}
	}
	// Values are JSON strings (RFC 7644 §3.4.2.2); the fast path unescapes
	// them, which the general parser does not.
	for raw, want := range map[string]string{
		`name.familyName eq "O\"Brien"`:   `O"Brien`,
		`displayName eq "caf\u00e9 \\ x"`: `café \ x`,
	} {
		e, ok := parseSimpleEq(raw)
		if !ok || e.(*filter.AttributeExpression).CompareValue != want {
			t.Errorf("%q: got %v", raw, e)
		}
	}
	for _, raw := range []string{`userName eq "a" and active eq true`, `urn:x:userName eq "a"`, `userName eq 1`, `userName co "a"`, `userName eq "a`} {
		if _, ok := parseSimpleEq(raw); ok {
			t.Errorf("%q: fast path taken", raw)
		}
	}
}

func TestFilterIndexOnly(t *testing.T) {
	for raw, want := range map[string]bool{
		`userName eq "x"`:                    true,
		`ID eq "x"`:                          true,
		`externalId eq "x"`:                  true,
		`userName eq "x" and active eq true`: false,
		`displayName eq "x"`:                 false,
		`userName co "x"`:                    false,
	} {
		f, err := CompileFilter(KindUser, raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.IndexOnly(); got != want {
			t.Errorf("%s: IndexOnly %v, want %v", raw, got, want)
		}
	}
}
