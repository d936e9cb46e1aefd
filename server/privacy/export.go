package privacy

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"html/template"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pforte/pforte/store"
)

// ExportFormat names the version of data.json; see export_schema.json.
const ExportFormat = "pforte-export/1"

// ExportSchema is the JSON Schema of data.json, shipped in every export.
//
//go:embed export_schema.json
var ExportSchema []byte

// ExportOptions controls one export.
type ExportOptions struct {
	Now      time.Time
	Actor    store.Actor // who asked, for the audit trail
	IP       string
	Progress func(ExportProgress) // called after every page of messages and every media file
}

// ExportProgress tells how far an export has come.
type ExportProgress struct {
	Messages, TotalMessages     int64
	MediaBytes, TotalMediaBytes int64
}

// ExportStats sums up a finished export.
type ExportStats struct {
	Messages        int
	MediaFiles      int
	MediaBytes      int64
	MediaMismatches int // files whose bytes do not match WhatsApp's sha256
	MediaMissing    int // media with no local copy (not downloaded, or purged)
}

// exportPage is how often (in messages) the progress is reported and the
// CSV flushed.
const exportPage = 500

// ExportContact writes the Art. 15/20 export of one customer as a ZIP to
// w: data.json (schema.json describes it), messages.csv, the media files,
// a German summary (zusammenfassung.html) and manifest.json with the
// SHA-256 of every file. It streams the store's rows page by page, so
// memory stays flat however many messages and files the customer has.
func ExportContact(ctx context.Context, st *store.Store, c *store.Contact, w io.Writer, opts ExportOptions) (*ExportStats, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Actor == "" {
		return nil, fmt.Errorf("%w: an export needs an actor", store.ErrInvalid)
	}
	e := &exporter{s: st, c: c, opts: opts, zw: zip.NewWriter(w), stats: &ExportStats{}, verified: map[int64]mediaResult{}}
	var err error
	if e.revisions, err = st.SubjectRevisions(ctx, c.ID); err != nil {
		return nil, fmt.Errorf("privacy: export: %w", err)
	}
	if e.prog.TotalMessages, e.prog.TotalMediaBytes, err = st.SubjectTotals(ctx, c.ID); err != nil {
		return nil, fmt.Errorf("privacy: export: %w", err)
	}
	steps := []struct {
		name   string
		method uint16
		fn     func(context.Context, io.Writer) error
	}{
		{"LIESMICH.txt", zip.Deflate, e.readme},
		{"schema.json", zip.Deflate, func(_ context.Context, w io.Writer) error { _, err := w.Write(ExportSchema); return err }},
	}
	for _, st := range steps {
		if err := e.file(ctx, st.name, st.method, st.fn); err != nil {
			return nil, err
		}
	}
	// Media first: data.json reports whether each file matched its hash.
	if err := e.media(ctx); err != nil {
		return nil, err
	}
	for _, st := range []struct {
		name string
		fn   func(context.Context, io.Writer) error
	}{{"data.json", e.dataJSON}, {"messages.csv", e.csv}, {"zusammenfassung.html", e.summary}} {
		if err := e.file(ctx, st.name, zip.Deflate, st.fn); err != nil {
			return nil, err
		}
	}
	if err := e.file(ctx, "manifest.json", zip.Deflate, e.manifestJSON); err != nil {
		return nil, err
	}
	if err := e.zw.Close(); err != nil {
		return nil, fmt.Errorf("privacy: export: %w", err)
	}
	if err := st.AuditExport(ctx, c.ID, opts.Now.Unix(), opts.Actor, opts.IP, e.stats.Messages, e.stats.MediaFiles,
		e.stats.MediaMismatches); err != nil {
		return nil, err
	}
	return e.stats, nil
}

type exporter struct {
	s        *store.Store
	c        *store.Contact
	opts     ExportOptions
	zw       *zip.Writer
	stats    *ExportStats
	prog     ExportProgress
	verified map[int64]mediaResult // by message id
	manifest []manifestEntry
	// revisions are earlier texts of edited or revoked messages, by message id.
	revisions map[int64][]store.Revision
}

