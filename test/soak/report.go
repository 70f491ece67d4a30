package main

import (
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// report is what a run found.
type report struct {
	opts                options
	traffic             time.Duration
	requests            map[string]int
	statuses            map[int]int
	ops                 map[string]int
	retries             map[string]int
	gaveUp              map[string]int
	refused             map[string]int
	examples            []string
	fault5xx, stray5xx  int
	strays              []string
	behind, idle        int
	p50, p99            time.Duration
	faults              map[string]int
	violations          []spell
	spells              int
	longestSpell        time.Duration // longest a leaver was seen active after its acknowledgement
	converged           bool
	convergence         time.Duration
	diffs               []diff
	rssStart, rssPeak   uint64
	rssEnd, rssBaseline uint64
	rssBaselineAt       time.Duration
	logLines            int
	lastLogs            []string
}

// report gathers the figures of the run.
func (s *soak) report(start, trafficEnd time.Time, conv time.Duration, diffs []diff) *report {
	st := s.idp.st
	st.mu.Lock()
	r := &report{
		opts: s.opts, traffic: trafficEnd.Sub(start),
		requests: maps.Clone(st.requests), statuses: maps.Clone(st.statuses), ops: maps.Clone(st.ops),
		retries: maps.Clone(st.retries), gaveUp: maps.Clone(st.gaveUp), refused: maps.Clone(st.refused),
		examples: slices.Clone(st.examples), fault5xx: st.fault5xx, stray5xx: st.stray5xx, strays: slices.Clone(st.strays),
		behind: st.behind, idle: st.idle,
		p50: percentile(st.latencies, 0.5), p99: percentile(st.latencies, 0.99),
	}
	st.mu.Unlock()
	r.faults = s.faults.counts()
	r.violations, r.spells, r.longestSpell = s.leaverMon.result()
	r.converged, r.convergence, r.diffs = len(diffs) == 0, conv, diffs
	m := s.mem
	m.mu.Lock()
	r.rssStart, r.rssPeak, r.rssEnd, r.rssBaseline, r.rssBaselineAt = m.start, m.peak, m.end, m.baseline, m.baselineAt
	m.mu.Unlock()
	s.logs.mu.Lock()
	r.logLines, r.lastLogs = s.logs.lines, slices.Clone(s.logs.last)
	s.logs.mu.Unlock()
	return r
}

// percentile sorts d in place and returns its p-th percentile.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[int(float64(len(d)-1)*p)]
}

// diffCount counts the differences of one class.
func (r *report) diffCount(class string) int {
	n := 0
	for _, d := range r.diffs {
		if d.class == class {
			n++
		}
	}
	return n
}

// rssLimit is the largest final RSS invariant 3 allows.
func (r *report) rssLimit() uint64 {
	return uint64(float64(r.rssBaseline)*r.opts.rssGrowth) + rssSlack
}

