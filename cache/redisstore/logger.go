package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// go-redis logs what it cannot return to a caller (a dial that fails in
// the pool, a connection it fails to close) through one process-wide
// logger, which by default writes plain-text lines to stderr, in the middle
// of the bridge's JSON log. New installs goRedisLogger in its place, once,
// and points it at the logger of the store most recently made: a process
// runs one store, and tests that make several only lose which store a
// line is about, not the line.
var (
	installGoRedisLogger sync.Once
	goRedisLog           atomic.Pointer[slog.Logger]
)

// goRedisLogger forwards go-redis's lines to the current store's slog
// logger at warn level.
type goRedisLogger struct{}

// Printf implements go-redis's internal.Logging.
func (goRedisLogger) Printf(ctx context.Context, format string, v ...any) {
	log := goRedisLog.Load()
	if log == nil {
		return
	}
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	log.WarnContext(ctx, "redis client: "+msg, "source", "go-redis")
}

// useLogger makes go-redis log through logger.
func useLogger(logger *slog.Logger) {
	goRedisLog.Store(logger)
	installGoRedisLogger.Do(func() { redis.SetLogger(goRedisLogger{}) })
}
