package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// moduleRoot returns the directory of the module the harness belongs to, so
// the bridge binary is built from the same tree whatever the working
// directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("not inside the scim-bridge module (go env GOMOD is empty)")
	}
	return filepath.Dir(mod), nil
}

// buildBridge builds cmd/scim-bridge into dir and returns the binary's path.
func buildBridge(ctx context.Context, dir string) (string, error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "scim-bridge")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/scim-bridge")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/scim-bridge: %w\n%s", err, out)
	}
	return bin, nil
}

// freeAddr returns a free loopback address.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// proc is a child process the harness started; stop ends it by its pid.
type proc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProc(cmd *exec.Cmd) (*proc, error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to grace, then kills.
func (p *proc) stop(grace time.Duration) {
	if p.exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// usage is a snapshot of a process's CPU time and peak resident set, as
// readUsage measures it: from /proc on Linux (procs_linux.go); elsewhere
// it is not measured (procs_other.go) and reports say so.
type usage struct {
	cpu    time.Duration // utime + stime
	peakMB float64       // VmHWM
}

// notMeasured stands in a report for a figure readUsage cannot take on this
// platform.
const notMeasured = "not measured"

// measured returns s, a figure from readUsage, or notMeasured where
// readUsage cannot measure.
func measured(s string) string {
	if !usageMeasured {
		return notMeasured
	}
	return s
}

// bridgeProc is a `scim-bridge serve` process.
type bridgeProc struct {
	*proc
	url string // root URL, without /scim/v2
	// adminURL is the admin listener's root URL, where /metrics is.
	adminURL string
	logPath  string
	// bin and env run the bridge's other subcommands with serve's
	// configuration.
	bin string
	env []string
}

// startBridge runs bin serve with env (added to a copy of the harness's
// environment stripped of SCIM_BRIDGE_* variables) and waits until /readyz
// answers 200.
func startBridge(ctx context.Context, bin, dir string, env map[string]string) (*bridgeProc, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	env["SCIM_BRIDGE_LISTEN"] = addr
	if env["SCIM_BRIDGE_ADMIN_LISTEN"] == "" {
		// The harness reads /metrics there. A free port, not the default,
		// which a bridge of the developer's may hold.
		if env["SCIM_BRIDGE_ADMIN_LISTEN"], err = freeAddr(); err != nil {
			return nil, err
		}
	}
	if env["SCIM_BRIDGE_DRAIN_DELAY"] == "" {
		env["SCIM_BRIDGE_DRAIN_DELAY"] = "0s" // no load balancer to drain: stop at once
	}
	cmd := exec.Command(bin, "serve")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SCIM_BRIDGE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logPath := filepath.Join(dir, "bridge.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := startProc(cmd)
	if err != nil {
		return nil, fmt.Errorf("start bridge: %w", err)
	}
	b := &bridgeProc{proc: p, url: "http://" + addr, adminURL: "http://" + env["SCIM_BRIDGE_ADMIN_LISTEN"], logPath: logPath, bin: bin, env: cmd.Env}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if p.exited() {
			return nil, fmt.Errorf("bridge exited before it was ready (%v):\n%s", p.err, tail(logPath, 20))
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.url+"/readyz", nil)
		res, err := http.DefaultTransport.RoundTrip(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return b, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.stop(time.Second)
			return nil, fmt.Errorf("bridge not ready after 30s:\n%s", tail(logPath, 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(raw), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
