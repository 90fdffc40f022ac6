package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/idp/idp/internal/config"
	"github.com/idp/idp/internal/server"
	"github.com/idp/idp/internal/storage"
)

// openStore is how every command except serve and migrate gets the store:
// it loads the configuration, opens the store it names if that exists and
// holds idp's current schema, and says on stderr which store it uses. It
// never creates or migrates a store: a missing one is an error naming the
// store looked for and how to point at the right one. Close the store
// when done.
func (a *app) openStore(ctx context.Context) (config.Config, storage.Store, *slog.Logger, error) {
	cfg, err := a.config()
	if err != nil {
		return cfg, nil, nil, err
	}
	log := a.logger(cfg)
	store, err := server.OpenExisting(ctx, cfg, log)
	if err != nil {
		return cfg, nil, nil, a.explainNoStore(err)
	}
	fmt.Fprintf(a.stderr, "store: %s\n", cfg.StoreName())
	return cfg, store, log, nil
}

// createStore opens the store, creating it if needed, and applies
// pending migrations: for serve and migrate only.
func (a *app) createStore(ctx context.Context, cfg config.Config, log *slog.Logger) (storage.Store, error) {
	store, err := server.OpenStore(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if err := server.Migrate(ctx, store); err != nil {
		store.Close()
		return nil, err
	}
	return store, nil
}

// explainNoStore turns a *server.NoStoreError into the message an
// operator needs: what was looked for, where that setting came from, and
// how to point at the right store.
func (a *app) explainNoStore(err error) error {
	var ns *server.NoStoreError
	if !errors.As(err, &ns) {
		return err
	}
	l, _ := a.resolve()
	var b strings.Builder
	if ns.Path != "" {
		fmt.Fprintf(&b, "no idp store at %s", l.Database.SQLitePath)
		if ns.Path != l.Database.SQLitePath {
			fmt.Fprintf(&b, " (%s)", ns.Path)
		}
		fmt.Fprintf(&b, ": %s\n  database.sqlite_path is from %s; database.url is not set\n", ns.Reason, l.Origins["database.sqlite_path"])
		b.WriteString("  point at the right store: run idp from the directory idp serve runs in, or pass\n")
		b.WriteString("  --sqlite-path PATH (IDP_DATABASE_SQLITE_PATH), or --database-url postgres://… (IDP_DATABASE_URL)")
	} else {
		fmt.Fprintf(&b, "no idp store in %s: %s\n  database.url is from %s\n", ns.Store, ns.Reason, l.Origins["database.url"])
		b.WriteString("  point at the right database with --database-url (IDP_DATABASE_URL)")
	}
	if ns.Version > 0 {
		b.WriteString("\n  or bring this one up to date: idp migrate (it changes the schema)")
	} else {
		b.WriteString("\n  or create a new, empty one there: idp migrate")
	}
	return errors.New(b.String())
}
