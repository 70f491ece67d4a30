package main

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/cache/boltstore"
	"github.com/scim-bridge/scim-bridge/cache/redisstore"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
	"github.com/scim-bridge/scim-bridge/internal/storetool"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// options are the harness's flags.
type options struct {
	mode        string
	strategy    string
	writes      string
	store       string
	redisURL    string
	window      time.Duration
	latency     time.Duration
	concurrency int
	users       int
	groups      int
	memberships int
	batch       int
	reorg       int
	exit        int
	leavers     int
	reorg2      int
	duration    time.Duration
	timeout     time.Duration
	seed        uint64
	keep        bool
	generator   string
	order       string
	until       string
	reconcile   bool
	drift       int
}

func main() { os.Exit(run(os.Args[1:], os.Stderr)) }

func run(args []string, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.mode, "mode", "sync", "sync (Entra initial sync, re-org and exit waves) or lookup (userName eq filter throughput)")
	fs.StringVar(&o.strategy, "strategy", mapping.StrategyAuto, "membership strategy of the bridge: user, group or auto")
	fs.StringVar(&o.writes, "writes", mapping.WritesQueued, "membership writes of the bridge (SCIM_BRIDGE_MEMBERSHIP_WRITES): queued (answered once stored, sent by the scheduler) or sync (answered once UiPath has them)")
	fs.StringVar(&o.store, "store", "embedded", "bridge store: embedded (bbolt) or redis")
	fs.StringVar(&o.generator, "generator", "go", "lookup mode: who sends the lookups: go (this process) or wrk (the wrk tool, which costs the shared cores less CPU)")
	fs.StringVar(&o.redisURL, "redis", "", "Redis URL for -store redis (default: a private redis-server on a free port); keys go under a fresh prefix, removed afterwards")
	fs.DurationVar(&o.window, "window", 2*time.Second, "UiPath rate-limit window (GET 300, POST 24000, PUT 160, DELETE 160 per window), for the emulator and the bridge's budget")
	fs.DurationVar(&o.latency, "latency", 0, "latency the emulator adds to every UiPath API call")
	fs.IntVar(&o.concurrency, "concurrency", 32, "concurrent IdP requests (keep-alive connections)")
	fs.IntVar(&o.users, "users", 0, "users (default 2000 in sync mode, 100000 in lookup mode)")
	fs.IntVar(&o.groups, "groups", 50, "groups")
	fs.IntVar(&o.memberships, "memberships", 10000, "initial group memberships, Zipf-distributed over the groups")
	fs.StringVar(&o.until, "until", "exit", "sync mode: the last phase to run (users, groups, re-org, leavers or exit); reconciliation follows the exit phase only. At UiPath's real 5-minute window the exit phase alone needs half an hour")
	fs.StringVar(&o.order, "order", "shuffled", "order of the membership PATCHes: shuffled (every group's PATCHes spread over the phase) or grouped (one group's PATCHes in sequence, many groups at once, as Okta's group push and Entra send them)")
	fs.IntVar(&o.batch, "batch", 20, "members per PATCH (Entra sends member Add/Remove with value arrays)")
	fs.IntVar(&o.reorg, "reorg", 10, "re-org wave: percent of users moved from one of their groups to another")
	fs.IntVar(&o.exit, "exit", 5, "exit wave: percent of users disabled (PATCH active False) then deleted")
	fs.IntVar(&o.reorg2, "leaver-reorg", 10, "leaver phase: percent of users a second re-org wave moves, to keep the PUT budget full while the leavers are sent")
	fs.IntVar(&o.leavers, "leavers", 10, "leaver phase: users disabled (PATCH active False, not deleted) during the second re-org wave; 10 fit in the PUT reserve of one window")
	fs.BoolVar(&o.reconcile, "reconcile", true, "sync mode: after the last phase, inject -drift changes of every drift class into UiPath behind the bridge's back and run one pass of scim-bridge reconcile, then a second one")
	fs.IntVar(&o.drift, "drift", 0, "reconcile phase: changes per drift class (default 1% of -users, at least 2; fewer groups are deleted and renamed)")
	fs.DurationVar(&o.duration, "duration", 15*time.Second, "lookup mode: how long to send lookups")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "the whole run stops after this")
	fs.Uint64Var(&o.seed, "seed", 1, "workload random seed")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary directory (bridge log, bbolt file)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.users == 0 {
		o.users = 2000
		if o.mode == "lookup" {
			o.users = 100000
		}
	}
	var bad []string
	if o.mode != "sync" && o.mode != "lookup" {
		bad = append(bad, "-mode must be sync or lookup")
	}
	if o.writes != mapping.WritesQueued && o.writes != mapping.WritesSync {
		bad = append(bad, "-writes must be queued or sync")
	}
	if o.drift == 0 {
		o.drift = max(2, o.users/100)
	}
	if o.drift < 0 {
		bad = append(bad, "-drift must not be negative")
	}
	if o.leavers < 0 || o.reorg2 < 0 {
		bad = append(bad, "-leavers and -leaver-reorg must not be negative")
	}
	if syncPhaseIndex(o.until) < 0 {
		bad = append(bad, "-until must be one of "+strings.Join(syncPhaseNames(), ", "))
	}
	if o.order != "shuffled" && o.order != "grouped" {
		bad = append(bad, "-order must be shuffled or grouped")
	}
	if o.store != "embedded" && o.store != "redis" {
		bad = append(bad, "-store must be embedded or redis")
	}
	if o.redisURL != "" && o.store != "redis" {
		bad = append(bad, "-redis needs -store redis")
	}
	if o.concurrency < 1 || o.batch < 1 || o.window <= 0 || o.timeout <= 0 {
		bad = append(bad, "-concurrency, -batch, -window and -timeout must be positive")
	}
	if len(bad) > 0 {
		fmt.Fprintln(stderr, "load: "+strings.Join(bad, "; "))
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	if err := harness(ctx, o); err != nil {
		fmt.Fprintf(stderr, "load: %v\n", err)
		return 1
	}
	return 0
}

