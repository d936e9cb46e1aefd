// Package addressbook reads and writes the address book's CSV files: it
// detects the encoding (UTF-8, UTF-16 with BOM, Windows-1252 as German
// Excel writes it) and the separator, maps columns to contact fields,
// turns rows into store.ImportRow, and writes the export Excel opens
// (UTF-8 with BOM). The store checks and writes the rows.
package addressbook

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"

	"github.com/pforte/pforte/store"
)

// Encoding names a file's character encoding.
type Encoding string

// Encodings Pforte reads.
const (
	UTF8        Encoding = "UTF-8"
	UTF16       Encoding = "UTF-16"
	Windows1252 Encoding = "Windows-1252"
)

// ErrEncoding is a file that is neither UTF-8, UTF-16 with BOM nor
// Windows-1252 text (a binary file, UTF-16 without BOM, a spreadsheet
// saved as .xlsx).
var ErrEncoding = errors.New("addressbook: the file is not text in UTF-8 or Windows-1252")

// ErrNoHeader is a file without a header line.
var ErrNoHeader = errors.New("addressbook: the file has no header line")

// MaxColumns limits the columns of a file (and so the mapping form).
const MaxColumns = 100

// DetectEncoding reads src once. UTF-8 (with or without BOM) wins when
// every byte sequence is valid UTF-8; a UTF-16 BOM means UTF-16; other
// text is Windows-1252 unless it holds NUL bytes or the five bytes
// Windows-1252 leaves undefined, which text from Excel never has.
func DetectEncoding(src io.Reader) (Encoding, error) {
	br := bufio.NewReaderSize(src, 64<<10)
	head, _ := br.Peek(3)
	if bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		return UTF16, nil
	}
	valid, cp1252 := true, true
	var carry []byte
	buf := make([]byte, 64<<10)
	for {
		n, err := br.Read(buf)
		chunk := append(carry, buf[:n]...)
		carry = nil
		if bytes.IndexByte(chunk, 0) >= 0 {
			return "", ErrEncoding
		}
		for _, b := range chunk {
			if b == 0x81 || b == 0x8D || b == 0x8F || b == 0x90 || b == 0x9D {
				cp1252 = false
			}
		}
		if valid {
			// Keep an incomplete sequence at the end for the next chunk.
			cut := len(chunk)
			for i := len(chunk) - 1; i >= 0 && i >= len(chunk)-3; i-- {
				if utf8.RuneStart(chunk[i]) {
					if !utf8.FullRune(chunk[i:]) {
						cut = i
					}
					break
				}
			}
			if !utf8.Valid(chunk[:cut]) {
				valid = false
			}
			carry = append([]byte(nil), chunk[cut:]...)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("addressbook: read: %w", err)
		}
	}
	if valid && len(carry) == 0 {
		return UTF8, nil
	}
	if !cp1252 {
		return "", ErrEncoding
	}
	return Windows1252, nil
}

func decoder(enc Encoding) *encoding.Decoder {
	switch enc {
	case UTF16:
		return unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM).NewDecoder()
	case Windows1252:
		return charmap.Windows1252.NewDecoder()
	}
	return unicode.UTF8BOM.NewDecoder() // drops a BOM
}

// DetectSeparator picks ;, , or tab by counting them outside quotes in
// the header line (German Excel writes ;).
func DetectSeparator(header string) rune {
	counts := map[rune]int{}
	quoted := false
	for _, r := range header {
		switch {
		case r == '"':
			quoted = !quoted
		case !quoted && (r == ';' || r == ',' || r == '\t'):
			counts[r]++
		}
	}
	best, n := ',', 0
	for _, r := range []rune{';', ',', '\t'} {
		if counts[r] > n {
			best, n = r, counts[r]
		}
	}
	return best
}

// File is an uploaded CSV file: read again for every pass.
type File struct {
	Name      string
	src       io.ReadSeeker
	Encoding  Encoding
	Separator rune
	Header    []string
}

