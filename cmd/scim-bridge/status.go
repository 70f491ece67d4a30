package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/cache/boltstore"
	"github.com/scim-bridge/scim-bridge/cache/redisstore"
	"github.com/scim-bridge/scim-bridge/config"
	"github.com/scim-bridge/scim-bridge/mapping"
)

// statusOpenTimeout is how long status waits for the embedded store's
// lock: a running serve holds it for good, so there is no point waiting
// long before asking that serve instead.
const statusOpenTimeout = 300 * time.Millisecond

// statusDeadline bounds the whole of status.
const statusDeadline = 20 * time.Second

// staleAfter is the age past which a pending membership change makes
// status exit 1: the scheduler sends a change within seconds when the
// budget has room, so one this old means UiPath is refusing, failing or
// out of budget for a long while.
const staleAfter = 15 * time.Minute

// failureAlertWindow is how long a refused change keeps status exiting 1:
// failures are kept for reading, not acknowledged, and an alert built on
// the exit code must clear once the operator (or reconciliation) has had
// a day to act.
const failureAlertWindow = 24 * time.Hour

const statusUsage = `Usage: scim-bridge status [-json] [-config FILE]

Prints the membership changes waiting for UiPath (pending, in flight, in
backoff, the oldest one's age, the calls the plan needs and an estimate of
how long the budget needs to send them), the client-side UiPath budget per
method, and the latest changes UiPath refused for good.

Run it with the bridge's configuration. With Redis it reads the store and
the shared budget directly, beside the running replicas, and changes
nothing. With the embedded store it reads the file when no bridge has it
open, and otherwise asks the running bridge's admin API
(SCIM_BRIDGE_ADMIN_LISTEN, with the first of SCIM_BRIDGE_ADMIN_TOKENS).

Exit status: 0 all well; 1 a change was refused for good (one is listed) or
the oldest pending change is older than 15m; 2 no status could be read.

Flags:
`

// commandFlags is the flag set of an operator command (status, audit,
// reconcile): its usage text, then its flags, on stderr, and the -config
// flag they all take.
func commandFlags(name, usage string, stderr io.Writer) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	return fs, fs.String("config", "", "optional YAML configuration file (default $SCIM_BRIDGE_CONFIG)")
}

