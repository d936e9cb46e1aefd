package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// migration is one ordered schema step. Versions are grouped by area so that
// work on different parts of Pforte can add steps without renumbering:
// 1–99 core, 100–199 sending and media, 200–299 panel, 300–399 data protection.
type migration struct {
	version int
	name    string
	sql     string
	// rebuild marks a step that recreates a table other tables refer to.
	// It runs with foreign keys off, as SQLite's procedure for changing a
	// table requires (dropping the old table must not cascade), and
	// checks every reference before it commits.
	rebuild bool
}

// migrations lists every schema step in order. Never edit a released step;
// add a new one.
var migrations = []migration{
	{1, "core", schemaCore, false},
	{100, "outbox, uploads and alarms", schemaOutbox, false},
	{150, "fanout", schemaFanout, false},
	{160, "deliveries found again by their first message", schemaDeliveriesByAnchor, true},
	{200, "panel", schemaPanel, false},
	{300, "data protection", schemaDataProtection, false},
	{360, "restricted contacts index", schemaRestrictedIndex, false},
	{370, "drop indexes that repeat others", schemaDropRepeatedIndexes, false},
	{380, "ids are never handed out twice", "", true}, // see migrations_ids.go
	{390, "media found by Meta's id", schemaMediaByMetaID, false},
	{400, "templates known for good", schemaTemplates, false},
	{410, "subscription secrets sealed", schemaSealedSubscriptionSecrets, false},
}

// schemaDropRepeatedIndexes drops two indexes that another index already
// covers with the same leading columns (messages_ts, conversations_status).
// Every message insert and conversation update wrote both copies.
const schemaDropRepeatedIndexes = `
DROP INDEX IF EXISTS dp_messages_age;
DROP INDEX IF EXISTS dp_conversations_closed;
`

// SchemaVersion is the newest schema this binary knows.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

