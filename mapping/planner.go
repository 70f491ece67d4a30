package mapping

import (
	"slices"
)

// Change is one membership change: user joins (Add) or leaves group.
type Change struct {
	User, Group string
	Add         bool
}

// Call is one upstream write that carries membership changes: either
// PUT /User/{User} with groupIDsToAdd/Remove (Group empty), or
// PUT /Group/{Group} with directoryUserIDsToAdd/Remove (User empty). Add and
// Remove hold the ids of the other side, sorted.
type Call struct {
	User, Group string
	Add, Remove []string
}

// PlanMembership turns changes into upstream calls under a strategy:
//   - StrategyUser: one call per affected user, carrying all its changes;
//   - StrategyGroup: one call per affected group;
//   - StrategyAuto: the fewest calls. Every change must ride on a call to
//     its user or to its group, so the calls form a vertex cover of the
//     bipartite change graph; the minimum one comes from a maximum matching
//     (König's theorem), found with Hopcroft–Karp in O(E·√V).
//
// Every change is carried by exactly one call. Duplicate (user, group)
// pairs must not occur; the last one wins if they do. Calls are returned in
// a deterministic order (group calls, then user calls, each by id).
func PlanMembership(strategy string, changes []Change) []Call {
	edges := dedupeChanges(changes)
	onGroup := map[string]bool{}
	switch strategy {
	case StrategyGroup:
		for _, c := range edges {
			onGroup[c.Group] = true
		}
	case StrategyAuto:
		onGroup = minCoverGroups(edges)
	}
	groupCalls := map[string]*Call{}
	userCalls := map[string]*Call{}
	for _, c := range edges {
		var call *Call
		other := c.Group
		if onGroup[c.Group] {
			if call = groupCalls[c.Group]; call == nil {
				call = &Call{Group: c.Group}
				groupCalls[c.Group] = call
			}
			other = c.User
		} else if call = userCalls[c.User]; call == nil {
			call = &Call{User: c.User}
			userCalls[c.User] = call
		}
		if c.Add {
			call.Add = append(call.Add, other)
		} else {
			call.Remove = append(call.Remove, other)
		}
	}
	out := make([]Call, 0, len(groupCalls)+len(userCalls))
	for _, m := range []map[string]*Call{groupCalls, userCalls} {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			c := m[k]
			slices.Sort(c.Add)
			slices.Sort(c.Remove)
			out = append(out, *c)
		}
	}
	return out
}

func dedupeChanges(changes []Change) []Change {
	type pair struct{ u, g string }
	idx := make(map[pair]int, len(changes))
	out := make([]Change, 0, len(changes))
	for _, c := range changes {
		k := pair{c.User, c.Group}
		if i, ok := idx[k]; ok {
			out[i] = c
			continue
		}
		idx[k] = len(out)
		out = append(out, c)
	}
	return out
}

// minCoverGroups returns, for a minimum vertex cover of the bipartite graph
// users–groups, which groups are in it; every edge whose group is not in
// the cover has its user in it.
func minCoverGroups(edges []Change) map[string]bool {
	// Index vertices: users are left (0..nu-1), groups right (0..ng-1).
	uIdx, gIdx := map[string]int{}, map[string]int{}
	var groups []string
	adj := [][]int{}
	for _, c := range edges {
		u, ok := uIdx[c.User]
		if !ok {
			u = len(adj)
			uIdx[c.User] = u
			adj = append(adj, nil)
		}
		g, ok := gIdx[c.Group]
		if !ok {
			g = len(groups)
			gIdx[c.Group] = g
			groups = append(groups, c.Group)
		}
		adj[u] = append(adj[u], g)
	}
	matchU, matchG := hopcroftKarp(adj, len(groups))

	// König: Z = vertices reachable from unmatched users by alternating
	// paths; the cover is (users not in Z) ∪ (groups in Z).
	visitedU := make([]bool, len(adj))
	visitedG := make([]bool, len(groups))
	var queue []int
	for u := range adj {
		if matchU[u] < 0 {
			visitedU[u] = true
			queue = append(queue, u)
		}
	}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, g := range adj[u] {
			if visitedG[g] || matchU[u] == g {
				continue
			}
			visitedG[g] = true
			if w := matchG[g]; w >= 0 && !visitedU[w] {
				visitedU[w] = true
				queue = append(queue, w)
			}
		}
	}
	cover := make(map[string]bool)
	for g, name := range groups {
		if visitedG[g] {
			cover[name] = true
		}
	}
	return cover
}

// hopcroftKarp computes a maximum matching of a bipartite graph given as
// adjacency lists from left vertices to right vertices 0..nRight-1. It
// returns each side's partner, or -1.
func hopcroftKarp(adj [][]int, nRight int) (matchL, matchR []int) {
	const inf = int(^uint(0) >> 1)
	matchL = make([]int, len(adj))
	matchR = make([]int, nRight)
	for i := range matchL {
		matchL[i] = -1
	}
	for i := range matchR {
		matchR[i] = -1
	}
	dist := make([]int, len(adj))
	bfs := func() bool {
		queue := make([]int, 0, len(adj))
		for u := range adj {
			if matchL[u] < 0 {
				dist[u] = 0
				queue = append(queue, u)
			} else {
				dist[u] = inf
			}
		}
		found := false
		for len(queue) > 0 {
			u := queue[0]
			queue = queue[1:]
			for _, g := range adj[u] {
				w := matchR[g]
				if w < 0 {
					found = true
				} else if dist[w] == inf {
					dist[w] = dist[u] + 1
					queue = append(queue, w)
				}
			}
		}
		return found
	}
	// Iterative DFS along layered edges, so deep graphs cannot overflow.
	it := make([]int, len(adj))
	dfs := func(root int) bool {
		type frame struct{ u int }
		stack := []frame{{root}}
		path := []int{} // right vertices chosen at each level
		for len(stack) > 0 {
			u := stack[len(stack)-1].u
			advanced := false
			for it[u] < len(adj[u]) {
				g := adj[u][it[u]]
				it[u]++
				w := matchR[g]
				if w < 0 {
					// Augment along the stack.
					path = append(path, g)
					for i := len(stack) - 1; i >= 0; i-- {
						lu, rg := stack[i].u, path[i]
						matchL[lu] = rg
						matchR[rg] = lu
					}
					return true
				}
				if dist[w] == dist[u]+1 {
					path = append(path, g)
					stack = append(stack, frame{w})
					advanced = true
					break
				}
			}
			if !advanced {
				dist[u] = inf
				stack = stack[:len(stack)-1]
				if len(path) > 0 {
					path = path[:len(path)-1]
				}
			}
		}
		return false
	}
	for bfs() {
		for u := range it {
			it[u] = 0
		}
		for u := range adj {
			if matchL[u] < 0 {
				dfs(u)
			}
		}
	}
	return matchL, matchR
}
