package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/tlstest"
)

// TestValidateTLS: the pair is both or neither, and Validate loads it once,
// so a missing file, a key that is not the certificate's or an expired
// certificate shows at check-config time. No error quotes the key.
func TestValidateTLS(t *testing.T) {
	ca := tlstest.NewCA(t)
	good := ca.Issue(t, tlstest.Leaf{})
	goodCert, goodKey := good.Write(t, t.TempDir())
	_, otherKey := ca.Issue(t, tlstest.Leaf{}).Write(t, t.TempDir())
	expiredCert, expiredKey := ca.Issue(t, tlstest.Leaf{
		NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour),
	}).Write(t, t.TempDir())
	notPEM := filepath.Join(t.TempDir(), "junk.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")

	tests := []struct {
		name        string
		cert, key   string
		drain       time.Duration
		wantErrors  []string
		wantEnabled bool
	}{
		{name: "plain HTTP", drain: 5 * time.Second},
		{name: "no drain delay", drain: 0},
		{name: "a good pair", cert: goodCert, key: goodKey, wantEnabled: true},
		{name: "certificate alone", cert: goodCert,
			wantErrors: []string{"SCIM_BRIDGE_TLS_CERT_FILE: set without SCIM_BRIDGE_TLS_KEY_FILE"}},
		{name: "key alone", key: goodKey,
			wantErrors: []string{"SCIM_BRIDGE_TLS_KEY_FILE: set without SCIM_BRIDGE_TLS_CERT_FILE"}},
		{name: "missing file", cert: missing, key: goodKey, wantEnabled: true,
			wantErrors: []string{"SCIM_BRIDGE_TLS_CERT_FILE, SCIM_BRIDGE_TLS_KEY_FILE: open " + missing}},
		{name: "not PEM", cert: notPEM, key: goodKey, wantEnabled: true,
			wantErrors: []string{"SCIM_BRIDGE_TLS_CERT_FILE, SCIM_BRIDGE_TLS_KEY_FILE: tls: "}},
		{name: "key of another certificate", cert: goodCert, key: otherKey, wantEnabled: true,
			wantErrors: []string{"SCIM_BRIDGE_TLS_CERT_FILE, SCIM_BRIDGE_TLS_KEY_FILE: tls: private key does not match public key"}},
		{name: "expired", cert: expiredCert, key: expiredKey, wantEnabled: true,
			wantErrors: []string{"SCIM_BRIDGE_TLS_CERT_FILE: the certificate expired on "}},
		{name: "negative drain delay", drain: -time.Second,
			wantErrors: []string{"SCIM_BRIDGE_DRAIN_DELAY: -1s: must not be negative"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			c.TLSCertFile, c.TLSKeyFile, c.DrainDelay = tt.cert, tt.key, tt.drain
			if got := c.TLSEnabled(); got != tt.wantEnabled {
				t.Errorf("TLSEnabled() = %v, want %v", got, tt.wantEnabled)
			}
			err := c.Validate()
			if len(tt.wantErrors) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate: nil, want %q", tt.wantErrors)
			}
			for _, want := range tt.wantErrors {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Validate: %v\nwant it to contain %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), string(good.KeyPEM[30:60])) {
				t.Errorf("Validate quotes the key: %v", err)
			}
		})
	}
}
