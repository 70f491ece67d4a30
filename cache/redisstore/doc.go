// Package redisstore is the shared cache.Store backend on Redis, for
// several bridge replicas. It takes a go-redis UniversalClient, so a single
// server, Sentinel and Cluster all work.
//
// Every key carries the hash tag {<prefix>}, so all keys of one store live
// in one Cluster slot and multi-key scripts are allowed:
//
//	{p}:rec:<kind>:<id>           hash: v = version, d = JSON of cache.Record
//	                              without Members
//	{p}:members:group:<id>        set of the group's member ids
//	{p}:name:<kind>:<lower(name)> string: id
//	{p}:ext:<kind>:<externalId>   string: id
//	{p}:order:<kind>              sorted set of ids, score = creation sequence
//	{p}:seq                       counter behind the creation sequence
//	{p}:ug:<userId>               set of the ids of the user's groups
//	{p}:pending                   hash: cache.PendingKey(group, user) →
//	                              cache.EncodePending, the queue of
//	                              membership changes UiPath has not confirmed
//	{p}:pq:g:<groupId>            set of the user ids of the group's changes
//	{p}:pq:u:<userId>             set of the group ids of the user's changes
//	{p}:failures                  list of JSON cache.Failure, newest first
//	{p}:audit                     stream of JSON cache.AuditEntry (field e),
//	                              ids from the entries' times (audit.go)
//
// Create, Update, UpdateMembers and Delete are Lua scripts that declare every key they
// touch, so each is atomic on the server. Update and Delete are
// compare-and-swap: the client reads the record, the script writes only if
// the stored version is still the one read, and the client retries
// otherwise. Concurrent writers in any number of processes therefore never
// lose an update or leave an index entry dangling. UpdateMembers reads only
// the record hash and sends only the delta, which the script applies to the
// member set and to the affected users' ug sets: its cost does not grow with
// the group. The same script run keeps the queue of pending membership
// changes for the delta's pairs (cache.QueueRule, in Lua), and Delete's
// drops the record's changes; ClaimPending and SettlePending are one
// script each.
//
// Get is one HGET (plus, for a group, an SMEMBERS in the same MULTI);
// Lookup is one script that GETs the index key and HGETs the record (and
// SMEMBERS a group's set).
package redisstore
