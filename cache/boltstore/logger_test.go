package boltstore_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestBoltQuietAtInfo: at the default level, opening and closing a file
// logs nothing of bbolt's (it narrates both at info, with its options
// struct), and neither does a read-only open that times out on a file
// another store holds: New returns that error, and status, audit and
// check-config then ask the running serve, so an ERROR line would only
// alarm whoever ran them.
func TestBoltQuietAtInfo(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	path := filepath.Join(t.TempDir(), "s.db")
	s, err := boltstore.New(boltstore.Config{Path: path}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := boltstore.New(boltstore.Config{Path: path, ReadOnly: true, OpenTimeout: 50 * time.Millisecond}, log); !errors.Is(err, boltstore.ErrLocked) {
		t.Fatalf("second open of a held file: %v, want ErrLocked", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "bbolt") {
		t.Errorf("bbolt lines at info:\n%s", buf.String())
	}
}
