package emulator

import (
	"fmt"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/scim-bridge/scim-bridge/upstream"
)

var uipathTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}$`)

func bulk(pid string, users ...map[string]any) map[string]any {
	return map[string]any{"partitionGlobalId": pid, "users": users}
}

func TestBulkCreate(t *testing.T) {
	h := newHarness(t, Config{})
	pid := h.srv.PartitionID()
	g := h.srv.SeedGroup("Robots")
	id := uuid.NewString()
	body := bulk(pid,
		map[string]any{"id": strings.ToUpper(id), "userName": "jo.doe@example.com", "email": "jo.doe@example.com", "name": "Jo", "surname": "Doe", "displayName": "Jo Doe", "type": "User"},
		map[string]any{"userName": "bot_1", "type": 1},
	)
	body["groupIDs"] = []string{g.ID}
	b := h.call(http.MethodPost, "/api/User/BulkCreate", body, 200)
	if !strings.Contains(string(b), `"type":0`) || !strings.Contains(string(b), `"type":1`) {
		t.Errorf("enums are not numbers: %s", b)
	}
	resp := decode[upstream.BulkCreateResponse](t, b)
	if !resp.Result.Succeeded || resp.Result.Errors == nil || len(resp.Users) != 2 {
		t.Fatalf("response %+v", resp)
	}
	u := resp.Users[0]
	everyone := h.srv.Groups()[0].ID
	wantGroups := []string{everyone, g.ID}
	slices.Sort(wantGroups)
	if u.ID != id || u.UserName != "jo.doe@example.com" || *u.DisplayName != "Jo Doe" || !u.IsActive || u.Type != 0 ||
		!uipathTime.MatchString(u.CreationTime) || u.LastLoginTime != nil || !reflect.DeepEqual(u.GroupIDs, wantGroups) {
		t.Errorf("user %+v", u)
	}
	if _, err := uuid.Parse(resp.Users[1].ID); err != nil || resp.Users[1].Type != 1 {
		t.Errorf("generated user %+v", resp.Users[1])
	}
	got := decode[upstream.User](t, h.call(http.MethodGet, "/api/User/"+id, nil, 200))
	if !reflect.DeepEqual(got, u) {
		t.Errorf("GET = %+v, want %+v", got, u)
	}
}

func TestBulkCreateFailures(t *testing.T) {
	h := newHarness(t, Config{})
	pid := h.srv.PartitionID()
	existing := h.srv.SeedUser(upstream.User{UserName: "taken@example.com", Email: "mail@example.com"})
	tests := []struct {
		name      string
		users     []map[string]any
		wantCodes []string
	}{
		{"duplicate userName, case-insensitive", []map[string]any{{"userName": "TAKEN@example.com"}}, []string{"DuplicateUserName"}},
		{"duplicate email", []map[string]any{{"userName": "new", "email": "MAIL@example.com"}}, []string{"DuplicateEmail"}},
		{"both duplicates", []map[string]any{{"userName": "taken@example.com", "email": "mail@example.com"}}, []string{"DuplicateUserName", "DuplicateEmail"}},
		{"invalid userName", []map[string]any{{"userName": "jo doe"}}, []string{"InvalidUserName"}},
		{"empty userName", []map[string]any{{"userName": "", "email": "e@example.com"}}, []string{"InvalidUserName"}},
		{"duplicates within the batch", []map[string]any{{"userName": "x", "email": "x@example.com"}, {"userName": "X", "email": "X@example.com"}},
			[]string{"DuplicateUserName", "DuplicateEmail"}},
		{"existing id", []map[string]any{{"id": existing.ID, "userName": "fresh"}}, []string{"DuplicateId"}},
		{"atomic: one good, one bad", []map[string]any{{"userName": "good"}, {"userName": "bad name!"}}, []string{"InvalidUserName"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(h.srv.Users())
			resp := decode[upstream.BulkCreateResponse](t, h.call(http.MethodPost, "/api/User/BulkCreate", bulk(pid, tt.users...), 400))
			var codes []string
			for _, e := range resp.Result.Errors {
				codes = append(codes, e.Code)
				if e.Description == "" {
					t.Errorf("error %s without description", e.Code)
				}
			}
			if resp.Result.Succeeded || resp.Users == nil || len(resp.Users) != 0 || !reflect.DeepEqual(codes, tt.wantCodes) {
				t.Errorf("response %+v, want codes %v", resp, tt.wantCodes)
			}
			if after := len(h.srv.Users()); after != before {
				t.Errorf("users %d → %d: a failed batch changed state", before, after)
			}
		})
	}
}

func TestProblemDetails(t *testing.T) {
	h := newHarness(t, Config{})
	pid := h.srv.PartitionID()
	other := uuid.NewString()
	uid := h.srv.SeedUser(upstream.User{UserName: "u"}).ID
	tests := []struct {
		name, method, path string
		body               any
		contentType        string
		wantStatus         int
		wantField          string
	}{
		{"malformed JSON", "POST", "/api/User/BulkCreate", `{"partitionGlobalId":`, "", 400, "$"},
		{"wrong JSON type", "POST", "/api/User/BulkCreate", `{"partitionGlobalId":"` + pid + `","users":[{"userName":5}]}`, "", 400, "$.users.userName"},
		{"trailing data", "PUT", "/api/User/" + uid, `{} {}`, "", 400, "$"},
		{"empty body", "PUT", "/api/User/" + uid, "", "application/json", 400, ""},
		{"missing partition in body", "DELETE", "/api/User", map[string]any{"userIds": []string{uid}}, "", 400, "partitionGlobalId"},
		{"wrong partition in body", "POST", "/api/User/BulkCreate", bulk(other, map[string]any{"userName": "a"}), "", 400, "partitionGlobalId"},
		{"non-GUID partition in path", "GET", "/api/User/users/DatacomGroup", nil, "", 400, "partitionGlobalId"},
		{"wrong partition in path", "GET", "/api/Group/" + other, nil, "", 400, "partitionGlobalId"},
		{"non-GUID user id", "GET", "/api/User/42", nil, "", 400, "userId"},
		{"non-GUID client id", "POST", "/api/User/BulkCreate", bulk(pid, map[string]any{"id": "nope", "userName": "a"}), "", 400, "$.users[0].id"},
		{"unknown type string", "POST", "/api/User/BulkCreate", bulk(pid, map[string]any{"userName": "a", "type": "Wizard"}), "", 400, "$.users[0].type"},
		{"unknown group on create", "POST", "/api/User/BulkCreate", map[string]any{"partitionGlobalId": pid, "groupIDs": []string{other}, "users": []any{}}, "", 400, "groupIDs"},
		{"unknown group on update", "PUT", "/api/User/" + uid, map[string]any{"groupIDsToAdd": []string{other}}, "", 400, "groupIDsToAdd"},
		{"top over 1000", "GET", "/api/User/users/" + pid + "?top=1001", nil, "", 400, "top"},
		{"negative top", "GET", "/api/User/users/" + pid + "?top=-1", nil, "", 400, "top"},
		{"top not a number", "GET", "/api/User/users/" + pid + "?top=ten", nil, "", 400, "top"},
		{"negative skip", "GET", "/api/User/users/" + pid + "?skip=-1", nil, "", 400, "skip"},
		{"bad sortBy", "GET", "/api/User/users/" + pid + "?sortBy=Shoe", nil, "", 400, "sortBy"},
		{"bad sortOrder", "GET", "/api/User/users/" + pid + "?sortOrder=up", nil, "", 400, "sortOrder"},
		{"group POST without id", "POST", "/api/Group", map[string]any{"partitionGlobalId": pid, "name": "G"}, "", 400, "id"},
		{"group POST without name", "POST", "/api/Group", map[string]any{"partitionGlobalId": pid, "id": uuid.NewString()}, "", 400, "name"},
		{"group PUT without name", "PUT", "/api/Group/" + h.srv.Groups()[0].ID, map[string]any{"partitionGlobalId": pid}, "", 400, "name"},
		{"members top over 1000", "GET", "/api/Group/" + pid + "/" + h.srv.Groups()[0].ID + "/Members?top=1001", nil, "", 400, "top"},
		{"text content type", "POST", "/api/Group", `{}`, "text/plain", 415, ""},
		{"missing content type", "PUT", "/api/User/" + uid, `{}`, "-", 415, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := req{method: tt.method, path: tt.path, body: tt.body, contentType: tt.contentType}
			if tt.contentType == "-" {
				r.contentType, r.noContentType = "", true
			}
			resp, b := h.do(r)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.wantStatus, b)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
				t.Errorf("Content-Type %q", ct)
			}
			pd := decode[upstream.ProblemDetails](t, b)
			if pd.Status != tt.wantStatus || pd.TraceID == "" || pd.Title == "" || !strings.HasPrefix(pd.Type, "https://tools.ietf.org/html/rfc7231#section-6.5.") {
				t.Errorf("problem %+v", pd)
			}
			if tt.wantStatus == 400 {
				if pd.Title != "One or more validation errors occurred." || len(pd.Errors[tt.wantField]) == 0 {
					t.Errorf("want errors[%q]; got %+v", tt.wantField, pd.Errors)
				}
			}
		})
	}
	if len(h.srv.Users()) != 1 || len(h.srv.Groups()) != 2 {
		t.Errorf("a rejected call changed state: %d users, %d groups", len(h.srv.Users()), len(h.srv.Groups()))
	}
}

func TestListUsers(t *testing.T) {
	h := newHarness(t, Config{})
	pid := h.srv.PartitionID()
	surnames := map[string]*string{"alice": ptr("Zed"), "bob": nil, "carol": ptr("Ames"), "dave": ptr("Moe")}
	for i, n := range []string{"carol", "alice", "bob", "dave"} {
		dn := fmt.Sprintf("%s Person%d", strings.ToUpper(n[:1])+n[1:], i)
		h.srv.SeedUser(upstream.User{UserName: n + "@example.com", Email: n + "@corp.example", DisplayName: &dn,
			Surname: surnames[n], IsActive: n == "alice" || n == "bob"})
		h.clock.Advance(1)
	}
	names := func(p upstream.UserPage) string {
		var out []string
		for _, u := range p.Results {
			out = append(out, strings.TrimSuffix(u.UserName, "@example.com"))
		}
		return fmt.Sprintf("%d:%s", p.TotalCount, strings.Join(out, ","))
	}
	tests := []struct {
		query, want string
	}{
		{"", "4:carol,alice,bob,dave"},
		{"?top=2", "4:carol,alice"},
		{"?top=2&skip=3", "4:dave"},
		{"?skip=9", "4:"},
		{"?top=0", "4:"},
		{"?sortBy=UserName", "4:alice,bob,carol,dave"},
		{"?sortBy=userName&sortOrder=desc", "4:dave,carol,bob,alice"},
		{"?sortOrder=desc", "4:dave,bob,alice,carol"},
		{"?sortBy=Surname&sortOrder=DESC", "4:alice,dave,carol,bob"},
		{"?sortBy=isActive", "4:carol,dave,alice,bob"},
		{"?sortBy=LastLoginTime&top=1", "4:carol"},
		{"?searchTerm=BOB", "1:bob"},
		{"?searchTerm=corp.example&top=1", "4:carol"},
		{"?searchTerm=person1", "1:alice"},
		{"?searchTerm=zzz", "0:"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			p := decode[upstream.UserPage](t, h.call(http.MethodGet, "/api/User/users/"+pid+tt.query, nil, 200))
			if p.Results == nil {
				t.Error("results is null")
			}
			if got := names(p); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestUpdateUser(t *testing.T) {
	h := newHarness(t, Config{})
	name := "Jo"
	u := h.srv.SeedUser(upstream.User{UserName: "jo", Email: "jo@example.com", Name: &name, IsActive: true})
	h.srv.SeedUser(upstream.User{UserName: "other", Email: "other@example.com"})
	admins := h.srv.Groups()[1].ID
	path := "/api/User/" + u.ID
	h.clock.Advance(5e9)

	b := h.call(http.MethodPut, path, map[string]any{"email": "OTHER@example.com", "isActive": false}, 200)
	res := decode[upstream.IdentityResult](t, b)
	if res.Succeeded || len(res.Errors) != 1 || res.Errors[0].Code != "DuplicateEmail" {
		t.Errorf("duplicate email: %s", b)
	}
	if got, _ := h.srv.User(u.ID); got.Email != "jo@example.com" || !got.IsActive || got.LastModificationTime != nil {
		t.Errorf("failed update was applied: %+v", got)
	}

	b = h.call(http.MethodPut, path, map[string]any{"surname": "Doe", "isActive": false, "groupIDsToAdd": []string{admins, admins}}, 200)
	if res := decode[upstream.IdentityResult](t, b); !res.Succeeded || res.Errors == nil {
		t.Errorf("update: %s", b)
	}
	got, _ := h.srv.User(u.ID)
	if *got.Name != "Jo" || *got.Surname != "Doe" || got.IsActive || got.Email != "jo@example.com" ||
		got.LastModificationTime == nil || !uipathTime.MatchString(*got.LastModificationTime) || len(got.GroupIDs) != 2 {
		t.Errorf("after update %+v", got)
	}
	// Idempotent removal, and Everyone cannot be left.
	everyone := h.srv.Groups()[0].ID
	h.call(http.MethodPut, path, map[string]any{"groupIDsToRemove": []string{admins, admins, everyone}}, 200)
	h.call(http.MethodPut, path, map[string]any{"groupIDsToRemove": []string{admins}}, 200)
	if got, _ := h.srv.User(u.ID); !reflect.DeepEqual(got.GroupIDs, []string{everyone}) {
		t.Errorf("groupIDs %v, want only Everyone", got.GroupIDs)
	}
	// The email may change to a new one and frees the old.
	h.call(http.MethodPut, path, map[string]any{"email": "new@example.com"}, 200)
	h.call(http.MethodPost, "/api/User/BulkCreate", bulk(h.srv.PartitionID(), map[string]any{"userName": "x", "email": "jo@example.com"}), 200)

	h.call(http.MethodPut, "/api/User/"+uuid.NewString(), map[string]any{"name": "x"}, 404)
	h.call(http.MethodGet, "/api/User/"+uuid.NewString(), nil, 404)
}

func TestDeleteUsers(t *testing.T) {
	h := newHarness(t, Config{})
	pid := h.srv.PartitionID()
	g := h.srv.SeedGroup("G")
	var ids []string
	for i := range 3 {
		ids = append(ids, h.srv.SeedUser(upstream.User{UserName: fmt.Sprint("u", i), GroupIDs: []string{g.ID}}).ID)
	}
	h.call(http.MethodDelete, "/api/User/"+ids[0], nil, 204)
	h.call(http.MethodDelete, "/api/User/"+ids[0], nil, 404)
	if m := h.srv.GroupMemberIDs(g.ID); slices.Contains(m, ids[0]) || len(m) != 2 {
		t.Errorf("members after delete %v", m)
	}
	h.call(http.MethodDelete, "/api/User", map[string]any{"partitionGlobalId": pid, "userIds": []string{ids[1], ids[2], uuid.NewString()}}, 204)
	if len(h.srv.Users()) != 0 || len(h.srv.GroupMemberIDs(g.ID)) != 0 || len(h.srv.GroupMemberIDs(h.srv.Groups()[0].ID)) != 0 {
		t.Errorf("bulk delete left %v", h.srv.Users())
	}
}

func TestConcurrentCreates(t *testing.T) {
	h := newHarness(t, Config{DisableRateLimits: true})
	pid := h.srv.PartitionID()
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			// Every user twice: exactly one of each pair wins.
			_, _ = h.do(req{method: "POST", path: "/api/User/BulkCreate", body: bulk(pid, map[string]any{"userName": fmt.Sprint("user", i%10)})})
			_, _ = h.do(req{method: "GET", path: "/api/User/users/" + pid})
		})
	}
	wg.Wait()
	if n := len(h.srv.Users()); n != 10 {
		t.Errorf("%d users, want 10", n)
	}
}

func ptr[T any](v T) *T { return &v }
