package config

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Entry is one setting as check-config prints it.
type Entry struct {
	// Name is the environment variable, e.g. SCIM_BRIDGE_LISTEN.
	Name string
	// Value is the effective value in the variable's syntax; a secret
	// shows as "<secret>" (one per token for SCIM_BRIDGE_TOKENS and
	// SCIM_BRIDGE_ADMIN_TOKENS).
	Value string
	// Default reports whether Value is the default.
	Default bool
}

// Entries returns every setting of c with its value, in the order of
// Config's fields. Secrets are redacted.
func (c Config) Entries() []Entry {
	d := defaults()
	d.UiPathTokenURL = defaultTokenURL(c.UiPathURL)
	entries := make([]Entry, len(settings))
	for i, s := range settings {
		v := s.format(c)
		entries[i] = Entry{Name: s.env(), Value: v, Default: v == s.format(d)}
	}
	return entries
}

// yamlShape is the YAML form a setting accepts besides a scalar.
type yamlShape int

const (
	scalarOnly yamlShape = iota
	sequence             // a sequence of scalars, joined with setting.sep
	mapping              // a mapping of scalars, joined as k=v with ","
)

// setting describes one configuration variable: its key, how its text is
// parsed into a Config and how it is printed back.
type setting struct {
	key   string // YAML key; the variable is EnvPrefix + upper(key)
	shape yamlShape
	sep   string // list separator for sequence
	// parse stores the trimmed, non-empty text v into c. It leaves c
	// unchanged on error, and its errors never quote secrets.
	parse func(c *Config, v string) error
	// format prints the setting of c in the variable's syntax, redacted.
	format func(c Config) string
	// secret reports whether the setting holds a credential: it then has a
	// _FILE variant (see fileEnv), unless noFile is set.
	secret bool
	// noFile withholds the generic _FILE variant from a secret setting that
	// reads its file in its own way.
	noFile bool
}

func (s setting) env() string { return EnvPrefix + strings.ToUpper(s.key) }

// fromYAML returns the variable text of a YAML value; "" for null. Its
// errors never quote the value.
func (s setting) fromYAML(n *yaml.Node) (string, error) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	switch {
	case n.Kind == yaml.ScalarNode && n.Tag == "!!null":
		return "", nil
	case n.Kind == yaml.ScalarNode:
		return n.Value, nil
	case n.Kind == yaml.SequenceNode && s.shape == sequence:
		parts := make([]string, len(n.Content))
		for i, e := range n.Content {
			if e.Kind != yaml.ScalarNode {
				return "", errors.New("want a list of strings")
			}
			parts[i] = e.Value
		}
		return strings.Join(parts, s.sep), nil
	case n.Kind == yaml.MappingNode && s.shape == mapping:
		var parts []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode {
				return "", errors.New("want a mapping of names to numbers")
			}
			parts = append(parts, k.Value+"="+v.Value)
		}
		return strings.Join(parts, ","), nil
	case s.shape == sequence:
		return "", errors.New("want a string or a list of strings")
	case s.shape == mapping:
		return "", errors.New("want a string or a mapping")
	default:
		return "", errors.New("want a single value")
	}
}

