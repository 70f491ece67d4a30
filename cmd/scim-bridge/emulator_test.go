package main

import (
	"bytes"
	"io"
	"net"
	"regexp"
	"testing"

	"github.com/scim-bridge/scim-bridge/config"
)

// TestEmulatorDefaultAddress: the emulator alone, started with its
// defaults, leaves the ports of serve's default listeners free, so that a
// bridge with its default settings can run beside it on one machine (the
// emulator once took the admin listener's 127.0.0.1:8081, and serve then
// failed with "address already in use").
func TestEmulatorDefaultAddress(t *testing.T) {
	var usage bytes.Buffer
	run([]string{"emulator", "-h"}, io.Discard, &usage)
	m := regexp.MustCompile(`-listen string\s+address to listen on \(default "([^"]+)"\)`).FindStringSubmatch(usage.String())
	if m == nil {
		t.Fatalf("no -listen default in the emulator's usage:\n%s", usage.String())
	}
	_, emuPort, err := net.SplitHostPort(m[1])
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(func(string) string { return "" }, "")
	if err != nil {
		t.Fatal(err)
	}
	for name, addr := range map[string]string{"SCIM_BRIDGE_LISTEN": cfg.Listen, "SCIM_BRIDGE_ADMIN_LISTEN": cfg.AdminListen} {
		if _, port, _ := net.SplitHostPort(addr); port == emuPort {
			t.Errorf("the emulator listens on %s by default, the port of %s's default %s", m[1], name, addr)
		}
	}
}
