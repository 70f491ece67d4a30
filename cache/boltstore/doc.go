// Package boltstore is the embedded cache.Store backend: one bbolt file, for
// a bridge that runs as a single process.
//
// Layout: per kind, a records bucket (id → creation sequence + JSON record),
// a name index (lower-cased name → id), an externalId index (externalId →
// id) and a creation-order index (zero-padded creation sequence + id → nil),
// whose sequence comes from the bucket's NextSequence. A group's members are
// not in its JSON record but in the kind's memberships bucket (group id +
// NUL + user id → nil), so Get reads them with a sorted prefix scan and
// UpdateMembers touches only the delta's keys and the small record. One
// membership bucket holds user id + NUL + group id keys, so GroupsOf is a
// prefix scan that comes out sorted. A meta bucket keeps the per-kind record count, so List
// reports Total without a scan. The audit bucket keys each entry by its
// time and a sequence (audit.go), so a time window is a range scan.
//
// bbolt serialises writers and gives readers a consistent snapshot. Update
// reads and runs its fn outside the write transaction, then writes only if
// the version is unchanged, so fn never runs while the file is locked for
// writing; it retries on a lost race.
//
// The file is opened with mode 0600 and an exclusive lock; a second process
// opening the same file gets ErrLocked after a timeout instead of hanging.
// A read-only open (Config.ReadOnly, for status) takes a shared lock, so it
// too is refused while a bridge has the file open.
package boltstore
