package deploy

import (
	"bytes"
	"cmp"
	"errors"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/scim-bridge/scim-bridge/config"
)

// k8sDir is the manifests' directory, relative to the repository.
const k8sDir = "deploy/kubernetes"

// knownKinds maps each kind the manifests may hold to its apiVersion.
var knownKinds = map[string]string{
	"Deployment":          "apps/v1",
	"Service":             "v1",
	"ConfigMap":           "v1",
	"Secret":              "v1",
	"PodDisruptionBudget": "policy/v1",
	"ServiceMonitor":      "monitoring.coreos.com/v1",
	"Kustomization":       "kustomize.config.k8s.io/v1beta1",
}

// object is one manifest document: its header, and the whole document to
// decode into the kind's shape.
type object struct {
	file       string
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	node *yaml.Node
}

func (o object) String() string { return o.file + ": " + o.Kind + " " + o.Metadata.Name }

// decode decodes the whole document into v, failing the test on error.
func (o object) decode(t *testing.T, v any) {
	t.Helper()
	if err := o.node.Decode(v); err != nil {
		t.Fatalf("%s: %v", o, err)
	}
}

// loadManifests parses every YAML document of every file in dir.
func loadManifests(t *testing.T, dir string) []object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in %s (%v)", dir, err)
	}
	var objs []object
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		for {
			var n yaml.Node
			if err := dec.Decode(&n); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			o := object{file: filepath.Base(file), node: &n}
			if err := n.Decode(&o); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			objs = append(objs, o)
		}
	}
	return objs
}

