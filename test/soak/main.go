package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/cache/boltstore"
	"github.com/scim-bridge/scim-bridge/cache/redisstore"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
	"github.com/scim-bridge/scim-bridge/internal/storetool"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scim"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// options are the soak's flags.
type options struct {
	duration        time.Duration
	store           string
	redisURL        string
	rate            float64
	seed            uint64
	faults          bool
	faultKinds      []string
	strategy        string
	writes          string
	users, groups   int
	workers         int
	grace           time.Duration
	check           time.Duration
	converge        time.Duration
	upstreamTimeout time.Duration
	idpAttempts     int
	idpBackoff      time.Duration
	rssGrowth       float64
	settleEvery     time.Duration
	keep            bool
	verbose         bool
}

// defaultOptions are the flags' defaults; TestSoak starts from them too.
func defaultOptions() options {
	return options{
		duration: 10 * time.Minute, store: "bolt", rate: 20, seed: 1, faults: true, faultKinds: allFaultKinds,
		strategy: mapping.StrategyAuto, writes: mapping.WritesQueued, users: 300, groups: 30, workers: 16,
		grace: 10 * time.Second, check: 2 * time.Second, converge: 90 * time.Second,
		upstreamTimeout: 400 * time.Millisecond, idpAttempts: 5, idpBackoff: 250 * time.Millisecond,
		rssGrowth: 1.5, settleEvery: time.Second,
	}
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run parses args, runs the soak and returns the exit status: 0 when every
// invariant held, 1 when one failed or the harness could not run, 2 for bad
// flags.
func run(args []string, stdout, stderr io.Writer) int {
	o := defaultOptions()
	var faults, kinds string
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&o.duration, "duration", o.duration, "how long the IdPs send traffic (quiescence and the report come after)")
	fs.StringVar(&o.store, "store", o.store, "bridge store: bolt (embedded, in a temporary directory) or redis")
	fs.StringVar(&o.redisURL, "redis", "", "Redis URL for -store redis (default: a private redis-server on a free port); keys go under a fresh prefix")
	fs.Float64Var(&o.rate, "rate", o.rate, "IdP operations started per second (each is one or more SCIM requests)")
	fs.Uint64Var(&o.seed, "seed", o.seed, "random seed of the traffic and the faults")
	fs.StringVar(&faults, "faults", "on", "inject faults into UiPath: on or off")
	fs.StringVar(&kinds, "fault-kinds", "all", "fault kinds when -faults on: all, or a comma-separated list of "+strings.Join(allFaultKinds, ", "))
	fs.StringVar(&o.strategy, "strategy", o.strategy, "membership strategy of the bridge: user, group or auto")
	fs.StringVar(&o.writes, "writes", o.writes, "membership writes of the bridge: queued (the scheduler sends them) or sync")
	fs.IntVar(&o.users, "users", o.users, "users the IdPs keep provisioned (creates stop at this many live users)")
	fs.IntVar(&o.groups, "groups", o.groups, "groups the IdPs keep provisioned")
	fs.IntVar(&o.workers, "workers", o.workers, "concurrent IdP operations at most")
	fs.DurationVar(&o.grace, "grace", o.grace, "how long a leaver may stay active in UiPath after the bridge acknowledged its deactivation")
	fs.DurationVar(&o.check, "check", o.check, "interval of the invariant checks")
	fs.DurationVar(&o.converge, "converge", o.converge, "how long quiescence may take before the run fails")
	fs.DurationVar(&o.upstreamTimeout, "upstream-timeout", o.upstreamTimeout, "the bridge's deadline per UiPath call; delays and late faults exceed it")
	fs.IntVar(&o.idpAttempts, "idp-attempts", o.idpAttempts, "attempts an IdP makes at a request before giving up on it (until the next cycle)")
	fs.DurationVar(&o.idpBackoff, "idp-backoff", o.idpBackoff, "the IdPs' first wait after a 5xx or lost connection (doubles, up to 8×)")
	fs.Float64Var(&o.rssGrowth, "rss-growth", o.rssGrowth, "largest allowed ratio of the final RSS to the RSS a quarter into the run (plus 32 MiB)")
	fs.DurationVar(&o.settleEvery, "settle-every", o.settleEvery, "interval of the bridge's settle pass, when the bridge has one")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (bridge log, bbolt file)")
	fs.BoolVar(&o.verbose, "v", false, "print the bridge's warnings as they happen")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var bad []string
	switch faults {
	case "on":
		k, err := parseKinds(kinds)
		if err != nil {
			bad = append(bad, err.Error())
		}
		o.faultKinds = k
	case "off":
		o.faults, o.faultKinds = false, nil
	default:
		bad = append(bad, "-faults must be on or off")
	}
	if o.store != "bolt" && o.store != "redis" {
		bad = append(bad, "-store must be bolt or redis")
	}
	if o.redisURL != "" && o.store != "redis" {
		bad = append(bad, "-redis needs -store redis")
	}
	switch o.strategy {
	case mapping.StrategyUser, mapping.StrategyGroup, mapping.StrategyAuto:
	default:
		bad = append(bad, "-strategy must be user, group or auto")
	}
	if o.writes != mapping.WritesQueued && o.writes != mapping.WritesSync {
		bad = append(bad, "-writes must be queued or sync")
	}
	if o.duration <= 0 || o.rate <= 0 || o.users < 2 || o.groups < 1 || o.workers < 1 || o.check <= 0 ||
		o.converge <= 0 || o.upstreamTimeout <= 0 || o.idpAttempts < 1 || o.idpBackoff <= 0 || o.rssGrowth < 1 {
		bad = append(bad, "-duration, -rate, -workers, -check, -converge, -upstream-timeout, -idp-attempts and -idp-backoff must be positive, -users at least 2, -rss-growth at least 1")
	}
	if len(bad) > 0 {
		fmt.Fprintln(stderr, "soak: "+strings.Join(bad, "; "))
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := soakRun(ctx, o, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "soak: %v\n", err)
		return 1
	}
	if fails := rep.failures(); len(fails) > 0 {
		fmt.Fprintf(stderr, "soak: %d invariant(s) failed:\n  %s\n", len(fails), strings.Join(fails, "\n  "))
		return 1
	}
	return 0
}

