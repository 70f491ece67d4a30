package boltstore

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/scim-bridge/scim-bridge/cache"
)

var _ cache.Store = (*Store)(nil)

// defaultOpenTimeout is how long New waits for the file lock held by another
// process before it gives up.
const defaultOpenTimeout = 5 * time.Second

// ErrLocked is wrapped by the error New returns when another process held
// the file (a running scim-bridge) for the whole of Config.OpenTimeout.
var ErrLocked = errors.New("boltstore: file is locked by another process")

// Config configures the embedded store.
type Config struct {
	// Path is the database file; its directory is created (mode 0700) if
	// missing, the file with mode 0600. Required: the zero value is
	// rejected by New.
	Path string
	// OpenTimeout is how long New waits for the file lock another process
	// holds before it fails with ErrLocked. Zero → 5s.
	OpenTimeout time.Duration
	// ReadOnly opens an existing file for reading only, under a shared
	// lock: beside other readers, but not beside a process that has it
	// open for writing (New then fails with ErrLocked after OpenTimeout).
	// Nothing is created: a missing file is an error that wraps
	// fs.ErrNotExist. Every write fails. Zero value: read-write.
	ReadOnly bool
	// AuditRetention is how long audit entries are kept (cache.Audit).
	// Zero → cache.DefaultAuditRetention.
	AuditRetention time.Duration
}

func (c Config) withDefaults() Config {
	if c.OpenTimeout <= 0 {
		c.OpenTimeout = defaultOpenTimeout
	}
	if c.AuditRetention <= 0 {
		c.AuditRetention = cache.DefaultAuditRetention
	}
	return c
}

// Store is a cache.Store on a bbolt file. It is safe for concurrent use by
// multiple goroutines of one process; the file lock keeps other processes
// out.
type Store struct {
	db     *bolt.DB
	logger *slog.Logger
	// auditRetention: see Config.AuditRetention.
	auditRetention time.Duration
}

// options are the test seams of newStore.
type options struct {
	noSync bool // skip fsync per commit: benchmarks only
}

// New opens (creating if needed, unless cfg.ReadOnly) the store file at
// cfg.Path. It fails with ErrLocked after cfg.OpenTimeout if another
// process holds the file open. A nil logger discards logs.
func New(cfg Config, logger *slog.Logger) (*Store, error) {
	return newStore(cfg, logger, options{})
}

// fixedBuckets are the buckets every store file has: a read-write open
// creates them, a read-only one needs them.
var fixedBuckets = []string{bucketMembers, bucketMeta, bucketPending, bucketPendingUsers, bucketFailures}

func newStore(cfg Config, logger *slog.Logger, opts options) (*Store, error) {
	cfg = cfg.withDefaults()
	if cfg.Path == "" {
		return nil, errors.New("boltstore: Path is required")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if !cfg.ReadOnly {
		if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o700); err != nil {
			return nil, fmt.Errorf("boltstore: create directory: %w", err)
		}
	}
	var opening atomic.Bool
	opening.Store(true)
	db, err := bolt.Open(cfg.Path, 0o600, &bolt.Options{Timeout: cfg.OpenTimeout, NoSync: opts.noSync, ReadOnly: cfg.ReadOnly,
		Logger: boltLogger{log: logger, opening: &opening}})
	opening.Store(false)
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: open %s: %w (another scim-bridge running?)", cfg.Path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("boltstore: open %s: %w", cfg.Path, err)
	}
	// Concurrent writes share one transaction and one fsync (db.Batch); a
	// lone write waits at most this long for company.
	db.MaxBatchDelay = 2 * time.Millisecond
	if cfg.ReadOnly {
		err = db.View(func(tx *bolt.Tx) error {
			for _, name := range fixedBuckets {
				if tx.Bucket([]byte(name)) == nil {
					return fmt.Errorf("no %s bucket (the file was never opened for writing by this version)", name)
				}
			}
			return nil
		})
	} else {
		err = db.Update(func(tx *bolt.Tx) error {
			for _, name := range fixedBuckets {
				if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
					return err
				}
			}
			return migrateExternalIDs(tx, logger)
		})
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("boltstore: init %s: %w", cfg.Path, err)
	}
	logger.Debug("mapping store opened", "backend", "bolt", "path", cfg.Path, "read_only", cfg.ReadOnly)
	return &Store{db: db, logger: logger, auditRetention: cfg.AuditRetention}, nil
}