// Open detects the file's encoding and separator and reads its header.
func Open(name string, src io.ReadSeeker) (*File, error) {
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("addressbook: %w", err)
	}
	enc, err := DetectEncoding(src)
	if err != nil {
		return nil, err
	}
	f := &File{Name: name, src: src, Encoding: enc}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("addressbook: %w", err)
	}
	line, err := bufio.NewReader(transform.NewReader(src, decoder(enc))).ReadString('\n')
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("addressbook: read: %w", err)
	}
	if strings.TrimSpace(line) == "" {
		return nil, ErrNoHeader
	}
	f.Separator = DetectSeparator(line)
	r, err := f.reader()
	if err != nil {
		return nil, err
	}
	if f.Header, err = r.Read(); err != nil {
		return nil, ErrNoHeader
	}
	if len(f.Header) > MaxColumns {
		return nil, fmt.Errorf("%w: at most %d columns", store.ErrInvalid, MaxColumns)
	}
	for i, h := range f.Header {
		f.Header[i] = strings.TrimSpace(h)
	}
	return f, nil
}

func (f *File) reader() (*csv.Reader, error) {
	if _, err := f.src.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("addressbook: %w", err)
	}
	r := csv.NewReader(transform.NewReader(f.src, decoder(f.Encoding)))
	r.Comma = f.Separator
	r.FieldsPerRecord = -1
	r.LazyQuotes = true // Excel's own quoting is regular; hand-made files are not
	r.ReuseRecord = false
	return r, nil
}

// Records calls fn for every data row (not the header) with its line
// number; rows whose cells are all empty (Excel's trailing ";;;") are
// skipped.
func (f *File) Records(fn func(line int, rec []string) error) error {
	r, err := f.reader()
	if err != nil {
		return err
	}
	first := true
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fmt.Errorf("%w: line %d: %v", store.ErrInvalid, pe.Line, pe.Err)
			}
			return fmt.Errorf("addressbook: read: %w", err)
		}
		if first {
			first = false
			continue
		}
		if !slices.ContainsFunc(rec, func(s string) bool { return strings.TrimSpace(s) != "" }) {
			continue
		}
		line, _ := r.FieldPos(0)
		if err := fn(line, rec); err != nil {
			return err
		}
	}
}

// Target is what a column is imported as.
type Target string

// Column targets. A custom field is "field:" + its key.
const (
	Ignore           Target = ""
	TargetPhone      Target = "phone"
	TargetUserID     Target = "user_id"
	TargetName       Target = "name"
	TargetFirstName  Target = "first_name"
	TargetLastName   Target = "last_name"
	TargetEmail      Target = "email"
	TargetCompany    Target = "company"
	TargetNote       Target = "note"
	TargetLabels     Target = "labels"
	TargetMarketing  Target = "consent_marketing"
	TargetService    Target = "consent_service"
	TargetConsentAt  Target = "consent_date"
	fieldTargetPrefx        = "field:"
)

// FieldTarget is the target of a custom field.
func FieldTarget(key string) Target { return Target(fieldTargetPrefx + key) }

// BuiltinTargets lists the fixed targets in the order a form offers them.
var BuiltinTargets = []Target{TargetPhone, TargetName, TargetFirstName, TargetLastName, TargetEmail, TargetCompany, TargetNote,
	TargetLabels, TargetUserID, TargetMarketing, TargetService, TargetConsentAt}

