package config

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// envOf returns a getenv that reads m.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeFile writes a YAML config file into a fresh directory.
func writeFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scim-bridge.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// diffConfig lists the fields that differ, secrets revealed (test values).
func diffConfig(got, want Config) string {
	reveal := func(v reflect.Value) any {
		switch x := v.Interface().(type) {
		case Secret:
			return x.Reveal()
		case []Secret:
			s := make([]string, len(x))
			for i, e := range x {
				s[i] = e.Reveal()
			}
			return s
		}
		return v.Interface()
	}
	var b strings.Builder
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range g.NumField() {
		gv, wv := reveal(g.Field(i)), reveal(w.Field(i))
		if !reflect.DeepEqual(gv, wv) {
			fmt.Fprintf(&b, "%s: got %#v, want %#v\n", g.Type().Field(i).Name, gv, wv)
		}
	}
	return b.String()
}

// wantErrors checks that err holds every substring in want, or is nil when
// want is empty.
func wantErrors(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error:\n%v", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("no error, want one containing %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
}

func TestLoadDefaults(t *testing.T) {
	got, err := Load(envOf(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Listen:             ":8080",
		OIDCName:           "oidc",
		OAuthTokenTTL:      time.Hour,
		AdminListen:        "127.0.0.1:8081",
		DrainDelay:         5 * time.Second,
		UiPathScopes:       []string{"PM.User", "PM.Group"},
		RedisPrefix:        "scim-bridge",
		DataDir:            "./data",
		AuditRetention:     2160 * time.Hour,
		MembershipStrategy: "auto",
		MembershipWrites:   "queued",
		Deprovision:        "disable",
		UserNameChange:     "keep",
		Budget:             map[string]int{"GET": 300, "POST": 24000, "PUT": 160, "DELETE": 160},
		BudgetWindow:       5 * time.Minute,
		DeprovisionReserve: 0.1,
		UpstreamTimeout:    30 * time.Second,
		LateWriteWindow:    2 * time.Minute,
		MaxBodyBytes:       8388608,
		AdoptExisting:      true,
		LogLevel:           "info",
		LogFormat:          "json",
		LogPII:             "hash",
		ShutdownTimeout:    15 * time.Second,
	}
	if d := diffConfig(got, want); d != "" {
		t.Error(d)
	}
}

func TestLoadEnv(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want func(*Config) // applied to the defaults
	}{
		{
			name: "every variable",
			env: map[string]string{
				"SCIM_BRIDGE_LISTEN":                   "127.0.0.1:9090",
				"SCIM_BRIDGE_TOKENS":                   "tok-a,tok-b",
				"SCIM_BRIDGE_OIDC_ISSUER":              "https://idp.example",
				"SCIM_BRIDGE_OIDC_AUDIENCE":            "scim-bridge",
				"SCIM_BRIDGE_OIDC_REQUIRED_CLAIMS":     "azp=app-1, tid = tenant-1",
				"SCIM_BRIDGE_OIDC_NAME":                "entra-wif",
				"SCIM_BRIDGE_TOKENS_FILE":              "/run/secrets/tokens",
				"SCIM_BRIDGE_OAUTH_CLIENTS":            "entra:sha256:" + strings.Repeat("ab", 32),
				"SCIM_BRIDGE_OAUTH_TOKEN_TTL":          "15m",
				"SCIM_BRIDGE_OAUTH_SIGNING_KEY":        "signing-key",
				"SCIM_BRIDGE_ADMIN_LISTEN":             "[::1]:9999",
				"SCIM_BRIDGE_ADMIN_TOKENS":             "adm-a, adm-b",
				"SCIM_BRIDGE_TLS_CERT_FILE":            "/etc/tls/tls.crt",
				"SCIM_BRIDGE_TLS_KEY_FILE":             "/etc/tls/tls.key",
				"SCIM_BRIDGE_DRAIN_DELAY":              "0s",
				"SCIM_BRIDGE_UIPATH_URL":               "https://cloud.uipath.com/acme/identity_",
				"SCIM_BRIDGE_UIPATH_TOKEN_URL":         "https://cloud.uipath.com/identity_/connect/token",
				"SCIM_BRIDGE_UIPATH_CLIENT_ID":         "client",
				"SCIM_BRIDGE_UIPATH_CLIENT_SECRET":     "shh",
				"SCIM_BRIDGE_UIPATH_SCOPES":            "PM.User  PM.Group",
				"SCIM_BRIDGE_UIPATH_PARTITION_ID":      "0b5a1f3e-0c4d-4c61-9f55-6f1a3c2d9e10",
				"SCIM_BRIDGE_REDIS_URL":                "redis://:pw@redis:6379/0",
				"SCIM_BRIDGE_REDIS_PREFIX":             "acme",
				"SCIM_BRIDGE_DATA_DIR":                 "/data",
				"SCIM_BRIDGE_AUDIT_RETENTION":          "720h",
				"SCIM_BRIDGE_MEMBERSHIP_STRATEGY":      "group",
				"SCIM_BRIDGE_MEMBERSHIP_WRITES":        "sync",
				"SCIM_BRIDGE_DEPROVISION":              "delete",
				"SCIM_BRIDGE_USERNAME_CHANGE":          "Refuse",
				"SCIM_BRIDGE_UIPATH_BUDGET":            "GET=100,POST=1000,PUT=50,DELETE=40,PATCH=10",
				"SCIM_BRIDGE_UIPATH_BUDGET_WINDOW":     "1m",
				"SCIM_BRIDGE_DEPROVISION_RESERVE":      "25%",
				"SCIM_BRIDGE_UIPATH_TIMEOUT":           "10s",
				"SCIM_BRIDGE_UIPATH_LATE_WRITE_WINDOW": "5m",
				"SCIM_BRIDGE_MAX_BODY_BYTES":           "1048576",
				"SCIM_BRIDGE_ADOPT_EXISTING":           "false",
				"SCIM_BRIDGE_LOG_LEVEL":                "debug",
				"SCIM_BRIDGE_LOG_FORMAT":               "text",
				"SCIM_BRIDGE_LOG_PII":                  "Off",
				"SCIM_BRIDGE_SHUTDOWN_TIMEOUT":         "2s",
			},
			want: func(c *Config) {
				*c = Config{
					Listen:             "127.0.0.1:9090",
					Tokens:             []Secret{"tok-a", "tok-b"},
					OIDCIssuer:         "https://idp.example",
					OIDCAudience:       "scim-bridge",
					OIDCRequiredClaims: map[string]string{"azp": "app-1", "tid": "tenant-1"},
					OIDCName:           "entra-wif",
					TokensFile:         "/run/secrets/tokens",
					OAuthClients:       []Secret{Secret("entra:sha256:" + strings.Repeat("ab", 32))},
					OAuthTokenTTL:      15 * time.Minute,
					OAuthSigningKey:    "signing-key",
					AdminListen:        "[::1]:9999",
					AdminTokens:        []Secret{"adm-a", "adm-b"},
					TLSCertFile:        "/etc/tls/tls.crt",
					TLSKeyFile:         "/etc/tls/tls.key",
					UiPathURL:          "https://cloud.uipath.com/acme/identity_",
					UiPathTokenURL:     "https://cloud.uipath.com/identity_/connect/token",
					UiPathClientID:     "client",
					UiPathClientSecret: "shh",
					UiPathScopes:       []string{"PM.User", "PM.Group"},
					UiPathPartitionID:  "0b5a1f3e-0c4d-4c61-9f55-6f1a3c2d9e10",
					RedisURL:           "redis://:pw@redis:6379/0",
					RedisPrefix:        "acme",
					DataDir:            "/data",
					AuditRetention:     720 * time.Hour,
					MembershipStrategy: "group",
					MembershipWrites:   "sync",
					Deprovision:        "delete",
					UserNameChange:     "refuse",
					Budget:             map[string]int{"GET": 100, "POST": 1000, "PUT": 50, "DELETE": 40, "PATCH": 10},
					BudgetWindow:       time.Minute,
					DeprovisionReserve: 0.25,
					UpstreamTimeout:    10 * time.Second,
					LateWriteWindow:    5 * time.Minute,
					MaxBodyBytes:       1 << 20,
					AdoptExisting:      false,
					LogLevel:           "debug",
					LogFormat:          "text",
					LogPII:             "off",
					ShutdownTimeout:    2 * time.Second,
				}
			},
		},
		{
			name: "token URL derived from the root, trailing slash dropped",
			env:  map[string]string{"SCIM_BRIDGE_UIPATH_URL": "http://localhost:8081/identity_/"},
			want: func(c *Config) {
				c.UiPathURL = "http://localhost:8081/identity_"
				c.UiPathTokenURL = "http://localhost:8081/identity_/connect/token"
			},
		},
		{
			name: "tokens trimmed, empty items dropped",
			env:  map[string]string{"SCIM_BRIDGE_TOKENS": " a , ,b,"},
			want: func(c *Config) { c.Tokens = []Secret{"a", "b"} },
		},
		{
			name: "keywords case-insensitive, values trimmed",
			env: map[string]string{
				"SCIM_BRIDGE_MEMBERSHIP_STRATEGY": " Group ",
				"SCIM_BRIDGE_LOG_LEVEL":           "WARN",
				"SCIM_BRIDGE_LISTEN":              " :9000 ",
			},
			want: func(c *Config) {
				c.MembershipStrategy = "group"
				c.LogLevel = "warn"
				c.Listen = ":9000"
			},
		},
		{
			name: "admin listener off, any case",
			env:  map[string]string{"SCIM_BRIDGE_ADMIN_LISTEN": "OFF"},
			want: func(c *Config) { c.AdminListen = AdminOff },
		},
		{
			name: "membership writes case-insensitive",
			env:  map[string]string{"SCIM_BRIDGE_MEMBERSHIP_WRITES": "Sync"},
			want: func(c *Config) { c.MembershipWrites = "sync" },
		},
		{
			name: "reserve as a fraction",
			env:  map[string]string{"SCIM_BRIDGE_DEPROVISION_RESERVE": "0.07"},
			want: func(c *Config) { c.DeprovisionReserve = 0.07 },
		},
		{
			name: "reserve as a percentage is the same number as the fraction",
			env:  map[string]string{"SCIM_BRIDGE_DEPROVISION_RESERVE": "7%"},
			want: func(c *Config) { c.DeprovisionReserve = 0.07 },
		},
		{
			name: "reserve: a fractional percentage, a space before the sign",
			env:  map[string]string{"SCIM_BRIDGE_DEPROVISION_RESERVE": "12.5 %"},
			want: func(c *Config) { c.DeprovisionReserve = 0.125 },
		},
		{
			name: "reserve off",
			env:  map[string]string{"SCIM_BRIDGE_DEPROVISION_RESERVE": "0%"},
			want: func(c *Config) { c.DeprovisionReserve = 0 },
		},
		{
			name: "nightly reconciliation at a time, then every interval",
			env:  map[string]string{"SCIM_BRIDGE_RECONCILE_INTERVAL": "24h", "SCIM_BRIDGE_RECONCILE_AT": "02:30"},
			want: func(c *Config) { c.ReconcileInterval, c.ReconcileAt = 24*time.Hour, "02:30" },
		},
		{
			name: "budget methods not listed keep their default",
			env:  map[string]string{"SCIM_BRIDGE_UIPATH_BUDGET": "get=10, patch=5"},
			want: func(c *Config) {
				c.Budget = map[string]int{"GET": 10, "POST": 24000, "PUT": 160, "DELETE": 160, "PATCH": 5}
			},
		},
		{
			name: "empty variables count as unset",
			env:  map[string]string{"SCIM_BRIDGE_LISTEN": "", "SCIM_BRIDGE_ADOPT_EXISTING": "  "},
			want: func(*Config) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Load(envOf(tt.env), "")
			if err != nil {
				t.Fatal(err)
			}
			want := defaults()
			tt.want(&want)
			if d := diffConfig(got, want); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	const file = `
listen: ":7000"
tokens: [file-a, file-b]
uipath_url: https://file.example/identity_
uipath_client_id: from-file
uipath_client_secret: file-secret
uipath_scopes:
  - PM.User
  - PM.Group
uipath_budget:
  GET: 50
  PUT: 20
uipath_timeout: 5s
deprovision_reserve: 20%
membership_writes: sync
admin_listen: 0.0.0.0:9464
admin_tokens: [adm-1]
max_body_bytes: 1024
adopt_existing: false
data_dir: ~
`
	tests := []struct {
		name     string
		env      map[string]string
		explicit bool // pass the path to Load rather than through SCIM_BRIDGE_CONFIG
		want     func(*Config)
	}{
		{
			name:     "file only",
			explicit: true,
			want:     func(*Config) {},
		},
		{
			name: "path from SCIM_BRIDGE_CONFIG",
			want: func(*Config) {},
		},
		{
			name: "environment overrides the file",
			env: map[string]string{
				"SCIM_BRIDGE_LISTEN":               ":7001",
				"SCIM_BRIDGE_TOKENS":               "env-a",
				"SCIM_BRIDGE_UIPATH_CLIENT_SECRET": "env-secret",
				"SCIM_BRIDGE_UIPATH_BUDGET":        "DELETE=1",
				"SCIM_BRIDGE_ADOPT_EXISTING":       "true",
				"SCIM_BRIDGE_DEPROVISION_RESERVE":  "0.05",
			},
			want: func(c *Config) {
				c.DeprovisionReserve = 0.05
				c.Listen = ":7001"
				c.Tokens = []Secret{"env-a"}
				c.UiPathClientSecret = "env-secret"
				c.Budget = map[string]int{"GET": 300, "POST": 24000, "PUT": 160, "DELETE": 1}
				c.AdoptExisting = true
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, file)
			env := map[string]string{}
			for k, v := range tt.env {
				env[k] = v
			}
			arg := path
			if !tt.explicit {
				env[FileEnv], arg = path, ""
			}
			got, err := Load(envOf(env), arg)
			if err != nil {
				t.Fatal(err)
			}
			want := defaults()
			want.Listen = ":7000"
			want.Tokens = []Secret{"file-a", "file-b"}
			want.UiPathURL = "https://file.example/identity_"
			want.UiPathTokenURL = "https://file.example/identity_/connect/token"
			want.UiPathClientID = "from-file"
			want.UiPathClientSecret = "file-secret"
			want.UiPathScopes = []string{"PM.User", "PM.Group"}
			want.Budget = map[string]int{"GET": 50, "POST": 24000, "PUT": 20, "DELETE": 160}
			want.UpstreamTimeout = 5 * time.Second
			want.DeprovisionReserve = 0.2
			want.AdminListen = "0.0.0.0:9464"
			want.AdminTokens = []Secret{"adm-1"}
			want.MembershipWrites = "sync"
			want.MaxBodyBytes = 1024
			want.AdoptExisting = false
			tt.want(&want)
			if d := diffConfig(got, want); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestLoadEmptyFile(t *testing.T) {
	got, err := Load(envOf(nil), writeFile(t, "# nothing\n"))
	if err != nil {
		t.Fatal(err)
	}
	if d := diffConfig(got, defaults()); d != "" {
		t.Error(d)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		file       string // YAML body; "" means no file
		wantErrors []string
	}{
		{
			name: "every bad value is reported",
			env: map[string]string{
				"SCIM_BRIDGE_UIPATH_TIMEOUT":   "soon",
				"SCIM_BRIDGE_MAX_BODY_BYTES":   "8MB",
				"SCIM_BRIDGE_ADOPT_EXISTING":   "maybe",
				"SCIM_BRIDGE_SHUTDOWN_TIMEOUT": "15",
			},
			wantErrors: []string{
				`SCIM_BRIDGE_UIPATH_TIMEOUT: "soon" is not a duration`,
				`SCIM_BRIDGE_MAX_BODY_BYTES: "8MB" is not an integer`,
				`SCIM_BRIDGE_ADOPT_EXISTING: "maybe" is not a boolean`,
				`SCIM_BRIDGE_SHUTDOWN_TIMEOUT: "15" is not a duration`,
			},
		},
		{
			name: "budget: every malformed item",
			env:  map[string]string{"SCIM_BRIDGE_UIPATH_BUDGET": "GET,HEAD=5,PUT=0,DELETE=-1,POST=x,GET=1,GET=2"},
			wantErrors: []string{
				`"GET": want METHOD=COUNT`,
				`"HEAD=5": unknown method "HEAD"`,
				`"PUT=0": count must be a positive integer`,
				`"DELETE=-1": count must be a positive integer`,
				`"POST=x": count must be a positive integer`,
				`"GET=2": GET given twice`,
			},
		},
		{
			name: "reserve: not a share",
			env:  map[string]string{"SCIM_BRIDGE_DEPROVISION_RESERVE": "lots"},
			wantErrors: []string{
				`SCIM_BRIDGE_DEPROVISION_RESERVE: "lots" is not a percentage (e.g. 10%) or a fraction (e.g. 0.1)`,
			},
		},
		{
			name:       "reserve: NaN",
			env:        map[string]string{"SCIM_BRIDGE_DEPROVISION_RESERVE": "NaN"},
			wantErrors: []string{`SCIM_BRIDGE_DEPROVISION_RESERVE: "NaN" is not a percentage`},
		},
		{
			name:       "reserve: infinity",
			env:        map[string]string{"SCIM_BRIDGE_DEPROVISION_RESERVE": "-Inf%"},
			wantErrors: []string{`SCIM_BRIDGE_DEPROVISION_RESERVE: "-Inf%" is not a percentage`},
		},
		{
			name:       "reserve: two percent signs",
			env:        map[string]string{"SCIM_BRIDGE_DEPROVISION_RESERVE": "10%%"},
			wantErrors: []string{`SCIM_BRIDGE_DEPROVISION_RESERVE: "10%%" is not a percentage`},
		},
		{
			name:       "reserve in the file",
			file:       "deprovision_reserve: '%'\n",
			wantErrors: []string{"deprovision_reserve in ", `"%" is not a percentage`},
		},
		{
			name:       "budget: error names the variable",
			env:        map[string]string{"SCIM_BRIDGE_UIPATH_BUDGET": "GET=1.5"},
			wantErrors: []string{`SCIM_BRIDGE_UIPATH_BUDGET: "GET=1.5": count must be a positive integer`},
		},
		{
			name:       "budget in the file",
			file:       "uipath_budget: {GET: 0, TRACE: 1}\n",
			wantErrors: []string{"uipath_budget in ", `"GET=0": count must be`, `unknown method "TRACE"`},
		},
		{
			name:       "file value names the key",
			file:       "uipath_budget_window: forever\n",
			wantErrors: []string{`uipath_budget_window in `, `"forever" is not a duration`},
		},
		{
			name:       "unknown keys in the file",
			file:       "listen: ':1'\nlisten_addr: ':2'\nSCIM_BRIDGE_TOKENS: x\n",
			wantErrors: []string{`line 2: unknown key "listen_addr"`, `line 3: unknown key "SCIM_BRIDGE_TOKENS"`},
		},
		{
			name:       "key given twice in the file",
			file:       "listen: ':1'\nlisten: ':2'\n",
			wantErrors: []string{"line 2: listen given twice"},
		},
		{
			name:       "wrong shapes in the file",
			file:       "listen: [a, b]\ntokens: {a: b}\nuipath_scopes: [[PM.User]]\n",
			wantErrors: []string{"listen: want a single value", "tokens: want a string or a list of strings", "uipath_scopes: want a list of strings"},
		},
		{
			name:       "file is not a mapping",
			file:       "- listen\n",
			wantErrors: []string{"want a mapping of keys to values"},
		},
		{
			name:       "file is not YAML",
			file:       "listen: [\n",
			wantErrors: []string{"config file"},
		},
		{
			name:       "missing file",
			env:        map[string]string{FileEnv: "/nonexistent/scim-bridge.yaml"},
			wantErrors: []string{"config file", "/nonexistent/scim-bridge.yaml"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			got, err := Load(envOf(tt.env), path)
			wantErrors(t, err, tt.wantErrors)
			// Bad values leave the defaults in place.
			if d := defaults(); got.UpstreamTimeout != d.UpstreamTimeout || !reflect.DeepEqual(got.Budget, d.Budget) {
				t.Errorf("bad values were stored: timeout %v, budget %v", got.UpstreamTimeout, got.Budget)
			}
		})
	}
}

func TestEntries(t *testing.T) {
	c, err := Load(envOf(map[string]string{
		"SCIM_BRIDGE_TOKENS":               "tok-1,tok-2",
		"SCIM_BRIDGE_UIPATH_URL":           "https://cloud.uipath.com/acme/identity_",
		"SCIM_BRIDGE_UIPATH_CLIENT_SECRET": "s3",
		"SCIM_BRIDGE_UIPATH_BUDGET":        "PUT=100",
		"SCIM_BRIDGE_DEPROVISION":          "disable", // set, but to the default
		"SCIM_BRIDGE_SCHEMA_EXTENSIONS":    "urn:ietf:params:scim:schemas:extension:acme:2.0:User=costCenter",
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{
		{Name: "SCIM_BRIDGE_LISTEN", Value: ":8080", Default: true},
		{Name: "SCIM_BRIDGE_TOKENS", Value: "<secret>,<secret>"},
		{Name: "SCIM_BRIDGE_OIDC_ISSUER", Value: "", Default: true},
		{Name: "SCIM_BRIDGE_OIDC_AUDIENCE", Value: "", Default: true},
		{Name: "SCIM_BRIDGE_OIDC_REQUIRED_CLAIMS", Value: "", Default: true},
		{Name: "SCIM_BRIDGE_OIDC_NAME", Value: "oidc", Default: true},
		{Name: "SCIM_BRIDGE_TOKENS_FILE", Value: "", Default: true},
		{Name: "SCIM_BRIDGE_OAUTH_CLIENTS", Value: "", Default: true},
		{Name: "SCIM_BRIDGE_OAUTH_TOKEN_TTL", Value: "1h0m0s", Default: true},
		{Name: "SCIM_BRIDGE_OAUTH_SIGNING_KEY", Value: "", Default: true},
		{Name: "SCIM_BRIDGE_ADMIN_LISTEN", Value: "127.0.0.1:8081", Default: true},
		{Name: "SCIM_BRIDGE_ADMIN_TOKENS", Value: "", Default: true},
		{Name: "SCIM_BRIDGE_TLS_CERT_FILE", Value: "", Default: true},
		{Name: "SCIM_BRIDGE_TLS_KEY_FILE", Value: "", Default: true},
		{Name: "SCIM_BRIDGE_DRAIN_DELAY", Value: "5s", Default: true},
		{Name: "SCIM_BRIDGE_UIPATH_URL", Value: "https://cloud.uipath.com/acme/identity_"},
		{Name: "SCIM_BRIDGE_UIPATH_TOKEN_URL", Value: "https://cloud.uipath.com/acme/identity_/connect/token", Default: true},
		{Name: "SCIM_BRIDGE_UIPATH_CLIENT_ID", Value: "", Default: true},
		{Name: "SCIM_BRIDGE_UIPATH_CLIENT_SECRET", Value: "<secret>"},
		{Name: "SCIM_BRIDGE_UIPATH_SCOPES", Value: "PM.User PM.Group", Default: true},
		{Name: "SCIM_BRIDGE_UIPATH_PARTITION_ID", Value: "", Default: true},
		{Name: "SCIM_BRIDGE_REDIS_URL", Value: "", Default: true},
		{Name: "SCIM_BRIDGE_REDIS_PREFIX", Value: "scim-bridge", Default: true},
		{Name: "SCIM_BRIDGE_DATA_DIR", Value: "./data", Default: true},
		{Name: "SCIM_BRIDGE_AUDIT_RETENTION", Value: "2160h0m0s", Default: true},
		{Name: "SCIM_BRIDGE_MEMBERSHIP_STRATEGY", Value: "auto", Default: true},
		{Name: "SCIM_BRIDGE_MEMBERSHIP_WRITES", Value: "queued", Default: true},
		{Name: "SCIM_BRIDGE_DEPROVISION", Value: "disable", Default: true},
		{Name: "SCIM_BRIDGE_USERNAME_CHANGE", Value: "keep", Default: true},
		{Name: "SCIM_BRIDGE_SCHEMA_EXTENSIONS", Value: "urn:ietf:params:scim:schemas:extension:acme:2.0:User=costCenter", Default: false},
		{Name: "SCIM_BRIDGE_UIPATH_BUDGET", Value: "GET=300,POST=24000,PUT=100,DELETE=160"},
		{Name: "SCIM_BRIDGE_UIPATH_BUDGET_WINDOW", Value: "5m0s", Default: true},
		{Name: "SCIM_BRIDGE_DEPROVISION_RESERVE", Value: "10%", Default: true},
		{Name: "SCIM_BRIDGE_UIPATH_TIMEOUT", Value: "30s", Default: true},
		{Name: "SCIM_BRIDGE_UIPATH_LATE_WRITE_WINDOW", Value: "2m0s", Default: true},
		{Name: "SCIM_BRIDGE_RECONCILE_INTERVAL", Value: "0s", Default: true},
		{Name: "SCIM_BRIDGE_RECONCILE_AT", Value: "", Default: true},
		{Name: "SCIM_BRIDGE_MAX_BODY_BYTES", Value: "8388608", Default: true},
		{Name: "SCIM_BRIDGE_ADOPT_EXISTING", Value: "true", Default: true},
		{Name: "SCIM_BRIDGE_LOG_LEVEL", Value: "info", Default: true},
		{Name: "SCIM_BRIDGE_LOG_FORMAT", Value: "json", Default: true},
		{Name: "SCIM_BRIDGE_LOG_PII", Value: "hash", Default: true},
		{Name: "SCIM_BRIDGE_SHUTDOWN_TIMEOUT", Value: "15s", Default: true},
	}
	got := c.Entries()
	if !reflect.DeepEqual(got, want) {
		for i := range max(len(got), len(want)) {
			var g, w Entry
			if i < len(got) {
				g = got[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if g != w {
				t.Errorf("entry %d: got %+v, want %+v", i, g, w)
			}
		}
	}
}

// TestEntriesRoundTrip checks that every Entry value, fed back as its
// variable, loads to the same Config (secrets aside): Entries prints
// settings in the syntax Load reads.
func TestEntriesRoundTrip(t *testing.T) {
	c, err := Load(envOf(map[string]string{
		"SCIM_BRIDGE_UIPATH_URL":           "https://x.example/identity_",
		"SCIM_BRIDGE_UIPATH_BUDGET":        "PATCH=7",
		"SCIM_BRIDGE_UIPATH_BUDGET_WINDOW": "90s",
		"SCIM_BRIDGE_ADOPT_EXISTING":       "false",
		"SCIM_BRIDGE_DEPROVISION_RESERVE":  "0.07",
		"SCIM_BRIDGE_MEMBERSHIP_WRITES":    "sync",
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, e := range c.Entries() {
		if !strings.Contains(e.Value, redacted) {
			env[e.Name] = e.Value
		}
	}
	got, err := Load(envOf(env), "")
	if err != nil {
		t.Fatal(err)
	}
	if d := diffConfig(got, c); d != "" {
		t.Error(d)
	}
}

// TestShareRoundTrip: every share formatShare prints reads back as the same
// number, and the usual ones print as plain percentages.
func TestShareRoundTrip(t *testing.T) {
	printed := map[float64]string{0: "0%", 0.1: "10%", 0.07: "7%", 0.125: "12.5%", 0.5: "50%", 0.001: "0.1%", 1.0 / 3: ""}
	for r, want := range printed {
		got := formatShare(r)
		if want != "" && got != want {
			t.Errorf("formatShare(%v) = %q, want %q", r, got, want)
		}
		if back, err := parseShare(got); err != nil || back != r {
			t.Errorf("formatShare(%v) = %q reads back as %v, %v", r, got, back, err)
		}
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		r := rnd.Float64()
		if rnd.IntN(2) == 0 {
			r = float64(rnd.IntN(10001)) / 10000 // hundredths of a percent
		}
		if back, err := parseShare(formatShare(r)); err != nil || back != r {
			t.Fatalf("%v prints as %q, reads back as %v, %v", r, formatShare(r), back, err)
		}
	}
}
