package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
)

// TestReadyzLogsOnce: a /readyz that finds the store down logs one line,
// with the cause, on either listener: the probe, which knows the cause,
// logs it; the SCIM surface does not log it a second time.
func TestReadyzLogsOnce(t *testing.T) {
	te := envtest.New(t, envtest.Config{Store: envtest.NoStore, Quiet: true})
	cfg := bridgeConfig(t, te, nil)
	var log bytes.Buffer
	b, err := newBridge(cfg, nil, newLogger(&log, "warn", "json"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	b.probe.ping = func(context.Context) error { return errors.New("store down") }

	for name, h := range map[string]http.Handler{"SCIM": b.handler, "admin": b.admin} {
		log.Reset()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/readyz", nil))
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("%s listener: /readyz %d, want 503", name, rec.Code)
		}
		var warns []string
		for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
			if strings.Contains(line, `"level":"WARN"`) {
				warns = append(warns, line)
			}
		}
		if len(warns) != 1 || !strings.Contains(warns[0], "store down") {
			t.Errorf("%s listener: /readyz with the store down logged %d warnings, want 1 with the cause:\n%s", name, len(warns), log.String())
		}
	}
}
