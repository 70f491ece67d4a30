package scim

import "github.com/coreos/go-oidc/v3/oidc"

// SetVerifier installs v as s's OIDC verifier, so tests can sign their own
// tokens instead of running OIDC discovery. Call it before serving.
func SetVerifier(s *Server, v *oidc.IDTokenVerifier) { s.auth.withVerifier(v) }
