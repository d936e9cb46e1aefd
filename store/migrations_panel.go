package store

// schemaPanel adds the admin panel's tables: accounts, sessions, the team's
// notes and labels on conversations, canned replies, and the indexes the
// inbox filters and the dashboard need to stay fast at a million messages.
const schemaPanel = `
CREATE TABLE users (
	id             INTEGER PRIMARY KEY,
	email          TEXT NOT NULL UNIQUE COLLATE NOCASE,
	name           TEXT NOT NULL DEFAULT '',
	role           TEXT NOT NULL CHECK (role IN ('admin', 'agent', 'auditor')),
	password_hash  TEXT NOT NULL DEFAULT '',   -- argon2id PHC string; empty until an invite is accepted
	totp_secret    BLOB,                        -- sealed with the data directory's key
	totp_enabled   INTEGER NOT NULL DEFAULT 0,
	totp_last_step INTEGER NOT NULL DEFAULT 0,  -- RFC 6238 §5.2: a code is accepted once
	recovery_codes TEXT NOT NULL DEFAULT '',    -- sha256 hex of unused codes, space separated
	lang           TEXT NOT NULL DEFAULT 'de',
	notify         INTEGER NOT NULL DEFAULT 0,
	disabled_at    INTEGER,
	created_at     INTEGER NOT NULL,
	updated_at     INTEGER NOT NULL
);

CREATE TABLE invites (
	id         INTEGER PRIMARY KEY,
	user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	token_hash BLOB NOT NULL UNIQUE,
	created_by INTEGER,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER
);

-- Server-side sessions: the cookie holds a random token, the table its hash.
CREATE TABLE sessions (
	id           INTEGER PRIMARY KEY,
	token_hash   BLOB NOT NULL UNIQUE,
	user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	mfa_pending  INTEGER NOT NULL DEFAULT 0,
	created_at   INTEGER NOT NULL,
	last_seen_at INTEGER NOT NULL,
	ip           TEXT NOT NULL DEFAULT '',
	user_agent   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE notes (
	id              INTEGER PRIMARY KEY,
	conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
	author_id       INTEGER REFERENCES users(id) ON DELETE SET NULL,
	body            TEXT NOT NULL,
	created_at      INTEGER NOT NULL
);
CREATE INDEX notes_conversation ON notes(conversation_id, created_at);

CREATE TABLE labels (
	id         INTEGER PRIMARY KEY,
	name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
	color      TEXT NOT NULL DEFAULT 'slate',
	created_at INTEGER NOT NULL
);

CREATE TABLE conversation_labels (
	conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
	label_id        INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
	PRIMARY KEY (conversation_id, label_id)
) WITHOUT ROWID;
CREATE INDEX conversation_labels_label ON conversation_labels(label_id, conversation_id);

CREATE TABLE canned_replies (
	id         INTEGER PRIMARY KEY,
	title      TEXT NOT NULL,
	body       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);

-- Template texts typed in by an admin (Meta's status webhooks carry only
-- name, language and status), so the composer can show parameter fields and
-- a preview. The status itself is derived from the events table.
CREATE TABLE template_texts (
	name       TEXT NOT NULL,
	language   TEXT NOT NULL,
	body       TEXT NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (name, language)
) WITHOUT ROWID;

-- Inbox filters sort by recency within a status or an assignee.
CREATE INDEX conversations_status ON conversations(status, last_message_at DESC);
CREATE INDEX conversations_assignee ON conversations(assignee_id, status, last_message_at DESC);
CREATE INDEX conversations_assignee_recent ON conversations(assignee_id, last_message_at DESC);
-- The unread badge is on every page: count it from a small partial index.
CREATE INDEX conversations_unread ON conversations(status) WHERE unread > 0;
-- The dashboard counts messages per day, and failed sends.
CREATE INDEX messages_ts ON messages(ts, direction);
CREATE INDEX messages_failed ON messages(ts) WHERE status = 'failed';
-- The delivery log counts what each delivery held.
CREATE INDEX events_delivery ON events(delivery_id);
`
