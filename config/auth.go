package config

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MinTokenLength is the shortest static bearer token Validate accepts:
// 32 characters (a token given as its SHA-256 hash is exempt, its length
// unknown).
const MinTokenLength = 32

// MinSigningKeyLength is the shortest OAuthSigningKey Validate accepts, in
// bytes (RFC 7518 §3.2: a key at least as long as the HMAC-SHA256 output).
const MinSigningKeyLength = 32

// callerName is the syntax of a caller name: a token's or an OAuth client's
// name, or OIDCName. Names are metric label values and log fields.
var callerName = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// ValidCallerName reports whether name may name a caller.
func ValidCallerName(name string) bool { return callerName.MatchString(name) }

// Token is one static IdP bearer token entry, parsed.
type Token struct {
	// Name is the caller name: the entry's, or "token-N" for an entry
	// without one, N its position.
	Name string
	// Value is the token; empty when the entry gives its hash only.
	Value Secret
	// SHA256 is the token's SHA-256 digest, computed from Value or as the
	// entry gives it.
	SHA256 [sha256.Size]byte
}

// ParseToken parses one entry of SCIM_BRIDGE_TOKENS or a line of
// SCIM_BRIDGE_TOKENS_FILE: "token", "name:token", "name:sha256:<64 hex>" or
// "sha256:<64 hex>"; an entry without a name is named "token-<pos>". It
// checks the syntax and a token's length. Its errors never quote the
// token or the hash.
func ParseToken(entry string, pos int) (Token, error) {
	t := Token{Name: "token-" + strconv.Itoa(pos)}
	rest := entry
	if name, after, ok := strings.Cut(entry, ":"); ok && callerName.MatchString(name) && name != "sha256" {
		t.Name, rest = name, after
	}
	if rest == "" {
		return t, fmt.Errorf("%s: empty token", t.Name)
	}
	if h, ok := strings.CutPrefix(rest, "sha256:"); ok {
		d, err := hex.DecodeString(h)
		if err != nil || len(d) != sha256.Size {
			return t, fmt.Errorf("%s: the hash after sha256: is not 64 hex digits", t.Name)
		}
		copy(t.SHA256[:], d)
		return t, nil
	}
	if n := len(rest); n < MinTokenLength {
		return t, fmt.Errorf("%s: the token has %d characters, fewer than %d (make one with openssl rand -hex 32)", t.Name, n, MinTokenLength)
	}
	t.Value = Secret(rest)
	t.SHA256 = sha256.Sum256([]byte(rest))
	return t, nil
}

// ParseTokensFile parses the content of a tokens file: one entry a line
// (ParseToken), blank lines and lines starting with # ignored. Unnamed
// entries are numbered from first on. It reports every bad line, by line
// number, never quoting it.
func ParseTokensFile(data []byte, first int) ([]Token, error) {
	var out []Token
	var errs []error
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		t, err := ParseToken(s, first+len(out))
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %w", line, err))
			continue
		}
		out = append(out, t)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, errors.New("a line is longer than 1 MiB"))
	}
	return out, errors.Join(errs...)
}

// IdPTokens returns every static bearer token the configuration names:
// Tokens' entries, then TokensFile's (read now), unnamed entries numbered
// across both. Names must be unique, also against the OAuth clients and
// OIDCName. It reports every problem at once, each error starting with the
// variable it concerns, never quoting a token.
func (c Config) IdPTokens() ([]Token, error) {
	var out []Token
	var errs []error
	for i, s := range c.Tokens {
		t, err := ParseToken(strings.TrimSpace(s.Reveal()), i+1)
		if err != nil {
			errs = append(errs, fmt.Errorf("%sTOKENS: entry %d: %w", EnvPrefix, i+1, err))
			continue
		}
		out = append(out, t)
	}
	if c.TokensFile != "" {
		data, err := os.ReadFile(c.TokensFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("%sTOKENS_FILE: %w", EnvPrefix, err))
		} else {
			ts, err := ParseTokensFile(data, len(c.Tokens)+1)
			if err != nil {
				errs = append(errs, fmt.Errorf("%sTOKENS_FILE %s: %w", EnvPrefix, c.TokensFile, err))
			}
			if len(ts) == 0 && err == nil {
				errs = append(errs, fmt.Errorf("%sTOKENS_FILE %s: no token in the file", EnvPrefix, c.TokensFile))
			}
			out = append(out, ts...)
		}
	}
	seen := c.otherCallers()
	for _, t := range out {
		if other, dup := seen[t.Name]; dup {
			errs = append(errs, fmt.Errorf("%sTOKENS: the name %q is used twice (also %s)", EnvPrefix, t.Name, other))
			continue
		}
		seen[t.Name] = "a token"
	}
	return out, errors.Join(errs...)
}

