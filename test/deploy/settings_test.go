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

// settingKnown reports whether name is a variable the bridge reads: a
// setting config lists, or the _FILE variant of a secret one (issue 12:
// every secret may come from a file). config.UnknownVars is what serve and
// check-config warn with, so the manifests are held to the same list.
func settingKnown(name string) bool {
	return strings.HasPrefix(name, config.EnvPrefix) && len(config.UnknownVars([]string{name + "=x"})) == 0
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
// secret: one that may be read from a file (name + "_FILE"), whose value
// check-config never prints whole.
func isSecretSetting(name string) bool {
	return isSetting(name) && settingKnown(name+"_FILE")
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
