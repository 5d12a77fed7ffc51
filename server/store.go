package server

import (
	"context"
	"fmt"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/postgres"
	"github.com/hotline-project/hotline/sqlite"
)

// Store is a node's store, on SQLite or PostgreSQL.
type Store interface {
	hotline.Store
	// SchemaVersion returns the schema version of the open store.
	SchemaVersion(ctx context.Context) (int, error)
}

// OpenStore opens the store of node directory d: on PostgreSQL if
// store.dsn or store.dsn_file is set, else the SQLite file at
// store.path. The CLI opens it this way too, while the node runs.
func OpenStore(ctx context.Context, d *config.Dir) (Store, error) {
	dsn, err := d.StoreDSN()
	if err != nil {
		return nil, err
	}
	if dsn == "" {
		return sqlite.Open(ctx, d.StorePath())
	}
	st, err := postgres.Open(ctx, dsn)
	if err != nil {
		setting := "store.dsn"
		if d.Config.Store.DSNFile != "" {
			setting = "store.dsn_file"
		}
		return nil, fmt.Errorf("%w (the PostgreSQL store %s of %s names)", err, setting, d.Path)
	}
	return st, nil
}

// storeName says where d's store is, for logs: the SQLite file, or the
// PostgreSQL DSN without its password.
func storeName(d *config.Dir) string {
	if dsn, err := d.StoreDSN(); err == nil && dsn != "" {
		return "PostgreSQL " + postgres.Redact(dsn)
	}
	return d.StorePath()
}
