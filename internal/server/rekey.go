package server

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/idp/idp/internal/storage"
)

// rekeyEmails brings every user's stored email key to storage.EmailKey
// (Unicode NFKC, IDNA UTS #46 domain) at start-up, in pages: rows stored
// under an older key are migrated; pairs of accounts that the new key
// makes one (the same address in two forms) are reported, not merged —
// each keeps its old key until an operator resolves it (docs/security.md).
func rekeyEmails(ctx context.Context, store storage.EmailKeys, log *slog.Logger) error {
	var after int64
	updated := 0
	var conflicts []int64
	for {
		page, err := store.RekeyEmails(ctx, after, 1000)
		if err != nil {
			return fmt.Errorf("migrate email keys: %w", err)
		}
		updated += page.Updated
		conflicts = append(conflicts, page.Conflicts...)
		if page.Done {
			break
		}
		after = page.Next
	}
	if updated > 0 {
		log.Info("email keys migrated to the normalised form", "users", updated)
	}
	if len(conflicts) > 0 {
		log.Warn("accounts whose addresses normalise to another account's: kept apart under their old keys; resolve with idp users",
			"user_ids", conflicts)
	}
	return nil
}
