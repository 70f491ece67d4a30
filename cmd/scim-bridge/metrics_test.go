package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// TestServeMetrics runs serve on Redis with the emulator as UiPath, sends
// Okta-like traffic (a create, lookups, a 404, a refused token, a UiPath
// 429 that is waited out) and scrapes /metrics without a token: the text is
// valid Prometheus exposition, counts exactly that traffic, and holds no
// token, secret or user name.
func TestServeMetrics(t *testing.T) {
	te := envtest.New(t, envtest.Config{Emulator: emulator.Config{ClientSecret: "emu-secret-" + randomToken()}, Store: envtest.NoStore, Quiet: true})
	emu := te.Emulator
	addr := freeAddr(t)
	token := "scim-token-" + randomToken()
	clientID, secret := emu.Credentials()
	setConfigEnv(t, map[string]string{
		"LISTEN":               addr,
		"TOKENS":               token,
		"UIPATH_URL":           te.URL,
		"UIPATH_CLIENT_ID":     clientID,
		"UIPATH_CLIENT_SECRET": secret,
		"REDIS_URL":            redistest.URL(t),
		"REDIS_PREFIX":         redistest.Prefix(t),
		"LOG_LEVEL":            "warn",
	})
	ctx, cancel := context.WithCancel(t.Context())
	var stdout, stderr envtest.LogBuffer
	done := make(chan int, 1)
	go func() { done <- serveCmd(ctx, nil, &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	})

	client := &http.Client{Transport: &http.Transport{}, Timeout: 30 * time.Second}
	t.Cleanup(client.CloseIdleConnections)
	base := "http://" + addr
	send := func(method, path, bearer, body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", "Okta SCIM Client 1.0.0")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/scim+json")
		}
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if res, err := client.Get(base + "/readyz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	const userName = "metrics.person@corp.example"
	// UiPath throttles the create once; the client waits Retry-After and retries.
	emu.Inject(emulator.Fault{Method: "POST", PathContains: "BulkCreate", Status: 429, RetryAfter: time.Second})
	if c, b := send("POST", "/scim/v2/Users", token, scimUser(userName)); c != 201 {
		t.Fatalf("create: %d %s", c, b)
	}
	_, before := send("GET", "/metrics", "", "")
	lookupsBefore := parseExposition(t, before)["scim_bridge_redis_lookups_total"]
	for range 3 {
		if c, b := send("GET", "/scim/v2/Users?filter="+strings.ReplaceAll(`userName eq "`+userName+`"`, " ", "%20"), token, ""); c != 200 || !strings.Contains(b, userName) {
			t.Fatalf("lookup: %d %s", c, b)
		}
	}
	if c, _ := send("GET", "/scim/v2/Users/00000000-0000-4000-8000-000000000000", token, ""); c != 404 {
		t.Fatalf("missing user: %d", c)
	}
	if c, _ := send("GET", "/scim/v2/Groups", "wrong-"+token, ""); c != 401 {
		t.Fatalf("bad token: %d", c)
	}

	code, text := send("GET", "/metrics", "", "")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, text)
	}
	samples := parseExposition(t, text)
	for series, want := range map[string]float64{
		`scim_bridge_scim_requests_total{idp="okta",method="POST",resource="Users",code="201"}`: 1,
		`scim_bridge_scim_requests_total{idp="okta",method="GET",resource="Users",code="200"}`:  3,
		`scim_bridge_scim_requests_total{idp="okta",method="GET",resource="Users",code="404"}`:  1,
		`scim_bridge_scim_requests_total{idp="okta",method="GET",resource="Groups",code="401"}`: 1,
		`scim_bridge_scim_request_duration_seconds_count{method="GET",resource="Users"}`:        4,
		`scim_bridge_upstream_requests_total{op="create_user",method="POST",code="429"}`:        1,
		`scim_bridge_redis_lookups_total`:                                                            lookupsBefore + 3,
		`scim_bridge_upstream_request_duration_seconds_bucket{method="POST",le="+Inf"}`:              samples[`scim_bridge_upstream_request_duration_seconds_count{method="POST"}`],
		`scim_bridge_scim_request_duration_seconds_bucket{method="POST",resource="Users",le="+Inf"}`: 1,
	} {
		if got, ok := samples[series]; !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	// The retried create shows as one 2xx.
	created := 0.0
	for series, v := range samples {
		if strings.HasPrefix(series, `scim_bridge_upstream_requests_total{op="create_user",method="POST",code="2`) {
			created += v
		}
	}
	if created != 1 {
		t.Errorf("successful create_user calls = %v, want 1:\n%s", created, text)
	}
	if samples["process_resident_memory_bytes"] <= 0 || samples["go_goroutines"] <= 0 {
		t.Errorf("process figures missing:\n%s", text)
	}
	for _, secretText := range []string{token, secret, userName, "metrics.person"} {
		if strings.Contains(text, secretText) {
			t.Errorf("/metrics contains %q", secretText)
		}
	}
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$`)
	metaLine   = regexp.MustCompile(`^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$`)
	leLabel    = regexp.MustCompile(`,?le="([^"]*)"`)
)

// parseExposition checks text against the Prometheus text format (every
// line a comment of known shape or a sample with a numeric value; every
// sample's family declared by a TYPE line before it; histogram buckets
// cumulative and ending in +Inf = _count) and returns the samples by series.
func parseExposition(t *testing.T, text string) map[string]float64 {
	t.Helper()
	samples := map[string]float64{}
	types := map[string]string{}
	lastBucket := map[string]float64{}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if m := metaLine.FindStringSubmatch(line); m != nil {
			if m[1] == "TYPE" {
				types[m[2]] = m[3]
			}
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %d is not exposition format: %q", i+1, line)
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("line %d: value %q: %v", i+1, m[3], err)
		}
		name, family := m[1], m[1]
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if f := strings.TrimSuffix(name, suffix); f != name && types[f] == "histogram" {
				family = f
			}
		}
		if types[family] == "" {
			t.Fatalf("line %d: %s has no TYPE line before it", i+1, name)
		}
		series := m[1] + m[2]
		if _, dup := samples[series]; dup {
			t.Fatalf("line %d: series %s repeated", i+1, series)
		}
		samples[series] = v
		if strings.HasSuffix(name, "_bucket") {
			key := family + leLabel.ReplaceAllString(m[2], "")
			if v < lastBucket[key] {
				t.Fatalf("line %d: bucket counts decrease", i+1)
			}
			lastBucket[key] = v
		}
		if strings.HasSuffix(name, "_count") && types[family] == "histogram" {
			key := family + m[2]
			if lastBucket[key] != v {
				t.Fatalf("line %d: %s%s = %v, but its +Inf bucket says %v", i+1, name, m[2], v, lastBucket[key])
			}
		}
	}
	return samples
}
