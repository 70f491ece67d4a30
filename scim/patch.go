package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/scim-bridge/scim-bridge/mapping"
)

const patchOpSchema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// parsePatch reads a PatchOp message (RFC 7644 §3.5.2). Member names are
// matched case-insensitively and op is lower-cased (Entra sends
// "Replace"); paths are parsed here so a bad one is an invalidPath error
// before anything changes.
func parsePatch(body []byte) ([]mapping.PatchOp, *apiError) {
	var msg map[string]json.RawMessage
	if err := json.Unmarshal(body, &msg); err != nil || msg == nil {
		e := badRequest(mapping.ScimTypeInvalidSyntax, "The PATCH body must be a PatchOp JSON object.")
		return nil, &e
	}
	var schemas []string
	var rawOps []json.RawMessage
	for k, v := range msg {
		switch strings.ToLower(k) {
		case "schemas":
			_ = json.Unmarshal(v, &schemas)
		case "operations":
			if err := json.Unmarshal(v, &rawOps); err != nil {
				e := badRequest(mapping.ScimTypeInvalidSyntax, "Operations must be an array of operations.")
				return nil, &e
			}
		}
	}
	found := false
	for _, s := range schemas {
		found = found || strings.EqualFold(s, patchOpSchema)
	}
	if !found {
		e := badRequest(mapping.ScimTypeInvalidSyntax, "The \"schemas\" attribute must be [%q].", patchOpSchema)
		return nil, &e
	}
	if len(rawOps) == 0 {
		e := badRequest(mapping.ScimTypeInvalidValue, "Operations must hold at least one operation.")
		return nil, &e
	}
	ops := make([]mapping.PatchOp, 0, len(rawOps))
	for i, raw := range rawOps {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
			e := badRequest(mapping.ScimTypeInvalidSyntax, "Operation %d is not a JSON object.", i+1)
			return nil, &e
		}
		var op mapping.PatchOp
		var path string
		for k, v := range fields {
			switch strings.ToLower(k) {
			case "op":
				var s string
				if json.Unmarshal(v, &s) != nil {
					e := badRequest(mapping.ScimTypeInvalidSyntax, "Operation %d: op must be a string.", i+1)
					return nil, &e
				}
				op.Op = strings.ToLower(strings.TrimSpace(s))
			case "path":
				if json.Unmarshal(v, &path) != nil {
					e := badRequest(mapping.ScimTypeInvalidPath, "Operation %d: path must be a string.", i+1)
					return nil, &e
				}
			case "value":
				d := json.NewDecoder(bytes.NewReader(v))
				if err := d.Decode(&op.Value); err != nil {
					e := badRequest(mapping.ScimTypeInvalidValue, "Operation %d: value is not valid JSON.", i+1)
					return nil, &e
				}
			}
		}
		switch op.Op {
		case "add", "remove", "replace":
		default:
			e := badRequest(mapping.ScimTypeInvalidSyntax, "Operation %d: op must be add, remove or replace, got %q.", i+1, op.Op)
			return nil, &e
		}
		if path = strings.TrimSpace(path); path != "" {
			p, err := mapping.ParsePath(path)
			if err != nil {
				var perr *mapping.PatchError
				detail := "Operation " + itoa(i+1) + ": path " + quote(path) + " is not a valid attribute path."
				if errors.As(err, &perr) && perr.Detail != "" {
					detail = "Operation " + itoa(i+1) + ": " + perr.Detail
				}
				e := badRequest(mapping.ScimTypeInvalidPath, "%s", detail)
				return nil, &e
			}
			op.Path = p
		}
		ops = append(ops, op)
	}
	return ops, nil
}
