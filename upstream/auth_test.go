package upstream_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/upstream"
	"github.com/scim-bridge/scim-bridge/upstream/emulator"
)

func TestPartitionFromToken(t *testing.T) {
	e := newEnv(t, envOption{})
	pid, err := e.c.PartitionID(t.Context())
	if err != nil || pid != e.emu.PartitionID() {
		t.Fatalf("PartitionID = %q, %v; want the prt_id %q", pid, err, e.emu.PartitionID())
	}
	if e.tokenCalls() != 1 {
		t.Errorf("%d token calls, want 1", e.tokenCalls())
	}
	if _, err := e.c.ListGroups(t.Context()); err != nil {
		t.Errorf("ListGroups with the token's partition: %v", err)
	}
}

func TestPartitionConfigured(t *testing.T) {
	const other = "00000000-0000-4000-8000-000000000001"
	e := newEnv(t, envOption{client: func(c *upstream.Config) { c.PartitionID = other }})
	pid, err := e.c.PartitionID(t.Context())
	if err != nil || pid != other {
		t.Fatalf("PartitionID = %q, %v; want %q", pid, err, other)
	}
	if e.tokenCalls() != 0 {
		t.Errorf("a configured partition fetched a token")
	}
	// The emulator rejects a foreign partition as UiPath does: 400 naming the field.
	_, err = e.c.ListGroups(t.Context())
	ue := asError(t, err)
	if ue.StatusCode != http.StatusBadRequest || len(ue.Fields) != 1 || ue.Fields[0] != "partitionGlobalId" {
		t.Errorf("foreign partition: %+v", ue)
	}
}

func TestPing(t *testing.T) {
	e := newEnv(t, envOption{})
	if err := e.c.Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	if err := e.c.Ping(t.Context()); err != nil || e.tokenCalls() != 1 || e.calls(http.MethodGet, "") != 0 {
		t.Errorf("second Ping: %v, %d token calls, %d API calls", err, e.tokenCalls(), e.calls(http.MethodGet, ""))
	}
	bad := newEnv(t, envOption{client: func(c *upstream.Config) { c.ClientSecret = "wrong" }})
	err := bad.c.Ping(t.Context())
	if ue := asError(t, err); ue.Op != "get token" || ue.StatusCode != http.StatusBadRequest || ue.Retryable ||
		!strings.Contains(ue.Detail, "invalid_client") {
		t.Errorf("Ping with a bad secret: %+v", ue)
	}
}

func TestTokenEndpointRetriedForAnyMethod(t *testing.T) {
	// A token failure sent nothing to the API, so even a create may retry it.
	e := newEnv(t, envOption{})
	e.emu.Inject(emulator.Fault{Method: http.MethodPost, PathContains: "/connect/token", Status: http.StatusServiceUnavailable})
	if _, err := e.c.CreateUser(t.Context(), upstream.NewUser{ID: newGUID(), UserName: "a@example.com"}, nil); err != nil {
		t.Fatalf("CreateUser after a failed token fetch: %v", err)
	}
	if n := e.tokenCalls(); n != 2 {
		t.Errorf("%d token calls, want 2", n)
	}
}

func TestScopeError(t *testing.T) {
	e := newEnv(t, envOption{client: func(c *upstream.Config) { c.Scopes = []string{"PM.User"} }})
	_, err := e.c.ListGroups(t.Context())
	ue := asError(t, err)
	if ue.StatusCode != http.StatusForbidden || ue.Retryable || !strings.Contains(ue.Detail, "PM.Group") {
		t.Errorf("error = %+v", ue)
	}
	if e.tokenCalls() != 1 {
		t.Errorf("a 403 refetched the token (%d calls)", e.tokenCalls())
	}
}

