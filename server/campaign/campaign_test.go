package campaign_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	stdpng "image/png"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte/pforte/server/campaign"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// clock is a controllable clock for the engine.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func berlin(s string) time.Time {
	l, _ := time.LoadLocation("Europe/Berlin")
	t, _ := time.ParseInLocation("2006-01-02 15:04", s, l)
	return t
}
func cust(n int) simulator.Customer {
	return simulator.Customer{WaID: fmt.Sprintf("491511000%04d", n), Name: fmt.Sprintf("Kundin %d", n)}
}

// A Tuesday morning: no quiet hours.
const weekday = "2026-12-01 10:00"

type env struct {
	*testenv.SendingGateway
	clk *clock
	ctx context.Context
}

func newEnv(t *testing.T, paused bool) *env {
	t.Helper()
	clk := &clock{t: berlin(weekday)}
	sg := testenv.NewSending(t, testenv.SendingOptions{
		Sender:   outbox.Config{BaseBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, SyncWait: 5 * time.Second, PairInterval: time.Millisecond},
		Sim:      simulator.Options{StatusDelay: 10 * time.Millisecond},
		Campaign: &campaign.Config{Now: clk.Now, Tick: 20 * time.Millisecond},
		Paused:   paused,
	})
	sg.ApproveTemplate(t, "angebot", "de", "MARKETING")
	return &env{SendingGateway: sg, clk: clk, ctx: context.Background()}
}

// write makes customers write, so that Pforte knows them.
func (e *env) write(t *testing.T, cs ...simulator.Customer) {
	t.Helper()
	for _, c := range cs {
		if _, st, err := e.Sim.WriteLine(e.ctx, c, simulator.Line{Text: "Hallo"}); err != nil || st != http.StatusOK {
			t.Fatalf("customer message: %d %v", st, err)
		}
	}
}

