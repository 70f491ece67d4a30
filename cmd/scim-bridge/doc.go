// Command scim-bridge provisions users and groups from an identity provider
// (Okta, Microsoft Entra ID) into a UiPath organization over SCIM 2.0.
//
// main.go dispatches to one file per subcommand (serve, demo, emulator,
// status, check-config, version); bridge.go wires the store, the UiPath client, the
// provisioner and the SCIM server together, and metrics.go serves their
// observations as Prometheus metrics on client_golang. admin.go serves the
// admin listener: the status report (report.go) and the metrics.
package main
