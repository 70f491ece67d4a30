package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/cache/boltstore"
	"github.com/scim-bridge/scim-bridge/config"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// Bounds of check-config --probe: each check must answer quickly, since an
// operator waits for it.
const (
	probeStoreTimeout    = 3 * time.Second
	probeUpstreamTimeout = 10 * time.Second
)

// neededScopes are the scope resources of the APIs the bridge calls: the
// resource scope grants reads and writes, or its .Read and .Write halves
// together (upstream-api.md §1).
var neededScopes = upstream.NeededScopes()

// probeCheck is the outcome of one check of check-config --probe.
type probeCheck struct {
	name   string
	ok     bool
	detail string // what was found; never a secret
	fix    string // on failure, what to do
	// skipped reports that the check could not run because an earlier
	// one failed; it counts as a failure.
	skipped bool
}

// probeBridge checks that the bridge configured by cfg can serve: the
// store answers, UiPath grants a token with the scopes the bridge needs,
// and a page of users and of groups can be read. Nothing it returns holds
// a secret.
func probeBridge(ctx context.Context, cfg config.Config, httpClient *http.Client) []probeCheck {
	checks := []probeCheck{probeStore(ctx, cfg)}
	return append(checks, probeUiPath(ctx, cfg, httpClient)...)
}

// probeStore checks the mapping store: a Redis PING, or, for the embedded
// store, that its directory is writable and its file can be opened.
func probeStore(ctx context.Context, cfg config.Config) probeCheck {
	log := slog.New(slog.DiscardHandler)
	if storeName(cfg) == "redis" {
		c := probeCheck{name: "store: Redis at " + config.RedactURL(cfg.RedisURL.Reveal())}
		store, err := stores["redis"](cfg, log) // the store serve opens
		if err != nil {
			c.detail, c.fix = err.Error(), "fix "+config.EnvPrefix+"REDIS_URL"
			return c
		}
		defer store.Close()
		pctx, cancel := context.WithTimeout(ctx, probeStoreTimeout)
		defer cancel()
		if err := store.Ping(pctx); err != nil {
			c.detail, c.fix = "no answer to PING: "+err.Error(), "start Redis or fix "+config.EnvPrefix+"REDIS_URL"
			return c
		}
		c.ok, c.detail = true, "PING answered"
		return c
	}

	path := boltPath(cfg)
	c := probeCheck{name: "store: embedded, " + path}
	// The directory, or the nearest parent serve would create it in, must
	// take a new file.
	dir := cfg.DataDir
	for {
		if _, err := os.Stat(dir); err == nil || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	if info, err := os.Stat(dir); err == nil && !info.IsDir() {
		c.detail = dir + " is a file, not a directory: serve cannot make " + cfg.DataDir
		c.fix = "fix " + config.EnvPrefix + "DATA_DIR, or move " + dir + " away"
		return c
	}
	f, err := os.CreateTemp(dir, ".scim-bridge-probe-*")
	if err != nil {
		c.detail = fmt.Sprintf("%s is not writable: %v", dir, errors.Unwrap(err))
		c.fix = "make " + dir + " writable by this user or fix " + config.EnvPrefix + "DATA_DIR"
		return c
	}
	f.Close()
	os.Remove(f.Name())
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		c.ok, c.detail = true, "directory writable; the file does not exist yet (serve creates it)"
		return c
	}
	store, err := boltstore.New(boltstore.Config{Path: path, ReadOnly: true, OpenTimeout: time.Second}, log)
	switch {
	case errors.Is(err, boltstore.ErrLocked):
		// A running serve holds it: this configuration serves already; a
		// second serve on the same file would wait for the lock.
		c.ok, c.detail = true, "directory writable; the file is locked by a running serve"
	case err != nil:
		c.detail, c.fix = err.Error(), "check the permissions of "+path+" or fix "+config.EnvPrefix+"DATA_DIR"
	default:
		store.Close()
		c.ok, c.detail = true, "directory writable; the file opens (no serve has it open)"
	}
	return c
}

// probeUiPath checks the UiPath side: a token, its scopes, and a read of
// users and groups. Checks that need a token are reported as not run
// when there is none.
func probeUiPath(ctx context.Context, cfg config.Config, httpClient *http.Client) []probeCheck {
	ucfg := upstreamConfig(cfg, httpClient)
	ucfg.Timeout = min(ucfg.Timeout, probeUpstreamTimeout)
	ucfg.MaxAttempts = 1
	client, err := upstream.New(ucfg, nil)
	if err != nil {
		return []probeCheck{{name: "UiPath", detail: err.Error(), fix: "fix " + config.EnvPrefix + "UIPATH_URL"}}
	}
	tokenCheck := probeCheck{name: "UiPath token: client " + cfg.UiPathClientID + " at " + config.RedactURL(cfg.UiPathTokenURL)}
	scopeCheck := probeCheck{name: "UiPath scopes (" + strings.Join(neededScopes, " and ") + " needed)"}
	granted, err := client.ProbeToken(ctx, false)
	if err == nil {
		tokenCheck.ok, tokenCheck.detail = true, "granted"
		scopeCheck = checkScopes(scopeCheck, granted, cfg.UiPathScopes)
	} else {
		tokenCheck.detail, tokenCheck.fix = err.Error(), upstreamFix(err, "")
		if upstream.OAuthErrorCode(err) == "invalid_scope" {
			// The application lacks a requested scope: ask for every scope
			// it has, to say which.
			all, allErr := client.ProbeToken(ctx, true)
			if allErr == nil {
				tokenCheck.detail = "the application is not granted every scope in " + config.EnvPrefix + "UIPATH_SCOPES (" + strings.Join(cfg.UiPathScopes, " ") + "); it has " + orNone(all)
				tokenCheck.fix = "grant the missing scopes to the external application, or request only granted ones in " + config.EnvPrefix + "UIPATH_SCOPES"
				scopeCheck = checkScopes(scopeCheck, all, cfg.UiPathScopes)
			} else {
				scopeCheck.detail, scopeCheck.skipped = "not checked: no token", true
			}
		} else {
			scopeCheck.detail, scopeCheck.skipped = "not checked: no token", true
		}
	}
	checks := []probeCheck{tokenCheck, scopeCheck}
	if !tokenCheck.ok {
		return append(checks, probeCheck{name: "UiPath reads: users and groups", detail: "not tried: no token", skipped: true})
	}

	rctx, cancel := context.WithTimeout(ctx, 2*probeUpstreamTimeout)
	defer cancel()
	users := probeCheck{name: "UiPath read: a page of users"}
	if page, err := client.SearchUsers(rctx, "", 1, 0); err != nil {
		users.detail, users.fix = err.Error(), upstreamFix(err, "PM.User")
	} else {
		users.ok, users.detail = true, fmt.Sprintf("%d users in the organization", page.TotalCount)
	}
	groups := probeCheck{name: "UiPath read: the groups"}
	if list, err := client.ListGroups(rctx); err != nil {
		groups.detail, groups.fix = err.Error(), upstreamFix(err, "PM.Group")
	} else {
		groups.ok, groups.detail = true, fmt.Sprintf("%d groups in the organization", len(list))
	}
	return append(checks, users, groups)
}

