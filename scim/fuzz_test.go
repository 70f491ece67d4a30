package scim_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// FuzzRequests sends arbitrary filters and bodies to every write and query
// endpoint of a whole bridge: no input may make it panic or answer 500, and
// every answer but 204 is JSON.
func FuzzRequests(f *testing.F) {
	seeds := []struct{ filter, body string }{
		{`userName eq "ada@corp.example"`, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}`},
		{`id eq "x" and manager eq "y"`, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"emails[type eq \"work\"].value","value":"a@b.c"}]}`},
		{`emails[type eq "work"]`, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Remove","path":"members","value":[{"$ref":null,"value":"x"}]}]}`},
		{`meta.created gt "2020-01-01T00:00:00Z"`, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"fuzz@corp.example","active":"False","emails":[{"value":"fuzz@corp.example","primary":"True"}]}`},
		{`displayName co "a" or not (title pr)`, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Fuzz","members":[{"value":"nope"}]}`},
		{`(`, `{`},
		{``, `null`},
	}
	for _, s := range seeds {
		f.Add(s.filter, []byte(s.body))
	}
	b := newBridge(f, bridgeOptions{quiet: true, emulator: emulator.Config{DisableRateLimits: true}})
	user := b.createUser(f, "fuzz-target@corp.example")
	group := b.must(f, 201, "POST", "/Groups", map[string]any{"schemas": []string{groupURN}, "displayName": "Fuzz Target"}).body["id"].(string)

	f.Fuzz(func(t *testing.T, filter string, body []byte) {
		send := func(method, path string, payload []byte) {
			var rd *bytes.Reader
			if payload != nil {
				rd = bytes.NewReader(payload)
			} else {
				rd = bytes.NewReader(nil)
			}
			req := httptest.NewRequestWithContext(t.Context(), method, "/scim/v2"+path, rd)
			req.Header.Set("Authorization", "Bearer "+testToken)
			req.Header.Set("Content-Type", "application/scim+json")
			w := httptest.NewRecorder()
			b.srv.ServeHTTP(w, req)
			if w.Code >= 500 && w.Code != http.StatusServiceUnavailable {
				t.Fatalf("%s %s answered %d: %s\nbody: %q", method, path, w.Code, w.Body.String(), payload)
			}
			if w.Code != http.StatusNoContent && !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%s %s answered %d with non-JSON %q", method, path, w.Code, w.Body.String())
			}
		}
		q := url.QueryEscape(filter)
		send("GET", "/Users?filter="+q+"&sortBy="+q, nil)
		send("GET", "/Groups?filter="+q+"&attributes="+q, nil)
		send("PATCH", "/Users/"+user, body)
		send("PATCH", "/Groups/"+group, body)
		send("POST", "/Users", body)
		send("POST", "/Groups", body)
		send("PUT", "/Users/"+user, body)
	})
}
