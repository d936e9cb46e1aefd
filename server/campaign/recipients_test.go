package campaign_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/campaign"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// TestRecipientFileUTF8 matches a UTF-8 file by number (German 0151 …
// form, +49, 0049) and lists every row it cannot use with a German
// reason: an invalid number, an unknown number, a number twice, a missing
// value. The usable rows carry the values for {{1}} and {{2}}.
func TestRecipientFileUTF8(t *testing.T) {
	e := newEnv(t, false)
	a, b, c := cust(41), cust(42), cust(43)
	e.write(t, a, b, c)
	file := "Nummer,{{2}},{{1}}\n" +
		"0151 1000 0041,20 %,Jürgen\n" + // line 2: matched; columns named out of order
		"0049 151 10000042,10 %,Grete\n" + // line 3: matched
		"keine Nummer,5 %,Otto\n" + // line 4: invalid
		"0151 9999 9999,5 %,Fremd\n" + // line 5: unknown
		"+49 151 10000041,5 %,Doppelt\n" + // line 6: twice
		"0151 1000 0043,,Ohne Rabatt\n" // line 7: missing {{2}}
	rf, err := e.Campaigns.ReadRecipientFile(e.ctx, strings.NewReader(file), 2)
	if err != nil {
		t.Fatal(err)
	}
	if rf.Encoding != "UTF-8" || rf.Rows != 6 || len(rf.Params) != 2 {
		t.Fatalf("read %+v", rf)
	}
	if v := rf.Params[a.WaID]; len(v) != 2 || v[0] != "Jürgen" || v[1] != "20 %" {
		t.Errorf("values of %s = %q, want [Jürgen 20 %%]", a.WaID, v)
	}
	if v := rf.Params[b.WaID]; len(v) != 2 || v[0] != "Grete" {
		t.Errorf("values of %s = %q", b.WaID, v)
	}
	want := map[int]string{4: "keine gültige Rufnummer", 5: "kein bekannter Kontakt", 6: "schon in Zeile 2", 7: "fehlt ein Wert für {{2}}"}
	if len(rf.Skipped) != len(want) {
		t.Fatalf("skipped = %+v, want lines 4–7", rf.Skipped)
	}
	for _, s := range rf.Skipped {
		if !strings.Contains(s.DE, want[s.Line]) {
			t.Errorf("line %d: %q, want it to say %q", s.Line, s.DE, want[s.Line])
		}
	}
	// The usable rows round-trip through the form's hidden copy.
	again, err := e.Campaigns.ReadRecipientFile(e.ctx, strings.NewReader(rf.CSV()), 2)
	if err != nil || len(again.Params) != 2 || len(again.Skipped) != 0 || again.Params[a.WaID][0] != "Jürgen" {
		t.Fatalf("round trip: %+v %v\n%s", again, err, rf.CSV())
	}
	// A file with too few value columns for the template is refused.
	if _, err := e.Campaigns.ReadRecipientFile(e.ctx, strings.NewReader("Nummer;Vorname\n015110000041;Jürgen\n"), 2); err == nil ||
		!strings.Contains(err.(*campaign.FieldError).DE, "braucht 2 Werte") {
		t.Errorf("too few columns: %v", err)
	}
}

// TestRecipientFileWindows1252 reads a parameter file as German Excel
// saves it (Windows-1252, ";", CRLF) and sends a campaign with its
// values: each consenting recipient gets exactly its own row's values at
// the fake Meta, and a consenting customer missing from the file is
// skipped, not sent half-filled.
func TestRecipientFileWindows1252(t *testing.T) {
	e := newEnv(t, false)
	a, b, c := cust(41), cust(42), cust(43)
	e.write(t, a, b, c)
	for _, x := range []simulator.Customer{a, b, c} {
		e.consent(t, x, store.OptIn)
	}
	data, err := os.ReadFile("testdata/parameter-cp1252.csv")
	if err != nil {
		t.Fatal(err)
	}
	rf, err := e.Campaigns.ReadRecipientFile(e.ctx, bytes.NewReader(data), 2)
	if err != nil {
		t.Fatal(err)
	}
	if rf.Encoding != "Windows-1252" || len(rf.Skipped) != 0 || rf.Params[a.WaID][0] != "Jürgen" || rf.Params[b.WaID][0] != "Gräfin" {
		t.Fatalf("read %+v", rf)
	}
	body := campaignBody(a, b, c)
	body["template"].(map[string]any)["parameters"] = []string{"{{1}}", "{{2}}"}
	body["recipient_parameters"] = rf.Params
	st, m := e.create(t, body)
	if st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, m)
	}
	if m["counts"].(map[string]any)["skipped"].(float64) != 1 || m["eligible"].(float64) != 2 {
		t.Fatalf("counts %v, want 2 eligible and %s skipped", m["counts"], c.WaID)
	}
	testenv.Eventually(t, 10*time.Second, "two sent", func() bool { return e.get(t, m["id"])["sent"].(float64) == 2 })
	got := map[string]string{}
	for _, r := range e.Sim.Accepted() {
		if r.Type == "template" {
			var msg struct {
				Template struct {
					Components []struct {
						Parameters []struct{ Text string } `json:"parameters"`
					} `json:"components"`
				} `json:"template"`
			}
			json.Unmarshal(r.Body, &msg)
			p := msg.Template.Components[0].Parameters
			got[r.To] = p[0].Text + "|" + p[1].Text
		}
	}
	if len(got) != 2 || got[a.WaID] != "Jürgen|15 %" || got[b.WaID] != "Gräfin|20 %" {
		t.Fatalf("Meta received %v", got)
	}
}

// FuzzReadRecipientFile: any upload either reads or is refused with a
// csv field error; every used row is keyed by E.164 digits of a known
// contact and has exactly the wanted values, none empty.
func FuzzReadRecipientFile(f *testing.F) {
	for _, s := range []string{"Nummer;1;2\n0151 1000 0041;a;b\n", "Telefon,Vorname\n+4915110000041,J\xfcrgen\n", "x\n\"unclosed\n",
		"", "\n", "a;b\n;;\n", "{{2}};{{1}};Nummer\nx;y;015110000041\n", "\xff\xfe1\x00"} {
		f.Add(s, 2)
	}
	sg := testenv.NewSending(f, testenv.SendingOptions{Campaign: &campaign.Config{}})
	ctx := context.Background()
	if _, _, err := sg.Sim.WriteLine(ctx, cust(41), simulator.Line{Text: "Hallo"}); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string, want int) {
		want = max(min(want, 5), 0)
		rf, err := sg.Campaigns.ReadRecipientFile(ctx, strings.NewReader(s), want)
		if err != nil {
			fe, ok := err.(*campaign.FieldError)
			if !ok || fe.Field != "csv" || fe.DE == "" {
				t.Fatalf("refusal is not a csv field error: %v", err)
			}
			return
		}
		for k, v := range rf.Params {
			if k != cust(41).WaID || len(v) != rf.Columns || (want > 0 && len(v) != want) {
				t.Fatalf("row %q %q from %q", k, v, s)
			}
			for _, x := range v {
				if strings.TrimSpace(x) == "" {
					t.Fatalf("empty value used from %q", s)
				}
			}
		}
	})
}
