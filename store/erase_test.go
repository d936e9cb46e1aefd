package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Canaries are lower-case single words so that the FTS index holds them
// as whole tokens: a hit anywhere means a copy survived.
var canaries = []string{
	"4915112345678",       // the customer's phone number (wa_id)
	"zqcanaryname",        // their profile name
	"zqcanarytext",        // a message text (also an FTS token)
	"zqcanarycaption",     // a caption
	"zqcanaryfile",        // a file name
	"zqcanarybytes",       // inside a media file
	"zqcanaryoutbound",    // a text sent to them
	"wamid.zqcanarywamid", // their message ids
	"zqcanarysentfile",    // a file uploaded to Meta and sent to them
	"zqcanarynote",        // a note of the team about them
}

func seedVictim(t *testing.T, s *Store, now time.Time) {
	t.Helper()
	ts := now.Add(-time.Hour).Unix()
	seed(t, s, seedMsg{WaID: "4915112345678", Name: "Anna zqcanaryname", WAMID: "wamid.zqcanarywamid1", Text: "hallo zqcanarytext bitte", TS: ts}, now)
	seed(t, s, seedMsg{WaID: "4915112345678", Name: "Anna zqcanaryname", WAMID: "wamid.zqcanarywamid2", TS: ts + 1,
		Caption: "rechnung zqcanarycaption", File: "zqcanaryfile.pdf", Media: []byte("%PDF-1.4 zqcanarybytes %%EOF")}, now)
	// A file with the same content as a bystander's: it must stay for them.
	seed(t, s, seedMsg{WaID: "4915112345678", Name: "Anna zqcanaryname", WAMID: "wamid.zqcanarywamid3", TS: ts + 2,
		Caption: "", File: "shared.pdf", Media: []byte("%PDF-1.4 shared flyer")}, now)
	// An outbound message with receipts, as the sending side stores them.
	err := s.Write(context.Background(), func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO messages(wamid, conversation_id, direction, type, text, ts, created_at)
			SELECT 'wamid.zqcanarywamid4', cv.id, 'outbound', 'text', 'ihre zqcanaryoutbound', ?, ? FROM conversations cv
			JOIN contacts c ON c.id = cv.contact_id WHERE c.wa_id = '4915112345678'`, ts+3, ts+3)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// A file uploaded to Meta and sent to them alone, and a flyer sent to
	// them and to the bystander.
	sendFile(t, s, "4915112345678", "wamid.zqcanarywamid5", "meta-upload-1", []byte("%PDF zqcanarysentfile"), ts+6)
	sendFile(t, s, "4915112345678", "wamid.zqcanarywamid6", "meta-upload-flyer", []byte("%PDF flyer for all"), ts+7)
	if err := s.Write(context.Background(), func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO notes(conversation_id, body, created_at) SELECT cv.id, 'kundin zqcanarynote', ? FROM conversations cv
			JOIN contacts c ON c.id = cv.contact_id WHERE c.wa_id = '4915112345678'`, ts)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	seedStatus(t, s, "4915112345678", "wamid.zqcanarywamid4", "delivered", ts+4, now)
	seedStatus(t, s, "4915112345678", "wamid.zqcanarywamid4", "read", ts+5, now)
}

