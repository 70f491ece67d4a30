package test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/internal/redistest"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// The Redis fault tests run the real binary on the Redis store and break
// its Redis under it: wiped by a restart, cut off for 30 s, failed over by
// Sentinel. The bridge must keep running, refuse work it cannot record
// with a SCIM 503 and Retry-After, send nothing to UiPath meanwhile, and
// converge once Redis is back and the IdP retries or re-pushes.

// syncPlan is what an IdP provisions: users, and groups with members.
type syncPlan struct {
	users  []string
	groups map[string][]string
}

// newSyncPlan names n users prefix-i@corp.example and g groups; user i is
// in group i mod g.
func newSyncPlan(prefix string, n, g int) syncPlan {
	p := syncPlan{groups: map[string][]string{}}
	for i := range n {
		name := fmt.Sprintf("%s-%04d@corp.example", prefix, i)
		p.users = append(p.users, name)
		if g > 0 {
			group := fmt.Sprintf("%s-group-%d", prefix, i%g)
			p.groups[group] = append(p.groups[group], name)
		}
	}
	return p
}

// push is an IdP's full push of p: every user (lookup by userName, POST if
// absent) on workers goroutines, then every group (lookup by displayName,
// POST if absent) and a PATCH adding its members. It goes on past
// failures and returns them joined.
func (c *idp) push(p syncPlan, workers int) error {
	ids := make([]string, len(p.users))
	var errs []error
	if err := onWorkers(len(p.users), workers, func(i int) error {
		id, err := c.ensureUser(p.users[i])
		ids[i] = id
		return err
	}); err != nil {
		errs = append(errs, err)
	}
	idOf := map[string]string{}
	for i, name := range p.users {
		idOf[name] = ids[i]
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range p.groups {
			if !yield(k) {
				return
			}
		}
	})
	if err := onWorkers(len(names), workers, func(i int) error {
		gid, err := c.ensureGroup(names[i])
		if err != nil {
			return err
		}
		var value []any
		for _, m := range p.groups[names[i]] {
			if idOf[m] != "" {
				value = append(value, map[string]any{"value": idOf[m]})
			}
		}
		_, err = c.retry("PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "add", "path": "members", "value": value}))
		return err
	}); err != nil {
		errs = append(errs, err)
	}
	return joinErrs(errs)
}

func joinErrs(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error())
		b.WriteString("\n")
	}
	return fmt.Errorf("%s", tail(b.String(), 3000))
}

// answerLog keeps every answer the IdP got, to judge those of a window
// after the fact.
type answerLog struct {
	mu      sync.Mutex
	answers []answer
}

type answer struct {
	sent, done time.Time
	r          response
}

func (l *answerLog) observe(sent time.Time, took time.Duration, r response) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.answers = append(l.answers, answer{sent: sent, done: sent.Add(took), r: r})
}

// between returns the answers that came at or after from and before to,
// whenever their request was sent.
func (l *answerLog) between(from, to time.Time) []answer {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []answer
	for _, a := range l.answers {
		if !a.done.Before(from) && a.done.Before(to) {
			out = append(out, a)
		}
	}
	return out
}

// checkOutageAnswers fails t unless every answer is a SCIM 503 with
// Retry-After, each within limit; it returns how many there were and the
// slowest.
func checkOutageAnswers(t *testing.T, answers []answer, limit time.Duration) (n int, slowest time.Duration) {
	t.Helper()
	bad := 0
	for _, a := range answers {
		took := a.done.Sub(a.sent)
		slowest = max(slowest, took)
		r := a.r
		ok := r.status == 503 && r.header.Get("Retry-After") != "" &&
			strings.HasPrefix(r.header.Get("Content-Type"), "application/scim+json") &&
			str(r.body, "status") == "503" &&
			strings.Contains(fmt.Sprint(r.body["schemas"]), "urn:ietf:params:scim:api:messages:2.0:Error")
		if !ok || took > limit {
			if bad++; bad <= 5 {
				t.Errorf("answer during the outage after %v: %d Retry-After=%q %s", took, r.status, r.header.Get("Retry-After"), tail(r.raw, 300))
			}
		}
	}
	return len(answers), slowest
}

