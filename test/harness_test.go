package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scim"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// env is a whole bridge over real HTTP: the emulator behind an httptest
// server, the real UiPath client, a real store, the SCIM server.
type env struct {
	t       *testing.T
	emu     *emulator.Server
	store   cache.Store
	url     string // SCIM base URL
	token   string
	logs    *envtest.LogBuffer
	client  *http.Client
	emuURL  string
	secret  string
	bridgeH http.Handler
	// uipath is a client of the emulator, for changes made in UiPath
	// behind the bridge's back (an admin deleting an account).
	uipath *upstream.Client
	// inflight counts the calls the emulator is still serving, late
	// writes whose client gave up included (see quiesce).
	inflight *atomic.Int64
	// settle is the repair step quiesce runs once late calls have landed;
	// nil until it exists (see settleOf).
	settle func(context.Context) error
	// prov is the bridge's provisioner (nil for replicas built elsewhere).
	prov *mapping.Provisioner
}

type envOptions struct {
	strategy    string
	deprovision string
	// userNameChange is mapping.Config.UserNameChange (and what /Schemas
	// says of userName).
	userNameChange string
	noAdopt        bool
	emulator       emulator.Config
	maxBody        int64
	// budget, when set, paces UiPath calls client-side per budgetWindow;
	// a call waits at most budgetWait for room.
	budget       map[string]int
	budgetWindow time.Duration
	budgetWait   time.Duration
	// redisURL, for the Redis store, is the Redis to use instead of
	// internal/redistest's.
	redisURL string
	// clientTimeout bounds each UiPath attempt (default: the client's).
	clientTimeout time.Duration
	// lateWriteWindow and firstCheck time the checks of resources whose
	// UiPath write had an unknown outcome (default: the provisioner's).
	lateWriteWindow, firstCheck time.Duration
	// noSettler leaves out the background pass that checks those resources.
	noSettler bool
	// client, when set, edits the UiPath client's config (a short
	// per-attempt Timeout, say) after the options above are applied.
	client func(*upstream.Config)
	// newID, when set, makes the bridge's resource ids (mapping.Config.NewID),
	// so that a fault can be aimed at the ids the bridge generates.
	newID func() string
	// queued makes membership writes queued, as the service runs them
	// (the harness's default is sync), and runs the write scheduler
	// beside the settler; quiet is its mapping.Config.Quiet (zero: the
	// provisioner's default).
	queued bool
	quiet  time.Duration
	// reserve is the share of the PUT and DELETE budget kept for
	// deprovisioning (upstream.LocalBudget.WithReserve); zero: none.
	reserve float64
}

// storeKinds are the backends every end-to-end flow runs against.
var storeKinds = []envtest.Store{envtest.Bolt, envtest.Redis}

// forEachStore runs f once per store backend, as subtests named after it.
func forEachStore(t *testing.T, f func(t *testing.T, store envtest.Store)) {
	for _, store := range storeKinds {
		t.Run(store.String(), func(t *testing.T) { f(t, store) })
	}
}

