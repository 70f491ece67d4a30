package config

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts the name of every environment variable the bridge reads.
const EnvPrefix = "SCIM_BRIDGE_"

// FileEnv names the environment variable that holds the path of the
// optional YAML configuration file.
const FileEnv = EnvPrefix + "CONFIG"

// Config is the bridge's configuration. Load fills it from the environment
// and the YAML file; the comment of each field names its variable and the
// default Load applies when the variable is unset. A Config built by hand
// gets no defaults: call Validate before use.
type Config struct {
	// Listen is the address the SCIM server listens on (SCIM_BRIDGE_LISTEN,
	// default ":8080").
	Listen string
	// Tokens are the static bearer tokens accepted from IdPs
	// (SCIM_BRIDGE_TOKENS, comma-separated; default none). An entry is a
	// token, "name:token", or "name:sha256:<hex SHA-256 of the token>";
	// see ParseToken and IdPTokens.
	Tokens []Secret
	// OIDCIssuer, when set, makes the bridge accept JWTs from this issuer
	// besides the static tokens (SCIM_BRIDGE_OIDC_ISSUER, default off).
	OIDCIssuer string
	// OIDCAudience is the audience those JWTs must carry
	// (SCIM_BRIDGE_OIDC_AUDIENCE); required with OIDCIssuer.
	OIDCAudience string
	// OIDCRequiredClaims are claims a JWT from OIDCIssuer must also carry,
	// each with exactly this string value (or, for a list claim, among its
	// values), e.g. azp and tid for Entra workload identity federation
	// (SCIM_BRIDGE_OIDC_REQUIRED_CLAIMS, "azp=<app id>,tid=<tenant>";
	// default none).
	OIDCRequiredClaims map[string]string
	// OIDCName is the caller name of requests authenticated by an
	// OIDCIssuer JWT, in logs, metrics and the audit log
	// (SCIM_BRIDGE_OIDC_NAME, default "oidc").
	OIDCName string
	// TokensFile is a file of static bearer tokens, one entry a line in
	// the syntax of Tokens, with # comments; serve re-reads it when it
	// changes and on SIGHUP (SCIM_BRIDGE_TOKENS_FILE, default none). Its
	// tokens are accepted besides Tokens.
	TokensFile string
	// OAuthClients are the IdP clients that may get access tokens at
	// /oauth/token with the client credentials grant, each
	// "client_id:sha256:<hex SHA-256 of the client secret>"; the client id
	// is the caller name (SCIM_BRIDGE_OAUTH_CLIENTS, comma-separated;
	// default none).
	OAuthClients []Secret
	// OAuthTokenTTL is how long an access token from /oauth/token is
	// valid (SCIM_BRIDGE_OAUTH_TOKEN_TTL, default 1h).
	OAuthTokenTTL time.Duration
	// OAuthSigningKey signs and verifies those access tokens (HMAC-SHA256),
	// at least 32 bytes; every replica needs the same key, so it is
	// required with OAuthClients and the Redis store. Empty with the
	// embedded store: a random key made once and kept in DataDir, so that
	// tokens outlive a restart (SCIM_BRIDGE_OAUTH_SIGNING_KEY).
	OAuthSigningKey Secret
	// AdminListen is the address of the admin listener, which serves the
	// admin API (/admin/v1/...), /metrics and the probes, or AdminOff for
	// none (SCIM_BRIDGE_ADMIN_LISTEN, default "127.0.0.1:8081"). Without
	// AdminTokens it must be a loopback address.
	AdminListen string
	// AdminTokens are the bearer tokens the admin API accepts
	// (SCIM_BRIDGE_ADMIN_TOKENS, comma-separated; default none: the admin
	// API is then open to whoever reaches the loopback address).
	AdminTokens []Secret
	// TLSCertFile and TLSKeyFile are the PEM files of the SCIM listener's
	// certificate (the full chain, leaf first) and its private key
	// (SCIM_BRIDGE_TLS_CERT_FILE, SCIM_BRIDGE_TLS_KEY_FILE; both or
	// neither). The bridge re-reads them when they change. Empty, the
	// default: plain HTTP, for a proxy that terminates TLS in front.
	TLSCertFile, TLSKeyFile string
	// DrainDelay is how long the listeners keep serving after SIGTERM or
	// SIGINT, with /readyz answering 503, before the graceful shutdown
	// starts: time for load balancers to stop routing new requests here
	// (SCIM_BRIDGE_DRAIN_DELAY, default 5s; 0: shut down at once).
	DrainDelay time.Duration
	// UiPathURL is the identity root of the UiPath organization, without a
	// trailing slash, e.g. https://cloud.uipath.com/acme/identity_
	// (SCIM_BRIDGE_UIPATH_URL, required).
	UiPathURL string
	// UiPathTokenURL is the OAuth token endpoint
	// (SCIM_BRIDGE_UIPATH_TOKEN_URL, default UiPathURL + "/connect/token").
	UiPathTokenURL string
	// UiPathClientID and UiPathClientSecret are the credentials of the
	// UiPath external application (SCIM_BRIDGE_UIPATH_CLIENT_ID,
	// SCIM_BRIDGE_UIPATH_CLIENT_SECRET, required).
	UiPathClientID     string
	UiPathClientSecret Secret
	// UiPathScopes are the scopes requested with the client credentials
	// (SCIM_BRIDGE_UIPATH_SCOPES, space-separated, default
	// "PM.User PM.Group": the User and Group APIs, all the bridge calls).
	UiPathScopes []string
	// UiPathPartitionID is the organization GUID
	// (SCIM_BRIDGE_UIPATH_PARTITION_ID). Empty means: take it from the
	// access token's prt_id claim.
	UiPathPartitionID string
	// RedisURL is the redis://, rediss:// or unix:// URL of the shared
	// mapping store (SCIM_BRIDGE_REDIS_URL). With a master_name query
	// parameter it names Redis Sentinels rather than Redis: the host and
	// every addr parameter are Sentinels, and the bridge follows the master
	// they elect. It may carry a password, hence Secret. Empty selects the
	// embedded store in DataDir.
	RedisURL Secret
	// RedisPrefix starts every Redis key the bridge writes
	// (SCIM_BRIDGE_REDIS_PREFIX, default "scim-bridge").
	RedisPrefix string
	// DataDir is where the embedded store lives (SCIM_BRIDGE_DATA_DIR,
	// default "./data").
	DataDir string
	// AuditRetention is how long the store keeps the audit log's entries
	// (SCIM_BRIDGE_AUDIT_RETENTION, default 2160h = 90 days).
	AuditRetention time.Duration
	// MembershipStrategy is how membership changes reach UiPath: "user",
	// "group" or "auto" (SCIM_BRIDGE_MEMBERSHIP_STRATEGY, default "auto").
	MembershipStrategy string
	// MembershipWrites is when the IdP is answered for a membership change:
	// "queued", once the change is durably stored, a scheduler sending it
	// to UiPath with the fewest calls; or "sync", once UiPath confirms it,
	// one plan per request (SCIM_BRIDGE_MEMBERSHIP_WRITES, default
	// "queued").
	MembershipWrites string
	// Deprovision is what active=false does: "disable" or "delete"
	// (SCIM_BRIDGE_DEPROVISION, default "disable").
	Deprovision string
	// UserNameChange is what a changed userName does: keep (accept it; the
	// UiPath account keeps its login name) or refuse (400 mutability)
	// (SCIM_BRIDGE_USERNAME_CHANGE, default keep).
	UserNameChange string
	// SchemaExtensions declares custom schema extensions for /Schemas and
	// /ResourceTypes, one entry each: the extension's URN, optionally
	// followed by "=" and its attributes as name or name:type, separated by
	// commas (SCIM_BRIDGE_SCHEMA_EXTENSIONS, entries separated by spaces;
	// e.g. "urn:ietf:params:scim:schemas:extension:acme:2.0:User=costCenter,contractor:boolean").
	// Empty: none declared.
	SchemaExtensions []string
	// Budget is the client-side upstream budget: requests per BudgetWindow
	// by HTTP method (GET, POST, PUT, DELETE, PATCH); a method without an
	// entry is not limited client-side (SCIM_BRIDGE_UIPATH_BUDGET, e.g.
	// "GET=300,PUT=160"; default GET=300,POST=24000,PUT=160,DELETE=160).
	// Methods the variable does not list keep their default.
	Budget map[string]int
	// BudgetWindow is the window Budget applies to
	// (SCIM_BRIDGE_UIPATH_BUDGET_WINDOW, default 5m).
	BudgetWindow time.Duration
	// DeprovisionReserve is the share of the PUT and DELETE budgets kept for
	// deprovisioning (deactivations and deletions of users), which other
	// calls cannot use, from 0 to 0.5 (SCIM_BRIDGE_DEPROVISION_RESERVE,
	// written "10%" or "0.1"; default 10%).
	DeprovisionReserve float64
	// UpstreamTimeout bounds each call to UiPath (SCIM_BRIDGE_UIPATH_TIMEOUT,
	// default 30s).
	UpstreamTimeout time.Duration
	// LateWriteWindow is how long after a UiPath write with an unknown
	// outcome (a timeout, a dropped connection) UiPath may still apply it;
	// the resource is checked again once it has passed
	// (SCIM_BRIDGE_UIPATH_LATE_WRITE_WINDOW, default 2m).
	LateWriteWindow time.Duration
	// ReconcileInterval is how often serve runs a reconciliation pass
	// (SCIM_BRIDGE_RECONCILE_INTERVAL, e.g. 24h; zero, the default: no
	// passes on an interval).
	ReconcileInterval time.Duration
	// ReconcileAt is the UTC time of day, HH:MM, of serve's daily
	// reconciliation pass (SCIM_BRIDGE_RECONCILE_AT, e.g. 02:00; empty,
	// the default: none). With an interval too, the first pass is at that
	// time and the next ones an interval apart.
	ReconcileAt string
	// MaxBodyBytes caps the size of a SCIM request body
	// (SCIM_BRIDGE_MAX_BODY_BYTES, default 8 MiB).
	MaxBodyBytes int64
	// AdoptExisting reports whether a create that UiPath rejects as a
	// duplicate userName or email adopts the existing account
	// (SCIM_BRIDGE_ADOPT_EXISTING, default true).
	AdoptExisting bool
	// LogLevel is "debug", "info", "warn" or "error"
	// (SCIM_BRIDGE_LOG_LEVEL, default "info").
	LogLevel string
	// LogFormat is "json" or "text" (SCIM_BRIDGE_LOG_FORMAT, default
	// "json").
	LogFormat string
	// LogPII is how personal data (userNames, emails, display names,
	// externalIds) appears in logs: "full", "hash" (a short SHA-256, stable
	// so that lines can be correlated) or "off" (left out)
	// (SCIM_BRIDGE_LOG_PII, default "hash"). The audit trail is not a log
	// and keeps them in full.
	LogPII string
	// ShutdownTimeout bounds the graceful shutdown, which starts after
	// DrainDelay: the time in-flight requests get to finish
	// (SCIM_BRIDGE_SHUTDOWN_TIMEOUT, default 15s).
	ShutdownTimeout time.Duration
}

