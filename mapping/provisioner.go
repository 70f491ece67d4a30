package mapping

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/scimdoc"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// Upstream is the part of the UiPath client the provisioner uses;
// *upstream.Client implements it.
type Upstream interface {
	CreateUser(ctx context.Context, u upstream.NewUser, groupIDs []string) (upstream.User, error)
	GetUser(ctx context.Context, id string) (upstream.User, error)
	FindUserByUserName(ctx context.Context, userName string) (upstream.User, error)
	FindUserByEmail(ctx context.Context, email string) (upstream.User, error)
	SearchUsers(ctx context.Context, term string, top, skip int) (upstream.UserPage, error)
	UpdateUser(ctx context.Context, id string, u upstream.UserUpdate) error
	DeleteUser(ctx context.Context, id string) error
	ListGroups(ctx context.Context) ([]upstream.Group, error)
	GetGroup(ctx context.Context, id string) (upstream.Group, error)
	GroupMembers(ctx context.Context, id string) ([]upstream.MemberRef, error)
	CreateGroup(ctx context.Context, id, name string, memberIDs []string) (upstream.Group, error)
	UpdateGroup(ctx context.Context, id, name string, add, remove []string) (upstream.Group, error)
	DeleteGroup(ctx context.Context, id string) error
}

// Membership strategies (DESIGN.md "Membership").
const (
	StrategyUser  = "user"
	StrategyGroup = "group"
	StrategyAuto  = "auto"
)

// What a change of a user's userName does (UiPath cannot rename an
// account).
const (
	// UserNameKeep (the zero value's meaning): the change is accepted; the
	// store, lookups and the IdP see the new userName, and the UiPath
	// account keeps its login name.
	UserNameKeep = "keep"
	// UserNameRefuse: the change answers 400 mutability.
	UserNameRefuse = "refuse"
)

// Deprovisioning policies for active=false.
const (
	DeprovisionDisable = "disable"
	DeprovisionDelete  = "delete"
)

// Config configures a Provisioner.
type Config struct {
	// Strategy is how membership changes become upstream calls: StrategyUser
	// (zero value), StrategyGroup or StrategyAuto.
	Strategy string
	// Deprovision is what active=false does: DeprovisionDisable (zero value)
	// or DeprovisionDelete.
	Deprovision string
	// UserNameChange is UserNameKeep (zero value) or UserNameRefuse.
	UserNameChange string
	// AdoptExisting makes a create whose userName or email UiPath already
	// has link that account instead of failing. Zero value: false; the
	// service turns it on by default.
	AdoptExisting bool
	// Concurrency bounds the upstream calls one request runs at once; zero
	// → 4.
	Concurrency int
	// Now is the clock; zero → time.Now.
	Now func() time.Time
	// NewID makes resource ids; zero → random GUIDs.
	NewID func() string
	// LockTTL bounds how long a crashed replica can hold a resource lock in a
	// shared store (a live one renews it every third of it). Zero → 15s:
	// short enough that the IdP's requests waiting on that resource finish
	// well inside their own deadline, long enough that a renewal every 5s
	// survives a slow Redis.
	LockTTL time.Duration
	// LateWriteWindow is how long after a write with an unknown outcome
	// UiPath may still apply it; a resource in doubt is checked once more
	// after it. Zero → 2 minutes.
	LateWriteWindow time.Duration
	// FirstCheck is how soon after a write with an unknown outcome the
	// resource is first checked against UiPath (capped at
	// LateWriteWindow). Zero → 5 seconds.
	FirstCheck time.Duration
	// MembershipWrites is WritesSync (zero value) or WritesQueued; the
	// service defaults to queued (see scheduler.go).
	MembershipWrites string
	// Quiet is how long a call's changes must have been left alone before
	// the scheduler sends it; zero → 1s. MaxHold bounds that wait, and the
	// wait for an interleaved push to pause; zero → 2 minutes. ClaimTTL is how long a sender holds a call's changes; zero →
	// 30s.
	Quiet, MaxHold, ClaimTTL time.Duration
	// OnDeprovision, when set, sees how long each deactivation or user
	// deletion took from the start of its request to UiPath's
	// confirmation.
	OnDeprovision func(time.Duration)
	// OnAuditFailure, when set, is told how many audit entries the store
	// failed to record (they are logged instead; see audit.go). Zero:
	// only the log says so.
	OnAuditFailure func(entries int)
}

