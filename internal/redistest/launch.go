package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// startTimeout bounds how long a started redis-server may take to accept
// connections.
const startTimeout = 10 * time.Second

// Process is a redis-server (or a Sentinel) started by Launch or LaunchOn.
// Unlike the test helpers it needs no testing.TB, so a command (the soak
// and load harnesses) can start one too; whoever starts it must Stop or
// Kill it.
type Process struct {
	cmd  *exec.Cmd
	port int
	done chan struct{} // closed when the process has exited and been reaped
}

// Ephemeral returns the redis-server arguments for a server that persists
// nothing, with its working directory (where a replica's sync may still
// write) under dir.
func Ephemeral(dir string) []string {
	return []string{"--save", "", "--appendonly", "no", "--dir", dir}
}

// Launch runs redis-server from PATH on a free loopback port with args
// (see LaunchOn) and returns it once it answers PING. The free port can be
// taken by someone else between the probe and the server's bind: then it
// tries another, three times in all. Without redis-server on PATH the
// error wraps exec.ErrNotFound.
func Launch(args ...string) (*Process, error) {
	var errs []error
	for range 3 {
		port, err := freePort()
		if err == nil {
			var p *Process
			if p, err = LaunchOn(port, args...); err == nil {
				return p, nil
			}
		}
		if errors.Is(err, exec.ErrNotFound) {
			return nil, err
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

// LaunchOn runs redis-server from PATH on the loopback port port and
// returns it once it answers PING. args come before the port and bind
// options, so a config file may lead them; with "--sentinel" among them it
// waits for a Sentinel's ready line rather than a server's.
func LaunchOn(port int, args ...string) (*Process, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	marker := "Ready to accept connections"
	if slices.Contains(args, "--sentinel") {
		marker = "Sentinel ID is"
	}
	cmd := exec.Command(bin, append(slices.Clip(args), "--port", strconv.Itoa(port), "--bind", "127.0.0.1")...)
	// Our own pipe rather than StdoutPipe: Wait (below) must not close it
	// while the reader still drains it.
	out, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = w, w
	err = cmd.Start()
	w.Close() // the child has its own descriptor
	if err != nil {
		out.Close()
		return nil, err
	}
	p := &Process{cmd: cmd, port: port, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()

	// Wait for the server's own ready line rather than polling the port.
	ready := make(chan error, 1)
	go func() {
		defer out.Close()
		var log strings.Builder
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), marker) {
				ready <- nil
				_, _ = io.Copy(io.Discard, out) // keep draining its log
				return
			}
			log.WriteString(sc.Text() + "\n")
		}
		ready <- fmt.Errorf("redis-server on port %d exited before it was ready:\n%s", port, log.String())
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case err = <-ready:
	case <-timer.C:
		err = fmt.Errorf("redis-server on port %d not ready after %v", port, startTimeout)
	}
	if err == nil {
		err = ping(p.Addr())
	}
	if err != nil {
		p.Kill()
		return nil, err
	}
	return p, nil
}

// Port is the loopback port the process listens on.
func (p *Process) Port() int { return p.port }

// Addr is the process's host:port.
func (p *Process) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)) }

// URL is the process's redis:// URL.
func (p *Process) URL() string { return "redis://" + p.Addr() }

// Pid is the process's id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Kill ends the process at once (SIGKILL) and waits until it has exited:
// its data is gone, connections are reset. Killing an ended process does
// nothing.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Stop asks the process to end (SIGTERM), waits up to grace, then kills
// it.
func (p *Process) Stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		p.Kill()
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ping sends a RESP PING and expects +PONG.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(startTimeout)); err != nil {
		return err
	}
	if _, err := conn.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return fmt.Errorf("ping %s: %w", addr, err)
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("ping %s: unexpected reply %q", addr, line)
	}
	return nil
}
