package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/config"
)

// configVars are the variables check-config must print, spelled out so that
// a setting dropped from the config package is noticed here.
var configVars = []string{
	"SCIM_BRIDGE_LISTEN", "SCIM_BRIDGE_TOKENS", "SCIM_BRIDGE_OIDC_ISSUER", "SCIM_BRIDGE_OIDC_AUDIENCE",
	"SCIM_BRIDGE_ADMIN_LISTEN", "SCIM_BRIDGE_ADMIN_TOKENS",
	"SCIM_BRIDGE_UIPATH_URL", "SCIM_BRIDGE_UIPATH_TOKEN_URL", "SCIM_BRIDGE_UIPATH_CLIENT_ID",
	"SCIM_BRIDGE_UIPATH_CLIENT_SECRET", "SCIM_BRIDGE_UIPATH_SCOPES", "SCIM_BRIDGE_UIPATH_PARTITION_ID",
	"SCIM_BRIDGE_REDIS_URL", "SCIM_BRIDGE_REDIS_PREFIX", "SCIM_BRIDGE_DATA_DIR",
	"SCIM_BRIDGE_MEMBERSHIP_STRATEGY", "SCIM_BRIDGE_MEMBERSHIP_WRITES", "SCIM_BRIDGE_DEPROVISION",
	"SCIM_BRIDGE_UIPATH_BUDGET", "SCIM_BRIDGE_UIPATH_BUDGET_WINDOW", "SCIM_BRIDGE_DEPROVISION_RESERVE",
	"SCIM_BRIDGE_UIPATH_TIMEOUT", "SCIM_BRIDGE_MAX_BODY_BYTES",
	"SCIM_BRIDGE_ADOPT_EXISTING", "SCIM_BRIDGE_LOG_LEVEL", "SCIM_BRIDGE_LOG_FORMAT",
	"SCIM_BRIDGE_SHUTDOWN_TIMEOUT",
}

// setConfigEnv makes vars (names without the SCIM_BRIDGE_ prefix) the whole
// bridge configuration for the rest of the test: every variable the config
// package reads, and the config file variable, is cleared first, so that the
// environment the tests run in cannot leak in.
func setConfigEnv(t *testing.T, vars map[string]string) {
	t.Helper()
	t.Setenv(config.FileEnv, "")
	for _, e := range (config.Config{}).Entries() {
		t.Setenv(e.Name, "")
		t.Setenv(e.Name+config.FileSuffix, "") // where a secret may come from
	}
	for k, v := range vars {
		t.Setenv(config.EnvPrefix+k, v)
	}
}

// problemVars returns the variable each line of the "problems:" section
// starts with, sorted.
func problemVars(out string) []string {
	_, problems, ok := strings.Cut(out, "\nproblems:\n")
	if !ok {
		return nil
	}
	var vars []string
	for _, line := range strings.Split(strings.TrimSpace(problems), "\n") {
		name, _, _ := strings.Cut(line, ":")
		vars = append(vars, name)
	}
	slices.Sort(vars)
	return vars
}