// AdminOff is the AdminListen value that turns the admin listener off.
const AdminOff = "off"

// defaultBudget is UiPath Automation Cloud's limit per organization and
// 5 minutes (DESIGN.md "Upstream budget").
var defaultBudget = map[string]int{"GET": 300, "POST": 24000, "PUT": 160, "DELETE": 160}

// defaults returns the configuration Load starts from.
func defaults() Config {
	budget := make(map[string]int, len(defaultBudget))
	for m, n := range defaultBudget {
		budget[m] = n
	}
	return Config{
		Listen:             ":8080",
		OIDCName:           "oidc",
		OAuthTokenTTL:      time.Hour,
		AdminListen:        "127.0.0.1:8081",
		DrainDelay:         5 * time.Second,
		UiPathScopes:       []string{"PM.User", "PM.Group"},
		RedisPrefix:        "scim-bridge",
		DataDir:            "./data",
		AuditRetention:     90 * 24 * time.Hour,
		MembershipStrategy: "auto",
		MembershipWrites:   "queued",
		Deprovision:        "disable",
		UserNameChange:     "keep",
		Budget:             budget,
		BudgetWindow:       5 * time.Minute,
		DeprovisionReserve: 0.1,
		UpstreamTimeout:    30 * time.Second,
		LateWriteWindow:    2 * time.Minute,
		MaxBodyBytes:       8 << 20,
		AdoptExisting:      true,
		LogLevel:           "info",
		LogFormat:          "json",
		LogPII:             "hash",
		ShutdownTimeout:    15 * time.Second,
	}
}

