package panel_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/health"
	"github.com/pforte/pforte/store"
)

// The health page shows each number's quality, limit and Local Storage as
// Meta last reported them, the standing alarms and whether alarm mail is
// failing; the mail server form refuses a wrong field with a German
// message and saves nothing, and saves (audited) a right one.
func TestHealthPageAndSMTPForm(t *testing.T) {
	f := newPanelFixture(t)
	ctx := context.Background()
	st := f.g.Store
	now := time.Now()
	if err := st.ApplyGraphHealth(ctx, "106540352242922", store.GraphHealth{QualityRating: "RED", MessagingLimitTier: "TIER_2K",
		Throughput: "STANDARD", VerifiedName: "Muster GmbH", StorageStatus: "IN_COUNTRY_STORAGE_ENABLED", StorageRegion: "DE"}, now); err != nil {
		t.Fatal(err)
	}
	b := sessionFor(t, f.g, f.admin)
	p := b.get("/health")
	for _, want := range []string{"Qualitätsbewertung der Nummer 106540352242922 ist RED", `data-testid="health-quality">RED`, "TIER_2K",
		"Muster GmbH", `data-testid="health-storage">an (DE)`} {
		if p.status != 200 || !strings.Contains(p.body, want) {
			t.Fatalf("health page lacks %q:\n%s", want, p.body)
		}
	}
	if p := b.get("/settings"); !strings.Contains(p.body, "Local Storage ist AN: Meta speichert Nachrichten dieser Nummer ruhend nur in DE (EU).") {
		t.Fatalf("settings page lacks the storage line")
	}
	bad := url.Values{"host": {"mail.example.de"}, "port": {"70000"}, "security": {"starttls"}, "from": {"pforte@example.de"}, "to": {"ops@example.de"}}
	if p := b.post("/health/smtp", bad); p.status != http.StatusBadRequest || !strings.Contains(p.body, "Bitte einen Port von 1 bis 65535 angeben.") {
		t.Fatalf("bad port: %d", p.status)
	}
	if _, err := health.LoadSMTP(ctx, st); err != health.ErrNoSMTP {
		t.Fatalf("a refused form saved something: %v", err)
	}
	good := url.Values{"host": {"mail.example.de"}, "port": {"587"}, "security": {"starttls"}, "user": {"pforte"}, "password": {"geheim"},
		"from": {"pforte@example.de"}, "to": {"ops@example.de, chef@example.de"}}
	if p := b.post("/health/smtp", good); p.status != http.StatusSeeOther {
		t.Fatalf("good form: %d %s", p.status, p.body)
	}
	c, err := health.LoadSMTP(ctx, st)
	if err != nil || c.Port != 587 || c.Password != "geheim" || len(c.To) != 2 {
		t.Fatalf("saved: %+v %v", c, err)
	}
	if p := b.get("/health"); strings.Contains(p.body, "geheim") || !strings.Contains(p.body, "mail.example.de") {
		t.Fatal("the form shows the password or lacks the host")
	}
	// A mail that failed shows as failing.
	if err := st.RaiseAlarmAt(ctx, "disk", "Festplatte fast voll", now); err != nil {
		t.Fatal(err)
	}
	due, _ := st.DueAlarmMails(ctx, now.Add(time.Minute), 10)
	if len(due) != 1 {
		t.Fatalf("due: %d", len(due))
	}
	st.AlarmMailFailed(ctx, due[0].ID, "dial tcp: connection refused", now.Add(time.Hour))
	if p := b.get("/health"); !strings.Contains(p.body, `data-testid="mail-failing"`) || !strings.Contains(p.body, "connection refused") {
		t.Fatal("the page does not say mail is failing")
	}
	entries, _ := st.AuditLog(ctx, 0, 50)
	audited := false
	for _, e := range entries {
		audited = audited || e.Action == store.AuditSMTPChange
	}
	if !audited {
		t.Fatal("SMTP change not audited")
	}
}

