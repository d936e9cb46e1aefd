package store

import (
	"context"
	"testing"
	"time"
)

func healthEvent(body, field, pnid, value string) *Delivery {
	return &Delivery{Body: []byte(body), ReceivedAt: time.Unix(1790000000, 0),
		Events: []Event{{WABAID: "waba1", Field: field, PhoneNumberID: pnid, TS: 1790000000, Value: []byte(value)}}}
}

// Each alarm is mailed once when raised and once when it clears; repeats
// only count, and nothing is queued while no recipient is configured.
func TestAlarmMailsOncePerCondition(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	now := time.Unix(1790000000, 0)
	if err := s.ApplyGraphHealth(ctx, "pn1", GraphHealth{QualityRating: "YELLOW"}, now); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.AlarmMailStatus(ctx); st.Pending != 0 {
		t.Fatalf("mail queued without a recipient: %+v", st)
	}
	if err := s.ClearAlarmAt(ctx, AlarmQuality+":pn1", "ok", now); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSetting(ctx, SettingAlarmMailTo, "ops@example.com"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.ApplyGraphHealth(ctx, "pn1", GraphHealth{QualityRating: "RED", MessagingLimitTier: "TIER_2K"}, now.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	alarms, _ := s.Alarms(ctx)
	if len(alarms) != 1 || alarms[0].Key != "quality:pn1" || alarms[0].Count != 3 {
		t.Fatalf("alarms: %+v", alarms)
	}
	// The tier drops: a second alarm; quality recovers: its resolution.
	if err := s.ApplyGraphHealth(ctx, "pn1", GraphHealth{QualityRating: "GREEN", MessagingLimitTier: "TIER_250"}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	mails, err := s.DueAlarmMails(ctx, now.Add(2*time.Hour), 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range mails {
		got = append(got, m.AlarmKey+"/"+string(m.Kind))
	}
	want := []string{"quality:pn1/raised", "quality:pn1/resolved", "tier:pn1/raised"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Fatalf("mails %v, want %v", got, want)
	}
	if err := s.AlarmMailFailed(ctx, mails[0].ID, "dial tcp: connection refused", now.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if st, _ := s.AlarmMailStatus(ctx); !st.Failing || st.Pending != 3 {
		t.Fatalf("status after failure: %+v", st)
	}
	if due, _ := s.DueAlarmMails(ctx, now.Add(2*time.Hour), 10); len(due) != 2 {
		t.Fatalf("a failed mail waits for its retry: %d due", len(due))
	}
	for _, m := range mails {
		if err := s.AlarmMailSent(ctx, m.ID, now.Add(4*time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if st, _ := s.AlarmMailStatus(ctx); st.Failing || st.Pending != 0 || st.Sent != 3 {
		t.Fatalf("status after sending: %+v", st)
	}
}

// Webhooks decide alarms: a ban and its reinstatement, a paused template,
// a flagged number; unknown events and unreadable values are stored
// without an alarm and never refused.
func TestHealthWebhooksRaiseAndClear(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	for i, c := range []struct{ field, pnid, value string }{
		{"account_update", "", `{"event":"DISABLED_UPDATE","ban_info":{"waba_ban_state":"DISABLE","waba_ban_date":"2026-12-05"}}`},
		{"message_template_status_update", "", `{"event":"PAUSED","message_template_id":123,"message_template_name":"termin","message_template_language":"de","other_info":{"title":"FIRST_PAUSE"}}`},
		{"phone_number_quality_update", "pn9", `{"display_phone_number":"4930123","event":"FLAGGED","current_limit":"TIER_2K"}`},
		{"account_update", "", `{"event":"SOMETHING_NEW"}`},
		{"phone_number_quality_update", "pn9", `not json`},
	} {
		if _, err := s.Ingest(ctx, healthEvent("b"+string(rune('a'+i)), c.field, c.pnid, c.value)); err != nil {
			t.Fatal(err)
		}
	}
	keys := func() map[string]bool {
		alarms, err := s.Alarms(ctx)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]bool{}
		for _, a := range alarms {
			m[a.Key] = true
		}
		return m
	}
	got := keys()
	if len(got) != 3 || !got["account_ban:waba1"] || !got["template:123"] || !got["quality:pn9"] {
		t.Fatalf("alarms: %v", got)
	}
	h, _ := s.NumberHealthOf(ctx, "pn9")
	if h.MessagingLimitTier != "TIER_2K" || h.LastWebhookAt == 0 {
		t.Fatalf("health: %+v", h)
	}
	for i, c := range []struct{ field, value string }{
		{"account_update", `{"event":"DISABLED_UPDATE","ban_info":{"waba_ban_state":"REINSTATE"}}`},
		{"message_template_status_update", `{"event":"REINSTATED","message_template_id":123,"message_template_name":"termin"}`},
	} {
		if _, err := s.Ingest(ctx, healthEvent("c"+string(rune('a'+i)), c.field, "", c.value)); err != nil {
			t.Fatal(err)
		}
	}
	if got := keys(); len(got) != 1 || !got["quality:pn9"] {
		t.Fatalf("after reinstatement: %v", got)
	}
}

// Pforte's own alarm events are stored as deliveries but are not Meta
// speaking: raising the silent-webhooks alarm must not make the webhooks
// look alive (or the alarm would clear itself at the next check).
func TestOwnAlarmEventsAreNotWebhooks(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	t0 := time.Unix(1790000000, 0)
	if _, err := s.Ingest(ctx, healthEvent(`{"object":"whatsapp_business_account","entry":[]}`, "account_update", "", `{"event":"X"}`)); err != nil {
		t.Fatal(err)
	}
	mustSub(t, s, EventOther, true)
	if err := s.RaiseAlarmAt(ctx, AlarmWebhooks, "Seit 7h0m0s kam kein Webhook von Meta (üblich: höchstens 6h0m0s).", t0.Add(7*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM deliveries WHERE instr(body, '"field":"pforte_alarm"') > 0`); n != 1 {
		t.Fatalf("alarm events stored: %d", n)
	}
	last, _, err := s.WebhookActivity(ctx, t0.Add(7*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if last != t0.Unix() {
		t.Fatalf("last webhook %d, want Meta's %d", last, t0.Unix())
	}
}
