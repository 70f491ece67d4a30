package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// workload is what the simulated IdP provisions: users, groups with a
// Zipf-like size distribution (a few big groups, many small ones), a re-org
// wave that moves users between groups and an exit wave. Users and groups
// are indexes; their SCIM ids are learnt from the bridge's answers.
type workload struct {
	users, groups int
	// members[g] are the initial members of group g, sorted.
	members [][]int
	// moveOut[g] and moveIn[g] are the users the re-org removes from and
	// adds to group g, sorted.
	moveOut, moveIn [][]int
	moved           int
	// exits are the users the exit wave disables and deletes.
	exits []int
	// moveOut2, moveIn2 and moved2 are the second re-org wave, the one
	// the leavers are sent during; it moves none of the first wave's
	// users, nor exits or leavers.
	moveOut2, moveIn2 [][]int
	moved2            int
	// leavers are the users disabled (not deleted) during the second
	// re-org wave, in the order they are sent; none is in exits.
	leavers []int
}

// zipfExponent shapes group sizes: size_k ∝ 1/k^s. At 1.0 and 50 groups
// the biggest group holds ~22% of all memberships (capped at every user),
// half the groups hold under 1% each.
const zipfExponent = 1.0

func newWorkload(users, groups, memberships, reorgPct, exitPct, reorg2Pct, leavers int, seed uint64) (*workload, error) {
	if users <= 0 || groups < 0 || memberships < 0 || leavers < 0 {
		return nil, fmt.Errorf("need users > 0 and non-negative groups, memberships and leavers")
	}
	if memberships > users*groups {
		return nil, fmt.Errorf("%d memberships do not fit in %d groups of at most %d users", memberships, groups, users)
	}
	rng := rand.New(rand.NewPCG(seed, 0x5c1b))
	w := &workload{users: users, groups: groups}
	sizes := groupSizes(groups, memberships, users)
	w.members = make([][]int, groups)
	for g, n := range sizes {
		w.members[g] = sample(rng, users, n)
	}

	// Re-org: each moved user leaves one of its groups and joins another
	// one, chosen with the same skew as the sizes.
	groupsOf := make([][]int, users)
	for g, ms := range w.members {
		for _, u := range ms {
			groupsOf[u] = append(groupsOf[u], g)
		}
	}
	weights := make([]float64, groups)
	total := 0.0
	for g := range weights {
		weights[g] = 1 / math.Pow(float64(g+1), zipfExponent)
		total += weights[g]
	}
	pick := func() int {
		x := rng.Float64() * total
		for g, wt := range weights {
			if x < wt {
				return g
			}
			x -= wt
		}
		return groups - 1
	}
	// wave moves up to want users, skipping those skip names, and leaves
	// groupsOf as it is after the moves.
	wave := func(want int, skip map[int]bool) (out, in [][]int, moved int) {
		out, in = make([][]int, groups), make([][]int, groups)
		for _, u := range rng.Perm(users) {
			if moved == want || groups < 2 {
				break
			}
			if skip[u] || len(groupsOf[u]) == 0 || len(groupsOf[u]) == groups {
				continue
			}
			from := groupsOf[u][rng.IntN(len(groupsOf[u]))]
			to := -1
			for range 100 {
				if g := pick(); !slices.Contains(groupsOf[u], g) {
					to = g
					break
				}
			}
			if to < 0 {
				continue
			}
			out[from] = append(out[from], u)
			in[to] = append(in[to], u)
			moved++
			// Each user moves at most once per wave, so the wave never
			// reads this user's groups again.
			groupsOf[u] = append(slices.DeleteFunc(groupsOf[u], func(g int) bool { return g == from }), to)
		}
		for g := range groups {
			slices.Sort(out[g])
			slices.Sort(in[g])
		}
		return out, in, moved
	}
	w.moveOut, w.moveIn, w.moved = wave(users*reorgPct/100, nil)
	w.exits = sample(rng, users, users*exitPct/100)

	// Drawn after the first waves, so that those stay what they were
	// before the leaver phase existed for the same seed.
	skip := map[int]bool{}
	for _, u := range w.exits {
		skip[u] = true
	}
	for _, u := range rng.Perm(users) {
		if len(w.leavers) == leavers {
			break
		}
		if !skip[u] {
			w.leavers = append(w.leavers, u)
		}
	}
	if len(w.leavers) < leavers {
		return nil, fmt.Errorf("%d leavers do not fit in the %d users outside the exit wave", leavers, users-len(w.exits))
	}
	for _, u := range w.leavers {
		skip[u] = true
	}
	for _, ms := range w.moveIn {
		for _, u := range ms {
			skip[u] = true
		}
	}
	w.moveOut2, w.moveIn2, w.moved2 = wave(users*reorg2Pct/100, skip)
	return w, nil
}

// groupSizes splits memberships over groups in proportion to 1/k^s, no
// group bigger than limit, every group at least one member while there are
// enough memberships. It is water-filling: groups whose share exceeds the
// limit are capped and their excess goes to the others.
func groupSizes(groups, memberships, limit int) []int {
	sizes := make([]int, groups)
	if groups == 0 {
		return sizes
	}
	capped := make([]bool, groups)
	remaining := memberships
	for {
		total := 0.0
		for g := range groups {
			if !capped[g] {
				total += 1 / math.Pow(float64(g+1), zipfExponent)
			}
		}
		changed := false
		for g := range groups {
			if capped[g] {
				continue
			}
			share := float64(remaining) / total / math.Pow(float64(g+1), zipfExponent)
			if share >= float64(limit) {
				capped[g], sizes[g] = true, limit
				remaining -= limit
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	// Shares of the uncapped groups, floored, at least 1; the rounding
	// remainder goes to the biggest uncapped groups first.
	total := 0.0
	for g := range groups {
		if !capped[g] {
			total += 1 / math.Pow(float64(g+1), zipfExponent)
		}
	}
	assigned := 0
	for g := range groups {
		if capped[g] {
			continue
		}
		n := int(float64(remaining) / total / math.Pow(float64(g+1), zipfExponent))
		sizes[g] = max(min(n, limit), min(1, remaining))
		assigned += sizes[g]
	}
	for idle, g := 0, 0; assigned != remaining && idle < groups; g = (g + 1) % groups {
		idle++
		switch {
		case capped[g]:
		case assigned < remaining && sizes[g] < limit:
			sizes[g]++
			assigned++
			idle = 0
		case assigned > remaining && sizes[g] > 1:
			sizes[g]--
			assigned--
			idle = 0
		}
	}
	return sizes
}

// sample returns k distinct values of [0, n), sorted.
func sample(rng *rand.Rand, n, k int) []int {
	if k >= n {
		out := make([]int, n)
		for i := range out {
			out[i] = i
		}
		return out
	}
	if k > n/2 {
		return slices.Sorted(slices.Values(rng.Perm(n)[:k]))
	}
	set := make(map[int]bool, k)
	out := make([]int, 0, k)
	for len(out) < k {
		if v := rng.IntN(n); !set[v] {
			set[v] = true
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out
}

// userName is the userName (UPN) of user i.
func userName(i int) string { return fmt.Sprintf("user%06d@corp.example", i) }

// groupName is the displayName of group g.
func groupName(g int) string { return fmt.Sprintf("Group %04d", g) }

// batches splits ids into slices of at most n.
func batches(ids []int, n int) [][]int {
	var out [][]int
	for len(ids) > 0 {
		k := min(n, len(ids))
		out = append(out, ids[:k])
		ids = ids[k:]
	}
	return out
}
