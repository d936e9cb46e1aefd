package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func sp(s string) *string { return &s }

func TestParsePhoneE164(t *testing.T) {
	for in, want := range map[string]string{
		"0151 2345 6789":      "4915123456789",
		"+49 151 23456789":    "4915123456789",
		"0049 (151) 234-5678": "491512345678",
		"+49 (0) 151 2345678": "491512345678",
		"4915123456789":       "4915123456789",
		"+1 415 555 0100":     "14155550100",
		"030/1234567":         "49301234567",
		// As the new-conversation form is typed.
		"0151 23456789": "4915123456789", "0049-151-23456789": "4915123456789",
		"+43 664 1234567": "436641234567", "(030) 231 25 100": "493023125100",
	} {
		if got, ok := ParsePhoneE164(in); !ok || got != want {
			t.Errorf("ParsePhoneE164(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "abc", "0151-ABC", "12345", "+49+151", "+0 151 234567", "+1234567890123456", "151234",
		"0151 2345678x", "12", "+0049151", "0151 23456789 0151 23456789 0151", "++49151234567"} {
		if got, ok := ParsePhoneE164(in); ok {
			t.Errorf("ParsePhoneE164(%q) = %q, accepted", in, got)
		}
	}
}

func FuzzParsePhoneE164(f *testing.F) {
	for _, s := range []string{"0151 23456789", "+49 (0) 151 2345678", "0049 30 1234", "abc", "+", "00", "0",
		"+49 (0)30 23125-100", "0049 151 2345 6789", "+43 664 1234567", "12345", "4915123456789", "01/51.23-45"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := ParsePhoneE164(s)
		if !ok {
			return
		}
		if len(d) < 8 || len(d) > 15 || d[0] == '0' {
			t.Fatalf("%q -> %q: not E.164", s, d)
		}
		for _, r := range d {
			if r < '0' || r > '9' {
				t.Fatalf("%q -> %q: not digits", s, d)
			}
		}
		// Normalising the normal form changes nothing.
		if d2, ok := ParsePhoneE164("+" + d); !ok || d2 != d {
			t.Fatalf("+%s -> %q, %v", d, d2, ok)
		}
	})
}

func mustFields(t *testing.T, s *Store) map[string]*ContactField {
	t.Helper()
	ctx, now := context.Background(), time.Unix(1_800_000_000, 0)
	out := map[string]*ContactField{}
	for _, f := range []ContactField{
		{Key: "kundennummer", Label: "Kundennummer", Kind: FieldText},
		{Key: "umsatz", Label: "Umsatz", Kind: FieldNumber},
		{Key: "geburtstag", Label: "Geburtstag", Kind: FieldDate},
		{Key: "tarif", Label: "Tarif", Kind: FieldChoice, Choices: []string{"Basis", "Premium", " Basis "}},
	} {
		got, err := s.SaveContactField(ctx, f, "user:1", now)
		if err != nil {
			t.Fatal(err)
		}
		out[f.Key] = got
	}
	return out
}

func TestContactFieldsEachKindAndBadInput(t *testing.T) {
	s := openTest(t, Options{})
	ctx, now := context.Background(), time.Unix(1_800_000_000, 0)
	fields := mustFields(t, s)
	if got := fields["tarif"].Choices; len(got) != 2 {
		t.Fatalf("choices not de-duplicated: %q", got)
	}
	for _, bad := range []ContactField{
		{Key: "Kunden Nr", Label: "x", Kind: FieldText},
		{Key: "ok", Label: "", Kind: FieldText},
		{Key: "ok", Label: "x", Kind: "farbe"},
		{Key: "ok", Label: "x", Kind: FieldChoice},
		{Key: "kundennummer", Label: "doppelt", Kind: FieldText},
	} {
		var fe *FieldError
		if _, err := s.SaveContactField(ctx, bad, "user:1", now); !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want a FieldError", bad, err)
		}
	}
	c, err := s.CreateContact(ctx, ContactInput{Phone: sp("0151 1111111"), Name: sp("Jörg Müller"), Email: sp("jm@example.de"),
		Company: sp("Müller GmbH"), Note: sp("Stammkunde"),
		Fields: map[string]string{"kundennummer": "K-1", "umsatz": "1.234,50", "geburtstag": "03.02.1980", "tarif": "premium"}}, "user:1", now)
	if err != nil {
		t.Fatal(err)
	}
	if c.WaID != "491511111111" {
		t.Fatalf("wa_id %q", c.WaID)
	}
	d, err := s.ContactDetails(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"kundennummer": "K-1", "umsatz": "1234.5", "geburtstag": "1980-02-03", "tarif": "Premium"}
	for k, v := range want {
		if d.Fields[k] != v {
			t.Errorf("field %s = %q, want %q", k, d.Fields[k], v)
		}
	}
	if d.Email != "jm@example.de" || d.Company != "Müller GmbH" || d.Note != "Stammkunde" {
		t.Fatalf("details %+v", d)
	}
	for field, in := range map[string]ContactInput{
		"phone":             {Phone: sp("0151-ABC")},
		"email":             {Phone: sp("+491512222222"), Email: sp("kein@")},
		"fields.umsatz":     {Phone: sp("+491512222222"), Fields: map[string]string{"umsatz": "viel"}},
		"fields.geburtstag": {Phone: sp("+491512222222"), Fields: map[string]string{"geburtstag": "31.02.2020"}},
		"fields.tarif":      {Phone: sp("+491512222222"), Fields: map[string]string{"tarif": "Gold"}},
		"fields.farbe":      {Phone: sp("+491512222222"), Fields: map[string]string{"farbe": "rot"}},
		"name":              {Phone: sp("+491512222222"), Name: sp(string(make([]rune, MaxContactName+1)))},
	} {
		var fe *FieldError
		_, err := s.CreateContact(ctx, in, "user:1", now)
		if !errors.As(err, &fe) || fe.Field != field {
			t.Errorf("%s: %v", field, err)
		}
	}
	// A taken number is refused by field; nothing half-saved.
	if _, err := s.CreateContact(ctx, ContactInput{Phone: sp("+49 151 1111111")}, "user:1", now); !isField(err, "phone", ReasonDuplicate) {
		t.Fatalf("duplicate: %v", err)
	}
	var n int
	s.rdb.QueryRow("SELECT count(*) FROM contacts").Scan(&n)
	if n != 1 {
		t.Fatalf("%d contacts after refusals", n)
	}
	// Patch: only what is given changes; "" removes a field value.
	if err := s.UpdateContact(ctx, c.ID, ContactInput{Company: sp("Neu AG"), Fields: map[string]string{"umsatz": ""}}, "user:1", now); err != nil {
		t.Fatal(err)
	}
	d, _ = s.ContactDetails(ctx, c.ID)
	if d.Company != "Neu AG" || d.Email != "jm@example.de" || d.Fields["umsatz"] != "" || d.Fields["tarif"] != "Premium" {
		t.Fatalf("after patch %+v", d)
	}
	if err := s.UpdateContact(ctx, c.ID, ContactInput{Phone: sp("")}, "user:1", now); !isField(err, "phone", ReasonRequired) {
		t.Fatalf("removing the last identifier: %v", err)
	}
	var audits int
	s.rdb.QueryRow("SELECT count(*) FROM audit_log WHERE action IN ('contact.create', 'contact.update', 'contact_field.create')").Scan(&audits)
	if audits != 6 {
		t.Fatalf("%d audit entries", audits)
	}
	var detail string
	s.rdb.QueryRow("SELECT detail FROM audit_log WHERE action = 'contact.create'").Scan(&detail)
	if contains(detail, "Müller") || contains(detail, "1511111111") {
		t.Fatalf("audit keeps personal data: %s", detail)
	}
}

