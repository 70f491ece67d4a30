package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// seedRecord is the record the bridge stores for user i after Entra's
// create (mapping.CreateUser): the request's attributes without id, meta,
// schemas, nulls and empty arrays.
func seedRecord(i int, now time.Time) (cache.Record, error) {
	res := entraUser(i)
	for k, v := range res {
		if l, ok := v.([]any); v == nil || (ok && len(l) == 0) {
			delete(res, k)
		}
	}
	delete(res, "schemas")
	delete(res, "meta")
	body, err := json.Marshal(res)
	if err != nil {
		return cache.Record{}, err
	}
	return cache.Record{
		Kind: cache.KindUser, ID: uuid.NewString(), Name: userName(i), ExternalID: fmt.Sprintf("user%06d", i),
		Resource: body, Created: now, Modified: now,
	}, nil
}

// seed stores o.users users directly, without UiPath.
func seed(ctx context.Context, o options, openStore func() (cache.Store, error)) error {
	s, err := openStore()
	if err != nil {
		return fmt.Errorf("open store to seed: %w", err)
	}
	defer s.Close()
	start := time.Now()
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	now := time.Now().UTC()
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= o.users || ctx.Err() != nil {
					return
				}
				rec, err := seedRecord(i, now)
				if err == nil {
					_, err = s.Create(ctx, rec)
				}
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("seed user %d: %w", i, err) })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fmt.Printf("seeded %d users into the %s store in %.1fs\n", o.users, o.store, time.Since(start).Seconds())
	return nil
}

// lookupMode measures GET /Users?filter=userName eq "…" throughput.
func lookupMode(ctx context.Context, o options, bin, dir string, env map[string]string, emu *emulator.Server,
	openStore func() (cache.Store, error), redisCPU func() time.Duration) error {
	if err := seed(ctx, o, openStore); err != nil {
		return err
	}
	b, err := startBridge(ctx, bin, dir, env)
	if err != nil {
		return err
	}
	defer b.stop(10 * time.Second)
	emu.ResetRequests()
	c := newIdP(b.url, env["SCIM_BRIDGE_TOKENS"], o.concurrency)

	// hammer sends lookups from o.concurrency connections until d passes.
	hammer := func(d time.Duration, seedOffset uint64) (n, errs int64, lats []time.Duration, firstErr string) {
		deadline := time.Now().Add(d)
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range o.concurrency {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(o.seed+seedOffset, uint64(w)))
				local := make([]time.Duration, 0, 1<<14)
				var ln, le int64
				var lerr string
				for time.Now().Before(deadline) && ctx.Err() == nil {
					i := rng.IntN(o.users)
					q := url.QueryEscape(fmt.Sprintf(`userName eq "%s"`, userName(i)))
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/Users?filter="+q, nil)
					req.Header.Set("Authorization", "Bearer "+c.token)
					start := time.Now()
					res, err := c.client.Do(req)
					var body []byte
					if err == nil {
						body, err = io.ReadAll(res.Body)
						res.Body.Close()
					}
					local = append(local, time.Since(start))
					ln++
					switch {
					case err != nil:
						le++
						if lerr == "" {
							lerr = err.Error()
						}
					case res.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"totalResults":1`)):
						le++
						if lerr == "" {
							lerr = fmt.Sprintf("%d %s", res.StatusCode, cut(string(body), 300))
						}
					}
				}
				mu.Lock()
				n += ln
				errs += le
				lats = append(lats, local...)
				if firstErr == "" {
					firstErr = lerr
				}
				mu.Unlock()
			})
		}
		wg.Wait()
		return n, errs, lats, firstErr
	}

	fmt.Printf("warming up for 2s…\n")
	hammer(2*time.Second, 1000)
	if o.generator == "wrk" {
		return wrkLookups(ctx, o, b, c.base, c.token, redisCPU)
	}
	before, _ := readUsage(b.pid())
	self, _ := readUsage(os.Getpid())
	var redisBefore time.Duration
	if redisCPU != nil {
		redisBefore = redisCPU()
	}
	start := time.Now()
	n, errs, lats, firstErr := hammer(o.duration, 0)
	wall := time.Since(start)
	after, _ := readUsage(b.pid())
	selfAfter, _ := readUsage(os.Getpid())
	if ctx.Err() != nil {
		return ctx.Err()
	}
	upstreamCalls := 0
	for _, r := range emu.Requests() {
		if strings.HasPrefix(r.Path, "/api/") {
			upstreamCalls++
		}
	}

	cores := func(d time.Duration) string {
		return measured(fmt.Sprintf("%.2fs (%.2f cores)", d.Seconds(), d.Seconds()/wall.Seconds()))
	}
	redis := "-"
	if redisCPU != nil {
		redis = cores(redisCPU() - redisBefore)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "store\tusers\tconns\twall\trequests\treq/s\terrors\tp50\tp99\tbridge CPU\tbridge peak RSS\tharness CPU\tredis CPU\tUiPath calls\t")
	fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%d\t%.0f\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n",
		o.store, o.users, o.concurrency, secs(wall), n, float64(n)/wall.Seconds(), errs,
		ms(percentile(lats, 0.5)), ms(percentile(lats, 0.99)),
		cores(after.cpu-before.cpu), measured(fmt.Sprintf("%.0fMB", after.peakMB)), cores(selfAfter.cpu-self.cpu), redis, upstreamCalls)
	tw.Flush()
	if firstErr != "" {
		fmt.Printf("  first error: %s\n", firstErr)
	}
	if n := countLines(b.logPath); n > 0 {
		fmt.Printf("bridge log: %d warning/error lines, last ones:\n%s\n", n, tail(b.logPath, 5))
	}
	if errs > 0 {
		return fmt.Errorf("%d of %d lookups failed", errs, n)
	}
	return nil
}
