package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/tlstest"
)

// composeOverride puts the UiPath emulator (the image's `emulator`
// command) in place of UiPath. Paths are relative to deploy/, the
// project directory. The emulator has no SCIM listener, so the image's
// HEALTHCHECK does not apply to it.
const composeOverride = `services:
  emulator:
    build:
      context: ..
      dockerfile: Dockerfile
    image: scim-bridge:${BRIDGE_VERSION}-emulator
    command: ["emulator", "-listen", ":9000", "-partition", "%s", "-client-id", "compose-test", "-client-secret", "%s", "-no-rate-limits"]
    healthcheck:
      disable: true
  bridge:
    depends_on:
      emulator:
        condition: service_started
`

// TestComposeUp builds and starts deploy/docker-compose.yml with the
// emulator standing in for UiPath, then checks /healthz over TLS with the
// generated certificate and a SCIM create and lookup with the token from
// the secrets file. It needs a Docker daemon and Compose v2.
func TestComposeUp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds images and starts containers; skipped in -short mode")
	}
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Skip("docker is not on PATH")
	}
	if out, err := exec.CommandContext(t.Context(), docker, "info").CombinedOutput(); err != nil {
		t.Skipf("no Docker daemon (docker info: %v): %s", err, lastLine(out))
	}
	if out, err := exec.CommandContext(t.Context(), docker, "compose", "version").CombinedOutput(); err != nil {
		t.Skipf("no Docker Compose v2 (docker compose version: %v): %s", err, lastLine(out))
	}

	dir := t.TempDir()
	tlsDir, secretsDir := filepath.Join(dir, "tls"), filepath.Join(dir, "secrets")
	for _, d := range []string{tlsDir, secretsDir} {
		if err := os.Mkdir(d, 0o755); err != nil { // the container's uid enters it
			t.Fatal(err)
		}
	}
	roots := writeCert(t, tlsDir)
	token, clientSecret := randomHex(t, 32), randomHex(t, 16)
	for name, value := range map[string]string{"scim_tokens": token + "\n", "uipath_client_secret": clientSecret} {
		if err := os.WriteFile(filepath.Join(secretsDir, name), []byte(value), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const partition = "6f1c2a9e-7d3b-4c55-9a0e-1b2c3d4e5f60"
	override := filepath.Join(dir, "emulator.yml")
	if err := os.WriteFile(override, fmt.Appendf(nil, composeOverride, partition, clientSecret), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	project := "scim-bridge-test-" + strings.ToLower(randomHex(t, 4))
	env := append(os.Environ(),
		"BRIDGE_VERSION="+project, // image tags of this run only, removed at the end
		"SCIM_BRIDGE_UIPATH_URL=http://emulator:9000",
		"SCIM_BRIDGE_UIPATH_TOKEN_URL=http://emulator:9000/connect/token",
		"SCIM_BRIDGE_UIPATH_CLIENT_ID=compose-test",
		"SCIM_BRIDGE_UIPATH_PARTITION_ID="+partition,
		"BRIDGE_TLS_DIR="+tlsDir,
		"BRIDGE_SECRETS_DIR="+secretsDir,
		"BRIDGE_HTTPS_PORT=127.0.0.1:"+strconv.Itoa(port),
	)
	compose := func(ctx context.Context, args ...string) ([]byte, error) {
		base := []string{"compose", "-p", project, "-f", filepath.Join(repoRoot(t), "deploy", "docker-compose.yml"), "-f", override}
		cmd := exec.CommandContext(ctx, docker, append(base, args...)...)
		cmd.Env = env
		return cmd.CombinedOutput()
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if t.Failed() {
			out, _ := compose(ctx, "logs", "--no-color")
			t.Logf("docker compose logs:\n%s", out)
		}
		if out, err := compose(ctx, "down", "--volumes", "--rmi", "all", "--remove-orphans"); err != nil {
			t.Logf("docker compose down: %v\n%s", err, out)
		}
	})

	ctx, cancel := context.WithTimeout(t.Context(), 8*time.Minute)
	defer cancel()
	if out, err := compose(ctx, "up", "--detach", "--build", "--wait", "--wait-timeout", "180"); err != nil {
		t.Fatalf("docker compose up: %v\n%s", err, out)
	}

	base := "https://127.0.0.1:" + strconv.Itoa(port) // the certificate names 127.0.0.1 too
	client := &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}},
	}
	res, err := client.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz over TLS: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %s", res.Status)
	}
	if res.TLS == nil || !hasCert(res.TLS.PeerCertificates, roots) {
		t.Fatal("/healthz was not served with the mounted certificate")
	}

	scim := func(method, path, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s %s: %s, body %q is not JSON", method, path, res.Status, b)
		}
		return res.StatusCode, doc
	}
	code, created := scim("POST", "/scim/v2/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName":"ada@corp.example","name":{"givenName":"Ada","familyName":"Lovelace"},
		"emails":[{"primary":true,"type":"work","value":"ada@corp.example"}],"active":true}`)
	if id, _ := created["id"].(string); code != http.StatusCreated || id == "" {
		t.Fatalf("POST /Users: %d %v", code, created)
	}
	code, list := scim("GET", "/scim/v2/Users?filter="+url.QueryEscape(`userName eq "ada@corp.example"`), "")
	if code != http.StatusOK || list["totalResults"] != float64(1) {
		t.Fatalf("GET /Users?filter=userName eq: %d %v", code, list)
	}
	// Without the token: a SCIM error, not the user.
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/scim/v2/Users", nil)
	res, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /Users without a token: %s, want 401", res.Status)
	}
}

// writeCert writes a certificate for localhost, 127.0.0.1 and ::1 (made
// by internal/tlstest, as every test's) to dir/tls.crt and its key to
// dir/tls.key, readable by any user (the container runs as another uid),
// and returns a pool that trusts it.
func writeCert(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	ca := tlstest.NewCA(t)
	pair := ca.Issue(t, tlstest.Leaf{})
	for name, data := range map[string][]byte{"tls.crt": pair.CertPEM, "tls.key": pair.KeyPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return ca.Pool()
}

// hasCert reports whether the leaf of chain is trusted by roots.
func hasCert(chain []*x509.Certificate, roots *x509.CertPool) bool {
	if len(chain) == 0 {
		return false
	}
	_, err := chain[0].Verify(x509.VerifyOptions{Roots: roots, DNSName: "localhost"})
	return err == nil
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// freePort returns a loopback TCP port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// lastLine returns the last non-blank line of b: where docker prints
// the error after its client's details.
func lastLine(b []byte) string {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return string(bytes.TrimSpace(b))
}
