package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/config"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
	"github.com/scim-bridge/scim-bridge/scim"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestCheckConfigProbe runs check-config -probe against real parts: the
// emulator over HTTP with its token endpoint, a real Redis or the embedded
// store; each failing check names its fix, and nothing secret is printed.
func TestCheckConfigProbe(t *testing.T) {
	const (
		clientSecret = "probe-client-secret-3f9a1c77"
		wrongSecret  = "probe-wrong-secret-8b2d4e19"
		idpToken     = "probe-idp-token-0123456789abcdef0123"
		redisPW      = "probe-redis-pw-6d1e"
	)
	emu := func(t *testing.T, scopes ...string) *envtest.Env {
		return envtest.New(t, envtest.Config{Store: envtest.NoStore, Quiet: true,
			Emulator: emulator.Config{ClientSecret: clientSecret, GrantedScopes: scopes}})
	}
	redisURL := redistest.URL(t)
	tests := []struct {
		name     string
		scopes   []string // granted to the emulator's application; nil: its default
		env      func(t *testing.T, uipathURL string) map[string]string
		wantCode int
		wantOut  []string
	}{
		{
			name: "all good on Redis",
			env: func(t *testing.T, u string) map[string]string {
				return map[string]string{"UIPATH_URL": u, "REDIS_URL": redisURL, "REDIS_PREFIX": redistest.Prefix(t)}
			},
			wantCode: 0,
			wantOut: []string{"ok    store: Redis at " + redisURL + ": PING answered", "ok    UiPath token", "ok    UiPath scopes",
				"granted: PM.User PM.Group", "ok    UiPath read: a page of users", "ok    UiPath read: the groups", "configuration OK"},
		},
		{
			name:   "all good embedded, with the .Read and .Write halves",
			scopes: []string{"PM.User.Read", "PM.User.Write", "PM.Group.Read", "PM.Group.Write"},
			env: func(t *testing.T, u string) map[string]string {
				return map[string]string{"UIPATH_URL": u, "UIPATH_SCOPES": "PM.User.Read PM.User.Write PM.Group.Read PM.Group.Write",
					"DATA_DIR": filepath.Join(t.TempDir(), "new")}
			},
			wantCode: 0,
			wantOut:  []string{"ok    store: embedded", "the file does not exist yet", "ok    UiPath scopes", "configuration OK"},
		},
		{
			name: "store down",
			env: func(t *testing.T, u string) map[string]string {
				return map[string]string{"UIPATH_URL": u, "REDIS_URL": "redis://:" + redisPW + "@" + closedPort(t) + "/0"}
			},
			wantCode: 1,
			wantOut: []string{"FAIL  store: Redis at redis://:<secret>@", "fix: start Redis or fix SCIM_BRIDGE_REDIS_URL",
				"ok    UiPath token", "the bridge cannot serve"},
		},
		{
			name: "bad client secret",
			env: func(t *testing.T, u string) map[string]string {
				return map[string]string{"UIPATH_URL": u, "UIPATH_CLIENT_SECRET": wrongSecret, "DATA_DIR": t.TempDir()}
			},
			wantCode: 1,
			wantOut: []string{"FAIL  UiPath token", "invalid_client", "fix: check SCIM_BRIDGE_UIPATH_CLIENT_ID and SCIM_BRIDGE_UIPATH_CLIENT_SECRET",
				"skip  UiPath reads: users and groups: not tried: no token"},
		},
		{
			name:   "missing scope: the application lacks PM.Group",
			scopes: []string{"PM.User"},
			env: func(t *testing.T, u string) map[string]string {
				return map[string]string{"UIPATH_URL": u, "DATA_DIR": t.TempDir()}
			},
			wantCode: 1,
			wantOut:  []string{"FAIL  UiPath token", "it has PM.User", "FAIL  UiPath scopes", "fix: grant PM.Group to the external application"},
		},
		{
			name:   "missing scope: only half of PM.Group",
			scopes: []string{"PM.User", "PM.Group.Read"},
			env: func(t *testing.T, u string) map[string]string {
				return map[string]string{"UIPATH_URL": u, "UIPATH_SCOPES": "PM.User PM.Group.Read", "DATA_DIR": t.TempDir()}
			},
			wantCode: 1,
			wantOut: []string{"ok    UiPath token", "FAIL  UiPath scopes", "granted: PM.User PM.Group.Read",
				"fix: add PM.Group to SCIM_BRIDGE_UIPATH_SCOPES"},
		},
		{
			name: "UiPath unreachable",
			env: func(t *testing.T, u string) map[string]string {
				return map[string]string{"UIPATH_URL": "http://127.0.0.1:1/identity_", "DATA_DIR": t.TempDir()}
			},
			wantCode: 1,
			wantOut:  []string{"FAIL  UiPath token", "fix: UiPath unreachable: check SCIM_BRIDGE_UIPATH_URL and the network"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			te := emu(t, tt.scopes...)
			clientID, _ := te.Emulator.Credentials()
			env := map[string]string{"TOKENS": idpToken, "UIPATH_CLIENT_ID": clientID, "UIPATH_CLIENT_SECRET": clientSecret}
			for k, v := range tt.env(t, te.URL) {
				env[k] = v
			}
			setConfigEnv(t, env)
			var out, errOut bytes.Buffer
			code := checkConfigCmd(t.Context(), []string{"-probe"}, &out, &errOut)
			got := out.String() + errOut.String()
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d", code, tt.wantCode)
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(got, want) {
					t.Errorf("output lacks %q", want)
				}
			}
			for _, s := range []string{clientSecret, wrongSecret, idpToken, redisPW} {
				if strings.Contains(got, s) {
					t.Errorf("output reveals the secret %q", s)
				}
			}
			if t.Failed() || testing.Verbose() {
				t.Logf("output:\n%s", got)
			}
		})
	}
}

