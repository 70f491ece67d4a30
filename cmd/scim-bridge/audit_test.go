package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
)

// runAudit runs the audit command with args.
func runAudit(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"audit"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// auditLines runs audit --json with args and decodes its lines.
func auditLines(t *testing.T, args ...string) []cache.AuditEntry {
	t.Helper()
	code, out, errOut := runAudit(t, append([]string{"--json"}, args...)...)
	if code != 0 {
		t.Fatalf("audit --json %v: exit %d\n%s%s", args, code, out, errOut)
	}
	var entries []cache.AuditEntry
	for line := range strings.Lines(out) {
		var e cache.AuditEntry
		dec := json.NewDecoder(strings.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("audit --json: line %q: %v", line, err)
		}
		entries = append(entries, e)
	}
	return entries
}

// leave deactivates a user as an IdP does, with a request id.
func (s *runningServe) leave(id, requestID string) {
	s.t.Helper()
	body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`
	req, _ := http.NewRequestWithContext(s.t.Context(), http.MethodPatch, s.base+"/scim/v2/Users/"+id, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+s.token)
	req.Header.Set("Content-Type", "application/scim+json")
	req.Header.Set("X-Request-Id", requestID)
	req.Header.Set("User-Agent", "Okta SCIM Client")
	res, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		s.t.Fatalf("deactivate %s: %d", id, res.StatusCode)
	}
}

// checkLeaverAudit checks what audit --json --user prints about a leaver.
func checkLeaverAudit(t *testing.T, id, from string) {
	t.Helper()
	for _, user := range []string{"Leaver@corp.example", id} {
		got := auditLines(t, "--user", user, "--since", "1h")
		if len(got) != 2 {
			t.Fatalf("audit --user %s: %+v, want the create and the deactivation", user, got)
		}
		d := got[1]
		if got[0].Operation != "create" || d.Operation != "deactivate" || d.Outcome != cache.AuditOK || d.ID != id ||
			d.RequestID != "req-leaver-42" || d.IdP != "okta" || d.Caller != "token-1" || d.Name != "leaver@corp.example" {
			t.Errorf("audit --user %s: %+v", user, got)
		}
		if len(d.Calls) == 0 || d.Calls[0].Method != http.MethodPut || d.Calls[0].Status != 200 || time.Since(d.Calls[0].At) > time.Minute {
			t.Errorf("deactivation's calls = %+v, want the PUT UiPath answered 200", d.Calls)
		}
	}
	if got := auditLines(t, "--user", "nobody@corp.example"); len(got) != 0 {
		t.Errorf("audit of an unknown user: %+v", got)
	}
	if got := auditLines(t, "--until", "2h"); len(got) != 0 {
		t.Errorf("audit --until 2h ago: %+v", got)
	}
	code, out, errOut := runAudit(t, "--user", id)
	if code != 0 || !strings.Contains(out, "deactivate") || !strings.Contains(out, "req-leaver-42") || !strings.Contains(out, "PUT 200 ") ||
		!strings.Contains(out, from) || !strings.Contains(out, "CALLER") || !strings.Contains(out, " token-1 ") {
		t.Errorf("audit (table): exit %d\n%s%s", code, out, errOut)
	}
}

// TestAuditCommand: audit prints what the running bridge recorded about
// a leaver: with the embedded store through the admin API while serve
// holds the file, then from the file; with Redis from the store.
func TestAuditCommand(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		s := startServe(t, map[string]string{"ADMIN_TOKENS": "adm-" + randomToken()})
		id := s.create("/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"leaver@corp.example"}`)
		s.leave(id, "req-leaver-42")
		checkLeaverAudit(t, id, "from the running bridge (")
		s.stop()
		checkLeaverAudit(t, id, "(no bridge has it open)")
	})
	t.Run("redis", func(t *testing.T) {
		s := startServe(t, map[string]string{"REDIS_URL": redistest.URL(t), "REDIS_PREFIX": redistest.Prefix(t), "ADMIN_LISTEN": "off"})
		id := s.create("/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"leaver@corp.example"}`)
		s.leave(id, "req-leaver-42")
		checkLeaverAudit(t, id, "read from Redis")
	})
}

// TestAuditQueryOf: the admin API's and the command's parameters.
func TestAuditQueryOf(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		v       url.Values
		want    cache.AuditQuery
		wantErr string
	}{
		{name: "none", v: url.Values{}},
		{name: "duration", v: url.Values{"since": {"24h"}, "user": {" ada "}, "limit": {"5"}},
			want: cache.AuditQuery{Since: now.Add(-24 * time.Hour), Subject: "ada", Limit: 5}},
		{name: "time and date", v: url.Values{"since": {"2026-02-01"}, "until": {"2026-02-02T10:00:00+01:00"}},
			want: cache.AuditQuery{Since: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 2, 2, 9, 0, 0, 0, time.UTC)}},
		{name: "bad since", v: url.Values{"since": {"yesterday"}}, wantErr: "not a duration"},
		{name: "negative", v: url.Values{"since": {"-1h"}}, wantErr: "must be positive"},
		{name: "until before since", v: url.Values{"since": {"1h"}, "until": {"2h"}}, wantErr: "until is before since"},
		{name: "bad limit", v: url.Values{"limit": {"-1"}}, wantErr: "not a count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := auditQueryOf(tt.v, now)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !got.Since.Equal(tt.want.Since) || !got.Until.Equal(tt.want.Until) || got.Subject != tt.want.Subject || got.Limit != tt.want.Limit {
				t.Fatalf("auditQueryOf = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}
