package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// goRedisLogger forwards go-redis's own lines (what it cannot return to a
// caller: a dial that fails in the pool, a connection it fails to close)
// to a store's slog logger at warn level. By default go-redis writes them
// as plain text to stderr, in the middle of the bridge's JSON log.
//
// go-redis has one process-wide logger (redis.SetLogger, swapped
// atomically) and no per-client one, so this package-level state is
// unavoidable and is go-redis's, not ours: New points it at the logger of
// the store most recently made. A process runs one store; tests that make
// several only lose which store a line is about, not the line.
type goRedisLogger struct{ log *slog.Logger }

// Printf implements go-redis's internal.Logging.
func (l goRedisLogger) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	l.log.WarnContext(ctx, "redis client: "+msg, "source", "go-redis")
}

// useLogger makes go-redis log through logger, which is not nil.
func useLogger(logger *slog.Logger) { redis.SetLogger(goRedisLogger{logger}) }