// otherCallers are the caller names besides static tokens: the OAuth
// clients' ids and, with an issuer, OIDCName; each with what it names.
func (c Config) otherCallers() map[string]string {
	names := make(map[string]string)
	if c.OIDCIssuer != "" {
		names[c.OIDCName] = EnvPrefix + "OIDC_NAME"
	}
	for _, e := range c.OAuthClients {
		if cl, err := ParseOAuthClient(e.Reveal()); err == nil {
			names[cl.ID] = "an OAuth client"
		}
	}
	return names
}

// OAuthClient is one entry of OAuthClients, parsed.
type OAuthClient struct {
	// ID is the client_id, and the caller name.
	ID string
	// SecretSHA256 is the SHA-256 digest of the client secret.
	SecretSHA256 [sha256.Size]byte
}

// ParseOAuthClient parses "client_id:sha256:<64 hex>". Its errors never
// quote the hash.
func ParseOAuthClient(entry string) (OAuthClient, error) {
	var cl OAuthClient
	id, rest, ok := strings.Cut(strings.TrimSpace(entry), ":")
	if !ok || !callerName.MatchString(id) {
		return cl, errors.New("an entry is client_id:sha256:<hex SHA-256 of the secret>, the id of letters, digits, '.', '_' and '-'")
	}
	cl.ID = id
	h, ok := strings.CutPrefix(rest, "sha256:")
	d, err := hex.DecodeString(h)
	if !ok || err != nil || len(d) != sha256.Size {
		return cl, fmt.Errorf("%s: want %s:sha256:<64 hex digits, the SHA-256 of the client secret> (client secrets are kept hashed only)", id, id)
	}
	copy(cl.SecretSHA256[:], d)
	return cl, nil
}

// OAuthClientList parses every entry of OAuthClients; Validate has
// reported the bad ones.
func (c Config) OAuthClientList() ([]OAuthClient, error) {
	var out []OAuthClient
	var errs []error
	seen := make(map[string]bool)
	for i, e := range c.OAuthClients {
		cl, err := ParseOAuthClient(e.Reveal())
		if err != nil {
			errs = append(errs, fmt.Errorf("%sOAUTH_CLIENTS: entry %d: %w", EnvPrefix, i+1, err))
			continue
		}
		if seen[cl.ID] {
			errs = append(errs, fmt.Errorf("%sOAUTH_CLIENTS: client %q is given twice", EnvPrefix, cl.ID))
			continue
		}
		seen[cl.ID] = true
		out = append(out, cl)
	}
	return out, errors.Join(errs...)
}

// formatOAuthClients prints each client's id with its hash redacted.
func formatOAuthClients(list []Secret) string {
	parts := make([]string, len(list))
	for i, e := range list {
		if cl, err := ParseOAuthClient(e.Reveal()); err == nil {
			parts[i] = cl.ID + ":sha256:" + redacted
		} else {
			parts[i] = e.String()
		}
	}
	return strings.Join(parts, ",")
}

// parseClaims parses "name=value,name=value" (empty items ignored).
func parseClaims(v string) (map[string]string, error) {
	m := make(map[string]string)
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item == "" {
			continue
		}
		k, val, ok := strings.Cut(item, "=")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		switch {
		case !ok || k == "" || val == "":
			return nil, fmt.Errorf("%q: want claim=value", item)
		case m[k] != "":
			return nil, fmt.Errorf("%q: claim %s given twice (one value per claim)", item, k)
		}
		m[k] = val
	}
	return m, nil
}

