package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/cache/boltstore"
	"github.com/scim-bridge/scim-bridge/cache/redisstore"
	"github.com/scim-bridge/scim-bridge/config"
	"github.com/scim-bridge/scim-bridge/internal/logpii"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scim"
	"github.com/scim-bridge/scim-bridge/scimdoc"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// stores maps a backend name to its constructor (STYLE.md §3).
var stores = map[string]func(cfg config.Config, log *slog.Logger) (cache.Store, error){
	"redis": func(cfg config.Config, log *slog.Logger) (cache.Store, error) {
		return redisstore.New(redisstore.Config{URL: cfg.RedisURL.Reveal(), Prefix: cfg.RedisPrefix, AuditRetention: cfg.AuditRetention}, log)
	},
	"embedded": func(cfg config.Config, log *slog.Logger) (cache.Store, error) {
		return boltstore.New(boltstore.Config{Path: boltPath(cfg), AuditRetention: cfg.AuditRetention}, log)
	},
}

// boltPath is the embedded store's file.
func boltPath(cfg config.Config) string { return filepath.Join(cfg.DataDir, "scim-bridge.db") }

func storeName(cfg config.Config) string {
	if cfg.RedisURL.Reveal() != "" {
		return "redis"
	}
	return "embedded"
}

// bridge is an assembled bridge: store, UiPath client, core and HTTP
// surface.
type bridge struct {
	store   cache.Store
	client  *upstream.Client
	prov    *mapping.Provisioner
	metrics *metrics
	// probe answers /readyz on both listeners; serve drains it on SIGTERM.
	probe *probe
	// handler serves the SCIM listener: the SCIM API and the probes.
	handler http.Handler
	// admin serves the admin listener: the admin API, /metrics and the
	// probes.
	admin http.Handler
	// background runs, until ctx ends, the work the bridge does besides
	// answering requests: the write scheduler, and checking resources
	// whose UiPath write had an unknown outcome. It returns when both
	// have stopped.
	background func(ctx context.Context)
}

// settleEvery is how often serve checks resources whose doubt is due.
const settleEvery = 2 * time.Second

func (b *bridge) Close() error { return b.store.Close() }

func newBridge(cfg config.Config, httpClient *http.Client, log *slog.Logger) (*bridge, error) {
	store, err := stores[storeName(cfg)](cfg, log.With("component", "store"))
	if err != nil {
		return nil, fmt.Errorf("open %s store: %w", storeName(cfg), err)
	}
	return newBridgeOn(cfg, store, httpClient, log)
}

