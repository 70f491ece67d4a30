package mapping_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// reconcileCfg is a provisioner as the service runs it, with a short lull
// so that membership repairs drain quickly.
func reconcileCfg() mapping.Config {
	return mapping.Config{Strategy: mapping.StrategyAuto, MembershipWrites: mapping.WritesQueued, AdoptExisting: true,
		Quiet: 10 * time.Millisecond, MaxHold: 100 * time.Millisecond}
}

// reconcile runs a pass and fails the test if it could not run.
func (e *env) reconcile(opt mapping.ReconcileOptions) mapping.ReconcileReport {
	e.t.Helper()
	rep, err := e.prov.Reconcile(e.t.Context(), opt)
	if err != nil {
		e.t.Fatalf("Reconcile: %v", err)
	}
	return rep
}

// findings indexes a report's drift by "kind resource name[ group]".
func findings(rep mapping.ReconcileReport, names map[string]string) map[string]mapping.Drift {
	out := map[string]mapping.Drift{}
	for _, d := range rep.Drift {
		key := d.Kind + " " + d.Resource + " " + strings.TrimSuffix(d.Name, "@corp.example")
		if d.Group != "" {
			key += " in " + names[d.Group]
		}
		out[key] = d
	}
	return out
}

func wantFindings(t *testing.T, got map[string]mapping.Drift, want map[string]string) {
	t.Helper()
	for k, action := range want {
		d, ok := got[k]
		if !ok {
			t.Errorf("no finding %q", k)
			continue
		}
		if d.Action != action {
			t.Errorf("finding %q: action %q, want %q (%s)", k, d.Action, action, d.Detail)
		}
	}
	for k, d := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected finding %q: %+v", k, d)
		}
	}
}

