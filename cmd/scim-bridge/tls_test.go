package main

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/tlstest"
)

// TestCertReloaderContentOnly: a renewed pair written in place, of the
// same sizes and under the same modification times as the pair before
// (a coarse clock, a tool that preserves times), is still served: the
// reloader compares the files' content too, as the tokens file's does.
func TestCertReloaderContentOnly(t *testing.T) {
	ca := tlstest.NewCA(t)
	dir := t.TempDir()
	first := ca.Issue(t, tlstest.Leaf{})
	certFile, keyFile := first.Write(t, dir)
	// An ECDSA P-256 pair's PEM size varies by a few bytes at most: issue
	// until one matches the first's sizes.
	var second tlstest.Pair
	for range 200 {
		second = ca.Issue(t, tlstest.Leaf{})
		if len(second.CertPEM) == len(first.CertPEM) && len(second.KeyPEM) == len(first.KeyPEM) {
			break
		}
	}
	if len(second.CertPEM) != len(first.CertPEM) || len(second.KeyPEM) != len(first.KeyPEM) {
		t.Skip("no second pair of the first one's sizes in 200 tries")
	}

	r, err := newCertReloader(certFile, keyFile, slog.New(slog.NewTextHandler(t.Output(), nil)))
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Now()
	r.now = func() time.Time { return clock }

	for _, f := range []struct {
		path string
		data []byte
	}{{certFile, second.CertPEM}, {keyFile, second.KeyPEM}} {
		fi, err := os.Stat(f.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil { // in place: the same file
			t.Fatal(err)
		}
		if err := os.Chtimes(f.path, fi.ModTime(), fi.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	clock = clock.Add(certCheckEvery)
	if got := servedLeaf(t, r); got.SerialNumber.Cmp(second.Serial) != 0 {
		t.Errorf("served serial %v after the pair was rewritten, want the new %v", got.SerialNumber, second.Serial)
	}
}

func servedLeaf(t *testing.T, r *certReloader) *x509.Certificate {
	t.Helper()
	c, err := r.GetCertificate(&tls.ClientHelloInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Leaf != nil {
		return c.Leaf
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}
