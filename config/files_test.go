package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"redis://redis:6379/0", "redis://redis:6379/0"},
		{"redis://:pw-1@redis:6379/0", "redis://:<secret>@redis:6379/0"},
		{"rediss://bridge:pw-1@redis.example:6380/2?min_replicas=1", "rediss://bridge:<secret>@redis.example:6380/2?min_replicas=1"},
		{"redis://user@redis:6379/0", "redis://user@redis:6379/0"},
		{"redis://:s-pw@s1:26379/0?addr=s2:26379&master_name=m&password=pw-1",
			"redis://:<secret>@s1:26379/0?addr=s2%3A26379&master_name=m&password=<secret>"},
		{"redis://s1:26379/0?master_name=m&sentinel_password=pw-1", "redis://s1:26379/0?master_name=m&sentinel_password=<secret>"},
		{"unix://:pw-1@/run/redis.sock?db=1", "unix://:<secret>@/run/redis.sock?db=1"},
		{"redis://user:pw-1@host%zz/0", "<secret>"}, // does not parse
	}
	for _, tt := range tests {
		got := RedactURL(tt.in)
		if got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if strings.Contains(got, "pw-1") {
			t.Errorf("RedactURL(%q) leaks the password: %q", tt.in, got)
		}
	}
}

// TestEntriesURLs: check-config shows where each URL points, with only a
// password hidden.
func TestEntriesURLs(t *testing.T) {
	for _, tt := range []struct{ name, url, want string }{
		{"SCIM_BRIDGE_REDIS_URL", "redis://:" + leakRedis + "@redis:6379/0", "redis://:<secret>@redis:6379/0"},
		{"SCIM_BRIDGE_REDIS_URL", "redis://redis:6379/3", "redis://redis:6379/3"},
		{"SCIM_BRIDGE_UIPATH_URL", "https://proxy:" + leakClient + "@uipath.example/acme/identity_", "https://proxy:<secret>@uipath.example/acme/identity_"},
		{"SCIM_BRIDGE_UIPATH_TOKEN_URL", "https://u:" + leakClient + "@uipath.example/identity_/connect/token", "https://u:<secret>@uipath.example/identity_/connect/token"},
		{"SCIM_BRIDGE_OIDC_ISSUER", "https://login.example/tenant/v2.0", "https://login.example/tenant/v2.0"},
	} {
		c, err := Load(envOf(map[string]string{tt.name: tt.url}), "")
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(c.Entries(), func(e Entry) bool { return e.Name == tt.name })
		if got := c.Entries()[i].Value; got != tt.want {
			t.Errorf("%s shows as %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestSecretFiles: every secret setting but the IdP tokens has a _FILE
// variant, in the environment and in the YAML file.
func TestSecretFiles(t *testing.T) {
	client := writeFile(t, leakClient+"\n")
	redis := writeFile(t, "redis://:"+leakRedis+"@redis:6379/0\r\n")
	admin := writeFile(t, leakAdmin+",other-"+leakAdmin+"\n")

	c, err := Load(envOf(map[string]string{
		"SCIM_BRIDGE_UIPATH_CLIENT_SECRET_FILE": client,
		"SCIM_BRIDGE_REDIS_URL_FILE":            redis,
		"SCIM_BRIDGE_ADMIN_TOKENS_FILE":         admin,
	}), "")
	if err != nil {
		t.Fatal(err)
	}
	if c.UiPathClientSecret.Reveal() != leakClient {
		t.Errorf("client secret from file = %q", c.UiPathClientSecret.Reveal())
	}
	if c.RedisURL.Reveal() != "redis://:"+leakRedis+"@redis:6379/0" {
		t.Errorf("Redis URL from file = %q", c.RedisURL.Reveal())
	}
	if len(c.AdminTokens) != 2 || c.AdminTokens[0].Reveal() != leakAdmin {
		t.Errorf("admin tokens from file = %d tokens", len(c.AdminTokens))
	}

	yamlPath := filepath.Join(t.TempDir(), "bridge.yaml")
	if err := os.WriteFile(yamlPath, []byte("uipath_client_secret_file: "+client+"\nredis_url_file: "+redis+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = Load(envOf(nil), yamlPath)
	if err != nil {
		t.Fatal(err)
	}
	if c.UiPathClientSecret.Reveal() != leakClient || c.RedisURL.Reveal() != "redis://:"+leakRedis+"@redis:6379/0" {
		t.Errorf("YAML _file keys not read")
	}
	// The environment's plain variable wins over the file's _file key.
	c, err = Load(envOf(map[string]string{"SCIM_BRIDGE_UIPATH_CLIENT_SECRET": "from-env"}), yamlPath)
	if err != nil {
		t.Fatal(err)
	}
	if c.UiPathClientSecret.Reveal() != "from-env" {
		t.Errorf("environment does not win over the file's _file key")
	}

	// Every secret setting has the variant but the tokens, whose
	// SCIM_BRIDGE_TOKENS_FILE is a token file of its own.
	for _, s := range settings {
		if want := s.secret && s.key != "tokens"; s.hasFile() != want {
			t.Errorf("%s: hasFile = %v, want %v", s.env(), s.hasFile(), want)
		}
	}
}

func TestSecretFileErrors(t *testing.T) {
	good := writeFile(t, leakClient+"\n")
	empty := writeFile(t, "\n")
	missing := filepath.Join(t.TempDir(), "nope")
	yamlBoth := filepath.Join(t.TempDir(), "both.yaml")
	if err := os.WriteFile(yamlBoth, []byte("uipath_client_secret: x\nuipath_client_secret_file: "+good+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		env     map[string]string
		file    string
		wantErr []string
	}{
		{name: "both set", env: map[string]string{"SCIM_BRIDGE_UIPATH_CLIENT_SECRET": leakToken, "SCIM_BRIDGE_UIPATH_CLIENT_SECRET_FILE": good},
			wantErr: []string{"SCIM_BRIDGE_UIPATH_CLIENT_SECRET and SCIM_BRIDGE_UIPATH_CLIENT_SECRET_FILE are both set"}},
		{name: "missing file", env: map[string]string{"SCIM_BRIDGE_REDIS_URL_FILE": missing},
			wantErr: []string{"SCIM_BRIDGE_REDIS_URL_FILE", missing, "no such file"}},
		{name: "empty file", env: map[string]string{"SCIM_BRIDGE_ADMIN_TOKENS_FILE": empty},
			wantErr: []string{"SCIM_BRIDGE_ADMIN_TOKENS_FILE: file " + empty + " is empty"}},
		{name: "both in YAML", file: yamlBoth,
			wantErr: []string{"uipath_client_secret and uipath_client_secret_file are both set"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(envOf(tt.env), tt.file)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			assertNoLeak(t, "error", err.Error())
		})
	}
}

func TestUnknownVars(t *testing.T) {
	env := []string{
		"PATH=/usr/bin",
		"SCIM_BRIDGE_TOKENS=" + leakToken,
		"SCIM_BRIDGE_TOKEN=" + leakToken, // typo
		"SCIM_BRIDGE_UIPATH_CLIENT_SECRET_FILE=/run/secrets/cs",
		"SCIM_BRIDGE_LISTEN_FILE=/x", // not a secret: no _FILE variant
		"SCIM_BRIDGE_CONFIG=/etc/scim-bridge.yaml",
		"SCIM_BRIDGE_TEST_REDIS_URL=redis://127.0.0.1:6379",
		"SCIM_BRIDGE_SOAK_FAULTS=late",
		"SCIM_BRIDGE_REDIS_URL=redis://x",
		"SCIM_BRIDGE_UIPATH_SECRET=" + leakClient, // typo
		"SCIM_BRIDGE_EMPTY=",                      // empty: unset
	}
	got := UnknownVars(env)
	want := []string{"SCIM_BRIDGE_LISTEN_FILE", "SCIM_BRIDGE_TOKEN", "SCIM_BRIDGE_UIPATH_SECRET"}
	if !slices.Equal(got, want) {
		t.Errorf("UnknownVars = %q, want %q", got, want)
	}
	assertNoLeak(t, "UnknownVars", strings.Join(got, " "))
}

// TestTokensFileIsNotGeneric checks that tokens_file names the token file
// (read and re-read by serve, with names and hashes), not the generic
// _FILE variant whose content would become SCIM_BRIDGE_TOKENS at load.
func TestTokensFileIsNotGeneric(t *testing.T) {
	path := writeFile(t, "okta:"+strings.Repeat("t", 40)+"\n")
	for name, load := range map[string]func() (Config, error){
		"env":  func() (Config, error) { return Load(envOf(map[string]string{"SCIM_BRIDGE_TOKENS_FILE": path}), "") },
		"yaml": func() (Config, error) { return Load(envOf(nil), writeFile(t, "tokens_file: "+path+"\n")) },
	} {
		c, err := load()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if c.TokensFile != path || len(c.Tokens) != 0 {
			t.Errorf("%s: TokensFile %q, %d tokens; want the path and no tokens read at load", name, c.TokensFile, len(c.Tokens))
		}
	}
}
