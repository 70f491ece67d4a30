package boltstore

import (
	"bytes"
	"errors"
	"log/slog"

	bolt "go.etcd.io/bbolt"

	"github.com/scim-bridge/scim-bridge/cache"
)

// extIDKey is the externalId index key of record id.
func extIDKey(ext, id string) []byte {
	return append(extIDPrefix(ext), id...)
}

func extIDPrefix(ext string) []byte {
	return append([]byte(ext), 0)
}

// moveExtID moves record id's externalId index entry from old to ext; an
// empty value has none.
func moveExtID(b buckets, id, old, ext string) error {
	if old == ext {
		return nil
	}
	if old != "" {
		if err := b.extIDs.Delete(extIDKey(old, id)); err != nil {
			return err
		}
	}
	if ext == "" {
		return nil
	}
	return b.extIDs.Put(extIDKey(ext, id), nil)
}

// findExtIDs returns the records of b whose externalId is ext, in creation
// order. A key of another externalId that happens to share the prefix (ext
// itself holding a NUL) is left out by comparing the record's own value.
func findExtIDs(b buckets, ext string) ([]cache.Record, error) {
	var all []cache.Found[uint64]
	seen := map[string]bool{}
	add := func(id string) error {
		if seen[id] {
			return nil
		}
		seen[id] = true
		seq, rec, err := getFull(b, id)
		switch {
		case errors.Is(err, cache.ErrNotFound):
			return nil // a dangling legacy entry
		case err != nil:
			return err
		case rec.ExternalID == ext:
			all = append(all, cache.Found[uint64]{Seq: seq, Rec: rec})
		}
		return nil
	}
	if ext == "" {
		return []cache.Record{}, nil
	}
	if b.extIDs != nil {
		prefix := extIDPrefix(ext)
		c := b.extIDs.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			if err := add(string(k[len(prefix):])); err != nil {
				return nil, err
			}
		}
	}
	if b.legacyExts != nil {
		if id := b.legacyExts.Get([]byte(ext)); id != nil {
			if err := add(string(id)); err != nil {
				return nil, err
			}
		}
	}
	return cache.InFindOrder(all), nil
}

// migrateExternalIDs moves every entry of a legacy unique externalId index
// (a file written before externalId could be shared) into the shared one,
// and drops the legacy bucket, in the open's transaction. An entry whose
// record is gone or no longer carries that externalId is dropped (the old
// code left none, but a stale one must not resurrect a match). It is
// idempotent: a migrated file has no legacy bucket left.
func migrateExternalIDs(tx *bolt.Tx, logger *slog.Logger) error {
	for _, kind := range []cache.Kind{cache.KindUser, cache.KindGroup} {
		legacy := tx.Bucket(legacyExtsBucket(kind))
		if legacy == nil {
			continue
		}
		b, err := writeBuckets(tx, kind)
		if err != nil {
			return err
		}
		moved := 0
		err = legacy.ForEach(func(k, v []byte) error {
			_, rec, err := getRecord(b, string(v))
			if errors.Is(err, cache.ErrNotFound) || (err == nil && rec.ExternalID != string(k)) {
				return nil
			}
			if err != nil {
				return err
			}
			moved++
			return b.extIDs.Put(extIDKey(string(k), string(v)), nil)
		})
		if err != nil {
			return err
		}
		if err := tx.DeleteBucket(legacyExtsBucket(kind)); err != nil {
			return err
		}
		logger.Info("mapping store: externalId index migrated to the shared layout", "kind", kind, "entries", moved)
	}
	return nil
}