// newBridgeOn assembles a bridge on a store already open; the bridge owns
// it from then on (Close closes it, and so does a failure here).
func newBridgeOn(cfg config.Config, store cache.Store, httpClient *http.Client, log *slog.Logger) (*bridge, error) {
	budget := newBudget(cfg, store)
	var lookupStats func() (lookups, pipelines int64) // Redis only
	if rs, ok := store.(*redisstore.Store); ok {
		lookupStats = rs.LookupStats
	}
	metrics := newMetrics(currentBuild(), lookupStats, log.With("component", "metrics"))
	probe := newProbe(store.Ping, log.With("component", "probe"))
	ucfg := upstreamConfig(cfg, httpClient)
	ucfg.Budget = budget
	ucfg.Observe = func(o upstream.Observation) {
		metrics.ObserveUpstream(o)
		probe.Observe(o)
	}
	client, err := upstream.New(ucfg, log.With("component", "upstream"))
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("upstream client: %w", err)
	}
	probe.check = func(ctx context.Context) error {
		_, err := client.GetUser(ctx, probeUserID)
		return err
	}
	pcfg := provisionerConfig(cfg)
	pcfg.OnDeprovision = metrics.ObserveDeprovision
	pcfg.OnAuditFailure = metrics.ObserveAuditFailure
	prov, err := mapping.New(pcfg, client, store, log.With("component", "mapping"))
	if err != nil {
		store.Close()
		return nil, err
	}
	if storeName(cfg) == "embedded" {
		// This process holds the file alone: a claim in it belongs to a
		// process that stopped mid-call (a crash, kill -9).
		rctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := prov.ReleaseStaleClaims(rctx)
		cancel()
		if err != nil {
			store.Close()
			return nil, err
		}
	}
	exts, err := schemaExtensions(cfg.SchemaExtensions)
	if err != nil {
		store.Close()
		return nil, err
	}
	scfg, err := withAuth(scim.Config{
		Extensions:        exts,
		MaxBodyBytes:      cfg.MaxBodyBytes,
		UserNameImmutable: cfg.UserNameChange == mapping.UserNameRefuse,
		Observe:           metrics.ObserveRequest,
		Ready:             probe.Ready,
	}, cfg)
	if err != nil {
		store.Close()
		return nil, err
	}
	handler, err := scim.New(scfg, []mapping.Resource{prov.Users(), prov.Groups()}, log.With("component", "scim"))
	if err != nil {
		store.Close()
		return nil, err
	}
	reconcile := func(ctx context.Context, opt mapping.ReconcileOptions) (mapping.ReconcileReport, error) {
		rep, err := prov.Reconcile(ctx, opt)
		if !errors.Is(err, mapping.ErrPassRunning) {
			metrics.ObserveReconcile(rep, err)
		}
		return rep, err
	}
	passes := newReconcileSchedule(cfg)
	background := func(ctx context.Context) {
		var wg sync.WaitGroup
		wg.Go(func() { prov.RunScheduler(ctx, metrics.ObserveRound) })
		wg.Go(func() { prov.RunSettler(ctx, settleEvery, metrics.ObserveSettle) })
		if cfg.TokensFile != "" {
			wg.Go(func() { reloadTokens(ctx, cfg, handler.SetStaticTokens, tokensFilePoll, log.With("component", "auth")) })
		}
		if passes.enabled() {
			wg.Go(func() { runReconcileSchedule(ctx, passes, reconcile, log.With("component", "reconcile")) })
		}
		wg.Wait()
	}
	status := statusSource{store: storeName(cfg), prov: prov, budget: budget, window: budgetWindow(cfg)}
	return &bridge{
		store:   store,
		client:  client,
		prov:    prov,
		metrics: metrics,
		probe:   probe,
		handler: handler,
		admin: newAdminHandler(cfg.AdminTokens, metrics.Handler(), adminAPI{status: status.report, reconcile: reconcile},
			log.With("component", "admin")).withAudit(store).withProbes(probe.Ready),
		background: background,
	}, nil
}

// upstreamConfig is the UiPath client's configuration from the bridge's:
// where UiPath is, the credentials and scopes, and the deadline of a call.
// serve and check-config --probe both start from it, so that the probe
// checks the client serve would run.
func upstreamConfig(cfg config.Config, httpClient *http.Client) upstream.Config {
	return upstream.Config{
		BaseURL:      cfg.UiPathURL,
		TokenURL:     cfg.UiPathTokenURL,
		ClientID:     cfg.UiPathClientID,
		ClientSecret: cfg.UiPathClientSecret.Reveal(),
		Scopes:       cfg.UiPathScopes,
		PartitionID:  cfg.UiPathPartitionID,
		HTTPClient:   httpClient,
		Timeout:      cfg.UpstreamTimeout,
	}
}

// provisionerConfig is the provisioner's configuration from the bridge's.
func provisionerConfig(cfg config.Config) mapping.Config {
	return mapping.Config{
		Strategy:         cfg.MembershipStrategy,
		MembershipWrites: cfg.MembershipWrites,
		Deprovision:      cfg.Deprovision,
		UserNameChange:   cfg.UserNameChange,
		AdoptExisting:    cfg.AdoptExisting,
		LateWriteWindow:  cfg.LateWriteWindow,
	}
}

// newBudget is the client-side UiPath budget of a bridge on store. Part of
// the PUT and DELETE budgets is kept for deprovisioning, so that leavers
// never wait behind other writes.
func newBudget(cfg config.Config, store cache.Store) usageBudget {
	if rs, ok := store.(*redisstore.Store); ok {
		// Replicas sharing the Redis share the budget: UiPath's limits are per
		// organization, not per process.
		return redisBudget{rs.Budget(cfg.Budget, cfg.BudgetWindow, upstream.BudgetPad(cfg.BudgetWindow)).
			WithReserved(upstream.ReservedCalls(cfg.Budget, cfg.DeprovisionReserve))}
	}
	return upstream.NewLocalBudget(cfg.Budget, cfg.BudgetWindow, nil).WithReserve(cfg.DeprovisionReserve)
}

// budgetWindow is the window both budgets count calls over: the
// configured one and the pad.
func budgetWindow(cfg config.Config) time.Duration {
	return cfg.BudgetWindow + upstream.BudgetPad(cfg.BudgetWindow)
}

