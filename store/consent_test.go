package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestStopWordOptsOutOnceAndBlocksMarketing(t *testing.T) {
	ctx := context.Background()
	s := openDP(t, nil)
	now := time.Now()
	seed(t, s, seedMsg{WaID: "4915112345678", WAMID: "wamid.hi", Text: "Hallo", TS: now.Unix()}, now)
	c, err := s.ContactByKey(ctx, "4915112345678")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CheckMarketingConsent(ctx, c.ID); !errors.Is(err, ErrNoConsent) {
		t.Fatalf("no record yet: %v", err)
	}
	if _, err := s.RecordConsent(ctx, ConsentRecord{ContactID: c.ID, Purpose: PurposeMarketing, Action: "opt_in", Source: "web_form", Evidence: "newsletter form", Actor: "api:shop", TS: now.Unix()}); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckMarketingConsent(ctx, c.ID); err != nil {
		t.Fatalf("after opt-in: %v", err)
	}
	// "Stop!" as the whole message opts out; a sentence containing stop does not.
	seed(t, s, seedMsg{WaID: "4915112345678", WAMID: "wamid.sentence", Text: "bitte nicht stoppen, danke", TS: now.Unix() + 1}, now)
	if err := s.CheckMarketingConsent(ctx, c.ID); err != nil {
		t.Fatalf("a sentence opted out: %v", err)
	}
	seed(t, s, seedMsg{WaID: "4915112345678", WAMID: "wamid.stop1", Text: " Stop! ", TS: now.Unix() + 2}, now)
	seed(t, s, seedMsg{WaID: "4915112345678", WAMID: "wamid.stop2", Text: "STOPP", TS: now.Unix() + 3}, now)
	if err := s.CheckMarketingConsent(ctx, c.ID); !errors.Is(err, ErrNoConsent) {
		t.Fatalf("after STOP: %v", err)
	}
	pending, err := s.PendingStopReplies(ctx)
	if err != nil || len(pending) != 1 || pending[0].Evidence != "message:wamid.stop1" {
		t.Fatalf("answered once: %+v %v", pending, err)
	}
	if err := s.MarkStopReplied(ctx, pending[0].ID); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.PendingStopReplies(ctx); len(p) != 0 {
		t.Fatalf("still pending: %+v", p)
	}
	recs, _ := s.ConsentRecords(ctx, c.ID)
	if len(recs) != 3 || recs[1].Source != "customer_stop" {
		t.Fatalf("records: %+v", recs)
	}
	// Configurable words: the store keeps them as given (the caller
	// normalises), hands them to the rule and refuses what would damage
	// the stored list.
	if w, err := s.StopWords(ctx); err != nil || w != nil {
		t.Fatalf("unset words: %q %v", w, err)
	}
	if err := s.SetStopWords(ctx, []string{"ENDE"}, "user:1", now); err != nil {
		t.Fatal(err)
	}
	if w, _ := s.StopWords(ctx); len(w) != 1 || w[0] != "ENDE" {
		t.Fatalf("words: %v", w)
	}
	seed(t, s, seedMsg{WaID: "4915112345679", WAMID: "wamid.stop3", Text: "STOP", TS: now.Unix() + 4}, now)
	seed(t, s, seedMsg{WaID: "4915112345679", WAMID: "wamid.ende", Text: "ende!", TS: now.Unix() + 5}, now)
	if p, _ := s.PendingStopReplies(ctx); len(p) != 1 || p[0].Evidence != "message:wamid.ende" {
		t.Fatalf("configured words not applied (cache not cleared?): %+v", p)
	}
	for _, bad := range [][]string{nil, {" "}, {"A,B"}, {strings.Repeat("A", 257)}, {"\xff"}} {
		if err := s.SetStopWords(ctx, bad, "user:1", now); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%q accepted: %v", bad, err)
		}
	}
	if err := s.SetStopReply(ctx, "Abgemeldet.", "user:1", now); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.StopReply(ctx); r != "Abgemeldet." {
		t.Fatalf("reply: %q", r)
	}
	if err := s.SetStopReply(ctx, "", "user:1", now); err != nil {
		t.Fatal(err)
	}
	if r, _ := s.StopReply(ctx); r != DefaultStopReply {
		t.Fatalf("reply after reset: %q", r)
	}
}

func TestRecordConsentRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	s := openDP(t, nil)
	for _, r := range []ConsentRecord{
		{ContactID: 1, Purpose: "profiling", Action: "opt_in", Source: "x"},
		{ContactID: 1, Purpose: PurposeMarketing, Action: "maybe", Source: "x"},
		{ContactID: 1, Purpose: PurposeMarketing, Action: "opt_in"},
	} {
		if _, err := s.RecordConsent(ctx, r); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", r, err)
		}
	}
	if _, err := s.RecordConsent(ctx, ConsentRecord{ContactID: 99, Purpose: PurposeMarketing, Action: "opt_in", Source: "x"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown contact: %v", err)
	}
	if n := count(t, s, "SELECT count(*) FROM consent_records"); n != 0 {
		t.Fatalf("bad input stored %d rows", n)
	}
}

func templateEvent(t *testing.T, s *Store, name, category string, ts int64) {
	t.Helper()
	v := fmt.Sprintf(`{"event":"APPROVED","message_template_name":%q,"message_template_language":"de","message_template_category":%q}`, name, category)
	_, err := s.Ingest(context.Background(), &Delivery{Body: []byte(v + name), ReceivedAt: time.Unix(ts, 0),
		Events: []Event{{Field: "message_template_status_update", TS: ts, Value: []byte(v)}}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMarketingTemplatesNeedAnOptIn(t *testing.T) {
	ctx := context.Background()
	s := openDP(t, nil)
	now := time.Now()
	seed(t, s, seedMsg{Number: "100", WaID: "4915112345678", WAMID: "wamid.hi", Text: "Hallo", TS: now.Unix()}, now)
	templateEvent(t, s, "angebot_november", "MARKETING", now.Unix())
	templateEvent(t, s, "versand_info", "UTILITY", now.Unix())
	send := func(name string) error {
		payload := fmt.Sprintf(`{"name":%q,"language":{"code":"de"}}`, name)
		_, err := s.EnqueueSend(ctx, OutboundSend{PhoneNumberID: "100", WaID: "4915112345678", PairKey: "100:4915112345678",
			Type: "template", Payload: []byte(payload), Body: []byte(`{"type":"template","template":` + payload + `}`), Now: now})
		return err
	}
	var nc *NoConsentError
	if err := send("angebot_november"); !errors.As(err, &nc) || !errors.Is(err, ErrNoConsent) {
		t.Fatalf("marketing without opt-in: %v", err)
	}
	if err := send("versand_info"); err != nil {
		t.Fatalf("utility template: %v", err)
	}
	// A template Pforte knows no category of counts as marketing.
	if err := send("unbekannt"); !errors.As(err, &nc) || !nc.Unknown {
		t.Fatalf("template of unknown category: %v", err)
	}
	c, _ := s.ContactByKey(ctx, "4915112345678")
	if _, err := s.RecordConsent(ctx, ConsentRecord{ContactID: c.ID, Purpose: PurposeMarketing, Action: "opt_in", Source: "web_form", TS: now.Unix()}); err != nil {
		t.Fatal(err)
	}
	if err := send("angebot_november"); err != nil {
		t.Fatalf("marketing after opt-in: %v", err)
	}
	if err := send("unbekannt"); err != nil {
		t.Fatalf("unknown category after opt-in: %v", err)
	}
	seed(t, s, seedMsg{Number: "100", WaID: "4915112345678", WAMID: "wamid.stop", Text: "STOP", TS: now.Unix() + 1}, now)
	if err := send("angebot_november"); !errors.Is(err, ErrNoConsent) {
		t.Fatalf("marketing after STOP: %v", err)
	}
	// A refused send leaves nothing behind.
	if n := count(t, s, "SELECT count(*) FROM outbox"); n != 3 {
		t.Fatalf("outbox rows: %d, want the 3 accepted sends", n)
	}
}

// TestIngestWithoutStopWordRule: a store opened without a rule refuses
// text messages instead of storing them unchecked, and stores nothing.
func TestIngestWithoutStopWordRule(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	in := InboundMessage{Number: Number{PhoneNumberID: "100", WABAID: "waba1"}, From: Party{WaID: "4915112345678"},
		WAMID: "wamid.norule", Type: "text", TS: time.Now().Unix(), Text: sql.NullString{String: "STOP", Valid: true}}
	if _, err := s.Ingest(ctx, &Delivery{Body: []byte(`{}`), ReceivedAt: time.Now(), Messages: []InboundMessage{in}}); !errors.Is(err, ErrNoStopWordRule) {
		t.Fatalf("ingest without a rule: %v", err)
	}
	if n := count(t, s, "SELECT count(*) FROM messages"); n != 0 {
		t.Fatalf("%d messages stored unchecked", n)
	}
}
