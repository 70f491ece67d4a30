// Package envtest is test support shared by the module's tests: a log sink
// that concurrent handlers can share, and New, which stands up in one call
// what most tests of the bridge need around the code they test.
//
// New starts the UiPath emulator (package upstream/emulator) on an
// httptest server, builds an upstream.Client against it with the
// credentials the emulator accepts, and opens a store: the embedded bbolt
// store in t.TempDir() by default, Redis through internal/redistest when
// asked, or none. Everything it starts is closed by t.Cleanup. Its logs go
// to t.Output() and to Env.Logs, which a test may scan.
//
// The client is configured as the bridge configures it, with two
// differences that suit tests: its HTTP client is the httptest server's,
// and it retries at once instead of waiting (package upstream's own tests
// check the waits). Its partition is the prt_id claim of the emulator's
// token, as in production when none is configured.
//
// The package imports testing, so only tests may import it
// (test/deps_test.go enforces that for packages whose path ends in "test").
package envtest
