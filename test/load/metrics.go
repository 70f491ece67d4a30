package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The bridge's series the harness reads from its /metrics.
const (
	// metricPending is the membership changes acknowledged to the IdP and
	// not yet confirmed by UiPath, refreshed each scheduler round (at
	// least every second).
	metricPending = "scim_bridge_membership_pending"
	// metricDeprovision is the bridge's own histogram of the time from an
	// IdP's deactivation or deletion to UiPath's confirmation.
	metricDeprovision = "scim_bridge_deprovision_seconds"
)

// settleDelay is how long after the phase's last IdP answer the queue's
// gauge is first read: a change stored just before that answer is seen by
// a scheduler round within a second, and the gauge is set by each round.
const settleDelay = 2 * time.Second

// drainPoll is how often the gauge is read again while changes are pending.
const drainPoll = 100 * time.Millisecond

// scrape reads the bridge's /metrics (on its admin listener) and returns the samples that have no
// labels, by name.
func scrape(ctx context.Context, adminURL string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, adminURL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", res.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		name, value, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		value, _, _ = strings.Cut(value, " ") // a timestamp may follow
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

// drain is how the wait for an empty queue ended.
type drain struct {
	at      time.Time // when a scrape read metricPending 0
	scrapes int       // scrapes taken, the one that read 0 included
	err     error     // ctx ended first (or the last scrape's error with it)
}

// waitQueueEmpty reads metricPending from notBefore on, every drainPoll,
// until it reads 0.
func waitQueueEmpty(ctx context.Context, adminURL string, notBefore time.Time) drain {
	var d drain
	if wait := time.Until(notBefore); wait > 0 {
		select {
		case <-ctx.Done():
			d.err = ctx.Err()
			return d
		case <-time.After(wait):
		}
	}
	var last error
	for {
		m, err := scrape(ctx, adminURL)
		d.scrapes++
		switch {
		case err != nil:
			last = err
		case m[metricPending] == 0:
			if _, ok := m[metricPending]; ok {
				d.at = time.Now()
				return d
			}
			last = fmt.Errorf("%s missing from /metrics", metricPending)
		}
		select {
		case <-ctx.Done():
			d.err = ctx.Err()
			if last != nil {
				d.err = fmt.Errorf("%w (last scrape: %v)", ctx.Err(), last)
			}
			return d
		case <-time.After(drainPoll):
		}
	}
}
