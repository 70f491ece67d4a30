package main

import (
	"context"
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
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	tuneGC()
	b, err := newBridge(cfg, nil, log)
	if err != nil {
		log.Error("start", "error", err)
		return 1
	}
	defer b.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		log.Error("listen", "addr", cfg.Listen, "error", err)
		return 1
	}
	adminAddr := config.AdminOff
	if cfg.AdminListen != config.AdminOff {
		adminLn, err := net.Listen("tcp", cfg.AdminListen)
		if err != nil {
			ln.Close()
			log.Error("listen (admin)", "addr", cfg.AdminListen, "error", err)
			return 1
		}
		adminAddr = adminLn.Addr().String()
		adminCtx, stopAdmin := context.WithCancel(ctx)
		adminDone := make(chan struct{})
		go func() {
			defer close(adminDone)
			if err := serveUntilDone(adminCtx, adminLn, b.admin, cfg.ShutdownTimeout, log.With("listener", "admin")); err != nil {
				log.Error("serve (admin)", "error", err)
			}
		}()
		// The store closes (deferred above) only once no admin request
		// reads it.
		defer func() {
			stopAdmin()
			<-adminDone
		}()
	}
	bgCtx, stopBackground := context.WithCancel(ctx)
	bgDone := make(chan struct{})
	go func() {
		b.background(bgCtx)
		close(bgDone)
	}()
	// The store closes (deferred above) only once the scheduler has put
	// down the call it was making.
	defer func() {
		stopBackground()
		<-bgDone
	}()
	log.Info("scim-bridge serving", append(currentBuild().logAttrs(), "addr", ln.Addr().String(), "admin_addr", adminAddr, "store", storeName(cfg),
		"membership_strategy", cfg.MembershipStrategy, "deprovision", cfg.Deprovision)...)
	if err := serveUntilDone(ctx, ln, b.handler, cfg.ShutdownTimeout, log); err != nil {
		log.Error("serve", "error", err)
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
