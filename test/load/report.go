package main

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scim-bridge/scim-bridge/mapping"
)

// writeClasses are the rate-limit classes of writes. Reads are left out of
// the floor: the bridge's reads of UiPath are read-backs it sends only when
// the GET budget has room, and puts off otherwise.
var writeClasses = []string{http.MethodPost, http.MethodPut, http.MethodDelete}

// realWindow is UiPath's real rate-limit window.
const realWindow = 5 * time.Minute

// floor is the rate-limit floor of calls: for each write class, calls ÷
// limit × window; the floor is the slowest class.
func floor(calls map[string]int, window time.Duration) time.Duration {
	var f time.Duration
	for _, m := range writeClasses {
		if n := calls[m]; n > 0 {
			f = max(f, time.Duration(float64(n)/float64(limits[m])*float64(window)))
		}
	}
	return f
}

// realTime renders d, a floor at UiPath's real window, in minutes.
func realTime(d time.Duration) string { return fmt.Sprintf("%.1fmin", d.Minutes()) }

func perClass(m map[string]int, methods []string) string {
	parts := make([]string, len(methods))
	for i, k := range methods {
		parts[i] = fmt.Sprint(m[k])
	}
	return strings.Join(parts, "/")
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

var scimMethods = []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

// printPhases prints one row per phase and, with total, a row for the whole
// run.
func printPhases(w io.Writer, o options, phases []phase, total bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tSCIM G/P/Pa/D\tfailed\t429/503 retried\tUiPath G/P/Pu/D\tmin G/P/Pu/D\tstrategy expects\tactual/min\tglobal min\twrites/globalmin\tUiPath 429s\tp50\tp99\twall\tfloor\twall/floor\treal-time\tbridge CPU\tpeak RSS\tharness CPU\t")
	row := func(p phase, lat func(float64) time.Duration) {
		ratio, wf, wg := "-", "-", "-"
		if m := sum(p.minimum); m > 0 {
			ratio = fmt.Sprintf("%.3f", float64(sum(p.upstream))/float64(m))
		}
		if p.reference > 0 {
			wg = fmt.Sprintf("%.3f", float64(p.writes())/float64(p.reference))
		}
		fl := floor(p.upstream, o.window)
		if fl > 0 {
			wf = fmt.Sprintf("%.2f", p.wall.Seconds()/fl.Seconds())
		}
		global := "-"
		if p.globalMin >= 0 {
			global = fmt.Sprint(p.globalMin)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d/%d\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			p.name, perClass(p.st.requests, scimMethods), p.st.failed, p.st.retry429, p.st.retry503,
			perClass(p.upstream, classes), perClass(p.minimum, classes), sum(p.expected), ratio, global, wg, p.throttled,
			ms(lat(0.5)), ms(lat(0.99)), secs(p.wall), secs(fl), wf, realTime(floor(p.upstream, realWindow)),
			measured(fmt.Sprintf("%.2fs", p.bridge.cpu.Seconds())), measured(fmt.Sprintf("%.0fMB", p.bridge.peakMB)),
			measured(fmt.Sprintf("%.2fs", p.harnessCPU.Seconds())))
	}
	for _, p := range phases {
		row(p, p.st.percentile)
	}
	if total && len(phases) > 0 {
		t := phase{name: "TOTAL", st: newStats(), upstream: map[string]int{}, minimum: map[string]int{}, expected: map[string]int{}, globalMin: -1}
		for _, p := range phases {
			t.st.add(p.st)
			for k, v := range p.upstream {
				t.upstream[k] += v
			}
			for k, v := range p.minimum {
				t.minimum[k] += v
			}
			for k, v := range p.expected {
				t.expected[k] += v
			}
			t.reference += p.reference
			t.throttled += p.throttled
			t.wall += p.wall
			t.bridge.cpu += p.bridge.cpu
			t.bridge.peakMB = max(t.bridge.peakMB, p.bridge.peakMB)
			t.harnessCPU += p.harnessCPU
		}
		row(t, t.st.percentile)
	}
	tw.Flush()
	if total {
		return // failures were printed with each phase
	}
	for _, p := range phases {
		for _, f := range p.st.failures {
			fmt.Fprintf(w, "  %s: failed: %s\n", p.name, f)
		}
		got, want := p.writes(), sum(p.expected)
		switch {
		case o.writes == mapping.WritesQueued && float64(got) > queuedSlack*float64(want):
			fmt.Fprintf(w, "  %s: upstream writes %d > %.2f × %d, the fewest the %s strategy needs for all the phase's changes at once; %d PUTs went to %d users or groups already written in the phase\n",
				p.name, got, queuedSlack, want, o.strategy, p.again, p.againRes)
		case o.writes != mapping.WritesQueued && got != want:
			fmt.Fprintf(w, "  %s: upstream writes %d ≠ %d the %s strategy should spend\n", p.name, got, want, o.strategy)
		}
		if p.drain.err == nil && (o.writes == mapping.WritesQueued || p.drain.scrapes > 1) {
			fmt.Fprintf(w, "  %s: %s read 0 %s after the phase's last IdP answer (scrape %d)\n",
				p.name, metricPending, secs(p.drain.at.Sub(p.lastAnswer)), p.drain.scrapes)
		}
	}
}

// queuedSlack is how far above the fewest writes the scheduler may go
// before the report points it out: changes the IdP sends after their
// group's call went out need a call of their own.
const queuedSlack = 1.05
