package campaign

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
)

// FieldError is bad input: the field it concerns and why, in German (the
// panel shows it) and English (the API answers with it).
type FieldError struct {
	Field string
	DE    string
	EN    string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.EN }

func bad(field, de, en string) error { return &FieldError{Field: field, DE: de, EN: en} }

// Input is a new campaign as the API and the panel describe it.
type Input struct {
	Name          string
	PhoneNumberID string
	Purpose       string
	Template      string
	Language      string
	Parameters    []string // literal text, {{name}}, or {{1}}..{{n}} from RecipientParams
	// UnsubscribeButton is the index of the template's quick-reply button
	// that unsubscribes (nil: the template has none; STOP still works).
	UnsubscribeButton *int
	Audience          store.AudienceFilter
	RecipientParams   map[string][]string
	Start             string // "now" (or empty) or an RFC 3339 time
}

// Check validates an input without storing anything: the template (known,
// MARKETING, approved), the number, the start. It returns the start time.
func (e *Engine) Check(ctx context.Context, in *Input) (time.Time, error) {
	now := e.cfg.Now()
	in.Name = strings.TrimSpace(in.Name)
	if in.Name == "" || utf8.RuneCountInString(in.Name) > 200 {
		return now, bad("name", "Bitte einen Namen (1 bis 200 Zeichen) angeben.", "A name of 1 to 200 characters is required.")
	}
	if in.Purpose == "" {
		in.Purpose = store.PurposeMarketing
	}
	if in.Purpose != store.PurposeMarketing {
		return now, bad("purpose", "Kampagnen gibt es nur für den Zweck „marketing“.", "Campaigns support the purpose \"marketing\" only.")
	}
	if err := e.sender.CheckNumber(ctx, in.PhoneNumberID); err != nil {
		if errors.Is(err, outbox.ErrUnknownNumber) {
			return now, bad("phone_number_id", "Diese Rufnummer gehört nicht zu Ihren Geschäftsnummern.", "The phone number id is none of the company's business numbers.")
		}
		return now, err
	}
	if in.Language == "" {
		in.Language = "de"
	}
	t, err := e.store.TemplateState(ctx, in.Template, in.Language)
	if errors.Is(err, store.ErrNotFound) {
		return now, bad("template.name", "Diese Vorlage ist in dieser Sprache nicht bekannt.", "No template of this name is known in this language.")
	}
	if err != nil {
		return now, err
	}
	if t.Category != store.CategoryMarketing {
		return now, bad("template.name", fmt.Sprintf("Die Vorlage hat die Kategorie %q; Kampagnen brauchen eine Marketing-Vorlage.", t.Category),
			fmt.Sprintf("The template's category is %q; campaigns need a MARKETING template.", t.Category))
	}
	if !t.Usable() {
		return now, bad("template.name", fmt.Sprintf("Die Vorlage ist nicht freigegeben (Status bei Meta: %s).", t.Status),
			fmt.Sprintf("The template is not approved (Meta's status: %s).", t.Status))
	}
	if len(in.Parameters) > 100 {
		return now, bad("template.parameters", "Höchstens 100 Parameter.", "At most 100 parameters.")
	}
	if in.UnsubscribeButton != nil && (*in.UnsubscribeButton < 0 || *in.UnsubscribeButton > 9) {
		return now, bad("unsubscribe_button", "Der Index der Abmelde-Schaltfläche liegt zwischen 0 und 9.", "The unsubscribe button index is 0 to 9.")
	}
	start := now
	switch strings.TrimSpace(in.Start) {
	case "", "now":
	default:
		s, err := time.Parse(time.RFC3339, strings.TrimSpace(in.Start))
		if err != nil {
			return now, bad("start", "Startzeit: „now“ oder eine Zeit wie 2026-12-07T10:00:00+01:00.", "start must be \"now\" or an RFC 3339 time.")
		}
		if s.Before(now.Add(-time.Minute)) {
			return now, bad("start", "Die Startzeit liegt in der Vergangenheit.", "The start time is in the past.")
		}
		start = s
	}
	if err := validAudience(in.Audience); err != nil {
		return now, err
	}
	if _, _, keys := needs(in.Parameters); len(keys) > 0 {
		defs, err := e.store.ContactFields(ctx)
		if err != nil {
			return now, err
		}
		for _, k := range keys {
			if !slices.ContainsFunc(defs, func(d store.ContactField) bool { return d.Key == k }) {
				return now, bad("template.parameters", fmt.Sprintf("Der Parameter {{field:%s}} nennt ein Kontaktfeld, das es nicht gibt.", k),
					fmt.Sprintf("The parameter {{field:%s}} names no contact field.", k))
			}
		}
	}
	return start, nil
}

