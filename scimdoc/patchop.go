package scimdoc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

const patchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// ParsePatch reads a PatchOp message (RFC 7644 §3.5.2). Member names are
// matched case-insensitively and op is lower-cased (Entra sends
// "Replace"); paths are parsed here so a bad one is an invalidPath error
// before anything changes.
func ParsePatch(body []byte) ([]PatchOp, error) {
	if err := CheckJSONDepth(body); err != nil {
		return nil, err
	}
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(body, &msg); err != nil || msg == nil {
		return nil, Errorf(ScimTypeInvalidSyntax, "The PATCH body must be a PatchOp JSON object.")
	}
	var schemas []string
	var rawOps []json.RawMessage
	for k, v := range msg {
		switch strings.ToLower(k) {
		case "schemas":
			_ = json.Unmarshal(v, &schemas)
		case "operations":
			if err := json.Unmarshal(v, &rawOps); err != nil {
				return nil, Errorf(ScimTypeInvalidSyntax, "Operations must be an array of operations.")
			}
		}
	}
	found := false
	for _, s := range schemas {
		found = found || strings.EqualFold(s, patchOpSchema)
	}
	if !found {
		return nil, Errorf(ScimTypeInvalidSyntax, "The \"schemas\" attribute must be [%q].", patchOpSchema)
	}
	if len(rawOps) == 0 {
		return nil, Errorf(ScimTypeInvalidValue, "Operations must hold at least one operation.")
	}
	ops := make([]PatchOp, 0, len(rawOps))
	for i, raw := range rawOps {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
			return nil, Errorf(ScimTypeInvalidSyntax, "Operation %d is not a JSON object.", i+1)
		}
		var op PatchOp
		var path string
		for k, v := range fields {
			switch strings.ToLower(k) {
			case "op":
				var s string
				if json.Unmarshal(v, &s) != nil {
					return nil, Errorf(ScimTypeInvalidSyntax, "Operation %d: op must be a string.", i+1)
				}
				op.Op = strings.ToLower(strings.TrimSpace(s))
			case "path":
				if json.Unmarshal(v, &path) != nil {
					return nil, Errorf(ScimTypeInvalidPath, "Operation %d: path must be a string.", i+1)
				}
			case "value":
				d := json.NewDecoder(bytes.NewReader(v))
				if err := d.Decode(&op.Value); err != nil {
					return nil, Errorf(ScimTypeInvalidValue, "Operation %d: value is not valid JSON.", i+1)
				}
			}
		}
		switch op.Op {
		case "add", "remove", "replace":
		default:
			return nil, Errorf(ScimTypeInvalidSyntax, "Operation %d: op must be add, remove or replace, got %q.", i+1, op.Op)
		}
		if path = strings.TrimSpace(path); path != "" {
			p, err := ParsePath(path)
			if err != nil {
				var perr *Error
				detail := fmt.Sprintf("Operation %d: path %q is not a valid attribute path.", i+1, path)
				if errors.As(err, &perr) && perr.Detail != "" {
					detail = fmt.Sprintf("Operation %d: %s", i+1, perr.Detail)
				}
				return nil, Errorf(ScimTypeInvalidPath, "%s", detail)
			}
			op.Path = p
		}
		ops = append(ops, op)
	}
	return ops, nil
}
