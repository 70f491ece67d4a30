package config

import (
	"fmt"
	"os"
	"strings"
)

// FileSuffix ends the name of the variable (and the YAML key, lower-case)
// that gives a secret setting's value as the path of a file holding it,
// the Docker and Kubernetes convention: SCIM_BRIDGE_UIPATH_CLIENT_SECRET_FILE
// for SCIM_BRIDGE_UIPATH_CLIENT_SECRET.
const FileSuffix = "_FILE"

// hasFile reports whether s has the generic _FILE variant.
func (s setting) hasFile() bool { return s.secret && !s.noFile }

// fileEnv is the variable of s's _FILE variant.
func (s setting) fileEnv() string { return s.env() + FileSuffix }

// fileKey is the YAML key of s's _FILE variant.
func (s setting) fileKey() string { return s.key + strings.ToLower(FileSuffix) }

// readSecretFile returns the content of the file a _FILE variant names,
// without its trailing newline. Its errors name the variable and the path,
// never the content.
func readSecretFile(source, path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		// *fs.PathError says the operation, the path and why.
		return "", fmt.Errorf("%s: %w", source, err)
	}
	v := strings.TrimRight(string(data), "\r\n")
	if strings.TrimSpace(v) == "" {
		return "", fmt.Errorf("%s: file %s is empty", source, path)
	}
	return v, nil
}

// lookup returns the raw text of setting s and where it came from: the
// variable, its _FILE variant, the file's key or its _file key, in that
// order of precedence. Setting both a value and its _FILE variant at the
// same level is an error, as is an unreadable file. An empty raw means
// unset.
func (s setting) lookup(getenv func(string) string, file map[string]string, filePath string) (raw, source string, err error) {
	raw, source = strings.TrimSpace(getenv(s.env())), s.env()
	if s.hasFile() {
		if path := strings.TrimSpace(getenv(s.fileEnv())); path != "" {
			if raw != "" {
				return "", "", fmt.Errorf("%s and %s are both set: set one", s.env(), s.fileEnv())
			}
			source = s.fileEnv()
			raw, err = readSecretFile(source, path)
			return raw, source, err
		}
	}
	if raw != "" {
		return raw, source, nil
	}
	raw, source = file[s.key], s.key+" in "+filePath
	if s.hasFile() {
		if path := file[s.fileKey()]; path != "" {
			if raw != "" {
				return "", "", fmt.Errorf("config file %s: %s and %s are both set: set one", filePath, s.key, s.fileKey())
			}
			source = s.fileKey() + " in " + filePath
			raw, err = readSecretFile(source, path)
			return raw, source, err
		}
	}
	return raw, source, nil
}
