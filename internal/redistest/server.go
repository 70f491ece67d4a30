package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
	bin  string
	port int
	args []string // extra arguments, after the common ones
	conf string   // Sentinel: the config file (Sentinel rewrites it)
	// sentinel makes a failure to start skip the test (fail it under
	// CI=true): a redis-server built without Sentinel is not a bug here.
	sentinel bool

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start starts a private redis-server on a free loopback port, with extra
// redis-server arguments (e.g. "--replicaof", "127.0.0.1 6379"), and stops
// it when t ends. Like URL it skips t when redis-server is missing, or
// fails it under CI=true.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	s := &Server{t: t, bin: lookBin(t), args: args}
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
	s := &Server{t: t, bin: lookBin(t), conf: filepath.Join(t.TempDir(), "sentinel.conf"), sentinel: true}
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

func lookBin(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		const reason = "redis-server not on PATH (a test that kills its Redis needs one of its own)"
		if os.Getenv("CI") == "true" {
			t.Fatal(reason + " (CI=true: Redis tests must run)")
		}
		t.Skip(reason)
	}
	return bin
}

func (s *Server) startOnFreePort() {
	s.t.Helper()
	// The free port can be taken between the probe and the bind: retry.
	var errs []error
	for range 3 {
		port, err := freePort()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.port = port
		if err := s.launch(); err != nil {
			errs = append(errs, err)
			continue
		}
		s.t.Cleanup(s.Kill)
		return
	}
	err := errors.Join(errs...)
	if s.sentinel && os.Getenv("CI") != "true" {
		s.t.Skipf("redistest: redis-server --sentinel does not run here: %v", err)
	}
	s.t.Fatalf("redistest: start redis-server: %v", err)
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
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart kills the server if it runs and starts a new, empty one on the
// same port (a Sentinel keeps its config file, as a restarted one would).
// The port may briefly stay busy: Restart retries for a few seconds.
func (s *Server) Restart() {
	s.t.Helper()
	s.Kill()
	deadline := time.Now().Add(startTimeout)
	for {
		err := s.launch()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redistest: restart redis-server on port %d: %v", s.port, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// launch runs the server on s.port and waits until it answers PING.
func (s *Server) launch() error {
	args := []string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1"}
	marker := "Ready to accept connections"
	if s.conf != "" {
		args = append([]string{s.conf, "--sentinel"}, args...)
		marker = "Sentinel ID is"
	} else {
		args = append(args, "--save", "", "--appendonly", "no", "--dir", s.t.TempDir())
	}
	cmd := exec.Command(s.bin, append(args, s.args...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return err
	}
	stop := func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	ready := make(chan error, 1)
	go func() {
		var log strings.Builder
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), marker) {
				ready <- nil
				_, _ = io.Copy(io.Discard, out)
				return
			}
			log.WriteString(sc.Text() + "\n")
		}
		ready <- fmt.Errorf("redis-server on port %d exited before it was ready:\n%s", s.port, log.String())
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case err = <-ready:
	case <-timer.C:
		err = fmt.Errorf("redis-server on port %d not ready after %v", s.port, startTimeout)
	}
	if err == nil {
		err = ping(s.Addr())
	}
	if err != nil {
		stop()
		return err
	}
	s.mu.Lock()
	s.cmd = cmd
	s.mu.Unlock()
	return nil
}