// Ping reports whether the database is open and readable.
func (s *Store) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.db.View(func(*bolt.Tx) error { return nil }); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Close closes the database file and releases its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("boltstore: close: %w", err)
	}
	return nil
}

// Bucket names. Per-kind buckets are created by the first write of a kind;
// a read of a kind never written finds nothing.
const (
	bucketMembers = "members" // user id + NUL + group id → nil (GroupsOf)
	bucketMeta    = "meta"    // "count/<kind>" → uint64 big-endian
)

func recordsBucket(kind cache.Kind) []byte { return []byte("records/" + kind) }
func namesBucket(kind cache.Kind) []byte   { return []byte("names/" + kind) }

// extIDsBucket is a kind's externalId index, externalId + NUL + id → nil:
// several records may share an externalId, and a prefix scan finds them
// all.
func extIDsBucket(kind cache.Kind) []byte { return []byte("extids/" + kind) }

// legacyExtsBucket is where files written before externalId stopped being
// unique kept it, externalId → id. A read-write open moves its entries to
// extIDsBucket and drops it (migrateExternalIDs); a read-only open of such
// a file reads both.
func legacyExtsBucket(kind cache.Kind) []byte { return []byte("exts/" + kind) }

func orderBucket(kind cache.Kind) []byte { return []byte("order/" + kind) }
func countKey(kind cache.Kind) []byte    { return []byte("count/" + kind) }

// membershipsBucket holds a kind's member entries, group id + NUL + user id
// → nil, apart from the record JSON so that a membership change does not
// rewrite the record; a prefix scan yields a group's members sorted.
func membershipsBucket(kind cache.Kind) []byte { return []byte("memberships/" + kind) }

// buckets are the per-kind buckets of one transaction. In a read
// transaction any of them may be nil.
type buckets struct {
	records, names, extIDs, order, memberships *bolt.Bucket
	// legacyExts is the old unique externalId index; nil except in a
	// read-only transaction on a file never migrated.
	legacyExts *bolt.Bucket
}

func readBuckets(tx *bolt.Tx, kind cache.Kind) buckets {
	return buckets{
		records: tx.Bucket(recordsBucket(kind)),
		names:   tx.Bucket(namesBucket(kind)),
		extIDs:  tx.Bucket(extIDsBucket(kind)),
		order:   tx.Bucket(orderBucket(kind)),

		memberships: tx.Bucket(membershipsBucket(kind)),
		legacyExts:  tx.Bucket(legacyExtsBucket(kind)),
	}
}

func writeBuckets(tx *bolt.Tx, kind cache.Kind) (buckets, error) {
	var b buckets
	for _, p := range []struct {
		dst  **bolt.Bucket
		name []byte
	}{
		{&b.records, recordsBucket(kind)},
		{&b.names, namesBucket(kind)},
		{&b.extIDs, extIDsBucket(kind)},
		{&b.order, orderBucket(kind)},
		{&b.memberships, membershipsBucket(kind)},
	} {
		bk, err := tx.CreateBucketIfNotExists(p.name)
		if err != nil {
			return buckets{}, err
		}
		*p.dst = bk
	}
	return b, nil
}

// count returns the number of records of kind.
func count(tx *bolt.Tx, kind cache.Kind) int {
	v := tx.Bucket([]byte(bucketMeta)).Get(countKey(kind))
	if len(v) != 8 {
		return 0
	}
	return int(binary.BigEndian.Uint64(v))
}

func addCount(tx *bolt.Tx, kind cache.Kind, delta int) error {
	n := uint64(count(tx, kind) + delta)
	return tx.Bucket([]byte(bucketMeta)).Put(countKey(kind), binary.BigEndian.AppendUint64(nil, n))
}
