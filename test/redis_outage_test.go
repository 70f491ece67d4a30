package test

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/internal/envtest"
	"github.com/scim-bridge/scim-bridge/internal/redistest"
)

// cutProxy forwards TCP connections to a target until it is cut: then it
// closes every connection and refuses new ones (accepts and closes them at
// once) until it is restored. It stands for a network failure between the
// bridge and a real Redis.
type cutProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns map[net.Conn]bool
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, conns: map[net.Conn]bool{}}
	t.Cleanup(func() {
		ln.Close()
		p.setCut(true)
	})
	go p.serve()
	return p
}

func (p *cutProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = true, true
		p.mu.Unlock()
		go func() { _, _ = io.Copy(up, c); up.Close(); c.Close() }()
		go func() { _, _ = io.Copy(c, up); up.Close(); c.Close() }()
	}
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.conns {
			c.Close()
		}
		clear(p.conns)
	}
}

// TestRedisOutage: when the bridge loses its Redis, lookups and writes
// answer 503 in SCIM JSON at once (a burst of concurrent lookups too, none
// hanging), nothing reaches UiPath, and when Redis is back the same
// requests succeed: the IdP's retry converges.
func TestRedisOutage(t *testing.T) {
	u, err := url.Parse(redistest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, u.Host)
	e := newEnv(t, envtest.Redis, envOptions{redisURL: "redis://" + proxy.ln.Addr().String()})

	lookup := "/Users?filter=" + url.QueryEscape(`userName eq "ada@corp.example"`)
	newUser := func(name string) map[string]any {
		return map[string]any{"schemas": []string{userSchema}, "userName": name}
	}
	e.must(201, "POST", "/Users", newUser("ada@corp.example"))
	e.must(200, "GET", lookup, nil)
	usersBefore := len(e.emu.Users())

	proxy.setCut(true)
	start := time.Now()
	var wg sync.WaitGroup
	statuses := make([]int, 32)
	bodies := make([]map[string]any, 32)
	for i := range statuses {
		wg.Go(func() {
			r := e.do("GET", lookup, nil)
			statuses[i], bodies[i] = r.status, r.body
		})
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 503 || str(bodies[i], "status") != "503" || !strings.Contains(fmt.Sprint(bodies[i]["schemas"]), "urn:ietf:params:scim:api:messages:2.0:Error") {
			t.Fatalf("lookup %d during the outage: %d %v, want a SCIM 503", i, s, bodies[i])
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("32 lookups during the outage took %v to fail", d)
	}
	r := e.do("POST", "/Users", newUser("grace@corp.example"))
	if r.status != 503 || r.header.Get("Content-Type") != "application/scim+json" || r.header.Get("Retry-After") == "" {
		t.Fatalf("create during the outage: %d %s", r.status, r.raw)
	}
	if n := len(e.emu.Users()); n != usersBefore {
		t.Fatalf("UiPath gained %d users while the store was unreachable", n-usersBefore)
	}

	proxy.setCut(false)
	deadline := time.Now().Add(15 * time.Second)
	for e.do("GET", lookup, nil).status != 200 {
		if time.Now().After(deadline) {
			t.Fatal("lookups did not recover within 15s of Redis coming back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := range statuses {
		wg.Go(func() { statuses[i] = e.do("GET", lookup, nil).status })
	}
	wg.Wait()
	for i, s := range statuses {
		if s != 200 {
			t.Errorf("lookup %d after recovery: %d", i, s)
		}
	}
	e.must(201, "POST", "/Users", newUser("grace@corp.example")) // the IdP's retry
	if n := len(e.emu.Users()); n != usersBefore+1 {
		t.Errorf("UiPath has %d users after the retried create, want %d", n, usersBefore+1)
	}
}