// harness sets up the emulator, the store and the bridge process, runs the
// mode, and tears everything down.
func harness(ctx context.Context, o options) (err error) {
	dir, err := os.MkdirTemp("", "scim-bridge-load-")
	if err != nil {
		return err
	}
	defer func() {
		if o.keep {
			fmt.Printf("kept %s\n", dir)
			return
		}
		os.RemoveAll(dir)
	}()
	fmt.Printf("building the bridge…\n")
	bin, err := buildBridge(ctx, dir)
	if err != nil {
		return err
	}

	emu := emulator.New(emulator.Config{Window: o.window, Latency: o.latency}, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	emuSrv := &http.Server{Handler: emu, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = emuSrv.Serve(ln) }()
	defer emuSrv.Close()

	var tok [32]byte
	_, _ = crand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	clientID, clientSecret := emu.Credentials()
	env := map[string]string{
		"SCIM_BRIDGE_TOKENS":               token,
		"SCIM_BRIDGE_UIPATH_URL":           "http://" + ln.Addr().String(),
		"SCIM_BRIDGE_UIPATH_CLIENT_ID":     clientID,
		"SCIM_BRIDGE_UIPATH_CLIENT_SECRET": clientSecret,
		"SCIM_BRIDGE_UIPATH_PARTITION_ID":  emu.PartitionID(),
		"SCIM_BRIDGE_MEMBERSHIP_STRATEGY":  o.strategy,
		"SCIM_BRIDGE_MEMBERSHIP_WRITES":    o.writes,
		"SCIM_BRIDGE_DEPROVISION_RESERVE":  strconv.FormatFloat(deprovisionReserve, 'f', -1, 64),
		"SCIM_BRIDGE_UIPATH_BUDGET_WINDOW": o.window.String(),
		"SCIM_BRIDGE_LOG_LEVEL":            "warn",
		"SCIM_BRIDGE_LOG_FORMAT":           "text",
		"SCIM_BRIDGE_DATA_DIR":             dir,
	}
	if o.mode == "sync" && o.reconcile {
		// With the embedded store, which serve holds, `scim-bridge
		// reconcile` asks serve's admin API to run the pass.
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		env["SCIM_BRIDGE_ADMIN_LISTEN"] = addr
	}

	var redisProc *redistest.Process
	var extraCPU func() time.Duration
	var openStore func() (cache.Store, error)
	switch o.store {
	case "redis":
		url := o.redisURL
		if url == "" {
			p, err := redistest.Launch(redistest.Ephemeral(dir)...)
			if errors.Is(err, exec.ErrNotFound) {
				return errors.New("-store redis without -redis needs redis-server on PATH")
			} else if err != nil {
				return fmt.Errorf("start redis-server: %w", err)
			}
			redisProc, url = p, p.URL()
			defer redisProc.Stop(5 * time.Second)
			extraCPU = func() time.Duration { u, _ := readUsage(redisProc.Pid()); return u.cpu }
		}
		var b [6]byte
		_, _ = crand.Read(b[:])
		prefix := "scim-bridge-load:" + hex.EncodeToString(b[:])
		env["SCIM_BRIDGE_REDIS_URL"] = url
		env["SCIM_BRIDGE_REDIS_PREFIX"] = prefix
		openStore = func() (cache.Store, error) {
			return redisstore.New(redisstore.Config{URL: url, Prefix: prefix}, nil)
		}
		if redisProc == nil {
			// Someone else's Redis: take away every record we put there.
			defer func() {
				s, err := openStore()
				if err == nil {
					defer s.Close()
					err = storetool.Purge(context.Background(), s)
				}
				if err != nil {
					fmt.Fprintf(os.Stderr, "load: clean up prefix %s: %v\n", prefix, err)
				}
			}()
		}
	default:
		path := filepath.Join(dir, "scim-bridge.db")
		openStore = func() (cache.Store, error) { return boltstore.New(boltstore.Config{Path: path}, nil) }
	}

	printMachine(o)
	if o.mode == "lookup" {
		return lookupMode(ctx, o, bin, dir, env, emu, openStore, extraCPU)
	}

	wl, err := newWorkload(o.users, o.groups, o.memberships, o.reorg, o.exit, o.reorg2, o.leavers, o.seed)
	if err != nil {
		return err
	}
	fmt.Printf("workload: %d users, %d groups (largest %d, median %d, smallest %d members), %d memberships in PATCHes of %d, re-org moves %d users, leaver phase: %d leavers during a re-org moving %d users, exit wave %d users\n",
		o.users, o.groups, largest(wl.members), median(wl.members), smallest(wl.members), o.memberships, o.batch, wl.moved, len(wl.leavers), wl.moved2, len(wl.exits))
	b, err := startBridge(ctx, bin, dir, env)
	if err != nil {
		return err
	}
	defer b.stop(10 * time.Second)
	emu.ResetRequests() // readiness probes are not part of the workload
	r := &syncRun{
		opts: o, emu: emu, bridge: b, idp: newIdP(b.url, token, o.concurrency), leaverIdP: newIdP(b.url, token, max(o.leavers, 1)), wl: wl,
		rng:     rand.New(rand.NewPCG(o.seed, 0x10ad)),
		userIDs: make([]string, o.users), groupIDs: make([]string, o.groups),
		want: make([]map[int]bool, o.groups), deleted: map[int]bool{}, disabled: map[int]bool{},
	}
	for g := range r.want {
		r.want[g] = map[int]bool{}
	}
	fmt.Print("columns: SCIM requests by method (GET/POST/PATCH/DELETE); UiPath API calls and the minimum by class (GET/POST/PUT/DELETE):\n" +
		"  creates, deactivations and deletions, plus the membership calls: with -writes sync each PATCH's own plan (auto), with queued the global min;\n" +
		"  strategy expects = writes the strategy should spend (sync: per request, auto the minimum, user one per affected user; queued: one plan over the phase);\n" +
		"  global min = minimum vertex cover of all the phase's membership changes at once;\n" +
		"  writes/globalmin = UiPath writes ÷ (global min + creates + deactivations + deletions);\n" +
		"  wall runs until " + metricPending + " reads 0, " + settleDelay.String() + " or more after the last IdP answer (sync: until that answer);\n" +
		"  floor = max over write classes of writes ÷ limit × window; real-time = the same at UiPath's real 5 min window;\n" +
		"  each phase starts once the previous one's writes have left the budget window (the wait is in no phase);\n" +
		"  peak RSS is the bridge's VmHWM so far; harness CPU = IdP simulator + emulator\n\n")
	err = r.run(ctx)
	if n := countLines(b.logPath); n > 0 {
		fmt.Printf("bridge log: %d warning/error lines, last ones:\n%s\n", n, tail(b.logPath, 5))
	}
	return err
}

func countLines(path string) int {
	raw, err := os.ReadFile(path)
	if err != nil || len(raw) == 0 {
		return 0
	}
	return strings.Count(string(raw), "\n")
}

func largest(groups [][]int) int {
	n := 0
	for _, g := range groups {
		n = max(n, len(g))
	}
	return n
}

func smallest(groups [][]int) int {
	if len(groups) == 0 {
		return 0
	}
	n := len(groups[0])
	for _, g := range groups {
		n = min(n, len(g))
	}
	return n
}

func median(groups [][]int) int {
	if len(groups) == 0 {
		return 0
	}
	sizes := make([]time.Duration, len(groups)) // percentile works on durations
	for i, g := range groups {
		sizes[i] = time.Duration(len(g))
	}
	return int(percentile(sizes, 0.5))
}

// printMachine prints what the figures depend on.
func printMachine(o options) {
	model := "unknown"
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	fmt.Printf("machine: %d CPUs (%s), %s; mode %s, store %s, strategy %s, writes %s, PATCH order %s, window %v, latency %v, concurrency %d\n",
		runtime.NumCPU(), model, runtime.Version(), o.mode, o.store, o.strategy, o.writes, o.order, o.window, o.latency, o.concurrency)
}