// sendFile stores an outbound document the way the sending side does: an
// upload record, the file, and the message with its media row.
func sendFile(t *testing.T, s *Store, waID, wamid, mediaID string, b []byte, ts int64) {
	t.Helper()
	rel := sha256hex(b)
	os.MkdirAll(s.MediaDir(), 0o700)
	if err := os.WriteFile(filepath.Join(s.MediaDir(), rel), b, 0o600); err != nil {
		t.Fatal(err)
	}
	err := s.Write(context.Background(), func(tx *Tx) error {
		if _, err := tx.Exec(`INSERT INTO uploads(media_id, phone_number_id, mime_type, sha256, size, filename, path, created_at)
			VALUES (?, '100', 'application/pdf', '', ?, 'f.pdf', ?, ?) ON CONFLICT DO NOTHING`, mediaID, len(b), rel, ts); err != nil {
			return err
		}
		var id int64
		if err := tx.QueryRow(`INSERT INTO messages(wamid, conversation_id, direction, type, ts, created_at)
			SELECT ?, cv.id, 'outbound', 'document', ?, ? FROM conversations cv JOIN contacts c ON c.id = cv.contact_id
			WHERE c.wa_id = ? RETURNING id`, wamid, ts, ts, waID).Scan(&id); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO media(message_id, media_id, mime_type, filename, size, path, state) VALUES (?, ?, 'application/pdf', 'f.pdf', ?, ?, 'stored')`,
			id, mediaID, len(b), rel)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func seedBystander(t *testing.T, s *Store, now time.Time) {
	t.Helper()
	ts := now.Add(-time.Hour).Unix()
	seed(t, s, seedMsg{WaID: "4917000000001", Name: "Bernd", WAMID: "wamid.bystander1", Text: "guten tag", TS: ts}, now)
	seed(t, s, seedMsg{WaID: "4917000000001", Name: "Bernd", WAMID: "wamid.bystander2", TS: ts + 1,
		File: "flyer.pdf", Media: []byte("%PDF-1.4 shared flyer")}, now)
	sendFile(t, s, "4917000000001", "wamid.bystander3", "meta-upload-flyer", []byte("%PDF flyer for all"), ts+2)
}

func TestEraseLeavesNoCanary(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	s := openDP(t, &logs)
	now := time.Now()
	seedBystander(t, s, now)
	seedVictim(t, s, now)
	if err := s.FlushSearchIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'zqcanarytext'"); n != 1 {
		t.Fatalf("fts before erasure: %d hits, want 1", n)
	}
	// The search must be able to find every canary before the erasure.
	for _, c := range canaries {
		if len(grepDir(t, s.Dir(), []byte(c))) == 0 {
			t.Fatalf("canary %q not found before the erasure: the search is blind", c)
		}
	}
	// A backup taken before the erasure, restored afterwards.
	backup := filepath.Join(t.TempDir(), BackupName(now, false))
	if _, err := s.Backup(ctx, backup, BackupOptions{}); err != nil {
		t.Fatal(err)
	}

	res, err := s.EraseContact(ctx, "+49 151 12345678", EraseRequest{Actor: "cli", Reason: "Art. 17 request 2026-11-27"})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != "erased" || res.Messages != 6 || res.Conversations != 1 || res.MediaFiles != 2 || res.Deliveries != 5 {
		t.Fatalf("erase result: %+v", res)
	}
	// Only the upload no one else uses is deleted, here and at Meta.
	if len(res.MetaMediaIDs) != 1 || res.MetaMediaIDs[0] != "meta-upload-1" {
		t.Fatalf("uploads to delete at Meta: %v", res.MetaMediaIDs)
	}
	if n := count(t, s, "SELECT count(*) FROM uploads"); n != 1 {
		t.Fatalf("uploads left: %d, want the shared flyer", n)
	}
	if res.Scrub.WALBusy {
		t.Fatal("the WAL could not be truncated")
	}
	// The bystander keeps everything, including the shared file.
	if n := count(t, s, "SELECT count(*) FROM messages"); n != 3 {
		t.Fatalf("bystander messages: %d, want 3", n)
	}
	if _, err := os.Stat(filepath.Join(s.MediaDir(), sha256hex([]byte("%PDF-1.4 shared flyer")))); err != nil {
		t.Fatalf("shared media file gone: %v", err)
	}
	if _, err := s.ContactByKey(ctx, "4915112345678"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("contact still there: %v", err)
	}
	if n := count(t, s, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'zqcanarytext'"); n != 0 {
		t.Fatalf("fts after erasure: %d hits", n)
	}
	// The audit trail has the tombstone, without personal data, and the chain holds.
	entries, err := s.AuditLog(ctx, 0, 10)
	if err != nil || len(entries) == 0 || entries[0].Action != "contact.erase" || !strings.Contains(entries[0].Detail, res.Subject) {
		t.Fatalf("audit: %+v %v", entries, err)
	}
	if bad, err := s.VerifyAuditChain(ctx); bad != 0 || err != nil {
		t.Fatalf("audit chain broken at %d: %v", bad, err)
	}
	assertNoCanary(t, "live store", s.Dir(), logs.Bytes())

	// After a clean close too.
	dir := s.Dir()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	assertNoCanary(t, "closed store", dir, logs.Bytes())

	// Restoring the older backup brings nobody back.
	rr, err := Restore(ctx, dir, backup, RestoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Reerased != 1 || rr.Tombstones != 1 {
		t.Fatalf("restore: %+v", rr)
	}
	s2, err := Open(ctx, dir, Options{IsStopWord: testStopWord})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if n := count(t, s2, "SELECT count(*) FROM messages"); n != 3 {
		t.Fatalf("restored messages: %d, want the bystander's 3", n)
	}
	if err := s2.IntegrityCheck(ctx); err != nil {
		t.Fatal(err)
	}
	assertNoCanary(t, "restored store", dir, logs.Bytes())
}

func assertNoCanary(t *testing.T, when, dir string, logs []byte) {
	t.Helper()
	for _, c := range canaries {
		for path, n := range grepDir(t, dir, []byte(c)) {
			t.Errorf("%s: %q found %d times in %s", when, c, n, path)
		}
		if bytes.Contains(logs, []byte(c)) {
			t.Errorf("%s: %q found in the logs", when, c)
		}
	}
}

func TestEraseUnderHoldIsRestrictedUntilTheHoldEnds(t *testing.T) {
	ctx := context.Background()
	s := openDP(t, nil)
	now := time.Now()
	seedVictim(t, s, now)
	c, err := s.ContactByKey(ctx, "4915112345678")
	if err != nil {
		t.Fatal(err)
	}
	until := now.Add(48 * time.Hour)
	h, err := s.SetHold(ctx, LegalHold{ContactID: c.ID, Preset: "business_letter", Reason: "Auftrag 4711", Until: until.Unix(), CreatedBy: "user:1"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.EraseContact(ctx, "4915112345678", EraseRequest{Actor: "cli", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if res.State != "restricted" || len(res.Holds) != 1 || res.Holds[0].ID != h.ID {
		t.Fatalf("want restricted by hold %d, got %+v", h.ID, res)
	}
	if n := count(t, s, "SELECT count(*) FROM messages"); n != 6 {
		t.Fatalf("held messages touched: %d left", n)
	}
	if r, err := s.Restricted(ctx, c.ID); err != nil || !r {
		t.Fatalf("contact not marked restricted: %v %v", r, err)
	}
	// A second request does not pile up.
	if _, err := s.EraseContact(ctx, "4915112345678", EraseRequest{Actor: "cli", Now: now}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count(*) FROM erasure_requests WHERE state = 'restricted'"); n != 1 {
		t.Fatalf("restricted requests: %d", n)
	}
	// Retention while the hold lasts keeps it; once it expired, the erasure runs.
	if _, err := s.RunRetention(ctx, RetentionOptions{Now: now.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count(*) FROM messages"); n != 6 {
		t.Fatalf("messages under hold: %d", n)
	}
	// Looking at the waiting request again records nothing new.
	if n := count(t, s, "SELECT count(*) FROM audit_log WHERE action = 'contact.erase.restricted'"); n != 1 {
		t.Fatalf("restriction audited %d times", n)
	}
	rep, err := s.RunRetention(ctx, RetentionOptions{Now: until.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Erasures != 1 || count(t, s, "SELECT count(*) FROM messages") != 0 || count(t, s, "SELECT count(*) FROM contacts") != 0 {
		t.Fatalf("after hold expiry: %+v, messages %d", rep, count(t, s, "SELECT count(*) FROM messages"))
	}
	if n := count(t, s, "SELECT count(*) FROM erasure_requests WHERE state = 'done'"); n != 1 {
		t.Fatalf("done requests: %d", n)
	}
}

func TestEraseRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	s := openDP(t, nil)
	if _, err := s.EraseContact(ctx, "4915112345678", EraseRequest{Actor: "cli"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown contact: %v", err)
	}
	if _, err := s.EraseContact(ctx, "4915112345678", EraseRequest{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no actor: %v", err)
	}
	if n := count(t, s, "SELECT count(*) FROM audit_log"); n != 0 {
		t.Fatalf("refused erasures were audited as done: %d", n)
	}
}
