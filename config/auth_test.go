package config

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const (
	longToken  = "0123456789abcdef0123456789abcdef" // 32 characters
	otherLong  = "fedcba9876543210fedcba9876543210"
	shortToken = "0123456789abcdef0123456789abcde" // 31
)

func hashHex(s string) string {
	d := sha256.Sum256([]byte(s))
	return hex.EncodeToString(d[:])
}

func TestParseToken(t *testing.T) {
	tests := []struct {
		name, entry string
		wantName    string
		wantValue   Secret
		wantHashOf  string // the token whose digest SHA256 must be
		wantErr     string
	}{
		{name: "bare token", entry: longToken, wantName: "token-3", wantValue: longToken, wantHashOf: longToken},
		{name: "named token", entry: "okta-prod:" + longToken, wantName: "okta-prod", wantValue: longToken, wantHashOf: longToken},
		{name: "named hash", entry: "entra:sha256:" + hashHex("short"), wantName: "entra", wantHashOf: "short"},
		{name: "unnamed hash", entry: "sha256:" + hashHex(longToken), wantName: "token-3", wantHashOf: longToken},
		{name: "upper-case hash", entry: "x:sha256:" + strings.ToUpper(hashHex(longToken)), wantName: "x", wantHashOf: longToken},
		{name: "short token", entry: "okta:" + shortToken, wantErr: "okta: the token has 31 characters, fewer than 32"},
		{name: "short bare token", entry: "abc", wantErr: "token-3: the token has 3 characters"},
		{name: "name only", entry: "okta:", wantErr: "okta: empty token"},
		{name: "hash too short", entry: "okta:sha256:abcd", wantErr: "okta: the hash after sha256: is not 64 hex digits"},
		{name: "hash not hex", entry: "okta:sha256:" + strings.Repeat("zz", 32), wantErr: "not 64 hex digits"},
		// A colon after something that is no name is part of the token.
		{name: "not a name before the colon", entry: "a b:" + longToken, wantName: "token-3", wantValue: "a b:" + longToken, wantHashOf: "a b:" + longToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseToken(tt.entry, 3)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), shortToken) || strings.Contains(err.Error(), "abcd") {
					t.Errorf("the error quotes the entry: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != tt.wantName || got.Value != tt.wantValue || got.SHA256 != sha256.Sum256([]byte(tt.wantHashOf)) {
				t.Errorf("got name %q value %q hash %x; want %q %q, hash of %q", got.Name, got.Value.Reveal(), got.SHA256, tt.wantName, tt.wantValue.Reveal(), tt.wantHashOf)
			}
		})
	}
}

// tokenNames is the tokens' caller names, space-separated.
func tokenNames(tokens []Token) string {
	names := make([]string, len(tokens))
	for i, tk := range tokens {
		names[i] = tk.Name
	}
	return strings.Join(names, " ")
}

func TestParseTokensFile(t *testing.T) {
	data := "# IdP tokens\n\n  okta:" + longToken + "  \n" + otherLong + "\r\n# entra's, by hash\nentra:sha256:" + hashHex("x") + "\n"
	got, err := ParseTokensFile([]byte(data), 2)
	if err != nil {
		t.Fatal(err)
	}
	names := tokenNames(got)
	if names != "okta token-3 entra" {
		t.Errorf("names %v, want okta token-3 entra", names)
	}
	_, err = ParseTokensFile([]byte("ok:"+longToken+"\nbad:"+shortToken+"\n\nbad2:sha256:00\n"), 1)
	if err == nil || !strings.Contains(err.Error(), "line 2: bad: the token has 31") || !strings.Contains(err.Error(), "line 4: bad2:") {
		t.Errorf("error %v, want lines 2 and 4", err)
	}
	if err != nil && strings.Contains(err.Error(), shortToken) {
		t.Errorf("the error quotes a token: %v", err)
	}
}