// TestReconcileRepairsEveryDriftClass changes UiPath behind the bridge's
// back in every way the issue names, runs one pass, and checks the report,
// UiPath's state afterwards, the calls spent, and that a second pass finds
// only what the bridge does not manage.
func TestReconcileRepairsEveryDriftClass(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store, cfg: reconcileCfg()})
		ctx := t.Context()
		ids := map[string]string{}
		for _, n := range []string{"ada", "bob", "carol", "dan", "eve"} {
			ids[n] = e.mustUser(n).ID
		}
		finance := e.mustGroup("Finance", ids["ada"], ids["bob"]).ID
		sales := e.mustGroup("Sales", ids["carol"]).ID
		opsGroup := e.mustGroup("Ops", ids["dan"]).ID
		names := map[string]string{finance: "Finance", sales: "Sales", opsGroup: "Ops"}
		if _, err := e.users.Patch(ctx, ids["bob"], ops(t, patchBody(deactivate)), ""); err != nil {
			t.Fatal(err)
		}
		if err := e.prov.Drain(ctx); err != nil {
			t.Fatal(err)
		}

		// Behind the bridge's back:
		on, off := true, false
		must := func(err error) {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
		}
		must(e.up.UpdateUser(ctx, ids["bob"], upstream.UserUpdate{IsActive: &on}))             // a leaver re-enabled
		must(e.up.UpdateUser(ctx, ids["carol"], upstream.UserUpdate{Surname: ptr("Changed")})) // profile
		must(e.up.DeleteUser(ctx, ids["dan"]))                                                 // missing user
		must(e.up.UpdateUser(ctx, ids["eve"], upstream.UserUpdate{IsActive: &off}))            // active, the other way
		_, err := e.up.UpdateGroup(ctx, finance, "Finance (old)", []string{ids["eve"]}, []string{ids["ada"]})
		must(err)                          // renamed, membership_extra (eve), membership_missing (ada)
		must(e.up.DeleteGroup(ctx, sales)) // missing group
		zed := e.emu.SeedUser(upstream.User{UserName: "zed@corp.example", Email: "zed@corp.example", IsActive: true,
			GroupIDs: []string{finance}}) // unmanaged, and an unmanaged member of a managed group
		robot := e.emu.SeedUser(upstream.User{UserName: "robot7", Type: upstream.UserTypeRobot, IsActive: true,
			GroupIDs: []string{finance}}) // never reported, never touched
		manual := e.emu.SeedGroup("Made by hand")
		names[manual.ID] = "Made by hand"
		e.resetCalls()

		rep := e.reconcile(mapping.ReconcileOptions{})
		wantFindings(t, findings(rep, names), map[string]string{
			"active user bob":                        mapping.ActionRepaired,
			"profile user carol":                     mapping.ActionRepaired,
			"missing user dan":                       mapping.ActionRepaired,
			"active user eve":                        mapping.ActionRepaired,
			"renamed group Finance":                  mapping.ActionRepaired,
			"missing group Sales":                    mapping.ActionRepaired,
			"membership_missing user ada in Finance": mapping.ActionRepaired,
			"membership_extra user eve in Finance":   mapping.ActionRepaired,
			"unmanaged user zed in Finance":          mapping.ActionReported,
			"unmanaged user zed":                     mapping.ActionReported,
			"unmanaged group Made by hand":           mapping.ActionReported,
		})
		if rep.Drift[0].Name != "bob@corp.example" {
			t.Errorf("first finding %+v; want the leaver first", rep.Drift[0])
		}
		if rep.Refused != nil || rep.ExitCode() != 0 {
			t.Errorf("refused %v, exit %d; want a pass that leaves UiPath in sync", rep.Refused, rep.ExitCode())
		}
		if rep.Users != (mapping.Population{Managed: 5, UiPath: 5}) || rep.Groups != (mapping.Population{Managed: 3, UiPath: 3}) {
			t.Errorf("users %+v, groups %+v", rep.Users, rep.Groups)
		}

		// UiPath now matches the IdP; what the bridge does not manage is as it was.
		if e.upUser(ids["bob"]).IsActive || !e.upUser(ids["eve"]).IsActive {
			t.Error("bob (leaver) active or eve (active in the IdP) disabled after the pass")
		}
		if s := e.upUser(ids["carol"]).Surname; s == nil || *s != "Test" {
			t.Errorf("carol's surname %v; want Test", s)
		}
		if !slices.Contains(e.upUser(ids["dan"]).GroupIDs, opsGroup) {
			t.Error("dan recreated without his group")
		}
		if g, ok := e.emu.Group(finance); !ok || g.Name != "Finance" {
			t.Errorf("Finance = %+v; want its name back", g)
		}
		if got, want := e.emu.GroupMemberIDs(finance), sorted(ids["ada"], ids["bob"], zed.ID, robot.ID); !slices.Equal(got, want) {
			t.Errorf("Finance members %v, want %v (ada back, eve out, zed and the robot left alone)", got, want)
		}
		if got := e.emu.GroupMemberIDs(sales); !slices.Equal(got, []string{ids["carol"]}) {
			t.Errorf("Sales recreated with %v, want carol", got)
		}
		if u := e.upUser(robot.ID); !u.IsActive {
			t.Error("robot touched")
		}

		// Calls: two listing GETs (one page of users, the groups) and no
		// other read; a PUT per drifted user and for the rename, one PUT
		// carrying both membership repairs; two creates.
		wantCalls := map[string]int{"GET": 2, "PUT": 5, "POST": 2, "DELETE": 0}
		for m, n := range wantCalls {
			if rep.UpstreamCalls[m] != n {
				t.Errorf("%s calls %d, want %d (all: %v)", m, rep.UpstreamCalls[m], n, rep.UpstreamCalls)
			}
		}
		if rep.MinimumGets != 2 {
			t.Errorf("minimumGets %d, want 2", rep.MinimumGets)
		}

		// The audit log has each repair, under the pass, with what it found
		// and the call that repaired it; the leaver's says so.
		entries, err := e.store.AuditLog(ctx, cache.AuditQuery{Subject: ids["bob"]})
		if err != nil {
			t.Fatal(err)
		}
		var leaver *cache.AuditEntry
		for i, en := range entries {
			if en.PassID == rep.PassID {
				leaver = &entries[i]
			}
		}
		if leaver == nil || leaver.Operation != mapping.OpReconcile || leaver.IdP != mapping.ActorReconcile || leaver.Drift != mapping.DriftActive ||
			leaver.Outcome != cache.AuditOK || len(leaver.Calls) != 1 || leaver.Calls[0].Method != http.MethodPut || leaver.Calls[0].Status != 200 {
			t.Errorf("audit entry of the leaver's repair: %+v (all: %+v)", leaver, entries)
		}
		if entries, err := e.store.AuditLog(ctx, cache.AuditQuery{Subject: finance}); err != nil || !slices.ContainsFunc(entries, func(en cache.AuditEntry) bool {
			return en.PassID == rep.PassID && en.Outcome == cache.AuditQueued && strings.Contains(en.Drift, mapping.DriftMembershipMissing)
		}) {
			t.Errorf("no queued membership repair of Finance under the pass in %+v (%v)", entries, err)
		}

		e.resetCalls()
		again := e.reconcile(mapping.ReconcileOptions{})
		if again.Remaining() != 0 || again.ExitCode() != 0 || e.writes() != 0 {
			t.Errorf("second pass: remaining %d, exit %d, writes %d; want nothing left to do", again.Remaining(), again.ExitCode(), e.writes())
		}
		for _, d := range again.Drift {
			if d.Kind != mapping.DriftUnmanaged {
				t.Errorf("second pass found %+v", d)
			}
		}
		if again.UpstreamCalls["GET"] != 2 {
			t.Errorf("second pass GETs %d, want 2", again.UpstreamCalls["GET"])
		}
	})
}