// redisBudget gives the shared budget's usage upstream's type (redisstore
// does not import upstream).
type redisBudget struct{ *redisstore.Budget }

// Usage implements usageBudget.
func (b redisBudget) Usage(ctx context.Context) (map[string]upstream.BudgetUse, error) {
	use, err := b.Budget.Usage(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]upstream.BudgetUse, len(use))
	for m, u := range use {
		out[m] = upstream.BudgetUse(u)
	}
	return out, nil
}

// newLogger builds a logger at level in format ("json" or "text") that
// logs personal data hashed (logpii.Hash, the default of
// SCIM_BRIDGE_LOG_PII).
func newLogger(w io.Writer, level, format string) *slog.Logger {
	return newLoggerPII(w, level, format, logpii.Hash)
}

// configLogger builds the process logger from the configuration: its
// level, format and SCIM_BRIDGE_LOG_PII, which Validate has checked.
func configLogger(w io.Writer, cfg config.Config) *slog.Logger {
	mode, _ := logpii.ParseMode(cfg.LogPII)
	return newLoggerPII(w, cfg.LogLevel, cfg.LogFormat, mode)
}

// newLoggerPII is newLogger with personal data logged as pii says.
func newLoggerPII(w io.Writer, level, format string, pii logpii.Mode) *slog.Logger {
	var lvl slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lvl = slog.LevelDebug
	case "warn":
		lvl = slog.LevelWarn
	case "error":
		lvl = slog.LevelError
	default:
		lvl = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lvl}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if strings.ToLower(format) == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	// Every line logged while serving a SCIM request, in any package,
	// carries that request's id; personal data is rendered as pii says.
	return slog.New(scim.LogHandler(logpii.Handler(h, pii)))
}

// listenerTimeouts bound every phase of a connection on both listeners
// (README, "Timeouts"): a client that sends its headers or its body too
// slowly, or holds an idle connection, is cut off. A handler that
// legitimately runs longer (the admin API's reconciliation pass) lifts
// them for its own request with http.ResponseController. Tests shorten
// them; nothing else changes them.
var listenerTimeouts = struct {
	// readHeader bounds reading the request line and headers.
	readHeader time.Duration
	// read bounds reading the whole request, body included: an 8 MiB body
	// (SCIM_BRIDGE_MAX_BODY_BYTES' default) needs 140 KB/s.
	read time.Duration
	// write bounds the time from the end of the request's headers to the
	// end of the answer: more than a SCIM request's own deadline (50s,
	// after which the IdP is told to retry).
	write time.Duration
	// idle bounds the wait for the next request on a kept-alive
	// connection.
	idle time.Duration
}{
	readHeader: 10 * time.Second,
	read:       time.Minute,
	write:      90 * time.Second,
	idle:       2 * time.Minute,
}

// newServer is the http.Server of every listener.
func newServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: listenerTimeouts.readHeader,
		ReadTimeout:       listenerTimeouts.read,
		WriteTimeout:      listenerTimeouts.write,
		IdleTimeout:       listenerTimeouts.idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// schemaExtensions turns SCIM_BRIDGE_SCHEMA_EXTENSIONS into the extensions
// /Schemas lists; config.Validate has checked the syntax, scimdoc checks
// the URN.
func schemaExtensions(entries []string) ([]scimdoc.Extension, error) {
	var out []scimdoc.Extension
	for _, entry := range entries {
		e, err := config.ParseSchemaExtension(entry)
		if err != nil {
			return nil, fmt.Errorf("%sSCHEMA_EXTENSIONS: %w", config.EnvPrefix, err)
		}
		ext := scimdoc.Extension{URN: e.URN}
		for _, a := range e.Attrs {
			t, ok := scimdoc.ParseAttrType(a.Type)
			if !ok {
				return nil, fmt.Errorf("%sSCHEMA_EXTENSIONS: %s: unknown type %q", config.EnvPrefix, e.URN, a.Type)
			}
			ext.Attrs = append(ext.Attrs, scimdoc.ExtensionAttr{Name: a.Name, Type: t})
		}
		if err := ext.Check(); err != nil {
			return nil, fmt.Errorf("%sSCHEMA_EXTENSIONS: %w", config.EnvPrefix, err)
		}
		out = append(out, ext)
	}
	return out, nil
}
