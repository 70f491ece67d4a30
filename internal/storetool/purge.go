package storetool

import (
	"context"
	"errors"

	"github.com/scim-bridge/scim-bridge/cache"
)

// Purge deletes every user and group record of s, groups first. A record
// that is already gone is not an error.
func Purge(ctx context.Context, s cache.Store) error {
	for _, kind := range []cache.Kind{cache.KindGroup, cache.KindUser} {
		for {
			page, err := s.List(ctx, kind, 0, 1000)
			if err != nil {
				return err
			}
			if len(page.Records) == 0 {
				break
			}
			for _, rec := range page.Records {
				if err := s.Delete(ctx, kind, rec.ID); err != nil && !errors.Is(err, cache.ErrNotFound) {
					return err
				}
			}
		}
	}
	return nil
}
