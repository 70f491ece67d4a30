package envtest_test

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

func TestLogBufferConcurrent(t *testing.T) {
	var b envtest.LogBuffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if _, err := b.Write([]byte("x")); err != nil {
					t.Error(err)
				}
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := len(b.String()); got != 800 {
		t.Errorf("len = %d, want 800", got)
	}
}

// TestNewStores: with each store, the client works against the emulator
// and the store holds what is put in it; the logs name their components.
func TestNewStores(t *testing.T) {
	for _, kind := range []envtest.Store{envtest.Bolt, envtest.Redis} {
		t.Run(kind.String(), func(t *testing.T) {
			e := envtest.New(t, envtest.Config{Store: kind, Emulator: emulator.Config{DisableRateLimits: true}})
			if e.URL == "" || e.ClientConfig.BaseURL != e.URL {
				t.Fatalf("URL %q, client base URL %q", e.URL, e.ClientConfig.BaseURL)
			}
			pid, err := e.Client.PartitionID(t.Context())
			if err != nil || pid != e.Emulator.PartitionID() {
				t.Fatalf("PartitionID = %q, %v; want the emulator's %q", pid, err, e.Emulator.PartitionID())
			}
			u, err := e.Client.CreateUser(t.Context(), upstream.NewUser{ID: uuid.NewString(), UserName: "ada@example.com", Email: "ada@example.com"}, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := e.Emulator.User(u.ID); !ok {
				t.Errorf("emulator lacks the created user %s", u.ID)
			}
			if _, err := e.Store.Create(t.Context(), cache.Record{Kind: cache.KindUser, ID: u.ID, Name: u.UserName}); err != nil {
				t.Fatal(err)
			}
			if got, err := e.Store.Lookup(t.Context(), cache.KindUser, cache.IndexName, "ADA@example.com"); err != nil || got.ID != u.ID {
				t.Errorf("Lookup = %q, %v; want %s", got.ID, err, u.ID)
			}
			logs := e.Logs.String()
			for _, want := range []string{"component=emulator", "component=upstream", "component=store"} {
				if !strings.Contains(logs, want) {
					t.Errorf("logs lack %q:\n%s", want, logs)
				}
			}
		})
	}
}

// TestNewOptions: the hooks are applied, NoStore opens none, Quiet logs
// nothing.
func TestNewOptions(t *testing.T) {
	var wrapped atomic.Int32
	var built upstream.Config
	e := envtest.New(t, envtest.Config{
		Store: envtest.NoStore,
		Quiet: true,
		Wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				wrapped.Add(1)
				h.ServeHTTP(w, r)
			})
		},
		Client: func(c *upstream.Config) { c.MaxAttempts = 1 },
		NewClient: func(c upstream.Config, l *slog.Logger) (*upstream.Client, error) {
			built = c
			return upstream.New(c, l)
		},
	})
	if e.Store != nil {
		t.Errorf("NoStore opened %T", e.Store)
	}
	if built.MaxAttempts != 1 || e.ClientConfig.MaxAttempts != 1 {
		t.Errorf("the Client hook was not applied: built %d, ClientConfig %d", built.MaxAttempts, e.ClientConfig.MaxAttempts)
	}
	e.Emulator.Inject(emulator.Fault{Method: http.MethodGet, Status: 503})
	if _, err := e.Client.ListGroups(t.Context()); err == nil {
		t.Error("a 503 with MaxAttempts 1 did not fail the call")
	}
	if _, err := e.Client.ListGroups(t.Context()); err != nil {
		t.Errorf("the call after the one fault: %v", err)
	}
	if wrapped.Load() == 0 {
		t.Error("Wrap's handler saw no call")
	}
	if logs := e.Logs.String(); logs != "" {
		t.Errorf("Quiet env logged:\n%s", logs)
	}
}

// TestNewOutput: Output receives the logs, as Logs does.
func TestNewOutput(t *testing.T) {
	var out envtest.LogBuffer
	e := envtest.New(t, envtest.Config{Store: envtest.NoStore, Output: &out})
	e.Logger.Info("hello")
	if !strings.Contains(out.String(), "msg=hello") || !strings.Contains(e.Logs.String(), "msg=hello") {
		t.Errorf("Output %q, Logs %q", out.String(), e.Logs.String())
	}
}