// settings lists every variable in the order of Config's fields.
var settings = []setting{
	text("listen", func(c *Config) *string { return &c.Listen }),
	// SCIM_BRIDGE_TOKENS_FILE is a token file of its own, not the generic
	// _FILE variant.
	withoutFile(secrets("tokens", func(c *Config) *[]Secret { return &c.Tokens })),
	urlText("oidc_issuer", func(c *Config) *string { return &c.OIDCIssuer }),
	text("oidc_audience", func(c *Config) *string { return &c.OIDCAudience }),
	{
		key: "oidc_required_claims", shape: mapping,
		parse: func(c *Config, v string) error {
			m, err := parseClaims(v)
			if err != nil {
				return err
			}
			c.OIDCRequiredClaims = m
			return nil
		},
		format: func(c Config) string { return formatClaims(c.OIDCRequiredClaims) },
	},
	text("oidc_name", func(c *Config) *string { return &c.OIDCName }),
	text("tokens_file", func(c *Config) *string { return &c.TokensFile }),
	{
		key: "oauth_clients", shape: sequence, sep: ",",
		parse:  secrets("oauth_clients", func(c *Config) *[]Secret { return &c.OAuthClients }).parse,
		format: func(c Config) string { return formatOAuthClients(c.OAuthClients) },
	},
	duration("oauth_token_ttl", func(c *Config) *time.Duration { return &c.OAuthTokenTTL }),
	secret("oauth_signing_key", func(c *Config) *Secret { return &c.OAuthSigningKey }),
	{
		key: "admin_listen",
		parse: func(c *Config, v string) error {
			if strings.EqualFold(v, AdminOff) {
				v = AdminOff
			}
			c.AdminListen = v
			return nil
		},
		format: func(c Config) string { return c.AdminListen },
	},
	secrets("admin_tokens", func(c *Config) *[]Secret { return &c.AdminTokens }),
	text("tls_cert_file", func(c *Config) *string { return &c.TLSCertFile }),
	text("tls_key_file", func(c *Config) *string { return &c.TLSKeyFile }),
	duration("drain_delay", func(c *Config) *time.Duration { return &c.DrainDelay }),
	{
		key: "uipath_url",
		parse: func(c *Config, v string) error {
			c.UiPathURL = strings.TrimRight(v, "/")
			return nil
		},
		format: func(c Config) string { return RedactURL(c.UiPathURL) },
	},
	urlText("uipath_token_url", func(c *Config) *string { return &c.UiPathTokenURL }),
	text("uipath_client_id", func(c *Config) *string { return &c.UiPathClientID }),
	secret("uipath_client_secret", func(c *Config) *Secret { return &c.UiPathClientSecret }),
	{
		key: "uipath_scopes", shape: sequence, sep: " ",
		parse: func(c *Config, v string) error {
			c.UiPathScopes = strings.Fields(v)
			return nil
		},
		format: func(c Config) string { return strings.Join(c.UiPathScopes, " ") },
	},
	text("uipath_partition_id", func(c *Config) *string { return &c.UiPathPartitionID }),
	secretURL("redis_url", func(c *Config) *Secret { return &c.RedisURL }),
	text("redis_prefix", func(c *Config) *string { return &c.RedisPrefix }),
	text("data_dir", func(c *Config) *string { return &c.DataDir }),
	duration("audit_retention", func(c *Config) *time.Duration { return &c.AuditRetention }),
	word("membership_strategy", func(c *Config) *string { return &c.MembershipStrategy }),
	word("membership_writes", func(c *Config) *string { return &c.MembershipWrites }),
	word("deprovision", func(c *Config) *string { return &c.Deprovision }),
	word("username_change", func(c *Config) *string { return &c.UserNameChange }),
	{
		key: "schema_extensions", shape: sequence, sep: " ",
		parse: func(c *Config, v string) error {
			c.SchemaExtensions = strings.Fields(v)
			return nil
		},
		format: func(c Config) string { return strings.Join(c.SchemaExtensions, " ") },
	},
	{
		key: "uipath_budget", shape: mapping,
		parse: func(c *Config, v string) error {
			b, err := parseBudget(v)
			if err != nil {
				return err
			}
			if c.Budget == nil {
				c.Budget = make(map[string]int, len(b))
			}
			for m, n := range b {
				c.Budget[m] = n
			}
			return nil
		},
		format: func(c Config) string { return formatBudget(c.Budget) },
	},
	duration("uipath_budget_window", func(c *Config) *time.Duration { return &c.BudgetWindow }),
	{
		key: "deprovision_reserve",
		parse: func(c *Config, v string) error {
			r, err := parseShare(v)
			if err != nil {
				return err
			}
			c.DeprovisionReserve = r
			return nil
		},
		format: func(c Config) string { return formatShare(c.DeprovisionReserve) },
	},
	duration("uipath_timeout", func(c *Config) *time.Duration { return &c.UpstreamTimeout }),
	duration("uipath_late_write_window", func(c *Config) *time.Duration { return &c.LateWriteWindow }),
	duration("reconcile_interval", func(c *Config) *time.Duration { return &c.ReconcileInterval }),
	text("reconcile_at", func(c *Config) *string { return &c.ReconcileAt }),
	{
		key: "max_body_bytes",
		parse: func(c *Config, v string) error {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%q is not an integer number of bytes", v)
			}
			c.MaxBodyBytes = n
			return nil
		},
		format: func(c Config) string { return strconv.FormatInt(c.MaxBodyBytes, 10) },
	},
	{
		key: "adopt_existing",
		parse: func(c *Config, v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not a boolean (true or false)", v)
			}
			c.AdoptExisting = b
			return nil
		},
		format: func(c Config) string { return strconv.FormatBool(c.AdoptExisting) },
	},
	word("log_level", func(c *Config) *string { return &c.LogLevel }),
	word("log_format", func(c *Config) *string { return &c.LogFormat }),
	word("log_pii", func(c *Config) *string { return &c.LogPII }),
	duration("shutdown_timeout", func(c *Config) *time.Duration { return &c.ShutdownTimeout }),
}

// text is a string setting kept as written.
func text(key string, field func(*Config) *string) setting {
	return setting{
		key:    key,
		parse:  func(c *Config, v string) error { *field(c) = v; return nil },
		format: func(c Config) string { return *field(&c) },
	}
}

// urlText is a URL setting kept as written; a password in it prints
// redacted (RedactURL).
func urlText(key string, field func(*Config) *string) setting {
	s := text(key, field)
	s.format = func(c Config) string { return RedactURL(*field(&c)) }
	return s
}

// word is a keyword setting, compared case-insensitively: it is stored
// lower-cased; Validate checks it against the allowed words.
func word(key string, field func(*Config) *string) setting {
	s := text(key, field)
	s.parse = func(c *Config, v string) error { *field(c) = strings.ToLower(v); return nil }
	return s
}

