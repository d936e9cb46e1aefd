package store

import (
	"context"
	"database/sql"
)

// The database schema: every step in order, and each step's SQL right
// below the list as a const named schemaNNNName after its version. The
// SQL stays in Go rather than in embedded .sql files so that the list,
// the Go-code steps it points to and the SQL read as one file with no
// file-name parsing between them; TestReleasedSchemaStepsUnchanged pins
// the released SQL byte for byte.

// migration is one ordered schema step. Versions are grouped by area so that
// work on different parts of Pforte can add steps without renumbering:
// 1–99 core, 100–199 sending and media, 200–299 panel, 300–399 data protection.
type migration struct {
	version int
	name    string
	sql     string
	// code does what SQL alone cannot (work that depends on the schema
	// found, or fills a new table from old ones): Go run after sql, in the
	// same transaction.
	code func(context.Context, *sql.Tx) error
	// rebuild marks a step that recreates a table other tables refer to.
	// It runs with foreign keys off, as SQLite's procedure for changing a
	// table requires (dropping the old table must not cascade), and
	// checks every reference before it commits.
	rebuild bool
}

// migrations lists every schema step in order. Never edit a released step;
// add a new one.
var migrations = []migration{
	{version: 1, name: "core", sql: schema001Core},
	{version: 100, name: "outbox, uploads and alarms", sql: schema100Outbox},
	{version: 150, name: "fanout", sql: schema150Fanout},
	{version: 160, name: "deliveries found again by their first message", sql: schema160DeliveriesByAnchor, rebuild: true},
	{version: 200, name: "panel", sql: schema200Panel},
	{version: 300, name: "data protection", sql: schema300DataProtection},
	{version: 360, name: "restricted contacts index", sql: schema360RestrictedIndex},
	{version: 370, name: "drop indexes that repeat others", sql: schema370DropRepeatedIndexes},
	{version: 380, name: "ids are never handed out twice", code: rebuildWithAutoincrement, rebuild: true}, // schema_ids.go
	{version: 390, name: "media found by Meta's id", sql: schema390MediaByMetaID},
	{version: 400, name: "templates known for good", sql: schema400Templates, code: backfillTemplates}, // templates.go
	{version: 410, name: "subscription secrets sealed", sql: schema410SealedSubscriptionSecrets},
	{version: 420, name: "templates synced from Meta", sql: schema420TemplateSync},                                  // templatesync.go
	{version: 430, name: "address book: contact details, custom fields, contact labels", sql: schema430AddressBook}, // contactbook.go
	{version: 440, name: "campaigns", sql: schema440Campaigns},                                                      // campaigns.go
	{version: 441, name: "double opt-in", sql: schema441OptIn},                                                      // optin.go
	{version: 442, name: "retention class for campaigns", sql: schema442CampaignRetention, rebuild: true},
	{version: 450, name: "automations", sql: schema450Automations},
	{version: 455, name: "routing: teams, availability, rules, priority", sql: schema455Routing}, // routing.go
	{version: 460, name: "coexistence, groups and read receipts", sql: schema460CoexistenceGroups},
	{version: 461, name: "subscriptions that ask for the chat history", sql: schema461SubscriptionHistory},
	{version: 470, name: "number health, alarm mails and message pricing", sql: schema470Health},
	{version: 490, name: "single sign-on identities and passkeys", sql: schema490SSOPasskeys}, // sso.go
	{version: 500, name: "history chunks read from their raw delivery", sql: schema500HistoryFromDelivery},
}

// SchemaVersion is the newest schema this binary knows.
func SchemaVersion() int { return migrations[len(migrations)-1].version }

const schema001Core = `
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

// schema100Outbox is migration 100. Every outbound message is a messages row
// (wamid NULL until Meta accepts it) plus an outbox row that drives its
// delivery: queued → sending → accepted | failed | unknown. "unknown"
// means the request may have reached Meta and is never repeated blindly.
const schema100Outbox = `
CREATE TABLE outbox (
	id              INTEGER PRIMARY KEY,
	message_id      INTEGER NOT NULL UNIQUE REFERENCES messages(id) ON DELETE CASCADE,
	phone_number_id TEXT NOT NULL,
	pair_key        TEXT NOT NULL,          -- the customer: phone digits or user id; pacing and order
	body            BLOB NOT NULL,          -- the exact Meta request body; emptied once accepted
	state           TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'accepted', 'failed', 'unknown')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL DEFAULT 0,  -- unix milliseconds
	deadline        INTEGER,                     -- unix milliseconds; no attempt starts after it
	last_error      TEXT,                        -- Meta's error object (JSON) of the last attempt
	response        TEXT,                        -- Meta's answer on success
	actor           TEXT NOT NULL DEFAULT '',    -- "apikey:<prefix>", "user:<id>", …
	idempotency_key TEXT UNIQUE,
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);
CREATE INDEX outbox_pair ON outbox(pair_key, id);

