// Package emulator is a stateful, in-process emulator of the UiPath Identity
// Server Platform Management API, faithful to ../../shared/upstream-api.md.
//
// A *Server is an http.Handler mounted at the identity root: the token
// endpoint is /connect/token and the API lives under /api, so a client whose
// base URL is an httptest.Server's URL talks to it exactly as it would talk to
// https://cloud.uipath.com/{org}/identity_. It implements:
//
//   - client-credentials tokens (HS256 JWTs carrying prt_id and scope) and
//     bearer/scope enforcement (401 / 403 with UiPath's errorMessage body);
//   - users: BulkCreate (batch atomicity, DuplicateUserName, DuplicateEmail,
//     InvalidUserName), get, list/search/sort/page, partial PUT with group
//     deltas, delete and bulk delete;
//   - groups: the built-in Everyone and Administrators groups, create with a
//     client-generated id, rename and delta membership through PUT, members
//     paging, delete and bulk delete;
//   - one membership relation, visible from User.groupIDs and the group side;
//   - ASP.NET-style ProblemDetails for model-binding errors, 404/405 routing;
//   - production rate limits (fixed window per HTTP method, 429 with
//     Retry-After), on unless Config.DisableRateLimits is set.
//
// Tests and tools inspect state (Users, Groups, Requests, and MembershipLog:
// every membership change applied and the call that asked for it), seed
// pre-existing accounts (SeedUser, SeedGroup) and inject faults (Inject). Items the
// reference marks UNCONFIRMED are implemented as its best inference; the
// choice is noted where it is made.
//
// All methods of *Server are safe for concurrent use.
package emulator
