package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"
	"time"
)

// Every table whose ids reach a URL, a form or the API hands out an id
// once: a new table must be created with AUTOINCREMENT too.
func TestEveryIDTableAutoincrements(t *testing.T) {
	s := openDP(t, nil)
	ctx := context.Background()
	left, err := idTablesWithoutAutoincrement(ctx, s.rdb)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) > 0 {
		t.Fatalf("tables whose ids can be handed out again (declare them INTEGER PRIMARY KEY AUTOINCREMENT): %v", left)
	}
	for _, name := range []string{"contacts", "conversations", "messages", "media", "notes", "labels", "users", "api_keys",
		"subscriptions", "outbox", "consent_records", "legal_holds", "erasure_requests", "secure_links", "deliveries",
		"events", "canned_replies", "uploads", "invites", "sessions", "business_numbers", "retention_policies", "audit_log"} {
		var ddl string
		if err := s.rdb.QueryRowContext(ctx, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", name).Scan(&ddl); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !autoincrement.MatchString(ddl) {
			t.Errorf("%s has no AUTOINCREMENT: %s", name, ddl)
		}
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

// The review's case: the newest customer is erased, a new one writes; the
// new one must not get any id the erased one had.
func TestErasedIDsAreNotHandedOutAgain(t *testing.T) {
	s := openDP(t, nil)
	ctx := context.Background()
	now := time.Now()
	seed(t, s, seedMsg{WaID: "4915100000001", Name: "Alt", WAMID: "wamid.old1", Text: "hallo", TS: now.Unix() - 60}, now)
	seed(t, s, seedMsg{WaID: "4915100000002", Name: "A", WAMID: "wamid.a1", Text: "bitte löschen", TS: now.Unix() - 30}, now)
	var contact, conv, msg, media int64
	maxIDs := func() {
		t.Helper()
		if err := s.rdb.QueryRowContext(ctx, `SELECT (SELECT max(id) FROM contacts), (SELECT max(id) FROM conversations),
			(SELECT max(id) FROM messages)`).Scan(&contact, &conv, &msg); err != nil {
			t.Fatal(err)
		}
	}
	maxIDs()
	if err := s.Write(ctx, func(tx *Tx) error {
		return tx.QueryRow(`INSERT INTO media(message_id, media_id) VALUES (?, 'm-a1') RETURNING id`, msg).Scan(&media)
	}); err != nil {
		t.Fatal(err)
	}
	var note int64
	if err := s.Write(ctx, func(tx *Tx) error {
		return tx.QueryRow(`INSERT INTO notes(conversation_id, body, created_at) VALUES (?, 'n', 1) RETURNING id`, conv).Scan(&note)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EraseContact(ctx, "4915100000002", EraseRequest{Actor: "test", Now: now}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count(*) FROM contacts WHERE id = ?", contact); n != 0 {
		t.Fatal("the erased contact is still there")
	}
	seed(t, s, seedMsg{WaID: "4915100000003", Name: "B", WAMID: "wamid.b1", Text: "neu hier", TS: now.Unix()}, now)
	var bContact, bConv, bMsg int64
	if err := s.rdb.QueryRowContext(ctx, `SELECT c.id, cv.id, m.id FROM contacts c JOIN conversations cv ON cv.contact_id = c.id
		JOIN messages m ON m.conversation_id = cv.id WHERE c.wa_id = '4915100000003'`).Scan(&bContact, &bConv, &bMsg); err != nil {
		t.Fatal(err)
	}
	if bContact <= contact || bConv <= conv || bMsg <= msg {
		t.Fatalf("ids handed out again: contact %d (erased %d), conversation %d (erased %d), message %d (erased %d)",
			bContact, contact, bConv, conv, bMsg, msg)
	}
	var bMedia, bNote int64
	if err := s.Write(ctx, func(tx *Tx) error {
		if err := tx.QueryRow(`INSERT INTO media(message_id, media_id) VALUES (?, 'm-b1') RETURNING id`, bMsg).Scan(&bMedia); err != nil {
			return err
		}
		return tx.QueryRow(`INSERT INTO notes(conversation_id, body, created_at) VALUES (?, 'n', 1) RETURNING id`, bConv).Scan(&bNote)
	}); err != nil {
		t.Fatal(err)
	}
	if bMedia <= media || bNote <= note {
		t.Fatalf("ids handed out again: media %d (erased %d), note %d (erased %d)", bMedia, media, bNote, note)
	}
}

// A database written before step 380 (created here by the released steps
// before it) keeps its rows, references, indexes and search index, and
// its ids continue from the highest one.
func TestAutoincrementMigrationKeepsDataAndContinuesIDs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, DBFile)+"?_foreign_keys=on&_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, m := range migrations {
		if m.version >= 380 {
			break
		}
		if err := applyMigration(ctx, db, m); err != nil {
			t.Fatalf("old step %d: %v", m.version, err)
		}
	}
	var ddl string
	db.QueryRowContext(ctx, "SELECT sql FROM sqlite_master WHERE name = 'contacts'").Scan(&ddl)
	if autoincrement.MatchString(ddl) {
		t.Fatal("the old schema already has AUTOINCREMENT on contacts; the test does not test the migration")
	}
	old := []string{
		`INSERT INTO business_numbers(id, phone_number_id, created_at) VALUES (1, '100', 1)`,
		`INSERT INTO contacts(id, wa_id, name, created_at, updated_at) VALUES (1, '491', 'Eins', 1, 1), (2, '492', 'Zwei', 1, 1), (7, '497', 'Sieben', 1, 1)`,
		`INSERT INTO conversations(id, business_number_id, contact_id, last_message_at, created_at, updated_at, last_inbound_at)
			VALUES (1, 1, 1, 1, 1, 1, 1), (2, 1, 2, 1, 1, 1, 1), (9, 1, 7, 1, 1, 1, 1)`,
		`INSERT INTO deliveries(id, sha256, body, received_at) VALUES (5, x'01', 'b', 1)`,
		`INSERT INTO messages(id, wamid, conversation_id, direction, type, text, ts, created_at, delivery_id)
			VALUES (1, 'w1', 1, 'inbound', 'text', 'apfelkuchen', 1, 1, 5), (2, 'w2', 2, 'inbound', 'text', 'birnenmus', 1, 1, NULL),
			(3, 'w3', 9, 'inbound', 'text', 'quittengelee', 1, 1, NULL)`,
		`INSERT INTO messages_fts(rowid, text) SELECT id, text FROM messages`,
		`UPDATE fts_state SET watermark = 3`,
		`INSERT INTO media(id, message_id, media_id) VALUES (4, 1, 'm1')`,
		`INSERT INTO users(id, email, role, created_at, updated_at) VALUES (3, 'a@example.org', 'admin', 1, 1)`,
		`INSERT INTO notes(id, conversation_id, author_id, body, created_at) VALUES (6, 2, 3, 'notiz', 1)`,
		`INSERT INTO labels(id, name, created_at) VALUES (2, 'VIP', 1)`,
		`INSERT INTO conversation_labels(conversation_id, label_id) VALUES (2, 2)`,
		`INSERT INTO legal_holds(id, contact_id, reason, created_by, created_at) VALUES (8, 2, 'Rechnung', 'user:3', 1)`,
		`INSERT INTO erasure_requests(id, contact_id, subject, state, actor, requested_at) VALUES (4, 2, 's', 'restricted', 'user:3', 1)`,
		// The newest contact is erased before the upgrade: the old code would give 7 and 9 again.
		`DELETE FROM contacts WHERE id = 7`,
	}
	for _, q := range old {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	s := openTestIn(t, dir, Options{})
	left, err := idTablesWithoutAutoincrement(ctx, s.rdb)
	if err != nil || len(left) > 0 {
		t.Fatalf("after the migration, tables without AUTOINCREMENT: %v %v", left, err)
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	for q, want := range map[string]int{
		"SELECT count(*) FROM contacts":                                                    2,
		"SELECT count(*) FROM conversations":                                               2,
		"SELECT count(*) FROM messages":                                                    2, // the erased contact's went with it
		"SELECT count(*) FROM media WHERE id = 4 AND message_id = 1":                       1,
		"SELECT count(*) FROM notes WHERE id = 6 AND author_id = 3":                        1,
		"SELECT count(*) FROM conversation_labels WHERE label_id = 2":                      1,
		"SELECT count(*) FROM legal_holds WHERE id = 8 AND contact_id = 2":                 1,
		"SELECT count(*) FROM erasure_requests WHERE state = 'restricted'":                 1,
		"SELECT count(*) FROM messages WHERE delivery_id = 5":                              1,
		"SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'birnenmus'":           1,
		"SELECT count(*) FROM sqlite_master WHERE name = 'dp_erasure_requests_restricted'": 1,
		"SELECT count(*) FROM sqlite_master WHERE name = 'conversations_recent'":           1,
		"SELECT count(*) FROM sqlite_master WHERE name LIKE '%__autoincrement'":            0,
		"SELECT count(*) FROM pragma_foreign_key_check":                                    0,
	} {
		if got := count(t, s, q); got != want {
			t.Errorf("%s = %d, want %d", q, got, want)
		}
	}
	if r, err := s.Restricted(ctx, 2); err != nil || !r {
		t.Errorf("contact 2 restricted = %v, %v; want true", r, err)
	}
	// References still cascade: deleting a contact takes its conversation.
	// Ids continue above the old maximum and are not reused after deletion.
	var c1, cv1 int64
	if err := s.Write(ctx, func(tx *Tx) error {
		if err := tx.QueryRow(`INSERT INTO contacts(wa_id, name, created_at, updated_at) VALUES ('493', 'Drei', 1, 1) RETURNING id`).Scan(&c1); err != nil {
			return err
		}
		return tx.QueryRow(`INSERT INTO conversations(business_number_id, contact_id, last_message_at, created_at, updated_at)
			VALUES (1, ?, 1, 1, 1) RETURNING id`, c1).Scan(&cv1)
	}); err != nil {
		t.Fatal(err)
	}
	if c1 != 3 || cv1 != 3 {
		t.Fatalf("first ids after the migration: contact %d, conversation %d; want 3 and 3 (old maximum 2 plus one)", c1, cv1)
	}
	if err := s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("DELETE FROM contacts WHERE id = ?", c1)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count(*) FROM conversations WHERE id = ?", cv1); n != 0 {
		t.Fatal("deleting the contact did not cascade to its conversation after the rebuild")
	}
	var c2, cv2 int64
	if err := s.Write(ctx, func(tx *Tx) error {
		if err := tx.QueryRow(`INSERT INTO contacts(wa_id, name, created_at, updated_at) VALUES ('494', 'Vier', 1, 1) RETURNING id`).Scan(&c2); err != nil {
			return err
		}
		return tx.QueryRow(`INSERT INTO conversations(business_number_id, contact_id, last_message_at, created_at, updated_at)
			VALUES (1, ?, 1, 1, 1) RETURNING id`, c2).Scan(&cv2)
	}); err != nil {
		t.Fatal(err)
	}
	if c2 <= c1 || cv2 <= cv1 {
		t.Fatalf("ids reused after the migration: contact %d after %d, conversation %d after %d", c2, c1, cv2, cv1)
	}
}