func (e *env) consent(t *testing.T, c simulator.Customer, actions ...store.ConsentAction) {
	t.Helper()
	ct, err := e.Store.ContactByKey(e.ctx, c.WaID)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range actions {
		if _, err := e.Store.RecordConsent(e.ctx, store.ConsentRecord{ContactID: ct.ID, Purpose: store.PurposeMarketing, Action: a,
			Source: "web_form", Evidence: "test", Actor: "test", TS: time.Now().Unix() - int64(len(actions)-i)}); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) create(t *testing.T, body map[string]any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	st, out := e.API(t, http.MethodPost, "/api/v1/campaigns", bytes.NewReader(b))
	var m map[string]any
	json.Unmarshal(out, &m)
	return st, m
}

func (e *env) get(t *testing.T, id any) map[string]any {
	t.Helper()
	st, out := e.API(t, http.MethodGet, fmt.Sprintf("/api/v1/campaigns/%v", id), nil)
	if st != http.StatusOK {
		t.Fatalf("GET campaign: %d %s", st, out)
	}
	var m map[string]any
	json.Unmarshal(out, &m)
	return m
}

func campaignBody(contacts ...simulator.Customer) map[string]any {
	var list []string
	for _, c := range contacts {
		list = append(list, c.WaID)
	}
	return map[string]any{"name": "Adventsangebot", "phone_number_id": "106540352242922", "purpose": "marketing",
		"template": map[string]any{"name": "angebot", "language": "de", "parameters": []string{"{{name}}"}},
		"audience": map[string]any{"contacts": list}, "start": "now"}
}

// templateSendsTo lists who received a template at the fake Meta.
func (e *env) templateSendsTo() map[string]int {
	out := map[string]int{}
	for _, r := range e.Sim.Accepted() {
		if r.Type == "template" {
			out[r.To]++
		}
	}
	return out
}

// TestCampaignReachesExactlyTheConsenting sends to a mixed audience:
// consenting, never asked, withdrawn, restricted (erasure under a legal
// hold) and erased. Only the consenting customer gets the message; the
// others are excluded and counted by reason, and the counts follow Meta's
// status webhooks.
func TestCampaignReachesExactlyTheConsenting(t *testing.T) {
	e := newEnv(t, false)
	yes, never, withdrawn, restricted, erased := cust(1), cust(2), cust(3), cust(4), cust(5)
	e.write(t, yes, never, withdrawn, restricted, erased)
	e.consent(t, yes, store.OptIn)
	e.consent(t, withdrawn, store.OptIn, store.OptOut)
	e.consent(t, restricted, store.OptIn)
	e.consent(t, erased, store.OptIn)
	rc, _ := e.Store.ContactByKey(e.ctx, restricted.WaID)
	if _, err := e.Store.SetHold(e.ctx, store.LegalHold{ContactID: rc.ID, Reason: "Rechnung, § 147 AO", CreatedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []simulator.Customer{restricted, erased} {
		if _, err := e.Store.EraseContact(e.ctx, c.WaID, store.EraseRequest{Actor: "test", Reason: "Art. 17"}); err != nil {
			t.Fatal(err)
		}
	}
	st, c := e.create(t, campaignBody(yes, never, withdrawn, restricted, erased))
	if st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, c)
	}
	if c["status"] == nil || c["id"] == nil {
		t.Fatalf("answer lacks id/status: %v", c)
	}
	if c["eligible"].(float64) != 1 || c["excluded"].(float64) != 4 {
		t.Fatalf("eligible/excluded = %v/%v, want 1/4", c["eligible"], c["excluded"])
	}
	by := c["counts"].(map[string]any)["excluded_by"].(map[string]any)
	for _, k := range []string{"no_consent", "withdrawn", "restricted", "unknown"} {
		if by[k].(float64) != 1 {
			t.Errorf("excluded_by[%s] = %v, want 1 (%v)", k, by[k], by)
		}
	}
	testenv.Eventually(t, 10*time.Second, "delivered and read counted", func() bool {
		m := e.get(t, c["id"])
		return m["read"].(float64) == 1 && m["delivered"].(float64) == 1 && m["sent"].(float64) == 1 && m["status"] == "done"
	})
	got := e.templateSendsTo()
	if len(got) != 1 || got[yes.WaID] != 1 {
		t.Fatalf("template sends = %v, want exactly one to %s", got, yes.WaID)
	}
	m := e.get(t, c["id"])
	if m["cost"].(float64) <= 0 {
		t.Errorf("cost from the pricing object = %v, want > 0 (billable marketing message to +49)", m["cost"])
	}
	// The results export lists everyone with the German reason.
	_, csv := e.API(t, http.MethodGet, fmt.Sprintf("/api/v1/campaigns/%v/results", c["id"]), nil)
	if !strings.Contains(string(csv), yes.WaID+",read") || !strings.Contains(string(csv), "Einwilligung widerrufen") {
		t.Errorf("results CSV:\n%s", csv)
	}
	// Erasure removes the person from the campaign; the counts stay.
	if _, err := e.Store.EraseContact(e.ctx, yes.WaID, store.EraseRequest{Actor: "test", Reason: "Art. 17"}); err != nil {
		t.Fatal(err)
	}
	after := e.get(t, c["id"])
	if after["read"].(float64) != 1 || after["eligible"].(float64) != 1 {
		t.Errorf("counts changed by the erasure: %v", after)
	}
	_, csv = e.API(t, http.MethodGet, fmt.Sprintf("/api/v1/campaigns/%v/results", c["id"]), nil)
	if strings.Contains(string(csv), yes.WaID) {
		t.Errorf("erased number still in the results:\n%s", csv)
	}
}

// TestDoubleOptInEndToEnd: keyword → confirmation with a button → tap →
// consent with evidence, all through webhooks and the simulator. The
// keyword alone records nothing; a tap on a button of another message
// records nothing.
func TestDoubleOptInEndToEnd(t *testing.T) {
	e := newEnv(t, false)
	wording := "Ja, ich möchte Angebote von Beispiel GmbH per WhatsApp erhalten. Abmelden jederzeit mit STOP."
	if st, out := e.API(t, http.MethodPost, "/api/v1/optin-entries", strings.NewReader(`{"name":"Laden","purpose":"marketing","keyword":"Newsletter",
		"confirmation":`+fmt.Sprintf("%q", wording)+`,"button":"Ja, anmelden"}`)); st != http.StatusCreated {
		t.Fatalf("opt-in entry: %d %s", st, out)
	}
	// The entry point's link, QR code (PNG and SVG) and snippet.
	_, list := e.API(t, http.MethodGet, "/api/v1/optin-entries", nil)
	if !bytes.Contains(list, []byte(`"link":"https://wa.me/15550783881?text=Newsletter"`)) {
		t.Fatalf("entry list: %s", list)
	}
	if st, png := e.API(t, http.MethodGet, "/api/v1/optin-entries/1/qr?format=png&size=256", nil); st != 200 || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Fatalf("QR PNG: %d %.20q", st, png)
	} else if img, err := stdpng.Decode(bytes.NewReader(png)); err != nil || img.Bounds().Dx() != 256 {
		t.Fatalf("QR PNG does not decode to 256 px: %v", err)
	}
	if st, svg := e.API(t, http.MethodGet, "/api/v1/optin-entries/1/qr?format=svg", nil); st != 200 || !bytes.HasPrefix(svg, []byte("<svg")) || bytes.Contains(svg, []byte("<script")) {
		t.Fatalf("QR SVG: %d %.80q", st, svg)
	}
	if sn := campaign.Snippet("15550783881", store.OptInEntry{Keyword: "Newsletter"}, ""); !strings.Contains(sn, `href="https://wa.me/15550783881?text=Newsletter"`) ||
		strings.Contains(sn, "<script") {
		t.Fatalf("snippet: %s", sn)
	}
	c := cust(7)
	if _, st, err := e.Sim.WriteLine(e.ctx, c, simulator.Line{Text: "newsletter!"}); err != nil || st != 200 {
		t.Fatal(st, err)
	}
	var confirm simulator.Request
	testenv.Eventually(t, 10*time.Second, "confirmation sent", func() bool {
		for _, r := range e.Sim.Accepted() {
			if r.Type == "interactive" && r.To == c.WaID {
				confirm = r
				return true
			}
		}
		return false
	})
	if !bytes.Contains(confirm.Body, []byte("Ja, anmelden")) || !strings.Contains(string(confirm.Body), "Angebote von Beispiel GmbH") {
		t.Fatalf("confirmation body: %s", confirm.Body)
	}
	var body struct {
		Interactive struct {
			Action struct {
				Buttons []struct {
					Reply struct{ ID, Title string }
				}
			}
		}
	}
	json.Unmarshal(confirm.Body, &body)
	buttonID := body.Interactive.Action.Buttons[0].Reply.ID
	ct, _ := e.Store.ContactByKey(e.ctx, c.WaID)
	if err := e.Store.CheckMarketingConsent(e.ctx, ct.ID); err == nil {
		t.Fatal("the keyword alone recorded consent")
	}
	// A tap that names the button but answers another message proves nothing.
	if _, err := e.Sim.TapButton(e.ctx, c, "wamid.other", buttonID, "Ja, anmelden"); err != nil {
		t.Fatal(err)
	}
	tap, err := e.Sim.TapButton(e.ctx, c, confirm.WAMID, buttonID, "Ja, anmelden")
	if err != nil {
		t.Fatal(err)
	}
	var rec store.ConsentRecord
	testenv.Eventually(t, 10*time.Second, "consent recorded", func() bool {
		recs, _ := e.Store.ConsentRecords(e.ctx, ct.ID)
		for _, r := range recs {
			if r.Source == "double_opt_in" {
				rec = r
				return true
			}
		}
		return false
	})
	var ev store.OptInEvidence
	if err := json.Unmarshal([]byte(rec.Evidence), &ev); err != nil {
		t.Fatal(err)
	}
	if rec.Action != store.OptIn || ev.Purpose != "marketing" || ev.Wording != wording || ev.ConfirmationMessage != confirm.WAMID ||
		ev.TapMessage != tap || ev.KeywordMessage == "" || ev.Channel != "whatsapp:106540352242922" || ev.ConfirmedAt == "" {
		t.Fatalf("evidence: %+v (record %+v)", ev, rec)
	}
	recs, _ := e.Store.ConsentRecords(e.ctx, ct.ID)
	if len(recs) != 1 {
		t.Fatalf("%d consent records, want 1 (the wrong tap must record nothing)", len(recs))
	}
	// Now the campaign reaches them, with the unsubscribe quick reply; a tap on it withdraws.
	b := campaignBody(c)
	b["unsubscribe_button"] = 0
	st, cm := e.create(t, b)
	if st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, cm)
	}
	var sent simulator.Request
	testenv.Eventually(t, 10*time.Second, "campaign message", func() bool {
		for _, r := range e.Sim.Accepted() {
			if r.Type == "template" {
				sent = r
				return true
			}
		}
		return false
	})
	if !bytes.Contains(sent.Body, []byte(`"payload":"pforte_unsubscribe:`)) {
		t.Fatalf("no unsubscribe quick reply in %s", sent.Body)
	}
	if _, err := e.Sim.TapQuickReply(e.ctx, c, sent.WAMID, fmt.Sprintf("pforte_unsubscribe:%v", cm["id"]), "Abmelden"); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "opted out", func() bool {
		return e.Store.CheckMarketingConsent(e.ctx, ct.ID) != nil && e.get(t, cm["id"])["opted_out"].(float64) == 1
	})
}