// synonyms are header names (lower case, without spaces, dashes and
// underscores) each target is guessed from: German and English, and what
// Pforte's own export writes.
var synonyms = map[Target][]string{
	TargetPhone:     {"phone", "telefon", "telefonnummer", "handy", "handynummer", "mobil", "mobilnummer", "mobiltelefon", "mobile", "phonenumber", "nummer", "rufnummer", "whatsapp", "waid", "tel"},
	TargetUserID:    {"userid", "bsuid", "benutzerid"},
	TargetName:      {"name", "fullname", "vollständigername", "anzeigename", "kontakt", "kunde"},
	TargetFirstName: {"vorname", "firstname", "givenname"},
	TargetLastName:  {"nachname", "lastname", "surname", "familienname", "familyname"},
	TargetEmail:     {"email", "mail", "emailadresse", "e-mail", "emailaddress"},
	TargetCompany:   {"company", "firma", "unternehmen", "organisation", "organization"},
	TargetNote:      {"note", "notiz", "notizen", "bemerkung", "bemerkungen", "kommentar", "notes"},
	TargetLabels:    {"labels", "label", "tags", "tag", "schlagwörter", "schlagworte", "gruppen"},
	TargetMarketing: {"consentmarketing", "marketing", "werbeeinwilligung", "einwilligungmarketing", "optin", "newsletter", "werbung"},
	TargetService:   {"consentservice", "service", "einwilligungservice", "serviceeinwilligung"},
	TargetConsentAt: {"consentdate", "consentat", "einwilligungsdatum", "einwilligungam", "optindatum", "datumeinwilligung"},
}

func headerKey(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	return strings.NewReplacer(" ", "", "-", "", "_", "", ".", "", ":", "", "\u00a0", "").Replace(h)
}

// GuessMapping proposes a target for each header: a custom field by key
// or label, else a built-in synonym; a target is used once.
func GuessMapping(header []string, defs []store.ContactField) []Target {
	out := make([]Target, len(header))
	used := map[Target]bool{}
	for i, h := range header {
		k := headerKey(h)
		if k == "" {
			continue
		}
		var t Target
		for _, d := range defs {
			if k == headerKey(d.Key) || k == headerKey(d.Label) || k == "field"+headerKey(d.Key) {
				t = FieldTarget(d.Key)
				break
			}
		}
		if t == Ignore {
			for _, cand := range BuiltinTargets {
				if slices.Contains(synonyms[cand], k) {
					t = cand
					break
				}
			}
		}
		if t != Ignore && !used[t] {
			out[i], used[t] = t, true
		}
	}
	return out
}

// MappingError is a mapping that cannot be imported.
type MappingError struct {
	Column int    // 0-based; -1 for the mapping as a whole
	Target Target // the target at fault
	Reason string // "unknown", "twice", "no_identifier"
}

func (e *MappingError) Error() string {
	return fmt.Sprintf("addressbook: mapping: column %d (%s): %s", e.Column, e.Target, e.Reason)
}

// CheckMapping refuses unknown targets, a target used twice and a
// mapping without a phone number or user id column.
func CheckMapping(m []Target, defs []store.ContactField) error {
	seen := map[Target]int{}
	for i, t := range m {
		if t == Ignore {
			continue
		}
		if key, ok := strings.CutPrefix(string(t), fieldTargetPrefx); ok {
			if !slices.ContainsFunc(defs, func(d store.ContactField) bool { return d.Key == key }) {
				return &MappingError{Column: i, Target: t, Reason: "unknown"}
			}
		} else if !slices.Contains(BuiltinTargets, t) {
			return &MappingError{Column: i, Target: t, Reason: "unknown"}
		}
		if _, dup := seen[t]; dup {
			return &MappingError{Column: i, Target: t, Reason: "twice"}
		}
		seen[t] = i
	}
	_, phone := seen[TargetPhone]
	_, uid := seen[TargetUserID]
	if !phone && !uid {
		return &MappingError{Column: -1, Target: TargetPhone, Reason: "no_identifier"}
	}
	return nil
}

