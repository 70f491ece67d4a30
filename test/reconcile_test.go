package test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache/redisstore"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/internal/storetool"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// runCommand runs the bridge binary with args and the configuration of a
// running serve, and returns its output and exit status.
func (b *bridgeProc) runCommand(args ...string) (stdout, stderr string, code int) {
	b.t.Helper()
	cmd := exec.CommandContext(b.t.Context(), b.bin, args...)
	cmd.Env = b.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		b.t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errOut.String(), code
}

// TestReconcileCommand runs `scim-bridge reconcile` beside a running
// serve, on both stores: with Redis the command runs the pass itself, with
// the embedded store (which serve holds) it asks serve's admin API. A dry
// run reports the drift and writes nothing; the pass repairs it, leaver
// first; the next pass finds UiPath in sync.
func TestReconcileCommand(t *testing.T) {
	bin := buildBridge(t)
	for _, kind := range []envtest.Store{envtest.Bolt, envtest.Redis} {
		t.Run(kind.String(), func(t *testing.T) {
			te := upstreamEnv(t)
			settings := storeConfig(t, kind)
			settings["MEMBERSHIP_WRITES"] = "queued"
			b := startBridge(t, bin, te, settings)
			c := newIdP(t, b)
			ada, err := c.ensureUser("ada@corp.example")
			if err != nil {
				t.Fatal(err)
			}
			bob, err := c.ensureUser("bob@corp.example")
			if err != nil {
				t.Fatal(err)
			}
			gid, err := c.ensureGroup("Finance")
			if err != nil {
				t.Fatal(err)
			}
			add := map[string]any{"op": "add", "path": "members", "value": []any{map[string]any{"value": ada}, map[string]any{"value": bob}}}
			if r := c.send("PATCH", "/Groups/"+gid, patchBody(add)); r.status != 204 && r.status != 200 {
				t.Fatalf("add members: %d %s", r.status, r.raw)
			}
			if r := c.send("PATCH", "/Users/"+bob, patchBody(map[string]any{"op": "replace", "path": "active", "value": false})); r.status != 200 {
				t.Fatalf("deactivate bob: %d %s", r.status, r.raw)
			}
			for end := time.Now().Add(10 * time.Second); len(te.Emulator.GroupMemberIDs(gid)) != 2; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(end) {
					t.Fatalf("the queued members never reached UiPath: %v", te.Emulator.GroupMemberIDs(gid))
				}
			}

			// Behind the bridge's back: the leaver re-enabled, ada out of the group.
			on := true
			if err := te.Client.UpdateUser(t.Context(), bob, upstream.UserUpdate{IsActive: &on}); err != nil {
				t.Fatal(err)
			}
			if _, err := te.Client.UpdateGroup(t.Context(), gid, "Finance", nil, []string{ada}); err != nil {
				t.Fatal(err)
			}
			te.Emulator.ResetRequests()

			out, errOut, code := b.runCommand("reconcile", "-dry-run", "-json")
			rep := decodeReport(t, out, errOut)
			if code != 1 || !rep.DryRun || len(rep.Drift) != 2 || rep.Drift[0].ID != bob || rep.Drift[0].Kind != mapping.DriftActive {
				t.Fatalf("dry run: exit %d, report %+v; want exit 1 and bob (the leaver) first of 2 findings\n%s", code, rep, errOut)
			}
			if n := writesSeen(te); n != 0 {
				t.Fatalf("the dry run sent %d writes to UiPath", n)
			}

			out, errOut, code = b.runCommand("reconcile", "-json")
			rep = decodeReport(t, out, errOut)
			if code != 0 || rep.Remaining() != 0 {
				t.Fatalf("pass: exit %d, report %+v\n%s", code, rep, errOut)
			}
			if u, _ := te.Emulator.User(bob); u.IsActive {
				t.Error("the leaver is still active in UiPath after the pass")
			}
			if got := te.Emulator.GroupMemberIDs(gid); !slices.Contains(got, ada) {
				t.Errorf("Finance members %v after the pass; want ada back", got)
			}
			if rep.UpstreamCalls["GET"] < rep.MinimumGets || rep.MinimumGets != 2 {
				t.Errorf("GETs %d, minimum %d", rep.UpstreamCalls["GET"], rep.MinimumGets)
			}

			out, errOut, code = b.runCommand("reconcile")
			if code != 0 || !strings.Contains(out, "No drift") {
				t.Errorf("the next pass: exit %d\n%s%s", code, out, errOut)
			}
		})
	}
}

func decodeReport(t *testing.T, out, errOut string) mapping.ReconcileReport {
	t.Helper()
	var rep mapping.ReconcileReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("reconcile -json printed no report: %v\nstdout: %s\nstderr: %s", err, out, errOut)
	}
	return rep
}

