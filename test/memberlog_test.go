package test

import (
	"fmt"
	"slices"
	"strings"

	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

// Reading the emulator's membership log (emulator.MembershipOp): which
// changes reached UiPath, how often, and from which call.

// pair is a (group, user) membership pair, ids in lower case.
type pair struct{ group, user string }

func (p pair) String() string { return p.group + "/" + p.user }

func pairOf(op emulator.MembershipOp) pair {
	return pair{strings.ToLower(op.Group), strings.ToLower(op.User)}
}

// opsByPair splits the log by pair, each pair's ops in the order UiPath
// applied them.
func opsByPair(log []emulator.MembershipOp) map[pair][]emulator.MembershipOp {
	out := map[pair][]emulator.MembershipOp{}
	for _, op := range log {
		p := pairOf(op)
		out[p] = append(out[p], op)
	}
	return out
}

// resent returns the ops of one pair that changed nothing: from a pair
// that is not a member, each op should flip the membership; an op that
// finds the pair already as it asks is a change UiPath was sent again.
func resent(ops []emulator.MembershipOp) []emulator.MembershipOp {
	var out []emulator.MembershipOp
	member := false
	for _, op := range ops {
		if op.Add == member {
			out = append(out, op)
		}
		member = op.Add
	}
	return out
}

// opsString prints a pair's ops as "+@12 -@40".
func opsString(ops []emulator.MembershipOp) string {
	parts := make([]string, len(ops))
	for i, op := range ops {
		sign := "-"
		if op.Add {
			sign = "+"
		}
		parts[i] = fmt.Sprintf("%s@%d", sign, op.Call)
	}
	return strings.Join(parts, " ")
}

// callsOf returns the distinct calls of the log, in order.
func callsOf(log []emulator.MembershipOp) []int {
	seen := map[int]bool{}
	var out []int
	for _, op := range log {
		if !seen[op.Call] {
			seen[op.Call] = true
			out = append(out, op.Call)
		}
	}
	slices.Sort(out)
	return out
}