type mediaResult struct {
	file     string
	verified *bool
}

type manifestEntry struct {
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// file writes one ZIP entry and records its size and hash in the manifest.
func (e *exporter) file(ctx context.Context, name string, method uint16, fn func(context.Context, io.Writer) error) error {
	w, err := e.zw.CreateHeader(&zip.FileHeader{Name: name, Method: method, Modified: e.opts.Now})
	if err != nil {
		return fmt.Errorf("privacy: export %s: %w", name, err)
	}
	hw := &hashCounter{h: sha256.New()}
	bw := bufio.NewWriterSize(io.MultiWriter(w, hw), 64<<10)
	if err := fn(ctx, bw); err != nil {
		return fmt.Errorf("privacy: export %s: %w", name, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("privacy: export %s: %w", name, err)
	}
	e.manifest = append(e.manifest, manifestEntry{Path: name, Size: hw.n, SHA256: hex.EncodeToString(hw.h.Sum(nil))})
	return nil
}

type hashCounter struct {
	h hash.Hash
	n int64
}

func (h *hashCounter) Write(p []byte) (int, error) {
	h.n += int64(len(p))
	return h.h.Write(p)
}

func (e *exporter) progress() {
	if e.opts.Progress != nil {
		e.opts.Progress(e.prog)
	}
}

func (e *exporter) readme(_ context.Context, w io.Writer) error {
	_, err := fmt.Fprintf(w, `Auskunft nach Art. 15 und Datenübertragung nach Art. 20 DSGVO
Export access and portability under Art. 15 and 20 GDPR

Erstellt / generated: %s

data.json             alle gespeicherten Daten, maschinenlesbar (Format %s, beschrieben in schema.json)
                      all stored data, machine-readable (format %s, described by schema.json)
messages.csv          die Nachrichten als Tabelle / the messages as a table
media/                die gespeicherten Dateien / the stored files
zusammenfassung.html  Zusammenfassung zum Lesen (Deutsch) / summary to read (German)
manifest.json         Größe und SHA-256 jeder Datei / size and SHA-256 of every file
`, e.opts.Now.UTC().Format(time.RFC3339), ExportFormat, ExportFormat)
	return err
}

// eachMessage goes through the customer's messages, oldest first, with
// their receipts.
func (e *exporter) eachMessage(ctx context.Context, fn func(*store.Message, []store.StatusHistory) error) error {
	return e.s.EachSubjectMessage(ctx, e.c.ID, fn)
}

// media copies every stored file into media/, hashing it on the way.
func (e *exporter) media(ctx context.Context) error {
	return e.eachMessage(ctx, func(m *store.Message, _ []store.StatusHistory) error {
		if m.Media == nil {
			return nil
		}
		if m.Media.State != store.MediaStored || m.Media.Path == "" {
			e.stats.MediaMissing++
			return nil
		}
		f, err := e.s.OpenSubjectMedia(m.Media.Path)
		if errors.Is(err, os.ErrNotExist) {
			e.stats.MediaMissing++
			return nil
		}
		if err != nil {
			return err
		}
		defer f.Close()
		name := fmt.Sprintf("media/%d_%s", m.ID, store.SafeFileName(m.Media.Filename, m.Media.MimeType))
		var sum []byte
		err = e.file(ctx, name, zip.Store, func(_ context.Context, w io.Writer) error {
			h := sha256.New()
			n, err := io.Copy(io.MultiWriter(w, h), f)
			e.stats.MediaBytes += n
			e.prog.MediaBytes += n
			sum = h.Sum(nil)
			return err
		})
		if err != nil {
			return err
		}
		r := mediaResult{file: name}
		if m.Media.SHA256 != "" {
			ok := m.Media.SHA256 == base64.StdEncoding.EncodeToString(sum) || strings.EqualFold(m.Media.SHA256, hex.EncodeToString(sum))
			r.verified = &ok
			if !ok {
				e.stats.MediaMismatches++
			}
		}
		e.verified[m.ID] = r
		e.stats.MediaFiles++
		e.progress()
		return nil
	})
}

func rfc3339(ts int64) string { return time.Unix(ts, 0).UTC().Format(time.RFC3339) }

func optionalTime(ts int64) any {
	if ts == 0 {
		return nil
	}
	return rfc3339(ts)
}

func optionalString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func rawOrNil(b []byte) json.RawMessage {
	if len(b) == 0 || !json.Valid(b) {
		return json.RawMessage("null")
	}
	return b
}

// dataJSON streams data.json: the small sections first, then the messages
// one by one.
func (e *exporter) dataJSON(ctx context.Context, w io.Writer) error {
	c := e.c
	head := []struct {
		key string
		val func() (any, error)
	}{
		{"format", func() (any, error) { return ExportFormat, nil }},
		{"generated_at", func() (any, error) { return e.opts.Now.UTC().Format(time.RFC3339), nil }},
		{"controller_notice", func() (any, error) {
			return "Diese Datei enthält alle Daten, die das Unternehmen in Pforte über Sie gespeichert hat. " +
				"This file holds all data the company keeps about you in Pforte.", nil
		}},
		{"subject", func() (any, error) {
			return map[string]any{"wa_id": optionalString(c.WaID), "user_id": optionalString(c.UserID),
				"parent_user_id": optionalString(c.ParentUserID), "username": optionalString(c.Username), "name": c.Name,
				"created_at": rfc3339(c.CreatedAt), "updated_at": rfc3339(c.UpdatedAt)}, nil
		}},
		{"consent", func() (any, error) { return e.consentJSON(ctx) }},
		{"legal_holds", func() (any, error) { return e.holdsJSON(ctx) }},
		{"conversations", func() (any, error) { return e.conversationsJSON(ctx) }},
		{"notes", func() (any, error) { return e.notesJSON(ctx) }},
		{"labels", func() (any, error) { return e.labelsJSON(ctx) }},
		{"address_book", func() (any, error) { return e.addressBookJSON(ctx) }},
		{"audit", func() (any, error) { return e.auditJSON(ctx) }},
		{"campaigns", func() (any, error) { return e.campaignsJSON(ctx) }},
		{"satisfaction_surveys", func() (any, error) { return e.surveysJSON(ctx) }},
	}
	if _, err := io.WriteString(w, "{\n"); err != nil {
		return err
	}
	for _, h := range head {
		v, err := h.val()
		if err != nil {
			return err
		}
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "%q: %s,\n", h.key, b); err != nil {
			return err
		}
	}
	if _, err := io.WriteString(w, "\"messages\": ["); err != nil {
		return err
	}
	first := true
	err := e.eachMessage(ctx, func(m *store.Message, sts []store.StatusHistory) error {
		statuses := make([]map[string]any, 0, len(sts))
		for _, h := range sts {
			st := map[string]any{"status": h.Status, "timestamp": rfc3339(h.TS)}
			if len(h.Errors) > 0 {
				st["errors"] = rawOrNil(h.Errors)
			}
			if len(h.Pricing) > 0 {
				st["pricing"] = rawOrNil(h.Pricing) // what Meta charged for the message
			}
			statuses = append(statuses, st)
		}
		id := m.WAMID
		if id == "" {
			id = "local:" + strconv.FormatInt(m.ID, 10)
		}
		j := map[string]any{"id": id, "conversation_id": m.ConversationID, "phone_number_id": m.PhoneNumberID,
			"direction": m.Direction, "type": m.Type, "text": nil, "timestamp": rfc3339(m.TS), "status": optionalString(string(m.Status)),
			"statuses": statuses, "errors": rawOrNil(m.Errors), "context": rawOrNil(m.Context), "payload": rawOrNil(m.Payload),
			"media": nil}
		if len(m.Referral) > 0 {
			j["referral"] = rawOrNil(m.Referral)
		}
		addCoexistence(j, m, e.revisions[m.ID])
		if m.Text.Valid {
			j["text"] = m.Text.String
		}
		if m.Media != nil {
			r := e.verified[m.ID]
			md := map[string]any{"mime_type": m.Media.MimeType, "sha256": m.Media.SHA256, "filename": m.Media.Filename,
				"state": m.Media.State, "file": optionalString(r.file), "verified": nil, "size": nil}
			if r.verified != nil {
				md["verified"] = *r.verified
			}
			if m.Media.State == store.MediaStored {
				md["size"] = m.Media.Size
			}
			j["media"] = md
		}
		b, err := json.Marshal(j)
		if err != nil {
			return err
		}
		sep := ",\n"
		if first {
			sep, first = "\n", false
		}
		if _, err := io.WriteString(w, sep); err != nil {
			return err
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
		e.stats.Messages++
		e.prog.Messages++
		if e.prog.Messages%exportPage == 0 {
			e.progress()
		}
		return nil
	})
	if err != nil {
		return err
	}
	e.progress()
	_, err = io.WriteString(w, "\n]\n}\n")
	return err
}

func (e *exporter) consentJSON(ctx context.Context) (any, error) {
	recs, err := e.s.ConsentRecords(ctx, e.c.ID)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		out = append(out, map[string]any{"purpose": r.Purpose, "action": r.Action, "source": r.Source,
			"evidence": r.Evidence, "actor": r.Actor, "timestamp": rfc3339(r.TS)})
	}
	return out, nil
}

// campaignsJSON lists the campaigns the person was a recipient of, with
// their outcome (the recipient rows hold nothing else).
func (e *exporter) campaignsJSON(ctx context.Context) (any, error) {
	rs, names, err := e.s.ContactCampaigns(ctx, e.c.ID)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(rs))
	for i, r := range rs {
		out = append(out, map[string]any{"campaign": names[i], "status": r.Status, "reason": r.Reason, "opted_out": r.OptedOut})
	}
	return out, nil
}

