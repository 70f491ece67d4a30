// Command load is the load harness of issue 4: it plays an Entra ID initial
// sync (users, groups and their members, a re-org wave, leavers during a
// second re-org wave, and an exit wave) over HTTP against a scim-bridge
// process, with the UiPath emulator in this process (rate limits on, window
// compressed), and prints per phase the SCIM requests, the upstream calls
// against the theoretical minimum and against the global minimum, the 429s
// UiPath sent (must be 0), SCIM latency, wall time against the rate-limit
// floor, the floor at UiPath's real window, and the bridge's CPU and peak
// RSS (read from /proc, so on Linux only: elsewhere the report says "not
// measured").
//
// After each phase it waits until the bridge's queue of membership changes
// is empty (scim_bridge_membership_pending reads 0 on its /metrics), then
// checks that UiPath and the bridge hold what the IdP asked for so far. The
// leaver phase sends -leavers deactivations while the second re-org keeps
// the PUT budget full, and reports the time from each request until the
// emulator shows the account disabled.
//
// After the last phase (unless -reconcile=false) the IdP makes -drift more
// leavers, UiPath is changed behind the bridge's back (-drift changes of
// every drift class, fewer groups deleted and renamed, a few unmanaged
// users and a group), and `scim-bridge reconcile -json` runs with serve's
// configuration: its findings must be exactly the injected drift, all
// repaired (the unmanaged reported), and a second pass must find no drift
// but the unmanaged. It prints the pass's wall time, GETs against the
// minimum and the floors.
//
// With -mode lookup it seeds the bridge's store directly and measures the
// throughput of GET /Users?filter=userName eq "…", the request Okta and
// Entra send before every create.
//
//	go run ./test/load                          # 2,000 users, 50 groups, 10,000 memberships
//	go run ./test/load -strategy user
//	go run ./test/load -writes sync
//	go run ./test/load -users 20000 -groups 500 -memberships 100000 -window 30s -timeout 45m
//	go run ./test/load -mode lookup -store redis -users 100000
//
// Everything listens on loopback only, and every run stops itself after
// -timeout. It is not a test: go test ./... only compiles it.
package main
