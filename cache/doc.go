// Package cache defines the mapping store: the contract (Store), its records
// and its sentinel errors. The store keeps, per SCIM resource, the
// representation last accepted from the IdP, the indexes the IdPs query
// constantly (userName / displayName, unique and case-insensitive;
// externalId, which several records may share) and the user → group
// membership index, so that the reads IdPs make are
// answered without calling UiPath.
//
// Backends live in subpackages: cache/redisstore (shared, for several
// replicas) and cache/boltstore (an embedded file, for one node).
// cache/cachetest is the conformance suite both run.
package cache
