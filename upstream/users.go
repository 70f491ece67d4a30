package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// errEmptyID is returned, wrapped, when a call lacks a required id.
var errEmptyID = errors.New("id is required")

// CreateUser creates one user with POST /User/BulkCreate and adds it to
// groupIDs. u.ID (a client-generated GUID) and u.UserName are required.
//
// Duplicates come back as an *Error with CodeDuplicateUserName or
// CodeDuplicateEmail (UiPath never answers 409). CreateUser is retried only
// on 429: after a 5xx or a timeout the user may exist, so the retryable
// *Error is returned and the caller should look the user up by u.ID.
func (c *Client) CreateUser(ctx context.Context, u NewUser, groupIDs []string) (User, error) {
	const op = "create user"
	if u.ID == "" {
		return User{}, fmt.Errorf("upstream: %s: %w", op, errEmptyID)
	}
	if u.UserName == "" {
		return User{}, fmt.Errorf("upstream: %s %s: userName is required", op, u.ID)
	}
	pid, err := c.PartitionID(ctx)
	if err != nil {
		return User{}, fmt.Errorf("%s: %w", op, err)
	}
	var raw json.RawMessage
	r := request{
		op:     op,
		method: http.MethodPost,
		path:   "/User/BulkCreate",
		body:   BulkCreateRequest{PartitionGlobalID: pid, GroupIDs: groupIDs, Users: []NewUser{u}},
		out:    &raw,
	}
	status, err := c.do(ctx, r)
	if err != nil {
		return User{}, err
	}
	// Live UiPath answers {result:{succeeded,errors},users:[...]}; Swagger
	// documents a bare IdentityResult. Accept both.
	var resp struct {
		Result    *IdentityResult `json:"result"`
		Succeeded *bool           `json:"succeeded"`
		Users     []User          `json:"users"`
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &resp); err != nil {
			return User{}, &Error{Op: op, Method: r.method, Path: r.path, StatusCode: status,
				Err: errors.New("cannot decode response body")}
		}
	}
	if (resp.Result != nil && !resp.Result.Succeeded) || (resp.Succeeded != nil && !*resp.Succeeded) {
		return User{}, identityFailure(r, status, raw)
	}
	for _, got := range resp.Users {
		if strings.EqualFold(got.ID, u.ID) {
			return got, nil
		}
	}
	if len(resp.Users) == 1 {
		return resp.Users[0], nil
	}
	// A bare IdentityResult: read the user back.
	return c.GetUser(ctx, u.ID)
}

// identityFailure is the *Error for a 2xx whose IdentityResult says
// succeeded:false.
func identityFailure(r request, status int, body []byte) *Error {
	codes, fields, detail := parseErrorBody(body)
	return &Error{Op: r.op, Method: r.method, Path: r.path, StatusCode: status,
		Codes: codes, Fields: fields, Detail: detail}
}

// GetUser returns the user with id (GET /User/{id}). A missing user gives an
// *Error matching ErrNotFound.
func (c *Client) GetUser(ctx context.Context, id string) (User, error) {
	const op = "get user"
	if id == "" {
		return User{}, fmt.Errorf("upstream: %s: %w", op, errEmptyID)
	}
	var u User
	_, err := c.do(ctx, request{op: op, method: http.MethodGet, path: "/User/" + url.PathEscape(id), out: &u})
	return u, err
}

// SearchUsers returns one page of the organization's users whose name, email
// or userName contains term (GET /User/users/{partition}). An empty term
// lists everyone. top <= 0 means the client's page size (1000); the API
// rejects more than 1000, so larger values are lowered to 1000.
func (c *Client) SearchUsers(ctx context.Context, term string, top, skip int) (UserPage, error) {
	const op = "search users"
	pid, err := c.PartitionID(ctx)
	if err != nil {
		return UserPage{}, fmt.Errorf("%s: %w", op, err)
	}
	if top <= 0 {
		top = c.pageSize
	}
	q := url.Values{
		"top":  {strconv.Itoa(min(top, maxPageSize))},
		"skip": {strconv.Itoa(max(skip, 0))},
	}
	if term != "" {
		q.Set("searchTerm", term)
	}
	var page UserPage
	_, err = c.do(ctx, request{op: op, method: http.MethodGet, path: "/User/users/" + url.PathEscape(pid),
		query: q, out: &page})
	return page, err
}

// FindUserByUserName returns the user whose userName equals userName, ignoring
// case. The API only offers a substring search, so it pages through the
// search results and matches exactly here. No match gives ErrNotFound.
func (c *Client) FindUserByUserName(ctx context.Context, userName string) (User, error) {
	return c.findUser(ctx, "find user by userName", userName, func(u User) bool {
		return strings.EqualFold(u.UserName, userName)
	})
}

// FindUserByEmail is FindUserByUserName for the email address.
func (c *Client) FindUserByEmail(ctx context.Context, email string) (User, error) {
	return c.findUser(ctx, "find user by email", email, func(u User) bool {
		return strings.EqualFold(u.Email, email)
	})
}

func (c *Client) findUser(ctx context.Context, op, term string, match func(User) bool) (User, error) {
	if term == "" {
		return User{}, fmt.Errorf("upstream: %s: empty search term", op)
	}
	for skip := 0; ; {
		page, err := c.SearchUsers(ctx, term, c.pageSize, skip)
		if err != nil {
			return User{}, fmt.Errorf("%s: %w", op, err)
		}
		for _, u := range page.Results {
			if match(u) {
				return u, nil
			}
		}
		skip += len(page.Results)
		if len(page.Results) == 0 || skip >= page.TotalCount {
			return User{}, fmt.Errorf("%s: %w", op, ErrNotFound)
		}
		if err := ctx.Err(); err != nil {
			return User{}, fmt.Errorf("%s: %w", op, err)
		}
	}
}

// UpdateUser applies a partial update with PUT /User/{id}: only the non-nil
// fields of u change, and group deltas are idempotent. A 200 whose
// IdentityResult says succeeded:false becomes an *Error with Codes (e.g.
// CodeDuplicateEmail).
func (c *Client) UpdateUser(ctx context.Context, id string, u UserUpdate) error {
	const op = "update user"
	if id == "" {
		return fmt.Errorf("upstream: %s: %w", op, errEmptyID)
	}
	var raw json.RawMessage
	r := request{op: op, method: http.MethodPut, path: "/User/" + url.PathEscape(id), body: u, out: &raw}
	status, err := c.do(ctx, r)
	if err != nil {
		return err
	}
	var res struct {
		Succeeded *bool `json:"succeeded"`
	}
	if len(raw) > 0 && json.Unmarshal(raw, &res) == nil && res.Succeeded != nil && !*res.Succeeded {
		return identityFailure(r, status, raw)
	}
	return nil
}

// DeleteUser deletes the user with DELETE /User/{id}. A missing user gives
// an *Error matching ErrNotFound, except when an earlier attempt of the same
// call may have deleted it (its response was lost): that counts as success.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	const op = "delete user"
	if id == "" {
		return fmt.Errorf("upstream: %s: %w", op, errEmptyID)
	}
	_, err := c.do(ctx, request{op: op, method: http.MethodDelete, path: "/User/" + url.PathEscape(id)})
	return err
}
