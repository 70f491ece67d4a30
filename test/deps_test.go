package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// layers is STYLE.md §1: each project package (path inside the module) and
// the project packages its production code may import. A subpackage not
// listed belongs to its nearest listed ancestor (scim/internal/auth is part
// of scim). anyPackage allows every project import.
var layers = map[string][]string{
	"config":             nil,
	"cache":              nil,
	"cache/redisstore":   {"cache", "internal/jsonscan"},
	"cache/boltstore":    {"cache"},
	"cache/cachetest":    {"cache"},
	"upstream":           nil,
	"upstream/emulator":  {"upstream"},
	"scimdoc":            nil,
	"mapping":            {"upstream", "cache", "scimdoc", "internal/logpii"},
	"scim":               {"mapping", "scimdoc", "internal/jsonscan", "internal/logpii"},
	"cmd/scim-bridge":    {anyPackage},
	"internal/redistest": nil,
	"internal/jsonscan":  nil,
	"internal/logpii":    nil,
	"internal/storetool": {"cache"},
	"internal/tlstest":   nil,
	"internal/clocktest": nil,
	"internal/envtest":   {"upstream", "upstream/emulator", "cache", "cache/boltstore", "cache/redisstore", "internal/redistest"},
	testTree:             {anyPackage},
}

const anyPackage = "*"

// testTree holds end-to-end tests and harnesses: not production code, so
// none of the rules below apply to it.
const testTree = "test"

// confined maps a third-party module to the project packages allowed to
// import it (STYLE.md §1: each library stays in one place).
var confined = map[string][]string{
	"github.com/redis/go-redis":      {"cache/redisstore", "internal/redistest"},
	"go.etcd.io/bbolt":               {"cache/boltstore"},
	"github.com/gorilla/mux":         {"scim"},
	"github.com/scim2/filter-parser": {"scimdoc"},
	"github.com/coreos/go-oidc":      {"scim"},
	"gopkg.in/yaml.v3":               {"config"},
	// Metrics are assembled and served by the command; the packages below
	// it report through hooks (scim.Config.Observe, upstream.Config.Observe).
	"github.com/prometheus/client_golang": {"cmd/scim-bridge"},
	"github.com/prometheus/client_model":  {"cmd/scim-bridge"},
	"github.com/prometheus/common":        {"cmd/scim-bridge"},
}

// pkg is the part of `go list -json` output the rules need. Imports are the
// direct imports of the production (non-test) files.
type pkg struct {
	ImportPath string
	Imports    []string
	Module     *struct{ Path string }
	Error      *struct{ Err string }
}

// TestDependencies enforces STYLE.md §1 on the production code of every
// package in the module.
func TestDependencies(t *testing.T) {
	pkgs, module := listPackages(t)
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	for _, p := range pkgs {
		if p.Error != nil {
			t.Logf("note: go list reports for %s: %s", p.ImportPath, p.Error.Err)
		}
	}
	for _, v := range checkDeps(module, pkgs) {
		t.Error(v)
	}
}

// listPackages runs `go list` on the module this file belongs to.
func listPackages(t *testing.T) ([]pkg, string) {
	t.Helper()
	goBin, err := exec.LookPath("go") // go test puts GOROOT/bin first in PATH
	if err != nil {
		t.Fatalf("go not on PATH: %v", err)
	}
	cmd := exec.CommandContext(t.Context(), goBin, "list", "-e", "-json=ImportPath,Imports,Module,Error", "./...")
	cmd.Dir = ".." // the module root: this package is <root>/test
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, stderr.Bytes())
	}
	var pkgs []pkg
	module := ""
	for dec := json.NewDecoder(bytes.NewReader(out)); ; {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		if p.Module != nil && module == "" {
			module = p.Module.Path
		}
		pkgs = append(pkgs, p)
	}
	if module == "" {
		t.Fatal("go list reported no module path")
	}
	return pkgs, module
}

