package privacy

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/pforte/pforte/store"
)

func exportSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ExportSchema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("export.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("export.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

func readZip(t testing.TB, path string) map[string][]byte {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	out := map[string][]byte{}
	for _, f := range zr.File {
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: %v", f.Name, err)
		}
		out[f.Name] = b
	}
	return out
}

func TestExportIsCompleteAndValid(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	now := time.Now()
	const n = 1203 // more than two pages
	files := map[string][]byte{}
	for i := range n {
		m := seedMsg{WaID: "4915112345678", Name: "Anna", WAMID: fmt.Sprintf("wamid.exp%04d", i), Text: fmt.Sprintf("nachricht %d =1+1", i), TS: now.Add(-time.Hour).Unix() + int64(i)}
		if i%100 == 0 {
			m.Text, m.Media, m.File, m.Caption = "", []byte(fmt.Sprintf("datei %d", i)), fmt.Sprintf("../../etc/rechnung %d.pdf", i), "beleg"
			files[m.WAMID] = m.Media
		}
		seed(t, s, m, now)
	}
	seedStatus(t, s, "4915112345678", "wamid.exp0001", "read", now.Unix(), now)
	seedBystander(t, s, now)
	// One file on disk no longer matches WhatsApp's hash.
	if err := os.WriteFile(filepath.Join(s.MediaDir(), sha256hex(files["wamid.exp0500"])), []byte("tampered"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := s.ContactByKey(ctx, "4915112345678")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordConsent(ctx, store.ConsentRecord{ContactID: c.ID, Purpose: store.PurposeMarketing, Action: "opt_in", Source: "web_form", Evidence: "form 17", Actor: "api:shop"}); err != nil {
		t.Fatal(err)
	}
	// A note and a label from the panel.
	err = s.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(`INSERT INTO notes(conversation_id, body, created_at) SELECT id, 'ruft morgen zurück', ? FROM conversations WHERE contact_id = ?`, now.Unix(), c.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(`INSERT INTO labels(id, name, created_at) VALUES (7, 'VIP', ?)`, now.Unix()); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO conversation_labels(conversation_id, label_id) SELECT id, 7 FROM conversations WHERE contact_id = ?`, c.ID)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "export.zip")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	var progress []ExportProgress
	stats, err := ExportContact(ctx, s, c, f, ExportOptions{Actor: "cli", Progress: func(p ExportProgress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if stats.Messages != n || stats.MediaFiles != len(files) || stats.MediaMismatches != 1 {
		t.Fatalf("stats: %+v", stats)
	}
	last := progress[len(progress)-1]
	if last.Messages != n || last.TotalMessages != n || last.MediaBytes == 0 {
		t.Fatalf("progress: %+v", last)
	}
	z := readZip(t, out)

	// data.json validates against the schema shipped with it.
	var doc any
	if err := json.Unmarshal(z["data.json"], &doc); err != nil {
		t.Fatalf("data.json: %v", err)
	}
	if err := exportSchema(t).Validate(doc); err != nil {
		t.Fatalf("data.json does not match its schema: %v", err)
	}
	if !bytes.Equal(z["schema.json"], ExportSchema) {
		t.Fatal("schema.json differs from the embedded schema")
	}
	var data struct {
		Subject struct {
			WaID string `json:"wa_id"`
		} `json:"subject"`
		Consent  []map[string]any `json:"consent"`
		Notes    []map[string]any `json:"notes"`
		Labels   []map[string]any `json:"labels"`
		Audit    []map[string]any `json:"audit"`
		Messages []struct {
			ID       string           `json:"id"`
			Text     *string          `json:"text"`
			Statuses []map[string]any `json:"statuses"`
			Media    *struct {
				File     string `json:"file"`
				SHA256   string `json:"sha256"`
				Verified *bool  `json:"verified"`
			} `json:"media"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(z["data.json"], &data); err != nil {
		t.Fatal(err)
	}
	if len(data.Notes) != 1 || data.Notes[0]["text"] != "ruft morgen zurück" || len(data.Labels) != 1 || data.Labels[0]["label"] != "VIP" {
		t.Fatalf("notes/labels: %v %v", data.Notes, data.Labels)
	}
	if data.Subject.WaID != "4915112345678" || len(data.Consent) != 1 || len(data.Audit) == 0 {
		t.Fatalf("subject/consent/audit: %+v %d %d", data.Subject, len(data.Consent), len(data.Audit))
	}
	// Every message, and only the customer's.
	if len(data.Messages) != n {
		t.Fatalf("messages in data.json: %d, want %d", len(data.Messages), n)
	}
	seen := map[string]bool{}
	mediaSeen := 0
	for _, m := range data.Messages {
		if !strings.HasPrefix(m.ID, "wamid.exp") || seen[m.ID] {
			t.Fatalf("unexpected or repeated message %q", m.ID)
		}
		seen[m.ID] = true
		if m.ID == "wamid.exp0001" && len(m.Statuses) != 1 {
			t.Fatalf("receipts of exp0001: %v", m.Statuses)
		}
		if want, ok := files[m.ID]; ok {
			mediaSeen++
			if m.Media == nil || m.Media.Verified == nil {
				t.Fatalf("%s: media not described: %+v", m.ID, m.Media)
			}
			got := z[m.Media.File]
			if strings.Contains(m.Media.File, "..") || !strings.HasPrefix(m.Media.File, "media/") {
				t.Fatalf("unsafe file name in zip: %q", m.Media.File)
			}
			sum := sha256.Sum256(got)
			matches := base64.StdEncoding.EncodeToString(sum[:]) == m.Media.SHA256
			if *m.Media.Verified != matches {
				t.Fatalf("%s: verified=%v but hash match is %v", m.ID, *m.Media.Verified, matches)
			}
			if m.ID != "wamid.exp0500" && !bytes.Equal(got, want) {
				t.Fatalf("%s: file bytes differ", m.ID)
			}
		}
	}
	if mediaSeen != len(files) {
		t.Fatalf("media described: %d of %d", mediaSeen, len(files))
	}
	// messages.csv has one row per message; formula-like texts are defused.
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(z["messages.csv"], []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n+1 {
		t.Fatalf("csv rows: %d", len(rows))
	}
	// The manifest lists every file with its real hash.
	var manifest struct {
		Files []manifestEntry `json:"files"`
	}
	if err := json.Unmarshal(z["manifest.json"], &manifest); err != nil {
		t.Fatal(err)
	}
	if len(manifest.Files) != len(z)-1 {
		t.Fatalf("manifest lists %d of %d files", len(manifest.Files), len(z)-1)
	}
	for _, e := range manifest.Files {
		sum := sha256.Sum256(z[e.Path])
		if hex.EncodeToString(sum[:]) != e.SHA256 || int64(len(z[e.Path])) != e.Size {
			t.Fatalf("manifest entry %s does not match", e.Path)
		}
	}
	html := string(z["zusammenfassung.html"])
	if !strings.Contains(html, "Auskunft über Ihre gespeicherten Daten") || strings.Count(html, "<tr><td>") < n {
		t.Fatal("summary incomplete")
	}
	// The export is audited without contents.
	entries, _ := s.AuditLog(ctx, 0, 1)
	if len(entries) != 1 || entries[0].Action != "contact.export" || strings.Contains(entries[0].Detail, "nachricht") {
		t.Fatalf("audit: %+v", entries)
	}
}

func TestExportEscapesHTML(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	seed(t, s, seedMsg{WaID: "4915112345678", Name: "<b>x</b>", WAMID: "wamid.x", Text: "<script>alert(1)</script>", TS: time.Now().Unix()}, time.Now())
	c, _ := s.ContactByKey(ctx, "4915112345678")
	var buf bytes.Buffer
	if _, err := ExportContact(ctx, s, c, &buf, ExportOptions{Actor: "cli"}); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if f.Name == "zusammenfassung.html" {
			r, _ := f.Open()
			b, _ := io.ReadAll(r)
			if bytes.Contains(b, []byte("<script>")) || bytes.Contains(b, []byte("<b>x")) {
				t.Fatal("customer text reached the summary unescaped")
			}
			return
		}
	}
	t.Fatal("no summary")
}
