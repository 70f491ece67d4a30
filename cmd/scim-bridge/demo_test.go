package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
)

// startDemo runs the demo command until the test ends and returns what it
// printed once it is ready.
func startDemo(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &envtest.LogBuffer{}, &envtest.LogBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- demoCmd(ctx, []string{"-listen", "127.0.0.1:0", "-admin-listen", "127.0.0.1:0", "-data", t.TempDir()}, out, errOut)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("demo exited %d: %s", code, errOut.String())
			}
		case <-time.After(10 * time.Second):
			t.Error("demo did not shut down within 10s of its context ending")
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "curl -s $UIPATH/_state\n\n") && !strings.HasSuffix(out.String(), "_state\n") {
		select {
		case code := <-done:
			t.Fatalf("demo exited %d before printing: %s", code, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("demo printed nothing usable: %q %q", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return out.String()
}

// TestDemoWalkThrough runs the shell lines the demo prints, as a person
// would paste them, and checks what UiPath (the emulator) holds after each
// half.
func TestDemoWalkThrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not on PATH: the walk-through is a shell script", tool)
		}
	}
	printed := startDemo(t)
	i := strings.Index(printed, "  export SCIM=")
	j := strings.Index(printed, "  # she leaves")
	if i < 0 || j < 0 {
		t.Fatalf("walk-through not found in:\n%s", printed)
	}
	uipath := regexp.MustCompile(`UIPATH=(\S+)`).FindStringSubmatch(printed)[1]
	setup := printed[i:strings.Index(printed, "\n\n  # a new hire")]

	run := func(script string) string {
		cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("walk-through failed: %v\n%s\n--- script ---\n%s", err, b, script)
		}
		return string(b)
	}
	state := func() map[string]any {
		res, err := http.Get(uipath + "/_state")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(res.Body).Decode(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}

	run(printed[i:j])
	st := state()
	users := st["users"].([]any)
	if len(users) != 1 || users[0].(map[string]any)["userName"] != "ada@example.com" {
		t.Fatalf("UiPath users after the first half: %v", users)
	}
	ada := users[0].(map[string]any)["id"].(string)
	var finance []any
	for _, g := range st["groups"].([]any) {
		if g.(map[string]any)["name"] == "Finance" {
			finance = g.(map[string]any)["members"].([]any)
		}
	}
	if len(finance) != 1 || finance[0] != ada {
		t.Fatalf("Finance members in UiPath: %v, want [%s]", finance, ada)
	}

	out := run(setup + "\n" + "ADA=" + ada + "\n" + printed[j:])
	if !strings.Contains(out, `"active":false`) {
		t.Errorf("deactivation answer: %s", out)
	}
	// The last lines show what /metrics counted of the walk-through
	// (client_golang writes the labels in name order).
	for _, want := range []string{
		`scim_bridge_scim_requests_total{caller="token-1",code="201",idp="other",method="POST",resource="Users"} 1`,
		`scim_bridge_scim_requests_total{caller="token-1",code="204",idp="other",method="DELETE",resource="Users"} 1`,
		`scim_bridge_upstream_requests_total{code="204",method="DELETE",op="delete_user"} 1`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lines lack %s:\n%s", want, out)
		}
	}
	if users := state()["users"].([]any); len(users) != 0 {
		t.Fatalf("UiPath still has users after the delete: %v", users)
	}
	// The admin lines: the leaver's audit trail and a dry-run pass.
	k := strings.Index(printed, "  # the leaver's trail")
	if k < 0 {
		t.Fatalf("admin lines not found in:\n%s", printed)
	}
	out = run(printed[k:])
	if !strings.Contains(out, `"operation":"deactivate"`) || !strings.Contains(out, `"dryRun": true`) {
		t.Errorf("audit and reconcile lines printed:\n%s", out)
	}
}

// TestRunCommands checks the dispatcher's answers that need no services.
func TestRunCommands(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
	}{
		{name: "version", args: []string{"version"}, wantCode: 0, wantOut: "scim-bridge dev"},
		{name: "no command", args: nil, wantCode: 2},
		{name: "unknown", args: []string{"frobnicate"}, wantCode: 2},
		{name: "help", args: []string{"help"}, wantCode: 0, wantOut: "check-config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(tt.args, &out, &errOut); code != tt.wantCode {
				t.Fatalf("exit %d, want %d (%s)", code, tt.wantCode, errOut.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("output %q lacks %q", out.String(), tt.wantOut)
			}
		})
	}
}
