package deploy

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/config"
)

// repoRoot returns the repository's root directory, from this file's path.
func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test's source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// readRepoFile returns the content of path, relative to the repository.
func readRepoFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), filepath.FromSlash(path)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pendingSettings are settings issue 12 adds in parallel work that this
// branch's config package does not know yet. TODO(pkg): drop each name
// once config lists it (settingKnown then finds it there).
var pendingSettings = []string{
	"SCIM_BRIDGE_TLS_CERT_FILE",
	"SCIM_BRIDGE_TLS_KEY_FILE",
	"SCIM_BRIDGE_TOKENS_FILE",
	"SCIM_BRIDGE_DRAIN_DELAY",
	"SCIM_BRIDGE_LOG_PII",
}

// settingKnown reports whether name is a setting of the bridge: one that
// config lists, the _FILE variant of a secret one (issue 12: every secret
// may come from a file), or one of pendingSettings.
func settingKnown(name string) bool {
	if isSetting(name) {
		return true
	}
	if base, ok := strings.CutSuffix(name, "_FILE"); ok && isSecretSetting(base) {
		return true
	}
	for _, p := range pendingSettings {
		if p == name {
			return true
		}
	}
	return false
}

// isSetting reports whether config lists name.
func isSetting(name string) bool {
	for _, e := range (config.Config{}).Entries() {
		if e.Name == name {
			return true
		}
	}
	return false
}

// isSecretSetting reports whether name is a setting config keeps as a
// secret: given a value, check-config prints it as <secret>.
func isSecretSetting(name string) bool {
	if !isSetting(name) {
		return false
	}
	const probe = "some-value-0123456789-some-value-0123456789"
	c, _ := config.Load(func(k string) string {
		if k == name {
			return probe
		}
		return ""
	}, "")
	for _, e := range c.Entries() {
		if e.Name == name {
			return strings.Contains(e.Value, "<secret>") && !strings.Contains(e.Value, probe)
		}
	}
	return false
}

// TestSettingHelpers checks the helpers the manifest tests rely on, so a
// change in config cannot turn them into ones that accept anything.
func TestSettingHelpers(t *testing.T) {
	for _, tt := range []struct {
		name              string
		wantKnown, secret bool
	}{
		{name: "SCIM_BRIDGE_LISTEN", wantKnown: true},
		{name: "SCIM_BRIDGE_REDIS_URL", wantKnown: true, secret: true},
		{name: "SCIM_BRIDGE_TOKENS", wantKnown: true, secret: true},
		{name: "SCIM_BRIDGE_UIPATH_CLIENT_SECRET", wantKnown: true, secret: true},
		{name: "SCIM_BRIDGE_UIPATH_CLIENT_SECRET_FILE", wantKnown: true},
		{name: "SCIM_BRIDGE_ADMIN_TOKENS_FILE", wantKnown: true},
		{name: "SCIM_BRIDGE_LISTEN_FILE"},
		{name: "SCIM_BRIDGE_LISTN"},
		{name: "SCIM_BRIDGE_UIPATH_CLIENT_ID", wantKnown: true},
	} {
		if got := settingKnown(tt.name); got != tt.wantKnown {
			t.Errorf("settingKnown(%s) = %v, want %v", tt.name, got, tt.wantKnown)
		}
		if got := isSecretSetting(tt.name); got != tt.secret {
			t.Errorf("isSecretSetting(%s) = %v, want %v", tt.name, got, tt.secret)
		}
	}
}
