package store

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const day = 24 * time.Hour

// retentionFixture seeds data of every age; now is the run's clock.
func retentionFixture(t *testing.T, s *Store, now time.Time) (heldConv int64) {
	t.Helper()
	ctx := context.Background()
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	// Number 100 keeps the defaults (messages 180 days, media 90, deliveries 30).
	for i := range 20 {
		seed(t, s, seedMsg{Number: "100", WaID: "4910000000001", Name: "Alt", WAMID: fmt.Sprintf("wamid.old%d", i), Text: "alt", TS: ago(200*day).Unix() + int64(i)}, ago(200*day))
		seed(t, s, seedMsg{Number: "100", WaID: "4910000000001", Name: "Alt", WAMID: fmt.Sprintf("wamid.new%d", i), Text: "neu", TS: ago(10*day).Unix() + int64(i)}, ago(10*day))
	}
	// Media 100 days old: the file goes, the message stays.
	seed(t, s, seedMsg{Number: "100", WaID: "4910000000001", WAMID: "wamid.media100", TS: ago(100 * day).Unix(), File: "a.pdf", Media: []byte("media 100 days")}, ago(100*day))
	seed(t, s, seedMsg{Number: "100", WaID: "4910000000001", WAMID: "wamid.media10", TS: ago(10 * day).Unix(), File: "b.pdf", Media: []byte("media 10 days")}, ago(10*day))
	// A held customer: everything old, nothing may go.
	for i := range 5 {
		seed(t, s, seedMsg{Number: "100", WaID: "4910000000002", Name: "Gehalten", WAMID: fmt.Sprintf("wamid.held%d", i), Text: "beleg", TS: ago(400*day).Unix() + int64(i)}, ago(400*day))
	}
	seed(t, s, seedMsg{Number: "100", WaID: "4910000000002", WAMID: "wamid.heldmedia", TS: ago(400 * day).Unix(), File: "r.pdf", Media: []byte("held invoice")}, ago(400*day))
	if err := s.rdb.QueryRow("SELECT cv.id FROM conversations cv JOIN contacts c ON c.id = cv.contact_id WHERE c.wa_id = '4910000000002'").Scan(&heldConv); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetHold(ctx, LegalHold{ConversationID: heldConv, Preset: "voucher", Reason: "Rechnung 2025-17", CreatedBy: "user:1", CreatedAt: ago(300 * day).Unix()}); err != nil {
		t.Fatal(err)
	}
	// Number 200 keeps messages 7 days only.
	for i := range 5 {
		seed(t, s, seedMsg{Number: "200", WaID: "4910000000003", WAMID: fmt.Sprintf("wamid.short%d", i), Text: "kurz", TS: ago(10*day).Unix() + int64(i)}, ago(10*day))
		seed(t, s, seedMsg{Number: "200", WaID: "4910000000003", WAMID: fmt.Sprintf("wamid.shortnew%d", i), Text: "kurz", TS: ago(day).Unix() + int64(i)}, ago(day))
	}
	if err := s.SetRetentionPolicy(ctx, RetentionPolicy{Class: RetainMessages, PhoneNumberID: "200", Days: 7}, "user:1", ago(30*day)); err != nil {
		t.Fatal(err)
	}
	// A conversation closed 400 days ago, whose customer has nothing else.
	seed(t, s, seedMsg{Number: "100", WaID: "4910000000004", WAMID: "wamid.closed", Text: "erledigt", TS: ago(400 * day).Unix()}, ago(400*day))
	err := s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`UPDATE conversations SET status = 'closed' WHERE contact_id = (SELECT id FROM contacts WHERE wa_id = '4910000000004')`); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE contacts SET updated_at = ? WHERE wa_id = '4910000000004'`, ago(400*day).Unix()); err != nil {
			return err
		}
		// Old audit entries, past the two-year default.
		for i := range 3 {
			if err := AuditTx(tx, AuditEntry{TS: ago(800 * day).Unix(), Actor: "system", Action: "test.old", Target: fmt.Sprint(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// An expired message whose words must be physically gone afterwards.
	seed(t, s, seedMsg{Number: "100", WaID: "4910000000001", Name: "Alt", WAMID: "wamid.canary", Text: "zqretentioncanary", TS: ago(300 * day).Unix()}, ago(300*day))
	// A receipt for a message that was never stored, 200 days old.
	seedStatus(t, s, "4910000000009", "wamid.unknown", "delivered", ago(200*day).Unix(), ago(200*day))
	return heldConv
}

func TestRetentionWithControllableClock(t *testing.T) {
	ctx := context.Background()
	s := openDP(t, nil)
	now := time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)
	heldConv := retentionFixture(t, s, now)
	before := count(t, s, "SELECT count(*) FROM messages")

	// A dry run counts and changes nothing.
	dry, err := s.RunRetention(ctx, RetentionOptions{Now: now, DryRun: true, Batch: 7})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count(*) FROM messages"); n != before {
		t.Fatalf("dry run deleted messages: %d -> %d", before, n)
	}
	if dry.RowsPerClass[RetainMessages] == 0 || dry.RowsPerClass[RetainDeliveries] == 0 {
		t.Fatalf("dry run found nothing: %+v", dry.RowsPerClass)
	}

	rep, err := s.RunRetention(ctx, RetentionOptions{Now: now, Batch: 7, OrphanGrace: -1})
	if err != nil {
		t.Fatal(err)
	}
	// A dry run may count a row under two classes (a message of a closed
	// conversation that is due anyway), never fewer than go.
	for _, class := range []string{RetainMessages, RetainMedia, RetainDeliveries, RetainClosedConversations, RetainAudit} {
		if d, r := dry.RowsPerClass[class], rep.RowsPerClass[class]; d < r || d > r+1 || r == 0 {
			t.Errorf("%s: dry run said %d, the run removed %d", class, d, r)
		}
	}
	held := `EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND (h.until IS NULL OR h.until > ?1)
		AND (h.conversation_id = cv.id OR h.contact_id = cv.contact_id))`
	nowU := now.Unix()
	// Nothing past its policy remains.
	checks := []struct {
		what string
		q    string
	}{
		{"messages past 180 days", `SELECT count(*) FROM messages m JOIN conversations cv ON cv.id = m.conversation_id
			JOIN business_numbers n ON n.id = cv.business_number_id WHERE n.phone_number_id = '100' AND m.ts < ?1 - 180*86400 AND NOT ` + held},
		{"messages past 7 days on number 200", `SELECT count(*) FROM messages m JOIN conversations cv ON cv.id = m.conversation_id
			JOIN business_numbers n ON n.id = cv.business_number_id WHERE n.phone_number_id = '200' AND m.ts < ?1 - 7*86400 AND NOT ` + held},
		{"media past 90 days", `SELECT count(*) FROM media md JOIN messages m ON m.id = md.message_id JOIN conversations cv ON cv.id = m.conversation_id
			WHERE m.ts < ?1 - 90*86400 AND NOT ` + held},
		{"deliveries past 30 days", `SELECT count(*) FROM deliveries d WHERE d.received_at < ?1 - 30*86400 AND NOT EXISTS
			(SELECT 1 FROM messages m JOIN conversations cv ON cv.id = m.conversation_id WHERE m.delivery_id = d.id AND ` + held + `)`},
		{"closed conversations past 365 days", `SELECT count(*) FROM conversations cv WHERE cv.status = 'closed' AND cv.last_message_at < ?1 - 365*86400 AND NOT ` + held},
		{"audit past 730 days", `SELECT count(*) FROM audit_log WHERE ts < ?1 - 730*86400`},
		{"orphan receipts past 180 days", `SELECT count(*) FROM message_statuses s WHERE s.ts < ?1 - 180*86400 AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.wamid = s.wamid)`},
		{"customers with nothing left", `SELECT count(*) FROM contacts c WHERE ?1 = ?1 AND NOT EXISTS (SELECT 1 FROM conversations cv WHERE cv.contact_id = c.id)`},
	}
	for _, c := range checks {
		if n := count(t, s, c.q, nowU); n != 0 {
			t.Errorf("%s: %d remain", c.what, n)
		}
	}
	// Nothing on hold was touched.
	if n := count(t, s, "SELECT count(*) FROM messages WHERE conversation_id = ?", heldConv); n != 6 {
		t.Errorf("held messages: %d, want 6", n)
	}
	if n := count(t, s, "SELECT count(*) FROM media md JOIN messages m ON m.id = md.message_id WHERE m.conversation_id = ?", heldConv); n != 1 {
		t.Errorf("held media rows: %d, want 1", n)
	}
	if n := count(t, s, "SELECT count(*) FROM deliveries d JOIN messages m ON m.delivery_id = d.id WHERE m.conversation_id = ?", heldConv); n != 6 {
		t.Errorf("held deliveries: %d, want 6", n)
	}
	if _, err := os.Stat(filepath.Join(s.MediaDir(), sha256hex([]byte("held invoice")))); err != nil {
		t.Errorf("held media file: %v", err)
	}
	// Young data stays.
	if n := count(t, s, "SELECT count(*) FROM messages WHERE wamid LIKE 'wamid.new%' OR wamid LIKE 'wamid.shortnew%' OR wamid = 'wamid.media10' OR wamid = 'wamid.media100'"); n != 27 {
		t.Errorf("young messages: %d, want 27", n)
	}
	// The 100-day-old file is gone from disk, the 10-day-old one stays.
	if _, err := os.Stat(filepath.Join(s.MediaDir(), sha256hex([]byte("media 100 days")))); !os.IsNotExist(err) {
		t.Errorf("expired media file still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(s.MediaDir(), sha256hex([]byte("media 10 days")))); err != nil {
		t.Errorf("young media file: %v", err)
	}
	if rep.MediaFiles != 1 {
		t.Errorf("media files unlinked: %d, want 1", rep.MediaFiles)
	}
	// The run is audited with its counts and nothing else.
	entries, err := s.AuditLog(ctx, 0, 1)
	if err != nil || len(entries) != 1 || entries[0].Action != "retention.run" {
		t.Fatalf("audit: %+v %v", entries, err)
	}
	var detail map[string]int64
	if err := json.Unmarshal([]byte(entries[0].Detail), &detail); err != nil {
		t.Fatal(err)
	}
	for class, n := range rep.RowsPerClass {
		if detail[class] != n {
			t.Errorf("audited %s = %d, report says %d", class, detail[class], n)
		}
	}
	if detail[RetainMessages] != 26+1 { // 20 old + canary + 5 on number 200, + 1 orphan receipt
		t.Errorf("messages purged: %d", detail[RetainMessages])
	}
	// Purged text is physically gone: file, WAL and search index.
	if hits := grepDir(t, s.Dir(), []byte("zqretentioncanary")); len(hits) != 0 {
		t.Errorf("purged text still on disk: %v", hits)
	}
	if !rep.Scrub.FTSOptimized {
		t.Error("the search index was not compacted")
	}
	// The search index deletes securely again after the run.
	var sd int
	if err := s.rdb.QueryRow("SELECT v FROM messages_fts_config WHERE k = 'secure-delete'").Scan(&sd); err != nil || sd != 1 {
		t.Errorf("fts secure-delete after the run: %d %v", sd, err)
	}
	// A second run finds nothing more.
	again, err := s.RunRetention(ctx, RetentionOptions{Now: now, OrphanGrace: -1})
	if err != nil {
		t.Fatal(err)
	}
	for class, n := range again.RowsPerClass {
		if n != 0 && class != RetainAudit {
			t.Errorf("second run removed %d of %s", n, class)
		}
	}
	if err := s.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestRetentionPolicyValidation(t *testing.T) {
	ctx := context.Background()
	s := openDP(t, nil)
	now := time.Now()
	for _, p := range []RetentionPolicy{
		{Class: "chats", Days: 1},
		{Class: RetainMessages, Days: -1},
		{Class: RetainMessages, Days: 40000},
		{Class: RetainAudit, PhoneNumberID: "100", Days: 5},
		{Class: RetainMessages, PhoneNumberID: "999", Days: 5},
	} {
		if err := s.SetRetentionPolicy(ctx, p, "user:1", now); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
	ps, err := s.RetentionPolicies(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Privacy by default: every class has a finite period on a fresh install.
	if len(ps) != len(RetentionClasses) {
		t.Fatalf("default policies: %d", len(ps))
	}
	for _, p := range ps {
		if p.Days == 0 || p.Days > 730 {
			t.Errorf("default for %s is %d days", p.Class, p.Days)
		}
	}
}

func TestHoldPresets(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	ref := time.Date(2026, 3, 5, 12, 0, 0, 0, berlin)
	for preset, year := range map[string]int{"business_letter": 2032, "voucher": 2034, "books": 2036} {
		u, err := HoldUntil(preset, ref, berlin)
		if err != nil || u.Year() != year || u.Month() != 12 || u.Day() != 31 {
			t.Errorf("%s: %v %v", preset, u, err)
		}
	}
	if _, err := HoldUntil("forever", ref, berlin); err == nil {
		t.Error("unknown preset accepted")
	}
}

func TestOrphanSweepKeepsUploadsAndRemovesStrays(t *testing.T) {
	ctx := context.Background()
	s := openDP(t, nil)
	now := time.Now()
	seed(t, s, seedMsg{WaID: "4910000000001", WAMID: "wamid.x", Text: "hallo", TS: now.Unix()}, now)
	sendFile(t, s, "4910000000001", "wamid.sent", "meta-1", []byte("uploaded file"), now.Unix())
	if err := s.Write(ctx, func(tx *Tx) error { _, err := tx.Exec("DELETE FROM media"); return err }); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(s.MediaDir(), sha256hex([]byte("left by a crash")))
	if err := os.WriteFile(stray, []byte("left by a crash"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := s.RunRetention(ctx, RetentionOptions{Now: now, OrphanGrace: -time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(s.MediaDir(), sha256hex([]byte("uploaded file")))); err != nil {
		t.Fatalf("a file still listed in uploads was swept: %v", err)
	}
	if _, err := os.Stat(stray); !os.IsNotExist(err) || rep.OrphanFiles != 1 {
		t.Fatalf("stray file: %v, orphans %d", err, rep.OrphanFiles)
	}
}

func TestRetentionPurgesFinishedOutboxRowsOnly(t *testing.T) {
	ctx := context.Background()
	s := openDP(t, nil)
	now := time.Now()
	seed(t, s, seedMsg{WaID: "4910000000001", WAMID: "wamid.x", Text: "hallo", TS: now.Unix()}, now)
	old := now.Add(-40 * day).Unix()
	err := s.Write(ctx, func(tx *Tx) error {
		for i, state := range []string{"accepted", "failed", "unknown", "queued", "sending", "accepted"} {
			var id int64
			if err := tx.QueryRow(`INSERT INTO messages(conversation_id, direction, type, text, ts, created_at)
				SELECT id, 'outbound', 'text', 'x', ?1, ?1 FROM conversations RETURNING id`, old).Scan(&id); err != nil {
				return err
			}
			at := old
			if i == 5 {
				at = now.Unix() // recent: stays
			}
			if _, err := tx.Exec(`INSERT INTO outbox(message_id, phone_number_id, pair_key, body, state, created_at, updated_at)
				VALUES (?, '100', '4910000000001', '{"to":"4910000000001"}', ?, ?, ?)`, id, state, at, at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Keep messages, so only the outbox policy acts.
	if err := s.SetRetentionPolicy(ctx, RetentionPolicy{Class: RetainMessages, Days: 0}, "test", now); err != nil {
		t.Fatal(err)
	}
	rep, err := s.RunRetention(ctx, RetentionOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RowsPerClass[RetainOutbox] != 3 {
		t.Fatalf("outbox rows purged: %d, want 3", rep.RowsPerClass[RetainOutbox])
	}
	if n := count(t, s, "SELECT count(*) FROM outbox WHERE state IN ('queued', 'sending')"); n != 2 {
		t.Fatalf("live outbox rows purged: %d left", n)
	}
	if n := count(t, s, "SELECT count(*) FROM outbox"); n != 3 {
		t.Fatalf("outbox rows: %d, want 3", n)
	}
}

func TestIndexMergeStopsBeforeSegmentsPileUp(t *testing.T) {
	ctx := context.Background()
	s := openDP(t, nil)
	now := time.Now()
	seed(t, s, seedMsg{WaID: "4910000000001", WAMID: "wamid.0", Text: "eins", TS: now.Unix()}, now)
	// With automerge and crisis merges off every commit that indexes
	// leaves its own segment, as during a long merge under load.
	if err := s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec("INSERT INTO messages_fts(messages_fts, rank) VALUES ('automerge', 0)"); err != nil {
			return err
		}
		_, err := tx.Exec("INSERT INTO messages_fts(messages_fts, rank) VALUES ('crisismerge', 1000)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i := range ftsMaxSegments + 10 {
		seed(t, s, seedMsg{WaID: "4910000000001", WAMID: fmt.Sprintf("wamid.seg%d", i), Text: fmt.Sprintf("wort%d", i), TS: now.Unix()}, now)
		// Index each message in its own commit (a busy writer indexes in
		// bulk), so that each leaves a segment.
		if err := s.FlushSearchIndex(ctx); err != nil {
			t.Fatal(err)
		}
	}
	steps, done, err := s.optimizeFTS(ctx, 10*time.Second)
	if err != nil || done || steps != 0 {
		t.Fatalf("merge over %d segments: steps %d, done %v, err %v", ftsMaxSegments, steps, done, err)
	}
	// Below the limit it merges down to one segment.
	if err := s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("INSERT INTO messages_fts(messages_fts) VALUES ('optimize')")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		seed(t, s, seedMsg{WaID: "4910000000001", WAMID: fmt.Sprintf("wamid.more%d", i), Text: "mehr", TS: now.Unix()}, now)
	}
	if _, done, err := s.optimizeFTS(ctx, 10*time.Second); err != nil || !done {
		t.Fatalf("merge of a few segments: done %v, err %v", done, err)
	}
	if n := count(t, s, "SELECT count(DISTINCT segid) FROM messages_fts_idx"); n != 1 {
		t.Fatalf("segments after the merge: %d", n)
	}
}