// statusCmd prints the status report; see statusUsage.
func statusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, file := commandFlags("status", statusUsage, stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON (the admin API's /admin/v1/status)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := config.Load(os.Getenv, *file)
	if err != nil {
		fmt.Fprintf(stderr, "scim-bridge status: configuration:\n%v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, statusDeadline)
	defer cancel()
	rep, from, err := readStatus(ctx, cfg, newLogger(stderr, "error", "text"))
	if err != nil {
		fmt.Fprintf(stderr, "scim-bridge status: %v\n", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.writeHuman(stdout, from)
	}
	if err != nil {
		fmt.Fprintf(stderr, "scim-bridge status: %v\n", err)
		return 2
	}
	return rep.exitCode()
}

// readStatus reads the status report where cfg says it is, and says where
// it read it, for a person.
func readStatus(ctx context.Context, cfg config.Config, log *slog.Logger) (statusReport, string, error) {
	if storeName(cfg) == "redis" {
		store, err := redisstore.New(redisstore.Config{URL: cfg.RedisURL.Reveal(), Prefix: cfg.RedisPrefix}, log)
		if err != nil {
			return statusReport{}, "", fmt.Errorf("open the Redis store: %w", err)
		}
		defer store.Close()
		if err := store.Ping(ctx); err != nil {
			return statusReport{}, "", fmt.Errorf("reach the Redis store: %w", err)
		}
		rep, err := storeStatus(ctx, cfg, store, log)
		return rep, "read from Redis", err
	}
	// The embedded store: the file, unless a running bridge holds it (or it
	// is not here, or not readable by this user: a bridge elsewhere may
	// still answer).
	path := boltPath(cfg)
	store, openErr := boltstore.New(boltstore.Config{Path: path, ReadOnly: true, OpenTimeout: statusOpenTimeout}, log)
	if openErr == nil {
		defer store.Close()
		rep, err := storeStatus(ctx, cfg, store, log)
		return rep, "read from " + path + " (no bridge has it open)", err
	}
	rep, url, askErr := fetchStatus(ctx, cfg)
	if askErr != nil {
		return statusReport{}, "", fmt.Errorf("cannot read the embedded store: %v\nnor ask a running bridge: %v", openErr, askErr)
	}
	return rep, "from the running bridge (" + url + ")", nil
}

// adminBase is the URL of the admin listener at listen, as a client on
// this host reaches it: an address on every interface is asked on
// loopback.
func adminBase(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("SCIM_BRIDGE_ADMIN_LISTEN %q: want host:port", listen)
	}
	if port == "0" {
		return "", fmt.Errorf("SCIM_BRIDGE_ADMIN_LISTEN %q: a port chosen at start cannot be found; set the bridge's", listen)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port), nil
}

// fetchStatus asks a running bridge's admin API for its status report,
// with the first admin token, if any. It returns the report and the URL
// asked.
func fetchStatus(ctx context.Context, cfg config.Config) (statusReport, string, error) {
	var rep statusReport
	url, err := askAdmin(ctx, cfg, http.MethodGet, adminStatusPath, nil, adminTimeout, &rep)
	return rep, url, err
}

// askAdmin sends a request to the running bridge's admin API, with the
// first admin token if any, and decodes its JSON answer into out. timeout,
// when positive, bounds the exchange. It returns the URL asked.
func askAdmin(ctx context.Context, cfg config.Config, method, path string, query url.Values, timeout time.Duration, out any) (string, error) {
	if cfg.AdminListen == config.AdminOff {
		return "", errors.New("the admin listener is off (SCIM_BRIDGE_ADMIN_LISTEN=off)")
	}
	base, err := adminBase(cfg.AdminListen)
	if err != nil {
		return "", err
	}
	target := base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return target, err
	}
	if len(cfg.AdminTokens) > 0 {
		req.Header.Set("Authorization", "Bearer "+cfg.AdminTokens[0].Reveal())
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	res, err := client.Do(req)
	if err != nil {
		return target, fmt.Errorf("ask the running bridge: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return target, fmt.Errorf("ask the running bridge at %s: %w", target, err)
	}
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = "(no explanation)"
		}
		return target, fmt.Errorf("the running bridge at %s answered %s: %s", target, res.Status, e.Error)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return target, fmt.Errorf("the running bridge at %s answered with no report: %w", target, err)
	}
	return target, nil
}

// storeStatus reads the report from the store itself. Its provisioner and
// budget are status's own, and only read: the provisioner has no UiPath
// client (QueueStatus sends nothing), the budget is asked for its usage
// only. An embedded store's budget lives in the bridge's memory, so when
// no bridge runs it has used nothing.
func storeStatus(ctx context.Context, cfg config.Config, store cache.Store, log *slog.Logger) (statusReport, error) {
	prov, err := mapping.New(provisionerConfig(cfg), nil, store, log)
	if err != nil {
		return statusReport{}, err
	}
	src := statusSource{store: storeName(cfg), prov: prov, budget: newBudget(cfg, store), window: budgetWindow(cfg)}
	return src.report(ctx)
}

// duration is the inverse of seconds.
func duration(s float64) time.Duration {
	return time.Duration(math.Round(s*1000)) * time.Millisecond
}

// problems are the reasons the report makes status exit 1, for a person.
func (r statusReport) problems() []string {
	var out []string
	recent := 0
	for _, f := range r.Failures {
		if r.GeneratedAt.Sub(f.At) < failureAlertWindow {
			recent++
		}
	}
	if recent > 0 {
		out = append(out, fmt.Sprintf("UiPath refused %d membership change(s) for good in the last %s; they are not retried (listed above)", recent, short(failureAlertWindow)))
	}
	if oldest := duration(r.Membership.OldestSeconds); oldest > staleAfter {
		out = append(out, fmt.Sprintf("the oldest pending membership change has waited %s (more than %s)", short(oldest), short(staleAfter)))
	}
	return out
}

// exitCode is status's exit code for the report: 1 when it has problems,
// else 0. (2, no report, is the command's.)
func (r statusReport) exitCode() int {
	if len(r.problems()) > 0 {
		return 1
	}
	return 0
}

// writeHuman prints the report for a person; from says where it was read.
func (r statusReport) writeHuman(w io.Writer, from string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "scim-bridge status: %s store, %s, at %s\n\n", r.Store, from, r.GeneratedAt.Format(time.RFC3339))

	m := r.Membership
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "Membership changes waiting for UiPath")
	fmt.Fprintf(tw, "  pending\t%d (in flight %d, in backoff %d)\n", m.Pending, m.InFlight, m.Backoff)
	fmt.Fprintf(tw, "  oldest\t%s\n", short(duration(m.OldestSeconds)))
	fmt.Fprintf(tw, "  planned calls\t%d\n", m.PlannedCalls)
	if m.HoldingPush {
		fmt.Fprintln(tw, "  held\tthe IdP's push keeps coming back to the same groups: calls wait until it pauses")
	}
	drain := short(duration(m.DrainEstimateSeconds))
	if put, ok := r.Budget.Methods[http.MethodPut]; ok && m.PlannedCalls > 0 {
		drain += fmt.Sprintf(" (membership may use %d of %d PUTs per %s)", put.Limit-put.Reserved, put.Limit, short(duration(r.Budget.WindowSeconds)))
	}
	fmt.Fprintf(tw, "  drain estimate\t%s\n", drain)
	tw.Flush()

	fmt.Fprintf(&b, "\nUiPath budget (calls in the last %s)\n", short(duration(r.Budget.WindowSeconds)))
	tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  METHOD\tUSED\tLIMIT\tRESERVED")
	for _, name := range methodOrder(r.Budget.Methods) {
		u := r.Budget.Methods[name]
		fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\n", name, u.Used, u.Limit, u.Reserved)
	}
	tw.Flush()

	if len(r.Failures) == 0 {
		b.WriteString("\nRefused membership changes: none\n")
	} else {
		fmt.Fprintf(&b, "\nRefused membership changes (latest %d, newest first)\n", len(r.Failures))
		tw = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  AT\tCHANGE\tGROUP\tUSER\tREASON")
		for _, f := range r.Failures {
			change := "remove"
			if f.Add {
				change = "add"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", f.At.Format(time.RFC3339), change, f.Group, f.User, oneLine(f.Reason))
		}
		tw.Flush()
	}

	if p := r.problems(); len(p) > 0 {
		b.WriteString("\nAttention:\n")
		for _, s := range p {
			fmt.Fprintf(&b, "  - %s\n", s)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// methodOrder lists the methods of a budget in the order UiPath's limits
// are usually given, others after them alphabetically.
func methodOrder(methods map[string]methodBudget) []string {
	known := []string{"GET", "POST", "PUT", "DELETE", "PATCH"}
	var out, other []string
	for _, m := range known {
		if _, ok := methods[m]; ok {
			out = append(out, m)
		}
	}
	for m := range methods {
		if !slices.Contains(known, m) {
			other = append(other, m)
		}
	}
	slices.Sort(other)
	return append(out, other...)
}

// short prints d to the second (to the millisecond under a second).
func short(d time.Duration) string {
	if d > 0 && d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// oneLine keeps a table row on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