// TestRedisRestartedEmpty wipes the bridge's Redis in the middle of a
// sync: the server is killed and a new, empty one starts on the same port.
// While it is down every answer is a SCIM 503 with Retry-After; the bridge
// keeps running; once Redis is back, the IdP's full re-push (lookup → not
// found → POST) adopts the accounts and groups UiPath already has instead
// of duplicating them, and the store equals UiPath again.
func TestRedisRestartedEmpty(t *testing.T) {
	bin := buildBridge(t)
	srv := redistest.Start(t)
	te := upstreamEnv(t)
	emu := te.Emulator
	b := startBridge(t, bin, te, map[string]string{"REDIS_URL": srv.URL(), "REDIS_PREFIX": redistest.Prefix(t)})
	c := newIdP(t, b)
	var log answerLog
	c.observe = log.observe
	// During the sync the IdP gives up on a 4xx, as Okta does: a group
	// PATCH naming a user the wiped store no longer has is refused.
	c.permanent4xx = true
	c.deadline = 30 * time.Second

	plan := newSyncPlan("wipe", 200, 4)
	synced := make(chan error, 1)
	go func() { synced <- c.push(plan, 8) }()

	waitFor(t, 60*time.Second, "80 accounts in UiPath", func() bool { return len(emu.Users()) >= 80 })
	srv.Kill()
	killedAt := time.Now()
	callsAtKill := countAPICalls(emu.Requests())
	usersAtKill := len(emu.Users())
	time.Sleep(3 * time.Second)
	callsBeforeRestart := countAPICalls(emu.Requests())
	restartAt := time.Now()
	srv.Restart()
	syncErr := <-synced

	// A request whose store work ended just before the kill may still be
	// answered 2xx a moment later; any answer after that must be a 503.
	outage := log.between(killedAt.Add(200*time.Millisecond), restartAt)
	n, slowest := checkOutageAnswers(t, outage, 10*time.Second)
	if n == 0 {
		t.Error("no request was answered while Redis was down: the test did not test the outage")
	}
	// A call already in flight when Redis died may still complete; none
	// may start once the store is known to be down.
	if extra := callsBeforeRestart - callsAtKill; extra > 8 {
		t.Errorf("UiPath got %d calls while Redis was down", extra)
	}
	if b.Exited() || b.starts != 1 {
		t.Fatal("the bridge did not survive the Redis restart")
	}

	// The IdP's full re-push, as after Okta's "push now" or Entra's
	// restart of provisioning.
	c.permanent4xx = false
	c.deadline = 90 * time.Second
	retriesBefore, requestsBefore := c.retries.Load(), c.requests.Load()
	repushStart := time.Now()
	if err := c.push(plan, 8); err != nil {
		t.Fatalf("re-push after the wipe: %v", err)
	}
	conv := awaitConverged(t, 30*time.Second, emu, c, plan.users, plan.groups)
	syncFailures := 0
	if syncErr != nil {
		syncFailures = strings.Count(syncErr.Error(), "gave up")
	}
	t.Logf("figures: inject=%q users-in-UiPath-at-kill=%d answers-while-down=%d (all SCIM 503, slowest %v) uipath-calls-while-down=%d sync-requests-given-up=%d sync-retries=%d re-push: requests=%d retried=%d time=%v; kill-to-converged=%v %v idp-statuses=[%s]",
		"SIGKILL of redis-server mid-sync (200 users, 4 groups), 3s down, restarted empty on the same port",
		usersAtKill, n, slowest.Round(time.Millisecond), callsBeforeRestart-callsAtKill, syncFailures, retriesBefore,
		c.requests.Load()-requestsBefore, c.retries.Load()-retriesBefore, time.Since(repushStart).Round(time.Millisecond),
		time.Since(killedAt).Round(time.Millisecond), conv, c.statusCounts())
}

// countAPICalls counts the API calls (not token calls) in an emulator's
// call log.
func countAPICalls(reqs []emulator.Request) int {
	n := 0
	for _, r := range reqs {
		if r.Path == "/api" || strings.HasPrefix(r.Path, "/api/") {
			n++
		}
	}
	return n
}

