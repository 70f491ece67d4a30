// Package cache defines the mapping store: the contract (Store), its records
// and its sentinel errors. The store keeps, per SCIM resource, the
// representation last accepted from the IdP, the unique indexes the IdPs
// query constantly (userName / displayName case-insensitively, externalId)
// and the user → group membership index, so that the reads IdPs make are
// answered without calling UiPath.
//
// Backends live in subpackages: cache/redisstore (shared, for several
// replicas) and cache/boltstore (an embedded file, for one node).
// cache/cachetest is the conformance suite both run.
package cache
