package main

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scim"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// metricsPath is where the bridge serves its metrics, unauthenticated, on
// the admin listener only: the SCIM listener faces the internet.
const metricsPath = "/metrics"

// requestBuckets are the SCIM latency buckets, in seconds: from a store
// lookup (a millisecond) to a PATCH that waited for UiPath's budget.
var requestBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50}

// upstreamBuckets are UiPath call latency buckets, in seconds.
var upstreamBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// metrics counts what the bridge does, in a registry of its own (not
// Prometheus's global one), and serves it in the Prometheus exposition
// format. Labels are drawn from small fixed sets (IdP, method, resource
// type, status, UiPath operation, the caller names the configuration
// gives credentials): never an id, a userName or anything
// else a request carries. The zero value is not usable; use newMetrics.
// All methods are safe for concurrent use.
type metrics struct {
	registry    *prometheus.Registry
	requests    *prometheus.CounterVec   // idp, caller, method, resource, code
	requestDur  *prometheus.HistogramVec // method, resource
	upstream    *prometheus.CounterVec   // op, method, code
	upstreamDur *prometheus.HistogramVec // method
	budgetWait  *prometheus.CounterVec   // method; seconds
	exhausted   *prometheus.CounterVec   // method
	settle      *prometheus.CounterVec   // result
	// The write scheduler: the queue, calls and changes, and leavers.
	pending       prometheus.Gauge
	pendingOldest prometheus.Gauge
	plannedCalls  prometheus.Gauge
	holdingPush   prometheus.Gauge
	sentCalls     prometheus.Counter
	changes       *prometheus.CounterVec // result
	deprovision   prometheus.Histogram
	// Reconciliation: passes by result, and the last pass.
	passes       *prometheus.CounterVec // result
	lastPass     prometheus.Gauge       // finish time, Unix seconds
	lastDrift    *prometheus.GaugeVec   // kind, action
	lastPassGets prometheus.Gauge
	// auditLost counts audit entries the store failed to record.
	auditLost prometheus.Counter
	handler   http.Handler
}

