package upstream

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// groupPath is /Group/{partition}[/{id}...] with each segment escaped.
func groupPath(pid string, rest ...string) string {
	p := "/Group/" + url.PathEscape(pid)
	for _, s := range rest {
		p += "/" + url.PathEscape(s)
	}
	return p
}

// ListGroups returns every local group of the organization
// (GET /Group/{partition}; not paged). Members are empty in list results.
func (c *Client) ListGroups(ctx context.Context) ([]Group, error) {
	const op = "list groups"
	pid, err := c.PartitionID(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var groups []Group
	_, err = c.do(ctx, request{op: op, method: http.MethodGet, path: groupPath(pid), out: &groups})
	return groups, err
}

// GetGroup returns the group with id (GET /Group/{partition}/{id}). Whether
// Members is filled is not reliable upstream; use GroupMembers. A missing
// group gives an *Error matching ErrNotFound.
func (c *Client) GetGroup(ctx context.Context, id string) (Group, error) {
	const op = "get group"
	if id == "" {
		return Group{}, fmt.Errorf("upstream: %s: %w", op, errEmptyID)
	}
	pid, err := c.PartitionID(ctx)
	if err != nil {
		return Group{}, fmt.Errorf("%s: %w", op, err)
	}
	var g Group
	_, err = c.do(ctx, request{op: op, method: http.MethodGet, path: groupPath(pid, id), out: &g})
	return g, err
}

// GroupMembers returns every local member of the group, paging through
// GET /Group/{partition}/{id}/Members with top=1000 until totalCount entries
// have been read. A missing group gives an *Error matching ErrNotFound.
func (c *Client) GroupMembers(ctx context.Context, id string) ([]MemberRef, error) {
	const op = "list group members"
	if id == "" {
		return nil, fmt.Errorf("upstream: %s: %w", op, errEmptyID)
	}
	pid, err := c.PartitionID(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	path := groupPath(pid, id, "Members")
	members := []MemberRef{}
	for {
		q := url.Values{"top": {strconv.Itoa(c.pageSize)}, "skip": {strconv.Itoa(len(members))}}
		var page MemberPage
		if _, err := c.do(ctx, request{op: op, method: http.MethodGet, path: path, query: q, out: &page}); err != nil {
			return nil, err
		}
		members = append(members, page.Results...)
		if len(page.Results) == 0 || len(members) >= page.TotalCount {
			return members, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
}

// CreateGroup creates a local group with POST /Group. id (a client-generated
// GUID) and name are required; memberIDs become its first members. Like
// CreateUser it is retried only on 429: after a 5xx or a timeout the group
// may exist, so check with GetGroup(id).
func (c *Client) CreateGroup(ctx context.Context, id, name string, memberIDs []string) (Group, error) {
	const op = "create group"
	if id == "" {
		return Group{}, fmt.Errorf("upstream: %s: %w", op, errEmptyID)
	}
	if name == "" {
		return Group{}, fmt.Errorf("upstream: %s %s: name is required", op, id)
	}
	pid, err := c.PartitionID(ctx)
	if err != nil {
		return Group{}, fmt.Errorf("%s: %w", op, err)
	}
	var g Group
	body := NewGroup{PartitionGlobalID: pid, ID: id, Name: name, DirectoryUserMemberIDs: memberIDs}
	if _, err := c.do(ctx, request{op: op, method: http.MethodPost, path: "/Group", body: body, out: &g}); err != nil {
		return Group{}, err
	}
	if g.ID == "" {
		return c.GetGroup(ctx, id)
	}
	return g, nil
}

// UpdateGroup renames the group and applies a membership delta with
// PUT /Group/{id}. name is required even when only membership changes (send
// the current name). Adding a member twice or removing a non-member is
// harmless, so the call is retried like any retry-safe call.
func (c *Client) UpdateGroup(ctx context.Context, id, name string, add, remove []string) (Group, error) {
	const op = "update group"
	if id == "" {
		return Group{}, fmt.Errorf("upstream: %s: %w", op, errEmptyID)
	}
	if name == "" {
		return Group{}, fmt.Errorf("upstream: %s %s: name is required", op, id)
	}
	pid, err := c.PartitionID(ctx)
	if err != nil {
		return Group{}, fmt.Errorf("%s: %w", op, err)
	}
	var g Group
	body := GroupUpdate{PartitionGlobalID: pid, Name: name, DirectoryUserIDsToAdd: add, DirectoryUserIDsToRemove: remove}
	r := request{op: op, method: http.MethodPut, path: "/Group/" + url.PathEscape(id), body: body, out: &g}
	if _, err := c.do(ctx, r); err != nil {
		return Group{}, err
	}
	if g.ID == "" {
		return c.GetGroup(ctx, id)
	}
	return g, nil
}

// DeleteGroup deletes the group with DELETE /Group/{partition}/{id}. A
// missing group gives an *Error matching ErrNotFound, except when an earlier
// attempt of the same call may have deleted it.
func (c *Client) DeleteGroup(ctx context.Context, id string) error {
	const op = "delete group"
	if id == "" {
		return fmt.Errorf("upstream: %s: %w", op, errEmptyID)
	}
	pid, err := c.PartitionID(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	_, err = c.do(ctx, request{op: op, method: http.MethodDelete, path: groupPath(pid, id)})
	return err
}