func TestIdPTokens(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tokens")
	if err := os.WriteFile(file, []byte("file-a:"+otherLong+"\n"+strings.Repeat("f", 40)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := validConfig()
	c.Tokens = []Secret{"env-a:" + longToken, Secret(strings.Repeat("e", 32))}
	c.TokensFile = file
	got, err := c.IdPTokens()
	if err != nil {
		t.Fatal(err)
	}
	names := tokenNames(got)
	if names != "env-a token-2 file-a token-4" {
		t.Errorf("names %v, want env-a token-2 file-a token-4 (numbered across both)", names)
	}
}

func TestValidateAuth(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	goodFile := write("good", "# comment\nfile-1:"+otherLong+"\n")
	shortFile := write("short", "file-1:"+shortToken+"\n")
	emptyFile := write("empty", "# nothing yet\n")
	client := "entra-app:sha256:" + hashHex("client-secret")
	tests := []struct {
		name       string
		change     func(*Config)
		wantErrors []string // none: valid
	}{
		{name: "named token and a hash", change: func(c *Config) {
			c.Tokens = []Secret{"okta:" + longToken, Secret("entra:sha256:" + hashHex("x"))}
		}},
		{name: "file only", change: func(c *Config) { c.Tokens, c.TokensFile = nil, goodFile }},
		{name: "env and file", change: func(c *Config) { c.TokensFile = goodFile }},
		{name: "OAuth clients only, embedded store", change: func(c *Config) { c.Tokens, c.OAuthClients = nil, []Secret{Secret(client)} }},
		{name: "OAuth clients with Redis and a key", change: func(c *Config) {
			c.Tokens, c.OAuthClients, c.RedisURL, c.OAuthSigningKey = nil, []Secret{Secret(client)}, "redis://r:6379", Secret(otherLong)
		}},
		{name: "OIDC with required claims and a name", change: func(c *Config) {
			c.Tokens = nil
			c.OIDCIssuer, c.OIDCAudience = "https://login.microsoftonline.com/tenant/v2.0", "api://scim-bridge"
			c.OIDCRequiredClaims, c.OIDCName = map[string]string{"azp": "app", "tid": "tenant"}, "entra-wif"
		}},
		{
			name:       "short token",
			change:     func(c *Config) { c.Tokens = []Secret{"okta:" + shortToken} },
			wantErrors: []string{"SCIM_BRIDGE_TOKENS: entry 1: okta: the token has 31 characters, fewer than 32"},
		},
		{
			name:       "short token in the file",
			change:     func(c *Config) { c.TokensFile = shortFile },
			wantErrors: []string{"SCIM_BRIDGE_TOKENS_FILE " + shortFile + ": line 1: file-1: the token has 31 characters"},
		},
		{
			name:       "a file without tokens",
			change:     func(c *Config) { c.TokensFile = emptyFile },
			wantErrors: []string{"SCIM_BRIDGE_TOKENS_FILE " + emptyFile + ": no token in the file"},
		},
		{
			name:       "a missing file",
			change:     func(c *Config) { c.TokensFile = filepath.Join(dir, "nope") },
			wantErrors: []string{"SCIM_BRIDGE_TOKENS_FILE: open "},
		},
		{
			name:       "duplicate names",
			change:     func(c *Config) { c.Tokens = []Secret{"okta:" + longToken, "okta:" + otherLong} },
			wantErrors: []string{`SCIM_BRIDGE_TOKENS: the name "okta" is used twice (also a token)`},
		},
		{
			name:       "duplicate names across env and file",
			change:     func(c *Config) { c.Tokens, c.TokensFile = []Secret{"file-1:" + longToken}, goodFile },
			wantErrors: []string{`SCIM_BRIDGE_TOKENS: the name "file-1" is used twice`},
		},
		{
			name: "a token named as an OAuth client or the OIDC name",
			change: func(c *Config) {
				c.Tokens = []Secret{"entra-app:" + longToken, "oidc:" + otherLong}
				c.OAuthClients = []Secret{Secret(client)}
				c.OIDCIssuer, c.OIDCAudience = "https://idp.example", "aud"
			},
			wantErrors: []string{`the name "entra-app" is used twice (also an OAuth client)`, `the name "oidc" is used twice (also SCIM_BRIDGE_OIDC_NAME)`},
		},
		{
			name: "bad OAuth clients",
			change: func(c *Config) {
				c.OAuthClients = []Secret{"entra:plain-secret-value", "a b:sha256:" + Secret(hashHex("x")), Secret(client), Secret(client)}
			},
			wantErrors: []string{
				"SCIM_BRIDGE_OAUTH_CLIENTS: entry 1: entra: want entra:sha256:<64 hex digits",
				"SCIM_BRIDGE_OAUTH_CLIENTS: entry 2: an entry is client_id:sha256:",
				`SCIM_BRIDGE_OAUTH_CLIENTS: client "entra-app" is given twice`,
			},
		},
		{
			name:       "OAuth clients with Redis and no signing key",
			change:     func(c *Config) { c.OAuthClients, c.RedisURL = []Secret{Secret(client)}, "redis://r:6379" },
			wantErrors: []string{"SCIM_BRIDGE_OAUTH_SIGNING_KEY: required with SCIM_BRIDGE_OAUTH_CLIENTS and SCIM_BRIDGE_REDIS_URL"},
		},
		{
			name: "short signing key, TTL out of range",
			change: func(c *Config) {
				c.OAuthClients, c.OAuthSigningKey, c.OAuthTokenTTL = []Secret{Secret(client)}, "short-key", 48*time.Hour
			},
			wantErrors: []string{"SCIM_BRIDGE_OAUTH_SIGNING_KEY: 9 bytes, fewer than 32", "SCIM_BRIDGE_OAUTH_TOKEN_TTL: 48h0m0s: want from 1m to 24h"},
		},
		{
			name:       "claims without an issuer",
			change:     func(c *Config) { c.OIDCRequiredClaims = map[string]string{"tid": "t"} },
			wantErrors: []string{"SCIM_BRIDGE_OIDC_REQUIRED_CLAIMS: set without SCIM_BRIDGE_OIDC_ISSUER"},
		},
		{
			name: "bad OIDC name",
			change: func(c *Config) {
				c.OIDCIssuer, c.OIDCAudience, c.OIDCName = "https://idp.example", "aud", "entra wif"
			},
			wantErrors: []string{`SCIM_BRIDGE_OIDC_NAME: "entra wif": want letters`},
		},
		{
			name: "an admin token that is an IdP token by hash",
			change: func(c *Config) {
				c.Tokens, c.AdminTokens = []Secret{Secret("okta:sha256:" + hashHex(otherLong))}, []Secret{otherLong}
			},
			wantErrors: []string{"SCIM_BRIDGE_ADMIN_TOKENS: token 1 is also in SCIM_BRIDGE_TOKENS"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.change(&c)
			err := c.Validate()
			if len(tt.wantErrors) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			wantErrors(t, err, tt.wantErrors)
			for _, secret := range []string{shortToken, longToken, otherLong, "plain-secret-value", "short-key"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error quotes a secret: %v", err)
				}
			}
		})
	}
}

func TestOAuthClientsPrintWithoutHash(t *testing.T) {
	h := hashHex("client-secret")
	c, err := Load(envOf(map[string]string{
		"SCIM_BRIDGE_OAUTH_CLIENTS":        "entra:sha256:" + h + ",okta:sha256:" + h,
		"SCIM_BRIDGE_OIDC_REQUIRED_CLAIMS": "tid=t1,azp=a1",
		"SCIM_BRIDGE_OAUTH_SIGNING_KEY":    otherLong,
		"SCIM_BRIDGE_TOKENS":               "okta:" + longToken,
		"SCIM_BRIDGE_OIDC_NAME":            "wif",
		"SCIM_BRIDGE_OAUTH_TOKEN_TTL":      "10m",
		"SCIM_BRIDGE_TOKENS_FILE":          "tokens.txt",
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"SCIM_BRIDGE_OAUTH_CLIENTS":        "entra:sha256:<secret>,okta:sha256:<secret>",
		"SCIM_BRIDGE_OIDC_REQUIRED_CLAIMS": "azp=a1,tid=t1",
		"SCIM_BRIDGE_OAUTH_SIGNING_KEY":    "<secret>",
		"SCIM_BRIDGE_TOKENS":               "<secret>",
		"SCIM_BRIDGE_OIDC_NAME":            "wif",
		"SCIM_BRIDGE_OAUTH_TOKEN_TTL":      "10m0s",
		"SCIM_BRIDGE_TOKENS_FILE":          "tokens.txt",
	}
	for _, e := range c.Entries() {
		if w, ok := want[e.Name]; ok && e.Value != w {
			t.Errorf("%s = %q, want %q", e.Name, e.Value, w)
		}
		if strings.Contains(e.Value, h) || strings.Contains(e.Value, longToken) || strings.Contains(e.Value, otherLong) {
			t.Errorf("%s shows a secret: %q", e.Name, e.Value)
		}
	}
}

func TestParseClaims(t *testing.T) {
	for _, bad := range []string{"azp", "=x", "azp=", "azp=a,azp=b"} {
		if _, err := parseClaims(bad); err == nil {
			t.Errorf("parseClaims(%q) accepted", bad)
		}
	}
	m, err := parseClaims(" azp = a , tid=t ,")
	if err != nil || len(m) != 2 || m["azp"] != "a" || m["tid"] != "t" {
		t.Errorf("parseClaims = %v, %v", m, err)
	}
}
