package test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// convergence is what checkConverged found, for the logs: duplicates in
// UiPath and intended users or memberships missing from UiPath or the
// store (lost updates).
type convergence struct {
	duplicates int // accounts or groups UiPath holds more than once
	lost       int // intended accounts, groups or memberships missing somewhere
}

func (c convergence) String() string {
	return fmt.Sprintf("duplicates=%d lost=%d", c.duplicates, c.lost)
}

// checkConverged compares UiPath (the emulator's state) and the bridge's
// store (read through SCIM GETs, which the bridge answers from the store)
// with the intended state: exactly the users named, each once, with the same
// id on both sides; exactly the groups named, each once, with the same id,
// and members equal in UiPath, in the store and in the intent. It fails t on
// any difference and returns the counts.
func checkConverged(t *testing.T, emu *emulator.Server, c *idp, users []string, groups map[string][]string) convergence {
	t.Helper()
	shown := 0
	return compareConverged(t, emu, c, users, groups, func(format string, args ...any) {
		t.Helper()
		if shown++; shown <= 20 {
			t.Errorf(format, args...)
		}
	})
}

// awaitConverged is checkConverged once UiPath has caught up with the
// store, or limit has passed: with queued membership writes a change is
// acknowledged before it reaches UiPath.
func awaitConverged(t *testing.T, limit time.Duration, emu *emulator.Server, c *idp, users []string, groups map[string][]string) convergence {
	t.Helper()
	end := time.Now().Add(limit)
	for time.Now().Before(end) {
		problems := 0
		compareConverged(t, emu, c, users, groups, func(string, ...any) { problems++ })
		if problems == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return checkConverged(t, emu, c, users, groups)
}

// compareConverged is checkConverged's comparison; it tells report about
// each difference.
func compareConverged(t *testing.T, emu *emulator.Server, c *idp, users []string, groups map[string][]string, report func(format string, args ...any)) convergence {
	t.Helper()
	var out convergence

	// UiPath's accounts by userName.
	upUsers := map[string][]string{}
	for _, u := range emu.Users() {
		k := strings.ToLower(u.UserName)
		upUsers[k] = append(upUsers[k], strings.ToLower(u.ID))
	}
	// The store's users, listed through SCIM.
	storeUsers := map[string][]string{}
	for start := 1; ; {
		r, err := c.retry("GET", fmt.Sprintf("/Users?startIndex=%d&count=500&attributes=userName", start), nil)
		if err != nil {
			t.Fatal(err)
		}
		list, _ := r.body["Resources"].([]any)
		for _, item := range list {
			m, _ := item.(map[string]any)
			k := strings.ToLower(str(m, "userName"))
			storeUsers[k] = append(storeUsers[k], strings.ToLower(str(m, "id")))
		}
		total, _ := r.body["totalResults"].(float64)
		start += len(list)
		if len(list) == 0 || start > int(total) {
			break
		}
	}
	idOf := map[string]string{}
	for _, name := range users {
		k := strings.ToLower(name)
		up, st := upUsers[k], storeUsers[k]
		switch {
		case len(up) > 1:
			out.duplicates += len(up) - 1
			report("UiPath holds %q %d times: %v", name, len(up), up)
		case len(up) == 0:
			out.lost++
			report("UiPath lacks %q", name)
		case len(st) != 1 || st[0] != up[0]:
			out.lost++
			report("the store has %q as %v, UiPath as %v", name, st, up)
		default:
			idOf[k] = up[0]
		}
	}
	for k, ids := range upUsers {
		if !slices.ContainsFunc(users, func(n string) bool { return strings.EqualFold(n, k) }) {
			out.duplicates += len(ids)
			report("UiPath holds an account nobody asked for: %q %v", k, ids)
		}
	}
	if len(storeUsers) != len(users) {
		report("the store lists %d userNames, want %d", len(storeUsers), len(users))
	}

	// Groups.
	upGroups := map[string][]string{}
	for _, g := range emu.Groups() {
		if g.Type == upstream.GroupTypeBuiltIn {
			continue
		}
		k := strings.ToLower(g.Name)
		upGroups[k] = append(upGroups[k], strings.ToLower(g.ID))
	}
	if len(upGroups) != len(groups) {
		out.duplicates += max(0, len(upGroups)-len(groups))
		report("UiPath holds %d groups, want %d: %v", len(upGroups), len(groups), upGroups)
	}
	for name, members := range groups {
		up := upGroups[strings.ToLower(name)]
		if len(up) != 1 {
			out.duplicates += max(0, len(up)-1)
			if len(up) == 0 {
				out.lost++
			}
			report("UiPath holds group %q %d times", name, len(up))
			continue
		}
		r, err := c.retry("GET", "/Groups?filter="+url.QueryEscape(`displayName eq "`+name+`"`)+"&excludedAttributes=members", nil)
		if err != nil {
			t.Fatal(err)
		}
		list, _ := r.body["Resources"].([]any)
		if len(list) != 1 {
			out.lost++
			report("the store lists group %q %d times", name, len(list))
			continue
		}
		m, _ := list[0].(map[string]any)
		if id := strings.ToLower(str(m, "id")); id != up[0] {
			out.lost++
			report("group %q is %s in the store, %s in UiPath", name, id, up[0])
			continue
		}
		g, err := c.retry("GET", "/Groups/"+up[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, u := range members {
			want = append(want, idOf[strings.ToLower(u)])
		}
		slices.Sort(want)
		var inUiPath []string
		for _, id := range emu.GroupMemberIDs(up[0]) {
			inUiPath = append(inUiPath, strings.ToLower(id))
		}
		slices.Sort(inUiPath)
		var inStore []string
		for _, id := range memberValues(g.body) {
			inStore = append(inStore, strings.ToLower(id))
		}
		slices.Sort(inStore)
		for _, id := range want {
			_, inUp := slices.BinarySearch(inUiPath, id)
			_, inSt := slices.BinarySearch(inStore, id)
			if !inUp || !inSt {
				out.lost++
				report("group %q: member %s in UiPath %v, in the store %v", name, id, inUp, inSt)
			}
		}
		if len(inUiPath) != len(want) || len(inStore) != len(want) {
			report("group %q: %d members in UiPath, %d in the store, want %d", name, len(inUiPath), len(inStore), len(want))
		}
	}
	return out
}
