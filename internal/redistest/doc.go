// Package redistest gives tests a Redis to talk to.
//
// URL returns SCIM_BRIDGE_TEST_REDIS_URL when it is set. Otherwise, if
// redis-server is on PATH, it starts a private, non-persistent server on a
// free loopback port for the calling test and stops it when the test ends.
// Otherwise the test is skipped with the reason, except under CI=true, where
// a missing Redis fails the test.
//
// Start gives a test a redis-server of its own that it can Kill and Restart
// (empty, on the same port), e.g. a master and a replica (--replicaof), and
// StartSentinel a Sentinel monitoring one: for tests of Redis failures.
//
// All of them start redis-server through Launch (or LaunchOn, on a given
// port), which needs no testing.TB: the soak and load harnesses, commands
// that cannot call the helpers above, start their private server with it.
//
// Tests share a Redis they did not start, so they must never flush it: each
// test keeps its keys under its own Prefix and deletes only those.
//
// The package speaks just enough RESP to check that a server answers, so it
// does not depend on a Redis client library.
package redistest