// TestRedisOutage30s cuts the bridge off its Redis for 30 s (a network
// failure, not a blip) while the IdP keeps provisioning: every answer in
// the outage is a quick SCIM 503 with Retry-After, UiPath gets no call,
// and when the network is back the IdP's retries converge without a
// restart of the bridge.
func TestRedisOutage30s(t *testing.T) {
	const outage = 30 * time.Second
	t.Parallel() // mostly waiting: let the other tests run meanwhile
	bin := buildBridge(t)
	u, err := url.Parse(redistest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, u.Host)
	te := upstreamEnv(t)
	emu := te.Emulator
	b := startBridge(t, bin, te, map[string]string{"REDIS_URL": "redis://" + proxy.ln.Addr().String(), "REDIS_PREFIX": redistest.Prefix(t)})
	c := newIdP(t, b)
	var log answerLog
	c.observe = log.observe

	before := newSyncPlan("before", 50, 1)
	if err := c.push(before, 8); err != nil {
		t.Fatal(err)
	}
	during := newSyncPlan("during", 20, 0)

	proxy.setCut(true)
	cutAt := time.Now()
	callsAtCut := countAPICalls(emu.Requests())
	requestsBefore, retriesBefore := c.requests.Load(), c.retries.Load()
	var lastOK atomic.Int64 // unix nanos of the last 2xx
	c.observe = func(sent time.Time, took time.Duration, r response) {
		log.observe(sent, took, r)
		if r.status >= 200 && r.status < 300 {
			lastOK.Store(sent.Add(took).UnixNano())
		}
	}
	// The IdP keeps working through the outage: new users, a membership
	// change for them, lookups of existing ones; each retried until 2xx.
	done := make(chan error, 1)
	go func() {
		var errs []error
		if err := c.push(syncPlan{users: during.users, groups: map[string][]string{"before-group-0": during.users}}, 4); err != nil {
			errs = append(errs, err)
		}
		done <- joinErrs(errs)
	}()
	lookups := make(chan error, 1)
	go func() {
		_, err := c.retry("GET", "/Users?filter="+url.QueryEscape(`userName eq "`+before.users[0]+`"`), nil)
		lookups <- err
	}()
	time.Sleep(outage)
	callsAtRestore := countAPICalls(emu.Requests())
	if b.Exited() {
		t.Fatal("the bridge died during the Redis outage")
	}
	restoreAt := time.Now()
	proxy.setCut(false)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-lookups; err != nil {
		t.Fatal(err)
	}
	recovered := time.Unix(0, lastOK.Load())

	n, slowest := checkOutageAnswers(t, log.between(cutAt.Add(200*time.Millisecond), restoreAt), 10*time.Second)
	if n < 10 {
		t.Errorf("only %d answers during a %v outage: the IdP was not kept waiting?", n, outage)
	}
	if calls := callsAtRestore - callsAtCut; calls != 0 {
		t.Errorf("UiPath got %d API calls while Redis was unreachable", calls)
	}
	all := syncPlan{users: append(slices.Clone(before.users), during.users...), groups: map[string][]string{
		"before-group-0": append(slices.Clone(before.groups["before-group-0"]), during.users...),
	}}
	conv := awaitConverged(t, 30*time.Second, emu, c, all.users, all.groups)
	if b.starts != 1 {
		t.Errorf("the bridge was restarted %d times", b.starts-1)
	}
	t.Logf("figures: inject=%q answers-during-outage=%d (all SCIM 503, slowest %v) uipath-calls-during-outage=%d requests=%d retried=%d restore-to-converged=%v %v idp-statuses=[%s]",
		fmt.Sprintf("Redis unreachable for %v (TCP proxy cut: connections reset, new ones refused)", outage),
		n, slowest.Round(time.Millisecond), callsAtRestore-callsAtCut, c.requests.Load()-requestsBefore, c.retries.Load()-retriesBefore,
		recovered.Sub(restoreAt).Round(time.Millisecond), conv, c.statusCounts())
}

