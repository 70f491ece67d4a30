package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/scim-bridge/scim-bridge/cache/boltstore"
	"github.com/scim-bridge/scim-bridge/config"
	"github.com/scim-bridge/scim-bridge/mapping"
)

const reconcileUsage = `Usage: scim-bridge reconcile [-dry-run] [-json] [-import] [-max-changes N|P%] [-force] [-config FILE]

Runs one reconciliation pass: reads UiPath's users (1,000 a page, with their
groups) and groups, compares them with what the IdP provisioned (the
store), and repairs the drift: profile and isActive changes, users and
groups lost in UiPath (recreated under the same id with their memberships),
renamed groups, and memberships both ways (through the write scheduler).
Leavers active in UiPath are repaired first. Robots, directory principals,
built-in groups and everything the bridge did not create or adopt are
reported, never changed.

A pass whose repairs would remove access (deactivate, delete, remove from a
group) from more users than -max-changes writes nothing and exits 2, as
does a pass whose UiPath listing is empty or under half of what the store
expects (a failed read is not an empty organization).

Run it with the bridge's configuration. With Redis it runs here, beside the
running replicas (one pass at a time, by a lease in the store). With the
embedded store it runs here when no bridge has the file open, and otherwise
asks the running bridge's admin API (SCIM_BRIDGE_ADMIN_LISTEN, with the
first of SCIM_BRIDGE_ADMIN_TOKENS) to run it.

Exit status: 0 UiPath matches the IdP after the pass; 1 drift remains (a dry
run that found some, or repairs that failed or are still queued); 2 the
pass was refused or could not run.

Flags:
`

// reconcileDeadline bounds a pass run from the command line: long enough
// to read 100,000 users inside UiPath's GET budget and drain the repairs.
const reconcileDeadline = 2 * time.Hour

func reconcileCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, file := commandFlags("reconcile", reconcileUsage, stderr)
	dryRun := fs.Bool("dry-run", false, "compare and report; write nothing to UiPath or the store")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	doImport := fs.Bool("import", false, "after a store loss: bring UiPath's local users and custom groups the store lacks into it, marked imported")
	maxChanges := fs.String("max-changes", "", "users a pass may remove access from: N, or P% of the managed users (default 5%, at least 10)")
	force := fs.Bool("force", false, "repair even past -max-changes (the listing guards still apply)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	opt := mapping.ReconcileOptions{DryRun: *dryRun, Import: *doImport, Force: *force}
	if err := setMaxChanges(&opt, *maxChanges); err != nil {
		fmt.Fprintf(stderr, "scim-bridge reconcile: -max-changes: %v\n", err)
		return 2
	}
	cfg, loadErr := config.Load(os.Getenv, *file)
	if err := errors.Join(loadErr, cfg.Validate()); err != nil {
		fmt.Fprintf(stderr, "scim-bridge reconcile: configuration:\n%v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, reconcileDeadline)
	defer cancel()
	rep, from, err := runReconcile(ctx, cfg, opt, newLogger(stderr, "warn", "text"))
	if err != nil {
		fmt.Fprintf(stderr, "scim-bridge reconcile: %v\n", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = writeReconcileReport(stdout, rep, from)
	}
	if err != nil {
		fmt.Fprintf(stderr, "scim-bridge reconcile: %v\n", err)
		return 2
	}
	return rep.ExitCode()
}

// setMaxChanges reads -max-changes (N or P%) into opt; "" keeps the
// default.
func setMaxChanges(opt *mapping.ReconcileOptions, v string) error {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	if pct, ok := strings.CutSuffix(v, "%"); ok {
		p, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || !(p > 0 && p <= 100) {
			return fmt.Errorf("%q: want a number of users or a percentage from 0%% to 100%% (e.g. 5%%)", v)
		}
		opt.MaxChangesPercent = p
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return fmt.Errorf("%q: want a number of users (1 or more) or a percentage (e.g. 5%%)", v)
	}
	opt.MaxChanges = n
	return nil
}

// reconcileQuery reads the admin API's query into pass options.
func reconcileQuery(q url.Values) (mapping.ReconcileOptions, error) {
	var opt mapping.ReconcileOptions
	for name, dst := range map[string]*bool{"dryRun": &opt.DryRun, "import": &opt.Import, "force": &opt.Force} {
		if v := q.Get(name); v != "" {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return opt, fmt.Errorf("%s=%q is not a boolean", name, v)
			}
			*dst = b
		}
	}
	if err := setMaxChanges(&opt, q.Get("maxChanges")); err != nil {
		return opt, fmt.Errorf("maxChanges: %v", err)
	}
	return opt, nil
}

// runReconcile runs the pass where cfg says the store is, and says where,
// for a person.
func runReconcile(ctx context.Context, cfg config.Config, opt mapping.ReconcileOptions, log *slog.Logger) (mapping.ReconcileReport, string, error) {
	var b *bridge
	var err error
	if storeName(cfg) == "redis" {
		if b, err = newBridge(cfg, nil, log); err != nil {
			return mapping.ReconcileReport{}, "", err
		}
	} else {
		store, openErr := boltstore.New(boltstore.Config{Path: boltPath(cfg), OpenTimeout: statusOpenTimeout}, log)
		if openErr != nil {
			var rep mapping.ReconcileReport
			where, askErr := askAdmin(ctx, cfg, http.MethodPost, adminReconcilePath, reconcileValues(opt), 0, &rep)
			if askErr != nil {
				return rep, "", fmt.Errorf("cannot open the embedded store: %v\nnor ask a running bridge: %v", openErr, askErr)
			}
			return rep, "run by the running bridge (" + where + ")", nil
		}
		if b, err = newBridgeOn(cfg, store, nil, log); err != nil {
			return mapping.ReconcileReport{}, "", err
		}
	}
	defer b.Close()
	rep, err := b.prov.Reconcile(ctx, opt)
	return rep, "run here", err
}

// reconcileValues is reconcileQuery's inverse.
func reconcileValues(opt mapping.ReconcileOptions) url.Values {
	q := url.Values{}
	for name, v := range map[string]bool{"dryRun": opt.DryRun, "import": opt.Import, "force": opt.Force} {
		if v {
			q.Set(name, "true")
		}
	}
	switch {
	case opt.MaxChanges > 0:
		q.Set("maxChanges", strconv.Itoa(opt.MaxChanges))
	case opt.MaxChangesPercent > 0:
		q.Set("maxChanges", strconv.FormatFloat(opt.MaxChangesPercent, 'f', -1, 64)+"%")
	}
	return q
}

// writeReconcileReport prints a report for a person: a summary, then one
// line per finding, leavers first.
func writeReconcileReport(w io.Writer, rep mapping.ReconcileReport, from string) error {
	mode := "pass"
	if rep.DryRun {
		mode = "dry run"
	}
	fmt.Fprintf(w, "Reconciliation %s %s (%s), %s, %s\n", mode, rep.PassID, from,
		rep.StartedAt.Format(time.RFC3339), rep.FinishedAt.Sub(rep.StartedAt).Round(time.Millisecond))
	fmt.Fprintf(w, "Users: %d managed, %d local users in UiPath. Groups: %d managed, %d custom groups in UiPath.\n",
		rep.Users.Managed, rep.Users.UiPath, rep.Groups.Managed, rep.Groups.UiPath)
	c := rep.UpstreamCalls
	fmt.Fprintf(w, "UiPath calls: GET %d (minimum %d), POST %d, PUT %d, DELETE %d.\n",
		c["GET"], rep.MinimumGets, c["POST"], c["PUT"], c["DELETE"])
	if rep.Imported.Users+rep.Imported.Groups > 0 {
		fmt.Fprintf(w, "Imported: %d users, %d groups (marked imported until the IdP writes to them).\n", rep.Imported.Users, rep.Imported.Groups)
	}
	if rep.Refused != nil {
		fmt.Fprintf(w, "\nREFUSED, nothing written: %s\n", *rep.Refused)
	}
	if len(rep.Drift) == 0 {
		fmt.Fprintln(w, "\nNo drift: UiPath matches the IdP.")
		return nil
	}
	fmt.Fprintf(w, "\n%d findings, %d left unrepaired:\n", len(rep.Drift), rep.Remaining())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tRESOURCE\tNAME\tID\tGROUP\tACTION\tDETAIL")
	for _, d := range rep.Drift {
		group := d.Group
		if group == "" {
			group = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Kind, d.Resource, d.Name, d.ID, group, d.Action, d.Detail)
	}
	return tw.Flush()
}

// reconcileSchedule is when serve runs passes: every interval, from at (a
// UTC time of day) when set, else from the start.
type reconcileSchedule struct {
	interval time.Duration
	at       time.Duration // since midnight UTC; -1: unset
}

func newReconcileSchedule(cfg config.Config) reconcileSchedule {
	s := reconcileSchedule{interval: cfg.ReconcileInterval, at: -1}
	if cfg.ReconcileAt != "" {
		if at, err := config.ParseTimeOfDay(cfg.ReconcileAt); err == nil { // Validate rejects the rest
			s.at = at
		}
	}
	return s
}

func (s reconcileSchedule) enabled() bool { return s.interval > 0 || s.at >= 0 }

// next is the first pass time after now.
func (s reconcileSchedule) next(now time.Time) time.Time {
	now = now.UTC()
	if s.at < 0 {
		return now.Add(s.interval)
	}
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	t := day.Add(s.at)
	step := s.interval
	if step <= 0 {
		step = 24 * time.Hour
	}
	if t.After(now) {
		// An interval under a day also runs before today's time of day:
		// the passes keep their spacing, anchored at it.
		for t.Add(-step).After(now) {
			t = t.Add(-step)
		}
		return t
	}
	for !t.After(now) {
		t = t.Add(step)
	}
	return t
}

// runReconcileSchedule runs passes on the schedule until ctx ends. A pass
// another replica is running counts as this one's.
func runReconcileSchedule(ctx context.Context, s reconcileSchedule, pass func(context.Context, mapping.ReconcileOptions) (mapping.ReconcileReport, error), log *slog.Logger) {
	for {
		at := s.next(time.Now())
		log.Info("next reconciliation pass", "at", at.Format(time.RFC3339))
		t := time.NewTimer(time.Until(at))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		rep, err := pass(ctx, mapping.ReconcileOptions{})
		switch {
		case errors.Is(err, mapping.ErrPassRunning):
			log.Info("reconciliation pass skipped: another replica is running one")
		case err != nil:
			log.Error("reconciliation pass could not run", "error", err)
		case rep.Refused != nil:
			log.Error("reconciliation pass refused: nothing written; run scim-bridge reconcile -dry-run to see why", "pass", rep.PassID, "reason", *rep.Refused)
		default:
			log.Info("reconciliation pass done", "pass", rep.PassID, "drift", len(rep.Drift), "remaining", rep.Remaining(),
				"gets", rep.UpstreamCalls["GET"], "puts", rep.UpstreamCalls["PUT"])
		}
	}
}