const schemaCore = `
CREATE TABLE business_numbers (
	id                   INTEGER PRIMARY KEY,
	phone_number_id      TEXT NOT NULL UNIQUE,
	waba_id              TEXT NOT NULL DEFAULT '',
	display_phone_number TEXT NOT NULL DEFAULT '',
	created_at           INTEGER NOT NULL
);

-- A customer. Since 2026 Meta may identify a person by phone number (wa_id),
-- by business-scoped user id (user_id), or both.
CREATE TABLE contacts (
	id             INTEGER PRIMARY KEY,
	wa_id          TEXT UNIQUE,
	user_id        TEXT UNIQUE,
	parent_user_id TEXT,
	username       TEXT,
	name           TEXT NOT NULL DEFAULT '',
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
);

CREATE TABLE conversations (
	id                 INTEGER PRIMARY KEY,
	business_number_id INTEGER NOT NULL REFERENCES business_numbers(id),
	contact_id         INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	status             TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
	assignee_id        INTEGER,
	last_inbound_at    INTEGER,          -- unix seconds of the customer's last message: the 24-hour window
	last_message_at    INTEGER NOT NULL,
	unread             INTEGER NOT NULL DEFAULT 0,
	created_at         INTEGER NOT NULL,
	updated_at         INTEGER NOT NULL,
	UNIQUE (business_number_id, contact_id)
);
CREATE INDEX conversations_recent ON conversations(last_message_at DESC);
CREATE INDEX conversations_contact ON conversations(contact_id);

-- The exact signed bodies, for audit and replay. Meta redelivers identical
-- bodies, so the digest deduplicates them.
CREATE TABLE deliveries (
	id          INTEGER PRIMARY KEY,
	sha256      BLOB NOT NULL UNIQUE,
	body        BLOB NOT NULL,
	received_at INTEGER NOT NULL,
	parse_error TEXT
);
CREATE INDEX deliveries_received ON deliveries(received_at);

-- AUTOINCREMENT keeps ids monotonic, which the search index relies on.
CREATE TABLE messages (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	wamid           TEXT UNIQUE,         -- NULL while an outbound message waits in the outbox
	conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
	direction       TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
	type            TEXT NOT NULL,
	text            TEXT,
	payload         TEXT,                -- the type's object as Meta sent (or was sent) it
	context         TEXT,
	referral        TEXT,
	errors          TEXT,
	extra           TEXT,                -- top-level properties Pforte does not know yet
	group_id        TEXT,
	status          TEXT,                -- outbound only
	status_at       INTEGER,
	ts              INTEGER NOT NULL,    -- Meta's timestamp, unix seconds
	created_at      INTEGER NOT NULL,
	delivery_id     INTEGER REFERENCES deliveries(id) ON DELETE SET NULL
);
CREATE INDEX messages_conversation ON messages(conversation_id, ts DESC, id DESC);
CREATE INDEX messages_delivery ON messages(delivery_id);

-- Every receipt Meta sent, once per (message, status). The message's
-- current status is derived from these, so arrival order does not matter.
CREATE TABLE message_statuses (
	id                INTEGER PRIMARY KEY,
	wamid             TEXT NOT NULL,
	status            TEXT NOT NULL,
	ts                INTEGER NOT NULL,
	recipient_wa_id   TEXT,
	recipient_user_id TEXT,
	errors            TEXT,
	pricing           TEXT,
	conversation      TEXT,
	callback_data     TEXT,
	delivery_id       INTEGER REFERENCES deliveries(id) ON DELETE SET NULL,
	received_at       INTEGER NOT NULL,
	UNIQUE (wamid, status)
);
CREATE INDEX message_statuses_delivery ON message_statuses(delivery_id);

-- Files attached to messages. Inbound rows start 'pending' and are fetched
-- from Meta in the background; path is relative to the media folder.
CREATE TABLE media (
	id              INTEGER PRIMARY KEY,
	message_id      INTEGER NOT NULL UNIQUE REFERENCES messages(id) ON DELETE CASCADE,
	media_id        TEXT NOT NULL DEFAULT '',
	mime_type       TEXT NOT NULL DEFAULT '',
	sha256          TEXT NOT NULL DEFAULT '',  -- as Meta sent it: base64 of the digest
	filename        TEXT NOT NULL DEFAULT '',
	size            INTEGER,
	path            TEXT,
	state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'stored', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT
);
CREATE INDEX media_queue ON media(state, next_attempt_at);
CREATE INDEX media_path ON media(path);

-- Everything else Meta sends: value.errors, template and account updates,
-- and fields this version does not know. Stored raw, never dropped.
CREATE TABLE events (
	id              INTEGER PRIMARY KEY,
	delivery_id     INTEGER REFERENCES deliveries(id) ON DELETE SET NULL,
	waba_id         TEXT NOT NULL DEFAULT '',
	field           TEXT NOT NULL,
	phone_number_id TEXT NOT NULL DEFAULT '',
	ts              INTEGER NOT NULL,
	value           TEXT NOT NULL,
	received_at     INTEGER NOT NULL
);
CREATE INDEX events_field ON events(field, ts);

CREATE TABLE api_keys (
	id           INTEGER PRIMARY KEY,
	name         TEXT NOT NULL,
	prefix       TEXT NOT NULL UNIQUE,   -- shown in lists so a key can be recognised
	hash         BLOB NOT NULL UNIQUE,   -- sha256 of the whole key; keys are random, so no slow hash is needed
	scopes       TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	last_used_at INTEGER,
	revoked_at   INTEGER
);

-- Who did what, when, from where; never message contents. Each row's hash
-- covers the previous row's, so editing or deleting a row breaks the chain.
CREATE TABLE audit_log (
	id       INTEGER PRIMARY KEY,
	ts       INTEGER NOT NULL,
	actor    TEXT NOT NULL,              -- "user:<id>", "apikey:<prefix>", "system", "cli"
	action   TEXT NOT NULL,              -- e.g. "login.failed", "contact.erase"
	target   TEXT NOT NULL DEFAULT '',
	detail   TEXT NOT NULL DEFAULT '',   -- JSON; counts and ids, never contents
	ip       TEXT NOT NULL DEFAULT '',
	prev     BLOB NOT NULL,
	hash     BLOB NOT NULL
);
CREATE INDEX audit_log_ts ON audit_log(ts);
CREATE INDEX audit_log_action ON audit_log(action, ts);

CREATE TABLE settings (
	key        TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	updated_at INTEGER NOT NULL
);

-- Full-text search over message texts. secure-delete makes deleted tokens
-- physically go away, which erasure depends on. New messages are indexed
-- in bulk at the end of each group commit (see indexNewMessages): one
-- INSERT ... SELECT per commit costs a fraction of a per-row trigger.
-- fts_state.watermark is the highest message id indexed; the triggers
-- keep rows at or below it in step with edits and deletions.
CREATE VIRTUAL TABLE messages_fts USING fts5(text, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2');
INSERT INTO messages_fts(messages_fts, rank) VALUES('secure-delete', 1);
CREATE TABLE fts_state (id INTEGER PRIMARY KEY CHECK (id = 1), watermark INTEGER NOT NULL);
INSERT INTO fts_state(id, watermark) VALUES (1, 0);
CREATE TRIGGER messages_fts_del AFTER DELETE ON messages
	WHEN old.text IS NOT NULL AND old.id <= (SELECT watermark FROM fts_state) BEGIN
	INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER messages_fts_upd AFTER UPDATE OF text ON messages
	WHEN old.id <= (SELECT watermark FROM fts_state) BEGIN
	INSERT INTO messages_fts(messages_fts, rowid, text) SELECT 'delete', old.id, old.text WHERE old.text IS NOT NULL;
	INSERT INTO messages_fts(rowid, text) SELECT new.id, new.text WHERE new.text IS NOT NULL;
END;
`

// schemaMediaByMetaID lets the proxy check a media id it is asked to relay
// (and the fetcher find a file again) without scanning every file.
const schemaMediaByMetaID = `CREATE INDEX media_meta_id ON media(media_id);`

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
	if code := migrationCode[m.version]; code != nil {
		if err := code(ctx, tx); err != nil {
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

// schemaDeliveriesByAnchor drops the unique index over every delivery's
// hash. Hashes are random, so each insert touched a different index page:
// under load that doubled the pages every commit wrote. A delivery that
// holds a message or a receipt is now found again through the first one,
// whose key is indexed anyway (see redelivery); only the others, and
// bodies whose first message came in another delivery, stay in the hash
// index (by_hash = 1).
const schemaDeliveriesByAnchor = `
CREATE TABLE deliveries_new (
	id            INTEGER PRIMARY KEY,
	sha256        BLOB NOT NULL,
	body          BLOB NOT NULL,
	received_at   INTEGER NOT NULL,
	parse_error   TEXT,
	fanout_events INTEGER NOT NULL DEFAULT 15,
	by_hash       INTEGER NOT NULL DEFAULT 1
);
INSERT INTO deliveries_new(id, sha256, body, received_at, parse_error, fanout_events)
	SELECT id, sha256, body, received_at, parse_error, fanout_events FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_new RENAME TO deliveries;
CREATE INDEX deliveries_received ON deliveries(received_at);
CREATE UNIQUE INDEX deliveries_by_hash ON deliveries(sha256) WHERE by_hash = 1;
`
