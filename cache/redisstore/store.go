package redisstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

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
	// password; errors never repeat it.
	URL string
	// Prefix namespaces every key, as the hash tag {Prefix}. Empty means
	// DefaultPrefix. It must not contain '{' or '}'.
	Prefix string
	// Client, when set, is used instead of URL: a *redis.Client,
	// *redis.ClusterClient or failover client. The store does not close a
	// client it was given; it adds a hook to it that marks connection
	// failures as cache.ErrUnavailable. Zero value: nil, so URL is required.
	Client redis.UniversalClient
}

func (c Config) withDefaults() Config {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
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
}

// New returns a store on cfg.Client, or on a client for cfg.URL. It does not
// contact Redis; call Ping for that. A nil logger discards logs.
func New(cfg Config, logger *slog.Logger) (*Store, error) {
	cfg = cfg.withDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if strings.ContainsAny(cfg.Prefix, "{}") {
		return nil, fmt.Errorf("redisstore: prefix %q must not contain '{' or '}'", cfg.Prefix)
	}
	s := &Store{client: cfg.Client, keys: keys{"{" + cfg.Prefix + "}:"}, logger: logger}
	if s.client == nil {
		if cfg.URL == "" {
			return nil, errors.New("redisstore: URL or Client is required")
		}
		client, err := newClient(cfg.URL)
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
// failover client when the URL has a master_name parameter.
func newClient(rawURL string) (*redis.Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Query().Has("master_name") {
		opts, err := redis.ParseFailoverURL(rawURL)
		if err != nil {
			return nil, err
		}
		if opts.MasterName == "" {
			return nil, errors.New("master_name is empty")
		}
		return redis.NewFailoverClient(opts), nil
	}
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	return redis.NewClient(opts), nil
}

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

// ext returns the externalId index key, or "" for an empty externalId (not
// indexed).
func (k keys) ext(kind cache.Kind, externalID string) string {
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
