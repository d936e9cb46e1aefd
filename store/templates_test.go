package store

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

func templateDelivery(t *testing.T, s *Store, field, value string, at time.Time) {
	t.Helper()
	_, err := s.Ingest(context.Background(), &Delivery{Body: []byte(field + value), ReceivedAt: at,
		Events: []Event{{WABAID: "waba1", Field: field, TS: at.Unix(), Value: []byte(value)}}})
	if err != nil {
		t.Fatal(err)
	}
}

func findTemplate(t *testing.T, s *Store, name, lang string) *Template {
	t.Helper()
	ts, err := s.Templates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range ts {
		if tp.Name == name && tp.Language == lang {
			return tp
		}
	}
	return nil
}

func sendTemplate(s *Store, name, lang string, now time.Time) error {
	payload := fmt.Sprintf(`{"name":%q,"language":{"code":%q}}`, name, lang)
	_, err := s.EnqueueSend(context.Background(), OutboundSend{PhoneNumberID: "100", WaID: "4915112345678", PairKey: "100:4915112345678",
		Type: "template", Payload: []byte(payload), Body: []byte(`{"type":"template","template":` + payload + `}`), Now: now})
	return err
}

// A template approved by webhook stays known, with its category, after
// retention removed the raw delivery that announced it (30 days by
// default): the panel still offers it and the consent check still knows
// what it is.
func TestTemplatesOutliveRetention(t *testing.T) {
	ctx := context.Background()
	s := openDP(t, nil)
	now := time.Now()
	approved := now.Add(-40 * 24 * time.Hour)
	templateDelivery(t, s, "message_template_status_update", `{"event":"APPROVED","message_template_id":77,"message_template_name":"versand_info",
		"message_template_language":"en-US","reason":"NONE","message_template_category":"UTILITY"}`, approved)
	templateDelivery(t, s, "message_template_status_update", `{"event":"APPROVED","message_template_id":78,"message_template_name":"angebot",
		"message_template_language":"de","reason":"NONE","message_template_category":"MARKETING"}`, approved)
	seed(t, s, seedMsg{Number: "100", WaID: "4915112345678", WAMID: "wamid.hi", Text: "Hallo", TS: now.Unix()}, now)

	if _, err := s.RunRetention(ctx, RetentionOptions{Now: now, OrphanGrace: -1}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count(*) FROM events WHERE field = 'message_template_status_update'"); n != 0 {
		t.Fatalf("%d template events left: retention did not run", n)
	}
	tp := findTemplate(t, s, "versand_info", "en-US")
	if tp == nil || tp.Category != CategoryUtility || !tp.Usable() || tp.UpdatedAt != approved.Unix() {
		t.Fatalf("after retention: %+v", tp)
	}
	// en-US in the webhook, en_US in the send: the same template.
	if err := sendTemplate(s, "versand_info", "en_US", now); err != nil {
		t.Fatalf("utility template without marketing consent: %v", err)
	}
	var nc *NoConsentError
	if err := sendTemplate(s, "angebot", "de", now); !errors.As(err, &nc) || nc.Unknown {
		t.Fatalf("marketing template after retention: %v", err)
	}
}

