package boltstore

import (
	"bytes"
	"log/slog"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/scim-bridge/scim-bridge/cache"
)

// NewWithTimeout is New with the file-lock timeout chosen by the test.
func NewWithTimeout(cfg Config, logger *slog.Logger, timeout time.Duration) (*Store, error) {
	cfg.OpenTimeout = timeout
	return newStore(cfg, logger, options{})
}

// NewNoSync is New without an fsync per commit, for seeding benchmarks.
func NewNoSync(cfg Config, logger *slog.Logger) (*Store, error) {
	return newStore(cfg, logger, options{noSync: true})
}

// WriteLegacyExternalIDs rewrites the externalId index of the closed file at
// path into the layout of the versions before externalId could be shared
// (one bucket per kind, externalId → id), as such a version left it. Of
// records sharing an externalId, the legacy index can name only one: the
// last wins, as it would have been the only one.
func WriteLegacyExternalIDs(path string) error {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error {
		for _, kind := range []cache.Kind{cache.KindUser, cache.KindGroup} {
			cur := tx.Bucket(extIDsBucket(kind))
			if cur == nil {
				continue
			}
			legacy, err := tx.CreateBucketIfNotExists(legacyExtsBucket(kind))
			if err != nil {
				return err
			}
			err = cur.ForEach(func(k, _ []byte) error {
				ext, id, _ := bytes.Cut(k, []byte{0})
				return legacy.Put(ext, id)
			})
			if err != nil {
				return err
			}
			if err := tx.DeleteBucket(extIDsBucket(kind)); err != nil {
				return err
			}
		}
		return nil
	})
}

// HasLegacyExternalIDs reports whether the closed file at path still has a
// legacy externalId bucket.
func HasLegacyExternalIDs(path string) (bool, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		return false, err
	}
	defer db.Close()
	found := false
	err = db.View(func(tx *bolt.Tx) error {
		for _, kind := range []cache.Kind{cache.KindUser, cache.KindGroup} {
			found = found || tx.Bucket(legacyExtsBucket(kind)) != nil
		}
		return nil
	})
	return found, err
}
