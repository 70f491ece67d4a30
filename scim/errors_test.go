package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// secret stands for anything the IdP must never see: a token, a raw
// upstream body, an internal path.
const secret = "secret-token-123"

func TestToSCIMError(t *testing.T) {
	cause := errors.New("dial tcp 10.0.0.7:443: " + secret)
	throttled := &upstream.Error{Op: "create user", StatusCode: http.StatusTooManyRequests, Retryable: true,
		RetryAfter: 1500 * time.Millisecond, Detail: "rate limit for " + secret}
	tests := []struct {
		name           string
		err            error
		wantStatus     int
		wantScimType   string
		wantDetail     string // exact; "" means only the leak check applies
		wantRetryAfter string // Retry-After header; "" means absent
		wantLogged     bool   // the cause is logged
	}{
		{
			name:       "not found",
			err:        &mapping.Error{Status: http.StatusNotFound, Detail: `User "u1" not found`, Err: mapping.ErrNotFound},
			wantStatus: http.StatusNotFound, wantDetail: `User "u1" not found`,
		},
		{
			name:       "uniqueness",
			err:        &mapping.Error{Status: http.StatusConflict, ScimType: mapping.ScimTypeUniqueness, Detail: "userName taken"},
			wantStatus: http.StatusConflict, wantScimType: mapping.ScimTypeUniqueness, wantDetail: "userName taken",
		},
		{
			name:       "mapping error wrapped with context",
			err:        fmt.Errorf("replace user u1: %w", &mapping.Error{Status: http.StatusBadRequest, ScimType: mapping.ScimTypeInvalidValue, Detail: "bad email"}),
			wantStatus: http.StatusBadRequest, wantScimType: mapping.ScimTypeInvalidValue, wantDetail: "bad email",
		},
		{
			name:       "mapping error keeps its cause out of the detail",
			err:        &mapping.Error{Status: http.StatusPreconditionFailed, Detail: "version mismatch", Err: cause},
			wantStatus: http.StatusPreconditionFailed, wantDetail: "version mismatch",
		},
		{
			name:       "patch error",
			err:        &mapping.PatchError{ScimType: mapping.ScimTypeNoTarget, Detail: "no email of type home"},
			wantStatus: http.StatusBadRequest, wantScimType: mapping.ScimTypeNoTarget, wantDetail: "no email of type home",
		},
		{
			name:       "partial membership, throttled, with hint",
			err:        &mapping.PartialError{Failed: 2, Total: 5, Retryable: true, Err: fmt.Errorf("add member: %w", throttled)},
			wantStatus: http.StatusTooManyRequests, wantRetryAfter: "2", wantLogged: true,
		},
		{
			name:           "partial membership, retryable, no hint",
			err:            &mapping.PartialError{Failed: 1, Total: 3, Retryable: true, Err: cause},
			wantStatus:     http.StatusServiceUnavailable,
			wantRetryAfter: "30", wantLogged: true,
		},
		{
			name:       "partial membership refused",
			err:        &mapping.PartialError{Failed: 1, Total: 3, Err: &upstream.Error{Op: "add member", StatusCode: http.StatusBadRequest, Detail: secret}},
			wantStatus: http.StatusInternalServerError, wantLogged: true,
		},
		{
			name:       "upstream throttling",
			err:        fmt.Errorf("create user: %w", throttled),
			wantStatus: http.StatusTooManyRequests, wantDetail: "UiPath's rate limit for this organization is reached; retry after Retry-After.",
			wantRetryAfter: "2", wantLogged: true,
		},
		{
			name:       "upstream transport failure without hint",
			err:        &upstream.Error{Op: "get user", Retryable: true, Err: cause},
			wantStatus: http.StatusServiceUnavailable, wantRetryAfter: "30", wantLogged: true,
		},
		{
			name:       "upstream timeout is reported by the upstream branch",
			err:        &upstream.Error{Op: "get user", Retryable: true, RetryAfter: 5 * time.Second, Err: context.DeadlineExceeded},
			wantStatus: http.StatusServiceUnavailable, wantRetryAfter: "5", wantLogged: true,
		},
		{
			name:       "upstream refusal",
			err:        &upstream.Error{Op: "update user", StatusCode: http.StatusBadRequest, Detail: "field X invalid: " + secret},
			wantStatus: http.StatusInternalServerError, wantDetail: "UiPath refused the change; see the bridge log.", wantLogged: true,
		},
		{
			name:       "deadline",
			err:        fmt.Errorf("list users: %w", context.DeadlineExceeded),
			wantStatus: http.StatusServiceUnavailable, wantDetail: "The request timed out; retry later.",
			wantRetryAfter: "30", wantLogged: true,
		},
		{
			name:       "anything else",
			err:        fmt.Errorf("bolt: open %s: %w", "/var/lib/"+secret, errors.New("permission denied")),
			wantStatus: http.StatusInternalServerError, wantDetail: "Internal error; see the bridge log.", wantLogged: true,
		},
		{
			name:       "cancelled request",
			err:        fmt.Errorf("get user: %w", context.Canceled),
			wantStatus: http.StatusInternalServerError, wantDetail: "Internal error; see the bridge log.", wantLogged: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			got := toSCIMError(tt.err, slog.New(slog.NewJSONHandler(&logs, nil)))
			if got.Status != tt.wantStatus || got.ScimType != tt.wantScimType {
				t.Errorf("toSCIMError = %d %q, want %d %q", got.Status, got.ScimType, tt.wantStatus, tt.wantScimType)
			}
			if tt.wantDetail != "" && got.Detail != tt.wantDetail {
				t.Errorf("Detail = %q, want %q", got.Detail, tt.wantDetail)
			}
			if got.Detail == "" {
				t.Errorf("Detail is empty; the IdP admin gets nothing to act on")
			}
			if strings.Contains(got.Detail, secret) {
				t.Errorf("Detail %q leaks the cause", got.Detail)
			}
			if gotLogged := loggedError(t, logs.Bytes()) == tt.err.Error(); gotLogged != tt.wantLogged {
				t.Errorf("cause logged = %v, want %v; log:\n%s", gotLogged, tt.wantLogged, logs.String())
			}

			w := httptest.NewRecorder()
			writeError(w, got)
			if w.Code != tt.wantStatus {
				t.Errorf("written status %d, want %d", w.Code, tt.wantStatus)
			}
			if ra := w.Header().Get("Retry-After"); ra != tt.wantRetryAfter {
				t.Errorf("Retry-After = %q, want %q", ra, tt.wantRetryAfter)
			}
			if strings.Contains(w.Body.String(), secret) {
				t.Errorf("response leaks the cause: %s", w.Body)
			}
		})
	}
}