// Each attribute keeps its newest report, whatever order Meta delivered
// them in; a category update and a quality update (labelled as a status
// update, as in Meta's own example) change only what they are about.
func TestTemplateReportsNewestWins(t *testing.T) {
	s := openDP(t, nil)
	base := time.Unix(1790000000, 0)
	status := func(ev, cat string) string {
		return fmt.Sprintf(`{"event":%q,"message_template_name":"willkommen","message_template_language":"de","message_template_category":%q}`, ev, cat)
	}
	templateDelivery(t, s, "template_category_update", `{"message_template_name":"willkommen","message_template_language":"de",
		"previous_category":"UTILITY","new_category":"MARKETING"}`, base.Add(3*time.Hour))
	templateDelivery(t, s, "message_template_status_update", status("APPROVED", "UTILITY"), base.Add(time.Hour))
	templateDelivery(t, s, "message_template_status_update", `{"message_template_name":"willkommen","message_template_language":"de",
		"previous_quality_score":"GREEN","new_quality_score":"YELLOW"}`, base.Add(4*time.Hour))
	templateDelivery(t, s, "message_template_status_update", status("PENDING", "UTILITY"), base)
	templateDelivery(t, s, "message_template_components_update", `{"message_template_name":"willkommen","message_template_language":"de",
		"message_template_element":"Hallo {{1}}","message_template_footer":"Ihr Team"}`, base.Add(2*time.Hour))
	tp := findTemplate(t, s, "willkommen", "de")
	if tp == nil || tp.Status != "APPROVED" || tp.Category != CategoryMarketing || tp.Quality != "YELLOW" ||
		tp.Components != `{"body":"Hallo {{1}}","footer":"Ihr Team"}` {
		t.Fatalf("%+v", tp)
	}
}

// An admin may record the category of a template Pforte has no report of;
// a category Meta reported is not overridden.
func TestTemplateCategoryByHand(t *testing.T) {
	ctx := context.Background()
	s := openDP(t, nil)
	now := time.Now()
	seed(t, s, seedMsg{Number: "100", WaID: "4915112345678", WAMID: "wamid.hi", Text: "Hallo", TS: now.Unix()}, now)
	if err := sendTemplate(s, "alt_vorlage", "de", now); !errors.Is(err, ErrNoConsent) {
		t.Fatalf("unknown template: %v", err)
	}
	if err := s.SetTemplateCategory(ctx, "alt_vorlage", "de", "utility", now); err != nil {
		t.Fatal(err)
	}
	if err := sendTemplate(s, "alt_vorlage", "de", now); err != nil {
		t.Fatalf("after the admin recorded UTILITY: %v", err)
	}
	if err := s.SetTemplateCategory(ctx, "alt_vorlage", "de", "", now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty category: %v", err)
	}
	templateDelivery(t, s, "template_category_update", `{"message_template_name":"alt_vorlage","message_template_language":"de",
		"previous_category":"UTILITY","new_category":"MARKETING"}`, now)
	if err := s.SetTemplateCategory(ctx, "alt_vorlage", "de", "UTILITY", now.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if tp := findTemplate(t, s, "alt_vorlage", "de"); tp == nil || tp.Category != CategoryMarketing {
		t.Fatalf("Meta's category overridden by hand: %+v", tp)
	}
	if err := sendTemplate(s, "alt_vorlage", "de", now); !errors.Is(err, ErrNoConsent) {
		t.Fatalf("marketing after Meta's recategorisation: %v", err)
	}
}

// Migration 380 fills the table from the template webhooks still stored.
func TestTemplatesBackfilledFromEvents(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{IsStopWord: testStopWord})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(1790000000, 0)
	templateDelivery(t, s, "message_template_status_update", `{"event":"APPROVED","message_template_name":"rechnung",
		"message_template_language":"de","message_template_category":"UTILITY"}`, at)
	templateDelivery(t, s, "message_template_status_update", `{"event":"PAUSED","message_template_name":"rechnung",
		"message_template_language":"de","reason":null}`, at.Add(time.Hour))
	// As a database from before migration 400.
	err = s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec("DROP TABLE templates"); err != nil {
			return err
		}
		_, err := tx.Exec("DELETE FROM schema_migrations WHERE version IN (400, 420)") // 420 adds to the table
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if s, err = Open(ctx, dir, Options{IsStopWord: testStopWord}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tp := findTemplate(t, s, "rechnung", "de")
	if tp == nil || tp.Status != "PAUSED" || tp.Category != CategoryUtility || tp.WABAID != "waba1" {
		t.Fatalf("backfilled: %+v", tp)
	}
}
