package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/internal/logpii"
)

// TestServeLogPII runs serve in each SCIM_BRIDGE_LOG_PII mode, creates a
// user and a group, and reads the JSON log: the userName and the group's
// displayName appear in full, as their hash or not at all; the ids always.
func TestServeLogPII(t *testing.T) {
	const userName, groupName = "pii.person@example.com", "Payroll Secret Team"
	for _, mode := range logpii.Modes {
		t.Run(mode, func(t *testing.T) {
			settings := map[string]string{"LOG_LEVEL": "info", "LOG_FORMAT": "json", "ADMIN_LISTEN": "off"}
			if mode != "hash" { // hash is the default: leave it unset
				settings["LOG_PII"] = mode
			}
			s := startServe(t, settings)
			userID := s.create("/scim/v2/Users", scimUser(userName))
			groupID := s.create("/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"`+groupName+`"}`)
			s.stop()

			want := map[string]any{"user created": nil, "group created": nil}
			wantID := map[string]string{"user created": userID, "group created": groupID}
			key := map[string]string{"user created": "user_name", "group created": "display_name"}
			value := map[string]string{"user created": userName, "group created": groupName}
			for _, line := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("log line is not JSON: %q", line)
				}
				msg, _ := rec["msg"].(string)
				if _, ok := want[msg]; !ok {
					continue
				}
				if rec["scim_id"] != wantID[msg] {
					t.Errorf("%s: scim_id %v, want %s", msg, rec["scim_id"], wantID[msg])
				}
				got, has := rec[key[msg]]
				switch mode {
				case "full":
					if got != value[msg] {
						t.Errorf("%s: %s = %v, want %q", msg, key[msg], got, value[msg])
					}
				case "hash":
					if h := logpii.Value(value[msg]).LogValue().String(); got != h {
						t.Errorf("%s: %s = %v, want the hash %s", msg, key[msg], got, h)
					}
				case "off":
					if has {
						t.Errorf("%s: %s logged (%v) with LOG_PII=off", msg, key[msg], got)
					}
				}
				want[msg] = true
			}
			for msg, seen := range want {
				if seen == nil {
					t.Errorf("no %q line in the log:\n%s", msg, s.stderr.String())
				}
			}
			if mode != "full" {
				for _, v := range []string{userName, "pii.person", groupName} {
					if strings.Contains(s.stderr.String(), v) {
						t.Errorf("LOG_PII=%s: the log holds %q:\n%s", mode, v, s.stderr.String())
					}
				}
			}
		})
	}
}