// loggedError returns the "error" attribute of the one record in a JSON
// log, or "" when nothing was logged.
func loggedError(t *testing.T, log []byte) string {
	t.Helper()
	if len(log) == 0 {
		return ""
	}
	var rec struct{ Error string }
	if err := json.Unmarshal(log, &rec); err != nil {
		t.Fatalf("want one JSON log record: %v: %s", err, log)
	}
	return rec.Error
}

func TestWriteError(t *testing.T) {
	tests := []struct {
		name       string
		in         apiError
		wantBody   map[string]any
		wantHeader http.Header
	}{
		{
			name: "bad request",
			in:   badRequest(mapping.ScimTypeInvalidFilter, "filter %q is bad", "x"),
			wantBody: map[string]any{
				"schemas": []any{errorSchema}, "status": "400", "scimType": "invalidFilter", "detail": `filter "x" is bad`,
			},
			wantHeader: http.Header{"Content-Type": {contentType}},
		},
		{
			name:       "no scimType or detail",
			in:         apiError{Status: http.StatusNotFound},
			wantBody:   map[string]any{"schemas": []any{errorSchema}, "status": "404"},
			wantHeader: http.Header{"Content-Type": {contentType}},
		},
		{
			name:     "unauthorized carries a challenge",
			in:       apiError{Status: http.StatusUnauthorized, Detail: "A bearer token is required."},
			wantBody: map[string]any{"schemas": []any{errorSchema}, "status": "401", "detail": "A bearer token is required."},
			wantHeader: http.Header{"Content-Type": {contentType},
				"Www-Authenticate": {`Bearer realm="scim-bridge"`}},
		},
		{
			name:       "retry after rounds up to whole seconds",
			in:         apiError{Status: http.StatusServiceUnavailable, Detail: "later", RetryAfter: 2001 * time.Millisecond},
			wantBody:   map[string]any{"schemas": []any{errorSchema}, "status": "503", "detail": "later"},
			wantHeader: http.Header{"Content-Type": {contentType}, "Retry-After": {"3"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			writeError(w, tt.in)
			if w.Code != tt.in.Status {
				t.Errorf("status %d, want %d", w.Code, tt.in.Status)
			}
			if !reflect.DeepEqual(w.Header(), tt.wantHeader) {
				t.Errorf("headers = %v, want %v", w.Header(), tt.wantHeader)
			}
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, w.Body)
			}
			if !reflect.DeepEqual(got, tt.wantBody) {
				t.Errorf("body = %v, want %v", got, tt.wantBody)
			}
		})
	}
}
