package emulator

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/upstream"
)

func TestRateLimit(t *testing.T) {
	h := newHarness(t, Config{Limits: map[string]int{"GET": 2, "POST": 1}, Window: time.Minute})
	pid := h.srv.PartitionID()
	list := "/api/User/users/" + pid
	h.call(http.MethodGet, list, nil, 200)
	h.clock.Advance(10 * time.Second)
	h.call(http.MethodGet, list, nil, 200)
	h.token("") // token calls do not count

	tests := []struct {
		name      string
		advance   time.Duration
		wantRetry string
	}{
		{"over the limit", 0, "50"},
		{"still limited", 49*time.Second + 500*time.Millisecond, "1"}, // rounds up
	}
	for _, tt := range tests {
		h.clock.Advance(tt.advance)
		resp, b := h.do(req{method: "GET", path: list})
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != tt.wantRetry {
			t.Errorf("%s: %d Retry-After %q, want 429 %q; %s", tt.name, resp.StatusCode, resp.Header.Get("Retry-After"), tt.wantRetry, b)
		}
	}
	// Other methods have their own budgets.
	h.call(http.MethodPost, "/api/User/BulkCreate", bulk(pid, map[string]any{"userName": "a"}), 200)
	resp, _ := h.do(req{method: "POST", path: "/api/User/BulkCreate", body: bulk(pid, map[string]any{"userName": "b"})})
	if resp.StatusCode != 429 {
		t.Errorf("second POST: %d, want 429", resp.StatusCode)
	}
	if len(h.srv.Users()) != 1 {
		t.Errorf("a throttled call was applied: %d users", len(h.srv.Users()))
	}
	// The window resets.
	h.clock.Advance(time.Second)
	h.call(http.MethodGet, list, nil, 200)
	if got := h.srv.CountRequests("get"); got != 5 {
		t.Errorf("CountRequests(GET) = %d, want 5 (429s are logged)", got)
	}
}

func TestRateLimitsOffAndDefaults(t *testing.T) {
	h := newHarness(t, Config{DisableRateLimits: true, Limits: map[string]int{"GET": 1}})
	for range 3 {
		h.call(http.MethodGet, "/api/Group/"+h.srv.PartitionID(), nil, 200)
	}
	cfg := Config{Limits: map[string]int{"GET": 5, "PUT": -1}}.withDefaults()
	if cfg.Limits["GET"] != 5 || cfg.Limits["PUT"] != -1 || cfg.Limits["POST"] != 24000 || cfg.Limits["DELETE"] != 160 || cfg.Window != 5*time.Minute {
		t.Errorf("defaults %+v", cfg)
	}
}

