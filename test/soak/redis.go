package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// redisProc is a redis-server this program started.
type redisProc struct {
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedis runs a private redis-server on a free loopback port (no
// persistence, files under dir), as internal/redistest does for tests
// (which a command cannot use: it needs a *testing.T), and returns it with
// its redis:// URL once it accepts connections.
func startRedis(dir string) (*redisProc, string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, "", errors.New("-store redis without -redis needs redis-server on PATH")
	}
	var errs []error
	for range 3 { // the free port may be taken before the server binds it
		p, url, err := tryRedis(bin, dir)
		if err == nil {
			return p, url, nil
		}
		errs = append(errs, err)
	}
	return nil, "", fmt.Errorf("start redis-server: %w", errors.Join(errs...))
}

func tryRedis(bin, dir string) (*redisProc, string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, "", err
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	// Our own pipe rather than StdoutPipe: Wait must not close it while the
	// reader below still drains it.
	out, w, err := os.Pipe()
	if err != nil {
		return nil, "", err
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		w.Close()
		out.Close()
		return nil, "", err
	}
	w.Close()
	p := &redisProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	ready := make(chan error, 1)
	go func() {
		defer out.Close()
		var log strings.Builder
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				ready <- nil
				_, _ = io.Copy(io.Discard, out) // keep draining its log
				return
			}
			log.WriteString(sc.Text() + "\n")
		}
		ready <- fmt.Errorf("redis-server on %s exited before it was ready:\n%s", addr, log.String())
	}()
	select {
	case err = <-ready:
	case <-time.After(10 * time.Second):
		err = fmt.Errorf("redis-server on %s not ready after 10s", addr)
	}
	if err != nil {
		p.stop(time.Second)
		return nil, "", err
	}
	return p, "redis://" + addr, nil
}

// stop sends SIGTERM, waits up to grace, then kills.
func (p *redisProc) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}
