package redisstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/cache"
)

// unavailableHook marks every error that is not Redis' own answer (a
// reply error, or nil for a missing key) and not the caller's context as
// cache.ErrUnavailable: the connection was refused or lost, the pool timed
// out, or the client is closed. The bridge answers those with 503 and a
// retry hint instead of an internal error.
type unavailableHook struct{}

func (unavailableHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (unavailableHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if e := markUnavailable(cmd.Err()); e != cmd.Err() {
			cmd.SetErr(e)
		}
		return markUnavailable(err)
	}
}

func (unavailableHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			if e := markUnavailable(cmd.Err()); e != cmd.Err() {
				cmd.SetErr(e)
			}
		}
		return markUnavailable(err)
	}
}

// markUnavailable wraps err with cache.ErrUnavailable unless it is nil,
// already marked, a Redis reply (redis.Nil included) or a context error.
func markUnavailable(err error) error {
	var reply redis.Error
	switch {
	case err == nil, errors.Is(err, cache.ErrUnavailable), errors.As(err, &reply),
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return fmt.Errorf("%w: %w", cache.ErrUnavailable, err)
}