func contains(s, sub string) bool { return len(sub) > 0 && len(s) >= len(sub) && indexOf(s, sub) >= 0 }

func indexOf(s, sub string) int {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func isField(err error, field string, r Reason) bool {
	var fe *FieldError
	return errors.As(err, &fe) && fe.Field == field && fe.Reason == r
}

func TestContactFilterLabelsFieldsAndLastContact(t *testing.T) {
	s := openTest(t, Options{})
	ctx, now := context.Background(), time.Unix(1_800_000_000, 0)
	mustFields(t, s)
	vip, _ := s.CreateLabel(ctx, "VIP", "red")
	nl, _ := s.CreateLabel(ctx, "Newsletter", "blue")
	var ids []int64
	for i := range 6 {
		labels := []int64{vip.ID}
		if i%2 == 0 {
			labels = append(labels, nl.ID)
		}
		tarif := "Basis"
		if i >= 3 {
			tarif = "Premium"
		}
		c, err := s.CreateContact(ctx, ContactInput{Phone: sp(fmt.Sprintf("0151 100000%d", i)), Name: sp(fmt.Sprintf("Kunde %d", i)),
			Fields: map[string]string{"tarif": tarif}, LabelIDs: &labels}, "user:1", now)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
	}
	// Two of them wrote in: one long ago, one recently.
	old := inboundText("111", "491511000001", "Kunde 1", "w1", 1000, "alt")
	recent := inboundText("222", "491511000004", "Kunde 4", "w2", 5000, "neu")
	if _, err := s.Ingest(ctx, &Delivery{Body: []byte("x"), ReceivedAt: now, Messages: []InboundMessage{old, recent}}); err != nil {
		t.Fatal(err)
	}
	match := func(f ContactFilter) []int64 {
		var out []int64
		if err := s.ContactIDsMatching(ctx, f, func(id int64) error { out = append(out, id); return nil }); err != nil {
			t.Fatal(err)
		}
		return out
	}
	eq := func(name string, got []int64, want ...int64) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
	}
	eq("both labels", match(ContactFilter{LabelIDs: []int64{vip.ID, nl.ID}}), ids[0], ids[2], ids[4])
	eq("premium + newsletter", match(ContactFilter{LabelIDs: []int64{nl.ID}, Fields: []FieldMatch{{Key: "tarif", Value: "premium"}}}), ids[4])
	eq("business number", match(ContactFilter{PhoneNumberID: "222"}), ids[4])
	eq("last contact before", match(ContactFilter{LastContactBefore: 2000}), ids[1])
	eq("last contact after", match(ContactFilter{LastContactAfter: 2000}), ids[4])
	eq("query by number typed German", match(ContactFilter{Query: "0151 1000003"}), ids[3])
	if err := s.ContactIDsMatching(ctx, ContactFilter{Fields: []FieldMatch{{Key: "tarif", Value: "Gold"}}}, func(int64) error { return nil }); !isField(err, "fields.tarif", ReasonInvalidChoice) {
		t.Fatalf("bad filter: %v", err)
	}
	list, err := s.ListContacts(ctx, ContactFilter{LabelIDs: []int64{nl.ID}}, 2, 0, 0)
	if err != nil || len(list) != 2 || list[0].ID != ids[4] || len(list[0].Labels) != 2 || list[0].Labels[0].Name != "Newsletter" {
		t.Fatalf("list %+v %v", list, err)
	}
	next, _ := s.ListContacts(ctx, ContactFilter{LabelIDs: []int64{nl.ID}}, 2, list[1].ID, 0)
	if len(next) != 1 || next[0].ID != ids[0] {
		t.Fatalf("second page %+v", next)
	}
}

