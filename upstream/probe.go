package upstream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
)

// ProbeToken requests a new access token with the client credentials,
// once: no retry, no cache (the cached token is left alone). It returns the
// scopes the token grants, from the token response's scope or else the
// access token's scope claim (a string or a list); nil when neither says.
//
// With allScopes it sends no scope parameter, which grants every scope the
// application has (IdentityServer's rule): what the configured scopes can
// be compared with when the token endpoint refuses them (invalid_scope).
// It is for diagnosis (check-config --probe); a failure is an *Error whose
// OAuthErrorCode may say why.
func (c *Client) ProbeToken(ctx context.Context, allScopes bool) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	scope := c.tokens.scope
	if allScopes {
		scope = ""
	}
	tok, err := c.tokens.fetchScope(ctx, scope)
	if err != nil {
		return nil, err
	}
	return tok.scopes, nil
}

// OAuthErrorCode returns the OAuth 2.0 error code (RFC 6749 §5.2, e.g.
// "invalid_client", "invalid_scope") of a failed token request in err, or
// "" if err is not one or names none.
func OAuthErrorCode(err error) string {
	var e *Error
	if !errors.As(err, &e) || e.Op != "get token" || e.StatusCode == 0 {
		return ""
	}
	// The OAuth error is Detail's last part: the code, then the
	// description (parseErrorBody).
	last := e.Detail[strings.LastIndex(e.Detail, "; ")+1:]
	code, _, _ := strings.Cut(strings.TrimSpace(last), " ")
	if code == "" || strings.ContainsFunc(code, func(r rune) bool { return !(r == '_' || r >= 'a' && r <= 'z') }) {
		return ""
	}
	return code
}

// jwtScopes returns the scope claim of a JWT, unverified: a space-separated
// string or a list of strings (IdentityServer's form); nil if absent.
func jwtScopes(jwt string) []string {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil
	}
	var claims struct {
		Scope json.RawMessage `json:"scope"`
	}
	if json.Unmarshal(payload, &claims) != nil || len(claims.Scope) == 0 {
		return nil
	}
	var s string
	if json.Unmarshal(claims.Scope, &s) == nil {
		return strings.Fields(s)
	}
	var list []string
	if json.Unmarshal(claims.Scope, &list) == nil {
		return list
	}
	return nil
}
