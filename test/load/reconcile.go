package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// The reconcile phase (issue 11): after the sync's last phase, with the
// queue empty and the state equal, it changes UiPath behind the bridge's
// back in every way a pass classifies (-drift changes per class), runs
// `scim-bridge reconcile -json` with serve's configuration (with the
// embedded store, which serve holds, the command asks serve's admin API),
// and checks that every injected change comes back as a finding the pass
// repaired, and nothing else; then a second pass must find no drift but
// what the bridge does not manage, and the harness's state check must
// still agree.

// injected is the drift the phase put into UiPath: the ids (users,
// groups, or "group user" pairs) it expects findings for, by kind.
type injected struct {
	ids map[string]map[string]bool
	// leavers re-enabled: the pass's access removals together with the
	// membership_extra users, and its read-backs.
	leavers int
	// removals is how many users the pass removes access from.
	removals int
}

func (in *injected) add(kind, id string) {
	if in.ids[kind] == nil {
		in.ids[kind] = map[string]bool{}
	}
	in.ids[kind][strings.ToLower(id)] = true
}

// passRun is one run of the reconcile command.
type passRun struct {
	rep      mapping.ReconcileReport
	code     int
	wall     time.Duration
	upstream map[string]int // the emulator's API calls during the run, by method
	// gets by what they read: "list users", "list groups", "user", "other".
	gets      map[string]int
	throttled int
	stderr    string
}

// reconcilePhase runs the phase. It returns an error when a pass could not
// run, missed an injected change or found one that was not injected.
func (r *syncRun) reconcilePhase(ctx context.Context) error {
	fmt.Printf("\nreconcile phase: %d changes per drift class\n", r.opts.drift)
	if err := r.deactivateMore(ctx); err != nil {
		return err
	}
	in := r.injectDrift()
	var args []string
	limit := max(10, int(math.Ceil(float64(r.managedUsers())*5/100)))
	if in.removals > limit {
		args = append(args, "-max-changes", strconv.Itoa(in.removals))
		fmt.Printf("  the pass removes access from %d users, over the default limit of %d: it runs with -max-changes %d\n", in.removals, limit, in.removals)
	} else {
		fmt.Printf("  the pass removes access from %d users (leavers re-enabled + users added to groups), under the default limit of %d\n", in.removals, limit)
	}
	r.waitBudgetClear(ctx)
	r.emu.ResetRequests()
	first, err := r.runPass(ctx, args...)
	if err != nil {
		return err
	}
	bad := r.checkFindings(first.rep, in)
	r.printPass("first pass", first, in)
	if first.code != 0 {
		bad = append(bad, fmt.Sprintf("the first pass exited %d, want 0", first.code))
	}
	r.waitBudgetClear(ctx)
	second, err := r.runPass(ctx)
	if err != nil {
		return err
	}
	r.printPass("second pass", second, nil)
	unmanaged := len(in.ids[mapping.DriftUnmanaged])
	for _, d := range second.rep.Drift {
		if d.Kind != mapping.DriftUnmanaged {
			bad = append(bad, fmt.Sprintf("the second pass found %s %s %s (%s)", d.Kind, d.Resource, d.ID, d.Action))
			break
		}
	}
	if second.code != 0 || len(second.rep.Drift) != unmanaged {
		bad = append(bad, fmt.Sprintf("the second pass exited %d with %d findings, want 0 with the %d unmanaged", second.code, len(second.rep.Drift), unmanaged))
	}
	if len(bad) > 0 {
		if len(bad) > 10 {
			bad = append(bad[:10], fmt.Sprintf("… and %d more", len(bad)-10))
		}
		return fmt.Errorf("reconcile phase:\n  %s", strings.Join(bad, "\n  "))
	}
	return nil
}

// managedUsers counts the users the bridge holds for the IdP.
func (r *syncRun) managedUsers() int {
	n := 0
	for u, id := range r.userIDs {
		if id != "" && !r.deleted[u] {
			n++
		}
	}
	return n
}

// candidates returns the indexes of the users the IdP has active, shuffled.
func (r *syncRun) candidates() []int {
	var out []int
	for u, id := range r.userIDs {
		if id != "" && !r.deleted[u] && !r.disabled[u] {
			out = append(out, u)
		}
	}
	r.rng.Shuffle(len(out), func(i, k int) { out[i], out[k] = out[k], out[i] })
	return out
}