// formatClaims prints claims sorted by name in parseClaims' syntax.
func formatClaims(m map[string]string) string {
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

// validateAuth is Validate's part about the IdPs' credentials.
func (c Config) validateAuth(fail func(name, format string, args ...any)) []error {
	var errs []error
	if len(c.Tokens) == 0 && c.TokensFile == "" && c.OIDCIssuer == "" && len(c.OAuthClients) == 0 {
		errs = append(errs, errors.New("no IdP authentication: set "+EnvPrefix+"TOKENS, "+EnvPrefix+"TOKENS_FILE, "+EnvPrefix+"OAUTH_CLIENTS or "+EnvPrefix+"OIDC_ISSUER"))
	}
	for i, t := range c.Tokens {
		if strings.TrimSpace(t.Reveal()) == "" {
			fail("TOKENS", "token %d is empty", i+1)
		}
	}
	var nonEmpty Config = c
	nonEmpty.Tokens = slices.DeleteFunc(slices.Clone(c.Tokens), func(s Secret) bool { return strings.TrimSpace(s.Reveal()) == "" })
	tokens, err := nonEmpty.IdPTokens()
	if err != nil {
		errs = append(errs, err)
	}
	idp := make(map[[sha256.Size]byte]bool, len(tokens))
	for _, t := range tokens {
		idp[t.SHA256] = true
	}
	for i, t := range c.AdminTokens {
		switch {
		case strings.TrimSpace(t.Reveal()) == "":
			fail("ADMIN_TOKENS", "token %d is empty", i+1)
		case idp[sha256.Sum256([]byte(t.Reveal()))]:
			fail("ADMIN_TOKENS", "token %d is also in %sTOKENS: an IdP's token must not open the admin API", i+1, EnvPrefix)
		case len(t.Reveal()) < MinTokenLength:
			// The admin API reads the audit log (names) and starts
			// reconciliation passes: its tokens are held to the IdPs' rule.
			fail("ADMIN_TOKENS", "token %d has %d characters, fewer than %d (make one with openssl rand -hex 32)", i+1, len(t.Reveal()), MinTokenLength)
		}
	}

	switch {
	case c.OIDCIssuer != "":
		if !isHTTPURL(c.OIDCIssuer) {
			fail("OIDC_ISSUER", "%q is not an http(s) URL", c.OIDCIssuer)
		}
		if c.OIDCAudience == "" {
			fail("OIDC_AUDIENCE", "required with %sOIDC_ISSUER (otherwise tokens the issuer made for any application would be accepted)", EnvPrefix)
		}
		if !callerName.MatchString(c.OIDCName) {
			fail("OIDC_NAME", "%q: want letters, digits, '.', '_' and '-'", c.OIDCName)
		}
	case c.OIDCAudience != "":
		fail("OIDC_AUDIENCE", "set without %sOIDC_ISSUER", EnvPrefix)
	case len(c.OIDCRequiredClaims) > 0:
		fail("OIDC_REQUIRED_CLAIMS", "set without %sOIDC_ISSUER", EnvPrefix)
	}

	clients, err := c.OAuthClientList()
	if err != nil {
		errs = append(errs, err)
	}
	for _, cl := range clients {
		if c.OIDCIssuer != "" && cl.ID == c.OIDCName {
			fail("OAUTH_CLIENTS", "client %q has the name of %sOIDC_NAME", cl.ID, EnvPrefix)
		}
	}
	if len(c.OAuthClients) > 0 && (c.OAuthTokenTTL < time.Minute || c.OAuthTokenTTL > 24*time.Hour) {
		fail("OAUTH_TOKEN_TTL", "%v: want from 1m to 24h", c.OAuthTokenTTL)
	}
	switch k := c.OAuthSigningKey.Reveal(); {
	case k != "" && len(k) < MinSigningKeyLength:
		fail("OAUTH_SIGNING_KEY", "%d bytes, fewer than %d (make one with openssl rand -hex 32)", len(k), MinSigningKeyLength)
	case k == "" && len(c.OAuthClients) > 0 && c.RedisURL != "":
		fail("OAUTH_SIGNING_KEY", "required with %sOAUTH_CLIENTS and %sREDIS_URL: every replica must verify the tokens the others issue", EnvPrefix, EnvPrefix)
	}
	return errs
}
