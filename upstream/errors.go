package upstream

import (
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// ErrNotFound is what an *Error for a 404 unwraps to, and what the Find
// methods return when nothing matches. Test with errors.Is.
var ErrNotFound = errors.New("upstream: not found")

// IdentityResult error codes the bridge reacts to (upstream-api.md §3). UiPath
// reports duplicates with these codes, never with 409.
const (
	CodeDuplicateUserName  = "DuplicateUserName"
	CodeDuplicateEmail     = "DuplicateEmail"
	CodeInvalidUserName    = "InvalidUserName"
	CodeDuplicateGroupName = "DuplicateGroupName"
	// CodeDuplicateID answers a create whose client-generated id UiPath
	// already has (UNCONFIRMED: the emulator's inference, upstream-api.md
	// documents no code for it).
	CodeDuplicateID = "DuplicateId"
)

// maxDetail bounds Error.Detail, in runes.
const maxDetail = 300

// Error describes a failed upstream call. It never holds a token, the client
// secret or a raw response body: Detail is a short summary assembled from the
// documented error shapes only.
type Error struct {
	Op         string        // what the client was doing: "create user", "update group", "get token", ...
	Method     string        // HTTP method
	Path       string        // request path without host or query
	StatusCode int           // HTTP status; 0 for transport errors
	Codes      []string      // IdentityResult error codes, e.g. CodeDuplicateUserName
	Fields     []string      // ProblemDetails field names that failed validation, sorted
	Detail     string        // short safe summary of the error body, at most ~300 characters
	Retryable  bool          // whether the same call may succeed later: 429, 5xx, transport errors
	RetryAfter time.Duration // the server's Retry-After, 0 if absent
	Err        error         // the cause: a transport error, ErrNotFound for 404, or nil
}

// Error formats e as "upstream: op: METHOD path: status N (codes): detail: cause".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("upstream: ")
	b.WriteString(e.Op)
	if e.Method != "" || e.Path != "" {
		b.WriteString(": ")
		b.WriteString(strings.TrimSpace(e.Method + " " + e.Path))
	}
	if e.StatusCode != 0 {
		b.WriteString(": status ")
		b.WriteString(strconv.Itoa(e.StatusCode))
	}
	if len(e.Codes) > 0 {
		b.WriteString(" (")
		b.WriteString(strings.Join(e.Codes, ", "))
		b.WriteString(")")
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Err != nil && e.Err != ErrNotFound {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause; for a 404 without another cause it returns
// ErrNotFound.
func (e *Error) Unwrap() error {
	if e.Err == nil && e.StatusCode == http.StatusNotFound {
		return ErrNotFound
	}
	return e.Err
}

// HasCode reports whether UiPath returned the IdentityResult error code.
func (e *Error) HasCode(code string) bool {
	return slices.Contains(e.Codes, code)
}

// IsRetryable reports whether err holds an *Error that is worth retrying
// later (throttling, server or transport failure).
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// RetryAfter returns the Retry-After carried by an *Error in err, or 0.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// retryableStatus reports whether a response status is worth retrying.
func retryableStatus(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500
}

// newStatusError builds the *Error for an unsuccessful response from its
// status, headers and (bounded) body. now resolves an HTTP-date Retry-After.
func newStatusError(op, method, path string, status int, h http.Header, body []byte, now time.Time) *Error {
	codes, fields, detail := parseErrorBody(body)
	e := &Error{
		Op:         op,
		Method:     method,
		Path:       path,
		StatusCode: status,
		Codes:      codes,
		Fields:     fields,
		Detail:     detail,
		Retryable:  retryableStatus(status),
		RetryAfter: parseRetryAfter(h.Get("Retry-After"), now),
	}
	if status == http.StatusNotFound {
		e.Err = ErrNotFound
	}
	return e
}

// errorBody is the union of the error shapes upstream-api.md §10 documents:
// ProblemDetails ({title, errors:{field:[msg]}}), IdentityResult
// ({succeeded, errors:[{code,description}]}), BulkCreate's
// {result:IdentityResult, users:[]}, scope errors {errorMessage}, directory
// errors {StatusCode, Message} and OAuth token errors {error,
// error_description}. encoding/json matches names case-insensitively, so
// "Message" and "message" both land in Message.
type errorBody struct {
	Title            string          `json:"title"`
	ProblemDetail    string          `json:"detail"`
	Errors           json.RawMessage `json:"errors"`
	Result           *IdentityResult `json:"result"`
	ErrorMessage     string          `json:"errorMessage"`
	Message          string          `json:"Message"`
	OAuthError       string          `json:"error"`
	ErrorDescription string          `json:"error_description"`
}

// parseErrorBody extracts IdentityResult codes, ProblemDetails field names
// and a short detail from an error body. Bodies in no known shape (HTML from a
// proxy, plain text) yield nothing: the raw body never reaches an error.
func parseErrorBody(body []byte) (codes, fields []string, detail string) {
	var eb errorBody
	if len(body) == 0 || json.Unmarshal(body, &eb) != nil {
		return nil, nil, ""
	}
	var parts []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, s)
		}
	}
	identity := func(r IdentityResult) {
		for _, ie := range r.Errors {
			if ie.Code != "" {
				codes = append(codes, ie.Code)
			}
			add(ie.Description)
		}
	}
	if eb.Result != nil {
		identity(*eb.Result)
	}
	if len(eb.Errors) > 0 {
		var byField map[string][]string
		var list []IdentityError
		switch {
		case json.Unmarshal(eb.Errors, &byField) == nil:
			add(eb.Title)
			for f := range byField {
				fields = append(fields, f)
			}
			sort.Strings(fields)
			for _, f := range fields {
				for _, m := range byField[f] {
					add(f + ": " + m)
				}
			}
		case json.Unmarshal(eb.Errors, &list) == nil:
			identity(IdentityResult{Errors: list})
		}
	} else {
		add(eb.Title)
	}
	add(eb.ProblemDetail)
	add(eb.ErrorMessage)
	add(eb.Message)
	if eb.OAuthError != "" {
		add(strings.TrimSpace(eb.OAuthError + " " + eb.ErrorDescription))
	}
	return codes, fields, truncate(jwtPattern.ReplaceAllString(strings.Join(parts, "; "), "<jwt>"), maxDetail)
}

// jwtPattern matches anything shaped like a JWT (base64url JSON header, then
// a payload), so that a body echoing a bearer token can't leak it through
// Detail, even partly.
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*(\.[A-Za-z0-9_-]*){0,2}`)

// truncate collapses control characters and runs of white space and cuts s
// to at most n runes.
func truncate(s string, n int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
// Unparseable or past values give 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		const maxSecs = int64(24 * time.Hour / time.Second)
		return time.Duration(min(secs, maxSecs)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
