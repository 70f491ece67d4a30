package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// commit and date may be set at build time, like version (main.go), with
// -ldflags "-X main.commit=... -X main.date=...": the Dockerfile does, as
// its build context holds no .git for the go command to read them from.
var (
	commit string
	date   string
)

// buildInfo is what the bridge knows of its own build. version prints it,
// serve logs it when it starts, and /metrics exports it as
// scim_bridge_build_info.
type buildInfo struct {
	// Version is the release (v1.2.3), the pseudo-version the go command
	// derived from the repository, or "dev" when nothing is known.
	Version string
	// Commit is the VCS revision; "" when unknown.
	Commit string
	// Date is the commit's time (RFC 3339, as the go command records it);
	// "" when unknown.
	Date string
	// Modified says whether the working tree had uncommitted changes when
	// the binary was built: "true", "false", or "" when unknown (a binary
	// built outside a repository, such as the container image's).
	Modified string
	// GoVersion is the toolchain that built the binary.
	GoVersion string
}

// currentBuild returns the running binary's build information: the
// linker's -X values first, then what the go command recorded.
func currentBuild() buildInfo {
	bi, _ := debug.ReadBuildInfo() // nil when the binary has none
	return deriveBuild(bi, version, commit, date)
}

// deriveBuild combines the values set with -ldflags -X (ldVersion,
// ldCommit, ldDate; "" or "dev" for unset) with the build information the
// go command embeds (bi, which may be nil): the main module's version
// (set by "go install module@tag", or a pseudo-version derived from the
// repository by "go build" since Go 1.24; "(devel)" means none) and the
// vcs.revision, vcs.time and vcs.modified settings (absent when the
// binary was built outside a repository, or with -buildvcs=false). A
// value given with -X wins over a recorded one.
func deriveBuild(bi *debug.BuildInfo, ldVersion, ldCommit, ldDate string) buildInfo {
	b := buildInfo{GoVersion: runtime.Version()}
	if bi != nil {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
		if bi.GoVersion != "" {
			b.GoVersion = bi.GoVersion
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Commit = s.Value
			case "vcs.time":
				b.Date = s.Value
			case "vcs.modified":
				b.Modified = s.Value
			}
		}
	}
	if ldVersion != "" && ldVersion != "dev" {
		b.Version = ldVersion
	}
	if ldCommit != "" {
		b.Commit = ldCommit
	}
	if ldDate != "" {
		b.Date = ldDate
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	return b
}

// print writes b as the version command shows it: the version on the
// first line, then each field that is known.
func (b buildInfo) print(w io.Writer) {
	fmt.Fprintf(w, "scim-bridge %s\n", b.Version)
	if b.Commit != "" {
		fmt.Fprintf(w, "  commit    %s\n", b.Commit)
	}
	if b.Modified != "" {
		fmt.Fprintf(w, "  modified  %s\n", b.Modified)
	}
	if b.Date != "" {
		fmt.Fprintf(w, "  date      %s\n", b.Date)
	}
	fmt.Fprintf(w, "  go        %s\n", b.GoVersion)
}

// logAttrs returns b as key-value pairs for the serve start log line.
func (b buildInfo) logAttrs() []any {
	return []any{"version", b.Version, "commit", b.Commit, "commit_date", b.Date, "modified", b.Modified}
}