// TestRedisSentinelFailover runs the bridge on a Sentinel-managed Redis
// (a master, two replicas, one Sentinel; SCIM_BRIDGE_REDIS_URL names the
// Sentinel and master_name) and fails the master over while the IdP
// creates users. Sentinel promotes a replica; the bridge must follow it
// without a restart and writes resume.
//
// Acknowledged writes: replication is asynchronous, so the bridge waits
// (WAIT) until min_replicas replicas have each write before it answers.
// With the master killed, the default (1) suffices: Sentinel promotes the
// replica with the most data, which has every write a replica confirmed.
// A SENTINEL FAILOVER promotes one replica while the old master still
// feeds the other one for a moment, so there min_replicas is every
// replica (2): writes in the handover fail (the IdP retries) instead of
// being acknowledged and lost; a create the replicas did not confirm is
// taken back off the old master, so the IdP's retried lookup cannot find
// it there and take it as made. Asserted: (1) no acknowledged write is
// missing afterwards, before or during the failover, and (2) after the
// IdP's re-push, UiPath and the store agree, with no duplicate account.
func TestRedisSentinelFailover(t *testing.T) {
	bin := buildBridge(t)
	for _, mode := range []string{"kill-master", "sentinel-failover"} {
		t.Run(mode, func(t *testing.T) { sentinelFailover(t, bin, mode) })
	}
}

