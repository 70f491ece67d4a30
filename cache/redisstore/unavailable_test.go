package redisstore

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/cache"
)

func TestMarkUnavailable(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"missing key", redis.Nil, false},
		{"transaction lost its WATCH", redis.TxFailedErr, false},
		{"cancelled", context.Canceled, false},
		{"deadline", context.DeadlineExceeded, false},
		{"connection lost", io.EOF, true},
		{"connection refused", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, true},
		{"client closed", redis.ErrClosed, true},
	} {
		got := markUnavailable(tc.err)
		if errors.Is(got, cache.ErrUnavailable) != tc.want {
			t.Errorf("%s: %v, unavailable %v", tc.name, got, !tc.want)
		}
		if tc.err != nil && !errors.Is(got, tc.err) {
			t.Errorf("%s: the cause is lost: %v", tc.name, got)
		}
	}
	// Through the hook, what a client returns is marked.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer c.Close()
	c.AddHook(unavailableHook{})
	if err := c.Ping(t.Context()).Err(); !errors.Is(err, cache.ErrUnavailable) {
		t.Errorf("ping to a closed port: %v, want ErrUnavailable", err)
	}
}
