package addressbook

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/store"
)

func noStopWord(string, []string) bool { return false }

func openStore(t testing.TB) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir(), store.Options{IsStopWord: noStopWord})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var testNow = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func addFields(t testing.TB, st *store.Store) []store.ContactField {
	t.Helper()
	for _, f := range []store.ContactField{
		{Key: "kundennummer", Label: "Kundennummer", Kind: store.FieldText},
		{Key: "tarif", Label: "Tarif", Kind: store.FieldChoice, Choices: []string{"Basis", "Premium"}},
	} {
		if _, err := st.SaveContactField(context.Background(), f, "user:1", testNow); err != nil {
			t.Fatal(err)
		}
	}
	defs, err := st.ContactFields(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return defs
}

func openFile(t testing.TB, name string, data []byte) *File {
	t.Helper()
	f, err := Open(name, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func importFile(t *testing.T, st *store.Store, f *File, dry bool) *store.ImportResult {
	t.Helper()
	defs, _ := st.ContactFields(context.Background())
	m := GuessMapping(f.Header, defs)
	if err := CheckMapping(m, defs); err != nil {
		t.Fatal(err)
	}
	res, err := st.ImportContacts(context.Background(), f.Scan(m), store.ImportOptions{FileName: f.Name, Actor: "user:1", Now: testNow, DryRun: dry})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestImportWindows1252FromGermanExcel(t *testing.T) {
	st := openStore(t)
	addFields(t, st)
	data, err := os.ReadFile("testdata/kunden-excel-1252.csv")
	if err != nil {
		t.Fatal(err)
	}
	f := openFile(t, "kunden.csv", data)
	if f.Encoding != Windows1252 || f.Separator != ';' {
		t.Fatalf("detected %s %q", f.Encoding, f.Separator)
	}
	defs, _ := st.ContactFields(context.Background())
	m := GuessMapping(f.Header, defs)
	want := []Target{TargetFirstName, TargetLastName, TargetPhone, TargetEmail, TargetCompany, FieldTarget("kundennummer"),
		FieldTarget("tarif"), TargetLabels, TargetMarketing, TargetConsentAt}
	if !slices.Equal(m, want) {
		t.Fatalf("mapping %q", m)
	}
	// The dry run counts and changes nothing.
	dry := importFile(t, st, f, true)
	if dry.Created != 3 || dry.Consents != 2 || dry.Labels != 2 || dry.Imported {
		t.Fatalf("dry run %+v", dry)
	}
	if n := count(t, st, ""); n != 0 {
		t.Fatalf("dry run stored %d contacts", n)
	}
	res := importFile(t, st, f, false)
	if !res.Imported || res.Created != 3 || res.Consents != 2 {
		t.Fatalf("import %+v", res)
	}
	c, err := st.ContactByKey(context.Background(), "491512345678")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Jörg Müller" {
		t.Fatalf("name %q", c.Name)
	}
	d, _ := st.ContactDetails(context.Background(), c.ID)
	if d.Company != "Bäckerei Müller GmbH" || d.Fields["tarif"] != "Premium" || len(d.Labels) != 2 {
		t.Fatalf("details %+v", d)
	}
	recs, _ := st.ConsentRecords(context.Background(), c.ID)
	if len(recs) != 1 || recs[0].Source != store.ImportSource || recs[0].Action != store.OptIn ||
		!strings.Contains(recs[0].Evidence, "kunden.csv") || recs[0].TS != time.Date(2026, 2, 3, 0, 0, 0, 0, time.UTC).Unix() {
		t.Fatalf("consent %+v", recs)
	}
	weiss, _ := st.ContactByKey(context.Background(), "491609876543")
	if recs, _ := st.ConsentRecords(context.Background(), weiss.ID); len(recs) != 1 || recs[0].Action != store.OptOut {
		t.Fatalf("opt-out %+v", recs)
	}
	if err := st.CheckMarketingConsent(context.Background(), weiss.ID); !errors.Is(err, store.ErrNoConsent) {
		t.Fatalf("opt-out imported as consent: %v", err)
	}
}

func count(t testing.TB, st *store.Store, q string) int {
	t.Helper()
	n := 0
	if err := st.ContactIDsMatching(context.Background(), store.ContactFilter{Query: q}, func(int64) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestImportUTF8WithCommas(t *testing.T) {
	st := openStore(t)
	data, _ := os.ReadFile("testdata/kunden-utf8.csv")
	f := openFile(t, "u.csv", append([]byte("\ufeff"), data...)) // with a BOM, as Excel's "CSV UTF-8" writes
	if f.Encoding != UTF8 || f.Separator != ',' || f.Header[0] != "phone" {
		t.Fatalf("detected %s %q %q", f.Encoding, f.Separator, f.Header)
	}
	res := importFile(t, st, f, false)
	if res.Created != 2 || res.Consents != 1 {
		t.Fatalf("%+v", res)
	}
	c, _ := st.ContactByKey(context.Background(), "4915224445556")
	if c == nil || c.Name != "Łukasz Żółw" {
		t.Fatalf("%+v", c)
	}
}

func TestImportRefusesTheWholeFileAndNamesTheRows(t *testing.T) {
	st := openStore(t)
	addFields(t, st)
	csv := "Telefon;Name;Tarif;Marketing\n" +
		"0151 1234567;Gut;Basis;ja\n" +
		"keine Nummer;Schlecht;Basis;\n" +
		"0151 1234567;Doppelt;;\n" +
		"0152 7654321;Falsch;Gold;\n" +
		"0153 7654321;Unklar;;vielleicht\n" +
		";Ohne;;\n"
	f := openFile(t, "fehler.csv", []byte(csv))
	res := importFile(t, st, f, false)
	if res.Imported || res.Refused != 5 {
		t.Fatalf("%+v", res)
	}
	got := map[int]store.Reason{}
	for _, e := range res.Errors {
		got[e.Line] = e.Reason
	}
	want := map[int]store.Reason{3: store.ReasonInvalidPhone, 4: store.ReasonDuplicate, 5: store.ReasonInvalidChoice,
		6: store.ReasonInvalidConsent, 7: store.ReasonNoIdentifier}
	for line, r := range want {
		if got[line] != r {
			t.Errorf("line %d: %q, want %q (all: %v)", line, got[line], r, got)
		}
	}
	if n := count(t, st, ""); n != 0 {
		t.Fatalf("a refused file stored %d contacts", n)
	}
}

func TestBrokenEncodingIsRefused(t *testing.T) {
	for name, data := range map[string][]byte{
		"utf16 without BOM": []byte("p\x00h\x00o\x00n\x00e\x00\n\x00"),
		"xlsx":              []byte("PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00"),
		"undefined 1252":    []byte("phone;name\n0151 1;M\x81ller\n"),
	} {
		if _, err := Open(name, bytes.NewReader(data)); !errors.Is(err, ErrEncoding) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := Open("leer", bytes.NewReader(nil)); !errors.Is(err, ErrNoHeader) {
		t.Errorf("empty: %v", err)
	}
	// UTF-16 with BOM (Excel's "Unicode text") is read.
	u16 := []byte{0xFF, 0xFE}
	for _, r := range "phone\tname\r\n+4915111111111\tJürgen\r\n" {
		u16 = append(u16, byte(r), byte(r>>8))
	}
	f, err := Open("u16.txt", bytes.NewReader(u16))
	if err != nil || f.Encoding != UTF16 || f.Separator != '\t' {
		t.Fatalf("utf16: %v %+v", err, f)
	}
	rows, err := f.Preview(5)
	if err != nil || len(rows) != 1 || rows[0][1] != "Jürgen" {
		t.Fatalf("utf16 rows %q %v", rows, err)
	}
}

func TestMappingChecks(t *testing.T) {
	defs := []store.ContactField{{ID: 1, Key: "kundennummer", Label: "Kunden-Nr.", Kind: store.FieldText}}
	if m := GuessMapping([]string{"Kunden-Nr.", "Mobil", "Telefon"}, defs); !slices.Equal(m, []Target{FieldTarget("kundennummer"), TargetPhone, Ignore}) {
		t.Fatalf("guess %q", m)
	}
	var me *MappingError
	if err := CheckMapping([]Target{TargetName}, defs); !errors.As(err, &me) || me.Reason != "no_identifier" {
		t.Fatalf("no identifier: %v", err)
	}
	if err := CheckMapping([]Target{TargetPhone, TargetPhone}, defs); !errors.As(err, &me) || me.Reason != "twice" {
		t.Fatalf("twice: %v", err)
	}
	if err := CheckMapping([]Target{TargetPhone, FieldTarget("farbe")}, defs); !errors.As(err, &me) || me.Reason != "unknown" {
		t.Fatalf("unknown field: %v", err)
	}
}

func TestExportRoundTrip(t *testing.T) {
	st := openStore(t)
	addFields(t, st)
	data, _ := os.ReadFile("testdata/kunden-excel-1252.csv")
	importFile(t, st, openFile(t, "kunden.csv", data), false)
	var out bytes.Buffer
	n, err := Export(context.Background(), st, store.ContactFilter{}, &out, ExportOptions{})
	if err != nil || n != 3 {
		t.Fatalf("export %d %v", n, err)
	}
	if !bytes.HasPrefix(out.Bytes(), []byte("\xEF\xBB\xBF")) {
		t.Fatal("no BOM")
	}
	if !strings.Contains(out.String(), "'+491512345678") || !strings.Contains(out.String(), "Bäckerei Müller GmbH") {
		t.Fatalf("export:\n%s", out.String())
	}
	// Into an empty Pforte: the same contacts, fields and labels.
	st2 := openStore(t)
	addFields(t, st2)
	f := openFile(t, "export.csv", out.Bytes())
	if f.Encoding != UTF8 || f.Separator != ';' {
		t.Fatalf("export read back as %s %q", f.Encoding, f.Separator)
	}
	res := importFile(t, st2, f, false)
	if res.Created != 3 {
		t.Fatalf("%+v", res)
	}
	var again bytes.Buffer
	Export(context.Background(), st2, store.ContactFilter{}, &again, ExportOptions{})
	// Consent dates of the first export came from the file; the re-import
	// keeps them, so both exports are equal.
	if again.String() != out.String() {
		t.Fatalf("round trip differs:\n%s\n---\n%s", out.String(), again.String())
	}
}

func FuzzHeaderMapping(f *testing.F) {
	for _, s := range []string{"Vorname;Nachname;Handy", "phone,name,field:kundennummer", "\"a;b\";c", "Telefon\tTelefon", "", "\ufeffE-Mail;Mobil"} {
		f.Add(s)
	}
	defs := []store.ContactField{{ID: 1, Key: "kundennummer", Label: "Kunden-Nr.", Kind: store.FieldText}}
	f.Fuzz(func(t *testing.T, header string) {
		file, err := Open("f.csv", strings.NewReader(header+"\n0151 1234567\n"))
		if err != nil {
			return
		}
		m := GuessMapping(file.Header, defs)
		if len(m) != len(file.Header) {
			t.Fatalf("%d targets for %d columns", len(m), len(file.Header))
		}
		seen := map[Target]bool{}
		for _, tg := range m {
			if tg != Ignore && seen[tg] {
				t.Fatalf("target %q twice in %q", tg, m)
			}
			seen[tg] = true
		}
		// A guessed mapping is either accepted or refused with a reason,
		// and mapping rows never panics.
		if err := CheckMapping(m, defs); err != nil {
			var me *MappingError
			if !errors.As(err, &me) {
				t.Fatalf("unexpected error %v", err)
			}
		}
		file.Records(func(line int, rec []string) error { Row(line, rec, m); return nil })
	})
}