// failures lists the invariants that failed, one line each.
func (r *report) failures() []string {
	var out []string
	if n := len(r.violations); n > 0 {
		out = append(out, fmt.Sprintf("leavers: %d leaver(s) active in UiPath longer than %v after the bridge acknowledged their leaving", n, r.opts.grace))
	}
	if r.stray5xx > 0 {
		out = append(out, fmt.Sprintf("5xx: %d answer(s) with a 5xx outside every injected fault episode", r.stray5xx))
	}
	if r.rssBaseline > 0 && r.rssEnd > r.rssLimit() {
		out = append(out, fmt.Sprintf("RSS: %s at the end, more than %.1f× the %s of %v into the run (+32 MiB)",
			mib(r.rssEnd), r.opts.rssGrowth, mib(r.rssBaseline), r.rssBaselineAt.Round(time.Second)))
	}
	if !r.converged {
		classes := map[string]int{}
		for _, d := range r.diffs {
			classes[d.class]++
		}
		var parts []string
		for _, c := range slices.Sorted(maps.Keys(classes)) {
			parts = append(parts, fmt.Sprintf("%d %s", classes[c], c))
		}
		out = append(out, fmt.Sprintf("quiescence: no agreement with the IdPs after %v: %s", r.opts.converge, strings.Join(parts, ", ")))
	}
	return out
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// print writes the report.
func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "\n=== soak report: %s store, %s strategy, seed %d, %v of traffic ===\n", r.opts.store, r.opts.strategy, r.opts.seed, r.traffic.Round(time.Millisecond))

	fmt.Fprintf(w, "IdP operations: %d (%s)\n", sumInts(r.ops), joinCounts(r.ops))
	if r.behind > 0 || r.idle > 0 {
		fmt.Fprintf(w, "  ticks skipped: %d with every worker busy, %d with nothing eligible\n", r.behind, r.idle)
	}
	fmt.Fprintf(w, "SCIM requests by verb: %d (%s); latency p50 %s, p99 %s\n", sumInts(r.requests), joinCounts(r.requests), ms(r.p50), ms(r.p99))
	classes := map[string]int{}
	for st, n := range r.statuses {
		switch {
		case st == 0:
			classes["no answer"] += n
		case st == http.StatusTooManyRequests:
			classes["429"] += n
		default:
			classes[fmt.Sprintf("%dxx", st/100)] += n
		}
	}
	codes := map[string]int{}
	for st, n := range r.statuses {
		codes[fmt.Sprint(st)] = n
	}
	fmt.Fprintf(w, "answers by class: %s; by status: %s\n", joinCounts(classes), joinCounts(codes))
	fmt.Fprintf(w, "5xx: %d during injected fault episodes, %d outside them\n", r.fault5xx, r.stray5xx)
	for _, s := range r.strays {
		fmt.Fprintf(w, "  outside: %s\n", s)
	}
	fmt.Fprintf(w, "IdP retries: %d (%s); operations given up after %d attempts: %d (%s); refused: %d (%s)\n",
		sumInts(r.retries), joinCounts(r.retries), r.opts.idpAttempts, sumInts(r.gaveUp), joinCounts(r.gaveUp), sumInts(r.refused), joinCounts(r.refused))
	for _, e := range r.examples {
		fmt.Fprintf(w, "  %s\n", e)
	}

	fmt.Fprintf(w, "faults injected: %d\n", sumInts(r.faults))
	if len(r.faults) > 0 {
		byKind := map[string]map[string]int{}
		for k, n := range r.faults {
			kind, tgt, _ := strings.Cut(k, "\t")
			if byKind[kind] == nil {
				byKind[kind] = map[string]int{}
			}
			byKind[kind][tgt] = n
		}
		tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', tabwriter.AlignRight)
		fmt.Fprint(tw, "  kind\t")
		for _, t := range targets {
			fmt.Fprintf(tw, "%s\t", t.name)
		}
		fmt.Fprintln(tw, "total\t")
		for _, kind := range allFaultKinds {
			if byKind[kind] == nil {
				continue
			}
			fmt.Fprintf(tw, "  %s\t", kind)
			for _, t := range targets {
				fmt.Fprintf(tw, "%d\t", byKind[kind][t.name])
			}
			fmt.Fprintf(tw, "%d\t\n", sumInts(byKind[kind]))
		}
		tw.Flush()
	}

	fmt.Fprintf(w, "leavers: %d spell(s) of a leaver seen active in UiPath (the longest last seen %v after the deactivation was acknowledged), %d violation(s) past the %v grace\n",
		r.spells, r.longestSpell.Round(time.Millisecond), len(r.violations), r.opts.grace)
	for i, v := range r.violations {
		if i == 10 {
			fmt.Fprintf(w, "  … and %d more\n", len(r.violations)-10)
			break
		}
		how := "deactivated"
		if v.deleted {
			how = "deleted"
		}
		lasted := "still active at the end"
		if !v.ended.IsZero() {
			lasted = fmt.Sprintf("inactive again %v after the acknowledgement", v.ended.Sub(v.acked).Round(time.Millisecond))
		}
		fmt.Fprintf(w, "  %s (%s), %s at %s: active in UiPath from %v to at least %v after the acknowledgement; %s\n",
			v.userName, v.id, how, v.acked.Format("15:04:05.000"), v.firstSeen.Sub(v.acked).Round(time.Millisecond),
			v.lastSeen.Sub(v.acked).Round(time.Millisecond), lasted)
	}

	fmt.Fprintf(w, "duplicates in UiPath: %d; orphans: %d; lost updates: %d; missing: %d; not deleted: %d; never acknowledged: %d\n",
		r.diffCount("duplicate"), r.diffCount("orphan"), r.diffCount("lost update"), r.diffCount("missing"), r.diffCount("not deleted"), r.diffCount("pending"))
	for i, d := range r.diffs {
		if i == 15 {
			fmt.Fprintf(w, "  … and %d more\n", len(r.diffs)-15)
			break
		}
		fmt.Fprintf(w, "  %s: %s\n", d.class, d.detail)
	}
	if r.converged {
		fmt.Fprintf(w, "convergence: store and UiPath agree with the IdPs %v after the traffic stopped\n", r.convergence.Round(time.Millisecond))
	} else {
		fmt.Fprintf(w, "convergence: NONE after %v\n", r.convergence.Round(time.Millisecond))
	}
	fmt.Fprintf(w, "RSS (%s, whole process: emulator, bridge, store client, IdPs): start %s, peak %s, end %s; baseline %s at %v, limit %s\n",
		rssSource, mib(r.rssStart), mib(r.rssPeak), mib(r.rssEnd), mib(r.rssBaseline), r.rssBaselineAt.Round(time.Second), mib(r.rssLimit()))
	if r.logLines > 0 {
		fmt.Fprintf(w, "bridge log: %d warning/error lines, the last ones:\n", r.logLines)
		for _, l := range r.lastLogs {
			fmt.Fprintf(w, "  %s\n", l)
		}
	}
	if f := r.failures(); len(f) > 0 {
		fmt.Fprintf(w, "RESULT: FAIL\n  %s\n", strings.Join(f, "\n  "))
	} else {
		fmt.Fprintln(w, "RESULT: PASS (no leaver active past the grace, no 5xx outside fault episodes, RSS flat, converged)")
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func sumInts[K comparable](m map[K]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// joinCounts renders a map as "k n, k n" in key order, or "none".
func joinCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