-- Files uploaded to Meta through Pforte, kept under media/ by content hash.
CREATE TABLE uploads (
	id              INTEGER PRIMARY KEY,
	media_id        TEXT NOT NULL UNIQUE,
	phone_number_id TEXT NOT NULL,
	mime_type       TEXT NOT NULL,
	sha256          TEXT NOT NULL,               -- base64 of the digest, as Meta writes it
	size            INTEGER NOT NULL,
	filename        TEXT NOT NULL DEFAULT '',
	path            TEXT NOT NULL,               -- relative to media/
	deleted_at      INTEGER,                     -- deleted at Meta
	created_at      INTEGER NOT NULL
);
CREATE INDEX uploads_path ON uploads(path);

-- Conditions an admin must see (e.g. an expired access token). A row is
-- present while the condition lasts.
CREATE TABLE alarms (
	key       TEXT PRIMARY KEY,
	message   TEXT NOT NULL,
	raised_at INTEGER NOT NULL,
	count     INTEGER NOT NULL DEFAULT 1
);
`

// schema150Fanout is migration 150: subscriptions of the company's own systems
// and the durable queue that forwards deliveries to them.
const schema150Fanout = `
-- A system that receives every verified delivery it subscribed to, signed
-- with its own secret. events is a bit set: 1 messages, 2 statuses,
-- 4 errors, 8 other fields. Times ending in _at are unix milliseconds.
CREATE TABLE subscriptions (
	id              INTEGER PRIMARY KEY,
	name            TEXT NOT NULL DEFAULT '',
	url             TEXT NOT NULL,
	secret          TEXT NOT NULL,   -- only sealSecret/openSecret touch this
	events          INTEGER NOT NULL CHECK (events BETWEEN 1 AND 15),
	enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	delivered_total INTEGER NOT NULL DEFAULT 0,
	failed_total    INTEGER NOT NULL DEFAULT 0,   -- failed attempts
	dead_total      INTEGER NOT NULL DEFAULT 0,
	last_success_at INTEGER,
	last_error      TEXT,
	last_error_at   INTEGER,
	last_status     INTEGER
);

-- Which event classes a delivery holds, so that a replay by time range
-- applies the same filter as live fan-out. Older rows count as all classes.
ALTER TABLE deliveries ADD COLUMN fanout_events INTEGER NOT NULL DEFAULT 15;

-- One row per (subscription, delivery) still to forward or given up on.
-- Forwarded rows are deleted. Each subscription gets its rows in delivery
-- order, one at a time.
CREATE TABLE fanout_queue (
	subscription_id INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
	delivery_id     INTEGER NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
	state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	enqueued_at     INTEGER NOT NULL,             -- the 7-day limit counts from here
	next_attempt_at INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT,
	PRIMARY KEY (subscription_id, delivery_id)
) WITHOUT ROWID;
CREATE INDEX fanout_queue_pending ON fanout_queue(subscription_id, delivery_id) WHERE state = 'pending';
CREATE INDEX fanout_queue_delivery ON fanout_queue(delivery_id);
`

// schema160DeliveriesByAnchor drops the unique index over every delivery's
// hash. Hashes are random, so each insert touched a different index page:
// under load that doubled the pages every commit wrote. A delivery that
// holds a message or a receipt is now found again through the first one,
// whose key is indexed anyway (see redelivery); only the others, and
// bodies whose first message came in another delivery, stay in the hash
// index (by_hash = 1).
const schema160DeliveriesByAnchor = `
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

