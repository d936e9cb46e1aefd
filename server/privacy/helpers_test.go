package privacy

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pforte/pforte/store"
)

// The seeding below mirrors store's own test helpers (gdpr_helpers_test.go),
// which are not visible from here.

// noStopWords is the stop-word rule of these tests, which are not about
// opt-outs (the rule lives in outbox, which privacy does not import).
func noStopWords(string, []string) bool { return false }

// openStore opens a store in a fresh directory.
func openStore(t testing.TB) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), t.TempDir(), store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), IsStopWord: noStopWords})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// seedMsg is one inbound message to seed.
type seedMsg struct {
	WaID    string
	Name    string
	WAMID   string
	Text    string
	TS      int64
	Media   []byte // if set: a document with these bytes, stored in the media folder
	Caption string
	File    string
}

// seed ingests the message like the webhook would and, for media, stores
// the file like the downloader would.
func seed(t testing.TB, s *store.Store, m seedMsg, receivedAt time.Time) {
	t.Helper()
	in := store.InboundMessage{Number: store.Number{PhoneNumberID: "100", WABAID: "waba1"}, From: store.Party{WaID: m.WaID, Name: m.Name},
		WAMID: m.WAMID, Type: "text", TS: m.TS}
	if m.Media != nil {
		sum := sha256.Sum256(m.Media)
		in.Type = "document"
		in.Text = sql.NullString{String: m.Caption, Valid: m.Caption != ""}
		in.Media = &store.MediaRef{MediaID: "media-" + m.WAMID, MimeType: "application/pdf", SHA256: base64.StdEncoding.EncodeToString(sum[:]), Filename: m.File}
		in.Payload, _ = json.Marshal(map[string]any{"caption": m.Caption, "filename": m.File})
	} else {
		in.Text = sql.NullString{String: m.Text, Valid: true}
		in.Payload, _ = json.Marshal(map[string]any{"body": m.Text})
	}
	if _, err := s.Ingest(context.Background(), &store.Delivery{Body: []byte(`{}`), ReceivedAt: receivedAt, Messages: []store.InboundMessage{in}}); err != nil {
		t.Fatal(err)
	}
	if m.Media != nil {
		rel := sha256hex(m.Media)
		writeMedia(t, s, rel, m.Media)
		err := s.Write(context.Background(), func(tx *store.Tx) error {
			_, err := tx.Exec(`UPDATE media SET state = 'stored', path = ?, size = ? WHERE message_id = (SELECT id FROM messages WHERE wamid = ?)`,
				rel, len(m.Media), m.WAMID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func writeMedia(t testing.TB, s *store.Store, rel string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(s.MediaDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.MediaDir(), rel), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// seedStatus ingests a receipt for an outbound message.
func seedStatus(t testing.TB, s *store.Store, waID, wamid, status string, ts int64, receivedAt time.Time) {
	t.Helper()
	_, err := s.Ingest(context.Background(), &store.Delivery{Body: []byte(`{}`), ReceivedAt: receivedAt,
		Statuses: []store.StatusUpdate{{WAMID: wamid, Status: status, TS: ts, Recipient: store.Party{WaID: waID}}}})
	if err != nil {
		t.Fatal(err)
	}
}

// seedBystander gives another customer messages and a file, which no
// export of the first may contain.
func seedBystander(t testing.TB, s *store.Store, now time.Time) {
	t.Helper()
	ts := now.Add(-time.Hour).Unix()
	seed(t, s, seedMsg{WaID: "4917000000001", Name: "Bernd", WAMID: "wamid.bystander1", Text: "guten tag", TS: ts}, now)
	seed(t, s, seedMsg{WaID: "4917000000001", Name: "Bernd", WAMID: "wamid.bystander2", TS: ts + 1,
		File: "flyer.pdf", Media: []byte("%PDF-1.4 shared flyer")}, now)
	b := []byte("%PDF flyer for all")
	rel := sha256hex(b)
	writeMedia(t, s, rel, b)
	err := s.Write(context.Background(), func(tx *store.Tx) error {
		if _, err := tx.Exec(`INSERT INTO uploads(media_id, phone_number_id, mime_type, sha256, size, filename, path, created_at)
			VALUES ('meta-upload-flyer', '100', 'application/pdf', '', ?, 'f.pdf', ?, ?) ON CONFLICT DO NOTHING`, len(b), rel, ts+2); err != nil {
			return err
		}
		var id int64
		if err := tx.QueryRow(`INSERT INTO messages(wamid, conversation_id, direction, type, ts, created_at)
			SELECT 'wamid.bystander3', cv.id, 'outbound', 'document', ?1, ?1 FROM conversations cv JOIN contacts c ON c.id = cv.contact_id
			WHERE c.wa_id = '4917000000001' RETURNING id`, ts+2).Scan(&id); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO media(message_id, media_id, mime_type, filename, size, path, state)
			VALUES (?, 'meta-upload-flyer', 'application/pdf', 'f.pdf', ?, ?, 'stored')`, id, len(b), rel)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