// deactivateMore makes -drift more leavers the IdP's way (PATCH active
// False), so that the pass has a few hundred of them to find re-enabled,
// then waits until their writes have left the budget's window.
func (r *syncRun) deactivateMore(ctx context.Context) error {
	st := newStats()
	var jobs []func(context.Context)
	users := r.candidates()
	for _, u := range users[:min(r.opts.drift, len(users))] {
		r.disabled[u] = true
		jobs = append(jobs, func(ctx context.Context) {
			r.idp.do(ctx, st, http.MethodPatch, "/Users/"+r.userIDs[u], disableBody(), nil)
		})
	}
	runJobs(ctx, r.opts.concurrency, jobs)
	if len(st.failures) > 0 {
		return fmt.Errorf("reconcile phase: deactivations failed: %v", st.failures)
	}
	if d := waitQueueEmpty(ctx, r.bridge.adminURL, r.lastAnswer().Add(settleDelay)); d.err != nil {
		return fmt.Errorf("reconcile phase: the queue did not drain after the deactivations: %w", d.err)
	}
	for _, req := range r.emu.Requests() {
		if req.Method != http.MethodGet && strings.HasPrefix(req.Path, "/api/") && req.At.After(r.lastWrite) {
			r.lastWrite = req.At
		}
	}
	leavers := 0
	for u := range r.disabled {
		if !r.deleted[u] {
			leavers++
		}
	}
	fmt.Printf("  the IdP deactivated %d more users (%d leavers in all)\n", len(jobs), leavers)
	return nil
}

// injectDrift changes the emulator directly, never through the API, so
// that the pass has the whole budget.
func (r *syncRun) injectDrift() *injected {
	n := r.opts.drift
	in := &injected{ids: map[string]map[string]bool{}}
	users := r.candidates()
	take := func() []int {
		k := min(n, len(users))
		out := users[:k]
		users = users[k:]
		return out
	}
	setUser := func(u int, f func(*upstream.User)) {
		usr, ok := r.emu.User(r.userIDs[u])
		if !ok {
			panic("user " + r.userIDs[u] + " missing in the emulator") // the state check agreed before
		}
		f(&usr)
		r.emu.SeedUser(usr)
	}
	for _, u := range take() {
		setUser(u, func(x *upstream.User) { s := "Drifted"; x.Surname = &s })
		in.add(mapping.DriftProfile, r.userIDs[u])
	}
	for _, u := range take() {
		setUser(u, func(x *upstream.User) { x.IsActive = false })
		in.add(mapping.DriftActive, r.userIDs[u])
	}
	for u, id := range r.userIDs {
		if id != "" && r.disabled[u] && !r.deleted[u] {
			setUser(u, func(x *upstream.User) { x.IsActive = true })
			in.add(mapping.DriftActive, id)
			in.leavers++
		}
	}
	for _, u := range take() {
		r.emu.DeleteUser(r.userIDs[u])
		in.add(mapping.DriftMissing, r.userIDs[u])
	}
	// Groups: a few deleted, some renamed; membership drift only in the
	// groups UiPath still has.
	groups := make([]int, 0, len(r.groupIDs))
	for g, id := range r.groupIDs {
		if id != "" {
			groups = append(groups, g)
		}
	}
	r.rng.Shuffle(len(groups), func(i, k int) { groups[i], groups[k] = groups[k], groups[i] })
	gone := map[int]bool{}
	for _, g := range groups[:min(max(1, n/20), len(groups)/20)] {
		r.emu.DeleteGroup(r.groupIDs[g])
		in.add(mapping.DriftMissing, r.groupIDs[g])
		gone[g] = true
	}
	for _, g := range groups[len(gone):min(len(gone)+n, len(gone)+len(groups)/4)] {
		r.emu.RenameGroup(r.groupIDs[g], groupName(g)+" (renamed in UiPath)")
		in.add(mapping.DriftRenamed, r.groupIDs[g])
	}
	for _, u := range take() {
		for _, g := range groups {
			if !gone[g] && r.want[g][u] {
				r.emu.SetMember(r.groupIDs[g], r.userIDs[u], false)
				in.add(mapping.DriftMembershipMissing, r.groupIDs[g]+" "+r.userIDs[u])
				break
			}
		}
	}
	extra := 0
	for _, u := range take() {
		for range 20 {
			g := groups[r.rng.IntN(len(groups))]
			if gone[g] || r.want[g][u] {
				continue
			}
			r.emu.SetMember(r.groupIDs[g], r.userIDs[u], true)
			in.add(mapping.DriftMembershipExtra, r.groupIDs[g]+" "+r.userIDs[u])
			extra++
			break
		}
	}
	in.removals = in.leavers + extra
	// What the bridge never manages: local users and a custom group.
	local := r.emu.SeedGroup("Local administrators")
	in.add(mapping.DriftUnmanaged, local.ID)
	for i := range max(1, n/10) {
		usr := r.emu.SeedUser(upstream.User{UserName: fmt.Sprintf("local%04d@corp.example", i), Email: fmt.Sprintf("local%04d@corp.example", i),
			IsActive: true, GroupIDs: []string{local.ID}})
		in.add(mapping.DriftUnmanaged, usr.ID)
		if r.unmanaged == nil {
			r.unmanaged = map[string]bool{}
		}
		r.unmanaged[strings.ToLower(usr.ID)] = true
	}
	var parts []string
	for _, k := range driftKinds {
		parts = append(parts, fmt.Sprintf("%s %d", k, len(in.ids[k])))
	}
	fmt.Printf("  injected behind the bridge's back: %s (active: %d leavers re-enabled, %d users disabled)\n",
		strings.Join(parts, ", "), in.leavers, len(in.ids[mapping.DriftActive])-in.leavers)
	return in
}

