package privacy

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pforte/pforte/store"
)

// TestExportHasTheAddressBook: the subject access export holds the
// contact's e-mail, company, note, custom field values and labels, and
// still validates against its schema.
func TestExportHasTheAddressBook(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	now := time.Now()
	if _, err := s.SaveContactField(ctx, store.ContactField{Key: "kundennummer", Label: "Kundennummer", Kind: store.FieldText}, "system", now); err != nil {
		t.Fatal(err)
	}
	vip, err := s.CreateLabel(ctx, "VIP", "red")
	if err != nil {
		t.Fatal(err)
	}
	phone, email, note, labels := "0151 7654321", "anna@example.de", "ruft abends an", []int64{vip.ID}
	c, err := s.CreateContact(ctx, store.ContactInput{Phone: &phone, Email: &email, Note: &note, Fields: map[string]string{"kundennummer": "K-42"},
		LabelIDs: &labels}, "system", now)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "export.zip")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ExportContact(ctx, s, c, f, ExportOptions{Actor: "cli", Now: now}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	z := readZip(t, out)
	var doc any
	if err := json.Unmarshal(z["data.json"], &doc); err != nil {
		t.Fatal(err)
	}
	if err := exportSchema(t).Validate(doc); err != nil {
		t.Fatalf("data.json does not match its schema: %v", err)
	}
	var data struct {
		AddressBook struct {
			Email, Note string
			Fields      []struct{ Key, Label, Value string }
			Labels      []string
		} `json:"address_book"`
	}
	json.Unmarshal(z["data.json"], &data)
	ab := data.AddressBook
	if ab.Email != email || ab.Note != note || len(ab.Fields) != 1 || ab.Fields[0].Value != "K-42" || len(ab.Labels) != 1 || ab.Labels[0] != "VIP" {
		t.Fatalf("address book in the export: %+v\n%s", ab, bytes.TrimSpace(z["data.json"])[:300])
	}
}
