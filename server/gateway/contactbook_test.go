package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

func apiJSON(t *testing.T, g *testenv.Gateway, method, path, ctype string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, g.Internal.URL+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+g.APIKey)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestAPIContactsCreatePatchListAndBadInput(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	st, b := apiJSON(t, g, "POST", "/api/v1/contact-fields", "application/json", []byte(`{"key":"tarif","label":"Tarif","kind":"choice","choices":["Basis","Premium"]}`))
	if st != 201 {
		t.Fatalf("field: %d %s", st, b)
	}
	if _, err := g.Store.CreateLabel(context.Background(), "VIP", "red"); err != nil {
		t.Fatal(err)
	}
	st, b = apiJSON(t, g, "POST", "/api/v1/contacts", "application/json",
		[]byte(`{"phone":"0151 2345 6789","name":"Jörg","email":"j@example.de","fields":{"tarif":"premium"},"labels":["vip"]}`))
	if st != 201 {
		t.Fatalf("create: %d %s", st, b)
	}
	var c struct {
		WaID   string            `json:"wa_id"`
		Fields map[string]string `json:"fields"`
		Labels []string          `json:"labels"`
	}
	json.Unmarshal(b, &c)
	if c.WaID != "4915123456789" || c.Fields["tarif"] != "Premium" || len(c.Labels) != 1 {
		t.Fatalf("created %s", b)
	}
	// Bad input: 400 naming the field; nothing stored.
	for body, field := range map[string]string{
		`{"phone":"0151-ABC"}`:                              "phone",
		`{"phone":"+4915199999999","email":"x@"}`:           "email",
		`{"phone":"+4915199999999","fields":{"tarif":"X"}}`: "fields.tarif",
		`{"phone":"+4915199999999","labels":["unbekannt"]}`: "labels",
		`{"phone":"+49 151 23456789"}`:                      "phone",
	} {
		st, b := apiJSON(t, g, "POST", "/api/v1/contacts", "application/json", []byte(body))
		var e struct {
			Error struct{ Field, Reason string } `json:"error"`
		}
		json.Unmarshal(b, &e)
		if st != 400 || e.Error.Field != field || e.Error.Reason == "" {
			t.Errorf("%s: %d %s, want 400 on %s", body, st, b, field)
		}
	}
	st, b = apiJSON(t, g, "PATCH", "/api/v1/contacts/4915123456789", "application/json", []byte(`{"company":"Neu AG","fields":{"tarif":""}}`))
	if st != 200 || !strings.Contains(string(b), `"company":"Neu AG"`) || strings.Contains(string(b), "Premium") {
		t.Fatalf("patch: %d %s", st, b)
	}
	st, b = apiJSON(t, g, "GET", "/api/v1/contacts?label=VIP&q=0151+23456789", "", nil)
	if st != 200 || !strings.Contains(string(b), `"wa_id":"4915123456789"`) {
		t.Fatalf("list: %d %s", st, b)
	}
	if st, b := apiJSON(t, g, "GET", "/api/v1/contacts?field.tarif=Gold", "", nil); st != 400 || !strings.Contains(string(b), `"field":"fields.tarif"`) {
		t.Fatalf("bad filter: %d %s", st, b)
	}
	if st, b := apiJSON(t, g, "GET", "/api/v1/contacts/4915123456789", "", nil); st != 200 || !strings.Contains(string(b), `"address_book"`) {
		t.Fatalf("get: %d %s", st, b)
	}
}

func TestAPIContactImportDryRunAndExport(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	// Windows-1252 with ; as German Excel writes it; \xfc is ü.
	csv := []byte("Name;Handy;Werbung\r\nJ\xfcrgen;0151 1111111;ja\r\nAnna;0151 2222222;nein\r\n")
	st, b := apiJSON(t, g, "POST", "/api/v1/contacts/import?dry_run=true&file_name=kunden.csv", "text/csv", csv)
	if st != 200 || !strings.Contains(string(b), `"created":2`) || !strings.Contains(string(b), `"imported":false`) || !strings.Contains(string(b), `"encoding":"Windows-1252"`) {
		t.Fatalf("dry run: %d %s", st, b)
	}
	if _, err := g.Store.ContactByKey(context.Background(), "491511111111"); err == nil {
		t.Fatal("the dry run stored a contact")
	}
	bad := []byte("Name;Handy\r\nX;keine\r\nY;0151 3333333\r\n")
	st, b = apiJSON(t, g, "POST", "/api/v1/contacts/import", "text/csv", bad)
	if st != 400 || !strings.Contains(string(b), `"line":2`) || !strings.Contains(string(b), `"invalid_phone"`) {
		t.Fatalf("bad file: %d %s", st, b)
	}
	if _, err := g.Store.ContactByKey(context.Background(), "491513333333"); err == nil {
		t.Fatal("a refused file stored its good row")
	}
	if st, b := apiJSON(t, g, "POST", "/api/v1/contacts/import", "text/csv", []byte{0xff, 0x00, 0x12}); st != 400 || !strings.Contains(string(b), "invalid_encoding") {
		t.Fatalf("binary: %d %s", st, b)
	}
	st, b = apiJSON(t, g, "POST", "/api/v1/contacts/import?file_name=kunden.csv", "text/csv", csv)
	if st != 200 || !strings.Contains(string(b), `"imported":true`) || !strings.Contains(string(b), `"consents":2`) {
		t.Fatalf("import: %d %s", st, b)
	}
	c, _ := g.Store.ContactByKey(context.Background(), "491511111111")
	recs, _ := g.Store.ConsentRecords(context.Background(), c.ID)
	if c.Name != "Jürgen" || len(recs) != 1 || recs[0].Source != store.ImportSource || recs[0].Evidence != "kunden.csv, Zeile 2" {
		t.Fatalf("imported %+v %+v", c, recs)
	}
	st, b = apiJSON(t, g, "GET", "/api/v1/contacts/export", "", nil)
	if st != 200 || !bytes.HasPrefix(b, []byte("\xef\xbb\xbf")) || !strings.Contains(string(b), "Jürgen") {
		t.Fatalf("export: %d %q", st, b)
	}
}
