package redisstore

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// Lookups are the bridge's hottest read: an IdP sends
// GET /Users?filter=userName eq "…" before every create and on every sync.
// Each one is a single script call, and on a loaded bridge most of its cost
// is not Redis' work but the system calls around it: a write and a read per
// call, on each side. The lookup batcher sends the lookups that are waiting
// at the same moment as one pipeline (one write, one read for all of them).
// A lookup that finds a worker idle is sent at once, alone, so batching
// adds no latency when the bridge is quiet; batches form only while earlier
// ones are in flight, which is exactly when the system calls are what
// limits throughput.

const (
	// lookupWorkers is how many pipelines may be in flight at once.
	lookupWorkers = 2
	// maxLookupBatch caps one pipeline.
	maxLookupBatch = 128
)

// lookupCall is one lookup waiting for its answer.
type lookupCall struct {
	key  string
	args []any
	vals []string
	err  error
	done chan struct{}
}

// lookupBatcher runs lookupScript for concurrent callers, pipelined.
type lookupBatcher struct {
	client redis.UniversalClient
	queue  chan *lookupCall

	start, closing sync.Once
	stop           chan struct{}
	wg             sync.WaitGroup

	// calls and batches count what was sent, for benchmarks and tests.
	calls, batches atomic.Int64
}

func newLookupBatcher(client redis.UniversalClient) *lookupBatcher {
	return &lookupBatcher{client: client, queue: make(chan *lookupCall, 4*maxLookupBatch), stop: make(chan struct{})}
}

// run evaluates lookupScript with key and args, batched with whatever other
// lookups are waiting. It returns when the answer is in or ctx is done.
func (b *lookupBatcher) run(ctx context.Context, key string, args ...any) ([]string, error) {
	b.start.Do(func() {
		for range lookupWorkers {
			b.wg.Go(b.work)
		}
	})
	c := &lookupCall{key: key, args: args, done: make(chan struct{})}
	select {
	case b.queue <- c:
	case <-b.stop:
		return nil, markUnavailable(redis.ErrClosed)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-c.done:
		return c.vals, c.err
	case <-b.stop:
		return nil, markUnavailable(redis.ErrClosed)
	case <-ctx.Done():
		return nil, ctx.Err() // the worker still finishes c; nobody reads it
	}
}

// close stops the workers; lookups still waiting get redis.ErrClosed.
func (b *lookupBatcher) close() {
	b.closing.Do(func() { close(b.stop) })
	b.wg.Wait()
	for {
		select {
		case c := <-b.queue:
			c.err = markUnavailable(redis.ErrClosed)
			close(c.done)
		default:
			return
		}
	}
}

func (b *lookupBatcher) work() {
	batch := make([]*lookupCall, 0, maxLookupBatch)
	for {
		batch = batch[:0]
		select {
		case c := <-b.queue:
			batch = append(batch, c)
		case <-b.stop:
			return
		}
	drain:
		for len(batch) < maxLookupBatch {
			select {
			case c := <-b.queue:
				batch = append(batch, c)
			default:
				break drain
			}
		}
		b.send(batch)
	}
}

// send answers every call of batch. The pipeline does not carry any
// caller's context: callers that give up stop waiting, the others still get
// their answers; the client's own read and write timeouts bound it.
func (b *lookupBatcher) send(batch []*lookupCall) {
	ctx := context.Background()
	b.calls.Add(int64(len(batch)))
	b.batches.Add(1)
	if len(batch) == 1 {
		c := batch[0]
		c.vals, c.err = lookupScript.Run(ctx, b.client, []string{c.key}, c.args...).StringSlice()
		close(c.done)
		return
	}
	pipe := b.client.Pipeline()
	cmds := make([]*redis.Cmd, len(batch))
	for i, c := range batch {
		cmds[i] = lookupScript.EvalSha(ctx, pipe, []string{c.key}, c.args...)
	}
	_, _ = pipe.Exec(ctx) // each command carries its own error
	for i, c := range batch {
		if err := cmds[i].Err(); err != nil && strings.HasPrefix(err.Error(), "NOSCRIPT") {
			// Redis restarted or was flushed since the script was loaded:
			// Run loads it again.
			c.vals, c.err = lookupScript.Run(ctx, b.client, []string{c.key}, c.args...).StringSlice()
		} else {
			c.vals, c.err = cmds[i].StringSlice()
		}
		close(c.done)
	}
}
