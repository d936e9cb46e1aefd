package store

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
)

// Ids never come back. Without AUTOINCREMENT SQLite hands out max(id)+1, so
// once the newest contact or conversation was erased, the next customer got
// its id, and a page still open on the erased one wrote to the new one.
// Step 380 rebuilds every table whose rows have an id with AUTOINCREMENT;
// ids then continue from the highest one in the table, and sqlite_sequence
// remembers them across deletions. A later table must be created with
// AUTOINCREMENT itself (TestEveryIDTableAutoincrements checks it).

// idTableExempt are rowid tables keyed by "id" whose ids never leave the
// database and are not handed out: fts_state has exactly one row.
var idTableExempt = map[string]bool{"fts_state": true}

var (
	createTableHead = regexp.MustCompile(`^(?i)CREATE\s+TABLE\s+("?)([A-Za-z_][A-Za-z0-9_]*)("?)\s*\(`)
	idPrimaryKey    = regexp.MustCompile(`(?i)\bid\s+INTEGER\s+PRIMARY\s+KEY\b`)
	autoincrement   = regexp.MustCompile(`(?i)\bAUTOINCREMENT\b`)
)

// idTablesWithoutAutoincrement lists the ordinary rowid tables whose
// primary key is an INTEGER column "id" not declared AUTOINCREMENT.
func idTablesWithoutAutoincrement(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT t.name, m.sql FROM pragma_table_list t JOIN sqlite_master m ON m.name = t.name AND m.type = 'table'
		WHERE t.schema = 'main' AND t.type = 'table' AND t.wr = 0 AND t.name NOT LIKE 'sqlite_%' ORDER BY t.name`)
	if err != nil {
		return nil, err
	}
	type table struct{ name, sql string }
	var all []table
	for rows.Next() {
		var t table
		if err := rows.Scan(&t.name, &t.sql); err != nil {
			rows.Close()
			return nil, err
		}
		all = append(all, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []string
	for _, t := range all {
		if idTableExempt[t.name] || autoincrement.MatchString(t.sql) {
			continue
		}
		var pk []string
		var idInteger bool
		cols, err := q.QueryContext(ctx, "SELECT name, upper(type) FROM pragma_table_info(?) WHERE pk > 0", t.name)
		if err != nil {
			return nil, err
		}
		for cols.Next() {
			var name, typ string
			if err := cols.Scan(&name, &typ); err != nil {
				cols.Close()
				return nil, err
			}
			pk = append(pk, name)
			idInteger = name == "id" && typ == "INTEGER"
		}
		cols.Close()
		if err := cols.Err(); err != nil {
			return nil, err
		}
		if len(pk) == 1 && idInteger {
			out = append(out, t.name)
		}
	}
	return out, nil
}

// rebuildWithAutoincrement follows SQLite's procedure for changing a table
// (https://sqlite.org/lang_altertable.html#otheralter) for each such table:
// create the new table from the stored definition plus AUTOINCREMENT, copy
// the rows with their ids, drop the old one, rename, and recreate its
// indexes and triggers. It runs with foreign keys off (migration.rebuild),
// so dropping a parent does not cascade; references name tables, so they
// point at the new table after the rename. Copying the rows with their ids
// sets sqlite_sequence to the highest id, and the rename carries it over.
func rebuildWithAutoincrement(ctx context.Context, tx *sql.Tx) error {
	tables, err := idTablesWithoutAutoincrement(ctx, tx)
	if err != nil {
		return err
	}
	for _, name := range tables {
		if err := rebuildTable(ctx, tx, name); err != nil {
			return fmt.Errorf("rebuild %s: %w", name, err)
		}
	}
	return nil
}

func rebuildTable(ctx context.Context, tx *sql.Tx, name string) error {
	var ddl string
	if err := tx.QueryRowContext(ctx, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", name).Scan(&ddl); err != nil {
		return err
	}
	tmp := name + "__autoincrement"
	head := createTableHead.FindStringSubmatchIndex(ddl)
	if head == nil {
		return fmt.Errorf("unexpected definition %.60q", ddl)
	}
	if locs := idPrimaryKey.FindAllStringIndex(ddl, -1); len(locs) != 1 {
		return fmt.Errorf("expected one \"id INTEGER PRIMARY KEY\" in %.60q, found %d", ddl, len(locs))
	}
	newDDL := `CREATE TABLE "` + tmp + `" (` + ddl[head[1]:]
	newDDL = idPrimaryKey.ReplaceAllStringFunc(newDDL, func(m string) string { return m + " AUTOINCREMENT" })

	// Indexes (not the automatic ones of UNIQUE constraints, which the new
	// definition creates itself) and triggers go with the old table.
	var recreate []string
	rows, err := tx.QueryContext(ctx, "SELECT sql FROM sqlite_master WHERE tbl_name = ? AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name", name)
	if err != nil {
		return err
	}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return err
		}
		recreate = append(recreate, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	var cols []string
	crow, err := tx.QueryContext(ctx, "SELECT name FROM pragma_table_xinfo(?) WHERE hidden = 0 ORDER BY cid", name)
	if err != nil {
		return err
	}
	for crow.Next() {
		var c string
		if err := crow.Scan(&c); err != nil {
			crow.Close()
			return err
		}
		cols = append(cols, `"`+c+`"`)
	}
	crow.Close()
	if err := crow.Err(); err != nil {
		return err
	}
	list := strings.Join(cols, ", ")
	for _, stmt := range []string{
		newDDL,
		fmt.Sprintf(`INSERT INTO "%s"(%s) SELECT %s FROM "%s" ORDER BY id`, tmp, list, list, name),
		fmt.Sprintf(`DROP TABLE "%s"`, name),
		fmt.Sprintf(`ALTER TABLE "%s" RENAME TO "%s"`, tmp, name),
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%.80s: %w", stmt, err)
		}
	}
	for _, stmt := range recreate {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%.80s: %w", stmt, err)
		}
	}
	return nil
}