// TestSecretsNeverLeak runs failing calls of every kind and checks that no
// error text and no log line holds the client secret or an access token.
func TestSecretsNeverLeak(t *testing.T) {
	rt := &recordingTransport{base: http.DefaultTransport}
	e := newEnv(t, envOption{client: func(c *upstream.Config) {
		c.HTTPClient = &http.Client{Transport: rt, Timeout: 10 * time.Second}
	}})
	ctx := t.Context()
	_, secret := e.emu.Credentials()
	var errs []error
	record := func(err error) {
		if err == nil {
			t.Error("a call expected to fail succeeded")
			return
		}
		errs = append(errs, err)
	}

	u := e.createUser("a@example.com")
	// Token of the same client echoed in a fault body must not reach errors.
	tok := rt.seen()
	e.emu.Inject(emulator.Fault{Method: http.MethodGet, Status: 500, Times: 3,
		Body: `{"errorMessage":"debug: ` + tok[len(tok)-1] + `"}`})
	_, err := e.c.GetUser(ctx, u.ID)
	record(err)
	e.emu.Inject(emulator.Fault{Method: http.MethodPut, Status: 503, Times: -1, Body: "upstream " + secret})
	record(e.c.UpdateUser(ctx, u.ID, upstream.UserUpdate{Name: ptr("x")}))
	e.emu.ClearFaults()
	_, err = e.c.GetUser(ctx, "not-a-guid") // 400 ProblemDetails
	record(err)
	_, err = e.c.CreateUser(ctx, upstream.NewUser{ID: newGUID(), UserName: "a@example.com"}, nil) // 400 duplicate
	record(err)
	e.emu.Inject(emulator.Fault{Method: http.MethodGet, Status: 401, Times: 2})
	_, err = e.c.GetUser(ctx, u.ID)
	record(err)
	e.emu.Inject(emulator.Fault{Method: http.MethodPost, PathContains: "/BulkCreate", Status: 500, AfterApply: true})
	_, err = e.c.CreateUser(ctx, upstream.NewUser{ID: newGUID(), UserName: "b@example.com"}, nil)
	record(err)

	// Bad credentials, same logger.
	bad, berr := upstream.New(upstream.Config{
		BaseURL: e.url, ClientID: "emulator-client", ClientSecret: "wrong-" + secret,
		HTTPClient: &http.Client{Transport: rt}, Sleep: e.cfg.Sleep,
	}, slogTo(e.logs))
	if berr != nil {
		t.Fatal(berr)
	}
	_, err = bad.GetUser(ctx, u.ID)
	record(err)
	record(bad.Ping(ctx))
	// A hostile token endpoint echoing the secret.
	e.emu.Inject(emulator.Fault{Method: http.MethodPost, PathContains: "/connect/token", Status: 500, Times: -1,
		Body: `{"error":"server_error","error_description":"client_secret=wrong-` + secret + `"}`})
	_, err = bad.GetUser(ctx, u.ID)
	record(err)

	// Transport failure: nothing listens on a closed server.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	gone, _ := upstream.New(upstream.Config{BaseURL: closed.URL, ClientID: "c", ClientSecret: secret,
		Sleep: e.cfg.Sleep}, slogTo(e.logs))
	record(gone.Ping(ctx))

	// Whole tokens, and their signatures and leading bytes, must not appear
	// (a truncated echo of a token is still a leak).
	var secrets []string
	for _, tok := range rt.seen() {
		secrets = append(secrets, tok, tok[strings.LastIndex(tok, ".")+1:], tok[:60])
	}
	if len(secrets) < 6 {
		t.Fatalf("recorded only %d tokens; the test is not exercising the client", len(secrets)/3)
	}
	secrets = append(secrets, secret)
	logs := e.logs.String()
	if !strings.Contains(logs, "upstream request") {
		t.Fatal("no debug request lines were logged; the test checks nothing")
	}
	for _, s := range secrets {
		for _, err := range errs {
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", unwrapAll(err))} {
				if strings.Contains(text, s) {
					t.Errorf("error %q contains a secret or token", text)
				}
			}
		}
		if strings.Contains(logs, s) {
			t.Errorf("logs contain a secret or token:\n%s", logs)
		}
	}
}

// unwrapAll returns the innermost *upstream.Error of err, or err.
func unwrapAll(err error) any {
	var ue *upstream.Error
	if errors.As(err, &ue) {
		return *ue
	}
	return err
}
