package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// rawResponse is an answer read off a connection written by hand.
type rawResponse struct {
	status int
	header http.Header
	body   string
}

// rawRequest sends text as it is (no client cleans the path or drops a
// header) and reads one answer.
func rawRequest(t *testing.T, addr, text string) rawResponse {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := io.WriteString(c, text); err != nil {
		t.Fatal(err)
	}
	method, _, _ := strings.Cut(text, " ")
	res, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%q: %v", strings.SplitN(text, "\r\n", 2)[0], err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return rawResponse{status: res.StatusCode, header: res.Header, body: string(b)}
}

// TestSCIMListenerSurface: over real HTTP against serve, path tricks never
// reach /metrics or a resource without a token, method override headers
// are ignored, HEAD, OPTIONS and TRACE leak nothing (TRACE echoes no
// header), and hostile bodies (100,000 nested brackets, bodies over
// SCIM_BRIDGE_MAX_BODY_BYTES with and without Content-Length) get a quick
// SCIM 400 or 413, after which the bridge is still healthy.
func TestSCIMListenerSurface(t *testing.T) {
	s := startServe(t, map[string]string{"MAX_BODY_BYTES": "200000"})
	addr := strings.TrimPrefix(s.base, "http://")
	id := s.create("/scim/v2/Users", scimUser("surface.person@corp.example"))
	leaks := []string{"scim_bridge_", "go_goroutines", "surface.person", s.token}
	checkNoLeak := func(t *testing.T, what string, r rawResponse) {
		t.Helper()
		for _, l := range leaks {
			if strings.Contains(r.body, l) || strings.Contains(fmt.Sprint(r.header), l) {
				t.Errorf("%s: answer holds %q: %d %.300s", what, l, r.status, r.body)
			}
		}
	}
	req := func(method, target string, headers ...string) string {
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: bridge\r\nConnection: close\r\n", method, target)
		for i := 0; i+1 < len(headers); i += 2 {
			fmt.Fprintf(&b, "%s: %s\r\n", headers[i], headers[i+1])
		}
		b.WriteString("\r\n")
		return b.String()
	}

	t.Run("path tricks", func(t *testing.T) {
		for _, target := range []string{
			"/metrics",
			"//scim/v2/Users",
			"/scim/v2/../metrics",
			"/scim/v2/%2e%2e/metrics",
			"/scim/v2/%2E%2E/%2E%2E/metrics",
			"/scim/v2/Users/..%2f..%2fmetrics",
			"/scim/v2/Users/" + id + "/..%2f..%2f..%2fmetrics",
			"/scim/v2/./Users",
			"/scim/v2/Users/" + id,
			"/admin/v1/status",
			"/scim/v2/Users;/../../metrics",
		} {
			r := rawRequest(t, addr, req("GET", target))
			checkNoLeak(t, target, r)
			if r.status == http.StatusOK {
				t.Errorf("GET %s without a token: 200 %.200s", target, r.body)
			}
			// A path with dots or slashes to clean is redirected to its
			// clean form, which goes through the same checks.
			if loc := r.header.Get("Location"); r.status/100 == 3 {
				if !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
					t.Errorf("GET %s: redirected off the bridge to %q", target, loc)
					continue
				}
				r = rawRequest(t, addr, req("GET", loc))
				checkNoLeak(t, target+" → "+loc, r)
				if r.status == http.StatusOK {
					t.Errorf("GET %s → %s without a token: 200 %.200s", target, loc, r.body)
				}
			}
		}
	})

	t.Run("method override headers are ignored", func(t *testing.T) {
		for _, h := range []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"} {
			r := rawRequest(t, addr, req("GET", "/scim/v2/Users/"+id, "Authorization", "Bearer "+s.token, h, "DELETE"))
			if r.status != http.StatusOK {
				t.Errorf("GET with %s: DELETE: %d, want 200 (a GET)", h, r.status)
			}
			r = rawRequest(t, addr, req("POST", "/scim/v2/Users/"+id, "Authorization", "Bearer "+s.token, h, "DELETE",
				"Content-Type", "application/scim+json", "Content-Length", "2")+"{}")
			if r.status != http.StatusMethodNotAllowed {
				t.Errorf("POST with %s: DELETE: %d, want 405", h, r.status)
			}
		}
		if code, body := s.do(http.MethodGet, "/scim/v2/Users/"+id, ""); code != http.StatusOK {
			t.Errorf("the user after override attempts: %d %s", code, body)
		}
	})

	t.Run("HEAD, OPTIONS, TRACE", func(t *testing.T) {
		for _, tt := range []struct {
			method, target string
			auth           bool
		}{
			{"HEAD", "/scim/v2/Users", false},
			{"HEAD", "/scim/v2/Users/" + id, true},
			{"OPTIONS", "/scim/v2/Users", false},
			{"OPTIONS", "/scim/v2/Users", true},
			{"OPTIONS", "*", false},
			{"TRACE", "/scim/v2/Users", false},
			{"TRACE", "/scim/v2/Users", true},
			{"TRACE", "/healthz", true},
			{"TRACE", "/", true},
		} {
			headers := []string{"X-Echo-Check", "echo-me-7f3a"}
			if tt.auth {
				headers = append(headers, "Authorization", "Bearer "+s.token)
			}
			r := rawRequest(t, addr, req(tt.method, tt.target, headers...))
			what := fmt.Sprintf("%s %s (token %v)", tt.method, tt.target, tt.auth)
			checkNoLeak(t, what, r)
			if strings.Contains(r.body, "echo-me-7f3a") || strings.Contains(r.body, "Authorization") {
				t.Errorf("%s echoes the request's headers: %.300s", what, r.body)
			}
			if tt.method == "TRACE" && r.status < 400 {
				t.Errorf("%s: %d, want an error", what, r.status)
			}
			if !tt.auth && strings.HasPrefix(tt.target, "/scim/") && r.status != http.StatusUnauthorized {
				t.Errorf("%s: %d, want 401", what, r.status)
			}
			if ct := r.header.Get("Content-Type"); strings.HasPrefix(tt.target, "/scim/") && r.body != "" && ct != "application/scim+json" {
				t.Errorf("%s: Content-Type %q, want SCIM JSON", what, ct)
			}
		}
	})

	t.Run("hostile bodies", func(t *testing.T) {
		deep := strings.Repeat("[", 100_000)
		big := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"big@corp.example","x":"` + strings.Repeat("a", 250_000) + `"}`
		for _, tt := range []struct {
			name, method, path, body string
			chunked                  bool
			want                     int
		}{
			{"nested create", "POST", "/scim/v2/Users", deep, false, 400},
			{"nested in a value", "POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"d@corp.example","x":` + deep, false, 400},
			{"nested PATCH", "PATCH", "/scim/v2/Users/" + id, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + deep, false, 400},
			{"nested Bulk", "POST", "/scim/v2/Bulk", `{"schemas":["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],"Operations":` + deep, false, 400},
			{"nested search", "POST", "/scim/v2/.search", deep, false, 400},
			{"over the limit", "POST", "/scim/v2/Users", big, false, 413},
			{"over the limit, chunked", "POST", "/scim/v2/Users", big, true, 413},
			{"over the limit, Bulk", "POST", "/scim/v2/Bulk", big, false, 413},
		} {
			start := time.Now()
			head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: bridge\r\nConnection: close\r\nAuthorization: Bearer %s\r\nContent-Type: application/scim+json\r\n",
				tt.method, tt.path, s.token)
			var text string
			if tt.chunked {
				text = head + "Transfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(tt.body), tt.body)
			} else {
				text = head + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(tt.body)) + tt.body
			}
			r := rawRequest(t, addr, text)
			if r.status != tt.want || r.header.Get("Content-Type") != "application/scim+json" || !strings.Contains(r.body, `"status":"`+fmt.Sprint(tt.want)+`"`) {
				t.Errorf("%s: %d %q %.200s, want a SCIM %d", tt.name, r.status, r.header.Get("Content-Type"), r.body, tt.want)
			}
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("%s: answered after %v", tt.name, took)
			}
		}
		if code, _ := s.do(http.MethodGet, "/healthz", ""); code != http.StatusOK {
			t.Errorf("/healthz after hostile bodies: %d", code)
		}
		if code, _ := s.do(http.MethodGet, "/scim/v2/Users/"+id, ""); code != http.StatusOK {
			t.Errorf("a read after hostile bodies: %d", code)
		}
	})
}
