package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/store"
)

// The demo plays the WhatsApp number of a small online coffee roastery
// with a shop in Berlin. Its display number is in the Bundesnetzagentur's
// Berlin block for films and examples, (0)30 23125 000–999, which is never
// given to anyone.
const (
	demoDisplayNumber = "493023125100"
	demoShop          = "Kaffeerösterei Pforte"
	// demoSeededSetting marks a data directory whose demo story was told,
	// so that a restart does not tell it again.
	demoSeededSetting = "demo.seeded_at"
	// demoStreamCustomers write at random after the story; customers with
	// a higher index keep their conversations as the story left them.
	demoStreamCustomers = 20
)

// Conversation states the demo sets (store.SetConversationStatus).
const (
	demoClosed = "closed"
)

// demoTemplates are approved at Meta as far as the demo is concerned: the
// simulator accepts them and announces them to the gateway.
var demoTemplates = []simulator.Template{
	{ID: 730000000000001, Name: "versand_bestaetigung", Language: "de", Category: "UTILITY",
		Body: "Hallo {{1}}, Ihre Bestellung {{2}} hat unsere Rösterei verlassen und ist in 1–2 Werktagen bei Ihnen. Viele Grüße, Ihre " + demoShop},
	{ID: 730000000000002, Name: "abholung_bereit", Language: "de", Category: "UTILITY",
		Body: "Guten Tag {{1}}, Ihre Bestellung {{2}} liegt ab sofort in unserem Laden zur Abholung bereit (Mo–Fr 8–18 Uhr, Sa 9–14 Uhr)."},
	{ID: 730000000000003, Name: "rueckruf_termin", Language: "de", Category: "UTILITY",
		Body: "Hallo {{name}}, wie besprochen rufen wir Sie am {{termin}} zurück. Ihr Team der " + demoShop},
	// With header, footer and buttons, as templates created in the panel
	// look; the picker previews them like WhatsApp.
	{ID: 730000000000004, Name: "verkostung_einladung", Language: "de", Category: "UTILITY",
		Body: "Hallo {{1}}, wir laden Sie herzlich zur Kaffeeverkostung am {{2}} in unseren Laden ein.",
		Components: json.RawMessage(`[{"type":"HEADER","format":"TEXT","text":"Einladung zur Verkostung"},
			{"type":"BODY","text":"Hallo {{1}}, wir laden Sie herzlich zur Kaffeeverkostung am {{2}} in unseren Laden ein.","example":{"body_text":[["Uta","Samstag, 14 Uhr"]]}},
			{"type":"FOOTER","text":"` + demoShop + `"},
			{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Ich komme"},{"type":"QUICK_REPLY","text":"Leider nicht"}]}]`)},
}

var demoLabels = []store.Label{
	{Name: "Bestellung", Color: "blue"}, {Name: "Reklamation", Color: "red"}, {Name: "VIP", Color: "amber"},
	{Name: "Rückruf", Color: "violet"}, {Name: "Retoure", Color: "teal"},
}

var demoCanned = []store.CannedReply{
	{Title: "Begrüßung", Body: "Vielen Dank für Ihre Nachricht, {{name}}! Wir kümmern uns gleich darum."},
	{Title: "Lieferzeit", Body: "Was bis 12 Uhr bestellt ist, rösten und versenden wir am selben Werktag. Die Zustellung dauert meist 1–2 Werktage."},
	{Title: "Öffnungszeiten", Body: "Unser Laden hat Mo–Fr von 8 bis 18 Uhr und Sa von 9 bis 14 Uhr geöffnet. Sonntags ist geschlossen."},
	{Title: "Retoure", Body: "Ungeöffnete Ware können Sie innerhalb von 14 Tagen zurücksenden. Das Retourenetikett schicken wir Ihnen gern per E-Mail."},
	{Title: "Reklamation", Body: "Das tut uns sehr leid! Schicken Sie uns bitte ein Foto von Verpackung und Artikel, dann senden wir sofort Ersatz."},
	{Title: "Abschied", Body: "Vielen Dank und einen schönen Tag noch! Ihr Team der " + demoShop},
}

