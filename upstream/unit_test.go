package upstream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func fakeJWT(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(b) + "." + enc([]byte("signature"))
}

func TestJWTStringClaim(t *testing.T) {
	const org = "bc2ddac5-57bc-40e6-93fe-3b319b60ce36"
	padded := fakeJWT(t, map[string]any{"prt_id": org, "sub": "x"})
	parts := strings.Split(padded, ".")
	for len(parts[1])%4 != 0 {
		parts[1] += "="
	}
	tests := []struct {
		name    string
		token   string
		want    string
		wantErr bool
	}{
		{name: "claim present", token: fakeJWT(t, map[string]any{"prt_id": org}), want: org},
		{name: "padded payload", token: strings.Join(parts, "."), want: org},
		{name: "claim missing", token: fakeJWT(t, map[string]any{"sub": "x"}), wantErr: true},
		{name: "claim not a string", token: fakeJWT(t, map[string]any{"prt_id": 7}), wantErr: true},
		{name: "claim empty", token: fakeJWT(t, map[string]any{"prt_id": ""}), wantErr: true},
		{name: "opaque token", token: "opaque-secret-token", wantErr: true},
		{name: "bad base64", token: "a.!!!.c", wantErr: true},
		{name: "not json", token: "a." + base64.RawURLEncoding.EncodeToString([]byte("nope")) + ".c", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := jwtStringClaim(tt.token, "prt_id")
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("jwtStringClaim = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error %q contains the token", err)
			}
		})
	}
}

func TestRenewMargin(t *testing.T) {
	tests := []struct {
		lifetime, want time.Duration
	}{
		{time.Hour, time.Minute},
		{5 * time.Minute, 30 * time.Second},
		{10 * time.Second, time.Second},
	}
	for _, tt := range tests {
		if got := renewMargin(tt.lifetime); got != tt.want {
			t.Errorf("renewMargin(%v) = %v, want %v", tt.lifetime, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	const base, limit = 200 * time.Millisecond, 30 * time.Second
	tests := []struct {
		attempt int
		r       float64
		want    time.Duration
	}{
		{attempt: 1, r: 0, want: 100 * time.Millisecond},
		{attempt: 1, r: 0.5, want: 150 * time.Millisecond},
		{attempt: 2, r: 0, want: 200 * time.Millisecond},
		{attempt: 3, r: 0.999999, want: 800 * time.Millisecond},
		{attempt: 20, r: 0, want: 15 * time.Second},
		{attempt: 1000, r: 0.999999999, want: 30 * time.Second},
	}
	for _, tt := range tests {
		got := backoff(tt.attempt, base, limit, tt.r)
		if d := got - tt.want; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("backoff(%d, r=%v) = %v, want %v", tt.attempt, tt.r, got, tt.want)
		}
		if got > limit {
			t.Errorf("backoff(%d) = %v exceeds the cap %v", tt.attempt, got, limit)
		}
	}
}

func TestUnmarshalEnums(t *testing.T) {
	tests := []struct {
		name         string
		body         string
		wantType     int
		wantCategory int
	}{
		{name: "numbers", body: `{"id":"1","type":1,"category":2}`, wantType: 1, wantCategory: 2},
		{name: "names", body: `{"id":"1","type":"DirectoryUser","category":"linkedLocal"}`, wantType: 2, wantCategory: 1},
		{name: "numeric strings", body: `{"id":"1","type":"4","category":"0"}`, wantType: 4},
		{name: "nulls", body: `{"id":"1","type":null,"category":null}`},
		{name: "unknown name", body: `{"id":"1","type":"Alien"}`, wantType: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var u User
			if err := json.Unmarshal([]byte(tt.body), &u); err != nil {
				t.Fatal(err)
			}
			if u.ID != "1" || u.Type != tt.wantType || u.Category != tt.wantCategory {
				t.Errorf("got id %q type %d category %d, want 1 %d %d", u.ID, u.Type, u.Category, tt.wantType, tt.wantCategory)
			}
		})
	}
	var g Group
	if err := json.Unmarshal([]byte(`{"id":"g","name":"Everyone","type":"Custom"}`), &g); err != nil || g.Type != GroupTypeCustom || g.Name != "Everyone" {
		t.Errorf("group = %+v, %v", g, err)
	}
	var m MemberRef
	if err := json.Unmarshal([]byte(`{"id":"m","type":"Robot"}`), &m); err != nil || m.Type != UserTypeRobot || m.ID != "m" {
		t.Errorf("member = %+v, %v", m, err)
	}
	if err := json.Unmarshal([]byte(`{"type":{}}`), &m); err == nil {
		t.Error("an object as type decoded without error")
	}
}

func TestConfigValidate(t *testing.T) {
	_, err := New(Config{BaseURL: "ftp://x", TokenURL: "https://u:p@h/t", ClientSecret: "s3cr3t-value"}, nil)
	if err == nil {
		t.Fatal("New accepted an invalid config")
	}
	for _, want := range []string{"base URL", "token URL", "client ID"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "s3cr3t-value") {
		t.Errorf("error %q contains the secret", err)
	}
	if _, err := New(Config{BaseURL: "https://cloud.example/acme/identity_/", ClientID: "id", ClientSecret: "s"}, nil); err != nil {
		t.Fatalf("New rejected a valid config: %v", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg := Config{BaseURL: "https://h/acme/identity_/", ClientID: "id", ClientSecret: "s"}.withDefaults()
	if cfg.TokenURL != "https://h/acme/identity_/connect/token" {
		t.Errorf("TokenURL = %q", cfg.TokenURL)
	}
	if cfg.Timeout != DefaultTimeout || cfg.MaxAttempts != DefaultMaxAttempts || cfg.MaxRetryWait != DefaultMaxRetryWait {
		t.Errorf("defaults not applied: %+v", cfg)
	}
	if strings.Join(cfg.Scopes, " ") != "PM.User PM.Group" {
		t.Errorf("Scopes = %q", cfg.Scopes)
	}
	if cfg.HTTPClient == nil || cfg.Now == nil || cfg.Sleep == nil {
		t.Error("HTTPClient, Now or Sleep not defaulted")
	}
}

func TestSleepCtx(t *testing.T) {
	if err := sleepCtx(t.Context(), time.Nanosecond); err != nil {
		t.Errorf("sleepCtx = %v, want nil", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := sleepCtx(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleepCtx(cancelled) = %v, want context.Canceled", err)
	}
}
