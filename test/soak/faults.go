package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// Fault kinds (-fault-kinds).
const (
	kind5xx   = "5xx"   // 500, 502 or 503, nothing applied
	kind429   = "429"   // 429 with Retry-After 1s, nothing applied
	kindDelay = "delay" // the answer waits past the client's deadline; nothing applied
	kindDrop  = "drop"  // the connection is closed, nothing applied
	kindLost  = "lost"  // applied, then a 5xx or a closed connection: the answer is lost
	kindLate  = "late"  // held past the client's deadline, then applied anyway
)

// allFaultKinds lists every kind, in report order.
var allFaultKinds = []string{kind5xx, kind429, kindDelay, kindDrop, kindLost, kindLate}

// target is one UiPath operation the bridge uses, as the emulator's fault
// matcher sees it.
type target struct {
	name   string
	method string
	paths  []string // PathContains of one fault each
	weight int      // how often it is picked, relative to the others
}

// targets are the UiPath operations faults are injected into. GET
// /api/User/{id} shares its prefix with the user search
// (/api/User/users/{partition}); a GUID starts with a hex digit and the
// search with "u", so get user is one fault per leading hex digit.
var targets = func() []target {
	var getUser []string
	for _, c := range "0123456789abcdef" {
		getUser = append(getUser, "/api/User/"+string(c))
	}
	return []target{
		{"token", http.MethodPost, []string{"/connect/token"}, 1},
		{"BulkCreate", http.MethodPost, []string{"/api/User/BulkCreate"}, 2},
		{"GET user", http.MethodGet, getUser, 1},
		{"user search", http.MethodGet, []string{"/api/User/users/"}, 1},
		{"PUT user", http.MethodPut, []string{"/api/User/"}, 4},
		{"DELETE user", http.MethodDelete, []string{"/api/User/"}, 1},
		{"POST group", http.MethodPost, []string{"/api/Group"}, 1},
		{"PUT group", http.MethodPut, []string{"/api/Group/"}, 2},
		{"DELETE group", http.MethodDelete, []string{"/api/Group/"}, 1},
		{"group members", http.MethodGet, []string{"/Members"}, 1},
	}
}()

// injector injects random faults into the emulator in episodes separated
// by quiet gaps, and remembers the episodes so that a 5xx can be told
// apart as caused by one.
type injector struct {
	emu      *emulator.Server
	kinds    []string
	timeout  time.Duration // the bridge's per-call deadline
	rng      *rand.Rand
	mu       sync.Mutex
	episodes []episode
	active   *episode       // the episode in progress, nil in a gap
	injected map[string]int // by kind + "\t" + target name
}

type episode struct{ start, end time.Time }

// episodeSlack extends every episode for the 5xx classification: the
// bridge's last retry of a call faulted at the very end of an episode
// answers a little after it.
const episodeSlack = time.Second

func newInjector(emu *emulator.Server, kinds []string, timeout time.Duration, seed uint64) *injector {
	return &injector{emu: emu, kinds: kinds, timeout: timeout, rng: rand.New(rand.NewPCG(seed, 0xfa17)), injected: map[string]int{}}
}

// run injects episodes until ctx ends, then clears every fault.
func (in *injector) run(ctx context.Context) {
	defer in.stop()
	if len(in.kinds) == 0 {
		<-ctx.Done()
		return
	}
	gap := func() time.Duration { return time.Duration(500+in.rng.IntN(2500)) * time.Millisecond }
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(gap()):
		}
		in.begin(2 + in.rng.IntN(4))
		select {
		case <-ctx.Done():
			return
		case <-time.After(gap()):
		}
		in.end()
	}
}

// begin starts an episode of n faults.
func (in *injector) begin(n int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.active = &episode{start: time.Now()}
	for range n {
		kind := in.kinds[in.rng.IntN(len(in.kinds))]
		t := in.target()
		f := in.fault(kind)
		for _, p := range t.paths {
			f.Method, f.PathContains = t.method, p
			in.emu.Inject(f)
		}
		in.injected[kind+"\t"+t.name]++
	}
}

// target picks a UiPath operation, the ones the bridge calls most
// (BulkCreate, PUT user, PUT group) more often, so that faults land.
func (in *injector) target() target {
	total := 0
	for _, t := range targets {
		total += t.weight
	}
	x := in.rng.IntN(total)
	for _, t := range targets {
		if x < t.weight {
			return t
		}
		x -= t.weight
	}
	return targets[len(targets)-1]
}

// fault builds one fault of kind, for 1–4 calls; a third of the 5xx and
// 429 faults are outages instead, for every call until the episode ends.
func (in *injector) fault(kind string) emulator.Fault {
	f := emulator.Fault{Times: 1 + in.rng.IntN(4)}
	if (kind == kind5xx || kind == kind429) && in.rng.IntN(3) == 0 {
		f.Times = -1
	}
	past := in.timeout + time.Duration(600+in.rng.IntN(1400))*time.Millisecond // 1–2s with the default deadline
	status := []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable}[in.rng.IntN(3)]
	switch kind {
	case kind5xx:
		f.Status = status
	case kind429:
		f.Status, f.RetryAfter = http.StatusTooManyRequests, time.Second
	case kindDelay:
		f.Delay = past
	case kindDrop:
		f.Drop = true
	case kindLost:
		f.AfterApply = true
		if in.rng.IntN(2) == 0 {
			f.Drop = true
		} else {
			f.Status = status
		}
	case kindLate:
		f.Late, f.Delay = true, past
	}
	return f
}

// end closes the episode in progress and removes its unused faults.
func (in *injector) end() {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.emu.ClearFaults()
	if in.active != nil {
		in.active.end = time.Now()
		in.episodes = append(in.episodes, *in.active)
		in.active = nil
	}
}

func (in *injector) stop() { in.end() }

// overlaps reports whether [start, end] overlaps an episode (or the one
// in progress), each extended by episodeSlack.
func (in *injector) overlaps(start, end time.Time) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.active != nil && !end.Before(in.active.start) {
		return true
	}
	// Episodes are in time order; the ones that matter are recent.
	for i := len(in.episodes) - 1; i >= 0; i-- {
		e := in.episodes[i]
		if e.end.Add(episodeSlack).Before(start) {
			return false
		}
		if !end.Before(e.start) {
			return true
		}
	}
	return false
}

// counts returns the faults injected, by kind and target.
func (in *injector) counts() map[string]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make(map[string]int, len(in.injected))
	for k, v := range in.injected {
		out[k] = v
	}
	return out
}

// parseKinds parses -fault-kinds: "all", "none" or a comma-separated list.
func parseKinds(s string) ([]string, error) {
	switch s {
	case "all":
		return slices.Clone(allFaultKinds), nil
	case "none", "":
		return nil, nil
	}
	var out []string
	for _, k := range strings.Split(s, ",") {
		k = strings.TrimSpace(k)
		if !slices.Contains(allFaultKinds, k) {
			return nil, fmt.Errorf("unknown fault kind %q (want %s, all or none)", k, strings.Join(allFaultKinds, ", "))
		}
		if !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	return out, nil
}
