package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/scim-bridge/scim-bridge/cache"
)

var _ cache.Store = (*Store)(nil)

// DefaultPrefix is the key prefix used when Config.Prefix is empty.
const DefaultPrefix = "scim-bridge"

// Config configures the Redis store.
type Config struct {
	// URL is a redis:// or rediss:// URL (see redis.ParseURL), used when
	// Client is nil. With a master_name query parameter it names Redis
	// Sentinels instead (see redis.ParseFailoverURL): the host and every
	// addr parameter are Sentinels, the user info authenticates to them,
	// and the client follows the master they elect. It may hold a
	// password; errors never repeat it. A min_replicas=N parameter sets
	// MinReplicas (and is not passed on to the client); with Sentinels it
	// defaults to 1.
	URL string
	// Prefix namespaces every key, as the hash tag {Prefix}. Empty means
	// DefaultPrefix. It must not contain '{' or '}'.
	Prefix string
	// Client, when set, is used instead of URL: a *redis.Client,
	// *redis.ClusterClient or failover client. The store does not close a
	// client it was given; it adds a hook to it that marks connection
	// failures as cache.ErrUnavailable. Zero value: nil, so URL is required.
	Client redis.UniversalClient
	// MinReplicas, when positive, makes every write wait (Redis WAIT) until
	// that many replicas have it, for at most ReplicaTimeout; a write they
	// do not confirm fails with cache.ErrUnavailable. Without it a write
	// the master acknowledged can vanish in a failover (the replica is
	// promoted before the write reached it) after the IdP was told 2xx.
	MinReplicas int
	// ReplicaTimeout bounds the wait for MinReplicas. Zero → 2s.
	ReplicaTimeout time.Duration
	// AuditRetention is how long audit entries are kept (cache.Audit).
	// Zero → cache.DefaultAuditRetention.
	AuditRetention time.Duration
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.ReplicaTimeout <= 0 {
		c.ReplicaTimeout = 2 * time.Second
	}
	if c.AuditRetention <= 0 {
		c.AuditRetention = cache.DefaultAuditRetention
	}
	return c
}

// Store is a cache.Store on Redis. It is safe for concurrent use by
// multiple goroutines and by multiple processes sharing the Redis.
type Store struct {
	client    redis.UniversalClient
	ownClient bool
	keys      keys
	logger    *slog.Logger
	lookups   *lookupBatcher
	// minReplicas and replicaTimeout: see Config.MinReplicas.
	minReplicas    int
	replicaTimeout time.Duration
	// auditRetention: see Config.AuditRetention.
	auditRetention time.Duration
}

// New returns a store on cfg.Client, or on a client for cfg.URL. It does not
// contact Redis; call Ping for that. A nil logger discards logs. New also
// sends go-redis's own log lines to logger, at warn level (logger.go).
func New(cfg Config, logger *slog.Logger) (*Store, error) {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	useLogger(logger)
	if strings.ContainsAny(cfg.Prefix, "{}") {
		return nil, fmt.Errorf("redisstore: prefix %q must not contain '{' or '}'", cfg.Prefix)
	}
	s := &Store{client: cfg.Client, keys: keys{"{" + cfg.Prefix + "}:"}, logger: logger,
		minReplicas: cfg.MinReplicas, replicaTimeout: cfg.ReplicaTimeout, auditRetention: cfg.AuditRetention}
	if s.client == nil {
		if cfg.URL == "" {
			return nil, errors.New("redisstore: URL or Client is required")
		}
		client, minReplicas, err := newClient(cfg.URL)
		if s.minReplicas == 0 {
			s.minReplicas = minReplicas
		}
		if err != nil {
			// url.Error repeats the URL, password included: keep only the cause.
			if ue := (*url.Error)(nil); errors.As(err, &ue) {
				err = ue.Err
			}
			return nil, fmt.Errorf("redisstore: invalid URL: %w", err)
		}
		s.client, s.ownClient = client, true
	}
	s.client.AddHook(unavailableHook{})
	s.lookups = newLookupBatcher(s.client)
	logger.Debug("mapping store configured", "backend", "redis", "prefix", cfg.Prefix)
	return s, nil
}

// newClient returns a client for a plain Redis URL, or a Sentinel-backed
// failover client when the URL has a master_name parameter, and the
// replicas every write must reach: the URL's min_replicas, else 1 with
// Sentinels (a failover must not lose an acknowledged write), else 0.
func newClient(rawURL string) (*redis.Client, int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, 0, err
	}
	q := u.Query()
	sentinel := q.Has("master_name")
	minReplicas := 0
	if sentinel {
		minReplicas = 1
	}
	if q.Has("min_replicas") {
		n, err := strconv.Atoi(q.Get("min_replicas"))
		if err != nil || n < 0 {
			return nil, 0, fmt.Errorf("min_replicas %q is not a count", q.Get("min_replicas"))
		}
		minReplicas = n
		q.Del("min_replicas")
		u.RawQuery = q.Encode()
		rawURL = u.String()
	}
	if sentinel {
		opts, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, 0, err
		}
		if opts.MasterName == "" {
			return nil, 0, errors.New("master_name is empty")
		}
		return redis.NewFailoverClient(opts), minReplicas, nil
	}
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, 0, err
	}
	return redis.NewClient(opts), minReplicas, nil
}

