package deploy

import (
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeFile is the part of a Compose file the checks read.
type composeFile struct {
	Services map[string]composeService `yaml:"services"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Volumes map[string]any `yaml:"volumes"`
}

type composeService struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Secrets     []string          `yaml:"secrets"`
	Volumes     []string          `yaml:"volumes"`
	Restart     string            `yaml:"restart"`
	ReadOnly    bool              `yaml:"read_only"`
	Healthcheck *struct {
		Test    []string `yaml:"test"`
		Disable bool     `yaml:"disable"`
	} `yaml:"healthcheck"`
	DependsOn map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
}

// composeMount returns the container path of a short-form volume entry
// ("source:target[:mode]") and its source.
func composeMount(v string) (source, target string) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 {
		return "", parts[0]
	}
	// A source may hold ${VAR:-default}, whose ":-" is not a separator.
	if i := strings.LastIndex(v, "}:"); i >= 0 {
		rest := strings.Split(v[i+2:], ":")
		return v[:i+1], rest[0]
	}
	return parts[0], parts[1]
}

// TestComposeFile checks the essentials of deploy/docker-compose.yml:
// Redis persists with AOF, both services restart and have a health check,
// the bridge serves TLS from mounted files, every setting is one the
// bridge knows, and every secret comes from a file, none written inline.
func TestComposeFile(t *testing.T) {
	raw := readRepoFile(t, "deploy/docker-compose.yml")
	var f composeFile
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("deploy/docker-compose.yml: %v", err)
	}
	redis, ok := f.Services["redis"]
	if !ok {
		t.Fatal("no redis service")
	}
	bridge, ok := f.Services["bridge"]
	if !ok {
		t.Fatal("no bridge service")
	}

	t.Run("redis persists with AOF", func(t *testing.T) {
		args := strings.Join(redis.Command, " ")
		if !strings.Contains(args, "--appendonly yes") {
			t.Errorf("redis command %q lacks --appendonly yes", args)
		}
		if !strings.Contains(args, "--appendfsync everysec") && !strings.Contains(args, "--appendfsync always") {
			t.Errorf("redis command %q lacks --appendfsync everysec (or always)", args)
		}
		var data bool
		for _, v := range redis.Volumes {
			src, dst := composeMount(v)
			if dst == "/data" {
				if _, named := f.Volumes[src]; !named {
					t.Errorf("redis /data is %q, not a named volume", src)
				}
				data = true
			}
		}
		if !data {
			t.Errorf("redis has no volume at /data: %v", redis.Volumes)
		}
		if redis.Healthcheck == nil || len(redis.Healthcheck.Test) == 0 {
			t.Error("redis has no healthcheck")
		}
	})

	t.Run("bridge health and restart", func(t *testing.T) {
		if bridge.Healthcheck == nil || !slices.Equal(bridge.Healthcheck.Test, []string{"CMD", "/scim-bridge", "healthcheck"}) {
			t.Errorf("bridge healthcheck = %+v, want CMD /scim-bridge healthcheck", bridge.Healthcheck)
		}
		for name, s := range map[string]composeService{"bridge": bridge, "redis": redis} {
			if s.Restart != "unless-stopped" && s.Restart != "always" {
				t.Errorf("%s restart = %q, want unless-stopped or always", name, s.Restart)
			}
		}
		if c := bridge.DependsOn["redis"].Condition; c != "service_healthy" {
			t.Errorf("bridge depends on redis with condition %q, want service_healthy", c)
		}
		if bridge.Build == nil {
			t.Error("bridge is not built from the Dockerfile")
		}
		if !bridge.ReadOnly {
			t.Error("bridge's root file system is writable")
		}
		if got := bridge.Environment["SCIM_BRIDGE_REDIS_URL"]; !strings.HasPrefix(got, "redis://redis:") {
			t.Errorf("SCIM_BRIDGE_REDIS_URL = %q, want the compose redis service", got)
		}
	})

	t.Run("TLS from mounted files", func(t *testing.T) {
		for _, name := range []string{"SCIM_BRIDGE_TLS_CERT_FILE", "SCIM_BRIDGE_TLS_KEY_FILE"} {
			file := bridge.Environment[name]
			if file == "" {
				t.Errorf("%s is not set", name)
				continue
			}
			if !mounted(bridge.Volumes, file) {
				t.Errorf("%s=%s is in no mounted volume (%v)", name, file, bridge.Volumes)
			}
		}
	})

	t.Run("settings", func(t *testing.T) {
		for name := range bridge.Environment {
			if strings.HasPrefix(name, "SCIM_BRIDGE_") && !settingKnown(name) {
				t.Errorf("%s is not a setting of the bridge", name)
			}
		}
	})

	t.Run("secrets from files", func(t *testing.T) {
		for name, value := range bridge.Environment {
			if isSecretSetting(name) && !strings.HasPrefix(name, "SCIM_BRIDGE_REDIS_URL") {
				t.Errorf("%s is set inline; use %s_FILE and a compose secret", name, name)
			}
			if u, err := url.Parse(value); err == nil && u.User != nil {
				if _, has := u.User.Password(); has {
					t.Errorf("%s holds a URL with a password", name)
				}
			}
			base, isFile := strings.CutSuffix(name, "_FILE")
			if !isFile || !isSecretSetting(base) {
				continue
			}
			secret, found := strings.CutPrefix(value, "/run/secrets/")
			if !found || !slices.Contains(bridge.Secrets, secret) {
				t.Errorf("%s=%s is not one of the bridge's compose secrets %v", name, value, bridge.Secrets)
				continue
			}
			if f.Secrets[secret].File == "" {
				t.Errorf("compose secret %s is not read from a file", secret)
			}
		}
		for _, want := range []string{"SCIM_BRIDGE_UIPATH_CLIENT_SECRET_FILE", "SCIM_BRIDGE_TOKENS_FILE"} {
			if bridge.Environment[want] == "" {
				t.Errorf("%s is not set", want)
			}
		}
	})
}

// mounted reports whether file lies under the target of one of volumes.
func mounted(volumes []string, file string) bool {
	for _, v := range volumes {
		_, dst := composeMount(v)
		if dst != "" && (file == dst || strings.HasPrefix(path.Clean(file), path.Clean(dst)+"/")) {
			return true
		}
	}
	return false
}
