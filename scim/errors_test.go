package scim

import (
	"bytes"
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
	"github.com/scim-bridge/scim-bridge/scimdoc"
)

// secret stands for anything the IdP must never see: a token, a raw
// upstream body, an internal path.
const secret = "secret-token-123"

func TestToSCIMError(t *testing.T) {
	cause := errors.New("dial tcp 10.0.0.7:443: " + secret)
	tests := []struct {
		name           string
		err            error
		wantStatus     int
		wantScimType   string
		wantDetail     string // exact
		wantRetryAfter string // Retry-After header; "" means absent
		wantLogged     bool   // the cause is logged
	}{
		{
			name:       "not found",
			err:        &mapping.Error{Code: mapping.CodeNotFound, Detail: `User "u1" not found`, Err: mapping.ErrNotFound},
			wantStatus: http.StatusNotFound, wantDetail: `User "u1" not found`,
		},
		{
			name:       "conflict is always uniqueness",
			err:        &mapping.Error{Code: mapping.CodeConflict, Detail: "userName taken"},
			wantStatus: http.StatusConflict, wantScimType: scimdoc.ScimTypeUniqueness, wantDetail: "userName taken",
		},
		{
			name:       "invalid, wrapped with context",
			err:        fmt.Errorf("replace user u1: %w", &mapping.Error{Code: mapping.CodeInvalid, ScimType: scimdoc.ScimTypeInvalidPath, Detail: "bad path"}),
			wantStatus: http.StatusBadRequest, wantScimType: scimdoc.ScimTypeInvalidPath, wantDetail: "bad path",
		},
		{
			name:       "invalid without a scimType is invalidValue",
			err:        &mapping.Error{Code: mapping.CodeInvalid, Detail: "bad email"},
			wantStatus: http.StatusBadRequest, wantScimType: scimdoc.ScimTypeInvalidValue, wantDetail: "bad email",
		},
		{
			name:       "mutability",
			err:        &mapping.Error{Code: mapping.CodeMutability, ScimType: scimdoc.ScimTypeMutability, Detail: "userName cannot change"},
			wantStatus: http.StatusBadRequest, wantScimType: scimdoc.ScimTypeMutability, wantDetail: "userName cannot change",
		},
		{
			name:       "precondition keeps its cause out of the detail",
			err:        &mapping.Error{Code: mapping.CodePrecondition, Detail: "version mismatch", Err: cause},
			wantStatus: http.StatusPreconditionFailed, wantDetail: "version mismatch",
		},
		{
			name:       "document error",
			err:        scimdoc.Errorf(scimdoc.ScimTypeNoTarget, "no email of type home"),
			wantStatus: http.StatusBadRequest, wantScimType: scimdoc.ScimTypeNoTarget, wantDetail: "no email of type home",
		},
		{
			name:       "throttled",
			err:        &mapping.Error{Code: mapping.CodeThrottled, Detail: "rate limit reached", RetryAfter: 1500 * time.Millisecond, Err: cause},
			wantStatus: http.StatusTooManyRequests, wantDetail: "rate limit reached", wantRetryAfter: "2", wantLogged: true,
		},
		{
			name:       "unavailable",
			err:        &mapping.Error{Code: mapping.CodeUnavailable, Detail: "UiPath is unavailable", RetryAfter: 30 * time.Second, Err: cause},
			wantStatus: http.StatusServiceUnavailable, wantDetail: "UiPath is unavailable", wantRetryAfter: "30", wantLogged: true,
		},
		{
			name:       "internal",
			err:        &mapping.Error{Code: mapping.CodeInternal, Detail: "UiPath refused the change; see the bridge log.", Err: cause},
			wantStatus: http.StatusInternalServerError, wantDetail: "UiPath refused the change; see the bridge log.", wantLogged: true,
		},
		{
			name:       "anything else",
			err:        fmt.Errorf("bolt: open %s: %w", "/var/lib/"+secret, errors.New("permission denied")),
			wantStatus: http.StatusInternalServerError, wantDetail: "Internal error; see the bridge log.", wantLogged: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			got := toSCIMError(t.Context(), tt.err, slog.New(slog.NewJSONHandler(&logs, nil)))
			if got.Status != tt.wantStatus || got.ScimType != tt.wantScimType {
				t.Errorf("toSCIMError = %d %q, want %d %q", got.Status, got.ScimType, tt.wantStatus, tt.wantScimType)
			}
			if got.Detail != tt.wantDetail {
				t.Errorf("Detail = %q, want %q", got.Detail, tt.wantDetail)
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

// TestEveryCodeHasAStatus guards the one table from codes to statuses.
func TestEveryCodeHasAStatus(t *testing.T) {
	for c := mapping.CodeInternal; c <= mapping.CodeThrottled; c++ {
		if _, ok := statusOf[c]; !ok {
			t.Errorf("code %v has no HTTP status", c)
		}
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
			in:   apiError{Status: http.StatusBadRequest, ScimType: scimdoc.ScimTypeInvalidFilter, Detail: `filter "x" is bad`},
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
