package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// Known secret values; none may appear in any output below.
const (
	leakToken  = "tok-9f8e7d6c"
	leakClient = "cs-5b4a3928"
	leakRedis  = "rp-1a2b3c4d"
	leakAdmin  = "adm-7e6f5a4b"
)

var leaks = []string{leakToken, leakClient, leakRedis, leakAdmin}

// secretConfig returns a Config holding every kind of secret.
func secretConfig() Config {
	c := validConfig()
	c.Tokens = []Secret{leakToken, "other-" + leakToken}
	c.AdminTokens = []Secret{leakAdmin}
	c.UiPathClientSecret = leakClient
	c.RedisURL = Secret("redis://user:" + leakRedis + "@redis.example:6379/0")
	return c
}

func assertNoLeak(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range leaks {
		if strings.Contains(out, s) {
			t.Errorf("%s leaks %q:\n%s", what, s, out)
		}
	}
}

// TestSecretsNeverPrinted is the alertmanager-style check (STYLE.md §3):
// secrets stay out of fmt, JSON, YAML, slog, Entries and error messages.
func TestSecretsNeverPrinted(t *testing.T) {
	c := secretConfig()

	for _, verb := range []string{"%v", "%+v", "%s", "%#v", "%q", "%x", "%X", "%d", "%T %v"} {
		assertNoLeak(t, "fmt "+verb+" of Config", fmt.Sprintf(verb, c))
		assertNoLeak(t, "fmt "+verb+" of *Config", fmt.Sprintf(verb, &c))
		assertNoLeak(t, "fmt "+verb+" of a Secret", fmt.Sprintf(verb, c.UiPathClientSecret))
		assertNoLeak(t, "fmt "+verb+" of []Secret", fmt.Sprintf(verb, c.Tokens))
	}
	assertNoLeak(t, "fmt.Sprint", fmt.Sprint(c, c.Tokens, c.RedisURL))
	assertNoLeak(t, "fmt.Sprintln", fmt.Sprintln(c, c.Tokens, c.RedisURL))
	assertNoLeak(t, "error wrapping a Secret", fmt.Errorf("connect %v: %w", c.RedisURL, fmt.Errorf("%s", c.UiPathClientSecret)).Error())

	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	assertNoLeak(t, "JSON", string(j))
	var round map[string]any
	if err := json.Unmarshal(j, &round); err != nil || round["UiPathClientSecret"] != "<secret>" {
		t.Errorf("JSON secret = %v (%v), want <secret>", round["UiPathClientSecret"], err)
	}

	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	assertNoLeak(t, "YAML", string(y))
	if !strings.Contains(string(y), "uipathclientsecret: <secret>") {
		t.Errorf("YAML does not redact the client secret:\n%s", y)
	}

	var logs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&logs, nil), slog.NewJSONHandler(&logs, nil)} {
		slog.New(h).Info("config", "config", c, "secret", c.UiPathClientSecret, "tokens", c.Tokens)
	}
	assertNoLeak(t, "slog", logs.String())

	var entries strings.Builder
	for _, e := range c.Entries() {
		fmt.Fprintf(&entries, "%s=%s\n", e.Name, e.Value)
	}
	assertNoLeak(t, "Entries", entries.String())
	for _, name := range []string{"SCIM_BRIDGE_TOKENS=<secret>,<secret>", "SCIM_BRIDGE_ADMIN_TOKENS=<secret>", "SCIM_BRIDGE_UIPATH_CLIENT_SECRET=<secret>", "SCIM_BRIDGE_REDIS_URL=redis://user:<secret>@redis.example:6379/0"} {
		if !strings.Contains(entries.String(), name+"\n") {
			t.Errorf("Entries lacks %s:\n%s", name, entries.String())
		}
	}
}

func TestSecretsNotInValidateErrors(t *testing.T) {
	for _, redisURL := range []string{
		"redis://user:" + leakRedis + "@redis.example:port/0", // url.Parse fails, quoting the URL
		"redis://user:" + leakRedis + "@host%zz/0",            // bad escape
		"http://user:" + leakRedis + "@redis.example/",        // wrong scheme
		"redis://user:" + leakRedis + "@/0",                   // no host
		leakRedis,                                             // not a URL at all
	} {
		c := secretConfig()
		c.RedisURL = Secret(redisURL)
		c.Tokens = append(c.Tokens, "")
		c.AdminTokens = append(c.AdminTokens, "", leakToken) // empty, and an IdP's token
		c.UiPathURL = "not a url"
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "SCIM_BRIDGE_REDIS_URL") {
			t.Fatalf("Validate(%q) = %v, want a REDIS_URL error", redisURL, err)
		}
		assertNoLeak(t, "Validate error", err.Error())
	}
}

func TestSecretsNotInLoadErrors(t *testing.T) {
	for _, file := range []string{
		"uipath_client_secret: [" + leakClient + "]\n",
		"uipath_client_secret: {" + leakClient + ": x}\n",
		"tokens: {" + leakToken + ": " + leakToken + "}\n",
		"admin_tokens: {" + leakAdmin + ": " + leakAdmin + "}\n",
		"tokens: [[" + leakToken + "]]\n",
		"redis_url: [" + leakRedis + "]\n",
		"uipath_client_secret: \"" + leakClient + "\n",
		leakClient + ": x\n" + leakToken + ": [\n",
	} {
		_, err := Load(envOf(nil), writeFile(t, file))
		if err == nil {
			t.Fatalf("Load(%q) succeeded, want an error", file)
		}
		assertNoLeak(t, "Load error", err.Error())
	}
}

func TestSecret(t *testing.T) {
	tests := []struct {
		name       string
		s          Secret
		wantString string
		wantJSON   string
	}{
		{name: "set", s: "value", wantString: "<secret>", wantJSON: `"\u003csecret\u003e"`},
		{name: "empty", s: "", wantString: "", wantJSON: `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.String(); got != tt.wantString {
				t.Errorf("String() = %q, want %q", got, tt.wantString)
			}
			if got := fmt.Sprintf("%v|%s|%d", tt.s, tt.s, tt.s); got != tt.wantString+"|"+tt.wantString+"|"+tt.wantString {
				t.Errorf("fmt = %q", got)
			}
			if got, want := fmt.Sprintf("%q|%#v", tt.s, tt.s), fmt.Sprintf("%q|%q", tt.wantString, tt.wantString); got != want {
				t.Errorf("fmt quoted = %s, want %s", got, want)
			}
			if got, _ := json.Marshal(tt.s); string(got) != tt.wantJSON {
				t.Errorf("JSON = %s, want %s", got, tt.wantJSON)
			}
			y, _ := yaml.Marshal(tt.s)
			var got string
			if err := yaml.Unmarshal(y, &got); err != nil || got != tt.wantString {
				t.Errorf("YAML = %q (%v), want %q", y, err, tt.wantString)
			}
			if got := tt.s.Reveal(); got != string(tt.s) {
				t.Errorf("Reveal() = %q, want %q", got, tt.s)
			}
		})
	}
}
