package scim

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/scim-bridge/scim-bridge/upstream"
)

// Metrics counts what the bridge does and serves it at /metrics in the
// Prometheus text format. Labels are drawn from small fixed sets (IdP,
// method, resource type, status, UiPath operation): never an id, a
// userName or anything else a request carries. The zero value is not
// usable; use NewMetrics. All methods are safe for concurrent use.
type Metrics struct {
	mu          sync.Mutex
	requests    map[requestKey]uint64
	reqDur      map[durationKey]*histogram
	upstream    map[upstreamKey]uint64
	upDur       map[string]*histogram // by method
	budgetWait  map[string]float64    // seconds, by method
	exhausted   map[string]uint64     // by method
	collectors  []func(w io.Writer)
	version     string
	processBoot time.Time
}

type requestKey struct{ idp, method, resource, code string }
type durationKey struct{ method, resource string }
type upstreamKey struct{ op, method, code string }

// NewMetrics returns an empty set of metrics for a bridge of that version.
func NewMetrics(version string) *Metrics {
	return &Metrics{
		requests:    map[requestKey]uint64{},
		reqDur:      map[durationKey]*histogram{},
		upstream:    map[upstreamKey]uint64{},
		upDur:       map[string]*histogram{},
		budgetWait:  map[string]float64{},
		exhausted:   map[string]uint64{},
		version:     version,
		processBoot: time.Now(),
	}
}

// Counter adds a counter whose value f reports at each scrape (for
// figures another package keeps, such as the store's).
func (m *Metrics) Counter(name, help string, f func() float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.collectors = append(m.collectors, func(w io.Writer) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %s\n", name, help, name, name, formatFloat(f()))
	})
}

// requestBuckets are the SCIM latency buckets, in seconds: from a store
// lookup (a millisecond) to a PATCH that waited for UiPath's budget.
var requestBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50}

// upstreamBuckets are UiPath call latency buckets, in seconds.
var upstreamBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// observeRequest counts one SCIM request.
func (m *Metrics) observeRequest(idp, method, resource string, code int, d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[requestKey{idp, method, resource, strconv.Itoa(code)}]++
	k := durationKey{method, resource}
	h := m.reqDur[k]
	if h == nil {
		h = newHistogram(requestBuckets)
		m.reqDur[k] = h
	}
	h.observe(d.Seconds())
}

// ObserveUpstream counts one attempt at a UiPath call; it is meant for
// upstream.Config.Observe.
func (m *Metrics) ObserveUpstream(o upstream.Observation) {
	op := strings.ReplaceAll(o.Op, " ", "_")
	m.mu.Lock()
	defer m.mu.Unlock()
	if o.BudgetWait > 0 {
		m.budgetWait[o.Method] += o.BudgetWait.Seconds()
	}
	if o.BudgetExhausted {
		m.exhausted[o.Method]++
		return
	}
	code := "none"
	if o.Status != 0 {
		code = strconv.Itoa(o.Status)
	}
	m.upstream[upstreamKey{op, o.Method, code}]++
	h := m.upDur[o.Method]
	if h == nil {
		h = newHistogram(upstreamBuckets)
		m.upDur[o.Method] = h
	}
	h.observe(o.Duration.Seconds())
}

// ServeHTTP writes every metric in the Prometheus text format (0.0.4).
func (m *Metrics) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	var b strings.Builder
	m.write(&b)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = io.WriteString(w, b.String())
}