// defaultTokenURL returns the token endpoint under the identity root.
func defaultTokenURL(root string) string {
	if root == "" {
		return ""
	}
	return root + "/connect/token"
}

// Load builds a Config from the defaults, the YAML file at filePath and the
// environment read through getenv (os.Getenv in production), in increasing
// order of precedence. A secret setting may instead be read from the file
// its _FILE variable (or <key>_file key) names. An empty filePath means the file named by
// SCIM_BRIDGE_CONFIG, or no file.
//
// Load reports every value it cannot parse, and unknown keys in the file,
// joined in one error; the returned Config then holds the defaults in place
// of the bad values. Load does not validate: call Validate.
func Load(getenv func(string) string, filePath string) (Config, error) {
	if filePath == "" {
		filePath = strings.TrimSpace(getenv(FileEnv))
	}
	var errs []error
	var file map[string]string
	if filePath != "" {
		var err error
		file, err = readFile(filePath)
		if err != nil {
			errs = append(errs, err)
		}
	}

	c := defaults()
	for _, s := range settings {
		raw, source, err := s.lookup(getenv, file, filePath)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if raw == "" {
			continue
		}
		if err := s.parse(&c, raw); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", source, err))
		}
	}
	if c.UiPathTokenURL == "" {
		c.UiPathTokenURL = defaultTokenURL(c.UiPathURL)
	}
	return c, errors.Join(errs...)
}

