package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/config"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// demoCmd runs everything in one process with no configuration: the UiPath
// emulator on a loopback port, the embedded store in a temporary
// directory, and the bridge. It prints what a person needs to try it.
func demoCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address the bridge listens on")
	adminListen := fs.String("admin-listen", "127.0.0.1:8081", "address of the admin API (status) and metrics, or off")
	dataDir := fs.String("data", "", "directory for the embedded store (default: a new temporary directory)")
	strategy := fs.String("membership-strategy", "auto", "user, group or auto")
	verbose := fs.Bool("v", false, "log every request")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	level := "warn"
	if *verbose {
		level = "info"
	}
	log := newLogger(stderr, level, "text")

	emu := emulator.New(emulator.Config{MaxRequestLog: emulatorLogCap}, log.With("component", "emulator"))
	emuLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "scim-bridge demo: %v\n", err)
		return 1
	}
	go func() { _ = serveUntilDone(ctx, "emulator", emuLn, withStateView(emu), time.Second, log) }()
	emuURL := "http://" + emuLn.Addr().String()

	dir := *dataDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "scim-bridge-demo-"); err != nil {
			fmt.Fprintf(stderr, "scim-bridge demo: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
	}
	token := randomToken()
	clientID, secret := emu.Credentials()
	cfg := config.Config{
		Listen:             *listen,
		AdminListen:        *adminListen,
		Tokens:             []config.Secret{config.Secret(token)},
		UiPathURL:          emuURL,
		UiPathTokenURL:     emuURL + "/connect/token",
		UiPathClientID:     clientID,
		UiPathClientSecret: config.Secret(secret),
		UiPathScopes:       []string{"PM.User", "PM.Group"},
		DataDir:            filepath.Clean(dir),
		MembershipStrategy: *strategy,
		MembershipWrites:   "queued",
		Deprovision:        "disable",
		AdoptExisting:      true,
		UpstreamTimeout:    30 * time.Second,
		MaxBodyBytes:       8 << 20,
		Budget:             map[string]int{"GET": 300, "POST": 24000, "PUT": 160, "DELETE": 160},
		BudgetWindow:       5 * time.Minute,
		DeprovisionReserve: 0.1,
	}
	if strings.EqualFold(cfg.AdminListen, config.AdminOff) {
		cfg.AdminListen = config.AdminOff
	} else if host, _, err := net.SplitHostPort(cfg.AdminListen); err != nil || !config.IsLoopback(host) {
		// The demo sets no admin token: its admin API stays on loopback.
		fmt.Fprintf(stderr, "scim-bridge demo: -admin-listen %q: want a loopback host:port, or off\n", cfg.AdminListen)
		return 2
	}
	b, err := newBridge(cfg, nil, log)
	if err != nil {
		fmt.Fprintf(stderr, "scim-bridge demo: %v\n", err)
		return 1
	}
	defer b.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "scim-bridge demo: %v (try -listen 127.0.0.1:0)\n", err)
		return 1
	}
	statusLine, adminAddr := "off", ""
	if cfg.AdminListen != config.AdminOff {
		adminLn, err := net.Listen("tcp", cfg.AdminListen)
		if err != nil {
			ln.Close()
			fmt.Fprintf(stderr, "scim-bridge demo: %v (try -admin-listen 127.0.0.1:0, or off)\n", err)
			return 1
		}
		go func() { _ = serveUntilDone(ctx, "admin", adminLn, b.admin, time.Second, log) }()
		adminAddr = adminLn.Addr().String()
		statusLine = "curl -s http://" + adminAddr + adminStatusPath
	}
	go b.background(ctx)
	base := "http://" + ln.Addr().String() + "/scim/v2"
	fmt.Fprintf(stdout, demoText, base, token, emuURL, statusLine)
	if cfg.AdminListen != config.AdminOff {
		fmt.Fprintf(stdout, demoAdminText, "http://"+adminAddr)
	}
	if err := serveUntilDone(ctx, "scim", ln, b.handler, 5*time.Second, log); err != nil {
		fmt.Fprintf(stderr, "scim-bridge demo: %v\n", err)
		return 1
	}
	return 0
}

func randomToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// demoAdminText follows the walk-through when the admin listener is on:
// the metrics, and the two other jobs through the admin API.
const demoAdminText = `
  # what the bridge counted (Prometheus format, on the admin listener only)
  curl -s %[1]s/metrics | grep -E '^scim_bridge_(scim|upstream)_requests_total'

  # the leaver's trail: when her access was removed, by which request,
  # and when UiPath confirmed it
  curl -s "%[1]s/admin/v1/audit?user=ada@example.com"

  # the nightly job: a reconciliation pass comparing UiPath with what the
  # IdP provisioned (dry run: it reports and writes nothing)
  curl -s -X POST "%[1]s/admin/v1/reconcile?dryRun=true"
`

// demoText is what the demo prints: the addresses, the token, and a
// walk-through that works when pasted into a POSIX shell.
const demoText = `scim-bridge demo is running (Ctrl-C to stop).

  SCIM base URL:     %[1]s
  Bearer token:      %[2]s
  UiPath (emulated): %[3]s  (what it holds: %[3]s/_state)
  Queue status:      %[4]s

Walk-through (paste into a shell):

  export SCIM=%[1]s TOKEN=%[2]s UIPATH=%[3]s
  H1="Authorization: Bearer $TOKEN"; H2="Content-Type: application/scim+json"

  # a new hire arrives
  curl -s -H "$H1" -H "$H2" -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ada@example.com","name":{"givenName":"Ada","familyName":"Lovelace"},"emails":[{"value":"ada@example.com","type":"work","primary":true}],"active":true}' $SCIM/Users
  ADA=$(curl -s -H "$H1" "$SCIM/Users?filter=userName%%20eq%%20%%22ada@example.com%%22" | sed -E 's/.*"id":"([^"]+)".*/\1/')

  # a group, then ada joins it: the bridge answers once the change is
  # stored, and its scheduler sends it to UiPath a moment later
  curl -s -H "$H1" -H "$H2" -d '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Finance"}' $SCIM/Groups
  GRP=$(curl -s -H "$H1" "$SCIM/Groups?filter=displayName%%20eq%%20%%22Finance%%22" | sed -E 's/.*"id":"([^"]+)".*/\1/')
  curl -s -X PATCH -H "$H1" -H "$H2" -d '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"add","path":"members","value":[{"value":"'$ADA'"}]}]}' $SCIM/Groups/$GRP
  sleep 2; curl -s $UIPATH/_state

  # she leaves: deactivate (the UiPath account is disabled), then delete
  curl -s -X PATCH -H "$H1" -H "$H2" -d '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","value":{"active":false}}]}' $SCIM/Users/$ADA
  curl -s -X DELETE -H "$H1" $SCIM/Users/$ADA
  curl -s $UIPATH/_state
`