// driftKinds in report order.
var driftKinds = []string{mapping.DriftProfile, mapping.DriftActive, mapping.DriftMissing, mapping.DriftRenamed,
	mapping.DriftMembershipMissing, mapping.DriftMembershipExtra, mapping.DriftUnmanaged}

// runPass runs `scim-bridge reconcile -json` with serve's configuration and
// the emulator's calls during it.
func (r *syncRun) runPass(ctx context.Context, args ...string) (passRun, error) {
	r.emu.ResetRequests()
	cmd := exec.CommandContext(ctx, r.bridge.bin, append([]string{"reconcile", "-json"}, args...)...)
	cmd.Env = r.bridge.env
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	pr := passRun{wall: time.Since(start), stderr: errOut.String(), upstream: map[string]int{}, gets: map[string]int{}}
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		pr.code = exit.ExitCode()
	case err != nil:
		return pr, fmt.Errorf("reconcile phase: run the command: %w", err)
	}
	if err := json.Unmarshal(out.Bytes(), &pr.rep); err != nil {
		return pr, fmt.Errorf("reconcile phase: the command (exit %d) printed no report: %v\n%s", pr.code, err, pr.stderr)
	}
	for _, req := range r.emu.Requests() {
		if !strings.HasPrefix(req.Path, "/api/") {
			continue
		}
		pr.upstream[req.Method]++
		if req.Status == http.StatusTooManyRequests {
			pr.throttled++
		}
		if req.Method != http.MethodGet {
			if req.At.After(r.lastWrite) {
				r.lastWrite = req.At
			}
			continue
		}
		seg := strings.Split(strings.Trim(strings.TrimPrefix(req.Path, "/api/"), "/"), "/")
		switch {
		case len(seg) == 3 && seg[0] == "User" && seg[1] == "users":
			pr.gets["list users"]++
		case len(seg) == 2 && seg[0] == "Group":
			pr.gets["list groups"]++
		case len(seg) == 2 && seg[0] == "User":
			pr.gets["user"]++
		default:
			pr.gets["other"]++
		}
	}
	r.emu.ResetRequests()
	return pr, nil
}

// checkFindings compares a pass's findings with the injected drift: each
// injected change must be a finding (repaired; unmanaged ones reported),
// and every finding an injected change.
func (r *syncRun) checkFindings(rep mapping.ReconcileReport, in *injected) []string {
	var bad []string
	seen := map[string]map[string]bool{}
	for _, d := range rep.Drift {
		id := strings.ToLower(d.ID)
		if d.Group != "" {
			id = strings.ToLower(d.Group) + " " + id
		}
		want := mapping.ActionRepaired
		if d.Kind == mapping.DriftUnmanaged {
			want = mapping.ActionReported
		}
		switch {
		case !in.ids[d.Kind][id]:
			bad = append(bad, fmt.Sprintf("a finding not injected: %s %s %s %q (%s: %s)", d.Kind, d.Resource, id, d.Name, d.Action, d.Detail))
		case d.Action != want:
			bad = append(bad, fmt.Sprintf("%s %s %s: %s, want %s (%s)", d.Kind, d.Resource, id, d.Action, want, d.Detail))
		}
		if seen[d.Kind] == nil {
			seen[d.Kind] = map[string]bool{}
		}
		seen[d.Kind][id] = true
	}
	for _, k := range driftKinds {
		for id := range in.ids[k] {
			if !seen[k][id] {
				bad = append(bad, fmt.Sprintf("injected %s %s: no finding", k, id))
			}
		}
	}
	if rep.Refused != nil {
		bad = append(bad, "the pass was refused: "+*rep.Refused)
	}
	return bad
}

