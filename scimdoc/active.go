package scimdoc

// KeepActivation is the activation rule for a user document that replaces
// another (PUT, or a create that matched an existing user): only an explicit
// active (true or false) changes whether the account is enabled. When next
// does not carry active (absent, or null and cleaned away), it gets the
// previous state, so that a replace that leaves active out never re-enables
// a deactivated account. PATCH applies the same rule by refusing to remove
// active (ApplyPatch).
func KeepActivation(next map[string]any, wasActive bool) {
	if _, ok := foldLookup(next, "active"); ok {
		return
	}
	next["active"] = wasActive
}
