package redistest_test

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/redistest"
)

// do sends one command in RESP and returns the first line of the reply.
func do(t *testing.T, addr string, args ...string) string {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := conn.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatalf("%v: %v", args, err)
	}
	return strings.TrimRight(line, "\r\n")
}

// TestServerRestartsEmpty: a restarted server answers on the same address
// without the data of the killed one, and refuses connections in between.
func TestServerRestartsEmpty(t *testing.T) {
	s := redistest.Start(t)
	if got := do(t, s.Addr(), "SET", "k", "v"); got != "+OK" {
		t.Fatalf("SET = %q", got)
	}
	s.Kill()
	if c, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		c.Close()
		t.Fatal("a killed server still accepts connections")
	}
	s.Restart()
	if got := do(t, s.Addr(), "GET", "k"); got != "$-1" {
		t.Errorf("GET after the restart = %q, want a nil reply", got)
	}
	if !strings.HasPrefix(s.URL(), "redis://127.0.0.1:") {
		t.Errorf("URL = %q", s.URL())
	}
}

// TestSentinelMonitorsMaster: a replica started with --replicaof and a
// Sentinel started on the master report the topology a failover needs.
func TestSentinelMonitorsMaster(t *testing.T) {
	master := redistest.Start(t)
	_, port, _ := strings.Cut(master.Addr(), ":")
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", port)
	if got := do(t, replica.Addr(), "ROLE"); got != "*5" { // replica: 5 fields
		t.Errorf("ROLE of the replica starts %q", got)
	}
	sentinel := redistest.StartSentinel(t, "mymaster", master.Addr(), time.Second)
	if got := do(t, sentinel.Addr(), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"); got != "*2" {
		t.Errorf("the Sentinel does not know the master: %q", got)
	}
}
