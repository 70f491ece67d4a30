package logpii

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
)

// Mode is how personal data is logged.
type Mode int

const (
	// Hash logs the first 12 hex digits of the value's SHA-256, with a
	// "sha256:" prefix: stable across lines, processes and replicas, so
	// that an operator can correlate lines, and can check a known value
	// against it, without the log holding the value. It is the zero value.
	Hash Mode = iota
	// Full logs the value as it is.
	Full
	// Off leaves the attribute out of the line.
	Off
)

// Modes are the names ParseMode accepts, in documentation order.
var Modes = []string{"full", "hash", "off"}

// ParseMode reads "full", "hash" or "off".
func ParseMode(s string) (Mode, bool) {
	switch s {
	case "full":
		return Full, true
	case "hash":
		return Hash, true
	case "off":
		return Off, true
	}
	return Hash, false
}

// Value is a piece of personal data in a log attribute:
// slog.Any("user_name", logpii.Value(name)), or "user_name",
// logpii.Value(name) in a logging call's arguments.
type Value string

// LogValue implements slog.LogValuer: the hash, what a handler that does
// not apply a mode shows.
func (v Value) LogValue() slog.Value { return slog.StringValue(hashOf(string(v))) }

func hashOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// Handler returns a handler that renders each Value attribute of a record
// (in groups too, and in attributes added by WithAttrs) as mode says, then
// passes the record to h.
func Handler(h slog.Handler, mode Mode) slog.Handler {
	return &handler{next: h, mode: mode}
}

type handler struct {
	next slog.Handler
	mode Mode
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	changed := false
	r.Attrs(func(a slog.Attr) bool {
		_, c := h.render(a)
		changed = changed || c
		return !changed
	})
	if !changed {
		return h.next.Handle(ctx, r)
	}
	out := slog.NewRecord(r.Time, r.Level, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a, _ = h.render(a); !a.Equal(slog.Attr{}) {
			out.AddAttrs(a)
		}
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	out := make([]slog.Attr, 0, len(attrs))
	for _, a := range attrs {
		if a, _ = h.render(a); !a.Equal(slog.Attr{}) {
			out = append(out, a)
		}
	}
	return &handler{next: h.next.WithAttrs(out), mode: h.mode}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name), mode: h.mode}
}

// render applies the mode to a, returning the empty Attr to drop it, and
// reports whether a held a Value.
func (h *handler) render(a slog.Attr) (slog.Attr, bool) {
	switch a.Value.Kind() {
	case slog.KindLogValuer:
		v, ok := a.Value.Any().(Value)
		if !ok {
			return a, false
		}
		switch h.mode {
		case Full:
			return slog.String(a.Key, string(v)), true
		case Off:
			return slog.Attr{}, true
		}
		return slog.String(a.Key, hashOf(string(v))), true
	case slog.KindGroup:
		changed := false
		var group []slog.Attr
		for _, ga := range a.Value.Group() {
			ga, c := h.render(ga)
			changed = changed || c
			if !ga.Equal(slog.Attr{}) {
				group = append(group, ga)
			}
		}
		if !changed {
			return a, false
		}
		return slog.Attr{Key: a.Key, Value: slog.GroupValue(group...)}, true
	}
	return a, false
}
