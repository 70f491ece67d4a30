package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// emulatorCmd serves the UiPath API emulator alone, for local development
// and for pointing a bridge at something that behaves like UiPath.
func emulatorCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// Not 8080 or 8081: serve's default listeners, which a bridge run
	// beside the emulator needs.
	listen := fs.String("listen", "127.0.0.1:8090", "address to listen on")
	partition := fs.String("partition", "", "organization GUID (default: random)")
	clientID := fs.String("client-id", "", "accepted client id (default emulator-client)")
	clientSecret := fs.String("client-secret", "", "accepted client secret (default emulator-secret)")
	noLimits := fs.Bool("no-rate-limits", false, "turn off UiPath's rate limits (on by default, like production)")
	window := fs.Duration("window", 5*time.Minute, "rate-limit window")
	latency := fs.Duration("latency", 0, "latency added to every API call")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log := newLogger(stderr, "info", "text")
	emu := emulator.New(emulator.Config{
		PartitionID: *partition, ClientID: *clientID, ClientSecret: *clientSecret,
		DisableRateLimits: *noLimits, Window: *window, Latency: *latency,
		MaxRequestLog: emulatorLogCap,
	}, log.With("component", "emulator"))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "scim-bridge emulator: %v\n", err)
		return 1
	}
	id, secret := emu.Credentials()
	fmt.Fprintf(stdout, "UiPath emulator at http://%s (API /api, token /connect/token)\n", ln.Addr())
	fmt.Fprintf(stdout, "  partition:     %s\n  client id:     %s\n  client secret: %s\n", emu.PartitionID(), id, secret)
	fmt.Fprintf(stdout, "  state:         curl -s http://%s/_state\n", ln.Addr())
	if err := serveUntilDone(ctx, "emulator", ln, withStateView(emu), 5*time.Second, log); err != nil {
		fmt.Fprintf(stderr, "scim-bridge emulator: %v\n", err)
		return 1
	}
	return 0
}

// withStateView adds GET /_state, a JSON dump of the emulator's users and
// groups, so a person trying the demo can see what "UiPath" holds.
func withStateView(emu *emulator.Server) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_state", func(w http.ResponseWriter, _ *http.Request) {
		type group struct {
			ID      string   `json:"id"`
			Name    string   `json:"name"`
			Members []string `json:"members"`
		}
		groups := []group{}
		for _, g := range emu.Groups() {
			groups = append(groups, group{ID: g.ID, Name: g.Name, Members: emu.GroupMemberIDs(g.ID)})
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(map[string]any{"users": emu.Users(), "groups": groups})
	})
	mux.Handle("/", emu)
	return mux
}

// emulatorLogCap bounds the emulator's call log in the long-running
// commands (demo, emulator), which never read it whole.
const emulatorLogCap = 10000
