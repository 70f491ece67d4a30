package upstream

import (
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"testing"
)

func scopeJWT(payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc([]byte(payload)) + ".sig"
}

// TestJWTScopes: the scope claim as a string (the emulator's) or a list
// (IdentityServer's); nil when absent or not a JWT.
func TestJWTScopes(t *testing.T) {
	tests := []struct {
		name string
		tok  string
		want []string
	}{
		{"string", scopeJWT(`{"scope":"PM.User PM.Group"}`), []string{"PM.User", "PM.Group"}},
		{"list", scopeJWT(`{"scope":["PM.User.Read","PM.Group"]}`), []string{"PM.User.Read", "PM.Group"}},
		{"absent", scopeJWT(`{"sub":"x"}`), nil},
		{"opaque token", "not-a-jwt", nil},
	}
	for _, tt := range tests {
		if got := jwtScopes(tt.tok); !slices.Equal(got, tt.want) {
			t.Errorf("%s: jwtScopes = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestOAuthErrorCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"invalid_client", &Error{Op: "get token", StatusCode: 400, Detail: "invalid_client"}, "invalid_client"},
		{"with description", &Error{Op: "get token", StatusCode: 400, Detail: "invalid_scope The scope PM.Group is not allowed"}, "invalid_scope"},
		{"after other parts", &Error{Op: "get token", StatusCode: 400, Detail: "Bad Request; invalid_client"}, "invalid_client"},
		{"transport", &Error{Op: "get token", Err: errors.New("connection refused")}, ""},
		{"API call", &Error{Op: "list groups", StatusCode: http.StatusForbidden, Detail: "forbidden"}, ""},
		{"prose", &Error{Op: "get token", StatusCode: 500, Detail: "Internal Server Error"}, ""},
		{"not an Error", errors.New("x"), ""},
	}
	for _, tt := range tests {
		if got := OAuthErrorCode(tt.err); got != tt.want {
			t.Errorf("%s: OAuthErrorCode = %q, want %q", tt.name, got, tt.want)
		}
	}
}
