package upstream

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseErrorBody(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantCodes  []string
		wantFields []string
		wantDetail string
	}{
		{
			name: "problem details",
			body: `{"errors":{"partitionGlobalId":["The value 'X' is not valid."],"email":["bad","worse"]},
				"type":"https://tools.ietf.org/html/rfc7231#section-6.5.1","title":"One or more validation errors occurred.",
				"status":400,"traceId":"00-abc"}`,
			wantFields: []string{"email", "partitionGlobalId"},
			wantDetail: "One or more validation errors occurred.; email: bad; email: worse; partitionGlobalId: The value 'X' is not valid.",
		},
		{
			name:       "bare identity result",
			body:       `{"succeeded":false,"errors":[{"code":"DuplicateEmail","description":"Email is already taken."}]}`,
			wantCodes:  []string{CodeDuplicateEmail},
			wantDetail: "Email is already taken.",
		},
		{
			name: "bulk create result",
			body: `{"result":{"succeeded":false,"errors":[
				{"code":"DuplicateUserName","description":"Username 'a@b.com' is already taken."},
				{"code":"DuplicateEmail","description":"Email 'a@b.com' is already taken."}]},"users":[]}`,
			wantCodes:  []string{CodeDuplicateUserName, CodeDuplicateEmail},
			wantDetail: "Username 'a@b.com' is already taken.; Email 'a@b.com' is already taken.",
		},
		{
			name:       "scope error",
			body:       `{"errorMessage":"Scope(s) 'x' is(are) invalid. Expect to have 'PM.User'. "}`,
			wantDetail: "Scope(s) 'x' is(are) invalid. Expect to have 'PM.User'.",
		},
		{
			name:       "directory error",
			body:       `{"StatusCode":404,"StatusDescription":"NotFound","Message":"Cannot resolve users=[1] in CIS","Description":""}`,
			wantDetail: "Cannot resolve users=[1] in CIS",
		},
		{
			name:       "not found message",
			body:       `{"message":"The entity was not found."}`,
			wantDetail: "The entity was not found.",
		},
		{
			name:       "oauth error",
			body:       `{"error":"invalid_client","error_description":"unknown client"}`,
			wantDetail: "invalid_client unknown client",
		},
		{
			name:       "echoed bearer token is scrubbed",
			body:       `{"errorMessage":"bad token eyJhbGciOi.eyJzdWIiOiJ4In0.c2ln-_x in request"}`,
			wantDetail: "bad token <jwt> in request",
		},
		{name: "html is not echoed", body: `<html><body>Bad Gateway secret-ish</body></html>`},
		{name: "plain text is not echoed", body: `upstream connect error`},
		{name: "empty"},
		{
			name:       "control characters collapse",
			body:       "{\"errorMessage\":\"line1\\n\\tline2\\u0007\"}",
			wantDetail: "line1 line2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			codes, fields, detail := parseErrorBody([]byte(tt.body))
			if !reflect.DeepEqual(codes, tt.wantCodes) {
				t.Errorf("codes = %q, want %q", codes, tt.wantCodes)
			}
			if !reflect.DeepEqual(fields, tt.wantFields) {
				t.Errorf("fields = %q, want %q", fields, tt.wantFields)
			}
			if detail != tt.wantDetail {
				t.Errorf("detail = %q, want %q", detail, tt.wantDetail)
			}
		})
	}
}

func TestParseErrorBodyTruncates(t *testing.T) {
	long := strings.Repeat("x", 5000)
	_, _, detail := parseErrorBody([]byte(`{"errorMessage":"` + long + `"}`))
	if n := len([]rune(detail)); n != maxDetail {
		t.Fatalf("detail has %d runes, want %d", n, maxDetail)
	}
	if !strings.HasSuffix(detail, "…") {
		t.Errorf("truncated detail %q does not end with an ellipsis", detail[len(detail)-10:])
	}
}

func TestNewStatusError(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name           string
		status         int
		retryAfter     string
		wantRetryable  bool
		wantRetryAfter time.Duration
		wantNotFound   bool
	}{
		{name: "400", status: 400},
		{name: "401", status: 401},
		{name: "403", status: 403},
		{name: "404", status: 404, wantNotFound: true},
		{name: "429 seconds", status: 429, retryAfter: "7", wantRetryable: true, wantRetryAfter: 7 * time.Second},
		{name: "429 date", status: 429, retryAfter: now.Add(90 * time.Second).Format(http.TimeFormat),
			wantRetryable: true, wantRetryAfter: 90 * time.Second},
		{name: "429 past date", status: 429, retryAfter: now.Add(-time.Minute).Format(http.TimeFormat), wantRetryable: true},
		{name: "429 garbage", status: 429, retryAfter: "soon", wantRetryable: true},
		{name: "500", status: 500, wantRetryable: true},
		{name: "503 with retry-after", status: 503, retryAfter: "2", wantRetryable: true, wantRetryAfter: 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.retryAfter != "" {
				h.Set("Retry-After", tt.retryAfter)
			}
			e := newStatusError("get user", "GET", "/User/1", tt.status, h, nil, now)
			var err error = fmt.Errorf("wrapped: %w", e)
			if got := IsRetryable(err); got != tt.wantRetryable {
				t.Errorf("IsRetryable = %v, want %v", got, tt.wantRetryable)
			}
			if got := RetryAfter(err); got != tt.wantRetryAfter {
				t.Errorf("RetryAfter = %v, want %v", got, tt.wantRetryAfter)
			}
			if got := errors.Is(err, ErrNotFound); got != tt.wantNotFound {
				t.Errorf("errors.Is(err, ErrNotFound) = %v, want %v", got, tt.wantNotFound)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	tests := []struct {
		name string
		err  *Error
		want string
	}{
		{
			name: "identity codes",
			err: &Error{Op: "create user", Method: "POST", Path: "/User/BulkCreate", StatusCode: 400,
				Codes: []string{CodeDuplicateUserName}, Detail: "Username 'a' is already taken."},
			want: "upstream: create user: POST /User/BulkCreate: status 400 (DuplicateUserName): Username 'a' is already taken.",
		},
		{
			name: "not found",
			err:  &Error{Op: "get user", Method: "GET", Path: "/User/1", StatusCode: 404, Err: ErrNotFound},
			want: "upstream: get user: GET /User/1: status 404",
		},
		{
			name: "transport",
			err:  &Error{Op: "get user", Method: "GET", Path: "/User/1", Retryable: true, Err: errors.New("connection refused")},
			want: "upstream: get user: GET /User/1: connection refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorUnwrapAndHasCode(t *testing.T) {
	e := &Error{StatusCode: 404}
	if !errors.Is(e, ErrNotFound) {
		t.Error("a hand-built 404 *Error does not match ErrNotFound")
	}
	cause := errors.New("boom")
	if e := (&Error{Err: cause}); !errors.Is(e, cause) || errors.Is(e, ErrNotFound) {
		t.Error("Unwrap does not return the cause")
	}
	e = &Error{Codes: []string{CodeDuplicateEmail, CodeDuplicateUserName}}
	if !e.HasCode(CodeDuplicateUserName) || e.HasCode(CodeInvalidUserName) {
		t.Errorf("HasCode wrong for %q", e.Codes)
	}
	if IsRetryable(errors.New("plain")) || RetryAfter(errors.New("plain")) != 0 {
		t.Error("a plain error reads as retryable")
	}
}