func TestMergeMovesEverythingToTheSurvivor(t *testing.T) {
	s := openTest(t, Options{})
	ctx, now := context.Background(), time.Unix(1_800_000_000, 0)
	mustFields(t, s)
	vip, _ := s.CreateLabel(ctx, "VIP", "red")
	// The same person: once by number (wrote to 111), once by BSUID only
	// (wrote to 111 and 222).
	byPhone := inboundText("111", "4915122222222", "Anna", "w1", 1000, "Hallo")
	byUID := InboundMessage{Number: Number{PhoneNumberID: "111"}, From: Party{UserID: "DE.123456789", Name: "anna_b"}, WAMID: "w2", Type: "text", TS: 2000}
	byUID.Text.String, byUID.Text.Valid = "Ich nochmal", true
	byUID2 := byUID
	byUID2.Number, byUID2.WAMID, byUID2.TS = Number{PhoneNumberID: "222"}, "w3", 3000
	if _, err := s.Ingest(ctx, &Delivery{Body: []byte("x"), ReceivedAt: now, Messages: []InboundMessage{byPhone, byUID, byUID2}}); err != nil {
		t.Fatal(err)
	}
	a, _ := s.ContactByKey(ctx, "4915122222222")
	b, _ := s.ContactByKey(ctx, "DE.123456789")
	if a.ID == b.ID {
		t.Fatal("one contact already")
	}
	labels := []int64{vip.ID}
	if err := s.UpdateContact(ctx, b.ID, ContactInput{Email: sp("anna@example.de"), Fields: map[string]string{"tarif": "Premium"}, LabelIDs: &labels}, "user:1", now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RecordConsent(ctx, ConsentRecord{ContactID: b.ID, Purpose: PurposeMarketing, Action: OptIn, Source: "web_form", TS: 1500}); err != nil {
		t.Fatal(err)
	}
	res, err := s.MergeContacts(ctx, a.ID, b.ID, "user:1", now)
	if err != nil {
		t.Fatal(err)
	}
	if res.Joined != 1 || res.Conversations != 1 || res.Consents != 1 {
		t.Fatalf("result %+v", res)
	}
	if _, err := s.ContactByID(ctx, b.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("merged contact still there: %v", err)
	}
	got, _ := s.ContactByID(ctx, a.ID)
	if got.WaID != "4915122222222" || got.UserID != "DE.123456789" || got.Name != "Anna" {
		t.Fatalf("survivor %+v", got)
	}
	d, _ := s.ContactDetails(ctx, a.ID)
	if d.Email != "anna@example.de" || d.Fields["tarif"] != "Premium" || len(d.Labels) != 1 {
		t.Fatalf("details %+v", d)
	}
	convs, _ := s.ContactConversations(ctx, a.ID)
	if len(convs) != 2 {
		t.Fatalf("%d conversations", len(convs))
	}
	var msgs int
	s.rdb.QueryRow("SELECT count(*) FROM messages m JOIN conversations cv ON cv.id = m.conversation_id WHERE cv.contact_id = ?", a.ID).Scan(&msgs)
	if msgs != 3 {
		t.Fatalf("%d messages with the survivor", msgs)
	}
	if err := s.CheckMarketingConsent(ctx, a.ID); err != nil {
		t.Fatalf("consent did not move: %v", err)
	}
	var audit string
	s.rdb.QueryRow("SELECT detail FROM audit_log WHERE action = 'contact.merge'").Scan(&audit)
	if audit == "" {
		t.Fatal("merge not audited")
	}
	// A new webhook from the BSUID lands with the survivor.
	byUID3 := byUID
	byUID3.WAMID, byUID3.TS = "w4", 4000
	if _, err := s.Ingest(ctx, &Delivery{Body: []byte("y"), ReceivedAt: now, Messages: []InboundMessage{byUID3}}); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.ContactByKey(ctx, "DE.123456789"); c.ID != a.ID {
		t.Fatalf("new message went to contact %d", c.ID)
	}
	// Two numbers are two people to WhatsApp.
	c3, _ := s.CreateContact(ctx, ContactInput{Phone: sp("+4915133333333")}, "user:1", now)
	if _, err := s.MergeContacts(ctx, a.ID, c3.ID, "user:1", now); !isField(err, "merge", ReasonConflict) {
		t.Fatalf("two numbers merged: %v", err)
	}
}

func TestEraseTakesAddressBookData(t *testing.T) {
	s := openTest(t, Options{})
	ctx, now := context.Background(), time.Unix(1_800_000_000, 0)
	mustFields(t, s)
	vip, _ := s.CreateLabel(ctx, "VIP", "red")
	labels := []int64{vip.ID}
	c, err := s.CreateContact(ctx, ContactInput{Phone: sp("01514444444"), Email: sp("x@example.de"), Fields: map[string]string{"kundennummer": "K9"},
		LabelIDs: &labels}, "user:1", now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EraseContact(ctx, c.WaID, EraseRequest{Actor: "user:1", Reason: "Art. 17", Now: now}); err != nil {
		t.Fatal(err)
	}
	// The search index keeps no token of the erased contact.
	var hits int
	if err := s.rdb.QueryRow(`SELECT count(*) FROM contacts_fts WHERE contacts_fts MATCH '"4444444" OR "example"'`).Scan(&hits); err != nil || hits != 0 {
		t.Fatalf("%d search index hits after erasure (%v)", hits, err)
	}
	for _, table := range []string{"contact_field_values", "contact_labels", "contacts"} {
		var n int
		s.rdb.QueryRow("SELECT count(*) FROM " + table).Scan(&n)
		if n != 0 {
			t.Errorf("%s: %d rows after erasure", table, n)
		}
	}
}
