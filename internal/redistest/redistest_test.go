package redistest_test

import (
	"bufio"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/internal/redistest"
)

func TestURLAnswersPing(t *testing.T) {
	u, err := url.Parse(redistest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		t.Fatalf("scheme %q", u.Scheme)
	}
	if u.Scheme == "rediss" || u.User != nil {
		t.Skip("external Redis with TLS or auth: PING over plain RESP not attempted")
	}
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || line != "+PONG\r\n" {
		t.Fatalf("PING = %q, %v", line, err)
	}
}

func TestPrefixUnique(t *testing.T) {
	a, b := redistest.Prefix(t), redistest.Prefix(t)
	if a == b {
		t.Errorf("two prefixes are equal: %q", a)
	}
	for _, p := range []string{a, b} {
		if strings.ContainsAny(p, "{} ") {
			t.Errorf("prefix %q contains a brace or space", p)
		}
	}
}
