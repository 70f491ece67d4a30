package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// wrkScript picks a random seeded user for every request.
// Every answer must be the one user asked for; done() prints how many
// were not.
const wrkScript = `
local threads = {}
setup = function(thread) table.insert(threads, thread) end
math.randomseed(%d)
local users = %d
bad = 0
response = function(status, headers, body)
  if status ~= 200 or not string.find(body, '"totalResults":1', 1, true) then bad = bad + 1 end
end
done = function(summary, latency, requests)
  local n = 0
  for _, t in ipairs(threads) do n = n + t:get("bad") end
  io.write(string.format("wrong answers: %%d\n", n))
end
request = function()
  local i = math.random(0, users - 1)
  local q = string.format('filter=userName%%%%20eq%%%%20%%%%22user%%06d%%%%40corp.example%%%%22', i)
  return wrk.format("GET", "%s/Users?" .. q, {["Authorization"] = "Bearer %s"})
end
`

var (
	wrkRate   = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	wrkTotal  = regexp.MustCompile(`(\d+) requests in`)
	wrkNon2xx = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	wrkErrs   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkP50    = regexp.MustCompile(`\s50%\s+(\S+)`)
	wrkP99    = regexp.MustCompile(`\s99%\s+(\S+)`)
	wrkWrong  = regexp.MustCompile(`wrong answers: (\d+)`)
)

// wrkLookups sends the lookups with wrk instead of this process, and
// reports the same figures.
func wrkLookups(ctx context.Context, o options, b *bridgeProc, base, token string, redisCPU func() time.Duration) error {
	bin, err := exec.LookPath("wrk")
	if err != nil {
		return fmt.Errorf("-generator wrk: wrk is not on PATH (apt-get install wrk)")
	}
	u, err := url.Parse(base)
	if err != nil {
		return err
	}
	script := filepath.Join(os.TempDir(), fmt.Sprintf("scim-lookup-%d.lua", os.Getpid()))
	if err := os.WriteFile(script, fmt.Appendf(nil, wrkScript, o.seed, o.users, u.Path, token), 0o600); err != nil {
		return err
	}
	defer os.Remove(script)
	before, _ := readUsage(b.pid())
	var redisBefore time.Duration
	if redisCPU != nil {
		redisBefore = redisCPU()
	}
	start := time.Now()
	cmd := exec.CommandContext(ctx, bin, "-t2", fmt.Sprintf("-c%d", o.concurrency),
		fmt.Sprintf("-d%ds", int(o.duration.Seconds())), "--latency", "-s", script, u.Scheme+"://"+u.Host)
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		return fmt.Errorf("wrk: %v: %s", err, out)
	}
	after, _ := readUsage(b.pid())
	redis := "-"
	if redisCPU != nil {
		d := redisCPU() - redisBefore
		redis = measured(fmt.Sprintf("%.2fs (%.2f cores)", d.Seconds(), d.Seconds()/wall.Seconds()))
	}
	find := func(re *regexp.Regexp) string {
		if m := re.FindSubmatch(out); m != nil {
			return string(m[1])
		}
		return "?"
	}
	errs := 0
	if n, err := strconv.Atoi(find(wrkWrong)); err != nil {
		return fmt.Errorf("wrk did not report wrong answers:\n%s", out)
	} else {
		errs += n
	}
	if n, err := strconv.Atoi(find(wrkNon2xx)); err == nil {
		errs += n
	}
	if m := wrkErrs.FindSubmatch(out); m != nil {
		for _, g := range m[1:] {
			n, _ := strconv.Atoi(string(g))
			errs += n
		}
	}
	cpu := after.cpu - before.cpu
	fmt.Printf("  generator  store   users  conns  requests    req/s  errors   p50    p99  bridge CPU              bridge peak RSS  redis CPU\n")
	fmt.Printf("  wrk        %s  %d  %d  %s  %s  %d  %s  %s  %s  %s  %s\n",
		o.store, o.users, o.concurrency, find(wrkTotal), find(wrkRate), errs, find(wrkP50), find(wrkP99),
		measured(fmt.Sprintf("%.2fs (%.2f cores)", cpu.Seconds(), cpu.Seconds()/wall.Seconds())),
		measured(fmt.Sprintf("%.0fMB", after.peakMB)), redis)
	if errs > 0 {
		return fmt.Errorf("%d lookups failed:\n%s", errs, out)
	}
	return nil
}