func validAudience(a store.AudienceFilter) error {
	if len(a.Contacts) == 0 && len(a.Labels) == 0 && len(a.ContactLabels) == 0 && len(a.Fields) == 0 && a.PhoneNumberID == "" {
		return bad("audience", "Bitte Empfänger, Labels, Kontakt-Labels, Kontaktfelder oder eine Rufnummer als Zielgruppe wählen.",
			"audience needs contacts, labels, contact_labels, fields or a phone_number_id.")
	}
	if a.LastContactAfter > 0 && a.LastContactBefore > 0 && a.LastContactBefore <= a.LastContactAfter {
		return bad("audience.last_contact_before", "Der Zeitraum des letzten Kontakts ist leer.", "last_contact_before must be after last_contact_after.")
	}
	return nil
}

// Create checks and stores a campaign with its audience. Nothing is sent
// before its start; nothing is stored when the input is bad or nobody in
// the audience has valid consent.
func (e *Engine) Create(ctx context.Context, in Input, actor store.Actor) (*store.Campaign, error) {
	start, err := e.Check(ctx, &in)
	if err != nil {
		return nil, err
	}
	cols, name, fields := needs(in.Parameters)
	ub := -1
	if in.UnsubscribeButton != nil {
		ub = *in.UnsubscribeButton
	}
	c, err := e.store.CreateCampaign(ctx, store.NewCampaign{Campaign: store.Campaign{Name: in.Name, PhoneNumberID: in.PhoneNumberID,
		Purpose: in.Purpose, TemplateName: in.Template, TemplateLanguage: in.Language, Parameters: in.Parameters, UnsubscribeButton: ub,
		Audience: in.Audience, StartAt: start.Unix(), CreatedBy: actor},
		RecipientParams: normalizeKeys(in.RecipientParams), NeedsColumns: cols, NeedsName: name, NeedsFields: fields}, e.cfg.Now())
	if errors.Is(err, store.ErrEmptyAudience) {
		return nil, bad("audience", "Niemand in dieser Zielgruppe hat gültig in Werbung eingewilligt (oder allen fehlen Parameter); es wurde nichts gespeichert.",
			"Nobody in this audience has valid consent (or all lack parameters); nothing was stored.")
	}
	if err := audienceError(err); err != nil {
		return nil, err
	}
	e.Kick()
	return c, nil
}

// audienceError turns the store's refusal of an audience into German and
// English sentences naming the field; nil stays nil.
func audienceError(err error) error {
	var fe *store.FieldError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		key := strings.TrimPrefix(fe.Field, "audience.fields.")
		switch fe.Reason {
		case store.ReasonUnknownField:
			return bad(fe.Field, fmt.Sprintf("Das Kontaktfeld „%s“ gibt es nicht.", key), fmt.Sprintf("There is no contact field %q.", key))
		default:
			return bad(fe.Field, fmt.Sprintf("Der Wert für das Kontaktfeld „%s“ passt nicht zum Feld (%s).", key, fe.Reason),
				fmt.Sprintf("The value for contact field %q is not valid (%s).", key, fe.Reason))
		}
	case errors.Is(err, store.ErrInvalid):
		return bad("audience", "Die Zielgruppe ist ungültig: "+err.Error(), err.Error())
	}
	return err
}

func normalizeKeys(m map[string][]string) map[string][]string {
	if m == nil {
		return nil
	}
	out := make(map[string][]string, len(m))
	for k, v := range m {
		d := digits(k)
		if d == "" {
			d = strings.TrimSpace(k)
		}
		out[d] = v
	}
	return out
}

func digits(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return ""
		}
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// ParseRecipientCSV reads per-recipient parameters: the first column is
// the phone number (or user id), the others are {{1}}, {{2}}, ... A
// header row whose first cell has no digit is skipped.
func ParseRecipientCSV(r io.Reader) (map[string][]string, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	out := map[string][]string{}
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, bad("csv", fmt.Sprintf("Die CSV-Datei ist in Zeile %d nicht lesbar.", line), fmt.Sprintf("CSV line %d: %v", line, err))
		}
		if len(rec) == 0 || strings.TrimSpace(rec[0]) == "" {
			continue
		}
		k := digits(rec[0])
		if line == 1 && k == "" {
			continue // header
		}
		if k == "" {
			k = strings.TrimSpace(rec[0])
		}
		if len(out) >= 1_000_000 {
			return nil, bad("csv", "Höchstens 1 000 000 Zeilen.", "At most 1 000 000 rows.")
		}
		out[k] = rec[1:]
	}
	return out, nil
}

