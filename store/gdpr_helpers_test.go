package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const tags = "sqlite_omit_load_extension sqlite_fts5 osusergo netgo"

// openDP opens a store in a fresh directory; logs go to buf if given.
func openDP(t testing.TB, buf io.Writer) *Store {
	t.Helper()
	if buf == nil {
		buf = io.Discard
	}
	s, err := Open(context.Background(), t.TempDir(), Options{IsStopWord: testStopWord, Logger: slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// seedMsg is one inbound message to seed, with its raw webhook body.
type seedMsg struct {
	Number  string // phone_number_id
	WaID    string
	Name    string
	WAMID   string
	Text    string
	TS      int64
	Media   []byte // if set: an image with these bytes, stored in the media folder
	Caption string
	File    string
}

func (m seedMsg) body() []byte {
	msg := map[string]any{"from": m.WaID, "id": m.WAMID, "timestamp": fmt.Sprint(m.TS)}
	if m.Media != nil {
		sum := sha256.Sum256(m.Media)
		msg["type"] = "document"
		msg["document"] = map[string]any{"caption": m.Caption, "filename": m.File, "mime_type": "application/pdf",
			"sha256": base64.StdEncoding.EncodeToString(sum[:]), "id": "media-" + m.WAMID}
	} else {
		msg["type"] = "text"
		msg["text"] = map[string]any{"body": m.Text}
	}
	v := map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": "waba1", "changes": []any{
		map[string]any{"field": "messages", "value": map[string]any{
			"messaging_product": "whatsapp",
			"metadata":          map[string]any{"display_phone_number": "4930000", "phone_number_id": m.Number},
			"contacts":          []any{map[string]any{"profile": map[string]any{"name": m.Name}, "wa_id": m.WaID}},
			"messages":          []any{msg},
		}}}}}}
	b, _ := json.Marshal(v)
	return b
}

// seed ingests the message like the webhook would and, for media, stores
// the file like the downloader would.
func seed(t testing.TB, s *Store, m seedMsg, receivedAt time.Time) {
	t.Helper()
	ctx := context.Background()
	if m.Number == "" {
		m.Number = "100"
	}
	in := InboundMessage{Number: Number{PhoneNumberID: m.Number, WABAID: "waba1"}, From: Party{WaID: m.WaID, Name: m.Name},
		WAMID: m.WAMID, Type: "text", TS: m.TS}
	if m.Media != nil {
		sum := sha256.Sum256(m.Media)
		in.Type = "document"
		in.Text = sql.NullString{String: m.Caption, Valid: m.Caption != ""}
		in.Media = &MediaRef{MediaID: "media-" + m.WAMID, MimeType: "application/pdf", SHA256: base64.StdEncoding.EncodeToString(sum[:]), Filename: m.File}
		in.Payload, _ = json.Marshal(map[string]any{"caption": m.Caption, "filename": m.File})
	} else {
		in.Text = sql.NullString{String: m.Text, Valid: true}
		in.Payload, _ = json.Marshal(map[string]any{"body": m.Text})
	}
	if _, err := s.Ingest(ctx, &Delivery{Body: m.body(), ReceivedAt: receivedAt, Messages: []InboundMessage{in}}); err != nil {
		t.Fatal(err)
	}
	if m.Media != nil {
		storeMediaBytes(t, s, m.WAMID, m.Media)
	}
}

func storeMediaBytes(t testing.TB, s *Store, wamid string, b []byte) {
	t.Helper()
	sum := sha256.Sum256(b)
	rel := hex.EncodeToString(sum[:])
	if err := os.MkdirAll(s.MediaDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.MediaDir(), rel), b, 0o600); err != nil {
		t.Fatal(err)
	}
	err := s.Write(context.Background(), func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE media SET state = 'stored', path = ?, size = ? WHERE message_id = (SELECT id FROM messages WHERE wamid = ?)`,
			rel, len(b), wamid)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// seedStatus ingests a receipt for an outbound message.
func seedStatus(t testing.TB, s *Store, waID, wamid, status string, ts int64, receivedAt time.Time) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{"id": "waba1",
		"changes": []any{map[string]any{"field": "messages", "value": map[string]any{"statuses": []any{map[string]any{
			"id": wamid, "status": status, "timestamp": fmt.Sprint(ts), "recipient_id": waID}}}}}}}})
	_, err := s.Ingest(context.Background(), &Delivery{Body: body, ReceivedAt: receivedAt,
		Statuses: []StatusUpdate{{WAMID: wamid, Status: status, TS: ts, Recipient: Party{WaID: waID}}}})
	if err != nil {
		t.Fatal(err)
	}
}

// count runs a count query on the reader.
func count(t testing.TB, s *Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := s.rdb.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// grepDir counts occurrences of needle in every file under dir.
func grepDir(t testing.TB, dir string, needle []byte) map[string]int {
	t.Helper()
	hits := map[string]int{}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if n := bytes.Count(b, needle); n > 0 {
			hits[p] += n
		}
		return nil
	})
	return hits
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