// Row maps one record to an import row.
func Row(line int, rec []string, m []Target) store.ImportRow {
	row := store.ImportRow{Line: line}
	in := &row.Input
	var first, last string
	var consentAt int64
	var consents []store.ImportConsent
	set := func(p **string, v string) { *p = &v }
	for i, t := range m {
		if t == Ignore || i >= len(rec) {
			continue
		}
		v := strings.TrimSpace(rec[i])
		// The export's guard against spreadsheet formulas ('+49…).
		if len(v) > 1 && v[0] == '\'' && strings.ContainsRune("=+-@", rune(v[1])) {
			v = v[1:]
		}
		switch t {
		case TargetPhone:
			set(&in.Phone, v)
		case TargetUserID:
			set(&in.UserID, v)
		case TargetName:
			set(&in.Name, v)
		case TargetFirstName:
			first = v
		case TargetLastName:
			last = v
		case TargetEmail:
			set(&in.Email, v)
		case TargetCompany:
			set(&in.Company, v)
		case TargetNote:
			set(&in.Note, v)
		case TargetLabels:
			for _, l := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '|' || r == ';' }) {
				if l = strings.TrimSpace(l); l != "" {
					row.LabelNames = append(row.LabelNames, l)
				}
			}
		case TargetMarketing, TargetService:
			a, ok := ParseConsent(v)
			if !ok {
				row.Err = &store.FieldError{Field: string(t), Reason: store.ReasonInvalidConsent, Detail: "ja/nein, yes/no, 1/0, opt_in/opt_out or empty"}
				continue
			}
			if a != "" {
				p := store.PurposeMarketing
				if t == TargetService {
					p = store.PurposeService
				}
				consents = append(consents, store.ImportConsent{Purpose: p, Action: a})
			}
		case TargetConsentAt:
			if v != "" {
				ts, ok := ParseConsentTime(v)
				if !ok {
					row.Err = &store.FieldError{Field: string(t), Reason: store.ReasonInvalidDate, Detail: "DD.MM.YYYY or YYYY-MM-DD"}
					continue
				}
				consentAt = ts
			}
		default:
			if key, ok := strings.CutPrefix(string(t), fieldTargetPrefx); ok {
				if in.Fields == nil {
					in.Fields = map[string]string{}
				}
				in.Fields[key] = v
			}
		}
	}
	if in.Name == nil && (first != "" || last != "") {
		set(&in.Name, strings.TrimSpace(first+" "+last))
	}
	for i := range consents {
		consents[i].TS = consentAt
	}
	row.Consents = consents
	return row
}

// ParseConsent reads a consent cell: "" is no decision.
func ParseConsent(v string) (store.ConsentAction, bool) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return "", true
	case "ja", "j", "yes", "y", "x", "1", "true", "wahr", "opt_in", "opt-in", "optin", "eingewilligt", "zugestimmt":
		return store.OptIn, true
	case "nein", "n", "no", "0", "false", "falsch", "opt_out", "opt-out", "optout", "widerrufen", "abgemeldet", "abgelehnt":
		return store.OptOut, true
	}
	return "", false
}

// ParseConsentTime reads when consent was given (German or ISO forms,
// as UTC).
func ParseConsentTime(v string) (int64, bool) {
	for _, layout := range []string{time.RFC3339, "2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02", "02.01.2006 15:04:05",
		"02.01.2006 15:04", "02.01.2006", "2.1.2006"} {
		if t, err := time.Parse(layout, v); err == nil {
			if t.Year() < 2000 || t.After(time.Now().Add(24*time.Hour)) {
				return 0, false
			}
			return t.Unix(), true
		}
	}
	return 0, false
}

// Scan is the store's import source for a file and mapping.
func (f *File) Scan(m []Target) func(fn func(store.ImportRow) error) error {
	return func(fn func(store.ImportRow) error) error {
		return f.Records(func(line int, rec []string) error { return fn(Row(line, rec, m)) })
	}
}

// Preview returns up to n data rows as the file holds them.
func (f *File) Preview(n int) ([][]string, error) {
	var out [][]string
	stop := errors.New("enough")
	err := f.Records(func(_ int, rec []string) error {
		if len(out) == n {
			return stop
		}
		out = append(out, rec)
		return nil
	})
	if err != nil && err != stop {
		return nil, err
	}
	return out, nil
}