// write runs a write script and, with MinReplicas, waits until that many
// replicas have the write, in one pipeline so that WAIT follows the write
// on its connection. A write the replicas do not confirm in time is
// reported as cache.ErrUnavailable: it is on the master, but a failover
// could still lose it, so it must not be acknowledged.
func (s *Store) write(ctx context.Context, script *redis.Script, keys []string, args ...any) *redis.Cmd {
	if s.minReplicas <= 0 {
		return script.Run(ctx, s.client, keys, args...)
	}
	for loaded := false; ; loaded = true {
		pipe := s.client.Pipeline()
		cmd := pipe.EvalSha(ctx, script.Hash(), keys, args...)
		wait := pipe.Do(ctx, "WAIT", s.minReplicas, s.replicaTimeout.Milliseconds())
		_, _ = pipe.Exec(ctx)
		if err := cmd.Err(); err != nil {
			if !loaded && strings.HasPrefix(err.Error(), "NOSCRIPT") {
				if err := script.Load(ctx, s.client).Err(); err != nil {
					cmd.SetErr(err)
					return cmd
				}
				continue
			}
			return cmd
		}
		switch n, err := wait.Int(); {
		case err != nil:
			cmd.SetErr(fmt.Errorf("%w: wait for replicas: %w", errNotReplicated, err))
		case n < s.minReplicas:
			cmd.SetErr(fmt.Errorf("%w: the write reached %d of %d replicas within %v", errNotReplicated, n, s.minReplicas, s.replicaTimeout))
		}
		return cmd
	}
}

// errNotReplicated marks a write the master made but the replicas did not
// confirm: it is cache.ErrUnavailable to callers.
var errNotReplicated = fmt.Errorf("%w: write not confirmed by the replicas", cache.ErrUnavailable)

// Ping reports whether Redis answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("ping redis: %w", err)
	}
	return nil
}

// Close closes the client if New created it; a client passed in
// Config.Client is left open for its owner.
func (s *Store) Close() error {
	s.lookups.close()
	if n := s.lookups.calls.Load(); n > 0 {
		s.logger.Info("redis lookups pipelined", "lookups", n, "pipelines", s.lookups.batches.Load())
	}
	if !s.ownClient {
		return nil
	}
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("redisstore: close: %w", err)
	}
	return nil
}

// keys builds the store's keys; p is "{prefix}:".
type keys struct{ p string }

func (k keys) record(kind cache.Kind, id string) string {
	return k.p + "rec:" + string(kind) + ":" + id
}
func (k keys) order(kind cache.Kind) string    { return k.p + "order:" + string(kind) }
func (k keys) seq() string                     { return k.p + "seq" }
func (k keys) userGroups(userID string) string { return k.p + "ug:" + userID }

// name returns the name index key, or "" for an empty name (not indexed).
func (k keys) name(kind cache.Kind, name string) string {
	if name == "" {
		return ""
	}
	return k.p + "name:" + string(kind) + ":" + strings.ToLower(name)
}

// extIDs is the externalId index of one value: a sorted set of the ids of
// the records that carry it, scored by their creation sequence (the order
// key's score), so that it lists them in List's order. Several records may
// share an externalId. An empty externalId is never indexed: its key (the
// bare prefix) stays empty, and writes pass it only where a key is needed.
func (k keys) extIDs(kind cache.Kind, externalID string) string {
	return k.p + "extids:" + string(kind) + ":" + externalID
}

// legacyExt is where versions before externalId could be shared kept it,
// one string key per value naming one id; "" for an empty externalId.
// Nothing writes it any more: Find still reads it, and a write or delete
// of the record it names removes it (the record then lives in extIDs).
func (k keys) legacyExt(kind cache.Kind, externalID string) string {
	if externalID == "" {
		return ""
	}
	return k.p + "ext:" + string(kind) + ":" + externalID
}

// members is the set of a group's member ids, kept apart from the record
// hash so that a membership change does not rewrite the record. Only
// groups have one.
func (k keys) members(kind cache.Kind, id string) string {
	return k.p + "members:" + string(kind) + ":" + id
}

// LookupStats reports how many lookups the store has sent to Redis and in
// how many pipelines (see lookupBatcher): their ratio is the mean batch.
func (s *Store) LookupStats() (lookups, pipelines int64) {
	return s.lookups.calls.Load(), s.lookups.batches.Load()
}