func TestFaults(t *testing.T) {
	h := newHarness(t, Config{})
	pid := h.srv.PartitionID()
	list := "/api/User/users/" + pid
	status := func(method, path string, body any) int {
		resp, _ := h.do(req{method: method, path: path, body: body})
		return resp.StatusCode
	}

	t.Run("status and Times", func(t *testing.T) {
		h.srv.Inject(Fault{Method: "GET", PathContains: "/User/users", Status: 503, Times: 2, RetryAfter: 1500 * time.Millisecond, Body: `{"message":"down"}`})
		resp, b := h.do(req{method: "GET", path: list})
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "2" || string(b) != `{"message":"down"}` {
			t.Errorf("fault answer %d %q %s", resp.StatusCode, resp.Header.Get("Retry-After"), b)
		}
		if got := []int{status("GET", "/api/Group/"+pid, nil), status("GET", list, nil), status("GET", list, nil)}; got[0] != 200 || got[1] != 503 || got[2] != 200 {
			t.Errorf("statuses %v, want [200 503 200]", got)
		}
	})
	t.Run("forever until cleared", func(t *testing.T) {
		h.srv.Inject(Fault{Status: 500, Times: -1})
		for range 3 {
			if s := status("GET", list, nil); s != 500 {
				t.Errorf("status %d", s)
			}
		}
		if code, _ := h.tokenResp(nil); code != 400 {
			t.Errorf("token endpoint faulted by an API fault: %d", code)
		}
		h.srv.ClearFaults()
		if s := status("GET", list, nil); s != 200 {
			t.Errorf("after ClearFaults %d", s)
		}
	})
	t.Run("before apply changes nothing", func(t *testing.T) {
		h.srv.Inject(Fault{Method: "POST", Status: 500})
		if s := status("POST", "/api/User/BulkCreate", bulk(pid, map[string]any{"userName": "lost"})); s != 500 {
			t.Errorf("status %d", s)
		}
		if len(h.srv.Users()) != 0 {
			t.Error("the call was applied")
		}
	})
	t.Run("after apply changes state", func(t *testing.T) {
		h.srv.Inject(Fault{Method: "POST", PathContains: "BulkCreate", Status: 502, AfterApply: true})
		if s := status("POST", "/api/User/BulkCreate", bulk(pid, map[string]any{"userName": "applied"})); s != 502 {
			t.Errorf("status %d", s)
		}
		if us := h.srv.Users(); len(us) != 1 || us[0].UserName != "applied" {
			t.Errorf("users %+v", us)
		}
		// The retry now sees the duplicate, as against UiPath.
		resp := decode[upstream.BulkCreateResponse](t, h.call(http.MethodPost, "/api/User/BulkCreate", bulk(pid, map[string]any{"userName": "applied"}), 400))
		if resp.Result.Errors[0].Code != "DuplicateUserName" {
			t.Errorf("retry %+v", resp)
		}
	})
	t.Run("delay only", func(t *testing.T) {
		h.srv.Inject(Fault{PathContains: "/Group/", Delay: 30 * time.Millisecond})
		start := time.Now()
		if s := status("GET", "/api/Group/"+pid, nil); s != 200 {
			t.Errorf("status %d", s)
		}
		if d := time.Since(start); d < 30*time.Millisecond {
			t.Errorf("answered after %v", d)
		}
	})
	t.Run("after apply with delay only answers for real", func(t *testing.T) {
		h.srv.Inject(Fault{Method: "DELETE", AfterApply: true, Delay: 10 * time.Millisecond})
		id := h.srv.Users()[0].ID
		if s := status("DELETE", "/api/User/"+id, nil); s != 204 {
			t.Errorf("status %d", s)
		}
		if len(h.srv.Users()) != 0 {
			t.Error("not applied")
		}
	})
	t.Run("delay honours the client's context", func(t *testing.T) {
		h.srv.Inject(Fault{Delay: time.Hour, Status: 500})
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		r, _ := http.NewRequestWithContext(ctx, "GET", h.url+list, nil)
		r.Header.Set("Authorization", "Bearer "+h.tok)
		_, err := http.DefaultClient.Do(r)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err %v", err)
		}
		// The handler gives up and logs the call.
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			reqs := h.srv.Requests()
			if last := reqs[len(reqs)-1]; last.Status == 499 {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Error("delayed call never ended")
	})
	t.Run("delay of a call with a body honours the client's context", func(t *testing.T) {
		// net/http notices a client that went away only once the body has
		// been read: a delayed PUT must still be dropped, not applied late.
		id := h.srv.SeedUser(upstream.User{UserName: "slow", IsActive: true}).ID
		h.srv.Inject(Fault{Method: "PUT", Delay: 300 * time.Millisecond})
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
		defer cancel()
		r, _ := http.NewRequestWithContext(ctx, "PUT", h.url+"/api/User/"+id, strings.NewReader(`{"isActive":false}`))
		r.Header.Set("Authorization", "Bearer "+h.tok)
		r.Header.Set("Content-Type", "application/json")
		if _, err := http.DefaultClient.Do(r); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v", err)
		}
		deadline := time.Now().Add(2 * time.Second)
		for {
			reqs := h.srv.Requests()
			if last := reqs[len(reqs)-1]; last.Method == "PUT" {
				if last.Status != 499 {
					t.Errorf("logged status %d, want 499", last.Status)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("delayed call never ended")
			}
			time.Sleep(5 * time.Millisecond)
		}
		if u, _ := h.srv.User(id); !u.IsActive {
			t.Error("the delayed call was applied after its client went away")
		}
	})
	t.Run("drop closes the connection, applied or not", func(t *testing.T) {
		before := len(h.srv.Users())
		for _, applied := range []bool{false, true} {
			h.srv.Inject(Fault{Method: "POST", PathContains: "BulkCreate", Drop: true, AfterApply: applied})
			logged := len(h.srv.Requests())
			body, _ := json.Marshal(bulk(pid, map[string]any{"userName": "dropped-" + strconv.FormatBool(applied)}))
			r, _ := http.NewRequestWithContext(t.Context(), "POST", h.url+"/api/User/BulkCreate", bytes.NewReader(body))
			r.Header.Set("Authorization", "Bearer "+h.tok)
			r.Header.Set("Content-Type", "application/json")
			if resp, err := http.DefaultClient.Do(r); err == nil {
				resp.Body.Close()
				t.Fatalf("applied=%v: got status %d, want a transport error", applied, resp.StatusCode)
			}
			// The client sees the closed connection before the server
			// has logged the call: wait for the entry.
			for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				reqs := h.srv.Requests()
				if len(reqs) > logged && reqs[len(reqs)-1].Status == StatusDropped {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("applied=%v: the dropped call was not logged as %d: %v", applied, StatusDropped, reqs[logged:])
				}
			}
		}
		if n := len(h.srv.Users()) - before; n != 1 {
			t.Errorf("%d users created, want the AfterApply one only", n)
		}
	})
	t.Run("late applies after the client gave up", func(t *testing.T) {
		id := h.srv.Users()[0].ID
		h.srv.Inject(Fault{Method: "DELETE", Late: true, Delay: 150 * time.Millisecond})
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		r, _ := http.NewRequestWithContext(ctx, "DELETE", h.url+"/api/User/"+id, nil)
		r.Header.Set("Authorization", "Bearer "+h.tok)
		if _, err := http.DefaultClient.Do(r); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v", err)
		}
		if !slices.ContainsFunc(h.srv.Users(), func(u upstream.User) bool { return u.ID == id }) {
			t.Fatal("applied before its delay")
		}
		deadline := time.Now().Add(5 * time.Second)
		for slices.ContainsFunc(h.srv.Users(), func(u upstream.User) bool { return u.ID == id }) {
			if time.Now().After(deadline) {
				t.Fatal("a late call was never applied")
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
	t.Run("token endpoint only when named", func(t *testing.T) {
		h.srv.Inject(Fault{Status: 500})
		h.token("") // "" PathContains matches API paths only
		h.srv.ClearFaults()
		h.srv.Inject(Fault{PathContains: "/connect/token", Status: 503})
		if code, _ := h.tokenResp(nil); code != 503 {
			t.Errorf("token fault: %d", code)
		}
	})
}

func TestLatencyAndRequestLog(t *testing.T) {
	h := newHarness(t, Config{Latency: 20 * time.Millisecond})
	h.srv.ResetRequests()
	start := time.Now()
	h.call(http.MethodGet, "/api/Group/"+h.srv.PartitionID()+"?x=1", nil, 200)
	if d := time.Since(start); d < 20*time.Millisecond {
		t.Errorf("latency not applied: %v", d)
	}
	reqs := h.srv.Requests()
	if len(reqs) != 1 || reqs[0].Method != "GET" || !strings.HasPrefix(reqs[0].Path, "/api/Group/") || reqs[0].Query != "x=1" ||
		reqs[0].Status != 200 || !reqs[0].At.Equal(h.clock.Now()) {
		t.Errorf("log %+v", reqs)
	}
}

// TestRequestLogCap: with MaxRequestLog the call log keeps the newest
// calls, never more than the cap, in order.
func TestRequestLogCap(t *testing.T) {
	h := newHarness(t, Config{DisableRateLimits: true, MaxRequestLog: 8})
	list := "/api/Group/" + h.srv.PartitionID()
	for i := range 30 {
		h.call(http.MethodGet, list+"?n="+strings.Repeat("x", i), nil, 200)
		if n := len(h.srv.Requests()); n > 8 {
			t.Fatalf("after %d calls the log holds %d, cap 8", i+1, n)
		}
	}
	reqs := h.srv.Requests()
	last := reqs[len(reqs)-1]
	if last.Query != "n="+strings.Repeat("x", 29) {
		t.Errorf("newest logged call has query %q", last.Query)
	}
	for i := 1; i < len(reqs); i++ {
		if len(reqs[i].Query) <= len(reqs[i-1].Query) && strings.HasPrefix(reqs[i].Query, "n=") && strings.HasPrefix(reqs[i-1].Query, "n=") {
			t.Errorf("log out of order at %d: %q after %q", i, reqs[i].Query, reqs[i-1].Query)
		}
	}
}
