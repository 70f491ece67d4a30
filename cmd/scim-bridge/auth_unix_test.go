//go:build unix

package main

import (
	"context"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/config"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/scim"
)

// TestTokensReloadOnSIGHUP: with change polling out of the way (an hour),
// SIGHUP alone makes serve re-read the tokens file, and a file that fails
// to parse keeps the tokens in force.
func TestTokensReloadOnSIGHUP(t *testing.T) {
	file := filepath.Join(t.TempDir(), "tokens")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	first, second := "first-"+randomToken(), "second-"+randomToken()
	write("a:" + first + "\n")
	var mu sync.Mutex
	var got [][]scim.StaticToken
	set := func(ts []scim.StaticToken) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, ts)
	}
	reloads := func() [][]scim.StaticToken {
		mu.Lock()
		defer mu.Unlock()
		return append([][]scim.StaticToken(nil), got...)
	}
	// While a channel of the test's is registered, a SIGHUP sent before
	// the loop registers its own cannot end the test process.
	guard := make(chan os.Signal, 16)
	signal.Notify(guard, syscall.SIGHUP)
	t.Cleanup(func() { signal.Stop(guard) })
	var logs envtest.LogBuffer
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		reloadTokens(ctx, config.Config{TokensFile: file}, set, time.Hour, newLogger(&logs, "info", "json"))
	}()
	t.Cleanup(func() { cancel(); <-done })
	hup := func() {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}

	write("b:" + second + "\n")
	// The loop may not have called signal.Notify yet: signal until it
	// reloads.
	waitFor(t, 10*time.Second, "a reload on SIGHUP", func() bool {
		hup()
		time.Sleep(50 * time.Millisecond)
		return len(reloads()) > 0
	})
	r := reloads()
	last := r[len(r)-1]
	if len(last) != 1 || last[0].Name != "b" {
		t.Fatalf("reloaded %+v, want the one token b", last)
	}
	n := len(r)
	write("b:" + second + "\nc:too-short\n")
	hup()
	waitFor(t, 10*time.Second, "the bad file to be reported", func() bool {
		return envtestContains(&logs, "tokens file not reloaded")
	})
	if len(reloads()) != n {
		t.Error("a file with a short token replaced the tokens")
	}
	if envtestContains(&logs, second) || envtestContains(&logs, "too-short") {
		t.Error("the file's content reached the log")
	}
}

func envtestContains(b *envtest.LogBuffer, s string) bool { return strings.Contains(b.String(), s) }
