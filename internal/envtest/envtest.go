package envtest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/cache/boltstore"
	"github.com/scim-bridge/scim-bridge/cache/redisstore"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// LogBuffer is an io.Writer that keeps everything written to it. It is
// safe for concurrent use, so handlers on many goroutines can log to it
// while a test reads it. The zero value is ready to use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Store selects the store New opens.
type Store int

const (
	// Bolt is the embedded store (cache/boltstore) in a file under
	// t.TempDir().
	Bolt Store = iota
	// Redis is cache/redisstore on Config.RedisURL, or else on the Redis
	// of internal/redistest (which skips the test when there is none,
	// except under CI=true), under a key prefix of its own.
	Redis
	// NoStore opens no store: Env.Store is nil.
	NoStore
)

// String returns "bolt", "redis" or "none", fit for a subtest name.
func (s Store) String() string {
	switch s {
	case Bolt:
		return "bolt"
	case Redis:
		return "redis"
	case NoStore:
		return "none"
	}
	return "Store(" + strconv.Itoa(int(s)) + ")"
}

// Config says what New builds. The zero value is the emulator with its
// production-like defaults (rate limits on), a client for it, the embedded
// store, and debug logs to t.Output() and Env.Logs.
type Config struct {
	// Emulator configures the emulator, passed to emulator.New as is.
	Emulator emulator.Config
	// Wrap, when set, wraps the emulator's handler before it is served
	// (to hold or observe calls). Zero: the emulator is served directly.
	Wrap func(http.Handler) http.Handler
	// Client, when set, edits the client's config after New has filled
	// it in and before the client is built.
	Client func(*upstream.Config)
	// NewClient builds Env.Client from its config and logger. Zero means
	// upstream.New; package upstream's own tests pass a constructor with
	// their test seams.
	NewClient func(upstream.Config, *slog.Logger) (*upstream.Client, error)
	// Store selects the store. Zero: Bolt.
	Store Store
	// RedisURL is the Redis that Store Redis uses. Zero: the one of
	// internal/redistest.
	RedisURL string
	// Output receives the logs besides Env.Logs. Zero means t.Output();
	// io.Discard keeps them in Env.Logs only.
	Output io.Writer
	// Quiet discards every log: Env.Logger logs nothing and Env.Logs
	// stays empty.
	Quiet bool
}

// Env is what New built.
type Env struct {
	// Emulator is the UiPath emulator, to seed, inspect and inject
	// faults into.
	Emulator *emulator.Server
	// URL is the emulator's identity root, the base URL of a client.
	URL string
	// ClientConfig is the config Client was built from, for building more
	// clients like it.
	ClientConfig upstream.Config
	// Client talks to the emulator. It makes no call until used.
	Client *upstream.Client
	// Store is the store Config.Store selected; nil for NoStore.
	Store cache.Store
	// Logger writes debug-level text logs to Config.Output (t.Output()
	// by default) and to Logs. The emulator, the client and the store log
	// through it with a "component" attribute.
	Logger *slog.Logger
	// Logs holds everything Logger wrote.
	Logs *LogBuffer
}

// New builds an Env for t as cfg says. It fails t if a part cannot be
// built; everything it started is closed by t.Cleanup.
func New(t testing.TB, cfg Config) *Env {
	t.Helper()
	e := &Env{Logs: &LogBuffer{}}
	if cfg.Quiet {
		e.Logger = slog.New(slog.DiscardHandler)
	} else {
		out := cfg.Output
		if out == nil {
			out = t.Output()
		}
		e.Logger = slog.New(slog.NewTextHandler(io.MultiWriter(out, e.Logs), &slog.HandlerOptions{Level: slog.LevelDebug}))
	}

	e.Emulator = emulator.New(cfg.Emulator, e.Logger.With("component", "emulator"))
	var h http.Handler = e.Emulator
	if cfg.Wrap != nil {
		h = cfg.Wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	e.URL = srv.URL

	id, secret := e.Emulator.Credentials()
	e.ClientConfig = upstream.Config{
		BaseURL:      srv.URL,
		ClientID:     id,
		ClientSecret: secret,
		HTTPClient:   srv.Client(),
		// Retries happen at once: tests check what is retried; package
		// upstream's tests check how long it waits.
		Sleep: func(ctx context.Context, _ time.Duration) error { return ctx.Err() },
	}
	if cfg.Client != nil {
		cfg.Client(&e.ClientConfig)
	}
	newClient := cfg.NewClient
	if newClient == nil {
		newClient = upstream.New
	}
	c, err := newClient(e.ClientConfig, e.Logger.With("component", "upstream"))
	if err != nil {
		t.Fatalf("envtest: upstream client: %v", err)
	}
	e.Client = c

	e.Store = openStore(t, cfg, e.Logger.With("component", "store"))
	return e
}

// openStore opens the store cfg selects, closed by t.Cleanup, or returns
// nil for NoStore.
func openStore(t testing.TB, cfg Config, logger *slog.Logger) cache.Store {
	t.Helper()
	var s cache.Store
	var err error
	switch cfg.Store {
	case NoStore:
		return nil
	case Bolt:
		s, err = boltstore.New(boltstore.Config{Path: filepath.Join(t.TempDir(), "bridge.db")}, logger)
	case Redis:
		url := cfg.RedisURL
		if url == "" {
			url = redistest.URL(t)
		}
		s, err = redisstore.New(redisstore.Config{URL: url, Prefix: redistest.Prefix(t)}, logger)
	default:
		t.Fatalf("envtest: unknown %v", cfg.Store)
	}
	if err != nil {
		t.Fatalf("envtest: open %v store: %v", cfg.Store, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
