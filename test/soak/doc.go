// Command soak is the bounded soak of issue 9 ("Leavers stay out"): for a
// fixed time it drives the whole bridge in one process with steady, mixed
// Okta-style and Entra-style SCIM traffic while random faults are injected
// into the UiPath emulator, checks invariants as it goes, and at the end
// waits for the bridge, its store and UiPath to agree with what the IdPs
// asked for.
//
// What runs, all on loopback:
//
//   - the UiPath emulator (package upstream/emulator) on an httptest server,
//     rate limits off, tokens that expire every 20s so that token renewals
//     happen (and can fail) during the run;
//   - the bridge: the real UiPath client (with a short per-call deadline,
//     -upstream-timeout, so that injected delays exceed it), the real
//     provisioner, the real SCIM handler over real HTTP, and a real store:
//     bbolt in a temporary directory, or a redis-server this program starts
//     on a free port (-store redis);
//   - two simulated IdPs sharing one model of what they have asked for:
//     Okta (PUT and path-less PATCH replace, members[value eq …] removals)
//     and Entra (PATCH "Replace" with "False"/"True", legacy member
//     Add/Remove arrays, the aadOptscim062020 flag form, soft then hard
//     deletes). Both look a user up by userName (a group by displayName)
//     before creating it, and both retry failed requests as the real ones
//     do: 429 after Retry-After, 5xx and lost connections with backoff,
//     up to -idp-attempts, after which the change is counted as given up
//     and re-sent later (the next sync cycle), as Entra's escrow does.
//
// Faults (-faults on, kinds chosen with -fault-kinds) come in episodes: a
// few faults (2–5) on random UiPath operations (token, BulkCreate, GET user, user
// search, PUT user, DELETE user, POST group, PUT group, DELETE group, group
// members) for 0.5–3s, then a quiet gap of 0.5–3s. The kinds are 5xx, 429
// with Retry-After, delay past the client's deadline, dropped connection,
// lost answer (applied, then a 5xx or a dropped connection), and late
// application (applied after the client gave up).
//
// Invariants, checked every -check interval and at the end:
//
//  1. no leaver active in UiPath: a user whose deactivation or deletion the
//     bridge acknowledged must be inactive or absent in UiPath within -grace;
//  2. no 5xx outside injected fault episodes (each attempt is classified by
//     whether it overlapped an episode);
//  3. RSS flat: the process's resident set at the end is within
//     -rss-growth of its value a quarter into the run (plus 32 MiB);
//
// and, after traffic stops and faults are cleared, quiescence: the IdPs
// re-send what they gave up on, then the run waits (up to -converge) until
// the store (read through SCIM) and UiPath agree with the model on users,
// activation, profiles, group names and memberships, with no duplicate or
// orphan object in UiPath. The final report prints requests by verb,
// answers by status, faults injected by kind and operation, IdP retries,
// leaver violations, duplicates, lost updates, the convergence time and
// RSS. The exit status is 1 when an invariant failed.
//
//	go run ./test/soak -duration 10m
//	go run ./test/soak -duration 3m -store redis -rate 40 -seed 7
//	go run ./test/soak -faults off
//	go run ./test/soak -fault-kinds 5xx,429,drop,lost
//
// The short form that CI runs is TestSoak in this package: both stores for
// about 20s each, with every fault kind (ciFaultKinds);
// SCIM_BRIDGE_SOAK_FAULTS (a list) narrows it.
package main
