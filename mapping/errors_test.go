package mapping

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/scimdoc"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// secret stands for anything the IdP must never see: a token, a raw
// upstream body, an internal path.
const secret = "secret-token-123"

func TestClassify(t *testing.T) {
	cause := errors.New("dial tcp 10.0.0.7:443: " + secret)
	throttled := &upstream.Error{Op: "create user", StatusCode: http.StatusTooManyRequests, Retryable: true,
		RetryAfter: 1500 * time.Millisecond, Detail: "rate limit for " + secret}
	tests := []struct {
		name           string
		err            error
		wantCode       Code
		wantScimType   string
		wantDetail     string // exact; "" means only the leak check applies
		wantRetryAfter time.Duration
	}{
		{name: "mapping error passes through", err: fmt.Errorf("ctx: %w", uniqueness("userName %q taken", "ada")),
			wantCode: CodeConflict, wantScimType: scimdoc.ScimTypeUniqueness, wantDetail: `userName "ada" taken`},
		{name: "document error becomes invalid", err: scimdoc.Errorf(scimdoc.ScimTypeNoTarget, "no email of type home"),
			wantCode: CodeInvalid, wantScimType: scimdoc.ScimTypeNoTarget, wantDetail: "no email of type home"},
		{name: "document mutability", err: scimdoc.Errorf(scimdoc.ScimTypeMutability, "id is read-only"),
			wantCode: CodeMutability, wantScimType: scimdoc.ScimTypeMutability, wantDetail: "id is read-only"},
		{name: "partial membership, throttled, with hint",
			err:      &partialError{failedUsers: []string{"u1", "u2"}, failed: 2, total: 5, retryable: true, err: fmt.Errorf("add member: %w", throttled)},
			wantCode: CodeThrottled, wantDetail: "2 of 5 membership changes could not be applied in UiPath yet (members u1, u2); the rest were saved. Retry the request.", wantRetryAfter: 1500 * time.Millisecond},
		{name: "partial membership, retryable, no hint",
			err:      &partialError{failed: 1, total: 3, retryable: true, err: cause},
			wantCode: CodeUnavailable, wantRetryAfter: defaultRetryAfter},
		{name: "partial membership refused",
			err:      &partialError{failedUsers: []string{"u9"}, failed: 1, total: 3, err: &upstream.Error{Op: "add member", StatusCode: http.StatusBadRequest, Detail: secret}},
			wantCode: CodeInternal, wantDetail: "1 of 3 membership changes were refused by UiPath (members u9); the rest were saved. See the bridge log."},
		{name: "upstream throttling", err: fmt.Errorf("create user: %w", throttled),
			wantCode: CodeThrottled, wantDetail: "UiPath's rate limit for this organization is reached; retry after Retry-After.", wantRetryAfter: 1500 * time.Millisecond},
		{name: "upstream transport failure without hint", err: &upstream.Error{Op: "get user", Retryable: true, Err: cause},
			wantCode: CodeUnavailable, wantRetryAfter: defaultRetryAfter},
		{name: "upstream timeout keeps its hint", err: &upstream.Error{Op: "get user", Retryable: true, RetryAfter: 5 * time.Second, Err: context.DeadlineExceeded},
			wantCode: CodeUnavailable, wantRetryAfter: 5 * time.Second},
		{name: "upstream refusal", err: &upstream.Error{Op: "update user", StatusCode: http.StatusBadRequest, Detail: "field X invalid: " + secret},
			wantCode: CodeInternal, wantDetail: "UiPath refused the change; see the bridge log."},
		{name: "store unavailable", err: fmt.Errorf("get: %w", cache.ErrUnavailable),
			wantCode: CodeUnavailable, wantDetail: "The bridge's mapping store is unavailable; retry later.", wantRetryAfter: storeRetryAfter},
		{name: "deadline", err: fmt.Errorf("list users: %w", context.DeadlineExceeded),
			wantCode: CodeUnavailable, wantDetail: "The request timed out; retry later.", wantRetryAfter: defaultRetryAfter},
		{name: "anything else", err: fmt.Errorf("bolt: open %s: %w", "/var/lib/"+secret, errors.New("permission denied")),
			wantCode: CodeInternal, wantDetail: "Internal error; see the bridge log."},
		{name: "cancelled request", err: fmt.Errorf("get user: %w", context.Canceled),
			wantCode: CodeInternal, wantDetail: "Internal error; see the bridge log."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got *Error
			if !errors.As(classify(tt.err), &got) {
				t.Fatalf("classify(%v) is not an *Error", tt.err)
			}
			if got.Code != tt.wantCode || got.ScimType != tt.wantScimType || got.RetryAfter != tt.wantRetryAfter {
				t.Errorf("classify = %v %q retry %v, want %v %q retry %v", got.Code, got.ScimType, got.RetryAfter, tt.wantCode, tt.wantScimType, tt.wantRetryAfter)
			}
			if got.Detail == "" || (tt.wantDetail != "" && got.Detail != tt.wantDetail) {
				t.Errorf("Detail = %q, want %q", got.Detail, tt.wantDetail)
			}
			if strings.Contains(got.Detail, secret) {
				t.Errorf("Detail %q leaks the cause", got.Detail)
			}
			if !errors.Is(classify(tt.err), errors.Unwrap(tt.err)) && errors.Unwrap(tt.err) != nil && got.Err == nil {
				t.Errorf("the cause is lost")
			}
		})
	}
	if classify(nil) != nil {
		t.Error("classify(nil) != nil")
	}
}
