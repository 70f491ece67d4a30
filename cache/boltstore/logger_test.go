package boltstore_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scim-bridge/scim-bridge/cache/boltstore"
)

// TestBoltLogsThroughSlog: bbolt's own lines (it logs opening and closing
// the file at debug) reach the store's slog logger as JSON, marked as
// bbolt's.
func TestBoltLogsThroughSlog(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s, err := boltstore.New(boltstore.Config{Path: filepath.Join(t.TempDir(), "s.db")}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	sawBolt := false
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		sawBolt = sawBolt || rec["source"] == "bbolt"
	}
	if !sawBolt {
		t.Errorf("no line from bbolt in the log:\n%s", buf.String())
	}
}
