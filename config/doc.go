// Package config loads the bridge's configuration from environment variables
// and an optional YAML file, fills defaults, and validates the result.
//
// Every setting has an environment variable named SCIM_BRIDGE_<KEY>; the
// YAML file uses the same keys lower-cased and without the prefix
// (SCIM_BRIDGE_UIPATH_CLIENT_SECRET is uipath_client_secret). The file is
// named by SCIM_BRIDGE_CONFIG or passed to Load. An environment variable that
// is set and non-empty overrides the file; an empty variable counts as unset.
// List values may be written in the file as YAML sequences (tokens,
// admin_tokens, uipath_scopes) and the budget as a mapping (uipath_budget: {GET: 300}).
//
// Load reports every value it cannot parse; Validate reports every failed
// check at once, so one run of `scim-bridge check-config` shows all the
// problems. Entries lists each setting with its effective value for
// check-config, in the order of Config's fields.
//
// Credentials are held as Secret, which prints, logs and marshals as
// "<secret>"; only Secret.Reveal returns the value. Error messages never
// contain a secret. Entries shows a URL with only its password redacted
// (RedactURL). Every secret setting made with secret or secrets (except
// the IdP tokens, whose SCIM_BRIDGE_TOKENS_FILE is a file of its own) can
// also be read from a file named by SCIM_BRIDGE_<KEY>_FILE, or <key>_file
// in the YAML file (files.go).
//
// UnknownVars names the SCIM_BRIDGE_ variables of an environment that no
// setting reads, for check-config's and serve's warnings.
//
// Only package main and tests import config: library packages take their
// own Config structs (see STYLE.md §1).
package config
