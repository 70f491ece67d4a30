package cache

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DoubtKey is a doubt's resource as one string, "kind:id", the key both
// stores file it under.
func DoubtKey(kind Kind, id string) string { return string(kind) + ":" + id }

// EncodeDoubt is the stored value of a doubt: "since due owned", times in
// Unix milliseconds, owned 0 or 1. Stores keep this form so that a Lua
// script can merge and compare doubts without JSON.
func EncodeDoubt(d Doubt) string {
	owned := "0"
	if d.Owned {
		owned = "1"
	}
	return strconv.FormatInt(d.Since.UnixMilli(), 10) + " " + strconv.FormatInt(d.Due.UnixMilli(), 10) + " " + owned
}

// DecodeDoubt reads a doubt stored under key by EncodeDoubt.
func DecodeDoubt(key, value string) (Doubt, error) {
	kind, id, ok := strings.Cut(key, ":")
	f := strings.Fields(value)
	if !ok || len(f) != 3 {
		return Doubt{}, fmt.Errorf("doubt %q: malformed value %q", key, value)
	}
	since, err1 := strconv.ParseInt(f[0], 10, 64)
	due, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return Doubt{}, fmt.Errorf("doubt %q: malformed value %q", key, value)
	}
	return Doubt{Kind: Kind(kind), ID: id, Since: time.UnixMilli(since).UTC(), Due: time.UnixMilli(due).UTC(), Owned: f[2] == "1"}, nil
}

// MergeDoubt is the rule AddDoubt applies when the resource already has a
// doubt: the later Since, the earlier Due, Owned if either is.
func MergeDoubt(old, d Doubt) Doubt {
	if old.Since.After(d.Since) {
		d.Since = old.Since
	}
	if old.Due.Before(d.Due) {
		d.Due = old.Due
	}
	d.Owned = d.Owned || old.Owned
	return d
}

// Truncate returns d with its times cut to the millisecond, as stored.
func (d Doubt) Truncate() Doubt {
	d.Since = time.UnixMilli(d.Since.UnixMilli()).UTC()
	d.Due = time.UnixMilli(d.Due.UnixMilli()).UTC()
	return d
}
