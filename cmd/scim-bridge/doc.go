// Command scim-bridge provisions users and groups from an identity provider
// (Okta, Microsoft Entra ID) into a UiPath organization over SCIM 2.0.
//
// main.go dispatches to one file per subcommand (serve, demo, emulator,
// status, reconcile, audit, check-config with checkprobe.go for --probe,
// healthcheck, version with buildinfo.go). bridge.go wires the store, the
// UiPath client, the provisioner and the SCIM server together; auth.go
// fills in the IdP authentication and re-reads the tokens file; probe.go
// is what /readyz reports. serve.go runs the listeners (listen.go): the
// SCIM listener, with TLS from tls.go, and the admin listener (admin.go:
// the admin API, the probes and /metrics, which metrics.go serves from the
// observations on client_golang). filestamp.go tells serve that a file it
// re-reads has changed.
package main
