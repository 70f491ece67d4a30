package redistest

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// EnvURL names the environment variable holding the URL of a Redis the tests
// may use (they never flush it).
const EnvURL = "SCIM_BRIDGE_TEST_REDIS_URL"

// URL returns a redis:// URL for the test t: EnvURL if set, else a
// redis-server started for t and stopped by t.Cleanup. It skips t when
// neither is available, or fails it if the environment has CI=true.
func URL(t testing.TB) string {
	t.Helper()
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	needBinary(t, "redis-server not on PATH and "+EnvURL+" unset")
	p, err := Launch(Ephemeral(t.TempDir())...)
	if err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(p.Kill)
	return p.URL()
}

// needBinary skips t with reason when redis-server is not on PATH, or
// fails it if the environment has CI=true.
func needBinary(t testing.TB, reason string) {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err == nil {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal(reason + " (CI=true: Redis tests must run)")
	}
	t.Skip(reason)
}

// Prefix returns a key prefix unique to this call: the test name (reduced
// to safe characters) and random bytes. It never contains the braces of a
// Redis Cluster hash tag.
func Prefix(t testing.TB) string {
	t.Helper()
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random prefix: %v", err)
	}
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '_'
	}, t.Name())
	if len(name) > 48 {
		name = name[len(name)-48:]
	}
	return "scim-bridge-test:" + name + ":" + hex.EncodeToString(b[:])
}