func (e *exporter) holdsJSON(ctx context.Context) (any, error) {
	hs, err := e.s.Holds(ctx, e.c.ID)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(hs))
	for _, h := range hs {
		j := map[string]any{"scope": "contact", "preset": h.Preset, "reason": h.Reason, "until": optionalTime(h.Until),
			"set_at": rfc3339(h.CreatedAt), "released_at": optionalTime(h.ReleasedAt)}
		if h.ConversationID != 0 {
			j["scope"], j["conversation_id"] = "conversation", h.ConversationID
		}
		out = append(out, j)
	}
	return out, nil
}

func (e *exporter) conversationsJSON(ctx context.Context) (any, error) {
	cvs, err := e.s.SubjectConversations(ctx, e.c.ID)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(cvs))
	for _, cv := range cvs {
		out = append(out, map[string]any{"id": cv.ID, "phone_number_id": cv.PhoneNumberID, "status": cv.Status,
			"created_at": rfc3339(cv.CreatedAt), "last_message_at": rfc3339(cv.LastMessageAt)})
	}
	return out, nil
}

// notesJSON lists the team's notes on the customer's conversations. The
// author is not named: staff are data subjects of their own (Art. 15(4)).
func (e *exporter) notesJSON(ctx context.Context) (any, error) {
	notes, err := e.s.SubjectNotes(ctx, e.c.ID)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(notes))
	for _, n := range notes {
		out = append(out, map[string]any{"conversation_id": n.ConversationID, "created_at": rfc3339(n.CreatedAt),
			"text": n.Body, "author": "Mitarbeiter/in"})
	}
	return out, nil
}

