package config

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"
)

// TLSEnabled reports whether the SCIM listener serves HTTPS itself
// (TLSCertFile and TLSKeyFile set).
func (c Config) TLSEnabled() bool { return c.TLSCertFile != "" && c.TLSKeyFile != "" }

// checkTLS reports what is wrong with the TLS settings: one file without
// the other, or a pair that does not load (unreadable, not PEM, a key that
// is not the certificate's) or whose certificate has expired. It loads the
// pair once, so check-config shows a bad file before serve would.
func (c Config) checkTLS(now time.Time) []error {
	cert, key := EnvPrefix+"TLS_CERT_FILE", EnvPrefix+"TLS_KEY_FILE"
	switch {
	case c.TLSCertFile == "" && c.TLSKeyFile == "":
		return nil
	case c.TLSKeyFile == "":
		return []error{fmt.Errorf("%s: set without %s (set both or neither)", cert, key)}
	case c.TLSCertFile == "":
		return []error{fmt.Errorf("%s: set without %s (set both or neither)", key, cert)}
	}
	pair, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
	if err != nil {
		// The error names the file and the problem, never the key's bytes.
		return []error{fmt.Errorf("%s, %s: %w", cert, key, err)}
	}
	if leaf := pair.Leaf; leaf != nil && now.After(leaf.NotAfter) {
		return []error{fmt.Errorf("%s: the certificate expired on %s", cert, leaf.NotAfter.UTC().Format(time.RFC3339))}
	}
	return nil
}

// errNegative is the problem of a duration that may be zero but not less.
var errNegative = errors.New("must not be negative")