// TestReconcileRecreatesUserAndItsLostGroup: a lost user whose group is
// lost too is recreated without that group (UiPath refuses a create that
// names a group it lacks), and the group is recreated with the user among
// its members; the user's other groups come back as before.
func TestReconcileRecreatesUserAndItsLostGroup(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store, cfg: reconcileCfg()})
		ctx := t.Context()
		ada, bob := e.mustUser("ada"), e.mustUser("bob")
		lost := e.mustGroup("Lost", ada.ID, bob.ID).ID
		kept := e.mustGroup("Kept", ada.ID).ID
		if err := e.prov.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.up.DeleteUser(ctx, ada.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.up.DeleteGroup(ctx, lost); err != nil {
			t.Fatal(err)
		}
		rep := e.reconcile(mapping.ReconcileOptions{})
		wantFindings(t, findings(rep, nil), map[string]string{
			"missing user ada":   mapping.ActionRepaired,
			"missing group Lost": mapping.ActionRepaired,
		})
		if got, want := e.emu.GroupMemberIDs(lost), sorted(ada.ID, bob.ID); !slices.Equal(got, want) {
			t.Errorf("Lost recreated with %v, want %v", got, want)
		}
		if got := e.emu.GroupMemberIDs(kept); !slices.Equal(got, []string{ada.ID}) {
			t.Errorf("Kept members %v, want ada back", got)
		}
		if again := e.reconcile(mapping.ReconcileOptions{}); len(again.Drift) != 0 {
			t.Errorf("second pass found %+v", again.Drift)
		}
	})
}