func (m *Metrics) write(w io.Writer) {
	m.mu.Lock()
	defer m.mu.Unlock()

	fmt.Fprintf(w, "# HELP scim_bridge_build_info The running bridge's version.\n# TYPE scim_bridge_build_info gauge\n")
	fmt.Fprintf(w, "scim_bridge_build_info{version=%s,goversion=%s} 1\n", labelValue(m.version), labelValue(runtime.Version()))

	fmt.Fprintf(w, "# HELP scim_bridge_scim_requests_total SCIM requests answered, by IdP, method, resource type and status.\n# TYPE scim_bridge_scim_requests_total counter\n")
	for _, k := range sortedKeys(m.requests, func(a, b requestKey) int {
		return strings.Compare(a.idp+a.method+a.resource+a.code, b.idp+b.method+b.resource+b.code)
	}) {
		fmt.Fprintf(w, "scim_bridge_scim_requests_total{idp=%s,method=%s,resource=%s,code=%s} %d\n",
			labelValue(k.idp), labelValue(k.method), labelValue(k.resource), labelValue(k.code), m.requests[k])
	}
	fmt.Fprintf(w, "# HELP scim_bridge_scim_request_duration_seconds Time to answer a SCIM request.\n# TYPE scim_bridge_scim_request_duration_seconds histogram\n")
	for _, k := range sortedKeys(m.reqDur, func(a, b durationKey) int {
		return strings.Compare(a.method+a.resource, b.method+b.resource)
	}) {
		m.reqDur[k].write(w, "scim_bridge_scim_request_duration_seconds", "method="+labelValue(k.method)+",resource="+labelValue(k.resource))
	}

	fmt.Fprintf(w, "# HELP scim_bridge_upstream_requests_total UiPath API calls sent, by operation, method and status (none: no response).\n# TYPE scim_bridge_upstream_requests_total counter\n")
	for _, k := range sortedKeys(m.upstream, func(a, b upstreamKey) int {
		return strings.Compare(a.op+a.method+a.code, b.op+b.method+b.code)
	}) {
		fmt.Fprintf(w, "scim_bridge_upstream_requests_total{op=%s,method=%s,code=%s} %d\n",
			labelValue(k.op), labelValue(k.method), labelValue(k.code), m.upstream[k])
	}
	fmt.Fprintf(w, "# HELP scim_bridge_upstream_request_duration_seconds Time a UiPath API call took, budget wait excluded.\n# TYPE scim_bridge_upstream_request_duration_seconds histogram\n")
	for _, method := range sortedKeys(m.upDur, strings.Compare) {
		m.upDur[method].write(w, "scim_bridge_upstream_request_duration_seconds", "method="+labelValue(method))
	}
	fmt.Fprintf(w, "# HELP scim_bridge_upstream_budget_wait_seconds_total Time UiPath calls waited for room in the client-side rate budget.\n# TYPE scim_bridge_upstream_budget_wait_seconds_total counter\n")
	for _, method := range sortedKeys(m.budgetWait, strings.Compare) {
		fmt.Fprintf(w, "scim_bridge_upstream_budget_wait_seconds_total{method=%s} %s\n", labelValue(method), formatFloat(m.budgetWait[method]))
	}
	fmt.Fprintf(w, "# HELP scim_bridge_upstream_budget_exhausted_total UiPath calls not sent because the rate budget had no room in time (the IdP got 429).\n# TYPE scim_bridge_upstream_budget_exhausted_total counter\n")
	for _, method := range sortedKeys(m.exhausted, strings.Compare) {
		fmt.Fprintf(w, "scim_bridge_upstream_budget_exhausted_total{method=%s} %d\n", labelValue(method), m.exhausted[method])
	}

	for _, c := range m.collectors {
		c(w)
	}
	writeProcess(w, m.processBoot)
}

// writeProcess writes the process figures dashboards expect under their
// usual names.
func writeProcess(w io.Writer, boot time.Time) {
	fmt.Fprintf(w, "# HELP go_goroutines Goroutines that currently exist.\n# TYPE go_goroutines gauge\ngo_goroutines %d\n", runtime.NumGoroutine())
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
		fmt.Fprintf(w, "# HELP process_cpu_seconds_total User and system CPU time spent.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %s\n", formatFloat(cpu))
	}
	if rss, ok := residentBytes(); ok {
		fmt.Fprintf(w, "# HELP process_resident_memory_bytes Resident memory size.\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %d\n", rss)
	}
	fmt.Fprintf(w, "# HELP process_start_time_seconds Start time of the process since the Unix epoch.\n# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %s\n",
		formatFloat(float64(boot.UnixNano())/1e9))
}

// residentBytes reads the resident set size from /proc (Linux only).
func residentBytes() (int64, bool) {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * int64(os.Getpagesize()), true
}

// histogram is a Prometheus histogram: cumulative bucket counts, sum and
// count.
type histogram struct {
	bounds []float64
	counts []uint64 // per bucket, not cumulative; the last is +Inf
	sum    float64
	n      uint64
}

func newHistogram(bounds []float64) *histogram {
	return &histogram{bounds: bounds, counts: make([]uint64, len(bounds)+1)}
}

func (h *histogram) observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v) // first bound >= v: "le" is inclusive
	h.counts[i]++
	h.sum += v
	h.n++
}

func (h *histogram) write(w io.Writer, name, labels string) {
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		fmt.Fprintf(w, "%s_bucket{%s,le=%s} %d\n", name, labels, labelValue(formatFloat(b)), cum)
	}
	fmt.Fprintf(w, "%s_bucket{%s,le=\"+Inf\"} %d\n%s_sum{%s} %s\n%s_count{%s} %d\n",
		name, labels, h.n, name, labels, formatFloat(h.sum), name, labels, h.n)
}

func formatFloat(f float64) string {
	if math.IsInf(f, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// labelValue writes a label value: backslash, double quote and newline escaped.
func labelValue(s string) string {
	s = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
	return `"` + s + `"`
}

func sortedKeys[K comparable, V any](m map[K]V, cmp func(a, b K) int) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmp)
	return keys
}

// resourceOf names the SCIM resource type of a path below BasePath, from a
// fixed set so that a metric label cannot grow with what clients send.
func resourceOf(path string) string {
	rest := strings.TrimPrefix(path, BasePath+"/")
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		rest = rest[:i]
	}
	switch rest {
	case "Users", "Groups", "ServiceProviderConfig", "Schemas", "ResourceTypes", "Bulk", "Me":
		return rest
	}
	return "other"
}

// methodOf keeps the method label to the methods SCIM uses.
func methodOf(m string) string {
	switch m {
	case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodHead:
		return m
	}
	return "other"
}
