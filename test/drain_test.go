package test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
)

// TestDrainOnSIGTERM runs the real binary under steady SCIM traffic from
// several clients and sends it SIGTERM: /readyz turns 503 at once, every
// request sent during the drain delay gets its normal answer (none fails,
// none is refused), requests in flight when the listener closes finish,
// and the process exits 0, logging each step.
func TestDrainOnSIGTERM(t *testing.T) {
	bin := buildBridge(t)
	te := upstreamEnv(t)
	const drain = 2 * time.Second
	b := startBridge(t, bin, te, mergeSettings(storeConfig(t, envtest.Bolt), map[string]string{
		"DRAIN_DELAY":      drain.String(),
		"SHUTDOWN_TIMEOUT": "10s",
	}))
	base := "http://" + b.addr

	// One user per client, so the traffic mixes writes and reads.
	var stopSending atomic.Bool
	var sent, failed atomic.Int64
	var failures sync.Map
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{}}
			defer client.CloseIdleConnections()
			for i := 0; !stopSending.Load(); i++ {
				method, path, body, want := http.MethodGet, "/scim/v2/Users?count=5", "", http.StatusOK
				if i%3 == 0 {
					name := fmt.Sprintf("drain-%d-%d@corp.example", w, i)
					method, path, body, want = http.MethodPost, "/scim/v2/Users", fmt.Sprintf(
						`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":%q,"active":true}`, name), http.StatusCreated
				}
				req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+b.token)
				req.Header.Set("Content-Type", "application/scim+json")
				sent.Add(1)
				res, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					failures.Store(fmt.Sprintf("%s %s", method, path), err.Error())
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != want {
					failed.Add(1)
					failures.Store(fmt.Sprintf("%s %s", method, path), res.Status)
				}
			}
		})
	}
	readyz := func() int {
		res, err := http.Get(base + "/readyz")
		if err != nil {
			return 0
		}
		res.Body.Close()
		return res.StatusCode
	}
	time.Sleep(500 * time.Millisecond) // traffic under way
	if code := readyz(); code != http.StatusOK {
		t.Fatalf("/readyz before SIGTERM: %d", code)
	}
	b.mu.Lock()
	proc, exited := b.cmd, b.exited
	b.mu.Unlock()
	termAt := time.Now()
	if err := proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// /readyz turns 503 at once and stays so while requests are served.
	saw503 := false
	for time.Since(termAt) < drain*3/4 {
		if readyz() == http.StatusServiceUnavailable {
			saw503 = true
		}
		time.Sleep(50 * time.Millisecond)
	}
	// The load balancer has stopped sending by the end of the delay.
	stopSending.Store(true)
	wg.Wait()
	select {
	case <-exited:
	case <-time.After(20 * time.Second):
		t.Fatal("the bridge did not exit within 20s of SIGTERM")
	}
	if !saw503 {
		t.Error("/readyz never answered 503 during the drain delay")
	}
	if n := failed.Load(); n > 0 {
		failures.Range(func(k, v any) bool { t.Errorf("failed: %s: %v", k, v); return true })
		t.Errorf("%d of %d requests failed during the drain", n, sent.Load())
	}
	if code := proc.ProcessState.ExitCode(); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
	if took := time.Since(termAt); took < drain {
		t.Errorf("exited %v after SIGTERM, before the %v drain delay", took, drain)
	}
	logs := b.logs.String()
	for _, want := range []string{"draining", "shutting down listeners", "listeners closed", "background work stopped", "store closed"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	t.Logf("%d requests, none failed; exited %v after SIGTERM", sent.Load(), time.Since(termAt).Round(10*time.Millisecond))
	b.mu.Lock()
	b.cmd = nil // exited on its own: nothing for the cleanup to kill
	b.mu.Unlock()
}

// mergeSettings returns a's settings with b's over them.
func mergeSettings(a, b map[string]string) map[string]string {
	out := make(map[string]string, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