// demoScene is one customer's conversation in the demo's story.
type demoScene struct {
	customer int // index in simulator.Customers
	lines    []simulator.Line
	labels   []string
	closed   bool   // answered and done
	assigned bool   // taken by the demo admin
	note     string // the admin's internal note
}

// said is a text line written d ago.
func said(d time.Duration, text string) simulator.Line { return simulator.Line{Text: text, Ago: d} }

var demoScenes = []demoScene{
	{customer: 0, labels: []string{"Bestellung"}, lines: []simulator.Line{
		said(42*time.Minute, "Hallo! Ich habe gestern Bestellung 10482 aufgegeben (2× Espresso Nr. 5, ganze Bohne). Wann wird die verschickt?")}},
	{customer: 1, labels: []string{"Bestellung"}, lines: []simulator.Line{
		said(2*time.Hour, "Guten Morgen, laut DHL liegt mein Paket seit drei Tagen im Verteilzentrum 🙄"),
		said(2*time.Hour-time.Minute, "Könnt ihr da mal nachhaken? Bestellung 10431.")}},
	{customer: 2, labels: []string{"Reklamation"}, lines: []simulator.Line{
		said(3*time.Hour, "Guten Tag, die Handmühle kam leider mit einem Riss im Bohnenbehälter an."),
		{Kind: "image", Text: "So sah das Paket schon bei der Zustellung aus 😕", Ago: 3*time.Hour - time.Minute},
		said(3*time.Hour-2*time.Minute, "Was mache ich jetzt?")}},
	{customer: 3, lines: []simulator.Line{
		said(25*time.Minute, "Hat euer Laden am Samstag auf? Ich würde gern vorbeikommen und den neuen Filterkaffee probieren.")}},
	{customer: 4, labels: []string{"Retoure"}, lines: []simulator.Line{
		said(5*time.Hour, "Hallo, ich möchte den Entkalker zurückschicken, der passt nicht zu meiner Maschine. Wie läuft das?")}},
	{customer: 12, labels: []string{"Rückruf", "VIP"}, assigned: true,
		note: "Büro mit ca. 20 Leuten, möchte ein Abo über 10 kg im Monat. Angebot vorbereiten, Rückruf morgen Vormittag.",
		lines: []simulator.Line{said(70*time.Minute,
			"Können Sie mich bitte zurückrufen? Es geht um eine größere Bestellung für unser Büro, etwa 10 kg im Monat.")}},
	{customer: 6, lines: []simulator.Line{
		said(95*time.Minute, "Kann der Fahrer das Paket in meinem Büro abgeben? Ist im Hinterhaus, hier der Standort:"),
		{Kind: "location", Ago: 94 * time.Minute, Place: &simulator.Place{Latitude: 52.52836, Longitude: 13.40178,
			Name: "Büro (Hinterhaus, 2. OG)", Address: "Beispielstraße 12, 10115 Berlin"}}}},
	{customer: 7, lines: []simulator.Line{
		said(6*time.Hour, "Kann ich mein Kaffee-Abo für August pausieren? Wir sind im Urlaub ☀️")}},
	// Written more than a day ago: the window is closed, only a template
	// (e.g. versand_bestaetigung) can answer. Like the closed one below,
	// this customer is not among those who go on writing at random.
	{customer: demoStreamCustomers + 1, labels: []string{"Bestellung"}, lines: []simulator.Line{
		said(30*time.Hour, "Ist der Äthiopien Yirgacheffe wieder lieferbar? Dann würde ich gleich 1 kg bestellen."),
		said(30*time.Hour-3*time.Minute, "Habe jetzt bestellt, Nummer 10397 👍")}},
	{customer: 9, lines: []simulator.Line{
		said(8*time.Minute, "Moin! Welchen Mahlgrad nehme ich für die French Press, eher grob?")}},
	{customer: 10, lines: []simulator.Line{
		said(4*time.Hour, "Ich habe einen Gutschein geschenkt bekommen, aber der Code wird im Shop nicht angenommen.")}},
	{customer: 16, lines: []simulator.Line{
		said(50*time.Minute, "Kaffee ist angekommen und riecht fantastisch! Danke 😊")}},
	{customer: 5, lines: []simulator.Line{
		said(7*time.Hour, "Habt ihr auch entkoffeinierten Espresso? Meine Frau ist schwanger.")}},
	{customer: 13, labels: []string{"Bestellung"}, lines: []simulator.Line{
		said(15*time.Minute, "Oh nein, ich habe mich bei der Hausnummer vertippt! Bestellung 10477, richtig ist Nr. 14 statt 41.")}},
	{customer: 14, lines: []simulator.Line{
		said(9*time.Hour, "Wie lange hält sich der Kaffee nach dem Öffnen?")}},
	{customer: 15, lines: []simulator.Line{
		said(3*time.Minute, "Liefert ihr auch nach Österreich? Ich wohne in Salzburg.")}},
	{customer: 11, labels: []string{"VIP"}, lines: []simulator.Line{
		said(20*time.Hour, "Hallo ihr Lieben, wie immer 3 kg Hausmischung fürs Café bitte 🙂 Abholung Freitag.")}},
	{customer: demoStreamCustomers, closed: true, lines: []simulator.Line{
		said(27*time.Hour, "Paket ist da, alles bestens. Danke für die schnelle Hilfe!")}},
}