// TestStopDuringCampaign: a recipient whose message waits in the outbox
// writes STOP; the outbox's check as the message leaves stops it, the
// others still go out.
func TestStopDuringCampaign(t *testing.T) {
	e := newEnv(t, true)
	a, b := cust(11), cust(12)
	e.write(t, a, b)
	e.consent(t, a, store.OptIn)
	e.consent(t, b, store.OptIn)
	st, c := e.create(t, campaignBody(a, b))
	if st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, c)
	}
	if err := e.Campaigns.SendRound(e.ctx); err != nil { // queued in the outbox, not sent: the outbox is stopped
		t.Fatal(err)
	}
	if m := e.get(t, c["id"]); m["counts"].(map[string]any)["queued"].(float64) != 2 {
		t.Fatalf("queued = %v", m["counts"])
	}
	if _, st, err := e.Sim.WriteLine(e.ctx, b, simulator.Line{Text: "STOP"}); err != nil || st != 200 {
		t.Fatal(st, err)
	}
	e.Start()
	testenv.Eventually(t, 10*time.Second, "a read, b stopped", func() bool {
		m := e.get(t, c["id"])
		return m["read"].(float64) == 1 && m["counts"].(map[string]any)["stopped"].(float64) == 1
	})
	if got := e.templateSendsTo(); len(got) != 1 || got[a.WaID] != 1 {
		t.Fatalf("template sends = %v, want only %s", got, a.WaID)
	}
	if m := e.get(t, c["id"]); m["opted_out"].(float64) != 1 {
		t.Errorf("opted_out = %v, want 1", m["opted_out"])
	}
}

