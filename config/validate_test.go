package config

import (
	"math"
	"strings"
	"testing"
	"time"
)

// idpToken is a static IdP token of the shortest accepted length.
const idpToken = "idp-token-0123456789abcdef012345"

// validConfig returns a Config that passes Validate.
func validConfig() Config {
	c := defaults()
	c.Tokens = []Secret{idpToken}
	c.UiPathURL = "https://cloud.uipath.com/acme/identity_"
	c.UiPathTokenURL = defaultTokenURL(c.UiPathURL)
	c.UiPathClientID = "client"
	c.UiPathClientSecret = "secret"
	return c
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name       string
		change     func(*Config)
		wantErrors []string // each must appear; none means valid
	}{
		{name: "valid", change: func(*Config) {}},
		{
			name:   "valid nightly reconciliation",
			change: func(c *Config) { c.ReconcileInterval, c.ReconcileAt = 24*time.Hour, "23:59" },
		},
		{
			name:   "reconciliation too often, or at no time of day",
			change: func(c *Config) { c.ReconcileInterval, c.ReconcileAt = 30*time.Second, "24:00" },
			wantErrors: []string{
				`SCIM_BRIDGE_RECONCILE_INTERVAL: 30s: want 0 (off) or at least 1m`,
				`SCIM_BRIDGE_RECONCILE_AT: "24:00" is not a time of day: want HH:MM`,
			},
		},
		{
			name: "valid with OIDC only, Redis and a partition",
			change: func(c *Config) {
				c.Tokens = nil
				c.OIDCIssuer, c.OIDCAudience = "https://login.example/tenant/v2.0", "api://scim-bridge"
				c.RedisURL = "rediss://user:pw@redis.example:6380/2"
				c.UiPathPartitionID = "0B5A1F3E-0C4D-4C61-9F55-6F1A3C2D9E10"
				c.Listen = "127.0.0.1:0"
			},
		},
		{
			name: "valid with a Unix socket Redis and no data dir",
			change: func(c *Config) {
				c.RedisURL = "unix:///run/redis.sock"
				c.DataDir = ""
			},
		},
		{
			name: "valid with Redis Sentinel",
			change: func(c *Config) {
				c.RedisURL = "redis://:sentinel-pw@sentinel1:26379/0?master_name=mymaster&addr=sentinel2:26379&password=pw"
			},
		},
		{
			name: "every problem at once",
			change: func(c *Config) {
				*c = Config{OIDCAudience: "aud", Budget: map[string]int{"GET": 0, "HEAD": 5}, UiPathPartitionID: "acme"}
			},
			wantErrors: []string{
				`SCIM_BRIDGE_LISTEN: "": want host:port`,
				"no IdP authentication: set SCIM_BRIDGE_TOKENS, SCIM_BRIDGE_TOKENS_FILE, SCIM_BRIDGE_OAUTH_CLIENTS or SCIM_BRIDGE_OIDC_ISSUER",
				"SCIM_BRIDGE_OIDC_AUDIENCE: set without SCIM_BRIDGE_OIDC_ISSUER",
				`SCIM_BRIDGE_ADMIN_LISTEN: "": want host:port`,
				"SCIM_BRIDGE_UIPATH_URL: required",
				"SCIM_BRIDGE_UIPATH_CLIENT_ID: required",
				"SCIM_BRIDGE_UIPATH_CLIENT_SECRET: required",
				"SCIM_BRIDGE_UIPATH_SCOPES: no scopes",
				`SCIM_BRIDGE_UIPATH_PARTITION_ID: "acme" is not a GUID`,
				"SCIM_BRIDGE_DATA_DIR: required when SCIM_BRIDGE_REDIS_URL is empty",
				`SCIM_BRIDGE_MEMBERSHIP_STRATEGY: "" is not one of user, group, auto`,
				`SCIM_BRIDGE_MEMBERSHIP_WRITES: "" is not one of queued, sync`,
				`SCIM_BRIDGE_DEPROVISION: "" is not one of disable, delete`,
				`SCIM_BRIDGE_USERNAME_CHANGE: "" is not one of keep, refuse`,
				`SCIM_BRIDGE_LOG_LEVEL: "" is not one of debug, info, warn, error`,
				`SCIM_BRIDGE_LOG_FORMAT: "" is not one of json, text`,
				`SCIM_BRIDGE_LOG_PII: "" is not one of full, hash, off`,
				"SCIM_BRIDGE_UIPATH_BUDGET: GET=0: count must be positive",
				`SCIM_BRIDGE_UIPATH_BUDGET: unknown method "HEAD"`,
				"SCIM_BRIDGE_UIPATH_BUDGET_WINDOW: 0s: must be positive",
				"SCIM_BRIDGE_UIPATH_TIMEOUT: 0s: must be positive",
				"SCIM_BRIDGE_UIPATH_LATE_WRITE_WINDOW: 0s: must be positive",
				"SCIM_BRIDGE_SHUTDOWN_TIMEOUT: 0s: must be positive",
				"SCIM_BRIDGE_AUDIT_RETENTION: 0s: must be at least 1h",
				"SCIM_BRIDGE_MAX_BODY_BYTES: 0: must be positive",
			},
		},
		{
			name:   "reserve at its bounds, writes sync",
			change: func(c *Config) { c.DeprovisionReserve = 0.5; c.MembershipWrites = "sync" },
		},
		{
			name: "valid schema extensions",
			change: func(c *Config) {
				c.SchemaExtensions = []string{"urn:ietf:params:scim:schemas:extension:acme:2.0:User=costCenter,contractor:boolean",
					"urn:ietf:params:scim:schemas:extension:acme:2.0:Group"}
			},
		},
		{
			name: "bad schema extensions",
			change: func(c *Config) {
				c.SchemaExtensions = []string{"acme=costCenter", "urn:x:y:User=cost center,level:int", "=x"}
			},
			wantErrors: []string{
				`SCIM_BRIDGE_SCHEMA_EXTENSIONS: "acme" is not a URN`,
				`SCIM_BRIDGE_SCHEMA_EXTENSIONS: urn:x:y:User: "cost center" is not a SCIM attribute name`,
				`SCIM_BRIDGE_SCHEMA_EXTENSIONS: urn:x:y:User: type "int" of level is not one of string, boolean, integer, decimal, dateTime, reference, binary`,
				"SCIM_BRIDGE_SCHEMA_EXTENSIONS: an entry needs an extension URN",
			},
		},
		{
			name:   "no reserve",
			change: func(c *Config) { c.DeprovisionReserve = 0 },
		},
		{
			name:       "reserve above half",
			change:     func(c *Config) { c.DeprovisionReserve = 0.6 },
			wantErrors: []string{"SCIM_BRIDGE_DEPROVISION_RESERVE: 60%: must be from 0% to 50%"},
		},
		{
			name:       "reserve written as a percentage without the sign",
			change:     func(c *Config) { c.DeprovisionReserve = 10 },
			wantErrors: []string{"SCIM_BRIDGE_DEPROVISION_RESERVE: 1000%: must be from 0% to 50%"},
		},
		{
			name:       "negative reserve",
			change:     func(c *Config) { c.DeprovisionReserve = -0.1 },
			wantErrors: []string{"SCIM_BRIDGE_DEPROVISION_RESERVE: -10%: must be from 0% to 50%"},
		},
		{
			name:       "NaN reserve",
			change:     func(c *Config) { c.DeprovisionReserve = math.NaN() },
			wantErrors: []string{"SCIM_BRIDGE_DEPROVISION_RESERVE: NaN: must be from 0% to 50%"},
		},
		{
			name:       "unknown membership writes",
			change:     func(c *Config) { c.MembershipWrites = "later" },
			wantErrors: []string{`SCIM_BRIDGE_MEMBERSHIP_WRITES: "later" is not one of queued, sync`},
		},
		{
			name: "bad URLs",
			change: func(c *Config) {
				c.UiPathURL = "cloud.uipath.com/acme"
				c.UiPathTokenURL = "ftp://x/token"
				c.OIDCIssuer = "login.example"
			},
			wantErrors: []string{
				`SCIM_BRIDGE_UIPATH_URL: "cloud.uipath.com/acme" is not an http(s) URL`,
				`SCIM_BRIDGE_UIPATH_TOKEN_URL: "ftp://x/token" is not an http(s) URL`,
				`SCIM_BRIDGE_OIDC_ISSUER: "login.example" is not an http(s) URL`,
				"SCIM_BRIDGE_OIDC_AUDIENCE: required with SCIM_BRIDGE_OIDC_ISSUER",
			},
		},
		{
			name:       "listen port out of range",
			change:     func(c *Config) { c.Listen = ":80800" },
			wantErrors: []string{`SCIM_BRIDGE_LISTEN: ":80800": port "80800" is not a number from 0 to 65535`},
		},
		{
			name:       "listen without port",
			change:     func(c *Config) { c.Listen = "localhost" },
			wantErrors: []string{`SCIM_BRIDGE_LISTEN: "localhost": want host:port`},
		},
		{
			name:       "empty token",
			change:     func(c *Config) { c.Tokens = []Secret{idpToken, " "} },
			wantErrors: []string{"SCIM_BRIDGE_TOKENS: token 2 is empty"},
		},
		{
			name:   "admin listener on loopback without tokens",
			change: func(c *Config) { c.AdminListen = "[::1]:9464" },
		},
		{
			name:   "admin listener on localhost without tokens",
			change: func(c *Config) { c.AdminListen = "localhost:0" },
		},
		{
			name:   "admin listener off",
			change: func(c *Config) { c.AdminListen = AdminOff },
		},
		{
			name:   "admin listener on every interface with tokens",
			change: func(c *Config) { c.AdminListen = ":9464"; c.AdminTokens = []Secret{Secret(strings.Repeat("a", 32))} },
		},
		{
			name:       "admin token too short",
			change:     func(c *Config) { c.AdminTokens = []Secret{Secret(strings.Repeat("a", 32)), "admin"} },
			wantErrors: []string{"SCIM_BRIDGE_ADMIN_TOKENS: token 2 has 5 characters, fewer than 32"},
		},
		{
			name:       "admin listener on every interface without tokens",
			change:     func(c *Config) { c.AdminListen = ":9464" },
			wantErrors: []string{`SCIM_BRIDGE_ADMIN_LISTEN: ":9464" is not a loopback address, and SCIM_BRIDGE_ADMIN_TOKENS is empty`},
		},
		{
			name:       "admin listener on a host name without tokens",
			change:     func(c *Config) { c.AdminListen = "bridge.internal:9464" },
			wantErrors: []string{`SCIM_BRIDGE_ADMIN_LISTEN: "bridge.internal:9464" is not a loopback address`},
		},
		{
			name:       "admin listener on a private address without tokens",
			change:     func(c *Config) { c.AdminListen = "10.0.0.5:9464" },
			wantErrors: []string{`SCIM_BRIDGE_ADMIN_LISTEN: "10.0.0.5:9464" is not a loopback address`},
		},
		{
			name:       "admin listener without a port",
			change:     func(c *Config) { c.AdminListen = "127.0.0.1" },
			wantErrors: []string{`SCIM_BRIDGE_ADMIN_LISTEN: "127.0.0.1": want host:port, e.g. :8080 or 127.0.0.1:8080, or off`},
		},
		{
			name:       "empty admin token, an IdP token reused",
			change:     func(c *Config) { c.AdminTokens = []Secret{"", idpToken} },
			wantErrors: []string{"SCIM_BRIDGE_ADMIN_TOKENS: token 1 is empty", "SCIM_BRIDGE_ADMIN_TOKENS: token 2 is also in SCIM_BRIDGE_TOKENS"},
		},
		{
			name:       "redis scheme",
			change:     func(c *Config) { c.RedisURL = "http://redis:6379"; c.RedisPrefix = "" },
			wantErrors: []string{"SCIM_BRIDGE_REDIS_URL: scheme must be redis, rediss or unix", "SCIM_BRIDGE_REDIS_PREFIX: required"},
		},
		{
			name:       "sentinel without a master name",
			change:     func(c *Config) { c.RedisURL = "redis://:pw@sentinel:26379?master_name=&addr=sentinel2:26379" },
			wantErrors: []string{"SCIM_BRIDGE_REDIS_URL: master_name is empty"},
		},
		{
			name:       "redis without host",
			change:     func(c *Config) { c.RedisURL = "redis:///0" },
			wantErrors: []string{"SCIM_BRIDGE_REDIS_URL: no host"},
		},
		{
			name:       "negative durations",
			change:     func(c *Config) { c.UpstreamTimeout = -time.Second },
			wantErrors: []string{"SCIM_BRIDGE_UIPATH_TIMEOUT: -1s: must be positive"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(&c)
			err := c.Validate()
			wantErrors(t, err, tt.wantErrors)
			if err != nil {
				if n := len(strings.Split(err.Error(), "\n")); n != len(tt.wantErrors) {
					t.Errorf("got %d problems, want %d:\n%v", n, len(tt.wantErrors), err)
				}
			}
		})
	}
}

// TestLoadDefaultsNeedOnlyCredentials checks that the defaults are valid:
// an operator sets the UiPath credentials and one token, nothing else.
func TestLoadDefaultsNeedOnlyCredentials(t *testing.T) {
	c, err := Load(envOf(map[string]string{
		"SCIM_BRIDGE_TOKENS":               idpToken,
		"SCIM_BRIDGE_UIPATH_URL":           "https://cloud.uipath.com/acme/identity_",
		"SCIM_BRIDGE_UIPATH_CLIENT_ID":     "id",
		"SCIM_BRIDGE_UIPATH_CLIENT_SECRET": "s",
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
