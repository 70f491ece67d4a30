package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Validate reports every failed check at once (errors.Join), one error per
// problem, each starting with the variable it concerns. It never quotes a
// secret.
func (c Config) Validate() error {
	var errs []error
	fail := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", EnvPrefix, name, fmt.Sprintf(format, args...)))
	}

	if err := checkListen(c.Listen); err != nil {
		fail("LISTEN", "%q: %v", c.Listen, err)
	}

	// Authentication of the IdP (auth.go).
	authErrs := c.validateAuth(fail) // fail appends to errs meanwhile
	errs = append(errs, authErrs...)

	// The admin listener: open to anyone who reaches it unless tokens are
	// set, so only on loopback without them.
	if c.AdminListen != AdminOff {
		if err := checkListen(c.AdminListen); err != nil {
			fail("ADMIN_LISTEN", "%q: %v, or %s", c.AdminListen, err, AdminOff)
		} else if host, _, _ := net.SplitHostPort(c.AdminListen); len(c.AdminTokens) == 0 && !IsLoopback(host) {
			fail("ADMIN_LISTEN", "%q is not a loopback address, and %sADMIN_TOKENS is empty: set tokens, listen on 127.0.0.1 or [::1], or turn it %s", c.AdminListen, EnvPrefix, AdminOff)
		}
	}

	// TLS, and the drain on SIGTERM.
	errs = append(errs, c.checkTLS(time.Now())...)
	if c.DrainDelay < 0 {
		fail("DRAIN_DELAY", "%v: %v (0 shuts down at once)", c.DrainDelay, errNegative)
	}

	// UiPath.
	switch {
	case c.UiPathURL == "":
		fail("UIPATH_URL", "required (the identity root, e.g. https://cloud.uipath.com/acme/identity_)")
	case !isHTTPURL(c.UiPathURL):
		fail("UIPATH_URL", "%q is not an http(s) URL", c.UiPathURL)
	}
	if c.UiPathURL != "" && !isHTTPURL(c.UiPathTokenURL) {
		fail("UIPATH_TOKEN_URL", "%q is not an http(s) URL", c.UiPathTokenURL)
	}
	if c.UiPathClientID == "" {
		fail("UIPATH_CLIENT_ID", "required")
	}
	if c.UiPathClientSecret == "" {
		fail("UIPATH_CLIENT_SECRET", "required")
	}
	if len(c.UiPathScopes) == 0 {
		fail("UIPATH_SCOPES", "no scopes")
	}
	if c.UiPathPartitionID != "" && !guid.MatchString(c.UiPathPartitionID) {
		fail("UIPATH_PARTITION_ID", "%q is not a GUID", c.UiPathPartitionID)
	}

	// Mapping store.
	if c.RedisURL != "" {
		if err := checkRedisURL(c.RedisURL.Reveal()); err != nil {
			fail("REDIS_URL", "%v", err)
		}
		if c.RedisPrefix == "" {
			fail("REDIS_PREFIX", "required with %sREDIS_URL", EnvPrefix)
		}
	} else if c.DataDir == "" {
		fail("DATA_DIR", "required when %sREDIS_URL is empty (embedded store)", EnvPrefix)
	}

	// Policies.
	checkWord := func(name, v string, allowed ...string) {
		if !slices.Contains(allowed, v) {
			fail(name, "%q is not one of %s", v, strings.Join(allowed, ", "))
		}
	}
	checkWord("MEMBERSHIP_STRATEGY", c.MembershipStrategy, "user", "group", "auto")
	checkWord("MEMBERSHIP_WRITES", c.MembershipWrites, "queued", "sync")
	checkWord("DEPROVISION", c.Deprovision, "disable", "delete")
	checkWord("USERNAME_CHANGE", c.UserNameChange, "keep", "refuse")
	for _, entry := range c.SchemaExtensions {
		e, err := ParseSchemaExtension(entry)
		if err != nil {
			fail("SCHEMA_EXTENSIONS", "%v", err)
			continue
		}
		if !strings.HasPrefix(strings.ToLower(e.URN), "urn:") {
			fail("SCHEMA_EXTENSIONS", "%q is not a URN", e.URN)
		}
		for _, a := range e.Attrs {
			if !attrName.MatchString(a.Name) {
				fail("SCHEMA_EXTENSIONS", "%s: %q is not a SCIM attribute name", e.URN, a.Name)
			}
			if !slices.Contains(extensionTypes, a.Type) {
				fail("SCHEMA_EXTENSIONS", "%s: type %q of %s is not one of %s", e.URN, a.Type, a.Name, strings.Join(extensionTypes, ", "))
			}
		}
	}
	checkWord("LOG_LEVEL", c.LogLevel, "debug", "info", "warn", "error")
	checkWord("LOG_FORMAT", c.LogFormat, "json", "text")
	checkWord("LOG_PII", c.LogPII, "full", "hash", "off")

	// Limits.
	for _, m := range slices.Sorted(maps.Keys(c.Budget)) {
		switch n := c.Budget[m]; {
		case !slices.Contains(budgetMethods, m):
			fail("UIPATH_BUDGET", "unknown method %q (want one of %s)", m, strings.Join(budgetMethods, ", "))
		case n <= 0:
			fail("UIPATH_BUDGET", "%s=%d: count must be positive", m, n)
		}
	}
	checkPositive := func(name string, d time.Duration) {
		if d <= 0 {
			fail(name, "%v: must be positive", d)
		}
	}
	checkPositive("UIPATH_BUDGET_WINDOW", c.BudgetWindow)
	if r := c.DeprovisionReserve; !(r >= 0 && r <= maxDeprovisionReserve) { // NaN fails too
		fail("DEPROVISION_RESERVE", "%s: must be from 0%% to %s", formatShare(r), formatShare(maxDeprovisionReserve))
	}
	checkPositive("UIPATH_TIMEOUT", c.UpstreamTimeout)
	checkPositive("UIPATH_LATE_WRITE_WINDOW", c.LateWriteWindow)
	if c.ReconcileInterval != 0 && c.ReconcileInterval < time.Minute {
		fail("RECONCILE_INTERVAL", "%s: want 0 (off) or at least 1m: a pass reads the whole organization", c.ReconcileInterval)
	}
	if c.ReconcileAt != "" {
		if _, err := ParseTimeOfDay(c.ReconcileAt); err != nil {
			fail("RECONCILE_AT", "%v", err)
		}
	}
	checkPositive("SHUTDOWN_TIMEOUT", c.ShutdownTimeout)
	if c.AuditRetention < time.Hour {
		fail("AUDIT_RETENTION", "%v: must be at least 1h (entries older than it are removed)", c.AuditRetention)
	}
	if c.MaxBodyBytes <= 0 {
		fail("MAX_BODY_BYTES", "%d: must be positive", c.MaxBodyBytes)
	}
	return errors.Join(errs...)
}

