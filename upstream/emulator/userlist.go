package emulator

import (
	"cmp"
	"net/http"
	"slices"
	"strings"

	"github.com/scim-bridge/scim-bridge/upstream"
)

// userSortKeys are the sortBy values of GET /User/users/{partition}
// (upstream-api.md §3), lower-cased, each with its comparison. Strings
// compare case-insensitively (SQL Server's default collation); nulls sort
// first in ascending order.
var userSortKeys = map[string]func(a, b *upstream.User) int{
	"id":             func(a, b *upstream.User) int { return strings.Compare(a.ID, b.ID) },
	"username":       func(a, b *upstream.User) int { return foldCompare(a.UserName, b.UserName) },
	"email":          func(a, b *upstream.User) int { return foldCompare(a.Email, b.Email) },
	"emailconfirmed": func(a, b *upstream.User) int { return boolCompare(a.EmailConfirmed, b.EmailConfirmed) },
	"name":           func(a, b *upstream.User) int { return ptrCompare(a.Name, b.Name, foldCompare) },
	"surname":        func(a, b *upstream.User) int { return ptrCompare(a.Surname, b.Surname, foldCompare) },
	"displayname":    func(a, b *upstream.User) int { return ptrCompare(a.DisplayName, b.DisplayName, foldCompare) },
	"creationtime":   func(a, b *upstream.User) int { return strings.Compare(a.CreationTime, b.CreationTime) },
	"lastmodificationtime": func(a, b *upstream.User) int {
		return ptrCompare(a.LastModificationTime, b.LastModificationTime, strings.Compare)
	},
	"lastlogintime":      func(a, b *upstream.User) int { return ptrCompare(a.LastLoginTime, b.LastLoginTime, strings.Compare) },
	"isactive":           func(a, b *upstream.User) int { return boolCompare(a.IsActive, b.IsActive) },
	"type":               func(a, b *upstream.User) int { return cmp.Compare(a.Type, b.Type) },
	"category":           func(a, b *upstream.User) int { return cmp.Compare(a.Category, b.Category) },
	"invitationaccepted": func(a, b *upstream.User) int { return boolCompare(a.InvitationAccepted, b.InvitationAccepted) },
}

func foldCompare(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) }

func boolCompare(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	default:
		return 1
	}
}

func ptrCompare(a, b *string, f func(a, b string) int) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	default:
		return f(*a, *b)
	}
}

// matchesSearch reports whether term (lower-case) is a substring of one of
// the searched fields, case-insensitively.
func matchesSearch(u *upstream.User, term string) bool {
	fields := []string{u.UserName, u.Email}
	for _, p := range []*string{u.Name, u.Surname, u.DisplayName} {
		if p != nil {
			fields = append(fields, *p)
		}
	}
	for _, f := range fields {
		if strings.Contains(strings.ToLower(f), term) {
			return true
		}
	}
	return false
}

// handleListUsers implements GET /User/users/{partitionGlobalId}
// ?searchTerm=&sortBy=&sortOrder=&top=&skip= (upstream-api.md §3). Without
// sortBy the order is creation order; ties keep creation order.
func (s *Server) handleListUsers(w http.ResponseWriter, r *http.Request, params map[string]string) {
	q := r.URL.Query()
	p := problems{}
	if v := params["partitionGlobalId"]; v == "" {
		p.required("partitionGlobalId")
	} else {
		s.checkPartition(p, v)
	}
	top, skip := paging(q, p)
	var less func(a, b *upstream.User) int
	if v := first(q, "sortBy"); v != "" {
		if less = userSortKeys[strings.ToLower(v)]; less == nil {
			p.invalidValue("sortBy", v)
		}
	}
	desc := false
	switch v := strings.ToLower(first(q, "sortOrder")); v {
	case "", "asc", "ascending":
	case "desc", "descending":
		desc = true
	default:
		p.invalidValue("sortOrder", first(q, "sortOrder"))
	}
	if len(p) > 0 {
		writeProblem(w, p)
		return
	}
	term := strings.ToLower(first(q, "searchTerm"))

	s.mu.Lock()
	defer s.mu.Unlock()
	var all []upstream.User
	for _, rec := range s.st.orderedUsers() {
		if term == "" || matchesSearch(&rec.u, term) {
			all = append(all, s.st.userView(rec))
		}
	}
	if less != nil || desc {
		slices.SortStableFunc(all, func(a, b upstream.User) int {
			c := 0
			if less != nil {
				c = less(&a, &b)
			}
			if desc {
				c = -c
			}
			return c
		})
		if less == nil && desc {
			slices.Reverse(all)
		}
	}
	writeJSON(w, http.StatusOK, upstream.UserPage{TotalCount: len(all), Results: page(all, top, skip)})
}
