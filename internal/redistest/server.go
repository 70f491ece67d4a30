package redistest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Server is a redis-server (or a Sentinel) that a test started and controls:
// it can kill it and start a new one on the same port. Unlike URL, it never
// uses SCIM_BRIDGE_TEST_REDIS_URL: a test that kills its Redis needs one of
// its own.
type Server struct {
	t    testing.TB
	port int
	args []string // extra arguments, after the common ones
	conf string   // Sentinel: the config file (Sentinel rewrites it)
	// sentinel makes a failure to start skip the test (fail it under
	// CI=true): a redis-server built without Sentinel is not a bug here.
	sentinel bool

	mu   sync.Mutex
	proc *Process // nil while killed
}

// Start starts a private redis-server on a free loopback port, with extra
// redis-server arguments (e.g. "--replicaof", "127.0.0.1 6379"), and stops
// it when t ends. Like URL it skips t when redis-server is missing, or
// fails it under CI=true.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	needBinary(t, noBinary)
	s := &Server{t: t, args: args}
	s.startOnFreePort()
	return s
}

// StartSentinel starts a Sentinel on a free loopback port that monitors
// the master named masterName at masterAddr with quorum 1, declares it
// down after downAfter and stops when t ends. If the Sentinel cannot start
// it skips t with the reason, or fails it under CI=true.
func StartSentinel(t testing.TB, masterName, masterAddr string, downAfter time.Duration) *Server {
	t.Helper()
	host, port, err := net.SplitHostPort(masterAddr)
	if err != nil {
		t.Fatalf("redistest: master address %q: %v", masterAddr, err)
	}
	needBinary(t, noBinary)
	s := &Server{t: t, conf: filepath.Join(t.TempDir(), "sentinel.conf"), sentinel: true}
	conf := fmt.Sprintf("sentinel monitor %s %s %s 1\n"+
		"sentinel down-after-milliseconds %s %d\n"+
		"sentinel failover-timeout %s 10000\n",
		masterName, host, port, masterName, downAfter.Milliseconds(), masterName)
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.startOnFreePort()
	return s
}

// noBinary is why Start and StartSentinel skip without redis-server.
const noBinary = "redis-server not on PATH (a test that kills its Redis needs one of its own)"

func (s *Server) startOnFreePort() {
	s.t.Helper()
	p, err := Launch(s.launchArgs()...)
	if err != nil {
		if s.sentinel && os.Getenv("CI") != "true" {
			s.t.Skipf("redistest: redis-server --sentinel does not run here: %v", err)
		}
		s.t.Fatalf("redistest: start redis-server: %v", err)
	}
	s.port = p.Port()
	s.setProc(p)
	s.t.Cleanup(s.Kill)
}

// launchArgs are the arguments of each start, after which Launch adds the
// port: a Sentinel's config file, else no persistence in a new directory
// (a restarted server starts empty); then the test's own.
func (s *Server) launchArgs() []string {
	if s.conf != "" {
		return append([]string{s.conf, "--sentinel"}, s.args...)
	}
	return append(Ephemeral(s.t.TempDir()), s.args...)
}

func (s *Server) setProc(p *Process) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.proc = p
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr() }

// Kill stops the server at once (SIGKILL): its data is gone, connections
// are reset. Killing a stopped server does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	s.proc.Kill()
	s.proc = nil
}

// Restart kills the server if it runs and starts a new, empty one on the
// same port (a Sentinel keeps its config file, as a restarted one would).
// The port may briefly stay busy: Restart retries for a few seconds.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	deadline := time.Now().Add(startTimeout)
	for {
		p, err := LaunchOn(s.port, s.launchArgs()...)
		if err == nil {
			s.setProc(p)
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redistest: restart redis-server on port %d: %v", s.port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
