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

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/cache/boltstore"
	"github.com/scim-bridge/scim-bridge/cache/redisstore"
	"github.com/scim-bridge/scim-bridge/config"
)

// defaultAuditLimit is how many entries audit prints unless told: the
// newest, so that a wide window still answers quickly.
const defaultAuditLimit = 10000

const auditUsage = `Usage: scim-bridge audit [-since 24h] [-until T] [-user ID|userName] [-limit N] [-json] [-config FILE]

Prints the audit log: every change the bridge made or refused, oldest
first, with its time, the IdP, the caller (the name of the credential the
request authenticated with), the IdP's request id, the SCIM operation
and resource, the userName or displayName, the outcome, and the UiPath
calls it made with UiPath's status and time. "deactivate" entries are the
leavers: the PUT (or DELETE) in their UIPATH column is when UiPath
confirmed it. Entries from the write scheduler (IdP "scheduler") are the
membership calls it sent.

-since and -until take a duration before now (24h, 90m), an RFC 3339 time
or a date (2006-01-02, UTC). -user keeps the entries whose id, userName or
displayName is the one given (case-insensitively). -json prints one JSON
object per line.

Run it with the bridge's configuration. With Redis it reads the store
directly. With the embedded store it reads the file when no bridge has it
open, and otherwise asks the running bridge's admin API
(SCIM_BRIDGE_ADMIN_LISTEN, with the first of SCIM_BRIDGE_ADMIN_TOKENS).

Exit status: 0 printed (perhaps nothing); 2 the log could not be read.

Flags:
`

// auditCmd prints the audit log; see auditUsage.
func auditCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs, file := commandFlags("audit", auditUsage, stderr)
	since := fs.String("since", "24h", "the oldest entries to print: a duration before now, a time or a date")
	until := fs.String("until", "", "the newest entries to print (default: now)")
	user := fs.String("user", "", "only entries about this id, userName or displayName")
	limit := fs.Int("limit", defaultAuditLimit, "print at most the newest N matching entries (0: all)")
	asJSON := fs.Bool("json", false, "print JSON lines, one entry each")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "scim-bridge audit: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	q, err := auditQueryOf(url.Values{"since": {*since}, "until": {*until}, "user": {*user}, "limit": {strconv.Itoa(*limit)}}, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "scim-bridge audit: %v\n", err)
		return 2
	}
	cfg, err := config.Load(os.Getenv, *file)
	if err != nil {
		fmt.Fprintf(stderr, "scim-bridge audit: configuration:\n%v\n", err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, statusDeadline)
	defer cancel()
	entries, from, err := readAudit(ctx, cfg, q, newLogger(stderr, "error", "text"))
	if err != nil {
		fmt.Fprintf(stderr, "scim-bridge audit: %v\n", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, e := range entries {
			if err := enc.Encode(e); err != nil {
				fmt.Fprintf(stderr, "scim-bridge audit: %v\n", err)
				return 2
			}
		}
		return 0
	}
	if err := writeAuditTable(stdout, entries, from, q); err != nil {
		fmt.Fprintf(stderr, "scim-bridge audit: %v\n", err)
		return 2
	}
	return 0
}

// auditQueryOf reads an audit query from since, until, user and limit
// (the admin API's parameters, and the command's flags); see parseWhen.
func auditQueryOf(v url.Values, now time.Time) (cache.AuditQuery, error) {
	var q cache.AuditQuery
	var err error
	if q.Since, err = parseWhen(v.Get("since"), now); err != nil {
		return q, fmt.Errorf("since: %w", err)
	}
	if q.Until, err = parseWhen(v.Get("until"), now); err != nil {
		return q, fmt.Errorf("until: %w", err)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && q.Until.Before(q.Since) {
		return q, errors.New("until is before since")
	}
	q.Subject = strings.TrimSpace(v.Get("user"))
	if s := v.Get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil || q.Limit < 0 {
			return q, fmt.Errorf("limit %q is not a count", s)
		}
	}
	return q, nil
}

// parseWhen reads a point in time: empty (none), a duration before now
// ("24h"), an RFC 3339 time, or a date (midnight UTC).
func parseWhen(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("%q: a duration before now must be positive", s)
		}
		return now.Add(-d).UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("%q is not a duration (24h), an RFC 3339 time or a date (2006-01-02)", s)
}