func (e *exporter) labelsJSON(ctx context.Context) (any, error) {
	labels, err := e.s.SubjectLabels(ctx, e.c.ID)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(labels))
	for _, l := range labels {
		out = append(out, map[string]any{"conversation_id": l.ConversationID, "label": l.Name})
	}
	return out, nil
}

// addressBookJSON is the address book entry: details, custom field values
// with their labels, and the labels on the contact.
func (e *exporter) addressBookJSON(ctx context.Context) (any, error) {
	d, err := e.s.ContactDetails(ctx, e.c.ID)
	if err != nil {
		return nil, err
	}
	defs, err := e.s.ContactFields(ctx)
	if err != nil {
		return nil, err
	}
	fields := []map[string]string{}
	for _, f := range defs {
		if v, ok := d.Fields[f.Key]; ok {
			fields = append(fields, map[string]string{"key": f.Key, "label": f.Label, "value": v})
		}
	}
	labels := []string{}
	for _, l := range d.Labels {
		labels = append(labels, l.Name)
	}
	return map[string]any{"email": d.Email, "company": d.Company, "note": d.Note, "fields": fields, "labels": labels}, nil
}

// auditJSON lists audit entries about the contact or its conversations.
func (e *exporter) auditJSON(ctx context.Context) (any, error) {
	entries, err := e.s.SubjectAudit(ctx, e.c.ID)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(entries))
	for _, a := range entries {
		j := map[string]any{"timestamp": rfc3339(a.TS), "actor": a.Actor, "action": a.Action}
		if a.Detail != "" && json.Valid([]byte(a.Detail)) {
			j["detail"] = json.RawMessage(a.Detail)
		}
		out = append(out, j)
	}
	return out, nil
}

