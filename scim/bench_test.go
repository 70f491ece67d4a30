package scim_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/scim"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// BenchmarkFilterLookup measures the filter Okta and Entra send before
// every create (userName eq "…"): it must be an index lookup, not a scan,
// so its cost does not grow with the number of users.
func BenchmarkFilterLookup(b *testing.B) {
	const users = 1000
	br := newBridge(b, bridgeOptions{emulator: emulator.Config{DisableRateLimits: true}, quiet: true})
	for i := range users {
		if _, err := br.prov.Users().Create(b.Context(), map[string]any{
			"schemas":  []any{userURN},
			"userName": fmt.Sprintf("user%04d@example.com", i),
			"name":     map[string]any{"givenName": "User", "familyName": fmt.Sprint(i)},
			"active":   true,
		}); err != nil {
			b.Fatalf("seed user %d: %v", i, err)
		}
	}
	target := scim.BasePath + "/Users?filter=" + url.QueryEscape(fmt.Sprintf(`userName eq "user%04d@example.com"`, users/2))

	// One request outside the loop proves the benchmark measures a hit.
	req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, target, nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	w := httptest.NewRecorder()
	br.srv.ServeHTTP(w, req)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"totalResults":1`) {
		b.Fatalf("lookup: %d %s", w.Code, short(w.Body.String()))
	}

	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequestWithContext(b.Context(), http.MethodGet, target, nil)
		req.Header.Set("Authorization", "Bearer "+testToken)
		w := httptest.NewRecorder()
		br.srv.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
	}
}
