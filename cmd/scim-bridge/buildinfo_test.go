package main

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// TestDeriveBuild checks which source each field of the version comes
// from: -ldflags -X first, then the go command's build information.
func TestDeriveBuild(t *testing.T) {
	vcs := func(rev, when, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "-compiler", Value: "gc"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: when},
			{Key: "vcs.modified", Value: modified},
		}
	}
	const rev = "a2077a0c1d2e3f40516273849a0b1c2d3e4f5a6b"
	tests := []struct {
		name                string
		bi                  *debug.BuildInfo
		ldVersion, ldCommit string
		ldDate              string
		want                buildInfo
	}{
		{
			name: "nothing known",
			bi:   nil,
			want: buildInfo{Version: "dev", GoVersion: runtime.Version()},
		},
		{
			name:      "ldflags default left alone",
			bi:        &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Path: "github.com/scim-bridge/scim-bridge", Version: "(devel)"}},
			ldVersion: "dev",
			want:      buildInfo{Version: "dev", GoVersion: "go1.26.1"},
		},
		{
			name: "go install module@tag",
			bi:   &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.4.0"}},
			want: buildInfo{Version: "v1.4.0", GoVersion: "go1.26.1"},
		},
		{
			name: "go build in a clean checkout",
			bi: &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.4.1-0.20260302093000-a2077a0c1d2e"},
				Settings: vcs(rev, "2026-03-02T09:30:00Z", "false")},
			want: buildInfo{Version: "v1.4.1-0.20260302093000-a2077a0c1d2e", Commit: rev, Date: "2026-03-02T09:30:00Z", Modified: "false", GoVersion: "go1.26.1"},
		},
		{
			name: "go build in a modified tree without a version",
			bi: &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"},
				Settings: vcs(rev, "2026-03-02T09:30:00Z", "true")},
			want: buildInfo{Version: "dev", Commit: rev, Date: "2026-03-02T09:30:00Z", Modified: "true", GoVersion: "go1.26.1"},
		},
		{
			name:      "ldflags win over build info",
			bi:        &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v0.0.0-20260302093000-a2077a0c1d2e"}, Settings: vcs(rev, "2026-03-02T09:30:00Z", "false")},
			ldVersion: "v1.5.0", ldCommit: "ffff", ldDate: "2026-04-01T00:00:00Z",
			want: buildInfo{Version: "v1.5.0", Commit: "ffff", Date: "2026-04-01T00:00:00Z", Modified: "false", GoVersion: "go1.26.1"},
		},
		{
			name:      "ldflags alone, as in the container image",
			bi:        &debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}},
			ldVersion: "v1.5.0", ldCommit: rev, ldDate: "2026-04-01T00:00:00Z",
			want: buildInfo{Version: "v1.5.0", Commit: rev, Date: "2026-04-01T00:00:00Z", GoVersion: "go1.26.1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := deriveBuild(tt.bi, tt.ldVersion, tt.ldCommit, tt.ldDate)
			if got != tt.want {
				t.Errorf("deriveBuild = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestVersionOutput checks what the version command prints for a build
// that knows everything and for one that knows nothing.
func TestVersionOutput(t *testing.T) {
	var full bytes.Buffer
	buildInfo{Version: "v1.5.0", Commit: "abc123", Date: "2026-04-01T00:00:00Z", Modified: "true", GoVersion: "go1.26.1"}.print(&full)
	want := "scim-bridge v1.5.0\n" +
		"  commit    abc123\n" +
		"  modified  true\n" +
		"  date      2026-04-01T00:00:00Z\n" +
		"  go        go1.26.1\n"
	if got := full.String(); got != want {
		t.Errorf("full build info printed\n%s\nwant\n%s", got, want)
	}
	var bare bytes.Buffer
	buildInfo{Version: "dev", GoVersion: "go1.26.1"}.print(&bare)
	if got, want := bare.String(), "scim-bridge dev\n  go        go1.26.1\n"; got != want {
		t.Errorf("bare build info printed\n%s\nwant\n%s", got, want)
	}
}

// TestVersionLdflags builds the binary the way the Dockerfile does, with
// -ldflags -X for the version, commit and date, and runs its version
// command: the variables' names are the ones the linker sets.
func TestVersionLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary; skipped in -short mode")
	}
	goBin, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
	if err != nil {
		t.Skipf("go not on PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "scim-bridge")
	ldflags := "-X main.version=v9.8.7 -X main.commit=0123456789abcdef -X main.date=2026-05-06T07:08:09Z"
	build := exec.CommandContext(t.Context(), goBin, "build", "-buildvcs=false", "-ldflags", ldflags, "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.CommandContext(t.Context(), bin, "version").Output()
	if err != nil {
		t.Fatalf("scim-bridge version: %v", err)
	}
	for _, want := range []string{"scim-bridge v9.8.7\n", "  commit    0123456789abcdef\n", "  date      2026-05-06T07:08:09Z\n"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("version printed %q, lacking %q", out, want)
		}
	}
	if strings.Contains(string(out), "modified") {
		t.Errorf("version printed %q: with -buildvcs=false whether the tree was modified is unknown", out)
	}
}