func (c Config) withDefaults() Config {
	if c.Strategy == "" {
		c.Strategy = StrategyUser
	}
	if c.Deprovision == "" {
		c.Deprovision = DeprovisionDisable
	}
	if c.UserNameChange == "" {
		c.UserNameChange = UserNameKeep
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 4
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.LockTTL <= 0 {
		c.LockTTL = 15 * time.Second
	}
	if c.LateWriteWindow <= 0 {
		c.LateWriteWindow = defaultLateWriteWindow
	}
	if c.FirstCheck <= 0 {
		c.FirstCheck = defaultFirstCheck
	}
	c.FirstCheck = min(c.FirstCheck, c.LateWriteWindow)
	if c.MembershipWrites == "" {
		c.MembershipWrites = WritesSync
	}
	if c.Quiet <= 0 {
		c.Quiet = defaultQuiet
	}
	if c.MaxHold <= 0 {
		c.MaxHold = defaultMaxHold
	}
	if c.ClaimTTL <= 0 {
		c.ClaimTTL = defaultClaimTTL
	}
	if c.NewID == nil {
		c.NewID = func() string { return uuid.NewString() }
	}
	return c
}

// Provisioner carries SCIM operations through UiPath and the store; Users
// and Groups are its Resource contracts. It is safe for concurrent use; operations on one resource are serialised within
// the process, and the store's compare-and-swap keeps replicas consistent.
type Provisioner struct {
	cfg   Config
	up    Upstream
	store cache.Store
	log   *slog.Logger
	locks keyedMutex
	// wake tells the scheduler a change was queued.
	wake chan struct{}
	// sent is when the scheduler last sent a call to a user or group.
	sentMu sync.Mutex
	sent   map[string]time.Time
	// holdingPush: the last round held its calls for an interleaved push.
	holdingPush atomic.Bool
	// reconciling is set while a reconciliation pass runs.
	reconciling atomic.Bool
	// lost are users whose UiPath account must be recreated before the
	// scheduler's next round (lostmember.go).
	lostMu sync.Mutex
	lost   map[string]bool
	// unrecoverable says why UiPath refused to recreate a lost account.
	unrecoverable map[string]string
}

// New returns a Provisioner.
func New(cfg Config, up Upstream, store cache.Store, logger *slog.Logger) (*Provisioner, error) {
	cfg = cfg.withDefaults()
	switch cfg.Strategy {
	case StrategyUser, StrategyGroup, StrategyAuto:
	default:
		return nil, fmt.Errorf("mapping: unknown membership strategy %q", cfg.Strategy)
	}
	switch cfg.Deprovision {
	case DeprovisionDisable, DeprovisionDelete:
	default:
		return nil, fmt.Errorf("mapping: unknown deprovision policy %q", cfg.Deprovision)
	}
	switch cfg.UserNameChange {
	case UserNameKeep, UserNameRefuse:
	default:
		return nil, fmt.Errorf("mapping: unknown userName change policy %q", cfg.UserNameChange)
	}
	switch cfg.MembershipWrites {
	case WritesSync, WritesQueued:
	default:
		return nil, fmt.Errorf("mapping: unknown membership writes %q", cfg.MembershipWrites)
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return &Provisioner{cfg: cfg, up: up, store: store, log: logger, wake: make(chan struct{}, 1)}, nil
}

// lock serialises work on one resource: within the process always, and
// across replicas when the store is shared (cache.Locker).
func (p *Provisioner) lock(ctx context.Context, key string) (func(), error) {
	unlockLocal := p.locks.lock(key)
	l, ok := p.store.(cache.Locker)
	if !ok {
		return unlockLocal, nil
	}
	unlockShared, err := l.Lock(ctx, key, p.cfg.LockTTL)
	if err != nil {
		unlockLocal()
		return nil, fmt.Errorf("lock %s: %w", key, err)
	}
	return func() {
		unlockShared()
		unlockLocal()
	}, nil
}

// recordCtx is the context for recording in the store what UiPath has
// already confirmed: it outlives the request's cancellation or deadline,
// so a confirmed change is never left unrecorded.
func recordCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
}

// keyedMutex serialises work on one key within the process.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = make(map[string]*keyedEntry)
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		e.refs--
		if e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}

// decodeResource returns a record's stored SCIM attributes.
func decodeResource(rec cache.Record) (map[string]any, error) {
	res := map[string]any{}
	if len(rec.Resource) == 0 {
		return res, nil
	}
	if err := json.Unmarshal(rec.Resource, &res); err != nil {
		return nil, fmt.Errorf("decode stored %s %s: %w", rec.Kind, rec.ID, err)
	}
	return res, nil
}

func externalIDOf(res map[string]any) string {
	s, _ := res["externalId"].(string)
	return s
}

// checkIfMatch reports a precondition failure when ifMatch is set and does
// not name the record's version (RFC 7644 §3.14). Callers hold the
// resource's lock.
func checkIfMatch(rec cache.Record, ifMatch string) error {
	if ifMatch == "" || scimdoc.MatchETag(ifMatch, scimdoc.ETag(rec.Version)) {
		return nil
	}
	return preconditionFailed(rec.ID)
}
