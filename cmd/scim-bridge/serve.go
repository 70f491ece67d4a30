package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime/debug"

	"github.com/scim-bridge/scim-bridge/config"
)

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "optional YAML configuration file (default $SCIM_BRIDGE_CONFIG)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, loadErr := config.Load(os.Getenv, *file)
	// Load keeps the default in place of a value it cannot parse, so the
	// rest is still worth validating: report every problem at once.
	if err := errors.Join(loadErr, cfg.Validate()); err != nil {
		fmt.Fprintf(stderr, "scim-bridge: configuration:\n%v\n", err)
		return 1
	}
	log := configLogger(stderr, cfg)
	for _, name := range config.UnknownVars(os.Environ()) {
		log.Warn("not a setting of scim-bridge, ignored (a typo?)", "variable", name)
	}
	tuneGC()
	var tlsConfig *tls.Config
	if cfg.TLSEnabled() {
		certs, err := newCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile, log.With("component", "tls"))
		if err != nil {
			log.Error("start", "error", err)
			return 1
		}
		tlsConfig = certs.tlsConfig()
	}
	b, err := newBridge(cfg, nil, log)
	if err != nil {
		log.Error("start", "error", err)
		return 1
	}
	// Deferred calls run last first: the store closes after everything
	// else has stopped.
	defer func() {
		if err := b.Close(); err != nil {
			log.Error("store close", "error", err)
			return
		}
		log.Info("store closed; exiting")
	}()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Error("listen", "addr", cfg.Listen, "error", err)
		return 1
	}
	servers := []*listener{startListener("scim", ln, b.handler, tlsConfig, log)}
	adminAddr := config.AdminOff
	if cfg.AdminListen != config.AdminOff {
		adminLn, err := net.Listen("tcp", cfg.AdminListen)
		if err != nil {
			servers[0].shutdown(context.Background())
			log.Error("listen (admin)", "addr", cfg.AdminListen, "error", err)
			return 1
		}
		adminAddr = adminLn.Addr().String()
		servers = append(servers, startListener("admin", adminLn, b.admin, nil, log))
	}
	// Background work outlives the signal: the scheduler keeps sending
	// what the requests served during the drain queued, and stops only
	// once the listeners are closed.
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	bgDone := make(chan struct{})
	go func() {
		b.background(bgCtx)
		close(bgDone)
	}()
	defer func() {
		stopBackground()
		<-bgDone
		log.Info("background work stopped")
	}()
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	log.Info("scim-bridge serving", append(currentBuild().logAttrs(), "addr", ln.Addr().String(), "scheme", scheme, "admin_addr", adminAddr, "store", storeName(cfg),
		"membership_strategy", cfg.MembershipStrategy, "deprovision", cfg.Deprovision)...)

	failed := false
	select {
	case <-ctx.Done():
		log.Info("signal received: draining (/readyz answers 503, requests are still served)", "drain_delay", cfg.DrainDelay.String())
		b.probe.Drain()
		drainFor(cfg.DrainDelay, servers)
	case l := <-firstExit(servers):
		log.Error("serve", "listener", l.name, "error", l.err)
		failed = true
	}
	log.Info("shutting down listeners: in-flight requests may finish", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if !shutdownAll(sctx, servers, log) {
		failed = true
	}
	if failed {
		return 1
	}
	return 0
}

// tuneGC trades memory the bridge barely uses for CPU it does: its live heap
// is a few tens of MB, and with Go's default GOGC=100 the collector took a
// large share of the CPU of a lookup (BENCHMARKS.md). Unless the operator
// set GOGC or GOMEMLIMIT, collect at 4x the live heap, with a soft limit of
// 512 MiB so a burst still cannot grow the process without bound.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(512 << 20)
	}
}