// checkDeps returns one message per rule broken by pkgs, naming the
// offending package and import.
func checkDeps(module string, pkgs []pkg) []string {
	var violations []string
	report := func(format string, args ...any) {
		violations = append(violations, fmt.Sprintf(format, args...))
	}
	for _, p := range pkgs {
		rel, ok := relative(module, p.ImportPath)
		if !ok {
			continue // not ours
		}
		owner := ownerOf(rel)
		if owner == "" {
			report("%s: package is not in the layout table of STYLE.md §1; add it there and to layers in test/deps_test.go", rel)
			continue
		}
		if owner == testTree {
			continue
		}
		allowed := layers[owner]
		for _, imp := range p.Imports {
			impRel, ours := relative(module, imp)
			switch {
			case ours:
				impOwner := ownerOf(impRel)
				switch {
				case impOwner == "": // reported as an unlisted package
				case impOwner == owner || slices.Contains(allowed, anyPackage) || slices.Contains(allowed, impOwner):
				default:
					report("%s imports %s: %s (STYLE.md §1)", rel, impRel, mayImport(owner, allowed))
				}
				if isTestSupport(impRel) && !isTestSupport(rel) {
					report("%s imports %s: test-support packages are for tests only, they link in package testing", rel, impRel)
				}
			case imp == "testing" || strings.HasPrefix(imp, "testing/"):
				if !isTestSupport(rel) {
					report("%s imports %s: production code must not import testing (only packages named …test may)", rel, imp)
				}
			default:
				for lib, users := range confined {
					if (imp == lib || strings.HasPrefix(imp, lib+"/")) && !slices.Contains(users, owner) {
						report("%s imports %s: %s may be imported only by %s (STYLE.md §1)", rel, imp, lib, strings.Join(users, ", "))
					}
				}
			}
		}
	}
	slices.Sort(violations)
	return violations
}

