package upstream

import "log/slog"

// NewWithPageSize is New with a smaller page size for the reads that page
// internally (GroupMembers, FindUserBy...), so paging is cheap to test.
func NewWithPageSize(cfg Config, logger *slog.Logger, pageSize int) (*Client, error) {
	return newClient(cfg, logger, pageSize)
}

// SetJitter replaces the backoff jitter source (values in [0, 1)).
func SetJitter(c *Client, f func() float64) { c.jitter = f }
