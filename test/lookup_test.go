package test

import (
	"net/url"
	"reflect"
	"testing"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
)

// TestLookupFastPathSameAnswer: the userName/externalId lookup answered
// straight from the stored document (Redis) is the same ListResponse as
// the general list path gives for an equivalent filter.
func TestLookupFastPathSameAnswer(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, store, envOptions{})
		id := str(e.must(201, "POST", "/Users", map[string]any{
			"schemas": []string{userSchema, enterpriseSchema}, "userName": "fast@corp.example", "externalId": "fast-1",
			"name":           map[string]any{"givenName": "Fa", "familyName": "St"},
			"emails":         []any{map[string]any{"value": "fast@corp.example", "type": "work", "primary": true}},
			enterpriseSchema: map[string]any{"department": "R&D"},
		}).body, "id")
		e.must(201, "POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "plain@corp.example"})
		e.must(201, "POST", "/Users", map[string]any{"schemas": []string{userSchema}, "userName": "odd@corp.example", "active": false,
			"displayName": "Zoë \"Q\" <b>&amp; \\ \u2028", "title": nil, "nickName": "tab\there"})
		e.must(201, "POST", "/Groups", map[string]any{"schemas": []string{groupSchema}, "displayName": "G1", "members": []any{map[string]any{"value": id}}})

		for _, c := range []struct{ fast, slow string }{
			{`userName eq "FAST@corp.example"`, `userName eq "FAST@corp.example" and userName pr`},
			{`externalId eq "fast-1"`, `externalId eq "fast-1" and userName pr`},
			{`userName eq "plain@corp.example"`, `userName eq "plain@corp.example" and userName pr`},
			{`userName eq "odd@corp.example"`, `userName eq "odd@corp.example" and userName pr`},
			{`userName eq "nobody@corp.example"`, `userName eq "nobody@corp.example" and userName pr`},
		} {
			fast := e.must(200, "GET", "/Users?filter="+url.QueryEscape(c.fast), nil)
			slow := e.must(200, "GET", "/Users?filter="+url.QueryEscape(c.slow), nil)
			if !reflect.DeepEqual(fast.body, slow.body) {
				t.Errorf("%s:\nfast %s\nslow %s", c.fast, fast.raw, slow.raw)
			}
			if fast.header.Get("Content-Type") != "application/scim+json" {
				t.Errorf("content type %q", fast.header.Get("Content-Type"))
			}
		}
	})
}