// writesSeen counts the API writes the emulator saw since its log was reset.
func writesSeen(te *envtest.Env) int {
	n := 0
	for _, r := range te.Emulator.Requests() {
		if r.Method != http.MethodGet && strings.HasPrefix(r.Path, "/api/") {
			n++
		}
	}
	return n
}

// TestReconcileImportAfterStoreLoss: the store is lost (the bbolt file
// deleted, Redis emptied) while UiPath keeps everything; `reconcile
// -import` beside the restarted serve rebuilds the records, and the IdP's
// re-push finds them: no duplicate account or group in UiPath, and the
// next pass finds UiPath in sync.
func TestReconcileImportAfterStoreLoss(t *testing.T) {
	bin := buildBridge(t)
	for _, kind := range []envtest.Store{envtest.Bolt, envtest.Redis} {
		t.Run(kind.String(), func(t *testing.T) {
			te := upstreamEnv(t)
			settings := storeConfig(t, kind)
			b := startBridge(t, bin, te, settings)
			c := newIdP(t, b)
			var users []string
			for _, n := range []string{"ada", "bob", "carol"} {
				id, err := c.ensureUser(n + "@corp.example")
				if err != nil {
					t.Fatal(err)
				}
				users = append(users, id)
			}
			gid, err := c.ensureGroup("Finance")
			if err != nil {
				t.Fatal(err)
			}
			members := []any{map[string]any{"value": users[0]}, map[string]any{"value": users[1]}}
			if r := c.send("PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "replace", "path": "members", "value": members})); r.status/100 != 2 {
				t.Fatalf("members: %d %s", r.status, r.raw)
			}
			awaitGroup(t, te, gid, 2)

			b.Kill()
			wipeStore(t, kind, settings)
			b.Start()
			uipathUsers, uipathGroups := len(te.Emulator.Users()), len(te.Emulator.Groups())

			out, errOut, code := b.runCommand("reconcile", "-import", "-json")
			rep := decodeReport(t, out, errOut)
			if code != 0 || rep.Imported.Users != 3 || rep.Imported.Groups != 1 {
				t.Fatalf("import: exit %d, imported %+v\n%s", code, rep.Imported, errOut)
			}

			// The IdP re-pushes: its lookups find the records, its writes take them over.
			for i, n := range []string{"ada", "bob", "carol"} {
				id, err := c.ensureUser(n + "@corp.example")
				if err != nil || id != users[i] {
					t.Fatalf("re-push of %s: id %s, %v; want %s", n, id, err, users[i])
				}
			}
			if id, err := c.ensureGroup("Finance"); err != nil || id != gid {
				t.Fatalf("re-push of Finance: %s, %v", id, err)
			}
			members = []any{map[string]any{"value": users[0]}}
			if r := c.send("PATCH", "/Groups/"+gid, patchBody(map[string]any{"op": "replace", "path": "members", "value": members})); r.status/100 != 2 {
				t.Fatalf("members: %d %s", r.status, r.raw)
			}
			awaitGroup(t, te, gid, 1)
			if u, g := len(te.Emulator.Users()), len(te.Emulator.Groups()); u != uipathUsers || g != uipathGroups {
				t.Errorf("UiPath has %d users and %d groups after the re-push, %d and %d before: duplicates", u, g, uipathUsers, uipathGroups)
			}
			out, errOut, code = b.runCommand("reconcile", "-json")
			rep = decodeReport(t, out, errOut)
			if code != 0 {
				t.Errorf("the pass after the re-push: exit %d, drift %+v", code, rep.Drift)
			}
		})
	}
}

// awaitGroup waits until UiPath's group has n members.
func awaitGroup(t *testing.T, te *envtest.Env, gid string, n int) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); len(te.Emulator.GroupMemberIDs(gid)) != n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("group %s has members %v in UiPath; want %d", gid, te.Emulator.GroupMemberIDs(gid), n)
		}
	}
}

// wipeStore loses the store of a stopped bridge: the bbolt file, or every
// record in Redis.
func wipeStore(t *testing.T, kind envtest.Store, settings map[string]string) {
	t.Helper()
	if kind == envtest.Bolt {
		if err := os.Remove(filepath.Join(settings["DATA_DIR"], "scim-bridge.db")); err != nil {
			t.Fatal(err)
		}
		return
	}
	s, err := redisstore.New(redisstore.Config{URL: settings["REDIS_URL"], Prefix: settings["REDIS_PREFIX"]}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := storetool.Purge(t.Context(), s); err != nil {
		t.Fatal(err)
	}
}