// TestAutoPause: a template Meta paused, and the number's quality falling
// to red, pause the campaign before anything is queued, with an alarm
// that says why.
func TestAutoPause(t *testing.T) {
	for _, tc := range []struct{ name, reason string }{{"template paused", campaign.PauseTemplate}, {"quality red", campaign.PauseQuality}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, true)
			a := cust(21)
			e.write(t, a)
			e.consent(t, a, store.OptIn)
			st, c := e.create(t, campaignBody(a))
			if st != http.StatusCreated {
				t.Fatalf("create: %d %v", st, c)
			}
			if tc.reason == campaign.PauseTemplate {
				if err := e.Sim.PostTemplateStatus(e.ctx, simulator.Template{ID: 1, Name: "angebot", Language: "de", Category: "MARKETING"}, "PAUSED"); err != nil {
					t.Fatal(err)
				}
			} else if err := e.Sim.PostQualityUpdate(e.ctx, "FLAGGED", "TIER_1K", ""); err != nil {
				t.Fatal(err)
			}
			if err := e.Campaigns.SendRound(e.ctx); err != nil {
				t.Fatal(err)
			}
			m := e.get(t, c["id"])
			if m["status"] != "paused" || m["pause_reason"] != tc.reason || m["counts"].(map[string]any)["queued"].(float64) != 0 {
				t.Fatalf("campaign = %v %v %v", m["status"], m["pause_reason"], m["counts"])
			}
			// The campaign's own alarm says why it stopped; the health
			// monitor raises its own for the template or number beside it.
			alarms, _ := e.Store.Alarms(e.ctx)
			paused := 0
			for _, a := range alarms {
				if strings.HasPrefix(a.Key, "campaign_paused_") && strings.Contains(a.Message, "angehalten") {
					paused++
				}
			}
			if paused != 1 {
				t.Fatalf("alarms = %+v", alarms)
			}
			// Resuming while the cause remains pauses it again.
			if st, out := e.API(t, http.MethodPost, fmt.Sprintf("/api/v1/campaigns/%v/resume", c["id"]), nil); st != http.StatusOK {
				t.Fatalf("resume: %d %s", st, out)
			}
			e.Campaigns.SendRound(e.ctx)
			if m := e.get(t, c["id"]); m["status"] != "paused" {
				t.Fatalf("after resume: %v", m["status"])
			}
		})
	}
}

