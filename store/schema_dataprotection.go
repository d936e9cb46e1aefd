package store

// schemaDataProtection adds retention policies, legal holds, consent
// records, erasure requests and tombstones, and secure one-time links.
const schemaDataProtection = `
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
