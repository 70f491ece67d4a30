package test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/redistest"
)

// TestJSONLogWhenRedisDies runs serve with JSON logs on a Redis that is
// then killed: go-redis's complaints (dial failures in its pool) reach the
// log as JSON lines through the store's logger, and no line of the log is
// anything but JSON.
func TestJSONLogWhenRedisDies(t *testing.T) {
	bin := buildBridge(t)
	te := upstreamEnv(t)
	srv := redistest.Start(t)
	b := startBridge(t, bin, te, map[string]string{
		"REDIS_URL": srv.URL(), "REDIS_PREFIX": redistest.Prefix(t), "LOG_FORMAT": "json",
	})
	get := func(path string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+b.addr+path, nil)
		req.Header.Set("Authorization", "Bearer "+b.token)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
		}
	}
	get("/scim/v2/Users?count=1")
	srv.Kill()
	// Requests make go-redis dial the dead server until its pool gives up
	// and logs it.
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(b.logs.String(), "go-redis") {
		if time.Now().After(deadline) {
			t.Fatalf("go-redis logged nothing in 20s after Redis died:\n%s", b.logs.String())
		}
		get("/scim/v2/Users?count=1")
		get("/readyz")
		time.Sleep(100 * time.Millisecond)
	}
	b.Kill()
	sawWarn := false
	for _, line := range strings.Split(strings.TrimSpace(b.logs.String()), "\n") {
		if strings.HasPrefix(line, "=== ") { // the harness's own markers
			continue
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if rec["source"] == "go-redis" {
			sawWarn = rec["level"] == "WARN" && rec["component"] == "store"
		}
	}
	if !sawWarn {
		t.Errorf("no go-redis line at WARN from the store component:\n%s", b.logs.String())
	}
}