// schema200Panel adds the admin panel's tables: accounts, sessions, the team's
// notes and labels on conversations, canned replies, and the indexes the
// inbox filters and the dashboard need to stay fast at a million messages.
const schema200Panel = `
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

// schema300DataProtection adds retention policies, legal holds, consent
// records, erasure requests and tombstones, and secure one-time links.
const schema300DataProtection = `
-- How long each class of data is kept. business_number_id NULL is the
-- default; a row for a number overrides it. days = 0 keeps forever.
CREATE TABLE retention_policies (
	id                 INTEGER PRIMARY KEY,
	class              TEXT NOT NULL CHECK (class IN ('messages', 'media', 'deliveries', 'closed_conversations',
	                       'audit', 'outbox', 'fanout', 'secure_links')),
	business_number_id INTEGER REFERENCES business_numbers(id) ON DELETE CASCADE,
	days               INTEGER NOT NULL CHECK (days >= 0),
	updated_at         INTEGER NOT NULL,
	updated_by         TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX retention_policies_key ON retention_policies(class, coalesce(business_number_id, 0));

-- Privacy by default: a fresh install deletes chats after 180 days, media
-- after 90, raw deliveries after 30 (Meta keeps its copy up to 30 days too).
INSERT INTO retention_policies(class, days, updated_at, updated_by) VALUES
	('messages', 180, unixepoch(), 'default'),
	('media', 90, unixepoch(), 'default'),
	('deliveries', 30, unixepoch(), 'default'),
	('closed_conversations', 365, unixepoch(), 'default'),
	('audit', 730, unixepoch(), 'default'),
	('outbox', 30, unixepoch(), 'default'),
	('fanout', 14, unixepoch(), 'default'),
	('secure_links', 30, unixepoch(), 'default');

-- A legal hold exempts a contact or one conversation from retention and
-- turns an erasure request into a restriction (Art. 18, § 35(3) BDSG).
-- until NULL holds indefinitely; released_at ends it early.
CREATE TABLE legal_holds (
	id              INTEGER PRIMARY KEY,
	contact_id      INTEGER REFERENCES contacts(id) ON DELETE CASCADE,
	conversation_id INTEGER REFERENCES conversations(id) ON DELETE CASCADE,
	preset          TEXT NOT NULL DEFAULT '',
	reason          TEXT NOT NULL,
	until           INTEGER,
	created_by      TEXT NOT NULL,
	created_at      INTEGER NOT NULL,
	released_by     TEXT,
	released_at     INTEGER,
	CHECK ((contact_id IS NULL) <> (conversation_id IS NULL))
);
CREATE INDEX legal_holds_contact ON legal_holds(contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX legal_holds_conversation ON legal_holds(conversation_id) WHERE conversation_id IS NOT NULL;

-- Consent per customer and purpose; the newest record per purpose counts.
CREATE TABLE consent_records (
	id          INTEGER PRIMARY KEY,
	contact_id  INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	purpose     TEXT NOT NULL CHECK (purpose IN ('service', 'marketing')),
	action      TEXT NOT NULL CHECK (action IN ('opt_in', 'opt_out')),
	source      TEXT NOT NULL,
	evidence    TEXT NOT NULL DEFAULT '',
	actor       TEXT NOT NULL DEFAULT '',
	ts          INTEGER NOT NULL,
	reply_state TEXT CHECK (reply_state IN ('pending', 'sent'))
);
CREATE INDEX consent_records_contact ON consent_records(contact_id, purpose, ts);
CREATE INDEX consent_records_reply ON consent_records(reply_state) WHERE reply_state = 'pending';

-- Erasure requests: a restricted one waits for its legal hold to expire; a
-- running one is resumed after a crash. No personal data: the subject is
-- the keyed hash, contact_id an internal number.
CREATE TABLE erasure_requests (
	id           INTEGER PRIMARY KEY,
	contact_id   INTEGER,
	subject      TEXT NOT NULL,
	state        TEXT NOT NULL CHECK (state IN ('running', 'restricted', 'done')),
	actor        TEXT NOT NULL,
	reason       TEXT NOT NULL DEFAULT '',
	requested_at INTEGER NOT NULL,
	completed_at INTEGER
);
CREATE INDEX erasure_requests_state ON erasure_requests(state);

-- Tombstones: keyed hashes of every identifier of an erased person, so that
-- a restored backup can be erased again.
CREATE TABLE erasure_tombstones (
	hash      TEXT PRIMARY KEY,
	erased_at INTEGER NOT NULL
);

-- One-time links to a small answer page, for data that should not travel
-- through WhatsApp. Only the token's hash is kept.
CREATE TABLE secure_links (
	id              INTEGER PRIMARY KEY,
	token_hash      BLOB NOT NULL UNIQUE,
	conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
	prompt          TEXT NOT NULL,
	created_by      TEXT NOT NULL,
	created_at      INTEGER NOT NULL,
	expires_at      INTEGER NOT NULL,
	used_at         INTEGER,
	message_id      INTEGER REFERENCES messages(id) ON DELETE SET NULL
);
CREATE INDEX secure_links_conversation ON secure_links(conversation_id);

-- Retention scans by age; erasure and the SET NULL of purged deliveries by delivery.
-- Names carry a dp_ prefix and IF NOT EXISTS, so that another area's step
-- creating the same index cannot collide with this one.
CREATE INDEX IF NOT EXISTS dp_messages_age ON messages(ts); -- dropped again in step 370
CREATE INDEX IF NOT EXISTS dp_events_delivery ON events(delivery_id);
CREATE INDEX IF NOT EXISTS dp_events_received ON events(received_at);
CREATE INDEX IF NOT EXISTS dp_message_statuses_ts ON message_statuses(ts);
CREATE INDEX IF NOT EXISTS dp_message_statuses_recipient ON message_statuses(recipient_wa_id);
CREATE INDEX IF NOT EXISTS dp_conversations_closed ON conversations(status, last_message_at); -- dropped again in step 370
`

// schema360RestrictedIndex makes "is this contact restricted?" one probe, so
// that every inbox row and list can ask it.
const schema360RestrictedIndex = `
CREATE INDEX IF NOT EXISTS dp_erasure_requests_restricted ON erasure_requests(contact_id) WHERE state = 'restricted';
`

// schema370DropRepeatedIndexes drops two indexes that another index already
// covers with the same leading columns (messages_ts, conversations_status).
// Every message insert and conversation update wrote both copies.
const schema370DropRepeatedIndexes = `
DROP INDEX IF EXISTS dp_messages_age;
DROP INDEX IF EXISTS dp_conversations_closed;
`

// schema390MediaByMetaID lets the proxy check a media id it is asked to relay
// (and the fetcher find a file again) without scanning every file.
const schema390MediaByMetaID = `CREATE INDEX media_meta_id ON media(media_id);`

// schema400Templates is migration 400. Templates used to be derived from the
// raw template webhooks in events, which go with the deliveries after the
// retention period (30 days by default): the panel then no longer offered
// an approved template and the consent check no longer knew a marketing
// one. Template knowledge now lives in its own table, which retention never
// purges. It holds no personal data (names, texts and categories the
// business wrote; no customer appears in a template webhook), so erasure
// and the subject access export leave it alone, and it is no processing
// activity of its own in the Art. 30 record (processing.go).
const schema400Templates = `
CREATE TABLE templates (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	waba_id       TEXT NOT NULL DEFAULT '',   -- '' for a template entered by hand
	name          TEXT NOT NULL,
	language      TEXT NOT NULL,              -- as Meta wrote it (en-US or en_US)
	template_id   TEXT NOT NULL DEFAULT '',   -- Meta's message_template_id
	category      TEXT NOT NULL DEFAULT '',   -- MARKETING, UTILITY, AUTHENTICATION; '' unknown
	category_by   TEXT NOT NULL DEFAULT '' CHECK (category_by IN ('', 'meta', 'admin')),
	category_at   INTEGER NOT NULL DEFAULT 0, -- unix seconds of the report that set category
	status        TEXT NOT NULL DEFAULT '',   -- Meta's newest event: APPROVED, PAUSED, ...
	reason        TEXT NOT NULL DEFAULT '',
	detail        TEXT NOT NULL DEFAULT '',
	status_at     INTEGER NOT NULL DEFAULT 0,
	quality       TEXT NOT NULL DEFAULT '',   -- GREEN, YELLOW, RED, UNKNOWN
	quality_at    INTEGER NOT NULL DEFAULT 0,
	components    TEXT,                       -- JSON of the newest components update, if any
	components_at INTEGER NOT NULL DEFAULT 0,
	updated_at    INTEGER NOT NULL,           -- unix seconds of the newest report of any kind
	UNIQUE (waba_id, name, language)
);
CREATE INDEX templates_name ON templates(name);
`

// schema410SealedSubscriptionSecrets is migration 410: subscription secrets
// are kept sealed (AES-256-GCM with the data directory's key, like TOTP
// seeds and Meta's credentials) in secret_sealed; the old secret column is
// emptied. sealLegacySecrets seals the rows older versions wrote when the
// store opens, so a copy of pforte.db or a backup alone does not reveal
// them.
const schema410SealedSubscriptionSecrets = `
ALTER TABLE subscriptions ADD COLUMN secret_sealed BLOB;
`

// schema442CampaignRetention is migration 442: finished campaigns (their
// recipient rows hold only ids and statuses) get a retention class of
// their own, two years by default, as proof of what was sent to whom
// under which consent. The class list is a CHECK, so the small table is
// rebuilt; nothing refers to it.
const schema442CampaignRetention = `
CREATE TABLE retention_policies_new (
	id                 INTEGER PRIMARY KEY AUTOINCREMENT,
	class              TEXT NOT NULL CHECK (class IN ('messages', 'media', 'deliveries', 'closed_conversations',
	                       'audit', 'outbox', 'fanout', 'secure_links', 'campaigns')),
	business_number_id INTEGER REFERENCES business_numbers(id) ON DELETE CASCADE,
	days               INTEGER NOT NULL CHECK (days >= 0),
	updated_at         INTEGER NOT NULL,
	updated_by         TEXT NOT NULL DEFAULT ''
);
INSERT INTO retention_policies_new SELECT id, class, business_number_id, days, updated_at, updated_by FROM retention_policies;
DROP TABLE retention_policies;
ALTER TABLE retention_policies_new RENAME TO retention_policies;
CREATE UNIQUE INDEX retention_policies_key ON retention_policies(class, coalesce(business_number_id, 0));
INSERT INTO retention_policies(class, days, updated_at, updated_by) VALUES ('campaigns', 730, unixepoch(), 'default');
`

// schema460CoexistenceGroups is migration 460: what the WhatsApp Business
// app on the owner's phone sends (echoes, the chat history, address-book
// names, edits and revokes), WhatsApp groups, and per-number switches for
// read receipts and the typing indicator.
//
// A group is held as a stand-in contact (group_id set, name = subject), so
// its conversation, window and composer work like any other; the member who
// wrote a group message is messages.sender_contact_id, and erasing that
// member removes their group messages with them.
const schema460CoexistenceGroups = `
ALTER TABLE business_numbers ADD COLUMN read_receipts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE business_numbers ADD COLUMN typing_indicator INTEGER NOT NULL DEFAULT 1;
ALTER TABLE contacts ADD COLUMN group_id TEXT;
CREATE UNIQUE INDEX contacts_group ON contacts(group_id) WHERE group_id IS NOT NULL;
-- origin: NULL = live through the Cloud API; 'phone' = sent from the
-- Business app (echo); 'history' = imported chat history; 'group_event' =
-- a group lifecycle, participant or settings update.
ALTER TABLE messages ADD COLUMN origin TEXT;
ALTER TABLE messages ADD COLUMN sender_contact_id INTEGER REFERENCES contacts(id) ON DELETE CASCADE;
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN revoked_at INTEGER;
CREATE INDEX messages_sender ON messages(sender_contact_id) WHERE sender_contact_id IS NOT NULL;

-- What a message said before the customer (or owner) edited or revoked it:
-- kept with the message, under its retention, for the record of what the
-- agent saw when answering.
CREATE TABLE message_revisions (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
	kind       TEXT NOT NULL CHECK (kind IN ('edit', 'revoke')),
	wamid      TEXT NOT NULL UNIQUE,   -- the edit or revoke itself: applied once
	text       TEXT,                   -- the text before the change
	at         INTEGER NOT NULL
);
CREATE INDEX message_revisions_message ON message_revisions(message_id);

CREATE TABLE group_participants (
	id               INTEGER PRIMARY KEY AUTOINCREMENT,
	group_contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	contact_id       INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	joined_at        INTEGER NOT NULL,
	left_at          INTEGER,
	UNIQUE (group_contact_id, contact_id)
);
CREATE INDEX group_participants_contact ON group_participants(contact_id);

-- History chunks wait here until imported in small steps; value (Meta's
-- chunk, personal data) is emptied once the chunk is imported.
CREATE TABLE history_chunks (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	chunk_key       TEXT NOT NULL UNIQUE,   -- number, phase and chunk order: a repeat is a no-op
	phone_number_id TEXT NOT NULL,
	waba_id         TEXT NOT NULL DEFAULT '',
	display_number  TEXT NOT NULL DEFAULT '',
	phase           INTEGER NOT NULL,
	chunk_order     INTEGER NOT NULL,
	progress        INTEGER NOT NULL DEFAULT 0,
	value           TEXT,
	done            INTEGER NOT NULL DEFAULT 0,   -- messages handled: where an interrupted import resumes
	imported        INTEGER NOT NULL DEFAULT 0,
	skipped         INTEGER NOT NULL DEFAULT 0,   -- erased people's messages, never imported
	state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'imported', 'declined')),
	received_at     INTEGER NOT NULL,
	imported_at     INTEGER
);
CREATE INDEX history_chunks_pending ON history_chunks(state, phase, chunk_order) WHERE state = 'pending';
`

// schema470Health is migration 470: what Meta says about each business
// number's health (webhooks and periodic Graph reads), the alarm e-mails
// waiting to go out, and each sent message's pricing in columns that the
// cost page can group by.
const schema470Health = `
-- One row per business number: the newest of each attribute, from webhooks
-- (phone_number_quality_update, account_update, business_capability_update)
-- and from GET /{phone_number_id}. No personal data.
CREATE TABLE number_health (
	phone_number_id      TEXT PRIMARY KEY,
	waba_id              TEXT NOT NULL DEFAULT '',
	quality_rating       TEXT NOT NULL DEFAULT '',
	messaging_limit_tier TEXT NOT NULL DEFAULT '',
	throughput           TEXT NOT NULL DEFAULT '',
	name_status          TEXT NOT NULL DEFAULT '',
	verified_name        TEXT NOT NULL DEFAULT '',
	account_status       TEXT NOT NULL DEFAULT '',
	storage_status       TEXT NOT NULL DEFAULT '',
	storage_region       TEXT NOT NULL DEFAULT '',
	last_webhook_at      INTEGER,
	read_at              INTEGER,
	read_error           TEXT NOT NULL DEFAULT '',
	updated_at           INTEGER NOT NULL
);

