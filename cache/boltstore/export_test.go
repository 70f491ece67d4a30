package boltstore

import (
	"log/slog"
	"time"
)

// NewWithTimeout is New with the file-lock timeout chosen by the test.
func NewWithTimeout(cfg Config, logger *slog.Logger, timeout time.Duration) (*Store, error) {
	cfg.OpenTimeout = timeout
	return newStore(cfg, logger, options{})
}

// NewNoSync is New without an fsync per commit, for seeding benchmarks.
func NewNoSync(cfg Config, logger *slog.Logger) (*Store, error) {
	return newStore(cfg, logger, options{noSync: true})
}
