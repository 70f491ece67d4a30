// Package test holds the end-to-end tests: the whole bridge over real HTTP
// against the UiPath emulator and real stores (replays of Okta and Entra
// traffic, bad input, faults, budgets, replicas, Redis outages, secrets,
// the leavers' defects), and the dependency-direction test that keeps the
// package layout of DESIGN.md. test/load is the load harness, test/soak
// the soak under faults.
package test