// TestCheckConfigProbeEmbeddedLocked: the embedded store's file held by a
// running bridge is reported as such, not as a failure.
func TestCheckConfigProbeEmbeddedLocked(t *testing.T) {
	te := envtest.New(t, envtest.Config{Store: envtest.NoStore, Quiet: true})
	clientID, secret := te.Emulator.Credentials()
	dir := t.TempDir()
	env := map[string]string{"TOKENS": "probe-idp-token-0123456789abcdef0123", "UIPATH_URL": te.URL,
		"UIPATH_CLIENT_ID": clientID, "UIPATH_CLIENT_SECRET": secret, "DATA_DIR": dir}
	setConfigEnv(t, env)
	held, err := stores["embedded"](mustLoad(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	var out bytes.Buffer
	if code := checkConfigCmd(t.Context(), []string{"-probe"}, &out, &out); code != 0 {
		t.Errorf("exit %d, want 0:\n%s", code, out.String())
	}
	if !strings.Contains(out.String(), "the file is locked by a running serve") {
		t.Errorf("output does not say the file is locked:\n%s", out.String())
	}
}

// TestCheckConfigProbeDataDirNotWritable: a data directory serve cannot
// write to fails the store check.
func TestCheckConfigProbeDataDirNotWritable(t *testing.T) {
	te := envtest.New(t, envtest.Config{Store: envtest.NoStore, Quiet: true})
	clientID, secret := te.Emulator.Credentials()
	probe := func(t *testing.T, dataDir, detail, fix string) {
		setConfigEnv(t, map[string]string{"TOKENS": "probe-idp-token-0123456789abcdef0123", "UIPATH_URL": te.URL,
			"UIPATH_CLIENT_ID": clientID, "UIPATH_CLIENT_SECRET": secret, "DATA_DIR": dataDir})
		var out bytes.Buffer
		if code := checkConfigCmd(t.Context(), []string{"-probe"}, &out, &out); code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if !strings.Contains(out.String(), detail) || !strings.Contains(out.String(), "fix: "+fix) {
			t.Errorf("output does not say %q with the fix %q:\n%s", detail, fix, out.String())
		}
	}
	// A data directory below a regular file cannot be made, whoever runs
	// the check (root too), and the check says why.
	t.Run("below a file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "not-a-dir")
		if err := os.WriteFile(file, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		probe(t, filepath.Join(file, "data"), file+" is a file, not a directory", "fix SCIM_BRIDGE_DATA_DIR, or move "+file+" away")
	})
	t.Run("read-only directory", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("skipped: root writes to a read-only directory; the case above fails the check for root")
		}
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		probe(t, filepath.Join(dir, "data"), dir+" is not writable", "make "+dir+" writable")
	})
}

// mustLoad loads the configuration from the process environment.
func mustLoad(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.Load(os.Getenv, "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestDefaultsAgreeWithLibraries: config cannot import the libraries
// (STYLE.md §1), so its defaults restate theirs; they must stay the same:
// the default UiPath scopes are what the client calls and the probe
// checks, and the default OIDC caller name is scim's.
func TestDefaultsAgreeWithLibraries(t *testing.T) {
	cfg, err := config.Load(func(string) string { return "" }, "")
	if err != nil {
		t.Fatal(err)
	}
	if want := upstream.NeededScopes(); !slices.Equal(cfg.UiPathScopes, want) {
		t.Errorf("default %sUIPATH_SCOPES %v, want upstream.NeededScopes() %v", config.EnvPrefix, cfg.UiPathScopes, want)
	}
	if cfg.OIDCName != scim.DefaultOIDCName {
		t.Errorf("default %sOIDC_NAME %q, want scim.DefaultOIDCName %q", config.EnvPrefix, cfg.OIDCName, scim.DefaultOIDCName)
	}
}