func TestCheckConfig(t *testing.T) {
	const (
		clientSecret = "cs-4f9b2e7d1a-very-secret"
		tokenA       = "idp-token-alpha-8c1e5-0123456789ab"
		tokenB       = "idp-token-beta-93d07-0123456789abc"
		redisPW      = "redis-pw-5e0c2b"
	)
	secrets := []string{clientSecret, tokenA, tokenB, redisPW}
	tests := []struct {
		name         string
		env          map[string]string
		wantCode     int
		wantOut      []string // each must appear
		wantProblems []string // variables the problems name, sorted
	}{
		{
			name: "valid with Redis",
			env: map[string]string{
				"TOKENS":               tokenA + "," + tokenB,
				"UIPATH_URL":           "https://cloud.uipath.com/acme/identity_",
				"UIPATH_CLIENT_ID":     "scim-bridge-app",
				"UIPATH_CLIENT_SECRET": clientSecret,
				"REDIS_URL":            "redis://:" + redisPW + "@127.0.0.1:6379/0",
			},
			wantCode: 0,
			wantOut: []string{
				"configuration OK",
				"<secret>,<secret>", // one per token
				"https://cloud.uipath.com/acme/identity_/connect/token (default)",
				"scim-bridge-app",
				"writes queued: the IdP is answered once the change is stored",
				"strategy auto: the fewest calls",
				"budget: 144 PUTs per 5m0s for membership changes; 16 more only for leavers",
			},
		},
		{
			name: "valid embedded",
			env: map[string]string{
				"TOKENS":               tokenA,
				"UIPATH_URL":           "https://cloud.uipath.com/acme/identity_",
				"UIPATH_CLIENT_ID":     "scim-bridge-app",
				"UIPATH_CLIENT_SECRET": clientSecret,
				"DATA_DIR":             "/var/lib/scim-bridge",
				"MEMBERSHIP_STRATEGY":  "GROUP",
				"MEMBERSHIP_WRITES":    "Sync",
				"UIPATH_BUDGET":        "GET=100",
				"DEPROVISION_RESERVE":  "0.2",
			},
			wantCode: 0,
			wantOut: []string{"configuration OK", "/var/lib/scim-bridge", "group", "sync", "GET=100,POST=24000,PUT=160,DELETE=160",
				"20%", "writes sync: the IdP waits for UiPath", "strategy group: one PUT /Group",
				"budget: 128 PUTs per 5m0s for membership changes; 32 more only for leavers"},
		},
		{
			// A value Load cannot parse (the budget) must not hide the
			// problems Validate finds in the rest.
			name: "broken",
			env: map[string]string{
				"TOKENS":               tokenA,
				"UIPATH_CLIENT_ID":     "scim-bridge-app",
				"UIPATH_CLIENT_SECRET": clientSecret,
				"MEMBERSHIP_STRATEGY":  "sideways",
				"MEMBERSHIP_WRITES":    "eventually",
				"UIPATH_BUDGET":        "GET=lots",
				"DEPROVISION_RESERVE":  "75%",
				"REDIS_URL":            "http://:" + redisPW + "@127.0.0.1:6379",
			},
			wantCode: 1,
			wantOut: []string{"problems:", `"sideways" is not one of user, group, auto`, `"eventually" is not one of queued, sync`,
				"UIPATH_URL: required", "count must be a positive integer", "75%: must be from 0% to 50%"},
			wantProblems: []string{
				"SCIM_BRIDGE_DEPROVISION_RESERVE", "SCIM_BRIDGE_MEMBERSHIP_STRATEGY", "SCIM_BRIDGE_MEMBERSHIP_WRITES",
				"SCIM_BRIDGE_REDIS_URL", "SCIM_BRIDGE_UIPATH_BUDGET", "SCIM_BRIDGE_UIPATH_URL",
			},
		},
		{
			name:     "nothing set",
			env:      map[string]string{},
			wantCode: 1,
			wantProblems: []string{
				"SCIM_BRIDGE_UIPATH_CLIENT_ID", "SCIM_BRIDGE_UIPATH_CLIENT_SECRET",
				"SCIM_BRIDGE_UIPATH_URL", "no IdP authentication",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setConfigEnv(t, tt.env)
			var out, errOut bytes.Buffer
			code := checkConfigCmd(t.Context(), nil, &out, &errOut)
			got := out.String() + errOut.String()
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; output:\n%s", code, tt.wantCode, got)
			}
			for _, want := range append(slices.Clone(configVars), tt.wantOut...) {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, got)
				}
			}
			// Every setting the config package knows is listed too.
			for _, e := range (config.Config{}).Entries() {
				if !strings.Contains(out.String(), e.Name+" ") {
					t.Errorf("setting %s not listed:\n%s", e.Name, got)
				}
			}
			for _, s := range secrets {
				if strings.Contains(got, s) {
					t.Errorf("output reveals secret %q:\n%s", s, got)
				}
			}
			if _, set := tt.env["UIPATH_CLIENT_SECRET"]; set && !strings.Contains(got, "<secret>") {
				t.Errorf("secrets not shown as <secret>:\n%s", got)
			}
			if gotProblems := problemVars(out.String()); !slices.Equal(gotProblems, tt.wantProblems) {
				t.Errorf("problems name %q, want %q; output:\n%s", gotProblems, tt.wantProblems, got)
			}
			if tt.wantCode == 0 && errOut.Len() > 0 {
				t.Errorf("stderr not empty: %s", errOut.String())
			}
		})
	}
}

// TestCheckConfigUnknownNames: a SCIM_BRIDGE_ variable that is not a
// setting is a warning naming it, never its value; an unknown key in the
// YAML file is a problem.
func TestCheckConfigUnknownNames(t *testing.T) {
	const typoValue = "typo-token-value-5c2e9d0a7b1f4e3d8a6c"
	env := map[string]string{
		"TOKENS": "idp-token-alpha-8c1e5-0123456789abcdef", "UIPATH_URL": "https://cloud.uipath.com/acme/identity_",
		"UIPATH_CLIENT_ID": "app", "UIPATH_CLIENT_SECRET": "cs-0123456789", "DATA_DIR": t.TempDir(),
	}
	setConfigEnv(t, env)
	t.Setenv("SCIM_BRIDGE_TOKEN", typoValue)
	var out bytes.Buffer
	if code := checkConfigCmd(t.Context(), nil, &out, &out); code != 0 {
		t.Errorf("exit %d, want 0 (an unknown variable is a warning)", code)
	}
	if !strings.Contains(out.String(), "warnings:\n  SCIM_BRIDGE_TOKEN is not a setting") {
		t.Errorf("output does not warn of SCIM_BRIDGE_TOKEN:\n%s", out.String())
	}
	if strings.Contains(out.String(), typoValue) {
		t.Errorf("output reveals the unknown variable's value:\n%s", out.String())
	}

	file := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(file, []byte("data_dri: /var/lib/scim-bridge\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := checkConfigCmd(t.Context(), []string{"-config", file}, &out, &out); code != 1 {
		t.Errorf("exit %d, want 1 (an unknown YAML key is a problem)", code)
	}
	if !strings.Contains(out.String(), `unknown key "data_dri"`) {
		t.Errorf("output does not report the unknown key:\n%s", out.String())
	}
}

// TestServeWarnsOfUnknownVariables: serve names a SCIM_BRIDGE_ variable no
// setting reads in a WARN line at start, never its value.
func TestServeWarnsOfUnknownVariables(t *testing.T) {
	const typoValue = "typo-token-value-0e7c41b2d9a85f36"
	t.Setenv("SCIM_BRIDGE_TOKEN", typoValue)
	s := startServe(t, map[string]string{"LOG_FORMAT": "json", "ADMIN_LISTEN": "off"})
	s.stop()
	logs := s.stderr.String()
	if !strings.Contains(logs, `"level":"WARN","msg":"not a setting of scim-bridge, ignored (a typo?)","variable":"SCIM_BRIDGE_TOKEN"`) {
		t.Errorf("no warning naming SCIM_BRIDGE_TOKEN:\n%s", logs)
	}
	if strings.Contains(logs, typoValue) {
		t.Errorf("the log holds the unknown variable's value:\n%s", logs)
	}
}