// printPass prints one pass's figures: wall time, GETs against the
// minimum, the other calls, the floors, and the findings by kind against
// the injected drift (in nil: the second pass).
func (r *syncRun) printPass(name string, pr passRun, in *injected) {
	w, rep := r.opts.window, pr.rep
	c := rep.UpstreamCalls
	passWall := rep.FinishedAt.Sub(rep.StartedAt)
	fmt.Printf("  %s: exit %d, wall %.2fs (command), %.2fs (the report's start to finish)\n", name, pr.code, pr.wall.Seconds(), passWall.Seconds())
	fmt.Printf("    the pass's UiPath calls: GET %d, POST %d, PUT %d, DELETE %d; the emulator saw GET %d, POST %d, PUT %d, DELETE %d, %d answered 429\n",
		c["GET"], c["POST"], c["PUT"], c["DELETE"], pr.upstream["GET"], pr.upstream["POST"], pr.upstream["PUT"], pr.upstream["DELETE"], pr.throttled)
	reads := pr.gets["list users"] + pr.gets["list groups"]
	fmt.Printf("    GETs: the pass's own %d against the minimum %d: %.3f (UiPath saw %d listing GETs: %d user pages, %d group lists); %d single-user and %d other GETs UiPath saw meanwhile come from serve's background work, not the pass\n",
		c["GET"], rep.MinimumGets, ratio(c["GET"], rep.MinimumGets), reads, pr.gets["list users"], pr.gets["list groups"],
		pr.gets["user"], pr.gets["other"])
	// The floors count every call UiPath saw during the pass: with the
	// embedded store serve's own scheduler sends some of the pass's queued
	// membership repairs, outside the pass's call log.
	e := pr.upstream
	floor := func(method string) float64 { return float64(e[method]) / float64(limits[method]) * w.Seconds() }
	fmt.Printf("    floors (the emulator's calls ÷ limit × window %v): GET %.2fs, PUT %.2fs, POST %.2fs, DELETE %.2fs; wall ÷ the largest %.2f; at UiPath's real 5 min window: GET %.1fmin, PUT %.1fmin\n",
		w, floor("GET"), floor("PUT"), floor("POST"), floor("DELETE"),
		passWall.Seconds()/max(floor("GET"), floor("PUT"), floor("POST"), floor("DELETE"), 1e-9),
		float64(e["GET"])/float64(limits["GET"])*5, float64(e["PUT"])/float64(limits["PUT"])*5)
	byKind := map[string]map[string]int{}
	for _, d := range rep.Drift {
		if byKind[d.Kind] == nil {
			byKind[d.Kind] = map[string]int{}
		}
		byKind[d.Kind][d.Action]++
	}
	var parts []string
	for _, k := range driftKinds {
		s := fmt.Sprintf("%s %d", k, sum(byKind[k]))
		if in != nil {
			s += fmt.Sprintf("/%d", len(in.ids[k]))
		}
		var acts []string
		for _, a := range []string{mapping.ActionRepaired, mapping.ActionPlanned, mapping.ActionReported, mapping.ActionFailed} {
			if byKind[k][a] > 0 {
				acts = append(acts, fmt.Sprintf("%s %d", a, byKind[k][a]))
			}
		}
		if len(acts) > 0 {
			s += " (" + strings.Join(acts, ", ") + ")"
		}
		parts = append(parts, s)
	}
	label := "findings by kind"
	if in != nil {
		label += " (found/injected)"
	}
	fmt.Printf("    %s: %s; remaining %d; users %d managed, %d in UiPath; groups %d managed, %d in UiPath\n",
		label, strings.Join(parts, ", "), rep.Remaining(), rep.Users.Managed, rep.Users.UiPath, rep.Groups.Managed, rep.Groups.UiPath)
	if pr.code != 0 && pr.stderr != "" {
		fmt.Fprintf(os.Stdout, "    stderr: %s\n", tail2(pr.stderr, 5))
	}
}

func ratio(n, d int) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// tail2 returns the last n lines of s.
func tail2(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
