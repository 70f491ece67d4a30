package emulator

import "net/http"

// MembershipOp is one membership change a call asked for and the emulator
// applied: User joins (Add) or leaves Group, by the call numbered Call
// (Request.Call).
type MembershipOp struct {
	Group, User string
	Add         bool
	Call        int
}

// callKey is the request context key of the call's sequence number.
type callKey struct{}

func callOf(r *http.Request) int {
	n, _ := r.Context().Value(callKey{}).(int)
	return n
}

// MembershipLog returns, in the order they were applied, the membership
// changes the calls the emulator applied asked for: the adds and removes
// of PUT /Group, the groupIDsToAdd and groupIDsToRemove of PUT /User, the
// initial members of POST /Group and the groupIDs of POST /User/BulkCreate.
// It logs requested changes, not effects: adding a member the group
// already has, or removing one it lacks, is logged although it changes
// nothing, so that a test sees every time a change was sent and applied.
// A call the emulator refused (validation, not found, rate limit, a fault
// answered before applying) logs nothing; a call applied and then answered
// with a fault (AfterApply) or never answered (Drop, a client gone) logs
// its changes. Joining Everyone on creation is implicit and not logged.
// Ids are in canonical (lower-case) form. Config.MaxRequestLog bounds the
// log as it bounds the call log.
func (s *Server) MembershipLog() []MembershipOp {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]MembershipOp(nil), s.memLog...)
}

// logMembership records the changes one call applied: users join or leave
// group gid. Callers hold s.mu.
func (s *Server) logMembership(r *http.Request, gid string, users []string, add bool) {
	call := callOf(r)
	for _, uid := range users {
		if limit := s.cfg.MaxRequestLog; limit > 0 && len(s.memLog) >= limit {
			drop := max(len(s.memLog)-limit+1, limit/4)
			s.memLog = append(s.memLog[:0], s.memLog[drop:]...)
		}
		s.memLog = append(s.memLog, MembershipOp{Group: gid, User: uid, Add: add, Call: call})
	}
}