func newEnv(t *testing.T, store envtest.Store, o envOptions) *env {
	t.Helper()
	inflight := new(atomic.Int64)
	te := envtest.New(t, envtest.Config{
		Emulator: o.emulator,
		Wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				inflight.Add(1)
				defer inflight.Add(-1)
				h.ServeHTTP(w, r)
			})
		},
		Client: func(c *upstream.Config) {
			c.Budget = budgetOf(o)
			c.MaxBudgetWait = o.budgetWait
			if o.clientTimeout > 0 {
				c.Timeout = o.clientTimeout
			}
			if o.client != nil {
				o.client(c)
			}
		},
		Store:    store,
		RedisURL: o.redisURL,
		Output:   io.Discard, // the logs stay in env.logs, shown by the tests that want them
	})
	log := te.Logger
	writes := mapping.WritesSync
	if o.queued {
		writes = mapping.WritesQueued
	}
	prov, err := mapping.New(mapping.Config{
		Strategy: o.strategy, Deprovision: o.deprovision, AdoptExisting: !o.noAdopt, NewID: o.newID, UserNameChange: o.userNameChange,
		LateWriteWindow: o.lateWriteWindow, FirstCheck: o.firstCheck,
		MembershipWrites: writes, Quiet: o.quiet,
	}, te.Client, te.Store, log.With("component", "mapping"))
	if err != nil {
		t.Fatal(err)
	}
	if !o.noSettler {
		// As serve does, at a test's pace; it stops when the test ends.
		go prov.RunSettler(t.Context(), 50*time.Millisecond, nil)
	}
	if o.queued {
		// As serve does; it stops when the test ends.
		go prov.RunScheduler(t.Context(), nil)
	}
	token := "test-token-" + strings.Repeat("x", 20)
	h, err := scim.New(scim.Config{StaticTokens: []scim.StaticToken{scim.NewStaticToken("token-1", token)}, MaxBodyBytes: o.maxBody, UserNameImmutable: o.userNameChange == mapping.UserNameRefuse}, []mapping.Resource{prov.Users(), prov.Groups()}, log.With("component", "scim"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &env{t: t, emu: te.Emulator, store: te.Store, url: srv.URL + scim.BasePath, token: token, logs: te.Logs,
		client: srv.Client(), emuURL: te.URL, secret: te.ClientConfig.ClientSecret, bridgeH: h, uipath: te.Client,
		inflight: inflight, settle: settleOf(prov, te.Store), prov: prov}
}

// settleOf returns the repair step that quiesce runs after late calls
// have landed: (*mapping.Provisioner).Settle, which checks the resources
// whose UiPath write had an unknown outcome. A test does not wait out the
// late-write window: every doubt is made due at once, as it will be once
// the window has passed.
func settleOf(prov *mapping.Provisioner, store cache.Store) func(context.Context) error {
	return func(ctx context.Context) error {
		doubts, err := store.DueDoubts(ctx, time.Now().Add(24*time.Hour), 0)
		if err != nil {
			return err
		}
		for _, d := range doubts {
			if err := store.ResolveDoubt(ctx, d, time.Now().Add(-time.Millisecond)); err != nil {
				return err
			}
		}
		rep, err := prov.Settle(ctx)
		if err == nil && rep.Failed > 0 {
			err = fmt.Errorf("settle: %d checks failed", rep.Failed)
		}
		return err
	}
}

// quiesceTimeout bounds how long quiesce waits for the emulator to finish
// the calls it is still serving.
const quiesceTimeout = 10 * time.Second

// quiesce brings the bridge to rest before a test asserts the final state:
// it waits until the emulator serves no call, so that every late write (a
// Late fault: applied after its client gave up) has landed, and then runs
// the settle hook, if one is wired, retrying it a few times the way the
// service would keep at it.
func (e *env) quiesce() {
	e.t.Helper()
	deadline := time.Now().Add(quiesceTimeout)
	for e.inflight.Load() > 0 {
		if time.Now().After(deadline) {
			e.t.Fatalf("quiesce: the emulator still serves %d calls after %v", e.inflight.Load(), quiesceTimeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if e.settle == nil {
		return
	}
	var err error
	for range 3 {
		if err = e.settle(e.t.Context()); err == nil {
			return
		}
	}
	e.t.Errorf("quiesce: settle: %v", err)
}

// response is a SCIM answer.
type response struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// do sends a SCIM request with the bearer token; body may be a string
// (sent as is) or a value (JSON-encoded).
func (e *env) do(method, path string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: response is not a JSON object (%v): %s", method, path, err, raw)
		}
	}
	return r
}

// must is do that fails the test unless the status is want.
func (e *env) must(want int, method, path string, body any, headers ...string) response {
	e.t.Helper()
	r := e.do(method, path, body, headers...)
	if r.status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", method, path, r.status, want, r.raw)
	}
	return r
}

// scimError checks that r is a SCIM error with that status and scimType.
func scimError(t *testing.T, r response, status int, scimType string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	schemas, _ := r.body["schemas"].([]any)
	if len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
		t.Errorf("error body lacks the SCIM error schema: %s", r.raw)
	}
	if got, _ := r.body["status"].(string); got != itoa(status) {
		t.Errorf("error status field %q, want %q", got, itoa(status))
	}
	if got, _ := r.body["scimType"].(string); got != scimType {
		t.Errorf("scimType %q, want %q (%s)", got, scimType, r.raw)
	}
}

func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, p := range path {
		mm, _ := cur.(map[string]any)
		cur = mm[p]
	}
	s, _ := cur.(string)
	return s
}

// doNoAuth sends a request without credentials.
func (e *env) doNoAuth(method, path string) response {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.t.Context(), method, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := response{status: res.StatusCode, header: res.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		e.t.Fatalf("%s %s: response is not JSON: %s", method, path, raw)
	}
	return r
}

func budgetOf(o envOptions) upstream.Budget {
	if o.budget == nil {
		return nil
	}
	return upstream.NewLocalBudget(o.budget, o.budgetWindow, nil).WithReserve(o.reserve)
}