// soak is one run: the parts under test and the simulated IdPs.
type soak struct {
	opts  options
	out   io.Writer
	emu   *emulator.Server
	store cache.Store
	idp   *idp
	// reader reads the bridge's state for the checks, without retries or
	// statistics.
	reader *idp
	faults *injector
	model  *model
	logs   *lineCounter
	// settler is the bridge's background check of writes with an unknown
	// outcome, run during the traffic exactly as serve runs it
	// (mapping.Provisioner.RunSettler every -settle-every); settle is one
	// pass of it, run between checks during quiescence.
	settler func(context.Context)
	settle  func(context.Context) error
	// leaverMon and mem are the invariant monitors.
	leaverMon *leaverMonitor
	mem       *memMonitor
}

// soakRun builds the bridge, runs the traffic and the checks, and returns
// the report, which it also prints. An error means the harness itself
// failed.
func soakRun(ctx context.Context, o options, out io.Writer) (*report, error) {
	s, cleanup, err := newSoak(o, out)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	printSetup(out, o)
	return s.run(ctx)
}

// newSoak builds the emulator, the store, the bridge and the IdPs in a
// temporary directory; cleanup stops them and removes it (unless -keep).
func newSoak(o options, out io.Writer) (s *soak, cleanup func(), err error) {
	var cleanups []func()
	cleanup = func() {
		for _, f := range slices.Backward(cleanups) {
			f()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	dir, err := os.MkdirTemp("", "scim-bridge-soak-")
	if err != nil {
		return nil, nil, err
	}
	cleanups = append(cleanups, func() {
		if o.keep {
			fmt.Fprintf(out, "kept %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	})
	logf, err := os.Create(filepath.Join(dir, "bridge.log"))
	if err != nil {
		return nil, nil, err
	}
	cleanups = append(cleanups, func() { logf.Close() })
	logs := &lineCounter{w: logf}
	var logOut io.Writer = logs
	if o.verbose {
		logOut = io.MultiWriter(logs, os.Stderr)
	}
	logger := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn}))

	emu := emulator.New(emulator.Config{DisableRateLimits: true, TokenTTL: 20 * time.Second, MaxRequestLog: 10000},
		logger.With("component", "emulator"))
	emuSrv := httptest.NewServer(emu)
	cleanups = append(cleanups, emuSrv.Close)

	store, closeStore, err := openStore(o, dir, logger.With("component", "store"))
	if err != nil {
		return nil, nil, err
	}
	cleanups = append(cleanups, closeStore)

	clientID, clientSecret := emu.Credentials()
	client, err := upstream.New(upstream.Config{
		BaseURL: emuSrv.URL, ClientID: clientID, ClientSecret: clientSecret, Timeout: o.upstreamTimeout,
	}, logger.With("component", "upstream"))
	if err != nil {
		return nil, nil, err
	}
	// The late faults land at most ~2.5 s after they were sent: a 5 s
	// window covers them, as the 2-minute default covers UiPath.
	prov, err := mapping.New(mapping.Config{Strategy: o.strategy, AdoptExisting: true, MembershipWrites: o.writes,
		LateWriteWindow: 5 * time.Second, FirstCheck: time.Second, Quiet: 200 * time.Millisecond}, client, store, logger.With("component", "mapping"))
	if err != nil {
		return nil, nil, err
	}
	var tok [24]byte
	_, _ = crand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	h, err := scim.New(scim.Config{StaticTokens: []scim.StaticToken{scim.NewStaticToken("token-1", token)}}, []mapping.Resource{prov.Users(), prov.Groups()}, logger.With("component", "scim"))
	if err != nil {
		return nil, nil, err
	}
	bridgeSrv := httptest.NewServer(h)
	cleanups = append(cleanups, bridgeSrv.Close)

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = o.workers * 2
	httpClient := &http.Client{Transport: tr, Timeout: 2 * time.Minute}
	cleanups = append(cleanups, tr.CloseIdleConnections)
	inj := newInjector(emu, o.faultKinds, o.upstreamTimeout, o.seed)
	s = &soak{
		opts: o, out: out, emu: emu, store: store, faults: inj, logs: logs,
		model: newModel(o.seed, o.users, o.groups),
		idp: &idp{base: bridgeSrv.URL + scim.BasePath, token: token, client: httpClient, st: newStats(), faults: inj,
			attempts: o.idpAttempts, backoff: o.idpBackoff},
		reader: &idp{base: bridgeSrv.URL + scim.BasePath, token: token, client: httpClient, st: newStats(), faults: inj,
			attempts: 1, backoff: o.idpBackoff},
		leaverMon: newLeaverMonitor(o.grace),
		mem:       newMemMonitor(),
		settle: func(ctx context.Context) error {
			_, err := prov.Settle(ctx)
			// The queue drains too: the scheduler may have backed off.
			dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if derr := prov.Drain(dctx); derr != nil && !errors.Is(derr, context.DeadlineExceeded) {
				err = errors.Join(err, derr)
			}
			return err
		},
	}
	s.settler = func(ctx context.Context) {
		go prov.RunScheduler(ctx, func(_ mapping.RoundReport, err error) {
			if err != nil && ctx.Err() == nil {
				logs.note("scheduler: " + err.Error())
			}
		})
		prov.RunSettler(ctx, o.settleEvery, func(_ mapping.SettleReport, err error) {
			if err != nil && ctx.Err() == nil {
				logs.note("settle: " + err.Error())
			}
		})
	}
	return s, cleanup, nil
}

// openStore opens the store o names under dir (bbolt) or on a Redis: the
// one -redis names, else a private redis-server.
func openStore(o options, dir string, logger *slog.Logger) (cache.Store, func(), error) {
	if o.store == "bolt" {
		s, err := boltstore.New(boltstore.Config{Path: filepath.Join(dir, "bridge.db")}, logger)
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	}
	url, stopRedis := o.redisURL, func() {}
	if url == "" {
		r, err := redistest.Launch(redistest.Ephemeral(dir)...)
		if errors.Is(err, exec.ErrNotFound) {
			return nil, nil, errors.New("-store redis without -redis needs redis-server on PATH")
		} else if err != nil {
			return nil, nil, fmt.Errorf("start redis-server: %w", err)
		}
		url, stopRedis = r.URL(), func() { r.Stop(5 * time.Second) }
	}
	var b [6]byte
	_, _ = crand.Read(b[:])
	prefix := "scim-bridge-soak:" + hex.EncodeToString(b[:])
	s, err := redisstore.New(redisstore.Config{URL: url, Prefix: prefix}, logger)
	if err != nil {
		stopRedis()
		return nil, nil, err
	}
	return s, func() {
		if o.redisURL != "" {
			// Someone else's Redis: take away every record we put there.
			if err := storetool.Purge(context.Background(), s); err != nil {
				fmt.Fprintf(os.Stderr, "soak: clean up prefix %s: %v\n", prefix, err)
			}
		}
		s.Close()
		stopRedis()
	}, nil
}

// run drives traffic for the duration with the monitors, then brings the
// system to quiescence and reports.
func (s *soak) run(ctx context.Context) (*report, error) {
	o := s.opts
	start := time.Now()
	trafficCtx, stopTraffic := context.WithTimeout(ctx, o.duration)
	defer stopTraffic()

	var bg sync.WaitGroup
	faultCtx, stopFaults := context.WithCancel(trafficCtx)
	defer stopFaults()
	if o.faults {
		bg.Go(func() { s.faults.run(faultCtx) })
	}
	monCtx, stopMon := context.WithCancel(ctx)
	defer stopMon()
	var monWG sync.WaitGroup
	s.mem.sample(0)
	monWG.Go(func() { s.monitor(monCtx, start) })
	bg.Go(func() { s.settler(trafficCtx) })
	s.traffic(trafficCtx, ctx)
	stopFaults()
	bg.Wait()
	s.emu.ClearFaults()
	trafficEnd := time.Now()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}

	fmt.Fprintf(s.out, "traffic stopped after %s; faults cleared; quiescing…\n", trafficEnd.Sub(start).Round(time.Millisecond))
	conv, diffs := s.quiesce(ctx)
	stopMon()
	monWG.Wait()
	s.leaverMon.check(s.model.leavers(), s.emu.Users(), time.Now(), true)
	s.mem.sample(time.Since(start))
	rep := s.report(start, trafficEnd, conv, diffs)
	rep.print(s.out)
	return rep, nil
}

// traffic starts operations at the steady rate on a bounded pool of
// workers until ctx ends, then waits for those in flight, which run under
// opCtx: the IdPs finish what they started.
func (s *soak) traffic(ctx, opCtx context.Context) {
	work := make(chan op)
	var wg sync.WaitGroup
	for range s.opts.workers {
		wg.Go(func() {
			for o := range work {
				s.execute(opCtx, o)
			}
		})
	}
	every(ctx, time.Duration(float64(time.Second)/s.opts.rate), func() {
		o, ok := s.model.next()
		if !ok {
			s.idp.st.mu.Lock()
			s.idp.st.idle++
			s.idp.st.mu.Unlock()
			return
		}
		select {
		case work <- o:
		default:
			// Every worker is busy: the IdP falls behind rather than
			// piling up requests.
			s.model.undo(o)
			s.idp.st.mu.Lock()
			s.idp.st.behind++
			s.idp.st.mu.Unlock()
		}
	})
	close(work)
	wg.Wait()
}

// monitor runs the periodic invariant checks until ctx ends.
func (s *soak) monitor(ctx context.Context, start time.Time) {
	every(ctx, s.opts.check, func() {
		s.leaverMon.check(s.model.leavers(), s.emu.Users(), time.Now(), false)
		s.mem.sample(time.Since(start))
		if since := time.Since(start); since >= s.opts.duration/4 {
			s.mem.markBaseline()
		}
	})
}

// every calls f every d (after the first d) until ctx ends; a tick that
// comes while f runs is dropped, as with a time.Ticker.
func every(ctx context.Context, d time.Duration, f func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f()
	}
}

// printSetup prints what the figures depend on.
func printSetup(w io.Writer, o options) {
	kinds := "off"
	if o.faults {
		kinds = strings.Join(o.faultKinds, ",")
	}
	fmt.Fprintf(w, "soak: %s, %d CPUs; store %s, strategy %s, writes %s, %v of traffic at %.0f ops/s (%d workers), %d users, %d groups, seed %d\n",
		runtime.Version(), runtime.NumCPU(), o.store, o.strategy, o.writes, o.duration, o.rate, o.workers, o.users, o.groups, o.seed)
	fmt.Fprintf(w, "      faults %s; UiPath call deadline %v; IdP attempts %d; leaver grace %v; checks every %v\n",
		kinds, o.upstreamTimeout, o.idpAttempts, o.grace, o.check)
}