// UnknownNumbers lists CSV keys that are no known contact, so the panel can
// refuse the upload with a clear message rather than ignore them.
func (e *Engine) UnknownNumbers(ctx context.Context, params map[string][]string) ([]string, error) {
	var out []string
	for k := range params {
		if _, err := e.store.ContactByKey(ctx, k); errors.Is(err, store.ErrNotFound) {
			out = append(out, k)
		} else if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Pause stops a running or scheduled campaign until Resume.
func (e *Engine) Pause(ctx context.Context, id int64, actor store.Actor) error {
	return e.transition(ctx, id, []store.CampaignStatus{store.CampaignRunning, store.CampaignScheduled}, store.CampaignPaused, PauseManual, actor, store.AuditCampaignPause)
}

// Resume continues a paused campaign (its automatic checks run again).
func (e *Engine) Resume(ctx context.Context, id int64, actor store.Actor) error {
	c, err := e.store.Campaign(ctx, id)
	if err != nil {
		return err
	}
	to := store.CampaignRunning
	if c.StartedAt == 0 && c.StartAt > e.cfg.Now().Unix() {
		to = store.CampaignScheduled
	}
	if err := e.transition(ctx, id, []store.CampaignStatus{store.CampaignPaused}, to, "", actor, store.AuditCampaignResume); err != nil {
		return err
	}
	if err := e.store.ClearAlarm(ctx, alarmKey(id)); err != nil {
		return err
	}
	e.Kick()
	return nil
}

// Cancel ends a campaign: recipients not yet queued are never sent to.
func (e *Engine) Cancel(ctx context.Context, id int64, actor store.Actor) error {
	err := e.transition(ctx, id, []store.CampaignStatus{store.CampaignRunning, store.CampaignScheduled, store.CampaignPaused}, store.CampaignCancelled, "", actor, store.AuditCampaignCancel)
	if err == nil {
		err = e.store.ClearAlarm(ctx, alarmKey(id))
	}
	return err
}

func (e *Engine) transition(ctx context.Context, id int64, from []store.CampaignStatus, to store.CampaignStatus, reason string, actor store.Actor, a store.AuditAction) error {
	return e.store.SetCampaignStatus(ctx, id, from, to, reason, actor, a, e.cfg.Now())
}

// Preview is what the panel and the API show before a campaign starts.
type Preview struct {
	Eligible   int
	Excluded   map[string]int
	Skipped    int
	Unknown    int
	Messages   []PreviewMessage // the first recipients' rendered messages
	Cost       float64          // expected, in Rates.Currency
	Currency   string
	QuietUntil time.Time // zero when it could start now
}

// PreviewMessage is one recipient's message as it would be sent.
type PreviewMessage struct {
	Recipient string
	Text      string // the recorded template text with the values filled in, or the parameters
	Body      []byte // Meta's request body
}

// Preview counts the audience and renders the first n messages; it stores nothing.
func (e *Engine) Preview(ctx context.Context, in Input, n int) (*Preview, error) {
	start, err := e.Check(ctx, &in)
	if err != nil {
		return nil, err
	}
	tpl, _ := e.store.TemplateState(ctx, in.Template, in.Language)
	cols, needName, _ := needs(in.Parameters)
	params := normalizeKeys(in.RecipientParams)
	c := &store.Campaign{Name: in.Name, TemplateName: in.Template, TemplateLanguage: in.Language, Parameters: in.Parameters, UnsubscribeButton: -1}
	p := &Preview{Excluded: map[string]int{}, Currency: e.cfg.Rates.Currency}
	unknown, err := e.store.Audience(ctx, in.Audience, func(m store.AudienceMember) error {
		if m.Reason != "" {
			p.Excluded[m.Reason]++
			return nil
		}
		key := m.WaID
		if key == "" {
			key = m.UserID
		}
		t := store.CampaignTarget{WaID: m.WaID, UserID: m.UserID, Name: m.Name, Params: params[key], Fields: m.Fields}
		body, ok := Render(c, t)
		if !ok || len(t.Params) < cols || (needName && strings.TrimSpace(m.Name) == "") {
			p.Skipped++
			return nil
		}
		p.Eligible++
		p.Cost += e.cfg.Rates.Rate(store.CallingCode(m.WaID), "marketing")
		if len(p.Messages) < n {
			text := strings.Join(renderedParams(c, t), " · ")
			if tpl != nil && tpl.Body != "" {
				vals := map[string]string{}
				for i, v := range renderedParams(c, t) {
					vals[strconv.Itoa(i+1)] = v
				}
				text = store.FillTemplate(tpl.Body, vals)
			}
			p.Messages = append(p.Messages, PreviewMessage{Recipient: key, Text: text, Body: body})
		}
		return nil
	})
	if err := audienceError(err); err != nil {
		return nil, err
	}
	p.Unknown = unknown
	if quiet, until := e.Quiet(start); quiet {
		p.QuietUntil = until
	}
	return p, nil
}

func renderedParams(c *store.Campaign, t store.CampaignTarget) []string {
	var out []string
	for _, p := range c.Parameters {
		v, _ := fill(p, t)
		out = append(out, v)
	}
	return out
}

// Status is a campaign with its counts and cost.
type Status struct {
	Campaign *store.Campaign
	Counts   *store.CampaignCounts
	Cost     float64
	Currency string
}

// Get returns a campaign's status, counts and cost so far (billable sends
// as Meta's pricing objects report them, priced by the rate table).
func (e *Engine) Get(ctx context.Context, id int64) (*Status, error) {
	c, err := e.store.Campaign(ctx, id)
	if err != nil {
		return nil, err
	}
	counts, err := e.store.CampaignCounts(ctx, id)
	if err != nil {
		return nil, err
	}
	st := &Status{Campaign: c, Counts: counts, Currency: e.cfg.Rates.Currency}
	if counts.Billable > 0 {
		err = e.store.CampaignResults(ctx, id, func(r store.CampaignResult) error {
			if r.Billable {
				st.Cost += e.cfg.Rates.Rate(r.Country, r.PricingCategory)
			}
			return nil
		})
	}
	return st, err
}

// WriteResultsCSV writes one line per recipient: number (empty once
// erased), status, reason (in German for Meta's error codes), opted out,
// billable, pricing category, cost.
func (e *Engine) WriteResultsCSV(ctx context.Context, id int64, w io.Writer) error {
	if _, err := e.store.Campaign(ctx, id); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.Write([]string{"recipient", "status", "reason", "reason_de", "opted_out", "billable", "pricing_category", "cost", "currency"})
	err := e.store.CampaignResults(ctx, id, func(r store.CampaignResult) error {
		cost := 0.0
		if r.Billable {
			cost = e.cfg.Rates.Rate(r.Country, r.PricingCategory)
		}
		return cw.Write([]string{r.Recipient, r.Status, r.Reason, ReasonGerman(r.Reason), strconv.FormatBool(r.OptedOut), strconv.FormatBool(r.Billable),
			r.PricingCategory, strconv.FormatFloat(cost, 'f', 4, 64), e.cfg.Rates.Currency})
	})
	if err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// ReasonGerman explains a recipient's reason (Pforte's or Meta's error code).
func ReasonGerman(reason string) string {
	switch reason {
	case "":
		return ""
	case store.ReasonNoConsent:
		return "keine Einwilligung in Werbung"
	case store.ReasonWithdrawn:
		return "Einwilligung widerrufen"
	case store.ReasonRestricted:
		return "Verarbeitung eingeschränkt (Löschung wartet auf Aufbewahrungspflicht)"
	case store.ReasonMissingParameters:
		return "Parameter fehlen"
	case store.ReasonCancelled:
		return "Kampagne abgebrochen"
	case "131049":
		return "Meta hat die Nachricht zurückgehalten, um die Nutzerbindung zu schützen (Marketing-Obergrenze pro Person)"
	case "131026":
		return "nicht zustellbar (kein WhatsApp-Konto, veraltete App oder Nutzungsbedingungen nicht akzeptiert)"
	case "130472":
		return "nicht gesendet: die Person gehört zu Metas Marketing-Experimentgruppe"
	case "131050":
		return "die Person hat Marketing-Nachrichten bei WhatsApp abbestellt"
	case "131047":
		return "mehr als 24 Stunden seit der letzten Nachricht der Person"
	case "132015", "132016":
		return "Vorlage pausiert oder deaktiviert"
	}
	return "Fehler " + reason
}
