package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=..."; left
// "dev", the version the go command recorded is used (buildinfo.go).
var version = "dev"

const usage = `scim-bridge provisions IdP users and groups into UiPath over SCIM 2.0.

Usage:
  scim-bridge serve          run the bridge (configuration from SCIM_BRIDGE_* variables)
  scim-bridge demo           run emulator + embedded store + bridge locally, no setup
  scim-bridge emulator       run the UiPath API emulator alone
  scim-bridge reconcile      compare UiPath with what the IdP provisioned and repair
                             the drift (-dry-run, -json, -import, -max-changes, -force;
                             exit 1: drift remains, 2: refused)
  scim-bridge status         print the queue of membership changes, the UiPath budget
                             and refused changes (-json for JSON; exit 1: needs attention)
  scim-bridge audit          print the audit log of changes made or refused
                             (-since 24h, -user ID|userName, -json for JSON lines)
  scim-bridge check-config   validate the configuration and print every setting
                             (-probe: also reach the store and UiPath, check the scopes)
  scim-bridge healthcheck    ask a running bridge's /healthz (-url to name it);
                             exit 0 when healthy, else 1: for container HEALTHCHECKs
  scim-bridge version        print the version, commit and commit date

Run "scim-bridge <command> -h" for a command's flags.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "serve":
		return serveCmd(ctx, args[1:], stdout, stderr)
	case "demo":
		return demoCmd(ctx, args[1:], stdout, stderr)
	case "emulator":
		return emulatorCmd(ctx, args[1:], stdout, stderr)
	case "status":
		return statusCmd(ctx, args[1:], stdout, stderr)
	case "reconcile":
		return reconcileCmd(ctx, args[1:], stdout, stderr)
	case "audit":
		return auditCmd(ctx, args[1:], stdout, stderr)
	case "check-config":
		return checkConfigCmd(ctx, args[1:], stdout, stderr)
	case "healthcheck":
		return healthcheckCmd(ctx, args[1:], stdout, stderr)
	case "version", "-version", "--version":
		currentBuild().print(stdout)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "scim-bridge: unknown command %q\n\n%s", args[0], usage)
	return 2
}