// Shapes of the kinds, as far as the checks read them.
type (
	labelSelector struct {
		MatchLabels map[string]string `yaml:"matchLabels"`
	}
	probe struct {
		HTTPGet *struct {
			Path   string `yaml:"path"`
			Port   any    `yaml:"port"`
			Scheme string `yaml:"scheme"`
		} `yaml:"httpGet"`
	}
	securityContext struct {
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
		SeccompProfile struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	}
	container struct {
		Name  string `yaml:"name"`
		Image string `yaml:"image"`
		Ports []struct {
			Name          string `yaml:"name"`
			ContainerPort int    `yaml:"containerPort"`
		} `yaml:"ports"`
		Env []struct {
			Name      string `yaml:"name"`
			Value     string `yaml:"value"`
			ValueFrom *struct {
				SecretKeyRef    *keyRef `yaml:"secretKeyRef"`
				ConfigMapKeyRef *keyRef `yaml:"configMapKeyRef"`
			} `yaml:"valueFrom"`
		} `yaml:"env"`
		EnvFrom []struct {
			ConfigMapRef *struct {
				Name string `yaml:"name"`
			} `yaml:"configMapRef"`
			SecretRef *struct {
				Name string `yaml:"name"`
			} `yaml:"secretRef"`
		} `yaml:"envFrom"`
		ReadinessProbe  *probe          `yaml:"readinessProbe"`
		LivenessProbe   *probe          `yaml:"livenessProbe"`
		Lifecycle       map[string]any  `yaml:"lifecycle"`
		SecurityContext securityContext `yaml:"securityContext"`
		Resources       struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
			SubPath   string `yaml:"subPath"`
		} `yaml:"volumeMounts"`
	}
	deployment struct {
		Spec struct {
			Replicas *int          `yaml:"replicas"`
			Selector labelSelector `yaml:"selector"`
			Template struct {
				Metadata struct {
					Labels map[string]string `yaml:"labels"`
				} `yaml:"metadata"`
				Spec struct {
					TerminationGracePeriodSeconds *int            `yaml:"terminationGracePeriodSeconds"`
					SecurityContext               securityContext `yaml:"securityContext"`
					Containers                    []container     `yaml:"containers"`
					Volumes                       []struct {
						Name   string `yaml:"name"`
						Secret *struct {
							SecretName string `yaml:"secretName"`
						} `yaml:"secret"`
						ConfigMap *struct {
							Name string `yaml:"name"`
						} `yaml:"configMap"`
					} `yaml:"volumes"`
				} `yaml:"spec"`
			} `yaml:"template"`
		} `yaml:"spec"`
	}
	keyRef struct {
		Name string `yaml:"name"`
		Key  string `yaml:"key"`
	}
	service struct {
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				Name       string `yaml:"name"`
				Port       int    `yaml:"port"`
				TargetPort any    `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	pdb struct {
		Spec struct {
			MinAvailable any           `yaml:"minAvailable"`
			Selector     labelSelector `yaml:"selector"`
		} `yaml:"spec"`
	}
	serviceMonitor struct {
		Spec struct {
			Selector  labelSelector `yaml:"selector"`
			Endpoints []struct {
				Port   string `yaml:"port"`
				Path   string `yaml:"path"`
				Scheme string `yaml:"scheme"`
			} `yaml:"endpoints"`
		} `yaml:"spec"`
	}
	dataObject struct { // ConfigMap and Secret
		Type       string            `yaml:"type"`
		Data       map[string]string `yaml:"data"`
		StringData map[string]string `yaml:"stringData"`
	}
	kustomization struct {
		Resources []string `yaml:"resources"`
	}
)

// matches reports whether labels carry every pair of selector (a
// non-empty one).
func matches(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// TestKubernetesManifests checks deploy/kubernetes against the essentials
// of each kind's schema that matter here, and against the bridge's own
// settings: known apiVersion/kind pairs and names; selectors that match
// the pod template; probes on /readyz and /healthz on the SCIM port; the
// pod's hardening; a grace period longer than the drain and shutdown;
// Redis with two replicas; every variable a setting of the bridge, every
// secret read from a file of a mounted Secret key; placeholder secrets
// only; a ServiceMonitor that reaches /metrics on the admin listener.
func TestKubernetesManifests(t *testing.T) {
	objs := loadManifests(t, filepath.Join(repoRoot(t), filepath.FromSlash(k8sDir)))
	byKind := map[string][]object{}
	for _, o := range objs {
		want, known := knownKinds[o.Kind]
		switch {
		case !known:
			t.Errorf("%s: unknown kind %q", o, o.Kind)
		case o.APIVersion != want:
			t.Errorf("%s: apiVersion %q, want %q", o, o.APIVersion, want)
		}
		if o.Kind != "Kustomization" && o.Metadata.Name == "" {
			t.Errorf("%s: no metadata.name", o)
		}
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}
	for _, kind := range []string{"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget", "ServiceMonitor"} {
		if len(byKind[kind]) == 0 {
			t.Errorf("no %s", kind)
		}
	}
	if len(byKind["Deployment"]) != 1 {
		t.Fatalf("%d Deployments, want 1", len(byKind["Deployment"]))
	}

	// ConfigMaps and Secrets by name, with their keys.
	configMaps, secrets := map[string]map[string]string{}, map[string]map[string]string{}
	for _, o := range byKind["ConfigMap"] {
		var d dataObject
		o.decode(t, &d)
		configMaps[o.Metadata.Name] = d.Data
	}
	for _, o := range byKind["Secret"] {
		var d dataObject
		o.decode(t, &d)
		if len(d.Data) > 0 {
			t.Errorf("%s: data holds encoded values; the manifests keep placeholders in stringData only", o)
		}
		for k, v := range d.StringData {
			if !strings.Contains(v, "REPLACE-ME") {
				t.Errorf("%s: key %s holds a value that is not a marked placeholder (REPLACE-ME)", o, k)
			}
		}
		secrets[o.Metadata.Name] = d.StringData
	}
	// A Secret applied with its placeholder left in must not start a
	// bridge that accepts a token published here: the IdP token
	// placeholder is one the bridge refuses (too short).
	if v, ok := secrets["scim-bridge"]["scim-tokens"]; ok {
		if _, err := config.ParseTokensFile([]byte(v), 1); err == nil {
			t.Errorf("secret.yaml: the scim-tokens placeholder %q is a token the bridge accepts; make it one it refuses (shorter than %d characters)", v, config.MinTokenLength)
		}
	}
	if v, ok := secrets["scim-bridge"]["admin-tokens"]; ok && len(v) >= config.MinTokenLength {
		t.Errorf("secret.yaml: the admin-tokens placeholder %q is a token the bridge accepts; make it one it refuses (shorter than %d characters)", v, config.MinTokenLength)
	}

	dep := byKind["Deployment"][0]
	var d deployment
	dep.decode(t, &d)
	spec := d.Spec.Template.Spec
	podLabels := d.Spec.Template.Metadata.Labels
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("%s: replicas %s, want 2", dep, show(d.Spec.Replicas))
	}
	if !matches(d.Spec.Selector.MatchLabels, podLabels) {
		t.Errorf("%s: selector %v does not match the template's labels %v", dep, d.Spec.Selector.MatchLabels, podLabels)
	}
	if len(spec.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", dep, len(spec.Containers))
	}
	c := spec.Containers[0]
	if c.Image == "" {
		t.Errorf("%s: container has no image", dep)
	}

	// The environment the bridge sees: envFrom ConfigMaps, then env.
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			data, ok := configMaps[ef.ConfigMapRef.Name]
			if !ok {
				t.Errorf("%s: envFrom names ConfigMap %q, which the manifests lack", dep, ef.ConfigMapRef.Name)
			}
			maps.Copy(env, data)
		case ef.SecretRef != nil:
			t.Errorf("%s: envFrom Secret %q puts secrets in the environment; mount it and use *_FILE", dep, ef.SecretRef.Name)
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			t.Errorf("%s: %s comes from a Secret through the environment; mount it and use %s_FILE", dep, e.Name, e.Name)
		case e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil:
			ref := e.ValueFrom.ConfigMapKeyRef
			v, ok := configMaps[ref.Name][ref.Key]
			if !ok {
				t.Errorf("%s: %s refers to ConfigMap %s key %s, which does not exist", dep, e.Name, ref.Name, ref.Key)
			}
			env[e.Name] = v
		default:
			env[e.Name] = e.Value
		}
	}
	t.Run("settings", func(t *testing.T) {
		for name := range env {
			if !settingKnown(name) {
				t.Errorf("%s is not a setting of the bridge", name)
			}
			if isSecretSetting(name) {
				t.Errorf("%s is given as a value; give %s_FILE a mounted Secret key", name, name)
			}
		}
		if env["SCIM_BRIDGE_REDIS_URL"] == "" && env["SCIM_BRIDGE_REDIS_URL_FILE"] == "" {
			t.Error("two replicas need the Redis store: SCIM_BRIDGE_REDIS_URL_FILE is not set")
		}
	})

	// Mounted Secrets: mount path → the Secret's keys.
	volumeSecret := map[string]string{}
	for _, v := range spec.Volumes {
		switch {
		case v.Secret != nil:
			if _, ok := secrets[v.Secret.SecretName]; !ok {
				t.Errorf("%s: volume %s mounts Secret %q, which the manifests lack", dep, v.Name, v.Secret.SecretName)
			}
			volumeSecret[v.Name] = v.Secret.SecretName
		case v.ConfigMap != nil:
			if _, ok := configMaps[v.ConfigMap.Name]; !ok {
				t.Errorf("%s: volume %s mounts ConfigMap %q, which the manifests lack", dep, v.Name, v.ConfigMap.Name)
			}
		}
	}
	mountKeys := map[string]map[string]string{}
	for _, m := range c.VolumeMounts {
		name, ok := volumeSecret[m.Name]
		if !ok {
			continue
		}
		if m.SubPath != "" {
			t.Errorf("%s: Secret mount %s uses subPath, which Kubernetes never updates: rotation would need a restart", dep, m.MountPath)
		}
		mountKeys[path.Clean(m.MountPath)] = secrets[name]
	}
	t.Run("secrets from mounted files", func(t *testing.T) {
		files := []string{"SCIM_BRIDGE_TLS_CERT_FILE", "SCIM_BRIDGE_TLS_KEY_FILE"}
		for name := range env {
			if base, ok := strings.CutSuffix(name, "_FILE"); ok && isSecretSetting(base) {
				files = append(files, name)
			}
		}
		for _, name := range files {
			file := env[name]
			if file == "" {
				t.Errorf("%s is not set", name)
				continue
			}
			keys, ok := mountKeys[path.Dir(file)]
			if !ok {
				t.Errorf("%s=%s is not in a mounted Secret", name, file)
				continue
			}
			if _, ok := keys[path.Base(file)]; !ok {
				t.Errorf("%s=%s: the mounted Secret has no key %s", name, file, path.Base(file))
			}
		}
		for _, name := range []string{"SCIM_BRIDGE_TOKENS_FILE", "SCIM_BRIDGE_UIPATH_CLIENT_SECRET_FILE"} {
			if env[name] == "" {
				t.Errorf("%s is not set", name)
			}
		}
	})

	// Named container ports, and which setting's port each is.
	ports := map[string]int{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	portOf := func(t *testing.T, setting string) int {
		t.Helper()
		_, p, err := net.SplitHostPort(env[setting])
		if err != nil {
			t.Fatalf("%s=%q: %v", setting, env[setting], err)
		}
		for name, n := range ports {
			if p == strconv.Itoa(n) {
				return ports[name]
			}
		}
		t.Fatalf("%s=%q: no container port %s", setting, env[setting], p)
		return 0
	}
	resolve := func(port any) int {
		switch p := port.(type) {
		case string:
			return ports[p]
		case int:
			return p
		}
		return 0
	}
	t.Run("probes", func(t *testing.T) {
		scimPort := portOf(t, "SCIM_BRIDGE_LISTEN")
		wantScheme := "HTTP"
		if env["SCIM_BRIDGE_TLS_CERT_FILE"] != "" {
			wantScheme = "HTTPS"
		}
		for _, tt := range []struct {
			name, path string
			p          *probe
		}{{"readiness", "/readyz", c.ReadinessProbe}, {"liveness", "/healthz", c.LivenessProbe}} {
			if tt.p == nil || tt.p.HTTPGet == nil {
				t.Errorf("no %s probe with httpGet", tt.name)
				continue
			}
			g := tt.p.HTTPGet
			if g.Path != tt.path {
				t.Errorf("%s probe path %q, want %q", tt.name, g.Path, tt.path)
			}
			if got := resolve(g.Port); got == 0 || got != scimPort {
				t.Errorf("%s probe port %v is not the SCIM listener's container port %d", tt.name, g.Port, scimPort)
			}
			if scheme := cmp.Or(g.Scheme, "HTTP"); scheme != wantScheme {
				t.Errorf("%s probe scheme %s, want %s", tt.name, scheme, wantScheme)
			}
		}
	})

	t.Run("hardening", func(t *testing.T) {
		pod, ctr := spec.SecurityContext, c.SecurityContext
		if !isTrue(pod.RunAsNonRoot) && !isTrue(ctr.RunAsNonRoot) {
			t.Error("runAsNonRoot is not set")
		}
		if !isTrue(ctr.ReadOnlyRootFilesystem) {
			t.Error("readOnlyRootFilesystem is not set")
		}
		if ctr.AllowPrivilegeEscalation == nil || *ctr.AllowPrivilegeEscalation {
			t.Error("allowPrivilegeEscalation is not false")
		}
		if !slices.Contains(ctr.Capabilities.Drop, "ALL") {
			t.Errorf("capabilities dropped %v, want ALL", ctr.Capabilities.Drop)
		}
		if pod.SeccompProfile.Type != "RuntimeDefault" && ctr.SeccompProfile.Type != "RuntimeDefault" {
			t.Error("seccompProfile is not RuntimeDefault")
		}
		for _, r := range []string{"cpu", "memory"} {
			if c.Resources.Requests[r] == "" {
				t.Errorf("no %s request", r)
			}
		}
		if c.Resources.Limits["memory"] == "" {
			t.Error("no memory limit")
		}
	})

	t.Run("shutdown", func(t *testing.T) {
		drain, shutdown := 5*time.Second, 15*time.Second // the bridge's defaults
		for name, v := range map[string]*time.Duration{"SCIM_BRIDGE_DRAIN_DELAY": &drain, "SCIM_BRIDGE_SHUTDOWN_TIMEOUT": &shutdown} {
			if s := env[name]; s != "" {
				d, err := time.ParseDuration(s)
				if err != nil {
					t.Fatalf("%s=%q: %v", name, s, err)
				}
				*v = d
			}
		}
		grace := spec.TerminationGracePeriodSeconds
		if grace == nil || time.Duration(*grace)*time.Second <= drain+shutdown {
			t.Errorf("terminationGracePeriodSeconds %s is not longer than the drain delay %v plus the shutdown timeout %v", show(grace), drain, shutdown)
		}
		if len(c.Lifecycle) != 0 {
			t.Errorf("lifecycle hooks %v: the bridge drains itself on SIGTERM, no preStop needed", slices.Collect(maps.Keys(c.Lifecycle)))
		}
	})

	t.Run("services", func(t *testing.T) {
		for _, o := range byKind["Service"] {
			var s service
			o.decode(t, &s)
			if !matches(s.Spec.Selector, podLabels) {
				t.Errorf("%s: selector %v does not match the pods' labels %v", o, s.Spec.Selector, podLabels)
			}
			for _, p := range s.Spec.Ports {
				if resolve(p.TargetPort) == 0 {
					t.Errorf("%s: port %s targets %v, which the container does not expose", o, p.Name, p.TargetPort)
				}
			}
		}
	})

	t.Run("disruption budget", func(t *testing.T) {
		for _, o := range byKind["PodDisruptionBudget"] {
			var p pdb
			o.decode(t, &p)
			if p.Spec.MinAvailable != 1 {
				t.Errorf("%s: minAvailable %v, want 1", o, p.Spec.MinAvailable)
			}
			if !matches(p.Spec.Selector.MatchLabels, podLabels) {
				t.Errorf("%s: selector does not match the pods' labels", o)
			}
		}
	})

	t.Run("service monitor", func(t *testing.T) {
		adminPort := portOf(t, "SCIM_BRIDGE_ADMIN_LISTEN")
		if host, _, _ := net.SplitHostPort(env["SCIM_BRIDGE_ADMIN_LISTEN"]); host == "127.0.0.1" || host == "localhost" || host == "::1" {
			t.Errorf("SCIM_BRIDGE_ADMIN_LISTEN=%s: on loopback, Prometheus cannot scrape it", env["SCIM_BRIDGE_ADMIN_LISTEN"])
		}
		if env["SCIM_BRIDGE_ADMIN_TOKENS_FILE"] == "" {
			t.Error("the admin listener is off loopback without SCIM_BRIDGE_ADMIN_TOKENS_FILE: the bridge refuses to start")
		}
		for _, o := range byKind["ServiceMonitor"] {
			var m serviceMonitor
			o.decode(t, &m)
			if len(m.Spec.Endpoints) == 0 {
				t.Errorf("%s: no endpoints", o)
			}
			for _, ep := range m.Spec.Endpoints {
				if ep.Path != "/metrics" {
					t.Errorf("%s: path %q, want /metrics", o, ep.Path)
				}
				found := false
				for _, so := range byKind["Service"] {
					if !matches(m.Spec.Selector.MatchLabels, so.Metadata.Labels) {
						continue
					}
					var s service
					so.decode(t, &s)
					for _, p := range s.Spec.Ports {
						if p.Name == ep.Port {
							found = true
							if resolve(p.TargetPort) != adminPort {
								t.Errorf("%s: port %s reaches container port %d, not the admin listener's %d", o, ep.Port, resolve(p.TargetPort), adminPort)
							}
						}
					}
				}
				if !found {
					t.Errorf("%s: no Service it selects has a port named %q", o, ep.Port)
				}
			}
		}
	})

	t.Run("kustomization", func(t *testing.T) {
		files, _ := filepath.Glob(filepath.Join(repoRoot(t), filepath.FromSlash(k8sDir), "*.yaml"))
		var want []string
		for _, f := range files {
			if b := filepath.Base(f); b != "kustomization.yaml" {
				want = append(want, b)
			}
		}
		for _, o := range byKind["Kustomization"] {
			var k kustomization
			o.decode(t, &k)
			got := slices.Sorted(slices.Values(k.Resources))
			if !slices.Equal(got, want) {
				t.Errorf("kustomization resources %v, want every manifest %v", got, want)
			}
		}
	})
}

// TestKubeconform validates the manifests against the Kubernetes schemas
// with kubeconform, when it is installed.
func TestKubeconform(t *testing.T) {
	bin, err := exec.LookPath("kubeconform")
	if err != nil {
		t.Skip("kubeconform is not on PATH; TestKubernetesManifests checks the essentials without it")
	}
	dir := filepath.Join(repoRoot(t), filepath.FromSlash(k8sDir))
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	args := []string{"-strict", "-summary", "-skip", "Kustomization",
		"-schema-location", "default",
		"-schema-location", "https://raw.githubusercontent.com/datreeio/CRDs-catalog/main/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json"}
	out, err := exec.CommandContext(t.Context(), bin, append(args, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubeconform: %v\n%s", err, out)
	}
	t.Logf("kubeconform: %s", bytes.TrimSpace(out))
}

func isTrue(b *bool) bool { return b != nil && *b }

// show prints an optional integer: its value, or "unset".
func show(n *int) string {
	if n == nil {
		return "unset"
	}
	return strconv.Itoa(*n)
}
