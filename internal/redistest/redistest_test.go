package redistest_test

import (
	"bufio"
	"fmt"
	"net"
	"net/url"
	"runtime"
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

// recorder stands in for a testing.TB to observe Skip and Fatal, which end
// the calling goroutine.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Skip(args ...any)  { r.skipped = fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) Fatal(args ...any) { r.failed = fmt.Sprint(args...); runtime.Goexit() }
func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestURLWithoutRedis(t *testing.T) {
	tests := []struct {
		name                string
		ci                  string
		wantSkip, wantFatal bool
	}{
		{name: "local", ci: "", wantSkip: true},
		{name: "CI", ci: "true", wantFatal: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("PATH", t.TempDir()) // no redis-server
			t.Setenv(redistest.EnvURL, "")
			t.Setenv("CI", tt.ci)
			r := &recorder{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				redistest.URL(r)
			}()
			<-done
			if gotSkip := r.skipped != ""; gotSkip != tt.wantSkip {
				t.Errorf("skipped = %q, want skip %v", r.skipped, tt.wantSkip)
			}
			if gotFatal := r.failed != ""; gotFatal != tt.wantFatal {
				t.Errorf("failed = %q, want fatal %v", r.failed, tt.wantFatal)
			}
			for _, msg := range []string{r.skipped, r.failed} {
				if msg != "" && !strings.Contains(msg, "redis-server not on PATH") {
					t.Errorf("message %q does not give the reason", msg)
				}
			}
		})
	}
}

func TestURLFromEnv(t *testing.T) {
	const want = "redis://redis.example:6380/3"
	t.Setenv(redistest.EnvURL, want)
	if got := redistest.URL(t); got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
}
