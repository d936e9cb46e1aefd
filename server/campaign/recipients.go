package campaign

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/pforte/pforte/server/addressbook"
	"github.com/pforte/pforte/store"
)

// RecipientFile is an uploaded file of per-recipient parameters, matched
// against the address book: Params holds the rows that can be used
// (keyed by E.164 digits, values for {{1}}..{{n}}), Skipped the rows that
// cannot, each with a German and an English sentence.
type RecipientFile struct {
	Params   map[string][]string
	Columns  int // values per recipient: {{1}}..{{Columns}}
	Rows     int // data rows read
	Skipped  []SkippedRow
	Encoding string
}

// SkippedRow is a row of a parameter file that is not used.
type SkippedRow struct {
	Line   int
	Number string // as written in the file
	DE, EN string
}

// maxRecipientRows bounds a parameter file (as the API bounds a list).
const maxRecipientRows = 1_000_000

// numberHeaders are the header names (lower case, without spaces, dashes
// and underscores) of the number column; without one, the first column is it.
var numberHeaders = map[string]bool{"nummer": true, "rufnummer": true, "telefon": true, "telefonnummer": true, "handy": true,
	"mobil": true, "mobilnummer": true, "whatsapp": true, "phone": true, "number": true, "waid": true, "msisdn": true}

func headerName(h string) string {
	return strings.NewReplacer(" ", "", "-", "", "_", "", "\ufeff", "").Replace(strings.ToLower(strings.TrimSpace(h)))
}

// ReadRecipientFile reads a CSV file of per-recipient parameters as Excel
// writes it (UTF-8 or Windows-1252, separated by ";", "," or tab; the
// address book's detection): a header line, a number column ("Nummer",
// "Telefon", … or the first column) and one column per template variable,
// named "1", "{{1}}", … or taken in order. Numbers are read as people
// type them (0151 … is German). A row whose number is invalid, unknown to
// Pforte, listed twice, or which lacks a value for one of the want
// variables (0: every column) is skipped and listed, never used half-filled.
func (e *Engine) ReadRecipientFile(ctx context.Context, src io.ReadSeeker, want int) (*RecipientFile, error) {
	f, err := addressbook.Open("parameter.csv", src)
	switch {
	case errors.Is(err, addressbook.ErrEncoding):
		return nil, bad("csv", "Die Datei ist keine Textdatei in UTF-8 oder Windows-1252 (bitte in Excel „CSV (Trennzeichen-getrennt)“ speichern).",
			"The file is not text in UTF-8 or Windows-1252.")
	case errors.Is(err, addressbook.ErrNoHeader):
		return nil, bad("csv", "Die Datei hat keine Kopfzeile (z. B. „Nummer;1;2“).", "The file has no header line.")
	case errors.Is(err, store.ErrInvalid):
		return nil, bad("csv", "Die Datei hat zu viele Spalten (höchstens 100).", "The file has too many columns (at most 100).")
	case err != nil:
		return nil, err
	}
	numCol := 0
	for i, h := range f.Header {
		if numberHeaders[headerName(h)] {
			numCol = i
			break
		}
	}
	// cols[k] is the file's column of {{k+1}}.
	var cols []int
	named := map[int]int{}
	for i, h := range f.Header {
		if i == numCol {
			continue
		}
		n := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(h), "{{"), "}}")
		if k, err := strconv.Atoi(strings.TrimSpace(n)); err == nil && k >= 1 && k <= 100 {
			named[k] = i
		}
		cols = append(cols, i)
	}
	if len(named) > 0 {
		cols = cols[:0]
		for k := 1; k <= 100; k++ {
			i, ok := named[k]
			if !ok {
				break
			}
			cols = append(cols, i)
		}
	}
	if want == 0 {
		want = len(cols)
	}
	if want > len(cols) {
		return nil, bad("csv", fmt.Sprintf("Die Vorlage braucht %d Werte pro Empfänger, die Datei hat nur %d Spalten dafür.", want, len(cols)),
			fmt.Sprintf("The template needs %d values per recipient; the file has %d columns for them.", want, len(cols)))
	}
	out := &RecipientFile{Params: map[string][]string{}, Columns: want, Encoding: string(f.Encoding)}
	seen := map[string]int{}
	err = f.Records(func(line int, rec []string) error {
		out.Rows++
		if out.Rows > maxRecipientRows {
			return bad("csv", "Höchstens 1 000 000 Zeilen.", "At most 1 000 000 rows.")
		}
		cell := func(i int) string {
			if i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		raw := cell(numCol)
		skip := func(de, en string) {
			out.Skipped = append(out.Skipped, SkippedRow{Line: line, Number: raw, DE: de, EN: en})
		}
		num, ok := store.ParsePhoneE164(raw)
		if !ok {
			skip(fmt.Sprintf("„%s“ ist keine gültige Rufnummer.", raw), fmt.Sprintf("%q is no valid phone number.", raw))
			return nil
		}
		if first, dup := seen[num]; dup {
			skip(fmt.Sprintf("Die Nummer steht schon in Zeile %d.", first), fmt.Sprintf("The number is already in line %d.", first))
			return nil
		}
		seen[num] = line
		if _, err := e.store.ContactByKey(ctx, num); errors.Is(err, store.ErrNotFound) {
			skip("Diese Nummer ist kein bekannter Kontakt (nie geschrieben oder gelöscht).", "This number is no known contact (never wrote, or erased).")
			return nil
		} else if err != nil {
			return err
		}
		vals := make([]string, want)
		var missing []string
		for k := range want {
			vals[k] = cell(cols[k])
			if vals[k] == "" {
				missing = append(missing, fmt.Sprintf("{{%d}}", k+1))
			}
		}
		if len(missing) > 0 {
			skip("Es fehlt ein Wert für "+strings.Join(missing, ", ")+"; die Person bekommt nichts Halbausgefülltes.",
				"A value is missing for "+strings.Join(missing, ", ")+".")
			return nil
		}
		out.Params[num] = vals
		return nil
	})
	if errors.Is(err, store.ErrInvalid) {
		return nil, bad("csv", "Die Datei ist nicht lesbar: "+strings.TrimPrefix(err.Error(), "store: invalid input: "), err.Error())
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CSV writes the usable rows back as UTF-8 with ";" (header "Nummer;1;2…"),
// so that a form can carry them from the preview to the start.
func (f *RecipientFile) CSV() string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	w.Comma = ';'
	head := []string{"Nummer"}
	for k := range f.Columns {
		head = append(head, strconv.Itoa(k+1))
	}
	w.Write(head)
	for _, num := range slices.Sorted(maps.Keys(f.Params)) {
		w.Write(append([]string{num}, f.Params[num]...))
	}
	w.Flush()
	return b.String()
}
