// Package deploy tests the deployment files under deploy/: that the Docker
// Compose project and the Kubernetes manifests hold what production needs
// (persistence, probes, TLS, secrets only from files, settings the bridge
// knows), and, where Docker is available, that the Compose project starts
// and answers over TLS.
package deploy