// sentinelFailover runs TestRedisSentinelFailover with the master killed
// (SIGKILL; Sentinel notices after 1s) or demoted by SENTINEL FAILOVER
// (it lives on as a replica of the promoted one).
func sentinelFailover(t *testing.T, bin, mode string) {
	master := redistest.Start(t)
	_, masterPort, _ := strings.Cut(master.Addr(), ":")
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", masterPort)
	replica2 := redistest.Start(t, "--replicaof", "127.0.0.1", masterPort)
	ctx := t.Context()
	rdb := func(addr string) *redis.Client {
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		t.Cleanup(func() { c.Close() })
		return c
	}
	replicaC, masterC := rdb(replica.Addr()), rdb(master.Addr())
	for _, c := range []*redis.Client{replicaC, rdb(replica2.Addr())} {
		waitFor(t, 20*time.Second, "the replicas to sync", func() bool {
			info, _ := c.Info(ctx, "replication").Result()
			return strings.Contains(info, "master_link_status:up")
		})
	}
	sentinel := redistest.StartSentinel(t, "mymaster", master.Addr(), time.Second)
	sentinelC := rdb(sentinel.Addr())
	waitFor(t, 30*time.Second, "the Sentinel to see the replicas", func() bool {
		reps, err := sentinelC.Do(ctx, "SENTINEL", "REPLICAS", "mymaster").Slice()
		return err == nil && len(reps) == 2
	})
	minReplicas := "1"
	if mode == "sentinel-failover" {
		minReplicas = "2"
	}

	te := upstreamEnv(t)
	emu := te.Emulator
	b := startBridge(t, bin, te, map[string]string{
		"REDIS_URL":    "redis://" + sentinel.Addr() + "/0?master_name=mymaster&min_replicas=" + minReplicas,
		"REDIS_PREFIX": redistest.Prefix(t),
	})
	c := newIdP(t, b)
	// firstWriteAfter is when the first create sent after Sentinel's
	// switch succeeded.
	var firstWriteAfter, killedAt, switchedAtNanos atomic.Int64
	c.observe = func(sent time.Time, took time.Duration, r response) {
		if k := switchedAtNanos.Load(); k != 0 && r.status == 201 && sent.UnixNano() > k {
			firstWriteAfter.CompareAndSwap(0, sent.Add(took).UnixNano())
		}
	}

	first := newSyncPlan("pre", 100, 0)
	if err := c.push(first, 8); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the replica to catch up", func() bool {
		return replOffset(ctx, masterC, "master_repl_offset") == replOffset(ctx, replicaC, "slave_repl_offset")
	})

	// The IdP creates users on 8 workers until a second after Sentinel
	// has switched masters, so that writes go on before, during and after
	// the failover.
	var stop atomic.Bool
	var mu sync.Mutex
	var second []string
	var next atomic.Int64
	done := make(chan error, 1)
	go func() {
		done <- onWorkers(8, 8, func(int) error {
			for !stop.Load() {
				name := fmt.Sprintf("post-%04d@corp.example", next.Add(1))
				if _, err := c.ensureUser(name); err != nil {
					return err
				}
				mu.Lock()
				second = append(second, name)
				mu.Unlock()
			}
			return nil
		})
	}()
	waitFor(t, 60*time.Second, "30 more accounts", func() bool { return len(emu.Users()) >= len(first.users)+30 })
	inject := "SIGKILL of the Redis master during concurrent creates (8 workers); Sentinel (down-after 1s) promotes the replica"
	if mode == "kill-master" {
		master.Kill()
	} else {
		inject = "SENTINEL FAILOVER during concurrent creates (8 workers): the replica is promoted, the old master demoted"
		if err := sentinelC.Do(ctx, "SENTINEL", "FAILOVER", "mymaster").Err(); err != nil {
			t.Fatal(err)
		}
	}
	killedAt.Store(time.Now().UnixNano())
	requestsBefore, retriesBefore := c.requests.Load(), c.retries.Load()
	waitFor(t, 30*time.Second, "Sentinel to promote a replica", func() bool {
		addr, err := sentinelC.Do(ctx, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster").StringSlice()
		return err == nil && len(addr) == 2 && (addr[0]+":"+addr[1] == replica.Addr() || addr[0]+":"+addr[1] == replica2.Addr())
	})
	switchedAt := time.Now()
	switchedAtNanos.Store(switchedAt.UnixNano())
	// Writes resume once the new master has min_replicas replicas again
	// (the others re-point to it and resync).
	deadline := time.Now().Add(30 * time.Second)
	for firstWriteAfter.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	stop.Store(true)
	if err := <-done; err != nil {
		t.Fatalf("creates across the failover: %v", err)
	}
	if firstWriteAfter.Load() == 0 {
		t.Fatal("no create succeeded after Sentinel switched masters")
	}
	if b.Exited() || b.starts != 1 {
		t.Fatal("the bridge did not survive the failover")
	}
	resumed := time.Duration(firstWriteAfter.Load() - killedAt.Load())

	// Acknowledged writes, read back from the new master through the bridge.
	missing := func(names []string) (n int) {
		for _, name := range names {
			r, err := c.retry("GET", "/Users?filter="+url.QueryEscape(`userName eq "`+name+`"`), nil)
			if err != nil {
				t.Fatal(err)
			}
			if r.body["totalResults"] != float64(1) {
				n++
			}
		}
		return n
	}
	lostReplicated := missing(first.users)
	if lostReplicated != 0 {
		t.Errorf("%d writes acknowledged and replicated before the failover are missing", lostReplicated)
	}
	lostInFailover := missing(second)
	if lostInFailover != 0 {
		t.Errorf("%d writes acknowledged during the failover are missing on the new master", lostInFailover)
	}

	all := syncPlan{users: append(slices.Clone(first.users), second...)}
	if err := c.push(all, 8); err != nil {
		t.Fatalf("re-push after the failover: %v", err)
	}
	conv := checkConverged(t, emu, c, all.users, nil)
	t.Logf("figures: inject=%q failover-took=%v first-write-after-switch=%v (from the fault) creates-during-run=%d requests=%d retried=%d acked-replicated-lost=%d acked-during-failover-missing-before-repush=%d %v idp-statuses=[%s]",
		inject, switchedAt.Sub(time.Unix(0, killedAt.Load())).Round(time.Millisecond),
		resumed.Round(time.Millisecond), len(second), c.requests.Load()-requestsBefore, c.retries.Load()-retriesBefore,
		lostReplicated, lostInFailover, conv, c.statusCounts())
}

// replOffset reads a replication offset field from INFO replication; -1
// if absent.
func replOffset(ctx context.Context, c *redis.Client, field string) int64 {
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return -1
	}
	for line := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			var n int64
			if _, err := fmt.Sscan(v, &n); err == nil {
				return n
			}
		}
	}
	return -2
}