// readAudit reads the audit log where cfg says it is, and says where it
// read it, for a person (as readStatus).
func readAudit(ctx context.Context, cfg config.Config, q cache.AuditQuery, log *slog.Logger) ([]cache.AuditEntry, string, error) {
	if storeName(cfg) == "redis" {
		store, err := redisstore.New(redisstore.Config{URL: cfg.RedisURL.Reveal(), Prefix: cfg.RedisPrefix}, log)
		if err != nil {
			return nil, "", fmt.Errorf("open the Redis store: %w", err)
		}
		defer store.Close()
		entries, err := store.AuditLog(ctx, q)
		if err != nil {
			return nil, "", fmt.Errorf("read the Redis store: %w", err)
		}
		return entries, "read from Redis", nil
	}
	path := boltPath(cfg)
	store, openErr := boltstore.New(boltstore.Config{Path: path, ReadOnly: true, OpenTimeout: statusOpenTimeout}, log)
	if openErr == nil {
		defer store.Close()
		entries, err := store.AuditLog(ctx, q)
		return entries, "read from " + path + " (no bridge has it open)", err
	}
	entries, url, askErr := fetchAudit(ctx, cfg, q)
	if askErr != nil {
		return nil, "", fmt.Errorf("cannot read the embedded store: %v\nnor ask a running bridge: %v", openErr, askErr)
	}
	return entries, "from the running bridge (" + url + ")", nil
}

// fetchAudit asks a running bridge's admin API for the audit log.
func fetchAudit(ctx context.Context, cfg config.Config, q cache.AuditQuery) ([]cache.AuditEntry, string, error) {
	if cfg.AdminListen == config.AdminOff {
		return nil, "", errors.New("the admin listener is off (SCIM_BRIDGE_ADMIN_LISTEN=off)")
	}
	base, err := adminBase(cfg.AdminListen)
	if err != nil {
		return nil, "", err
	}
	v := url.Values{"user": {q.Subject}, "limit": {strconv.Itoa(q.Limit)}}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.Format(time.RFC3339Nano))
	}
	u := base + adminAuditPath
	ctx, cancel := context.WithTimeout(ctx, adminTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"?"+v.Encode(), nil)
	if err != nil {
		return nil, u, err
	}
	if len(cfg.AdminTokens) > 0 {
		req.Header.Set("Authorization", "Bearer "+cfg.AdminTokens[0].Reveal())
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer client.CloseIdleConnections()
	res, err := client.Do(req)
	if err != nil {
		return nil, u, fmt.Errorf("ask the running bridge: %w", err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 256<<20))
	if err != nil {
		return nil, u, fmt.Errorf("ask the running bridge at %s: %w", u, err)
	}
	if res.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) != nil || e.Error == "" {
			e.Error = "(no explanation)"
		}
		return nil, u, fmt.Errorf("the running bridge at %s answered %s: %s", u, res.Status, e.Error)
	}
	var page auditPage
	if err := json.Unmarshal(body, &page); err != nil {
		return nil, u, fmt.Errorf("the running bridge at %s answered with no audit log: %w", u, err)
	}
	return page.Entries, u, nil
}

// writeAuditTable prints entries for a person.
func writeAuditTable(w io.Writer, entries []cache.AuditEntry, from string, q cache.AuditQuery) error {
	var b strings.Builder
	fmt.Fprintf(&b, "scim-bridge audit: %d entries, %s\n", len(entries), from)
	if q.Limit > 0 && len(entries) == q.Limit {
		fmt.Fprintf(&b, "(the newest %d; -limit 0 or a narrower -since for the rest)\n", q.Limit)
	}
	if len(entries) == 0 {
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tIDP\tCALLER\tREQUEST\tOPERATION\tRESOURCE\tID\tNAME\tOUTCOME\tUIPATH\tDETAIL")
	for _, e := range entries {
		req := e.RequestID
		if e.PassID != "" {
			req = "pass " + e.PassID
		}
		detail := e.Detail
		if e.Drift != "" {
			detail = strings.TrimSuffix("drift "+e.Drift+"; "+detail, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339), dash(e.IdP), dash(e.Caller), dash(req),
			e.Operation, e.Kind, e.ID, dash(e.Name), e.Outcome, dash(callsSummary(e.Calls)), oneLine(detail))
	}
	tw.Flush()
	_, err := io.WriteString(w, b.String())
	return err
}

// callsSummary is an entry's UiPath calls on one line: "PUT 200
// 08:48:15.123Z, GET 200 08:48:15.130Z".
func callsSummary(calls []cache.AuditCall) string {
	parts := make([]string, len(calls))
	for i, c := range calls {
		parts[i] = fmt.Sprintf("%s %d %s", c.Method, c.Status, c.At.UTC().Format("15:04:05.000Z"))
	}
	return strings.Join(parts, ", ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