// TestReconcileDryRunWritesNothing: a dry run reports the drift and the
// repairs it would make, and no write reaches UiPath or the store's queue.
func TestReconcileDryRunWritesNothing(t *testing.T) {
	e := newEnv(t, envOptions{cfg: reconcileCfg()})
	ctx := t.Context()
	ada, bob := e.mustUser("ada"), e.mustUser("bob")
	g := e.mustGroup("Finance", ada.ID)
	if _, err := e.users.Patch(ctx, bob.ID, ops(t, patchBody(deactivate)), ""); err != nil {
		t.Fatal(err)
	}
	on := true
	if err := e.up.UpdateUser(ctx, bob.ID, upstream.UserUpdate{IsActive: &on}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.up.UpdateGroup(ctx, g.ID, "Finance", nil, []string{ada.ID}); err != nil {
		t.Fatal(err)
	}
	e.resetCalls()
	rep := e.reconcile(mapping.ReconcileOptions{DryRun: true})
	if e.writes() != 0 {
		t.Fatalf("a dry run wrote to UiPath: %v", e.wire.all())
	}
	if p, err := e.store.PendingChanges(ctx); err != nil || len(p) != 0 {
		t.Errorf("a dry run queued %v (%v)", p, err)
	}
	wantFindings(t, findings(rep, map[string]string{g.ID: "Finance"}), map[string]string{
		"active user bob":                        mapping.ActionReported,
		"membership_missing user ada in Finance": mapping.ActionReported,
	})
	if !rep.DryRun || rep.ExitCode() != 1 {
		t.Errorf("dryRun %v exit %d; want a dry run that found drift (1)", rep.DryRun, rep.ExitCode())
	}
	if !e.upUser(bob.ID).IsActive {
		t.Error("the dry run disabled bob")
	}
}

// TestReconcileRefusesMassRemoval: a pass whose repairs would remove
// access from more users than the limit writes nothing and says why;
// --force, or a higher --max-changes, lets it through.
func TestReconcileRefusesMassRemoval(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store, cfg: reconcileCfg()})
		ctx := t.Context()
		var ids []string
		for i := range 12 {
			ids = append(ids, e.mustUser(fmt.Sprintf("u%02d", i)).ID)
		}
		g := e.mustGroup("Admins-ish")
		// Someone put eleven managed users in a managed group by hand: the
		// repairs would take eleven users out, over the limit of 10.
		if _, err := e.up.UpdateGroup(ctx, g.ID, "Admins-ish", ids[:11], nil); err != nil {
			t.Fatal(err)
		}
		e.resetCalls()
		rep := e.reconcile(mapping.ReconcileOptions{})
		if rep.Refused == nil || !strings.Contains(*rep.Refused, "11 users") || rep.ExitCode() != 2 {
			t.Fatalf("refused %v, exit %d; want a refusal naming 11 users, exit 2", rep.Refused, rep.ExitCode())
		}
		if e.writes() != 0 {
			t.Fatalf("a refused pass wrote: %v", e.wire.all())
		}
		for _, d := range rep.Drift {
			if d.Action != mapping.ActionReported {
				t.Errorf("refused pass: %+v", d)
			}
		}
		if entries, err := e.store.AuditLog(ctx, cache.AuditQuery{Subject: rep.PassID}); err != nil || len(entries) != 1 ||
			entries[0].Outcome != cache.AuditRefused || entries[0].Detail != *rep.Refused {
			t.Errorf("audit of the refusal: %+v, %v; want one refused entry with the reason", entries, err)
		}
		if rep := e.reconcile(mapping.ReconcileOptions{MaxChanges: 11}); rep.Refused != nil || rep.ExitCode() != 0 {
			t.Fatalf("with --max-changes 11: refused %v, exit %d", rep.Refused, rep.ExitCode())
		}
		if got := e.emu.GroupMemberIDs(g.ID); len(got) != 0 {
			t.Errorf("group members after the allowed pass: %v", got)
		}
		if _, err := e.up.UpdateGroup(ctx, g.ID, "Admins-ish", ids, nil); err != nil {
			t.Fatal(err)
		}
		if rep := e.reconcile(mapping.ReconcileOptions{Force: true}); rep.Refused != nil || rep.ExitCode() != 0 {
			t.Fatalf("with --force: refused %v, exit %d", rep.Refused, rep.ExitCode())
		}
	})
}

