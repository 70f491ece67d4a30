package mapping

import (
	"context"

	"github.com/scim-bridge/scim-bridge/cache"
)

// Audit is the provisioner's audit helper, for tests.
func (p *Provisioner) Audit(ctx context.Context, e cache.AuditEntry) { p.audit(ctx, e) }
