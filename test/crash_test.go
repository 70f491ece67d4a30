package test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// The crash tests run the real binary, SIGKILL it in the middle of work,
// start it again on the same store and let the IdP retry what did not get
// a 2xx. UiPath (the emulator) and the store must then hold exactly what
// the IdP asked for: no account or group twice, no membership missing on
// either side.

// pushUsers pushes n users named prefix-i@corp.example through c, on
// workers goroutines, and returns their names and ids.
func pushUsers(t *testing.T, c *idp, prefix string, n, workers int) (names, ids []string) {
	t.Helper()
	names, ids = make([]string, n), make([]string, n)
	err := onWorkers(n, workers, func(i int) error {
		names[i] = fmt.Sprintf("%s-%04d@corp.example", prefix, i)
		id, err := c.ensureUser(names[i])
		ids[i] = id
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names, ids
}

// waitFor polls cond every 2ms until it holds, failing t after limit.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestCrashMidMembershipPatch kills the bridge while it applies a PATCH
// adding 2,000 members to a group: with strategy user that
// is 2,000 PUT /User calls, killed after a few hundred; with auto, one
// PUT /Group that UiPath has applied but whose answer the bridge never
// reads. The restarted bridge gets the same PATCH again from the IdP.
func TestCrashMidMembershipPatch(t *testing.T) {
	bin := buildBridge(t)
	const members = 2000
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		for _, strategy := range []string{"user", "auto"} {
			t.Run(strategy, func(t *testing.T) {
				te := upstreamEnv(t)
				emu := te.Emulator
				settings := storeConfig(t, store)
				settings["MEMBERSHIP_STRATEGY"] = strategy
				// The PATCH's own calls are what the kill interrupts:
				// sync writes (TestCrashWithQueuedMembership kills the
				// scheduler's).
				settings["MEMBERSHIP_WRITES"] = "sync"
				b := startBridge(t, bin, te, settings)
				c := newIdP(t, b)

				names, ids := pushUsers(t, c, "m", members, 16)
				gid, err := c.ensureGroup("Engineering")
				if err != nil {
					t.Fatal(err)
				}
				setupRequests := c.requests.Load()
				setupRetries := c.retries.Load()

				var inject string
				putsBefore := emu.CountRequests(http.MethodPut)
				switch strategy {
				case "user":
					// Each PUT /User is applied, then answered 5ms later:
					// the kill lands between UiPath's change and the
					// bridge's record of it for the calls in flight.
					emu.Inject(emulator.Fault{Method: http.MethodPut, PathContains: "/User/", Delay: 5 * time.Millisecond, AfterApply: true, Times: -1})
					inject = "SIGKILL after 500 of 2000 PUT /User (each applied 5ms before its answer)"
				default:
					emu.Inject(emulator.Fault{Method: http.MethodPut, PathContains: "/Group/", Delay: 30 * time.Second, AfterApply: true})
					inject = "SIGKILL after UiPath applied the PUT /Group of 2000 members, before its answer"
				}
				value := make([]any, members)
				for i, id := range ids {
					value[i] = map[string]any{"value": id}
				}
				patch := patchBody(map[string]any{"op": "add", "path": "members", "value": value})
				patched := make(chan error, 1)
				go func() {
					_, err := c.retry("PATCH", "/Groups/"+gid, patch)
					patched <- err
				}()

				switch strategy {
				case "user":
					waitFor(t, 60*time.Second, "500 PUT /User", func() bool { return emu.CountRequests(http.MethodPut)-putsBefore >= 500 })
				default:
					waitFor(t, 60*time.Second, "the PUT /Group applied", func() bool { return len(emu.GroupMemberIDs(gid)) == members })
				}
				if b.Exited() {
					t.Fatal("the bridge died before it was killed")
				}
				b.Kill()
				killedAt := time.Now()
				inUiPath := len(emu.GroupMemberIDs(gid))
				emu.ClearFaults()
				time.Sleep(300 * time.Millisecond) // the IdP's retries meet a closed port
				b.Start()
				if err := <-patched; err != nil {
					t.Fatal(err)
				}
				took := time.Since(killedAt)

				conv := checkConverged(t, emu, c, names, map[string][]string{"Engineering": names})
				t.Logf("figures: store=%v strategy=%s inject=%q members-in-UiPath-at-kill=%d requests-after-setup=%d retried=%d time-to-convergence=%v %v idp-statuses=[%s]",
					store, strategy, inject, inUiPath, c.requests.Load()-setupRequests, c.retries.Load()-setupRetries,
					took.Round(time.Millisecond), conv, c.statusCounts())
			})
		}
	})
}

// TestCrashDuringCreateBurst kills the bridge during a burst of concurrent
// user creates: some creates reached UiPath whose answer the bridge never
// read, others never left it. The IdP's workers keep retrying (lookup by
// userName, POST if absent) across the restart.
func TestCrashDuringCreateBurst(t *testing.T) {
	bin := buildBridge(t)
	const users, workers = 300, 24
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		te := upstreamEnv(t)
		emu := te.Emulator
		b := startBridge(t, bin, te, storeConfig(t, store))
		c := newIdP(t, b)
		// Every create is applied by UiPath 20ms before its answer.
		emu.Inject(emulator.Fault{Method: http.MethodPost, PathContains: "/User/BulkCreate", Delay: 20 * time.Millisecond, AfterApply: true, Times: -1})

		type result struct {
			names []string
			err   error
		}
		done := make(chan result, 1)
		go func() {
			names := make([]string, users)
			err := onWorkers(users, workers, func(i int) error {
				names[i] = fmt.Sprintf("burst-%04d@corp.example", i)
				_, err := c.ensureUser(names[i])
				return err
			})
			done <- result{names, err}
		}()
		waitFor(t, 60*time.Second, "100 creates", func() bool { return emu.CountRequests(http.MethodPost) >= 100 })
		b.Kill()
		killedAt := time.Now()
		atKill := len(emu.Users())
		emu.ClearFaults()
		time.Sleep(300 * time.Millisecond)
		b.Start()
		res := <-done
		if res.err != nil {
			t.Fatal(res.err)
		}
		took := time.Since(killedAt)
		conv := checkConverged(t, emu, c, res.names, map[string][]string{})
		t.Logf("figures: store=%v inject=%q users-in-UiPath-at-kill=%d/%d requests=%d retried=%d time-to-convergence=%v %v idp-statuses=[%s]",
			store, "SIGKILL after 100 of 300 concurrent creates (24 workers; each applied 20ms before its answer)",
			atKill, users, c.requests.Load(), c.retries.Load(), took.Round(time.Millisecond), conv, c.statusCounts())
	})
}
