package mapping

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// applyPlan replays calls as the changes they carry.
func applyPlan(calls []Call) map[[2]string]bool {
	got := map[[2]string]bool{}
	add := func(u, g string, a bool) {
		k := [2]string{u, g}
		if _, dup := got[k]; dup {
			panic(fmt.Sprintf("change %v carried twice", k))
		}
		got[k] = a
	}
	for _, c := range calls {
		for _, o := range c.Add {
			if c.Group != "" {
				add(o, c.Group, true)
			} else {
				add(c.User, o, true)
			}
		}
		for _, o := range c.Remove {
			if c.Group != "" {
				add(o, c.Group, false)
			} else {
				add(c.User, o, false)
			}
		}
	}
	return got
}

// bruteMinCover is the size of a minimum vertex cover, by trying every
// subset of vertices.
func bruteMinCover(changes []Change) int {
	idx := map[string]int{}
	for _, c := range changes {
		for _, v := range []string{"u:" + c.User, "g:" + c.Group} {
			if _, ok := idx[v]; !ok {
				idx[v] = len(idx)
			}
		}
	}
	best := len(idx)
	for set := uint32(0); set < 1<<len(idx); set++ {
		n := bits.OnesCount32(set)
		if n >= best {
			continue
		}
		ok := true
		for _, c := range changes {
			if set&(1<<idx["u:"+c.User]) == 0 && set&(1<<idx["g:"+c.Group]) == 0 {
				ok = false
				break
			}
		}
		if ok {
			best = n
		}
	}
	return best
}

func randomChanges(r *rand.Rand, users, groups, n int) []Change {
	seen := map[[2]int]bool{}
	var out []Change
	for len(out) < n {
		u, g := r.IntN(users), r.IntN(groups)
		if seen[[2]int{u, g}] {
			continue
		}
		seen[[2]int{u, g}] = true
		out = append(out, Change{User: fmt.Sprintf("u%d", u), Group: fmt.Sprintf("g%d", g), Add: r.IntN(2) == 0})
	}
	return out
}

// TestPlanMembershipProperties checks on random small change graphs that
// every strategy's plan carries exactly the requested changes, that user
// and group plans make one call per affected user or group, and that auto
// is optimal against brute force.
func TestPlanMembershipProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 500 {
		users, groups := 1+r.IntN(7), 1+r.IntN(6)
		n := 1 + r.IntN(users*groups)
		changes := randomChanges(r, users, groups, n)
		distinctU, distinctG := map[string]bool{}, map[string]bool{}
		for _, c := range changes {
			distinctU[c.User] = true
			distinctG[c.Group] = true
		}
		for _, strategy := range []string{StrategyUser, StrategyGroup, StrategyAuto} {
			calls := PlanMembership(strategy, changes)
			got := applyPlan(calls)
			if len(got) != len(changes) {
				t.Fatalf("case %d %s: plan carries %d changes, want %d", i, strategy, len(got), len(changes))
			}
			for _, c := range changes {
				if a, ok := got[[2]string{c.User, c.Group}]; !ok || a != c.Add {
					t.Fatalf("case %d %s: change %+v carried as %v/%v", i, strategy, c, a, ok)
				}
			}
			want := map[string]int{StrategyUser: len(distinctU), StrategyGroup: len(distinctG), StrategyAuto: bruteMinCover(changes)}[strategy]
			if len(calls) != want {
				t.Fatalf("case %d %s: %d calls, want %d for %v", i, strategy, len(calls), want, changes)
			}
		}
	}
}

func TestPlanMembershipExamples(t *testing.T) {
	tests := []struct {
		name     string
		strategy string
		changes  []Change
		want     []Call
	}{
		{name: "empty", strategy: StrategyAuto, changes: nil, want: []Call{}},
		{name: "one group, many users: group call", strategy: StrategyAuto,
			changes: []Change{{"a", "g", true}, {"b", "g", true}, {"c", "g", false}},
			want:    []Call{{Group: "g", Add: []string{"a", "b"}, Remove: []string{"c"}}}},
		{name: "one user, many groups: user call", strategy: StrategyAuto,
			changes: []Change{{"a", "g1", true}, {"a", "g2", false}},
			want:    []Call{{User: "a", Add: []string{"g1"}, Remove: []string{"g2"}}}},
		{name: "user strategy", strategy: StrategyUser,
			changes: []Change{{"a", "g", true}, {"b", "g", true}},
			want:    []Call{{User: "a", Add: []string{"g"}}, {User: "b", Add: []string{"g"}}}},
		{name: "duplicate pair: last wins", strategy: StrategyGroup,
			changes: []Change{{"a", "g", true}, {"a", "g", false}},
			want:    []Call{{Group: "g", Remove: []string{"a"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := PlanMembership(tt.strategy, tt.changes)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func benchChanges(n int) []Change {
	r := rand.New(rand.NewPCG(3, 4))
	users, groups := n/5, max(n/200, 1)
	return randomChanges(r, users, groups, n)
}

func BenchmarkPlanMembership(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		changes := benchChanges(n)
		for _, strategy := range []string{StrategyUser, StrategyAuto} {
			b.Run(fmt.Sprintf("%s/%d", strategy, n), func(b *testing.B) {
				b.ReportAllocs()
				var calls int
				for b.Loop() {
					calls = len(PlanMembership(strategy, changes))
				}
				b.ReportMetric(float64(calls), "calls")
			})
		}
	}
}
