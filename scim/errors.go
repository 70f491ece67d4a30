package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/scim-bridge/scim-bridge/cache"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// errorSchema is the SCIM error message schema URN (RFC 7644 §3.12).
const errorSchema = "urn:ietf:params:scim:api:messages:2.0:Error"

// apiError is a SCIM error response.
type apiError struct {
	Status     int
	ScimType   string
	Detail     string
	RetryAfter time.Duration
}

func (e apiError) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Schemas  []string `json:"schemas"`
		ScimType string   `json:"scimType,omitempty"`
		Detail   string   `json:"detail,omitempty"`
		Status   string   `json:"status"`
	}{[]string{errorSchema}, e.ScimType, e.Detail, strconv.Itoa(e.Status)})
}

func writeError(w http.ResponseWriter, e apiError) {
	w.Header().Set("Content-Type", contentType)
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim-bridge"`)
	}
	w.WriteHeader(e.Status)
	body, _ := json.Marshal(e)
	_, _ = w.Write(body)
}

func badRequest(scimType, format string, args ...any) apiError {
	return apiError{Status: http.StatusBadRequest, ScimType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// defaultRetryAfter is what the IdP is told to wait when UiPath gave no
// hint.
const defaultRetryAfter = 30 * time.Second

// storeRetryAfter is what the IdP is told to wait when the store cannot be
// reached: a Redis failover or restart takes seconds.
const storeRetryAfter = 10 * time.Second

// toSCIMError turns an error from the bridge core into the response the
// IdP gets. Causes that are not the IdP's business are logged, not sent.
func toSCIMError(err error, log *slog.Logger) apiError {
	var merr *mapping.Error
	var perr *mapping.PatchError
	var partial *mapping.PartialError
	var uerr *upstream.Error
	switch {
	case errors.As(err, &merr):
		return apiError{Status: merr.Status, ScimType: merr.ScimType, Detail: merr.Detail}
	case errors.As(err, &perr):
		return apiError{Status: http.StatusBadRequest, ScimType: perr.ScimType, Detail: perr.Detail}
	case errors.As(err, &partial):
		log.Warn("membership change partly applied", "error", err)
		if partial.Retryable {
			return apiError{
				Status:     retryStatus(partial.Err),
				Detail:     fmt.Sprintf("%d of %d membership changes could not be applied in UiPath yet (members %s); the rest were saved. Retry the request.", partial.Failed, partial.Total, listIDs(partial.FailedUsers)),
				RetryAfter: retryAfterOf(partial.Err),
			}
		}
		return apiError{
			Status: http.StatusInternalServerError,
			Detail: fmt.Sprintf("%d of %d membership changes were refused by UiPath (members %s); the rest were saved. See the bridge log.", partial.Failed, partial.Total, listIDs(partial.FailedUsers)),
		}
	case errors.As(err, &uerr) && uerr.Retryable && uerr.StatusCode == http.StatusTooManyRequests:
		log.Warn("upstream rate limit reached", "error", err)
		return apiError{Status: http.StatusTooManyRequests, Detail: "UiPath's rate limit for this organization is reached; retry after Retry-After.", RetryAfter: retryAfterOf(err)}
	case errors.As(err, &uerr) && uerr.Retryable:
		log.Warn("upstream unavailable", "error", err)
		return apiError{Status: http.StatusServiceUnavailable, Detail: "UiPath is unavailable; retry later.", RetryAfter: retryAfterOf(err)}
	case errors.Is(err, cache.ErrUnavailable):
		log.Warn("store unavailable", "error", err)
		return apiError{Status: http.StatusServiceUnavailable, Detail: "The bridge's mapping store is unavailable; retry later.", RetryAfter: storeRetryAfter}
	case errors.Is(err, context.DeadlineExceeded):
		log.Warn("request timed out", "error", err)
		return apiError{Status: http.StatusServiceUnavailable, Detail: "The request timed out; retry later.", RetryAfter: defaultRetryAfter}
	case errors.As(err, &uerr):
		log.Error("upstream refused request", "error", err)
		return apiError{Status: http.StatusInternalServerError, Detail: "UiPath refused the change; see the bridge log."}
	default:
		log.Error("internal error", "error", err)
		return apiError{Status: http.StatusInternalServerError, Detail: "Internal error; see the bridge log."}
	}
}

// listIDs names at most 10 ids for an error detail.
func listIDs(ids []string) string {
	if len(ids) > 10 {
		return strings.Join(ids[:10], ", ") + fmt.Sprintf(" and %d more", len(ids)-10)
	}
	return strings.Join(ids, ", ")
}

// retryStatus is 429 when UiPath (or the bridge's budget for it) is
// throttling, which Okta reschedules by itself, and 503 otherwise.
func retryStatus(err error) int {
	var uerr *upstream.Error
	if errors.As(err, &uerr) && uerr.StatusCode == http.StatusTooManyRequests {
		return http.StatusTooManyRequests
	}
	return http.StatusServiceUnavailable
}

func retryAfterOf(err error) time.Duration {
	if d := upstream.RetryAfter(err); d > 0 {
		return d
	}
	return defaultRetryAfter
}