// secret is a Secret setting.
func secret(key string, field func(*Config) *Secret) setting {
	return setting{
		key:    key,
		parse:  func(c *Config, v string) error { *field(c) = Secret(v); return nil },
		format: func(c Config) string { return field(&c).String() },
		secret: true,
	}
}

// secretURL is a Secret setting holding a URL that may carry a password:
// it prints with only the password redacted (RedactURL).
func secretURL(key string, field func(*Config) *Secret) setting {
	s := secret(key, field)
	s.format = func(c Config) string { return RedactURL(field(&c).Reveal()) }
	return s
}

// withoutFile returns s without the generic _FILE variant.
func withoutFile(s setting) setting {
	s.noFile = true
	return s
}

// secrets is a comma-separated list of Secrets (bearer tokens); empty
// items are dropped.
func secrets(key string, field func(*Config) *[]Secret) setting {
	return setting{
		key: key, shape: sequence, sep: ",",
		parse: func(c *Config, v string) error {
			var list []Secret
			for _, t := range strings.Split(v, ",") {
				if t = strings.TrimSpace(t); t != "" {
					list = append(list, Secret(t))
				}
			}
			*field(c) = list
			return nil
		},
		format: func(c Config) string { return joinSecrets(*field(&c)) },
		secret: true,
	}
}

// duration is a time.Duration setting in time.ParseDuration syntax.
func duration(key string, field func(*Config) *time.Duration) setting {
	return setting{
		key: key,
		parse: func(c *Config, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil {
				return fmt.Errorf("%q is not a duration (e.g. 30s, 5m)", v)
			}
			*field(c) = d
			return nil
		},
		format: func(c Config) string { return field(&c).String() },
	}
}

func joinSecrets(ss []Secret) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.String()
	}
	return strings.Join(parts, ",")
}

// parseShare parses a share of a whole written as a percentage ("10%",
// "12.5%") or a fraction ("0.1"). The range is Validate's to check.
func parseShare(v string) (float64, error) {
	bad := fmt.Errorf("%q is not a percentage (e.g. 10%%) or a fraction (e.g. 0.1)", v)
	num, percent := strings.CutSuffix(v, "%")
	num = strings.TrimSpace(num)
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, bad
	}
	if !percent {
		return f, nil
	}
	// Shifting the decimal point in the text gives the float nearest the
	// written value ("7%" is exactly what "0.07" is); dividing by 100 may
	// not.
	if r, err := strconv.ParseFloat(num+"e-2", 64); err == nil {
		return r, nil
	}
	return f / 100, nil
}

// formatShare prints r as parseShare reads it: as the shortest percentage
// that reads back as r, or as a fraction where none does.
func formatShare(r float64) string {
	for prec := 0; prec <= 15; prec++ {
		p := strconv.FormatFloat(r*100, 'f', prec, 64) + "%"
		if back, err := parseShare(p); err == nil && back == r {
			return p
		}
	}
	return strconv.FormatFloat(r, 'g', -1, 64)
}

// budgetMethods are the method classes a budget may name, in print order.
var budgetMethods = []string{"GET", "POST", "PUT", "DELETE", "PATCH"}

// parseBudget parses "GET=300,PUT=160" (method names case-insensitive,
// empty items ignored). It reports every malformed item in one error.
func parseBudget(v string) (map[string]int, error) {
	b := make(map[string]int)
	var errs []string
	for _, item := range strings.Split(v, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		m, n, ok := strings.Cut(item, "=")
		m = strings.ToUpper(strings.TrimSpace(m))
		switch count, err := strconv.Atoi(strings.TrimSpace(n)); {
		case !ok:
			errs = append(errs, fmt.Sprintf("%q: want METHOD=COUNT", item))
		case !slices.Contains(budgetMethods, m):
			errs = append(errs, fmt.Sprintf("%q: unknown method %q (want one of %s)", item, m, strings.Join(budgetMethods, ", ")))
		case err != nil || count <= 0:
			errs = append(errs, fmt.Sprintf("%q: count must be a positive integer", item))
		default:
			if _, dup := b[m]; dup {
				errs = append(errs, fmt.Sprintf("%q: %s given twice", item, m))
				continue
			}
			b[m] = count
		}
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "; "))
	}
	return b, nil
}

// formatBudget prints b in parseBudget's syntax, known methods first in
// budgetMethods order.
func formatBudget(b map[string]int) string {
	var parts []string
	for _, m := range budgetMethods {
		if n, ok := b[m]; ok {
			parts = append(parts, fmt.Sprintf("%s=%d", m, n))
		}
	}
	var other []string
	for m, n := range b {
		if !slices.Contains(budgetMethods, m) {
			other = append(other, fmt.Sprintf("%s=%d", m, n))
		}
	}
	slices.Sort(other)
	return strings.Join(append(parts, other...), ",")
}