// TestQuietHours: nothing is queued at 21:00, on a Sunday or on Christmas
// Day; the campaign goes out at 8:00 the next working day.
func TestQuietHours(t *testing.T) {
	e := newEnv(t, true)
	a := cust(31)
	e.write(t, a)
	e.consent(t, a, store.OptIn)
	for _, at := range []string{"2026-12-01 21:00", "2026-12-02 07:59", "2026-12-06 11:00", "2026-12-25 11:00"} {
		if q, _ := e.Campaigns.Quiet(berlin(at)); !q {
			t.Errorf("%s is not quiet", at)
		}
	}
	e.clk.Set(berlin("2026-12-01 21:00"))
	st, c := e.create(t, campaignBody(a))
	if st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, c)
	}
	e.Campaigns.SendRound(e.ctx)
	if m := e.get(t, c["id"]); m["counts"].(map[string]any)["queued"].(float64) != 0 {
		t.Fatalf("queued in quiet hours: %v", m["counts"])
	}
	if q, until := e.Campaigns.Quiet(berlin("2026-12-01 21:00")); !q || !until.Equal(berlin("2026-12-02 08:00")) {
		t.Fatalf("quiet until %v", until)
	}
	e.clk.Set(berlin("2026-12-02 08:00"))
	e.Campaigns.SendRound(e.ctx)
	if m := e.get(t, c["id"]); m["counts"].(map[string]any)["queued"].(float64) != 1 {
		t.Fatalf("not queued at 8:00: %v", m["counts"])
	}
}

// TestBadInput: each mistake is a 400 naming the field, and nothing is
// stored or sent; missing per-recipient values skip (and list) only
// those recipients.
func TestBadInput(t *testing.T) {
	e := newEnv(t, true)
	a, b := cust(41), cust(42)
	e.write(t, a, b)
	e.consent(t, a, store.OptIn)
	e.consent(t, b, store.OptIn)
	e.ApproveTemplate(t, "versand", "de", "UTILITY")
	if err := e.Sim.PostTemplateStatus(e.ctx, simulator.Template{ID: 9, Name: "entwurf", Language: "de", Category: "MARKETING"}, "PENDING"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, field string
		change      func(m map[string]any)
	}{
		{"wrong category", "template.name", func(m map[string]any) { m["template"].(map[string]any)["name"] = "versand" }},
		{"not approved", "template.name", func(m map[string]any) { m["template"].(map[string]any)["name"] = "entwurf" }},
		{"unknown template", "template.name", func(m map[string]any) { m["template"].(map[string]any)["name"] = "gibtsnicht" }},
		{"empty audience", "audience", func(m map[string]any) { m["audience"] = map[string]any{"contacts": []string{"4915199999999"}} }},
		{"no audience", "audience", func(m map[string]any) { m["audience"] = map[string]any{} }},
		{"past", "start", func(m map[string]any) { m["start"] = "2026-11-01T10:00:00+01:00" }},
		{"bad start", "start", func(m map[string]any) { m["start"] = "morgen" }},
		{"purpose", "purpose", func(m map[string]any) { m["purpose"] = "service" }},
		{"number", "phone_number_id", func(m map[string]any) { m["phone_number_id"] = "999" }},
	}
	for _, tc := range cases {
		body := campaignBody(a, b)
		tc.change(body)
		st, out := e.create(t, body)
		msg, _ := out["error"].(map[string]any)["message"].(string)
		if st != http.StatusBadRequest || !strings.HasPrefix(msg, tc.field+":") {
			t.Errorf("%s: %d %v, want 400 naming %s", tc.name, st, out, tc.field)
		}
	}
	if list, _ := e.Store.Campaigns(e.ctx, 10); len(list) != 0 {
		t.Fatalf("%d campaigns stored from bad input", len(list))
	}
	// {{1}} comes from the recipient's values; b has none: skipped and listed.
	body := campaignBody(a, b)
	body["template"].(map[string]any)["parameters"] = []string{"{{1}}"}
	body["recipient_parameters"] = map[string][]string{"+49 151 1000 0041": {"20 %"}}
	st, c := e.create(t, body)
	if st != http.StatusCreated || c["eligible"].(float64) != 1 || c["counts"].(map[string]any)["skipped"].(float64) != 1 {
		t.Fatalf("create with a missing value: %d %v", st, c)
	}
	_, csv := e.API(t, http.MethodGet, fmt.Sprintf("/api/v1/campaigns/%v/results", c["id"]), nil)
	if !strings.Contains(string(csv), b.WaID+",skipped,missing_parameters") {
		t.Errorf("skipped recipient not listed:\n%s", csv)
	}
	e.Start()
	testenv.Eventually(t, 10*time.Second, "sent", func() bool { return e.templateSendsTo()[a.WaID] == 1 })
	if !bytes.Contains(e.Sim.Accepted()[len(e.Sim.Accepted())-1].Body, []byte(`"text":"20 %"`)) {
		t.Errorf("parameter not filled: %s", e.Sim.Accepted()[len(e.Sim.Accepted())-1].Body)
	}
}