// maxDeprovisionReserve is the largest DeprovisionReserve Validate
// accepts: at most half of the PUT and DELETE budgets is kept from every
// other call.
const maxDeprovisionReserve = 0.5

// guid matches the textual form of a GUID (8-4-4-4-12 hex digits).
var guid = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// checkListen checks a host:port listen address with a numeric port; the
// host may be empty (all interfaces).
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port, e.g. :8080 or 127.0.0.1:8080")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	return nil
}

// IsLoopback reports whether host (of a host:port address) names the
// loopback interface: "localhost" or a loopback IP. An empty host (every
// interface) is not loopback.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// isHTTPURL reports whether s is an absolute http or https URL with a host.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// checkRedisURL checks the form go-redis accepts. The URL may hold a
// password, so errors describe the problem without quoting the URL or the
// url.Parse error (which does quote it).
func checkRedisURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return errors.New("not a valid URL")
	}
	switch u.Scheme {
	case "redis", "rediss":
		if u.Host == "" {
			return errors.New("no host")
		}
		// master_name selects Redis Sentinel: the host and every addr
		// parameter are Sentinels.
		if q := u.Query(); q.Has("master_name") && q.Get("master_name") == "" {
			return errors.New("master_name is empty (the name of the master the Sentinels monitor)")
		}
	case "unix":
		if u.Path == "" {
			return errors.New("no socket path")
		}
	default:
		return errors.New("scheme must be redis, rediss or unix")
	}
	return nil
}

// attrName is RFC 7644's ATTRNAME.
var attrName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)

// extensionTypes are the attribute types SCIM_BRIDGE_SCHEMA_EXTENSIONS may
// name (RFC 7643 §2.3, without complex).
var extensionTypes = []string{"string", "boolean", "integer", "decimal", "dateTime", "reference", "binary"}