// newMetrics returns the metrics of a bridge of that build: the bridge's
// own series, build info, and client_golang's Go and process collectors.
// lookupStats, when not nil, reports the Redis store's lookups and the
// pipelines they went out in (redisstore.Store.LookupStats); nil: the
// store is not Redis and those series are left out. Errors serving a
// scrape are logged to log.
func newMetrics(build buildInfo, lookupStats func() (lookups, pipelines int64), log *slog.Logger) *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_bridge_scim_requests_total",
			Help: "SCIM requests answered, by IdP, caller (the configured name of the credential; empty: refused), method, resource type and status.",
		}, []string{"idp", "caller", "method", "resource", "code"}),
		requestDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scim_bridge_scim_request_duration_seconds",
			Help:    "Time to answer a SCIM request.",
			Buckets: requestBuckets,
		}, []string{"method", "resource"}),
		upstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_bridge_upstream_requests_total",
			Help: "UiPath API calls sent, by operation, method and status (none: no response).",
		}, []string{"op", "method", "code"}),
		upstreamDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "scim_bridge_upstream_request_duration_seconds",
			Help:    "Time a UiPath API call took, budget wait excluded.",
			Buckets: upstreamBuckets,
		}, []string{"method"}),
		budgetWait: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_bridge_upstream_budget_wait_seconds_total",
			Help: "Time UiPath calls waited for room in the client-side rate budget.",
		}, []string{"method"}),
		exhausted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_bridge_upstream_budget_exhausted_total",
			Help: "UiPath calls not sent because the rate budget had no room in time (the IdP got 429).",
		}, []string{"method"}),
		settle: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_bridge_doubt_checks_total",
			Help: "Checks of resources whose UiPath write had an unknown outcome, by result (ok, repaired, failed, abandoned).",
		}, []string{"result"}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scim_bridge_membership_pending",
			Help: "Membership changes acknowledged to the IdP and not yet confirmed by UiPath.",
		}),
		pendingOldest: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scim_bridge_membership_pending_oldest_seconds",
			Help: "Age of the oldest pending membership change (0: none).",
		}),
		plannedCalls: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scim_bridge_membership_planned_calls",
			Help: "UiPath calls the scheduler's latest plan needs to carry every pending change.",
		}),
		holdingPush: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scim_bridge_membership_holding_push",
			Help: "1 while the scheduler holds its calls for an IdP push that keeps coming back to the same groups or users (until the push pauses, at most the hold limit), else 0.",
		}),
		sentCalls: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scim_bridge_membership_calls_sent_total",
			Help: "UiPath calls the scheduler sent carrying membership changes.",
		}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_bridge_membership_changes_total",
			Help: "Membership changes the scheduler settled, by result (done, retried, failed: refused by UiPath for good, see status).",
		}, []string{"result"}),
		deprovision: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "scim_bridge_deprovision_seconds",
			Help:    "Time from an IdP's deactivation or user deletion to UiPath's confirmation.",
			Buckets: requestBuckets,
		}),
		passes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "scim_bridge_reconcile_passes_total",
			Help: "Reconciliation passes, by result (in_sync, drift_remains, refused, failed).",
		}, []string{"result"}),
		lastPass: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scim_bridge_reconcile_last_pass_timestamp_seconds",
			Help: "When the last reconciliation pass of this process finished (Unix time; 0: none yet).",
		}),
		lastDrift: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "scim_bridge_reconcile_last_drift",
			Help: "Drift the last reconciliation pass found, by kind and what it did (repaired, planned, reported, failed).",
		}, []string{"kind", "action"}),
		lastPassGets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "scim_bridge_reconcile_last_pass_gets",
			Help: "UiPath GETs the last reconciliation pass spent.",
		}),
		auditLost: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "scim_bridge_audit_entries_lost_total",
			Help: "Audit entries the store failed to record (the change was made; the log has the entry instead).",
		}),
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "scim_bridge_build_info",
		Help:        "The running bridge's version, commit (revision), whether its tree was modified, and Go version.",
		ConstLabels: prometheus.Labels{"version": build.Version, "revision": build.Commit, "modified": build.Modified, "goversion": build.GoVersion},
	})
	buildInfo.Set(1)
	// A fresh registry and fixed, valid names: registering cannot fail
	// unless this function is wrong, which every test of serve would show.
	m.registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo,
		m.requests, m.requestDur, m.upstream, m.upstreamDur, m.budgetWait, m.exhausted, m.settle,
		m.pending, m.pendingOldest, m.plannedCalls, m.holdingPush, m.sentCalls, m.changes, m.deprovision,
		m.passes, m.lastPass, m.lastDrift, m.lastPassGets,
		m.auditLost,
	)
	for _, r := range passResults {
		m.passes.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "repaired", "failed", "abandoned"} {
		m.settle.WithLabelValues(r) // present at 0, so alerts see the series
	}
	for _, r := range []string{"done", "retried", "failed"} {
		m.changes.WithLabelValues(r)
	}
	if lookupStats != nil {
		m.registry.MustRegister(
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "scim_bridge_redis_lookups_total",
				Help: "Lookups sent to Redis.",
			}, func() float64 {
				n, _ := lookupStats()
				return float64(n)
			}),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "scim_bridge_redis_lookup_pipelines_total",
				Help: "Pipelines the lookups were sent in (lookups / pipelines = mean batch).",
			}, func() float64 {
				_, n := lookupStats()
				return float64(n)
			}),
		)
	}
	m.handler = promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError),
	})
	return m
}