// TestReconcileRefusesShortListing: a UiPath listing that holds nobody, or
// under half of the users the store expects, is taken as a failed read:
// nothing is recreated.
func TestReconcileRefusesShortListing(t *testing.T) {
	e := newEnv(t, envOptions{cfg: reconcileCfg()})
	ctx := t.Context()
	var ids []string
	for i := range 12 {
		ids = append(ids, e.mustUser(fmt.Sprintf("u%02d", i)).ID)
	}
	for _, id := range ids[:7] {
		if err := e.up.DeleteUser(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	e.resetCalls()
	rep := e.reconcile(mapping.ReconcileOptions{Force: true})
	if rep.Refused == nil || !strings.Contains(*rep.Refused, "only 5 of the 12 users") || e.writes() != 0 {
		t.Fatalf("refused %v, writes %d; want a refusal of a listing with 5 of 12 users, nothing written", deref(rep.Refused), e.writes())
	}
	for _, id := range ids[7:] {
		if err := e.up.DeleteUser(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	e.resetCalls()
	rep = e.reconcile(mapping.ReconcileOptions{Force: true})
	if rep.Refused == nil || !strings.Contains(*rep.Refused, "listed no users") || e.writes() != 0 {
		t.Fatalf("refused %v, writes %d; want an empty listing refused", deref(rep.Refused), e.writes())
	}
}

// TestReconcileImport: after a store loss, --import rebuilds the records
// from UiPath, marked imported; the IdP's re-sync then finds them (no
// duplicate account, no duplicate group) and takes them over, and until
// it does, a pass reports their drift without repairing it.
func TestReconcileImport(t *testing.T) {
	forEachStore(t, func(t *testing.T, store envtest.Store) {
		e := newEnv(t, envOptions{store: store, cfg: reconcileCfg()})
		ctx := t.Context()
		ada, bob := e.mustUser("ada"), e.mustUser("bob")
		g := e.mustGroup("Finance", ada.ID, bob.ID)
		robot := e.emu.SeedUser(upstream.User{UserName: "robot7", Type: upstream.UserTypeRobot, IsActive: true})
		e.wipe()

		rep := e.reconcile(mapping.ReconcileOptions{Import: true})
		if rep.Imported != (mapping.ImportCounts{Users: 2, Groups: 1}) {
			t.Fatalf("imported %+v; want 2 users and 1 group", rep.Imported)
		}
		if e.writes() != 0 {
			t.Errorf("import wrote to UiPath: %v", e.wire.all())
		}
		rec, ok := e.record(cache.KindGroup, g.ID)
		if !ok || !rec.Imported || !slices.Equal(rec.Members, sorted(ada.ID, bob.ID)) {
			t.Fatalf("imported group %+v (present %v); want both members, marked imported", rec, ok)
		}
		if _, ok := e.record(cache.KindUser, robot.ID); ok {
			t.Error("a robot was imported")
		}

		// Until the IdP confirms them, drift on imported records is reported only.
		if err := e.up.UpdateUser(ctx, bob.ID, upstream.UserUpdate{Surname: ptr("Elsewhere")}); err != nil {
			t.Fatal(err)
		}
		e.resetCalls()
		rep = e.reconcile(mapping.ReconcileOptions{})
		if d := findings(rep, nil)["profile user bob"]; d.Action != mapping.ActionReported || e.writes() != 0 {
			t.Errorf("imported bob's drift: %+v, writes %d; want reported, untouched", d, e.writes())
		}

		// The IdP re-syncs: a create of a user and of a group it provisioned
		// before the loss takes over the imported record.
		before := len(e.emu.Users())
		again, err := e.users.Create(ctx, doc(t, userJSON("ada@corp.example", "Ada", "Test", "ext-ada")))
		if err != nil || again.ID != ada.ID {
			t.Fatalf("re-sync create of ada: %+v, %v; want the imported id %s", again.ID, err, ada.ID)
		}
		if _, err := e.users.Replace(ctx, bob.ID, doc(t, userJSON("bob@corp.example", "Bob", "Test", "ext-bob")), ""); err != nil {
			t.Fatal(err)
		}
		gi, err := e.groups.Create(ctx, map[string]any{"displayName": "Finance", "members": []any{map[string]any{"value": ada.ID}}})
		if err != nil || gi.ID != g.ID {
			t.Fatalf("re-sync create of Finance: %+v, %v; want the imported id", gi.ID, err)
		}
		if err := e.prov.Drain(ctx); err != nil {
			t.Fatal(err)
		}
		if n := len(e.emu.Users()); n != before {
			t.Errorf("UiPath users %d after the re-sync, %d before: a duplicate was made", n, before)
		}
		for _, id := range []string{ada.ID, bob.ID} {
			if rec, _ := e.record(cache.KindUser, id); rec.Imported {
				t.Errorf("user %s still marked imported after the IdP wrote to it", id)
			}
		}
		if got := e.emu.GroupMemberIDs(g.ID); !slices.Equal(got, []string{ada.ID}) {
			t.Errorf("Finance members %v; want the IdP's list (ada)", got)
		}
		// The IdP's PUT matched what the store had from UiPath, so only the
		// next pass sees that bob's account still differs, and, now that
		// the IdP confirmed him, repairs it.
		rep = e.reconcile(mapping.ReconcileOptions{})
		if d := findings(rep, nil)["profile user bob"]; d.Action != mapping.ActionRepaired || rep.ExitCode() != 0 {
			t.Errorf("after the re-sync: exit %d, drift %+v; want bob's profile repaired", rep.ExitCode(), rep.Drift)
		}
		if s := e.upUser(bob.ID).Surname; s == nil || *s != "Test" {
			t.Errorf("bob's surname %v; want Test", deref(s))
		}
	})
}

// TestReconcileOnePassAtATime: a pass does not start while another holds
// the store's lease (another replica's pass), and runs once it is free.
func TestReconcileOnePassAtATime(t *testing.T) {
	e := newEnv(t, envOptions{store: envtest.Redis, cfg: reconcileCfg()})
	e.mustUser("ada")
	other, err := mapping.New(reconcileCfg(), e.up, e.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	l := e.store.(cache.Locker)
	unlock, err := l.Lock(t.Context(), "reconcile", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Reconcile(t.Context(), mapping.ReconcileOptions{})
	if err != mapping.ErrPassRunning {
		t.Errorf("pass while another holds the lease: %v; want ErrPassRunning", err)
	}
	unlock()
	if rep, err := other.Reconcile(t.Context(), mapping.ReconcileOptions{}); err != nil || rep.ExitCode() != 0 {
		t.Errorf("after the lease is free: %v, exit %d", err, rep.ExitCode())
	}
}

// TestReconcileListingThatShifts: an account deleted while the pass reads
// the user pages shifts the later pages by one, so one user would be
// listed nowhere and taken as missing. The pass sees the listing change
// (its total moved) and reads it again; only the user really deleted is
// recreated, and nothing fails.
func TestReconcileListingThatShifts(t *testing.T) {
	e := newEnv(t, envOptions{cfg: reconcileCfg(), pageSize: 2})
	ctx := t.Context()
	var ids []string
	for _, n := range []string{"ada", "bob", "carol", "dan", "eve"} {
		ids = append(ids, e.mustUser(n).ID)
	}
	// The first page (ada, bob) goes at once; the second waits while bob is deleted.
	e.emu.Inject(emulator.Fault{Method: http.MethodGet, PathContains: "/User/users/"})
	e.emu.Inject(emulator.Fault{Method: http.MethodGet, PathContains: "/User/users/", Delay: 300 * time.Millisecond})
	done := make(chan mapping.ReconcileReport)
	go func() {
		rep, err := e.prov.Reconcile(ctx, mapping.ReconcileOptions{})
		if err != nil {
			t.Error(err)
		}
		done <- rep
	}()
	time.Sleep(100 * time.Millisecond)
	if err := e.up.DeleteUser(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	rep := <-done
	wantFindings(t, findings(rep, nil), map[string]string{"missing user bob": mapping.ActionRepaired})
	if n := len(e.emu.Users()); n != 5 {
		t.Errorf("UiPath has %d users after the pass, want 5", n)
	}
	// The shifted read stopped after 2 pages (its total said 4 by then),
	// the second read took 2 pages of the 4 users, and the groups 1.
	if rep.UpstreamCalls["GET"] != 5 || rep.MinimumGets != 3 {
		t.Errorf("GETs %d, minimum %d; want 5 (the listing read twice) and 3", rep.UpstreamCalls["GET"], rep.MinimumGets)
	}
}