// demoSimulatorOptions are the simulator's settings for the demo: a Berlin
// business number and the demo's approved templates.
func demoSimulatorOptions(token string, log *slog.Logger) simulator.Options {
	return simulator.Options{AccessToken: token, StatusDelay: 2 * time.Second, EnforceWindow: true,
		DisplayPhoneNumber: demoDisplayNumber, Templates: demoTemplates, Logger: log.With("part", "simulator"),
		KeepRequests: simulatorKeepRequests}
}

// seedDemo makes a demo data directory look like a shop's inbox: approved
// templates, labels, canned replies and, on the first start only, a
// story of customers who wrote in (one conversation closed, one assigned
// to the admin). It runs on every start and adds only what is missing.
func seedDemo(ctx context.Context, st *store.Store, sim *simulator.Simulator, log *slog.Logger) error {
	if err := seedDemoTemplates(ctx, st, sim); err != nil {
		return err
	}
	labels, err := seedDemoLabels(ctx, st)
	if err != nil {
		return err
	}
	if err := seedDemoCanned(ctx, st); err != nil {
		return err
	}
	_, told, err := st.Setting(ctx, demoSeededSetting)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if !told {
		if err := tellDemoStory(ctx, st, sim, labels); err != nil {
			return err
		}
		if err := st.SetSetting(ctx, demoSeededSetting, time.Now().UTC().Format(time.RFC3339)); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	log.Info("demo: shop seeded", "shop", demoShop, "story_told_now", !told, "templates", len(demoTemplates),
		"labels", len(demoLabels), "canned_replies", len(demoCanned))
	return nil
}

// seedDemoTemplates records the templates' texts and lets the simulator
// announce, like Meta, that they were approved, unless the gateway knows.
func seedDemoTemplates(ctx context.Context, st *store.Store, sim *simulator.Simulator) error {
	known, err := st.Templates(ctx)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	for _, t := range demoTemplates {
		i := slices.IndexFunc(known, func(k *store.Template) bool { return k.Name == t.Name && k.Language == t.Language })
		if i < 0 || known[i].Body != t.Body {
			if err := st.SaveTemplateText(ctx, t.Name, t.Language, t.Body); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
		}
		if i < 0 || !known[i].Usable() {
			if err := sim.PostTemplateStatus(ctx, t, simulator.TemplateApproved); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
		}
	}
	return nil
}

// seedDemoLabels creates the missing labels and returns all by name.
func seedDemoLabels(ctx context.Context, st *store.Store) (map[string]int64, error) {
	for _, l := range demoLabels {
		if _, err := st.CreateLabel(ctx, l.Name, l.Color); err != nil && !errors.Is(err, store.ErrExists) {
			return nil, fmt.Errorf("demo: %w", err)
		}
	}
	all, err := st.Labels(ctx)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	byName := map[string]int64{}
	for _, l := range all {
		byName[l.Name] = l.ID
	}
	return byName, nil
}

// seedDemoCanned adds the canned replies whose titles are missing.
func seedDemoCanned(ctx context.Context, st *store.Store) error {
	have, err := st.CannedReplies(ctx)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	for _, c := range demoCanned {
		if slices.ContainsFunc(have, func(h store.CannedReply) bool { return h.Title == c.Title }) {
			continue
		}
		if err := st.SaveCannedReply(ctx, c); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return nil
}

// tellDemoStory lets the scenes' customers write through the real webhook
// path, then labels, closes and assigns their conversations.
func tellDemoStory(ctx context.Context, st *store.Store, sim *simulator.Simulator, labels map[string]int64) error {
	n := 0
	for _, sc := range demoScenes {
		n = max(n, sc.customer+1)
	}
	customers := simulator.Customers(n)
	admin, err := demoAssignee(ctx, st)
	if err != nil {
		return err
	}
	for _, sc := range demoScenes {
		c := customers[sc.customer]
		for _, l := range sc.lines {
			if _, code, err := sim.WriteLine(ctx, c, l); err != nil {
				return fmt.Errorf("demo: %s writes: %w", c.Name, err)
			} else if code != 200 {
				return fmt.Errorf("demo: %s writes: gateway answered %d", c.Name, code)
			}
		}
		key := c.WaID
		if key == "" {
			key = c.UserID
		}
		contact, err := st.ContactByKey(ctx, key)
		if err != nil {
			return fmt.Errorf("demo: %s: %w", c.Name, err)
		}
		convs, err := st.ContactConversations(ctx, contact.ID)
		if err != nil || len(convs) == 0 {
			return fmt.Errorf("demo: no conversation of %s: %w", c.Name, err)
		}
		conv := convs[0].ID
		for _, name := range sc.labels {
			if err := st.SetConversationLabel(ctx, conv, labels[name], true); err != nil {
				return fmt.Errorf("demo: label %s: %w", name, err)
			}
		}
		if sc.closed {
			if err := st.MarkRead(ctx, conv); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
			if err := st.SetConversationStatus(ctx, conv, demoClosed); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
		}
		if admin != nil && sc.assigned {
			if err := st.Assign(ctx, conv, admin.ID); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
		}
		if admin != nil && sc.note != "" {
			if _, err := st.AddNote(ctx, conv, admin.ID, sc.note); err != nil {
				return fmt.Errorf("demo: %w", err)
			}
		}
	}
	return nil
}

// demoAssignee is the account serve --demo creates, or else the first active
// admin; nil if there is none (the story then assigns nothing).
func demoAssignee(ctx context.Context, st *store.Store) (*store.User, error) {
	users, err := st.Users(ctx)
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	var first *store.User
	for _, u := range users {
		if u.Role != store.RoleAdmin || u.Disabled {
			continue
		}
		if u.Email == demoAdminEmail {
			return u, nil
		}
		if first == nil {
			first = u
		}
	}
	return first, nil
}

// seedAndWrite seeds the demo, then lets customers write at random until
// ctx ends. Without a store (or if seeding fails) a burst of random
// messages fills the inbox instead.
func (d *demoRun) seedAndWrite(ctx context.Context) {
	seeded := false
	if d.st != nil {
		if err := seedDemo(ctx, d.st, d.sim, d.log); err != nil {
			d.log.Warn("demo: seeding the shop failed", "err", err)
		} else {
			seeded = true
		}
	}
	if !seeded {
		st := d.sim.RunCustomers(ctx, simulator.Load{Rate: 10, Count: 15, Customers: demoStreamCustomers})
		d.log.Info("demo: first customers wrote in", "messages", st.OK)
	}
	if d.tpl != nil && d.st != nil {
		// The number (and its account) is known now: list the templates.
		if _, err := d.tpl.Sync(ctx, store.ActorSystem); err != nil {
			d.log.Warn("demo: template sync failed", "err", err)
		}
	}
	d.sim.RunCustomers(ctx, simulator.Load{Rate: 0.25, Duration: 365 * 24 * time.Hour, Customers: demoStreamCustomers})
}
