package scim

import (
	"context"
	"log/slog"
)

// requestInfo is what the bridge knows of the request a context serves.
type requestInfo struct {
	id       string // X-Request-Id
	idp      string // okta, entra or other
	resource string // Users, Groups, … (resourceOf)
	// caller is the name of the credential the request authenticated
	// with; empty before authentication and for refused requests. Only
	// authenticate sets it, before the handler (and any goroutine it
	// starts) runs.
	caller string
}

type requestInfoKey struct{}

func withRequest(ctx context.Context, info *requestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, info)
}

// LogHandler wraps h so that every record logged with a SCIM request's
// context (InfoContext and friends, in any package) carries that request's
// id (request_id), the IdP that sent it (idp), the SCIM resource type it
// addresses (resource) and, once authenticated, the caller name of its
// credential (caller). Records logged without
// such a context pass through unchanged. Wrapping twice adds nothing.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(contextHandler); ok {
		return h
	}
	return contextHandler{h}
}

type contextHandler struct{ slog.Handler }

func (c contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if info, ok := ctx.Value(requestInfoKey{}).(*requestInfo); ok {
		r.AddAttrs(slog.String("request_id", info.id), slog.String("idp", info.idp), slog.String("resource", info.resource))
		if info.caller != "" {
			r.AddAttrs(slog.String("caller", info.caller))
		}
	}
	return c.Handler.Handle(ctx, r)
}

func (c contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{c.Handler.WithAttrs(attrs)}
}

func (c contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{c.Handler.WithGroup(name)}
}
