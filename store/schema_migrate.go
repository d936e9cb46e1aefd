package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// migrate applies every step the database lacks, each in its own
// transaction, and refuses a database written by a newer Pforte.
func migrate(ctx context.Context, db *sql.DB, log *slog.Logger) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	if err := checkVersion(ctx, db); err != nil {
		return err
	}
	for _, m := range migrations {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", m.version).Scan(&n); err != nil {
			return fmt.Errorf("store: migration %d: %w", m.version, err)
		}
		if n > 0 {
			continue
		}
		if err := applyMigration(ctx, db, m); err != nil {
			return fmt.Errorf("store: migration %d (%s): %w", m.version, m.name, err)
		}
		log.Info("schema migrated", "version", m.version, "name", m.name)
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if m.rebuild {
		// foreign_keys cannot change inside a transaction.
		if _, err := conn.ExecContext(ctx, "PRAGMA foreign_keys = OFF"); err != nil {
			return err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), "PRAGMA foreign_keys = ON")
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if m.sql != "" {
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return err
		}
	}
	if m.code != nil {
		if err := m.code(ctx, tx); err != nil {
			return err
		}
	}
	if m.rebuild {
		rows, err := tx.QueryContext(ctx, "PRAGMA foreign_key_check")
		if err != nil {
			return err
		}
		broken := rows.Next()
		rows.Close()
		if broken {
			return errors.New("a reference points nowhere after the rebuild")
		}
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)",
		m.version, m.name, time.Now().Unix()); err != nil {
		return err
	}
	return tx.Commit()
}

// checkVersion refuses a database that has steps this binary does not know:
// a newer Pforte wrote it. Versions are compared one by one, not by the
// highest, because a newer release may add a step inside an older range.
func checkVersion(ctx context.Context, db *sql.DB) error {
	rows, err := db.QueryContext(ctx, "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		return fmt.Errorf("store: schema version: %w", err)
	}
	defer rows.Close()
	known := make(map[int]bool, len(migrations))
	for _, m := range migrations {
		known[m.version] = true
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return fmt.Errorf("store: schema version: %w", err)
		}
		if !known[v] {
			return fmt.Errorf("store: database has schema step %d, which this binary (schema %d) does not know: it was written by a newer pforte; run that one", v, SchemaVersion())
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: schema version: %w", err)
	}
	return nil
}
