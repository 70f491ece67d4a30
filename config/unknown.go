package config

import (
	"slices"
	"strings"
)

// otherVars are SCIM_BRIDGE_ variables that are not settings but are read
// all the same: the configuration file's path, and the test suites' own
// (every SCIM_BRIDGE_TEST_ variable, and the soak test's fault list).
var otherVars = []string{FileEnv, EnvPrefix + "SOAK_FAULTS"}

// testVarPrefix starts the variables the test suites read.
const testVarPrefix = EnvPrefix + "TEST_"

// UnknownVars returns, sorted, the names of the SCIM_BRIDGE_ variables in
// environ (os.Environ's KEY=value form) that the bridge does not read: a
// misspelt setting, such as SCIM_BRIDGE_TOKEN for SCIM_BRIDGE_TOKENS, or a
// _FILE variant of a setting that has none. Empty variables count as
// unset and are not listed. It returns names only, never values.
func UnknownVars(environ []string) []string {
	known := make(map[string]bool, 2*len(settings)+len(otherVars))
	for _, s := range settings {
		known[s.env()] = true
		if s.hasFile() {
			known[s.fileEnv()] = true
		}
	}
	for _, v := range otherVars {
		known[v] = true
	}
	var unknown []string
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		// An empty variable counts as unset, as for settings.
		if value == "" || !strings.HasPrefix(name, EnvPrefix) || known[name] || strings.HasPrefix(name, testVarPrefix) {
			continue
		}
		if !slices.Contains(unknown, name) {
			unknown = append(unknown, name)
		}
	}
	slices.Sort(unknown)
	return unknown
}
