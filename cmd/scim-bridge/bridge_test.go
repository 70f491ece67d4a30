package main

import (
	"errors"
	"io"
	"maps"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/scim-bridge/scim-bridge/config"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// TestBridgeKeepsTheDeprovisionReserve: the budget newBridge builds, in
// process or shared through Redis, keeps SCIM_BRIDGE_DEPROVISION_RESERVE of
// the PUT budget for deprovisioning calls.
func TestBridgeKeepsTheDeprovisionReserve(t *testing.T) {
	for _, store := range []string{"embedded", "redis"} {
		t.Run(store, func(t *testing.T) {
			te := envtest.New(t, envtest.Config{Store: envtest.NoStore, Quiet: true})
			settings := map[string]string{
				"UIPATH_BUDGET":       "PUT=4", // 2 for everyone, 2 more for leavers
				"DEPROVISION_RESERVE": "50%",
			}
			if store == "redis" {
				settings["REDIS_URL"], settings["REDIS_PREFIX"] = redistest.URL(t), redistest.Prefix(t)
			}
			cfg := bridgeConfig(t, te, settings)
			b, err := newBridge(cfg, nil, newLogger(io.Discard, "error", "text"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			u := te.Emulator.SeedUser(upstream.User{ID: uuid.NewString(), UserName: "leaver@corp.example", IsActive: true})

			name, inactive := "Renamed", false
			for i := range 2 {
				if err := b.client.UpdateUser(t.Context(), u.ID, upstream.UserUpdate{Name: &name}); err != nil {
					t.Fatalf("ordinary PUT %d: %v", i+1, err)
				}
			}
			if err := b.client.UpdateUser(t.Context(), u.ID, upstream.UserUpdate{Name: &name}); !errors.Is(err, upstream.ErrBudgetExhausted) {
				t.Fatalf("ordinary PUT into the reserve: %v, want ErrBudgetExhausted", err)
			}
			ctx := upstream.Deprovisioning(t.Context())
			for i := range 2 {
				if err := b.client.UpdateUser(ctx, u.ID, upstream.UserUpdate{IsActive: &inactive}); err != nil {
					t.Fatalf("deactivation %d with ordinary calls refused: %v", i+1, err)
				}
			}
			if err := b.client.UpdateUser(ctx, u.ID, upstream.UserUpdate{IsActive: &inactive}); !errors.Is(err, upstream.ErrBudgetExhausted) {
				t.Fatalf("deactivation past the limit: %v, want ErrBudgetExhausted", err)
			}
		})
	}
}

// bridgeConfig is a validated configuration of a bridge on te's emulator,
// with an IdP token and the embedded store in a temporary directory;
// settings (keys without the SCIM_BRIDGE_ prefix) add to it or override it.
func bridgeConfig(t *testing.T, te *envtest.Env, settings map[string]string) config.Config {
	t.Helper()
	clientID, secret := te.Emulator.Credentials()
	env := map[string]string{
		"TOKENS":               "token-" + randomToken(),
		"UIPATH_URL":           te.URL,
		"UIPATH_CLIENT_ID":     clientID,
		"UIPATH_CLIENT_SECRET": secret,
		"DATA_DIR":             t.TempDir(),
	}
	maps.Copy(env, settings)
	cfg, err := config.Load(func(k string) string {
		name, ok := strings.CutPrefix(k, config.EnvPrefix)
		if !ok {
			return ""
		}
		return env[name]
	}, "")
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