// checkScopes fills c from the granted scopes: each needed resource must
// be granted whole or as its .Read and .Write halves. requested are the
// configured scopes, to tell a scope the bridge does not ask for from one
// the application lacks.
func checkScopes(c probeCheck, granted, requested []string) probeCheck {
	if granted == nil {
		c.ok, c.detail = true, "the token does not state its scopes; the reads below tell"
		return c
	}
	var notRequested, notGranted []string
	for _, r := range neededScopes {
		switch {
		case !coversScope(requested, r):
			notRequested = append(notRequested, r)
		case !coversScope(granted, r):
			notGranted = append(notGranted, r)
		}
	}
	c.detail = "granted: " + orNone(granted)
	var fixes []string
	if len(notGranted) > 0 {
		fixes = append(fixes, "grant "+strings.Join(notGranted, " and ")+" to the external application")
	}
	if len(notRequested) > 0 {
		fixes = append(fixes, "add "+strings.Join(notRequested, " and ")+" to "+config.EnvPrefix+"UIPATH_SCOPES")
	}
	c.fix = strings.Join(fixes, "; ")
	c.ok = c.fix == ""
	return c
}

// coversScope reports whether scopes grant both reads and writes of the
// resource r: r itself, or r.Read and r.Write.
func coversScope(scopes []string, r string) bool {
	return slices.Contains(scopes, r) || slices.Contains(scopes, r+".Read") && slices.Contains(scopes, r+".Write")
}

func orNone(scopes []string) string {
	if len(scopes) == 0 {
		return "none"
	}
	return strings.Join(scopes, " ")
}

// upstreamFix says what to do about a failed UiPath call; scope names the
// scope a 403 asks for, "" for the token request.
func upstreamFix(err error, scope string) string {
	var e *upstream.Error
	if !errors.As(err, &e) {
		// No partition configured and none in the token.
		return "set " + config.EnvPrefix + "UIPATH_PARTITION_ID to the organization's id"
	}
	switch code := upstream.OAuthErrorCode(err); {
	case e.StatusCode == 0:
		return "UiPath unreachable: check " + config.EnvPrefix + "UIPATH_URL and the network"
	case code == "invalid_client" || code == "unauthorized_client" || e.StatusCode == http.StatusUnauthorized:
		return "check " + config.EnvPrefix + "UIPATH_CLIENT_ID and " + config.EnvPrefix + "UIPATH_CLIENT_SECRET"
	case code == "invalid_scope":
		return "grant the scopes in " + config.EnvPrefix + "UIPATH_SCOPES to the external application"
	case e.StatusCode == http.StatusForbidden && scope != "":
		return "grant " + scope + " to the external application (an Enterprise organization is needed for application scopes)"
	case e.StatusCode == http.StatusNotFound && scope == "":
		return "no token endpoint there: check " + config.EnvPrefix + "UIPATH_URL and " + config.EnvPrefix + "UIPATH_TOKEN_URL"
	case e.StatusCode == http.StatusNotFound:
		return "check " + config.EnvPrefix + "UIPATH_URL and " + config.EnvPrefix + "UIPATH_PARTITION_ID"
	case e.Retryable:
		return "UiPath answered " + http.StatusText(e.StatusCode) + ": try again later"
	}
	return "check " + config.EnvPrefix + "UIPATH_URL and " + config.EnvPrefix + "UIPATH_TOKEN_URL"
}

// writeProbe prints the checks, one line each with its result and, on
// failure, a line with the fix. It reports whether every check passed.
func writeProbe(w io.Writer, checks []probeCheck) bool {
	fmt.Fprintln(w, "\nprobe:")
	all := true
	for _, c := range checks {
		result := "ok"
		switch {
		case c.skipped:
			result, all = "skip", false
		case !c.ok:
			result, all = "FAIL", false
		}
		fmt.Fprintf(w, "  %-4s  %s: %s\n", result, c.name, c.detail)
		if !c.ok && c.fix != "" {
			fmt.Fprintf(w, "        fix: %s\n", c.fix)
		}
	}
	return all
}