-- Alarm e-mails: one when an alarm is raised, one when it clears. Sent
-- rows are kept 30 days for the panel, then deleted by the mailer.
CREATE TABLE alarm_mails (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	alarm_key       TEXT NOT NULL,
	kind            TEXT NOT NULL CHECK (kind IN ('raised', 'resolved')),
	message         TEXT NOT NULL,
	created_at      INTEGER NOT NULL,
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	sent_at         INTEGER,
	last_error      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX alarm_mails_pending ON alarm_mails(next_attempt_at) WHERE sent_at IS NULL;

-- Rates per country calling code and pricing category, in the admin's
-- currency per message, with the date the admin (or the shipped default)
-- took them from Meta's rate card.
CREATE TABLE pricing_rates (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	country_code TEXT NOT NULL,
	category     TEXT NOT NULL,
	currency     TEXT NOT NULL DEFAULT 'EUR',
	rate_micros  INTEGER NOT NULL CHECK (rate_micros >= 0),
	valid_from   TEXT NOT NULL,
	updated_at   INTEGER NOT NULL,
	UNIQUE (country_code, category)
);
`

// schema490SSOPasskeys is migration 490: single sign-on and passkeys.
// user_identities links an account to one provider's subject (issuer +
// sub: the only stable key an OIDC provider promises); passkeys keeps
// each WebAuthn credential's public key and signature counter (a counter
// going backwards means a cloned authenticator). Both hang off users with
// ON DELETE CASCADE. A session started through a provider keeps that
// provider's refresh token and ID token sealed, to re-check the account
// at the provider and to end the provider's session at logout.
const schema490SSOPasskeys = `
CREATE TABLE user_identities (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	issuer        TEXT NOT NULL,
	subject       TEXT NOT NULL,
	email         TEXT NOT NULL DEFAULT '',   -- as the provider last reported it
	created_at    INTEGER NOT NULL,
	last_login_at INTEGER NOT NULL DEFAULT 0,
	UNIQUE (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities(user_id);

CREATE TABLE passkeys (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	name          TEXT NOT NULL,
	credential_id BLOB NOT NULL UNIQUE,
	credential    TEXT NOT NULL,              -- JSON: public key, sign counter, flags, transports
	created_at    INTEGER NOT NULL,
	last_used_at  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX passkeys_user ON passkeys(user_id);

ALTER TABLE sessions ADD COLUMN sso_identity_id INTEGER REFERENCES user_identities(id) ON DELETE CASCADE;
ALTER TABLE sessions ADD COLUMN sso_refresh BLOB;    -- sealed refresh token
ALTER TABLE sessions ADD COLUMN sso_id_token BLOB;   -- sealed ID token, the hint for RP-initiated logout
ALTER TABLE sessions ADD COLUMN sso_checked_at INTEGER NOT NULL DEFAULT 0;
`

// schema450Automations is migration 450: business hours and automatic
// replies per business number (automation_settings holds each setting as
// the JSON the API takes, so the API, the panel and the worker read one
// shape), a record of every automatic message (rate limits, "welcome
// once", the dashboard's cost), and the bot-handover flag. Rows of
// automation_sends go with their message (retention) and conversation
// (erasure); the settings hold no personal data.
const schema450Automations = `
CREATE TABLE automation_settings (
	id                 INTEGER PRIMARY KEY AUTOINCREMENT,
	business_number_id INTEGER NOT NULL REFERENCES business_numbers(id) ON DELETE CASCADE,
	kind               TEXT NOT NULL CHECK (kind IN ('hours', 'welcome', 'away', 'waiting', 'nudge', 'csat')),
	spec               TEXT NOT NULL,
	updated_at         INTEGER NOT NULL,
	UNIQUE (business_number_id, kind)
);
CREATE TABLE automation_sends (
	id                 INTEGER PRIMARY KEY AUTOINCREMENT,
	conversation_id    INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
	message_id         INTEGER NOT NULL UNIQUE REFERENCES messages(id) ON DELETE CASCADE,
	rule               TEXT NOT NULL,
	trigger_message_id INTEGER,
	created_at         INTEGER NOT NULL
);
CREATE INDEX automation_sends_conversation ON automation_sends(conversation_id, rule, created_at);
ALTER TABLE conversations ADD COLUMN bot_active INTEGER NOT NULL DEFAULT 0;
-- Satisfaction surveys: one per close of a conversation on a number with
-- the survey on. The answer (score, optional comment) goes with the
-- conversation (retention of closed conversations, erasure).
CREATE TABLE csat_surveys (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
	assignee_id     INTEGER,
	state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'answered', 'skipped')),
	message_id      INTEGER REFERENCES messages(id) ON DELETE SET NULL,
	score           INTEGER,
	max_score       INTEGER,
	comment         TEXT,
	closed_at       INTEGER NOT NULL,
	answered_at     INTEGER
);
CREATE INDEX csat_surveys_state ON csat_surveys(state, conversation_id);
`

// schema420TemplateSync is migration 420: templates are listed from Meta
// (GET /{waba_id}/message_templates) rather than only learnt from
// webhooks. A template that disappears at Meta keeps its row with
// deleted_at set, since sent messages still name it. Still no personal
// data, still never purged by retention (see schema400Templates).
const schema420TemplateSync = `
ALTER TABLE templates ADD COLUMN parameter_format TEXT NOT NULL DEFAULT '';  -- POSITIONAL or NAMED
ALTER TABLE templates ADD COLUMN library_name TEXT NOT NULL DEFAULT '';      -- Meta's library template it was made from
ALTER TABLE templates ADD COLUMN synced_at INTEGER NOT NULL DEFAULT 0;       -- unix seconds of the last listing that had it
ALTER TABLE templates ADD COLUMN deleted_at INTEGER NOT NULL DEFAULT 0;      -- unix seconds it was found gone at Meta (or deleted from Pforte)
CREATE INDEX templates_waba ON templates(waba_id, deleted_at);
`

// schema430AddressBook is migration 430: contacts become an address book.
// E-mail, company and a note live on the contact row, so erasure's DELETE
// of the row takes them. Admins define custom fields; their values and the
// labels on a contact hang off contacts with ON DELETE CASCADE, so erasure
// and merges need no list of their own. Labels reuse the conversations'
// vocabulary (labels). The indexes serve the list filters: a label's
// contacts and "field equals value" are one index range each.
const schema430AddressBook = `
ALTER TABLE contacts ADD COLUMN email TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN company TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN note TEXT NOT NULL DEFAULT '';
CREATE TABLE contact_fields (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	key        TEXT NOT NULL UNIQUE,           -- the API's and the CSV's name: lower case, a-z 0-9 _
	label      TEXT NOT NULL,                  -- what the panel shows
	kind       TEXT NOT NULL CHECK (kind IN ('text', 'number', 'date', 'choice')),
	choices    TEXT NOT NULL DEFAULT '[]',     -- JSON array of strings, for kind choice
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE TABLE contact_field_values (
	contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	field_id   INTEGER NOT NULL REFERENCES contact_fields(id) ON DELETE CASCADE,
	value      TEXT NOT NULL,                  -- canonical: numbers as written by strconv, dates YYYY-MM-DD
	PRIMARY KEY (contact_id, field_id)
) WITHOUT ROWID;
CREATE INDEX contact_field_values_match ON contact_field_values(field_id, value, contact_id);
CREATE TABLE contact_labels (
	contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	label_id   INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
	PRIMARY KEY (contact_id, label_id)
) WITHOUT ROWID;
CREATE INDEX contact_labels_label ON contact_labels(label_id, contact_id);

-- Substring search over the address book at 100 000 contacts: a trigram
-- index (any 3 characters, "mül" finds Müller and Mueller's number
-- alike). secure-delete makes an erased contact's tokens physically go
-- away. The update trigger fires only when an indexed column changed,
-- so the ingest path's contact updates cost nothing extra.
CREATE VIRTUAL TABLE contacts_fts USING fts5(name, email, company, wa_id, user_id, username,
	content='contacts', content_rowid='id', tokenize='trigram remove_diacritics 1');
INSERT INTO contacts_fts(contacts_fts, rank) VALUES('secure-delete', 1);
INSERT INTO contacts_fts(contacts_fts) VALUES('rebuild');
CREATE TRIGGER contacts_fts_ins AFTER INSERT ON contacts BEGIN
	INSERT INTO contacts_fts(rowid, name, email, company, wa_id, user_id, username)
	VALUES (new.id, new.name, new.email, new.company, new.wa_id, new.user_id, new.username);
END;
CREATE TRIGGER contacts_fts_del AFTER DELETE ON contacts BEGIN
	INSERT INTO contacts_fts(contacts_fts, rowid, name, email, company, wa_id, user_id, username)
	VALUES ('delete', old.id, old.name, old.email, old.company, old.wa_id, old.user_id, old.username);
END;
CREATE TRIGGER contacts_fts_upd AFTER UPDATE OF name, email, company, wa_id, user_id, username ON contacts
	WHEN old.name IS NOT new.name OR old.email IS NOT new.email OR old.company IS NOT new.company
		OR old.wa_id IS NOT new.wa_id OR old.user_id IS NOT new.user_id OR old.username IS NOT new.username BEGIN
	INSERT INTO contacts_fts(contacts_fts, rowid, name, email, company, wa_id, user_id, username)
	VALUES ('delete', old.id, old.name, old.email, old.company, old.wa_id, old.user_id, old.username);
	INSERT INTO contacts_fts(rowid, name, email, company, wa_id, user_id, username)
	VALUES (new.id, new.name, new.email, new.company, new.wa_id, new.user_id, new.username);
END;
`

// schema461SubscriptionHistory is migration 461: event classes beyond the
// four the events column's CHECK allows (the coexistence history) are kept
// in events_extra; a subscription's classes are events | events_extra.
const schema461SubscriptionHistory = `
ALTER TABLE subscriptions ADD COLUMN events_extra INTEGER NOT NULL DEFAULT 0;
`

// schema500HistoryFromDelivery is migration 500: a history chunk that is
// part of its webhook's body verbatim is no longer copied into value; the
// importer reads it from the raw delivery (delivery_id), so the writer
// stores a ~250 KB chunk once, not twice, while live webhooks wait.
// Retention keeps a raw delivery while a chunk in it waits (the index).
const schema500HistoryFromDelivery = `
ALTER TABLE history_chunks ADD COLUMN delivery_id INTEGER;
CREATE INDEX history_chunks_delivery ON history_chunks(delivery_id) WHERE state = 'pending' AND delivery_id IS NOT NULL;
`
