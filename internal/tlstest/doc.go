// Package tlstest makes certificates for tests: a certificate authority
// generated in the test, and leaf certificates it signs, written as the PEM
// files the bridge's SCIM_BRIDGE_TLS_CERT_FILE and SCIM_BRIDGE_TLS_KEY_FILE
// name. Nothing here is fit for production: keys are made fresh each run
// and never kept.
package tlstest
