package logpii_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/internal/logpii"
)

const alice = "alice.smith@example.com"

// aliceHash is the first 12 hex digits of SHA-256("alice.smith@example.com").
const aliceHash = "sha256:7dcd3a39ad3a"

func logLine(t *testing.T, h func(slog.Handler) slog.Handler) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	log := slog.New(h(slog.NewJSONHandler(&buf, nil)))
	log.With("email", logpii.Value(alice)).WithGroup("g").Info("adopted", "scim_id", "id-1",
		"user_name", logpii.Value(alice), slog.Group("profile", "display_name", logpii.Value("Alice Smith"), "n", 3))
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	return rec
}

func TestModes(t *testing.T) {
	sum := logpii.Value(alice).LogValue().String()
	if !strings.HasPrefix(sum, "sha256:") || len(sum) != len("sha256:")+12 {
		t.Fatalf("hash %q: want sha256: and 12 hex digits", sum)
	}
	if logpii.Value(alice).LogValue().String() != sum {
		t.Fatal("hash not stable")
	}
	if sum != aliceHash {
		t.Fatalf("hash of %q is %s, want %s (what sha256sum prints, cut to 12)", alice, sum, aliceHash)
	}
	tests := []struct {
		name                       string
		mode                       logpii.Mode
		wantEmail, wantUser, wantD any // nil: attribute absent
	}{
		{"full", logpii.Full, alice, alice, "Alice Smith"},
		{"hash", logpii.Hash, sum, sum, logpii.Value("Alice Smith").LogValue().String()},
		{"off", logpii.Off, nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if m, ok := logpii.ParseMode(tt.name); !ok || m != tt.mode {
				t.Fatalf("ParseMode(%q) = %v, %v", tt.name, m, ok)
			}
			rec := logLine(t, func(h slog.Handler) slog.Handler { return logpii.Handler(h, tt.mode) })
			g, _ := rec["g"].(map[string]any)
			profile, _ := g["profile"].(map[string]any)
			if rec["email"] != tt.wantEmail || g["user_name"] != tt.wantUser || profile["display_name"] != tt.wantD {
				t.Errorf("email %v, user_name %v, display_name %v; want %v, %v, %v (line %v)",
					rec["email"], g["user_name"], profile["display_name"], tt.wantEmail, tt.wantUser, tt.wantD, rec)
			}
			// What is not personal data is untouched.
			if g["scim_id"] != "id-1" || profile["n"] != float64(3) || rec["msg"] != "adopted" {
				t.Errorf("other attributes changed: %v", rec)
			}
			if tt.mode != logpii.Full {
				if b, _ := json.Marshal(rec); strings.Contains(string(b), "alice") || strings.Contains(string(b), "Alice") {
					t.Errorf("mode %s logs the value: %s", tt.name, b)
				}
			}
		})
	}
	if _, ok := logpii.ParseMode("partial"); ok {
		t.Error(`ParseMode("partial") accepted`)
	}
}

// TestWithoutHandler: a logger without the mode's handler logs the hash.
func TestWithoutHandler(t *testing.T) {
	rec := logLine(t, func(h slog.Handler) slog.Handler { return h })
	if rec["email"] != logpii.Value(alice).LogValue().String() {
		t.Errorf("email = %v, want the hash", rec["email"])
	}
}