// csvCell defuses cells that spreadsheets would run as formulas.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (e *exporter) csv(ctx context.Context, w io.Writer) error {
	// A byte order mark makes Excel read the file as UTF-8.
	if _, err := io.WriteString(w, "\ufeff"); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"id", "zeitpunkt_utc", "richtung", "nummer", "typ", "text", "status", "datei", "sha256"})
	n := 0
	err := e.eachMessage(ctx, func(m *store.Message, _ []store.StatusHistory) error {
		var file, sum string
		if m.Media != nil {
			file, sum = e.verified[m.ID].file, m.Media.SHA256
		}
		id := m.WAMID
		if id == "" {
			id = "local:" + strconv.FormatInt(m.ID, 10)
		}
		cw.Write([]string{id, rfc3339(m.TS), m.Direction, m.PhoneNumberID, m.Type, csvCell(m.Text.String), string(m.Status), file, sum})
		if n++; n%exportPage == 0 {
			cw.Flush()
		}
		return cw.Error()
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

var summaryHead = template.Must(template.New("head").Parse(`<!doctype html>
<html lang="de"><head><meta charset="utf-8"><title>Datenauskunft</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{border-bottom:1px solid #ccc;padding:.3em;text-align:left;vertical-align:top}</style>
</head><body>
<h1>Auskunft über Ihre gespeicherten Daten</h1>
<p>Erstellt am {{.Generated}}. Diese Zusammenfassung ist Teil einer Auskunft nach Art. 15 DSGVO.
Die vollständigen Daten in maschinenlesbarer Form stehen in <code>data.json</code> (Art. 20 DSGVO).</p>
<h2>Ihre Angaben</h2>
<table>
<tr><th>Telefonnummer (WhatsApp)</th><td>{{.WaID}}</td></tr>
<tr><th>WhatsApp-Nutzerkennung</th><td>{{.UserID}}</td></tr>
<tr><th>Name laut WhatsApp-Profil</th><td>{{.Name}}</td></tr>
<tr><th>Erstmals gespeichert</th><td>{{.Created}}</td></tr>
<tr><th>Anzahl Nachrichten</th><td>{{.Messages}}</td></tr>
<tr><th>Anzahl Dateien</th><td>{{.Files}}</td></tr>
</table>
<h2>Einwilligungen</h2>
{{if .Consent}}<table><tr><th>Zeitpunkt</th><th>Zweck</th><th>Erklärung</th><th>Quelle</th></tr>
{{range .Consent}}<tr><td>{{.When}}</td><td>{{.Purpose}}</td><td>{{.Action}}</td><td>{{.Source}}</td></tr>
{{end}}</table>{{else}}<p>Keine Einwilligungen gespeichert.</p>{{end}}
<h2>Aufbewahrungspflichten</h2>
{{if .Holds}}<ul>{{range .Holds}}<li>{{.}}</li>{{end}}</ul>{{else}}<p>Keine.</p>{{end}}
<h2>Nachrichten</h2>
<table><tr><th>Zeitpunkt (UTC)</th><th>Richtung</th><th>Art</th><th>Inhalt</th><th>Datei</th></tr>
`))

var summaryRow = template.Must(template.New("row").Parse(`<tr><td>{{.When}}</td><td>{{.Dir}}</td><td>{{.Type}}</td><td>{{.Text}}</td><td>{{.File}}</td></tr>
`))

func (e *exporter) summary(ctx context.Context, w io.Writer) error {
	type consentRow struct{ When, Purpose, Action, Source string }
	recs, err := e.s.ConsentRecords(ctx, e.c.ID)
	if err != nil {
		return err
	}
	purpose := map[string]string{"service": "Kundenservice", "marketing": "Werbung"}
	action := map[store.ConsentAction]string{store.OptIn: "erteilt", store.OptOut: "widerrufen"}
	var cons []consentRow
	for _, r := range recs {
		cons = append(cons, consentRow{rfc3339(r.TS), purpose[r.Purpose], action[r.Action], r.Source})
	}
	hs, err := e.s.Holds(ctx, e.c.ID)
	if err != nil {
		return err
	}
	var holds []string
	for _, h := range hs {
		if h.Active(e.opts.Now) {
			until := "bis auf Weiteres"
			if h.Until != 0 {
				until = "bis " + time.Unix(h.Until, 0).UTC().Format("02.01.2006")
			}
			holds = append(holds, fmt.Sprintf("Gesetzliche Aufbewahrung %s: %s", until, h.Reason))
		}
	}
	err = summaryHead.Execute(w, map[string]any{"Generated": e.opts.Now.UTC().Format("02.01.2006 15:04 UTC"),
		"WaID": e.c.WaID, "UserID": e.c.UserID, "Name": e.c.Name, "Created": rfc3339(e.c.CreatedAt),
		"Messages": e.stats.Messages, "Files": e.stats.MediaFiles, "Consent": cons, "Holds": holds})
	if err != nil {
		return err
	}
	dir := map[string]string{"inbound": "von Ihnen", "outbound": "an Sie"}
	err = e.eachMessage(ctx, func(m *store.Message, _ []store.StatusHistory) error {
		return summaryRow.Execute(w, map[string]any{"When": rfc3339(m.TS), "Dir": dir[m.Direction], "Type": m.Type,
			"Text": m.Text.String, "File": e.verified[m.ID].file})
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, "</table>\n</body></html>\n")
	return err
}

func (e *exporter) manifestJSON(_ context.Context, w io.Writer) error {
	return json.NewEncoder(w).Encode(map[string]any{"format": ExportFormat, "generated_at": e.opts.Now.UTC().Format(time.RFC3339),
		"files": e.manifest, "messages": e.stats.Messages, "media_files": e.stats.MediaFiles,
		"media_mismatches": e.stats.MediaMismatches, "media_missing": e.stats.MediaMissing})
}

// surveysJSON lists the customer's satisfaction surveys and answers.
func (e *exporter) surveysJSON(ctx context.Context) (any, error) {
	recs, err := e.s.SurveysOfContact(ctx, e.c.ID)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		j := map[string]any{"phone_number_id": r.PhoneNumberID, "state": r.State, "closed_at": rfc3339(r.ClosedAt)}
		if r.AnsweredAt > 0 {
			j["score"], j["max_score"], j["answered_at"] = r.Score, r.Max, rfc3339(r.AnsweredAt)
		}
		if r.Comment != "" {
			j["comment"] = r.Comment
		}
		out = append(out, j)
	}
	return out, nil
}
