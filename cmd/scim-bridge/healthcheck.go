package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/scim-bridge/scim-bridge/config"
)

// healthcheckCmd asks a running bridge's /healthz, for a container's
// HEALTHCHECK (the distroless image has no shell and no curl): exit 0 when
// it answers 200, else 1 with the reason on stderr. The URL comes from the
// bridge's own configuration (SCIM_BRIDGE_LISTEN, and https when
// SCIM_BRIDGE_TLS_CERT_FILE is set) unless -url names one.
func healthcheckCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "optional YAML configuration file (default $SCIM_BRIDGE_CONFIG)")
	target := fs.String("url", "", "the URL to ask (default: /healthz on SCIM_BRIDGE_LISTEN, on loopback when it listens on every interface)")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *target == "" {
		// Only the listener's settings matter here: a problem elsewhere in
		// the configuration is serve's to report, not the probe's.
		cfg, _ := config.Load(os.Getenv, *file)
		*target = healthURL(cfg)
	}
	u, err := url.Parse(*target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "scim-bridge healthcheck: %q is not an http(s) URL\n", *target)
		return 2
	}
	// The bridge's certificate names its public host, not 127.0.0.1:
	// verification is skipped for loopback only, where no one sits between.
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: config.IsLoopback(u.Hostname())},
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		fmt.Fprintf(stderr, "scim-bridge healthcheck: %v\n", err)
		return 2
	}
	req.Header.Set("User-Agent", "scim-bridge-healthcheck/"+version)
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "scim-bridge healthcheck: %s: %v\n", u.Redacted(), err)
		return 1
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<16))
	if res.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "scim-bridge healthcheck: %s: %s\n", u.Redacted(), res.Status)
		return 1
	}
	fmt.Fprintf(stdout, "ok: %s\n", u.Redacted())
	return 0
}

// healthURL is the /healthz URL of the SCIM listener cfg describes: its
// host, or 127.0.0.1 when it listens on every interface, and https when
// the bridge serves TLS itself.
func healthURL(cfg config.Config) string {
	host, port, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		host, port = "", "8080"
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	scheme := "http"
	if cfg.TLSEnabled() {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port), Path: "/healthz"}).String()
}
