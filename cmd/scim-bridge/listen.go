package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// listener is an http.Server (newServer: the timeouts of every listener)
// on one net.Listener, served in the background: serve's SCIM and admin
// listeners, and through serveUntilDone those of demo and emulator.
type listener struct {
	name string
	srv  *http.Server
	log  *slog.Logger
	// exited is closed when Serve returns; err is its error then
	// (http.ErrServerClosed after shutdown).
	exited chan struct{}
	err    error
}

// startListener serves h on ln, over TLS when tlsConfig is set.
func startListener(name string, ln net.Listener, h http.Handler, tlsConfig *tls.Config, log *slog.Logger) *listener {
	l := &listener{name: name, log: log.With("listener", name), exited: make(chan struct{})}
	l.srv = newServer(h, l.log)
	l.srv.TLSConfig = tlsConfig
	go func() {
		defer close(l.exited)
		if tlsConfig != nil {
			l.err = l.srv.ServeTLS(ln, "", "")
		} else {
			l.err = l.srv.Serve(ln)
		}
	}()
	return l
}

// shutdown closes the listener and waits, until ctx ends, for its
// requests in flight to finish. It logs and returns what went wrong: nil
// when every request finished.
func (l *listener) shutdown(ctx context.Context) error {
	err := l.srv.Shutdown(ctx)
	if err != nil {
		l.log.Error("shutdown: requests still in flight were cut off", "error", err)
		_ = l.srv.Close()
		err = fmt.Errorf("shutdown: %w", err)
	}
	<-l.exited
	if l.err != nil && !errors.Is(l.err, http.ErrServerClosed) {
		l.log.Error("serve", "error", l.err)
		return l.err
	}
	return err
}

// serveUntilDone serves h on ln until ctx ends, then shuts down gracefully
// within timeout: a listener without serve's drain, for demo and
// emulator.
func serveUntilDone(ctx context.Context, name string, ln net.Listener, h http.Handler, timeout time.Duration, log *slog.Logger) error {
	l := startListener(name, ln, h, nil, log)
	select {
	case <-l.exited:
		return l.err
	case <-ctx.Done():
	}
	l.log.Info("shutting down", "timeout", timeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return l.shutdown(sctx)
}

// firstExit delivers the first listener whose Serve returns on its own
// (a failed accept), which ends serve.
func firstExit(ls []*listener) <-chan *listener {
	out := make(chan *listener, len(ls))
	for _, l := range ls {
		go func() {
			<-l.exited
			out <- l
		}()
	}
	return out
}

// drainFor waits d while the listeners keep serving, so that load
// balancers, told by /readyz, stop sending requests before the listeners
// close. A listener that fails meanwhile ends the wait.
func drainFor(d time.Duration, ls []*listener) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-firstExit(ls):
	}
}

// shutdownAll shuts every listener down at once within ctx, logs each, and
// reports whether all closed cleanly.
func shutdownAll(ctx context.Context, ls []*listener, log *slog.Logger) bool {
	var wg sync.WaitGroup
	ok := make([]bool, len(ls))
	for i, l := range ls {
		wg.Go(func() {
			start := time.Now()
			ok[i] = l.shutdown(ctx) == nil
			l.log.Info("listener closed", "clean", ok[i], "took", time.Since(start).Round(time.Millisecond).String())
		})
	}
	wg.Wait()
	for _, o := range ok {
		if !o {
			return false
		}
	}
	log.Info("listeners closed")
	return true
}