// The rate table is edited as text: a wrong line saves nothing and names
// the line; a right table replaces the old one and prices the report.
func TestCostsPageRates(t *testing.T) {
	f := newPanelFixture(t)
	ctx := context.Background()
	b := sessionFor(t, f.g, f.admin)
	p := b.get("/costs")
	if p.status != 200 || !strings.Contains(p.body, "49,marketing,EUR,0.1131,"+store.DefaultRatesDate) {
		t.Fatalf("costs page lacks the shipped German rate: %d", p.status)
	}
	before, _ := f.g.Store.Rates(ctx)
	if p := b.post("/costs/rates", url.Values{"rates": {"49,marketing,EUR,0.12,2026-01-01\n43,utility,eur,abc,2026-01-01"}}); p.status != http.StatusBadRequest ||
		!strings.Contains(p.body, "Zeile 2 der Preistabelle ist ungültig") {
		t.Fatalf("bad line: %d", p.status)
	}
	if after, _ := f.g.Store.Rates(ctx); len(after) != len(before) {
		t.Fatalf("a refused table changed the rates: %d → %d", len(before), len(after))
	}
	if p := b.post("/costs/rates", url.Values{"rates": {"# Stand 2026-01\n49,marketing,EUR,0.12,2026-01-01\n43,Utility,eur,0.03,2026-01-01\n"}}); p.status != http.StatusSeeOther {
		t.Fatalf("good table: %d %s", p.status, p.body)
	}
	rates, _ := f.g.Store.Rates(ctx)
	if len(rates) != 2 || rates[1].RateMicros != 120000 || rates[0].Category != "utility" || rates[0].Currency != "EUR" {
		t.Fatalf("rates: %+v", rates)
	}
	if p := b.get("/costs?from=2026-13"); p.status != http.StatusBadRequest {
		t.Fatalf("bad month: %d", p.status)
	}
	if p := b.post("/costs/export", url.Values{"from": {"2026-01"}}); p.status != 200 || !strings.HasPrefix(p.body, "month,phone_number_id,category,country_code,agent,") {
		t.Fatalf("csv: %d %q", p.status, p.body)
	}
}

// Alarms are stored in German (mail and fan-out go out before anyone reads
// them); an admin who reads the panel in English sees them in English,
// with the number and rating kept, on the health page and the dashboard,
// while a German admin sees the stored text.
func TestAlarmsRenderInEnglishPanel(t *testing.T) {
	f := newPanelFixture(t)
	ctx := context.Background()
	st := f.g.Store
	now := time.Now()
	if err := st.ApplyGraphHealth(ctx, "106540352242922", store.GraphHealth{QualityRating: "RED", MessagingLimitTier: "TIER_2K"}, now); err != nil {
		t.Fatal(err)
	}
	if err := st.RaiseAlarmAt(ctx, store.AlarmBackup, "Die Datensicherung schlägt fehl: disk quota exceeded", now); err != nil {
		t.Fatal(err)
	}
	de := sessionFor(t, f.g, f.admin)
	if p := de.get("/health"); !strings.Contains(p.body, "Qualitätsbewertung der Nummer 106540352242922 ist RED.") {
		t.Fatalf("German health page lacks the stored alarm:\n%s", p.body)
	}
	if err := st.SetPreferences(ctx, f.admin.ID, "en", false); err != nil {
		t.Fatal(err)
	}
	en := sessionFor(t, f.g, f.admin)
	for _, path := range []string{"/health", "/dashboard", "/settings"} {
		p := en.get(path)
		for _, want := range []string{"Quality rating of number 106540352242922 is RED.", "The backup fails: disk quota exceeded"} {
			if !strings.Contains(p.body, want) {
				t.Fatalf("English %s lacks %q:\n%s", path, want, p.body)
			}
		}
		for _, german := range []string{"Qualitätsbewertung", "Datensicherung"} {
			if strings.Contains(p.body, german) {
				t.Fatalf("English %s still shows %q", path, german)
			}
		}
	}
}