// ObserveSettle counts one pass of the provisioner's doubt checks; it is
// meant for mapping.Provisioner.RunSettler.
func (m *metrics) ObserveSettle(r mapping.SettleReport, _ error) {
	m.settle.WithLabelValues("ok").Add(float64(r.Checked - r.Repaired))
	m.settle.WithLabelValues("repaired").Add(float64(r.Repaired))
	m.settle.WithLabelValues("failed").Add(float64(r.Failed))
	m.settle.WithLabelValues("abandoned").Add(float64(r.Abandoned))
}

// ObserveRound records one round of the write scheduler; it is meant for
// mapping.Provisioner.RunScheduler.
func (m *metrics) ObserveRound(r mapping.RoundReport, _ error) {
	m.pending.Set(float64(r.Pending))
	m.pendingOldest.Set(r.Oldest.Seconds())
	m.plannedCalls.Set(float64(r.Planned))
	m.holdingPush.Set(0)
	if r.HoldingPush {
		m.holdingPush.Set(1)
	}
	m.sentCalls.Add(float64(r.Sent))
	m.changes.WithLabelValues("done").Add(float64(r.Done))
	m.changes.WithLabelValues("retried").Add(float64(r.Retried))
	m.changes.WithLabelValues("failed").Add(float64(r.Failed))
}

// passResults are the results a reconciliation pass counts under.
var passResults = []string{"in_sync", "drift_remains", "refused", "failed"}

// ObserveReconcile records one reconciliation pass of this process (the
// schedule's or the admin API's).
func (m *metrics) ObserveReconcile(r mapping.ReconcileReport, err error) {
	result := passResults[min(r.ExitCode(), 2)]
	if err != nil {
		result = "failed"
	}
	m.passes.WithLabelValues(result).Inc()
	if err != nil {
		return
	}
	m.lastPass.Set(float64(r.FinishedAt.Unix()))
	m.lastPassGets.Set(float64(r.UpstreamCalls["GET"]))
	m.lastDrift.Reset()
	for _, d := range r.Drift {
		m.lastDrift.WithLabelValues(d.Kind, d.Action).Inc()
	}
}

// ObserveDeprovision records how long one leaver took to be confirmed in
// UiPath; it is meant for mapping.Config.OnDeprovision.
func (m *metrics) ObserveDeprovision(d time.Duration) { m.deprovision.Observe(d.Seconds()) }

// ObserveAuditFailure counts audit entries the store failed to record; it
// is meant for mapping.Config.OnAuditFailure.
func (m *metrics) ObserveAuditFailure(entries int) { m.auditLost.Add(float64(entries)) }

// ObserveRequest counts one SCIM request; it is meant for
// scim.Config.Observe.
func (m *metrics) ObserveRequest(o scim.RequestObservation) {
	m.requests.WithLabelValues(o.IdP, o.Caller, o.Method, o.Resource, strconv.Itoa(o.Code)).Inc()
	m.requestDur.WithLabelValues(o.Method, o.Resource).Observe(o.Duration.Seconds())
}

// ObserveUpstream counts one attempt at a UiPath call; it is meant for
// upstream.Config.Observe. An attempt the budget refused counts as
// exhausted, not as a request: nothing was sent.
func (m *metrics) ObserveUpstream(o upstream.Observation) {
	if o.BudgetWait > 0 {
		m.budgetWait.WithLabelValues(o.Method).Add(o.BudgetWait.Seconds())
	}
	if o.BudgetExhausted {
		m.exhausted.WithLabelValues(o.Method).Inc()
		return
	}
	code := "none"
	if o.Status != 0 {
		code = strconv.Itoa(o.Status)
	}
	m.upstream.WithLabelValues(strings.ReplaceAll(o.Op, " ", "_"), o.Method, code).Inc()
	m.upstreamDur.WithLabelValues(o.Method).Observe(o.Duration.Seconds())
}

// Handler returns the handler that serves every metric in the Prometheus
// exposition format, to any method: the admin listener confines it to GET
// and HEAD.
func (m *metrics) Handler() http.Handler { return m.handler }
