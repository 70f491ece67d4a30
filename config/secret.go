package config

import (
	"fmt"
	"log/slog"
	"strconv"
)

// redacted is what a non-empty Secret prints as.
const redacted = "<secret>"

// Secret is a credential (bearer token, client secret, a URL that may carry
// a password). It prints with every fmt verb, logs through slog, and
// marshals to JSON, YAML and text as "<secret>", or as "" when empty, so that
// a Config can be printed or logged whole. Reveal returns the value.
type Secret string

// Reveal returns the secret value. Call it only where the value is handed to
// the component that uses it.
func (s Secret) Reveal() string { return string(s) }

// String returns "<secret>", or "" if s is empty.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString returns String quoted, for %#v.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Format implements fmt.Formatter so that no verb (%x, %q, %#v, ...) can
// print the value: %q and %#v print String quoted, every other verb prints
// String.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' || (verb == 'v' && f.Flag('#')) {
		fmt.Fprint(f, s.GoString())
		return
	}
	fmt.Fprint(f, s.String())
}

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText implements encoding.TextMarshaler, for encoders that use it.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// MarshalYAML implements yaml.Marshaler.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }
