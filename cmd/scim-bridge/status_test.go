package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// runningServe is a serve command running in this test's process.
type runningServe struct {
	t      *testing.T
	base   string // SCIM listener root
	admin  string // admin listener root, "" when off
	token  string
	client *http.Client
	emu    *emulator.Server
	stderr *envtest.LogBuffer
	stop   func() // ends serve and waits for it (idempotent)
}

// startServe runs serve on the emulator with settings (names without the
// SCIM_BRIDGE_ prefix) over the test's defaults, as the whole
// configuration, and waits until it answers. The environment stays set for
// the rest of the test, so status run afterwards sees the same
// configuration.
func startServe(t *testing.T, settings map[string]string) *runningServe {
	t.Helper()
	te := envtest.New(t, envtest.Config{Emulator: emulator.Config{ClientSecret: "emu-secret-" + randomToken()}, Store: envtest.NoStore, Quiet: true})
	clientID, secret := te.Emulator.Credentials()
	s := &runningServe{t: t, token: "scim-token-" + randomToken(), emu: te.Emulator, stderr: &envtest.LogBuffer{}}
	vars := map[string]string{
		"LISTEN":               freeAddr(t),
		"ADMIN_LISTEN":         freeAddr(t),
		"TOKENS":               s.token,
		"UIPATH_URL":           te.URL,
		"UIPATH_CLIENT_ID":     clientID,
		"UIPATH_CLIENT_SECRET": secret,
		"DATA_DIR":             t.TempDir(),
		"LOG_LEVEL":            "warn",
		"SHUTDOWN_TIMEOUT":     "5s",
		"DRAIN_DELAY":          "0s",
	}
	for k, v := range settings {
		vars[k] = v
	}
	setConfigEnv(t, vars)
	s.base = "http://" + vars["LISTEN"]
	if vars["ADMIN_LISTEN"] != "off" {
		s.admin = "http://" + vars["ADMIN_LISTEN"]
	}
	tr := &http.Transport{}
	if vars["TLS_CERT_FILE"] != "" {
		// Trust what the chain file holds (the test's CA): later pairs
		// the test writes are signed by the same CA.
		s.base = "https://" + vars["LISTEN"]
		tr.TLSClientConfig = &tls.Config{RootCAs: poolOf(t, vars["TLS_CERT_FILE"])}
	}
	s.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	t.Cleanup(s.client.CloseIdleConnections)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- serveCmd(ctx, nil, io.Discard, s.stderr) }()
	stopped := false
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d:\n%s", code, s.stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop within 15s")
		}
	}
	t.Cleanup(s.stop)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := s.do(http.MethodGet, "/healthz", ""); code == http.StatusOK {
			return s
		}
		select {
		case code := <-done:
			stopped = true
			t.Fatalf("serve exited %d before coming up:\n%s", code, s.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not up within 10s:\n%s", s.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// do sends a SCIM request with the IdP's token and returns the status and
// body; a transport error is status 0.
func (s *runningServe) do(method, path, body string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequestWithContext(s.t.Context(), method, s.base+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	res, err := s.client.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// create POSTs a SCIM resource and returns its id.
func (s *runningServe) create(path, body string) string {
	s.t.Helper()
	code, out := s.do(http.MethodPost, path, body)
	if code != http.StatusCreated {
		s.t.Fatalf("POST %s: %d %s", path, code, out)
	}
	var res struct{ ID string }
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.ID == "" {
		s.t.Fatalf("POST %s: no id in %s (%v)", path, out, err)
	}
	return res.ID
}

func (s *runningServe) patch(path, ops string) {
	s.t.Helper()
	body := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":` + ops + `}`
	if code, out := s.do(http.MethodPatch, path, body); code/100 != 2 {
		s.t.Fatalf("PATCH %s: %d %s", path, code, out)
	}
}

// queueBehindBudget makes membership changes that stay pending: with a PUT
// budget of 4 per hour, 2 of it reserved for deprovisioning, two profile
// updates use the room ordinary writes have, so the scheduler cannot send
// the 4 changes then queued (group A gains 3 users, group B one of them:
// a plan of 2 calls). It returns the PUTs UiPath saw.
func (s *runningServe) queueBehindBudget() int {
	s.t.Helper()
	var users []string
	for i := range 3 {
		users = append(users, s.create("/scim/v2/Users", scimUser(fmt.Sprintf("u%d@example.com", i))))
	}
	group := func(name string) string {
		return s.create("/scim/v2/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"`+name+`"}`)
	}
	a, b := group("Finance"), group("Audit")
	for i := range 2 {
		s.patch("/scim/v2/Users/"+users[i], `[{"op":"replace","path":"name.givenName","value":"Renamed"}]`)
	}
	members := func(ids ...string) string {
		var v []string
		for _, id := range ids {
			v = append(v, `{"value":"`+id+`"}`)
		}
		return `[{"op":"add","path":"members","value":[` + strings.Join(v, ",") + `]}]`
	}
	s.patch("/scim/v2/Groups/"+a, members(users...))
	s.patch("/scim/v2/Groups/"+b, members(users[0]))
	return s.emu.CountRequests(http.MethodPut)
}

// budgetSettings are the settings queueBehindBudget needs.
var budgetSettings = map[string]string{
	"UIPATH_BUDGET":        "PUT=4",
	"DEPROVISION_RESERVE":  "50%",
	"UIPATH_BUDGET_WINDOW": "1h",
}

// runStatus runs the status command with args and returns its exit code,
// stdout and stderr.
func runStatus(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"status"}, args...), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

// statusJSON runs status --json, which must succeed with exit 0.
func statusJSON(t *testing.T) statusReport {
	t.Helper()
	code, out, errOut := runStatus(t, "--json")
	if code != 0 {
		t.Fatalf("status --json: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	var rep statusReport
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("status --json: %v\n%s", err, out)
	}
	return rep
}

// checkQueued checks a report on what queueBehindBudget left, with used
// PUTs in the window.
func checkQueued(t *testing.T, rep statusReport, store string, used int) {
	t.Helper()
	window := time.Hour + upstream.BudgetPad(time.Hour)
	m := rep.Membership
	if rep.Store != store || m.Pending != 4 || m.PlannedCalls != 2 || m.Backoff != 0 {
		t.Errorf("report %+v: want store %s, 4 pending, 2 planned calls, none in backoff", rep, store)
	}
	if m.OldestSeconds <= 0 || m.OldestSeconds > 60 {
		t.Errorf("oldest pending change %vs old, want a few seconds", m.OldestSeconds)
	}
	if got, want := rep.Budget.Methods["PUT"], (methodBudget{Used: used, Limit: 4, Reserved: 2}); got != want {
		t.Errorf("PUT budget %+v, want %+v", got, want)
	}
	if got := rep.Budget.Methods["GET"]; got.Limit != 300 || got.Reserved != 0 {
		t.Errorf("GET budget %+v, want the default limit of 300 and no reserve", got)
	}
	if rep.Budget.WindowSeconds != window.Seconds() {
		t.Errorf("window %vs, want %vs", rep.Budget.WindowSeconds, window.Seconds())
	}
	// 2 calls, no room left now, 2 per window: one window.
	wantDrain := 0.0
	if used >= 2 {
		wantDrain = window.Seconds()
	}
	if m.DrainEstimateSeconds != wantDrain {
		t.Errorf("drain estimate %vs, want %vs", m.DrainEstimateSeconds, wantDrain)
	}
	if rep.Failures == nil || len(rep.Failures) != 0 {
		t.Errorf("failures %#v, want an empty list", rep.Failures)
	}
}

// TestStatusEmbedded: with the embedded store, status asks the running
// serve (whose file is locked) through the admin listener, with its first
// admin token or, on loopback without tokens, with none; once serve has
// stopped, it reads the file itself.
func TestStatusEmbedded(t *testing.T) {
	adminB := "admin-b-" + randomToken()
	for _, tokens := range []string{"admin-a-" + randomToken() + "," + adminB, ""} {
		name := "admin tokens"
		if tokens == "" {
			name = "loopback without tokens"
		}
		t.Run(name, func(t *testing.T) {
			settings := map[string]string{"ADMIN_TOKENS": tokens}
			for k, v := range budgetSettings {
				settings[k] = v
			}
			s := startServe(t, settings)
			puts := s.queueBehindBudget()
			if puts != 2 {
				t.Fatalf("UiPath saw %d PUTs, want the 2 profile updates", puts)
			}
			rep := statusJSON(t)
			checkQueued(t, rep, "embedded", 2)

			// The admin API itself: the same report, behind the token when
			// there is one; /metrics is open.
			get := func(path, bearer string) (int, string) {
				req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.admin+path, nil)
				if bearer != "" {
					req.Header.Set("Authorization", "Bearer "+bearer)
				}
				res, err := s.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				b, _ := io.ReadAll(res.Body)
				return res.StatusCode, string(b)
			}
			code, body := get(adminStatusPath, "")
			if tokens != "" {
				if code != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
					t.Errorf("status without a token: %d %s, want 401 with a JSON error", code, body)
				}
				code, body = get(adminStatusPath, adminB)
			}
			if code != http.StatusOK || !strings.Contains(body, `"pending": 4`) {
				t.Errorf("GET %s: %d %s", adminStatusPath, code, body)
			}
			if code, body := get(metricsPath, ""); code != http.StatusOK || !strings.Contains(body, "scim_bridge_membership_pending") {
				t.Errorf("GET /metrics on the admin listener: %d %.200s", code, body)
			}

			code, out, errOut := runStatus(t)
			if code != 0 || !strings.Contains(out, "from the running bridge (") || !strings.Contains(out, "pending         4 (in flight") {
				t.Errorf("status: exit %d\n%s%s", code, out, errOut)
			}

			// serve stops: the file holds the queue, and nobody has used
			// the in-process budget.
			s.stop()
			code, out, errOut = runStatus(t)
			if code != 0 || !strings.Contains(out, "(no bridge has it open)") {
				t.Errorf("status after serve stopped: exit %d\n%s%s", code, out, errOut)
			}
			checkQueued(t, statusJSON(t), "embedded", 0)
		})
	}
}

// TestStatusRedis: with Redis, status reads the store and the shared
// budget directly, beside the running serve (whose admin listener is off).
func TestStatusRedis(t *testing.T) {
	settings := map[string]string{
		"REDIS_URL":    redistest.URL(t),
		"REDIS_PREFIX": redistest.Prefix(t),
		"ADMIN_LISTEN": "off",
	}
	for k, v := range budgetSettings {
		settings[k] = v
	}
	s := startServe(t, settings)
	if puts := s.queueBehindBudget(); puts != 2 {
		t.Fatalf("UiPath saw %d PUTs, want the 2 profile updates", puts)
	}
	checkQueued(t, statusJSON(t), "redis", 2)
	code, out, errOut := runStatus(t)
	if code != 0 || !strings.Contains(out, "redis store, read from Redis") {
		t.Errorf("status: exit %d\n%s%s", code, out, errOut)
	}
	// Reading took nothing from the budget.
	checkQueued(t, statusJSON(t), "redis", 2)
}

// TestStatusUnavailable: status exits 2 and says why when it can neither
// read the store nor ask a bridge.
func TestStatusUnavailable(t *testing.T) {
	tests := []struct {
		name string
		vars map[string]string
		want []string
	}{
		{
			name: "no store file, nothing listening",
			vars: map[string]string{"DATA_DIR": t.TempDir(), "ADMIN_LISTEN": freeAddr(t)},
			want: []string{"cannot read the embedded store", "nor ask a running bridge", "connection refused"},
		},
		{
			name: "no store file, admin listener off",
			vars: map[string]string{"DATA_DIR": t.TempDir(), "ADMIN_LISTEN": "off"},
			want: []string{"cannot read the embedded store", "the admin listener is off"},
		},
		{
			name: "Redis unreachable",
			vars: map[string]string{"REDIS_URL": "redis://:pw-canary-3c1d@" + freeAddr(t) + "/0"},
			want: []string{"reach the Redis store"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setConfigEnv(t, tt.vars)
			code, out, errOut := runStatus(t)
			if code != 2 {
				t.Fatalf("exit %d, want 2\n%s%s", code, out, errOut)
			}
			for _, w := range tt.want {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			if strings.Contains(out+errOut, "pw-canary") {
				t.Errorf("output reveals the Redis password:\n%s", errOut)
			}
		})
	}
}

// TestStatusHuman: the human form of a report that needs attention (a
// refused change, a change pending for 20 minutes), and its exit code.
func TestStatusHuman(t *testing.T) {
	at := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	rep := statusReport{
		Store:       "redis",
		GeneratedAt: at,
		Membership: membershipStatus{Pending: 37, InFlight: 3, Backoff: 2, OldestSeconds: 1201.4, PlannedCalls: 150,
			HoldingPush: true, DrainEstimateSeconds: 302},
		Budget: budgetStatus{WindowSeconds: 302, Methods: map[string]methodBudget{
			"GET":    {Used: 12, Limit: 300},
			"POST":   {Used: 40, Limit: 24000},
			"PUT":    {Used: 144, Limit: 160, Reserved: 16},
			"DELETE": {Used: 3, Limit: 160, Reserved: 16},
		}},
		Failures: []failureStatus{{
			Group: "6f1c2a9e-7d3b-4c55-9a0e-1b2c3d4e5f60", User: "0b5a1f3e-0c4d-4c61-9f55-6f1a3c2d9e10", Add: true,
			Reason: "the account no longer exists\nin UiPath", At: at.Add(-time.Hour),
		}},
	}
	const want = `scim-bridge status: redis store, read from Redis, at 2026-03-02T09:30:00Z

Membership changes waiting for UiPath
  pending         37 (in flight 3, in backoff 2)
  oldest          20m1s
  planned calls   150
  held            the IdP's push keeps coming back to the same groups: calls wait until it pauses
  drain estimate  5m2s (membership may use 144 of 160 PUTs per 5m2s)

UiPath budget (calls in the last 5m2s)
  METHOD  USED  LIMIT  RESERVED
  GET     12    300    0
  POST    40    24000  0
  PUT     144   160    16
  DELETE  3     160    16

Refused membership changes (latest 1, newest first)
  AT                    CHANGE  GROUP                                 USER                                  REASON
  2026-03-02T08:30:00Z  add     6f1c2a9e-7d3b-4c55-9a0e-1b2c3d4e5f60  0b5a1f3e-0c4d-4c61-9f55-6f1a3c2d9e10  the account no longer exists in UiPath

Attention:
  - UiPath refused 1 membership change(s) for good in the last 24h0m0s; they are not retried (listed above)
  - the oldest pending membership change has waited 20m1s (more than 15m0s)
`
	var out bytes.Buffer
	if err := rep.writeHuman(&out, "read from Redis"); err != nil {
		t.Fatal(err)
	}
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	if code := rep.exitCode(); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}

	// Each problem alone makes it 1; neither, 0.
	fresh := rep
	fresh.Failures = nil
	if code := fresh.exitCode(); code != 1 {
		t.Errorf("a change 20m old: exit code %d, want 1", code)
	}
	fresh.Membership.OldestSeconds = staleAfter.Seconds()
	if code := fresh.exitCode(); code != 0 {
		t.Errorf("a change exactly 15m old: exit code %d, want 0", code)
	}
	// A refusal older than a day is still listed, but no longer alerts.
	old := fresh
	old.Failures = []failureStatus{rep.Failures[0]}
	old.Failures[0].At = at.Add(-25 * time.Hour)
	if code := old.exitCode(); code != 0 {
		t.Errorf("a refusal 25h old: exit code %d, want 0", code)
	}
	failed := fresh
	failed.Failures = rep.Failures
	if code := failed.exitCode(); code != 1 {
		t.Errorf("a refused change: exit code %d, want 1", code)
	}
	out.Reset()
	if err := fresh.writeHuman(&out, "read from Redis"); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); !bytes.Contains(out.Bytes(), []byte("Refused membership changes: none\n")) || bytes.Contains(out.Bytes(), []byte("Attention")) {
		t.Errorf("a report needing no attention:\n%s", got)
	}
}

// TestAdminBase: status reaches an admin listener on every interface
// through loopback.
func TestAdminBase(t *testing.T) {
	tests := []struct {
		listen, want, wantErr string
	}{
		{listen: "127.0.0.1:9464", want: "http://127.0.0.1:9464"},
		{listen: "localhost:9464", want: "http://localhost:9464"},
		{listen: ":9464", want: "http://127.0.0.1:9464"},
		{listen: "0.0.0.0:9464", want: "http://127.0.0.1:9464"},
		{listen: "[::]:9464", want: "http://[::1]:9464"},
		{listen: "[::1]:9464", want: "http://[::1]:9464"},
		{listen: "10.1.2.3:9464", want: "http://10.1.2.3:9464"},
		{listen: "127.0.0.1:0", wantErr: "cannot be found"},
		{listen: "9464", wantErr: "want host:port"},
	}
	for _, tt := range tests {
		got, err := adminBase(tt.listen)
		switch {
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("adminBase(%q) = %q, %v; want an error with %q", tt.listen, got, err, tt.wantErr)
		case tt.wantErr == "" && (err != nil || got != tt.want):
			t.Errorf("adminBase(%q) = %q, %v; want %q", tt.listen, got, err, tt.want)
		}
	}
}
