package upstream

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestSwaggerShapedAnswers covers answer shapes the emulator does not send
// but the reference allows: BulkCreate answering a bare IdentityResult
// (Swagger), a 2xx BulkCreate with succeeded:false, a PUT /Group with an
// empty body, and enums as strings.
func TestSwaggerShapedAnswers(t *testing.T) {
	const uid, gid = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	var failCreate atomic.Bool
	mux := http.NewServeMux()
	mux.HandleFunc("POST /connect/token", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"access_token":%q,"expires_in":3600,"token_type":"Bearer"}`,
			fakeJWT(t, map[string]any{"prt_id": "org"}))
	})
	mux.HandleFunc("POST /api/User/BulkCreate", func(w http.ResponseWriter, r *http.Request) {
		if failCreate.Load() {
			fmt.Fprint(w, `{"result":{"succeeded":false,"errors":[{"code":"DuplicateUserName","description":"taken"}]},"users":[]}`)
			return
		}
		fmt.Fprint(w, `{"succeeded":true,"errors":[]}`)
	})
	mux.HandleFunc("GET /api/User/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"id":%q,"userName":"a","type":"User","category":"Local"}`, r.PathValue("id"))
	})
	mux.HandleFunc("PUT /api/Group/{id}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /api/Group/org/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"id":%q,"name":"G","type":"Custom","members":[]}`, r.PathValue("id"))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := New(Config{BaseURL: srv.URL, ClientID: "id", ClientSecret: "secret"}, nil)
	if err != nil {
		t.Fatal(err)
	}

	u, err := c.CreateUser(t.Context(), NewUser{ID: uid, UserName: "a"}, nil)
	if err != nil || u.ID != uid || u.Type != UserTypeUser {
		t.Errorf("CreateUser with a bare IdentityResult = %+v, %v", u, err)
	}
	failCreate.Store(true)
	_, err = c.CreateUser(t.Context(), NewUser{ID: uid, UserName: "a"}, nil)
	if e, ok := err.(*Error); !ok || !e.HasCode(CodeDuplicateUserName) || e.StatusCode != http.StatusOK || e.Retryable {
		t.Errorf("CreateUser with 200 succeeded:false = %v", err)
	}
	g, err := c.UpdateGroup(t.Context(), gid, "G", []string{uid}, nil)
	if err != nil || g.ID != gid || g.Type != GroupTypeCustom {
		t.Errorf("UpdateGroup with an empty answer = %+v, %v", g, err)
	}
	if _, err := c.UpdateGroup(t.Context(), gid, "", nil, nil); err == nil || !strings.Contains(err.Error(), "name") {
		t.Errorf("UpdateGroup without a name: %v", err)
	}
}