// relative returns path inside module, and whether path is in module.
func relative(module, path string) (string, bool) {
	if path == module {
		return ".", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

// ownerOf returns the nearest listed ancestor of rel (rel itself if
// listed), or "" if none is.
func ownerOf(rel string) string {
	for p := rel; ; {
		if _, ok := layers[p]; ok {
			return p
		}
		i := strings.LastIndex(p, "/")
		if i < 0 {
			return ""
		}
		p = p[:i]
	}
}

// isTestSupport reports whether rel is a package of test helpers
// (cache/cachetest, internal/redistest, internal/envtest): its name ends
// in "test".
func isTestSupport(rel string) bool {
	return strings.HasSuffix(rel, "test") && ownerOf(rel) != testTree
}

// mayImport says which project packages owner may import.
func mayImport(owner string, allowed []string) string {
	if len(allowed) == 0 {
		return owner + " may import no project package"
	}
	return owner + " may import only " + strings.Join(allowed, ", ")
}

// TestCheckDeps checks the rules themselves on made-up packages, since most
// of the layout may not exist yet when the real packages are checked.
func TestCheckDeps(t *testing.T) {
	const m = "example.com/bridge"
	p := func(path string, imports ...string) pkg {
		for i, imp := range imports {
			if !strings.Contains(imp, ".") && !strings.HasPrefix(imp, "testing") && imp != "fmt" {
				imports[i] = m + "/" + imp // a project package
			}
		}
		return pkg{ImportPath: m + "/" + path, Imports: imports}
	}
	tests := []struct {
		name           string
		pkgs           []pkg
		wantViolations []string
	}{
		{
			name: "the layout as designed",
			pkgs: []pkg{
				p("config", "fmt", "gopkg.in/yaml.v3"),
				p("cache", "fmt"),
				p("cache/redisstore", "cache", "github.com/redis/go-redis/v9"),
				p("cache/boltstore", "cache", "go.etcd.io/bbolt"),
				p("cache/cachetest", "cache", "testing"),
				p("upstream", "fmt"),
				p("upstream/emulator", "upstream"),
				p("scimdoc", "github.com/scim2/filter-parser/v2"),
				p("mapping", "upstream", "cache", "scimdoc"),
				p("scim", "mapping", "scimdoc", "scim/internal/auth", "github.com/gorilla/mux"),
				p("scim/internal/auth", "github.com/coreos/go-oidc/v3/oidc"),
				p("cmd/scim-bridge", "config", "scim", "mapping", "cache/redisstore", "cache/boltstore", "upstream/emulator",
					"github.com/prometheus/client_golang/prometheus", "github.com/prometheus/client_golang/prometheus/promhttp"),
				p("internal/redistest", "testing", "github.com/redis/go-redis/v9"),
				p("internal/envtest", "testing", "upstream/emulator", "cache/boltstore", "cache/redisstore", "internal/redistest"),
				p("test", "testing", "cache/cachetest"),
				p("test/load", "config", "github.com/redis/go-redis/v9", "testing"),
				{ImportPath: "other.example/lib", Imports: []string{"testing"}},
			},
		},
		{
			name: "imports that point up or sideways",
			pkgs: []pkg{
				p("cache", "cache/redisstore"),
				p("mapping", "scim", "config"),
				p("upstream", "cache"),
				p("cache/boltstore", "cache/redisstore"),
			},
			wantViolations: []string{
				"cache imports cache/redisstore: cache may import no project package (STYLE.md §1)",
				"cache/boltstore imports cache/redisstore: cache/boltstore may import only cache (STYLE.md §1)",
				"mapping imports config: mapping may import only upstream, cache, scimdoc, internal/logpii (STYLE.md §1)",
				"mapping imports scim: mapping may import only upstream, cache, scimdoc, internal/logpii (STYLE.md §1)",
				"upstream imports cache: upstream may import no project package (STYLE.md §1)",
			},
		},
		{
			name: "third-party libraries outside their package",
			pkgs: []pkg{
				p("scim", "github.com/redis/go-redis/v9"),
				p("cmd/scim-bridge", "gopkg.in/yaml.v3", "go.etcd.io/bbolt"),
				p("upstream", "github.com/scim2/filter-parser/v2", "github.com/scim2/filter-parserx"),
				p("mapping", "github.com/gorilla/mux"),
				p("scim", "github.com/prometheus/client_golang/prometheus"),
			},
			wantViolations: []string{
				"cmd/scim-bridge imports go.etcd.io/bbolt: go.etcd.io/bbolt may be imported only by cache/boltstore (STYLE.md §1)",
				"cmd/scim-bridge imports gopkg.in/yaml.v3: gopkg.in/yaml.v3 may be imported only by config (STYLE.md §1)",
				"mapping imports github.com/gorilla/mux: github.com/gorilla/mux may be imported only by scim (STYLE.md §1)",
				"scim imports github.com/prometheus/client_golang/prometheus: github.com/prometheus/client_golang may be imported only by cmd/scim-bridge (STYLE.md §1)",
				"scim imports github.com/redis/go-redis/v9: github.com/redis/go-redis may be imported only by cache/redisstore, internal/redistest (STYLE.md §1)",
				"upstream imports github.com/scim2/filter-parser/v2: github.com/scim2/filter-parser may be imported only by scimdoc (STYLE.md §1)",
			},
		},
		{
			name: "testing in production code",
			pkgs: []pkg{
				p("upstream", "testing"),
				p("scim/internal/auth", "testing/synctest"),
				p("cmd/scim-bridge", "cache/cachetest"),
			},
			wantViolations: []string{
				"cmd/scim-bridge imports cache/cachetest: test-support packages are for tests only, they link in package testing",
				"scim/internal/auth imports testing/synctest: production code must not import testing (only packages named …test may)",
				"upstream imports testing: production code must not import testing (only packages named …test may)",
			},
		},
		{
			name: "packages outside the table",
			pkgs: []pkg{p("internal/util"), p("tools/gen"), p("mapping", "internal/util")},
			wantViolations: []string{
				"internal/util: package is not in the layout table of STYLE.md §1; add it there and to layers in test/deps_test.go",
				"tools/gen: package is not in the layout table of STYLE.md §1; add it there and to layers in test/deps_test.go",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkDeps(m, tt.pkgs)
			if !slices.Equal(got, tt.wantViolations) {
				t.Errorf("violations:\n got  %s\n want %s", strings.Join(got, "\n      "), strings.Join(tt.wantViolations, "\n      "))
			}
		})
	}
}
