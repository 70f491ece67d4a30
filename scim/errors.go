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
	"time"

	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/scimdoc"
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

func (e apiError) Error() string {
	return fmt.Sprintf("scim: %d %s: %s", e.Status, e.ScimType, e.Detail)
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

// statusOf is the one mapping from the provisioner's failure codes to HTTP
// statuses.
var statusOf = map[mapping.Code]int{
	mapping.CodeInternal:     http.StatusInternalServerError,
	mapping.CodeNotFound:     http.StatusNotFound,
	mapping.CodeConflict:     http.StatusConflict,
	mapping.CodeInvalid:      http.StatusBadRequest,
	mapping.CodeMutability:   http.StatusBadRequest,
	mapping.CodePrecondition: http.StatusPreconditionFailed,
	mapping.CodeUnavailable:  http.StatusServiceUnavailable,
	mapping.CodeThrottled:    http.StatusTooManyRequests,
}

// toSCIMError turns an error into the response the IdP gets. Causes that
// are not the IdP's business are logged, not sent.
func toSCIMError(ctx context.Context, err error, log *slog.Logger) apiError {
	var aerr apiError
	var derr *scimdoc.Error
	var merr *mapping.Error
	switch {
	case errors.As(err, &aerr):
		return aerr
	case errors.As(err, &derr):
		return apiError{Status: http.StatusBadRequest, ScimType: derr.ScimType, Detail: derr.Detail}
	case errors.As(err, &merr):
		status, ok := statusOf[merr.Code]
		if !ok {
			status = http.StatusInternalServerError
		}
		e := apiError{Status: status, ScimType: merr.ScimType, Detail: merr.Detail, RetryAfter: merr.RetryAfter}
		switch {
		case status == http.StatusBadRequest && e.ScimType == "":
			e.ScimType = scimdoc.ScimTypeInvalidValue
		case status == http.StatusConflict:
			e.ScimType = scimdoc.ScimTypeUniqueness
		case status == http.StatusServiceUnavailable, status == http.StatusTooManyRequests:
			log.WarnContext(ctx, "request not done, client told to retry", "code", merr.Code.String(), "error", err)
		case status == http.StatusInternalServerError:
			log.ErrorContext(ctx, "request failed", "error", err)
		}
		return e
	}
	log.ErrorContext(ctx, "internal error", "error", err)
	return apiError{Status: http.StatusInternalServerError, Detail: "Internal error; see the bridge log."}
}
