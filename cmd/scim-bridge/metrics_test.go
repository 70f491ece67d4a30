package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scim"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// TestServeMetrics runs serve on Redis with the emulator as UiPath, sends
// Okta-like traffic (a create, lookups, a 404, a refused token, a UiPath
// 429 that is waited out) and scrapes /metrics on the admin listener
// without a token: the text is valid Prometheus exposition, counts exactly
// that traffic, and holds no token, secret or user name. The SCIM
// listener does not serve /metrics.
func TestServeMetrics(t *testing.T) {
	te := envtest.New(t, envtest.Config{Emulator: emulator.Config{ClientSecret: "emu-secret-" + randomToken()}, Store: envtest.NoStore, Quiet: true})
	emu := te.Emulator
	addr, adminAddr := freeAddr(t), freeAddr(t)
	token := "scim-token-" + randomToken()
	clientID, secret := emu.Credentials()
	setConfigEnv(t, map[string]string{
		"LISTEN":               addr,
		"ADMIN_LISTEN":         adminAddr,
		"TOKENS":               token,
		"UIPATH_URL":           te.URL,
		"UIPATH_CLIENT_ID":     clientID,
		"UIPATH_CLIENT_SECRET": secret,
		"REDIS_URL":            redistest.URL(t),
		"REDIS_PREFIX":         redistest.Prefix(t),
		"LOG_LEVEL":            "warn",
		"DRAIN_DELAY":          "0s",
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
	base, admin := "http://"+addr, "http://"+adminAddr
	sendTo := func(base, method, path, bearer, body string) (int, string) {
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
	send := func(method, path, bearer, body string) (int, string) {
		t.Helper()
		return sendTo(base, method, path, bearer, body)
	}
	scrape := func(method string) (int, string) {
		t.Helper()
		return sendTo(admin, method, "/metrics", "", "")
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
	_, before := scrape("GET")
	lookupsBefore := parseExposition(t, before).get(t, "scim_bridge_redis_lookups_total", nil)
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

	if c, b := send("GET", "/metrics", "", ""); c != http.StatusNotFound || strings.Contains(b, "scim_bridge_") {
		t.Errorf("GET /metrics on the SCIM listener: %d %.200s, want 404", c, b)
	}
	code, text := scrape("GET")
	if code != 200 {
		t.Fatalf("/metrics: %d %s", code, text)
	}
	samples := parseExposition(t, text)
	for series, want := range map[string]float64{
		`scim_bridge_scim_requests_total{idp="okta",caller="token-1",method="POST",resource="Users",code="201"}`: 1,
		`scim_bridge_scim_requests_total{idp="okta",caller="token-1",method="GET",resource="Users",code="200"}`:  3,
		`scim_bridge_scim_requests_total{idp="okta",caller="token-1",method="GET",resource="Users",code="404"}`:  1,
		`scim_bridge_scim_requests_total{idp="okta",caller="",method="GET",resource="Groups",code="401"}`:        1,
		`scim_bridge_scim_request_duration_seconds_count{method="GET",resource="Users"}`:                         4,
		`scim_bridge_scim_request_duration_seconds_count{method="GET",resource="Groups"}`:                        1,
		`scim_bridge_scim_request_duration_seconds_bucket{method="POST",resource="Users",le="+Inf"}`:             1,
		`scim_bridge_upstream_requests_total{op="create_user",method="POST",code="429"}`:                         1,
		`scim_bridge_redis_lookups_total`: lookupsBefore + 3,
		buildInfoSeries(currentBuild()):   1,
	} {
		if got, ok := samples.lookup(series); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	// Only the SCIM requests above were counted: not /readyz, not /metrics.
	if n := samples.sum("scim_bridge_scim_requests_total", nil); n != 6 {
		t.Errorf("SCIM requests counted: %v, want 6:\n%s", n, text)
	}
	if n := samples.sum("scim_bridge_scim_request_duration_seconds_count", nil); n != 6 {
		t.Errorf("SCIM requests timed: %v, want 6:\n%s", n, text)
	}
	// The retried create shows as one 429 and one 2xx, and every POST sent
	// to UiPath was timed.
	created := 0.0
	for _, s := range samples.all("scim_bridge_upstream_requests_total", map[string]string{"op": "create_user", "method": "POST"}) {
		if strings.HasPrefix(s.labels["code"], "2") {
			created += s.value
		}
	}
	if created != 1 {
		t.Errorf("successful create_user calls = %v, want 1:\n%s", created, text)
	}
	posts := samples.sum("scim_bridge_upstream_requests_total", map[string]string{"method": "POST"})
	if timed := samples.get(t, `scim_bridge_upstream_request_duration_seconds_count{method="POST"}`, nil); posts < 2 || timed != posts {
		t.Errorf("UiPath POSTs: %v counted, %v timed; want the same, at least 2", posts, timed)
	}
	if p := samples.get(t, "scim_bridge_redis_lookup_pipelines_total", nil); p < 1 || p > samples.get(t, "scim_bridge_redis_lookups_total", nil) {
		t.Errorf("scim_bridge_redis_lookup_pipelines_total = %v, want between 1 and the lookups", p)
	}
	// client_golang's Go and process collectors stand in for the figures
	// the bridge used to write itself.
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes", "process_start_time_seconds", "process_cpu_seconds_total"} {
		if v, ok := samples.lookup(name); !ok || v <= 0 {
			t.Errorf("%s = %v (present %v), want > 0", name, v, ok)
		}
	}
	for _, secretText := range []string{token, secret, userName, "metrics.person"} {
		if strings.Contains(text, secretText) {
			t.Errorf("/metrics contains %q", secretText)
		}
	}
	for method, want := range map[string]int{"HEAD": 200, "POST": 405} {
		if c, _ := scrape(method); c != want {
			t.Errorf("%s /metrics: %d, want %d", method, c, want)
		}
	}
}

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$`)
	metaLine   = regexp.MustCompile(`^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// sample is one line of an exposition.
type sample struct {
	name   string
	labels map[string]string // values as written, escapes kept
	value  float64
}

// exposition is a scrape's samples by series; a series is written with its
// labels in name order (as client_golang writes them), see seriesKey.
type exposition map[string]sample

// seriesKey writes name{labels} with the labels sorted by name, so that a
// series can be named in any label order.
func seriesKey(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	pairs := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		pairs = append(pairs, k+`="`+labels[k]+`"`)
	}
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// parseSeries splits name{k="v",...} into its name and labels.
func parseSeries(series string) (string, map[string]string) {
	name, rest, _ := strings.Cut(series, "{")
	labels := map[string]string{}
	for _, m := range labelPair.FindAllStringSubmatch(rest, -1) {
		labels[m[1]] = m[2]
	}
	return name, labels
}

// lookup returns the value of a series, named with its labels in any
// order.
func (e exposition) lookup(series string) (float64, bool) {
	s, ok := e[seriesKey(parseSeries(series))]
	return s.value, ok
}

// get is lookup with the labels given apart; it fails the test if the
// series is absent.
func (e exposition) get(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	if labels != nil {
		name = seriesKey(name, labels)
	}
	v, ok := e.lookup(name)
	if !ok {
		t.Fatalf("no series %s", name)
	}
	return v
}

// all returns the samples of name whose labels include match.
func (e exposition) all(name string, match map[string]string) []sample {
	var out []sample
	for _, s := range e {
		if s.name != name {
			continue
		}
		ok := true
		for k, v := range match {
			ok = ok && s.labels[k] == v
		}
		if ok {
			out = append(out, s)
		}
	}
	return out
}

// sum adds the values of all(name, match).
func (e exposition) sum(name string, match map[string]string) float64 {
	total := 0.0
	for _, s := range e.all(name, match) {
		total += s.value
	}
	return total
}

// parseExposition checks text against the Prometheus text format (every
// line a comment of known shape or a sample with a numeric value; every
// sample's family declared by a TYPE line before it; no series twice;
// histogram buckets in increasing le with cumulative counts, ending in a
// +Inf bucket equal to _count) and returns the samples.
func parseExposition(t *testing.T, text string) exposition {
	t.Helper()
	samples := exposition{}
	types := map[string]string{}
	type histogramState struct{ le, count, inf float64 }
	histograms := map[string]*histogramState{}
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
		name, labels := parseSeries(m[1] + m[2])
		family := name
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if f := strings.TrimSuffix(name, suffix); f != name && (types[f] == "histogram" || types[f] == "summary" && suffix != "_bucket") {
				family = f
			}
		}
		if types[family] == "" {
			t.Fatalf("line %d: %s has no TYPE line before it", i+1, name)
		}
		key := seriesKey(name, labels)
		if _, dup := samples[key]; dup {
			t.Fatalf("line %d: series %s repeated", i+1, key)
		}
		samples[key] = sample{name: name, labels: labels, value: v}
		if types[family] != "histogram" {
			continue
		}
		rest := maps.Clone(labels)
		delete(rest, "le")
		hkey := seriesKey(family, rest)
		h := histograms[hkey]
		if h == nil {
			h = &histogramState{le: math.Inf(-1), inf: -1}
			histograms[hkey] = h
		}
		switch name {
		case family + "_bucket":
			le, err := strconv.ParseFloat(labels["le"], 64)
			if err != nil || le <= h.le || v < h.count {
				t.Fatalf("line %d: bucket le=%q after le=%v holds %v after %v", i+1, labels["le"], h.le, v, h.count)
			}
			h.le, h.count = le, v
			if math.IsInf(le, 1) {
				h.inf = v
			}
		case family + "_count":
			if h.inf != v {
				t.Fatalf("line %d: %s = %v, but its +Inf bucket says %v", i+1, key, v, h.inf)
			}
		}
	}
	return samples
}

// TestMetricsObservations feeds observations straight to the metrics and
// checks the scrape: exact counts and sums, the documented buckets, the
// budget figures (a refused call is exhausted, not sent), the Redis
// counters only when there is a Redis, and /metrics confined to GET and
// HEAD on the admin listener.
func TestMetricsObservations(t *testing.T) {
	m := newMetrics(buildInfo{Version: "1.2.3", Commit: "c0ffee", GoVersion: "go1"}, func() (int64, int64) { return 7, 2 }, newLogger(io.Discard, "error", "text"))
	const workers, each = 8, 50
	done := make(chan struct{})
	for range workers {
		go func() {
			defer func() { done <- struct{}{} }()
			for range each {
				m.ObserveRequest(scim.RequestObservation{IdP: "entra", Caller: "entra-prod", Method: "GET", Resource: "Users", Code: 200, Duration: 3 * time.Millisecond})
			}
		}()
	}
	for range workers {
		<-done
	}
	m.ObserveRequest(scim.RequestObservation{IdP: "okta", Caller: "okta-prod", Method: "PATCH", Resource: "Groups", Code: 204, Duration: 30 * time.Second})
	m.ObserveUpstream(upstream.Observation{Op: "create user", Method: "POST", Status: 201, Duration: 200 * time.Millisecond, BudgetWait: 1500 * time.Millisecond})
	m.ObserveUpstream(upstream.Observation{Op: "get user", Method: "GET", Duration: 31 * time.Second})
	m.ObserveUpstream(upstream.Observation{Op: "update user", Method: "PUT", BudgetWait: 20 * time.Second, BudgetExhausted: true})
	// Two scheduler rounds: the gauges show the latest, the counters add up.
	m.ObserveRound(mapping.RoundReport{Pending: 40, Oldest: 90 * time.Second, Planned: 7, Sent: 3, Done: 25, Retried: 2, Failed: 1}, nil)
	m.ObserveRound(mapping.RoundReport{Pending: 12, Oldest: 3 * time.Second, Planned: 4, Sent: 4, Done: 12, HoldingPush: true}, nil)
	m.ObserveDeprovision(40 * time.Millisecond)
	m.ObserveDeprovision(3 * time.Second)

	srv := httptest.NewServer(newAdminHandler(nil, m.Handler(), adminAPI{}, newLogger(io.Discard, "error", "text")))
	t.Cleanup(srv.Close)
	res, err := srv.Client().Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if ct := res.Header.Get("Content-Type"); res.StatusCode != 200 || !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %d, Content-Type %q", res.StatusCode, ct)
	}
	text := string(raw)
	samples := parseExposition(t, text)
	for series, want := range map[string]float64{
		`scim_bridge_scim_requests_total{idp="entra",caller="entra-prod",method="GET",resource="Users",code="200"}`:  workers * each,
		`scim_bridge_scim_requests_total{idp="okta",caller="okta-prod",method="PATCH",resource="Groups",code="204"}`: 1,
		`scim_bridge_scim_request_duration_seconds_count{method="GET",resource="Users"}`:                             workers * each,
		`scim_bridge_scim_request_duration_seconds_bucket{method="GET",resource="Users",le="0.0025"}`:                0,
		`scim_bridge_scim_request_duration_seconds_bucket{method="GET",resource="Users",le="0.005"}`:                 workers * each,
		`scim_bridge_scim_request_duration_seconds_bucket{method="PATCH",resource="Groups",le="25"}`:                 0,
		`scim_bridge_scim_request_duration_seconds_bucket{method="PATCH",resource="Groups",le="50"}`:                 1,
		`scim_bridge_scim_request_duration_seconds_sum{method="PATCH",resource="Groups"}`:                            30,
		`scim_bridge_upstream_requests_total{op="create_user",method="POST",code="201"}`:                             1,
		`scim_bridge_upstream_requests_total{op="get_user",method="GET",code="none"}`:                                1,
		`scim_bridge_upstream_request_duration_seconds_bucket{method="POST",le="0.1"}`:                               0,
		`scim_bridge_upstream_request_duration_seconds_bucket{method="POST",le="0.25"}`:                              1,
		`scim_bridge_upstream_request_duration_seconds_sum{method="POST"}`:                                           0.2,
		`scim_bridge_upstream_request_duration_seconds_bucket{method="GET",le="30"}`:                                 0,
		`scim_bridge_upstream_request_duration_seconds_count{method="GET"}`:                                          1,
		`scim_bridge_upstream_budget_wait_seconds_total{method="POST"}`:                                              1.5,
		`scim_bridge_upstream_budget_wait_seconds_total{method="PUT"}`:                                               20,
		`scim_bridge_upstream_budget_exhausted_total{method="PUT"}`:                                                  1,
		`scim_bridge_membership_pending`:                                                                             12,
		`scim_bridge_membership_pending_oldest_seconds`:                                                              3,
		`scim_bridge_membership_planned_calls`:                                                                       4,
		`scim_bridge_membership_holding_push`:                                                                        1,
		`scim_bridge_membership_calls_sent_total`:                                                                    7,
		`scim_bridge_membership_changes_total{result="done"}`:                                                        37,
		`scim_bridge_membership_changes_total{result="retried"}`:                                                     2,
		`scim_bridge_membership_changes_total{result="failed"}`:                                                      1,
		`scim_bridge_deprovision_seconds_count`:                                                                      2,
		`scim_bridge_deprovision_seconds_bucket{le="0.05"}`:                                                          1,
		`scim_bridge_deprovision_seconds_bucket{le="5"}`:                                                             2,
		`scim_bridge_redis_lookups_total`:                                                                            7,
		`scim_bridge_redis_lookup_pipelines_total`:                                                                   2,
		`scim_bridge_build_info{version="1.2.3",revision="c0ffee",modified="",goversion="go1"}`:                      1,
	} {
		if got, ok := samples.lookup(series); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", series, got, ok, want)
		}
	}
	// A call the budget refused was not sent: no request, no duration.
	if got := samples.all("scim_bridge_upstream_requests_total", map[string]string{"method": "PUT"}); len(got) != 0 {
		t.Errorf("refused PUT counted as sent: %v", got)
	}
	if _, ok := samples.lookup(`scim_bridge_upstream_request_duration_seconds_count{method="PUT"}`); ok {
		t.Error("refused PUT timed as sent")
	}
	// The buckets are the documented ones.
	for series, want := range map[string][]float64{
		`scim_bridge_scim_request_duration_seconds_bucket{method="GET",resource="Users"}`: {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, math.Inf(1)},
		`scim_bridge_upstream_request_duration_seconds_bucket{method="POST"}`:             {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, math.Inf(1)},
	} {
		name, labels := parseSeries(series)
		var got []float64
		for _, s := range samples.all(name, labels) {
			le, _ := strconv.ParseFloat(s.labels["le"], 64)
			got = append(got, le)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s buckets %v, want %v", series, got, want)
		}
	}

	for _, tt := range []struct {
		method, path string
		want         int
	}{
		{"HEAD", "/metrics", 200},
		{"POST", "/metrics", 405},
		{"GET", "/metrics/", http.StatusNotFound},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.path, nil)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tt.want {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, res.StatusCode, tt.want)
		}
	}

	// Without Redis there are no Redis series.
	plain := httptest.NewRecorder()
	newMetrics(currentBuild(), nil, newLogger(io.Discard, "error", "text")).Handler().ServeHTTP(plain, httptest.NewRequest("GET", "/metrics", nil))
	if strings.Contains(plain.Body.String(), "scim_bridge_redis_") {
		t.Errorf("Redis series without Redis:\n%s", plain.Body.String())
	}
}

// buildInfoSeries is the scim_bridge_build_info series of build b.
func buildInfoSeries(b buildInfo) string {
	return fmt.Sprintf("scim_bridge_build_info{version=%q,revision=%q,modified=%q,goversion=%q}", b.Version, b.Commit, b.Modified, b.GoVersion)
}