// readFile reads the YAML file into raw values by key, in the same textual
// form as the environment variables. Its errors never quote values.
func readFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config file %s: %w", path, err)
	}
	if len(doc.Content) == 0 { // empty file
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config file %s: want a mapping of keys to values", path)
	}
	byKey := make(map[string]setting, len(settings))
	for _, s := range settings {
		byKey[s.key] = s
	}
	for _, s := range settings {
		if _, taken := byKey[s.fileKey()]; s.hasFile() && !taken {
			byKey[s.fileKey()] = text(s.fileKey(), nil) // a path
		}
	}
	values := make(map[string]string, len(root.Content)/2)
	var errs []error
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, node := root.Content[i].Value, root.Content[i+1]
		s, ok := byKey[key]
		if !ok {
			errs = append(errs, fmt.Errorf("config file %s: line %d: unknown key %q", path, root.Content[i].Line, key))
			continue
		}
		if _, dup := values[key]; dup {
			errs = append(errs, fmt.Errorf("config file %s: line %d: %s given twice", path, root.Content[i].Line, key))
			continue
		}
		v, err := s.fromYAML(node)
		if err != nil {
			errs = append(errs, fmt.Errorf("config file %s: line %d: %s: %w", path, node.Line, key, err))
			continue
		}
		values[key] = strings.TrimSpace(v)
	}
	return values, errors.Join(errs...)
}

// ParseTimeOfDay reads a UTC time of day written HH:MM (24-hour) and
// returns it as the time since midnight.
func ParseTimeOfDay(s string) (time.Duration, error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a time of day: want HH:MM, 24-hour, UTC (e.g. 02:00)", s)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// SchemaExtension is one entry of SchemaExtensions, parsed.
type SchemaExtension struct {
	URN   string
	Attrs []SchemaExtensionAttr
}

// SchemaExtensionAttr is one declared attribute; Type is "string" when the
// entry names none.
type SchemaExtensionAttr struct {
	Name, Type string
}

// ParseSchemaExtension parses one entry of SchemaExtensions. It checks the
// syntax only; whether the URN and types are acceptable is the SCIM
// layer's to say (Validate reports what it gets from check).
func ParseSchemaExtension(entry string) (SchemaExtension, error) {
	urn, attrs, hasAttrs := strings.Cut(entry, "=")
	e := SchemaExtension{URN: urn}
	if urn == "" {
		return e, errors.New("an entry needs an extension URN")
	}
	if !hasAttrs {
		return e, nil
	}
	for _, a := range strings.Split(attrs, ",") {
		name, typ, _ := strings.Cut(a, ":")
		if name == "" {
			return e, fmt.Errorf("%s: empty attribute name", urn)
		}
		if typ == "" {
			typ = "string"
		}
		e.Attrs = append(e.Attrs, SchemaExtensionAttr{Name: name, Type: typ})
	}
	return e, nil
}
