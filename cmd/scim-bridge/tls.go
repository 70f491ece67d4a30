package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// certCheckEvery is how often, at most, a TLS handshake looks at the
// certificate files for a change: a renewed pair is served within this
// long of the first handshake after it is written.
var certCheckEvery = 2 * time.Second

// certReloader serves the SCIM listener's certificate from
// SCIM_BRIDGE_TLS_CERT_FILE and SCIM_BRIDGE_TLS_KEY_FILE, and reloads the
// pair when either file changes (fileStamp: its identity, as a rename or a
// Kubernetes Secret's symlink swap changes it, size, modification time or
// content), without a restart and
// without dropping a connection: a connection keeps the certificate it
// shook hands with, new ones get the new pair. A pair that fails to load
// (half written, a key that is not the certificate's) is logged and the
// old one kept; the files are tried again when they next change. Safe for
// concurrent use.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp // of certFile and keyFile when last loaded or tried
	checked time.Time
}

// newCertReloader loads the pair once; an error means serve cannot start.
func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	certPEM, keyPEM, stamp, err := r.readFiles()
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate: %w", err)
	}
	r.cert, r.stamp, r.checked = &cert, stamp, r.now()
	r.log.Info("TLS certificate loaded", certAttrs(cert.Leaf)...)
	return r, nil
}

// tlsConfig is the SCIM listener's TLS configuration: TLS 1.2 at least,
// Go's default cipher suites (all with forward secrecy for TLS 1.2), and
// the reloaded certificate.
func (r *certReloader) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: r.GetCertificate,
	}
}

// GetCertificate implements tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= certCheckEvery {
		r.checked = now
		r.reloadLocked()
	}
	return r.cert, nil
}

// reloadLocked loads the pair again if the files changed since the last
// try. r.mu is held.
func (r *certReloader) reloadLocked() {
	certPEM, keyPEM, stamp, err := r.readFiles()
	if err != nil {
		r.log.Error("TLS certificate files unreadable; serving the certificate loaded before", "error", err)
		return
	}
	if stamp[0].same(r.stamp[0]) && stamp[1].same(r.stamp[1]) {
		return
	}
	r.stamp = stamp
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		r.log.Error("TLS certificate changed but does not load; serving the certificate loaded before", "error", err)
		return
	}
	r.cert = &cert
	r.log.Info("TLS certificate reloaded", certAttrs(cert.Leaf)...)
}

// readFiles reads the pair with the files' stamps: the pair loaded is the
// one stamped, even if a file changes while it is read.
func (r *certReloader) readFiles() (certPEM, keyPEM []byte, stamp [2]fileStamp, err error) {
	certPEM, stamp[0], err = readStamped(r.certFile)
	if err == nil {
		keyPEM, stamp[1], err = readStamped(r.keyFile)
	}
	if err != nil {
		return nil, nil, stamp, fmt.Errorf("TLS certificate: %w", err)
	}
	return certPEM, keyPEM, stamp, nil
}

// certAttrs describe a certificate for the log: public facts only. The
// serial is in hex, as openssl x509 -serial prints it, so the two can be
// matched.
func certAttrs(leaf *x509.Certificate) []any {
	if leaf == nil {
		return nil
	}
	return []any{"subject", leaf.Subject.String(), "serial", fmt.Sprintf("%X", leaf.SerialNumber),
		"not_after", leaf.NotAfter.UTC().Format(time.RFC3339)}
}
