package panel

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// This file interprets stored messages for display. Payloads come from
// customers and from Meta and are hostile input: everything is decoded
// leniently and handed to templates as text, which escapes it.

type msgContext struct {
	From                string `json:"from"`
	ID                  string `json:"id"`
	MessageID           string `json:"message_id"` // our sends quote with Meta's request shape
	Forwarded           bool   `json:"forwarded"`
	FrequentlyForwarded bool   `json:"frequently_forwarded"`
}

// quoted is the wamid a message replies to.
func (c msgContext) quoted() string {
	if c.ID != "" {
		return c.ID
	}
	return c.MessageID
}

type graphError struct {
	Code      cloudapi.ErrorCode `json:"code"`
	Title     string             `json:"title"`
	Message   string             `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

// threadVM turns a page of messages into what the thread shows: reactions
// are attached to the message they react to, quoted messages are looked up.
// fullPricing shows admins all of Meta's pricing and the rate; agents
// see only the category and whether it is charged.
func (s *Server) threadVM(ctx context.Context, convID int64, msgs []*store.Message, more, fullPricing bool) (web.ThreadVM, error) {
	t := web.ThreadVM{ConversationID: convID}
	if more && len(msgs) > 0 {
		t.OlderCursor = msgs[0].ID
	}
	onScreen := map[string]int{} // wamid → index in t.Messages
	var quoted []string
	for _, m := range msgs {
		var c msgContext
		if len(m.Context) > 0 && json.Unmarshal(m.Context, &c) == nil && c.quoted() != "" && m.Type != "reaction" {
			quoted = append(quoted, c.quoted())
		}
	}
	quotes, err := s.store.MessagesByWAMIDs(ctx, convID, quoted)
	if err != nil {
		return t, err
	}
	var outIDs []int64
	for _, m := range msgs {
		if m.Direction == "outbound" {
			outIDs = append(outIDs, m.ID)
		}
	}
	authors, err := s.store.OutboundAuthors(ctx, outIDs)
	if err != nil {
		return t, err
	}
	pricing, err := s.pricingVMs(ctx, convID, msgs, fullPricing)
	if err != nil {
		return t, err
	}
	// Automatic messages say so, with the rule that sent them.
	auto, err := s.store.AutomaticRules(ctx, outIDs)
	if err != nil {
		return t, err
	}
	for id, rule := range auto {
		authors[id] = web.Tf(ctx, "Automatisch: %s", ruleLabel(ctx, rule))
	}
	var bodies map[string]string // template texts, to show what a template said
	for _, m := range msgs {
		if m.Type == "template" && bodies == nil {
			bodies = map[string]string{}
			tpls, err := s.store.Templates(ctx)
			if err != nil {
				return t, err
			}
			for _, tp := range tpls {
				body := tp.Body
				if body == "" { // a template listed from Meta: its components' body
					body = templateVM(tp).Body
				}
				bodies[tp.Name+"|"+tp.Language] = body
			}
		}
	}
	for _, m := range msgs {
		vm := messageVM(ctx, convID, m)
		if m.Type == "template" && vm.Text == "" {
			vm.Text = templateText(m.Payload, bodies)
		}
		vm.Author = authors[m.ID]
		if p, ok := pricing[m.WAMID]; ok && vm.Outbound {
			vm.Pricing = p
		}
		if m.Type == "reaction" {
			var rx struct {
				MessageID string `json:"message_id"`
				Emoji     string `json:"emoji"`
			}
			json.Unmarshal(m.Payload, &rx)
			if i, ok := onScreen[rx.MessageID]; ok {
				target := &t.Messages[i]
				// One reaction per person: a newer one replaces (or removes) the older.
				kept := target.Reactions[:0]
				for _, old := range target.Reactions {
					if old.Outbound != vm.Outbound {
						kept = append(kept, old)
					}
				}
				target.Reactions = kept
				if rx.Emoji != "" {
					target.Reactions = append(target.Reactions, web.ReactionVM{Emoji: rx.Emoji, Outbound: vm.Outbound})
				}
				continue
			}
			vm.Reaction = &web.ReactionVM{Emoji: rx.Emoji, Outbound: vm.Outbound}
			if q, ok := quotesLookup(ctx, s, convID, rx.MessageID); ok {
				vm.Reaction.Target = previewText(q, 80)
			}
		}
		var c msgContext
		if len(m.Context) > 0 && json.Unmarshal(m.Context, &c) == nil {
			switch {
			case c.FrequentlyForwarded:
				vm.Forwarded = "frequently"
			case c.Forwarded:
				vm.Forwarded = "forwarded"
			}
			if c.quoted() != "" && m.Type != "reaction" {
				q, ok := quotes[c.quoted()]
				vm.Quote = &web.QuoteVM{WAMID: c.quoted(), Missing: !ok, Outbound: q.Direction == "outbound", Text: previewText(q.Text, 160)}
				if ok && q.Text == "" {
					vm.Quote.Text = typeName(ctx, q.Type)
				}
			}
		}
		if m.WAMID != "" {
			onScreen[m.WAMID] = len(t.Messages)
		}
		t.Messages = append(t.Messages, vm)
	}
	return t, nil
}

func quotesLookup(ctx context.Context, s *Server, convID int64, wamid string) (string, bool) {
	if wamid == "" {
		return "", false
	}
	q, err := s.store.MessagesByWAMIDs(ctx, convID, []string{wamid})
	if err != nil {
		return "", false
	}
	m, ok := q[wamid]
	return m.Text, ok
}

// messageVM interprets one stored message.
func messageVM(ctx context.Context, convID int64, m *store.Message) web.MessageVM {
	vm := web.MessageVM{ID: m.ID, WAMID: m.WAMID, Outbound: m.Direction == "outbound", Type: m.Type, At: time.Unix(m.TS, 0)}
	if m.Text.Valid {
		vm.Text = m.Text.String
	}
	if vm.Outbound {
		vm.Status = string(m.Status)
		if m.Status == "" && m.WAMID == "" {
			vm.Status = string(store.OutboxQueued)
		}
		if m.Status == store.MessageFailed {
			vm.FailReason = failReason(ctx, m.Errors)
		}
	}
	var p map[string]json.RawMessage
	json.Unmarshal(m.Payload, &p)
	str := func(k string) string {
		var s string
		if json.Unmarshal(p[k], &s) != nil {
			var n json.Number
			if json.Unmarshal(p[k], &n) == nil {
				return n.String()
			}
		}
		return s
	}
	if m.Media != nil {
		vm.Media = &web.MediaVM{Mime: m.Media.MimeType, Filename: m.Media.Filename, Size: m.Media.Size, State: string(m.Media.State)}
		if m.Media.State == store.MediaStored {
			vm.Media.URL = fmt.Sprintf("/conversations/%d/media/%d", convID, m.ID)
		}
		var voice bool
		json.Unmarshal(p["voice"], &voice)
		vm.Media.Voice = voice
	}
	switch m.Type {
	case "text", "image", "video", "audio", "document", "sticker":
		if m.Type != "text" && vm.Media == nil {
			vm.Unsupported = web.T(ctx, "Die Datei fehlt in der Nachricht.")
		}
	case "location":
		var loc struct {
			Lat     json.Number `json:"latitude"`
			Lng     json.Number `json:"longitude"`
			Name    string      `json:"name"`
			Address string      `json:"address"`
		}
		json.Unmarshal(m.Payload, &loc)
		lat, _ := loc.Lat.Float64()
		lng, _ := loc.Lng.Float64()
		vm.Location = &web.LocationVM{Lat: lat, Lng: lng, Name: loc.Name, Address: loc.Address,
			MapURL: fmt.Sprintf("https://www.openstreetmap.org/?mlat=%.6f&mlon=%.6f#map=17/%.6f/%.6f", lat, lng, lat, lng)}
	case "contacts":
		var cards []struct {
			Name struct {
				Formatted string `json:"formatted_name"`
				First     string `json:"first_name"`
				Last      string `json:"last_name"`
			} `json:"name"`
			Org struct {
				Company string `json:"company"`
			} `json:"org"`
			Phones []struct {
				Phone string `json:"phone"`
			} `json:"phones"`
			Emails []struct {
				Email string `json:"email"`
			} `json:"emails"`
		}
		json.Unmarshal(m.Payload, &cards)
		for _, c := range cards {
			cc := web.ContactCardVM{Name: c.Name.Formatted, Org: c.Org.Company}
			if cc.Name == "" {
				cc.Name = strings.TrimSpace(c.Name.First + " " + c.Name.Last)
			}
			for _, ph := range c.Phones {
				cc.Phones = append(cc.Phones, ph.Phone)
			}
			for _, e := range c.Emails {
				cc.Emails = append(cc.Emails, e.Email)
			}
			vm.Contacts = append(vm.Contacts, cc)
		}
	case "interactive":
		var it struct {
			Type   string `json:"type"`
			Button struct {
				ID, Title string
			} `json:"button_reply"`
			List struct {
				ID, Title, Description string
			} `json:"list_reply"`
			NFM struct {
				Name string `json:"name"`
				Body string `json:"body"`
			} `json:"nfm_reply"`
		}
		json.Unmarshal(m.Payload, &it)
		switch it.Type {
		case "button_reply":
			vm.Choice = &web.ChoiceVM{Kind: "button", Title: it.Button.Title, Payload: it.Button.ID}
		case "list_reply":
			vm.Choice = &web.ChoiceVM{Kind: "list", Title: it.List.Title, Description: it.List.Description, Payload: it.List.ID}
		case "nfm_reply":
			vm.Choice = &web.ChoiceVM{Kind: "flow", Title: it.NFM.Body}
			if vm.Choice.Title == "" {
				vm.Choice.Title = it.NFM.Name
			}
		default:
			if !vm.Outbound {
				vm.Unsupported = web.Tf(ctx, "Interaktive Antwort vom Typ „%s“.", it.Type)
			} else if vm.Text == "" {
				vm.Text = web.T(ctx, "Interaktive Nachricht")
			}
		}
	case "button":
		vm.Choice = &web.ChoiceVM{Kind: "template_button", Title: str("text"), Payload: str("payload")}
	case "reaction":
		// handled by threadVM
	case "order":
		var o struct {
			Text  string `json:"text"`
			Items []struct {
				Product  string      `json:"product_retailer_id"`
				Quantity json.Number `json:"quantity"`
				Price    json.Number `json:"item_price"`
				Currency string      `json:"currency"`
			} `json:"product_items"`
		}
		json.Unmarshal(m.Payload, &o)
		ov := &web.OrderVM{Text: o.Text}
		total, currency := 0.0, ""
		for _, it := range o.Items {
			q, _ := it.Quantity.Float64()
			pr, _ := it.Price.Float64()
			total += q * pr
			currency = it.Currency
			ov.Items = append(ov.Items, web.OrderItemVM{Product: it.Product, Quantity: it.Quantity.String(), Price: money(pr, it.Currency)})
		}
		if len(o.Items) > 0 {
			ov.Total = money(total, currency)
		}
		vm.Order = ov
	case "system":
		vm.System = str("body")
		if vm.System == "" {
			vm.System = web.T(ctx, "Die Person hat ihre Nummer geändert.")
		}
	case "template":
		var t struct {
			Name string `json:"name"`
		}
		json.Unmarshal(m.Payload, &t)
		vm.Template = t.Name
	case "revoke":
		vm.System = web.T(ctx, "Die Person hat eine Nachricht gelöscht.")
	case "edit":
		vm.System = web.T(ctx, "Die Person hat eine Nachricht bearbeitet.")
	case "unsupported", "unknown":
		kind := str("type")
		var errs []graphError
		json.Unmarshal(m.Errors, &errs)
		why := web.T(ctx, "WhatsApp liefert diesen Nachrichtentyp nicht über die Cloud API aus.")
		if len(errs) > 0 && errs[0].Code == cloudapi.CodeMessageUnavailable {
			why = web.T(ctx, "Diese Nachricht ist bei Meta gerade nicht verfügbar.")
		}
		if kind != "" {
			vm.Unsupported = web.Tf(ctx, "Nicht darstellbare Nachricht (%s). %s Bitten Sie die Person bei Bedarf, sie anders zu schicken.", kind, why)
		} else {
			vm.Unsupported = web.Tf(ctx, "Nicht darstellbare Nachricht. %s Bitten Sie die Person bei Bedarf, sie anders zu schicken.", why)
		}
	default:
		vm.Unsupported = web.Tf(ctx, "Nachrichtentyp „%s“ kann Pforte noch nicht anzeigen; er ist vollständig gespeichert.", m.Type)
	}
	if len(m.Referral) > 0 {
		var ref struct {
			Headline  string `json:"headline"`
			Body      string `json:"body"`
			SourceURL string `json:"source_url"`
		}
		if json.Unmarshal(m.Referral, &ref) == nil && (ref.Headline != "" || ref.Body != "" || ref.SourceURL != "") {
			vm.Referral = &web.ReferralVM{Headline: ref.Headline, Body: ref.Body, SourceURL: ref.SourceURL}
		}
	}
	decorate(ctx, m, &vm)
	return vm
}

// templateText fills a sent template's recorded text with the parameters
// it was sent with; empty when the text is not known.
func templateText(payload []byte, bodies map[string]string) string {
	var t struct {
		Name     string `json:"name"`
		Language struct {
			Code string `json:"code"`
		} `json:"language"`
		Components []struct {
			Type       string `json:"type"`
			Parameters []struct {
				Name string `json:"parameter_name"`
				Text string `json:"text"`
			} `json:"parameters"`
		} `json:"components"`
	}
	if json.Unmarshal(payload, &t) != nil {
		return ""
	}
	body := bodies[t.Name+"|"+t.Language.Code]
	if body == "" {
		return ""
	}
	values := map[string]string{}
	for _, c := range t.Components {
		if !strings.EqualFold(c.Type, "body") {
			continue
		}
		for i, p := range c.Parameters {
			if p.Name != "" {
				values[p.Name] = p.Text
			} else {
				values[strconv.Itoa(i+1)] = p.Text
			}
		}
	}
	return store.FillTemplate(body, values)
}

func money(v float64, currency string) string {
	s := strconv.FormatFloat(v, 'f', 2, 64)
	if currency != "" {
		s += " " + currency
	}
	return s
}

func typeName(ctx context.Context, t string) string {
	switch t {
	case "image":
		return web.T(ctx, "Bild")
	case "video":
		return web.T(ctx, "Video")
	case "audio":
		return web.T(ctx, "Audio")
	case "document":
		return web.T(ctx, "Dokument")
	case "location":
		return web.T(ctx, "Standort")
	case "template":
		return web.T(ctx, "Vorlage")
	}
	return web.T(ctx, "Nachricht")
}

// failReason explains Meta's error for a failed send in plain words.
func failReason(ctx context.Context, raw []byte) string {
	var errs []graphError
	if json.Unmarshal(raw, &errs) != nil || len(errs) == 0 {
		var one graphError
		if json.Unmarshal(raw, &one) != nil || one.Code == 0 {
			return web.T(ctx, "Meta hat die Nachricht nicht zugestellt (ohne Begründung).")
		}
		errs = []graphError{one}
	}
	e := errs[0]
	if msg, ok := errorWords[e.Code]; ok {
		return web.T(ctx, msg) + fmt.Sprintf(" (%d)", e.Code)
	}
	detail := e.ErrorData.Details
	if detail == "" {
		detail = e.Message
	}
	if detail == "" {
		detail = e.Title
	}
	return web.Tf(ctx, "Meta meldet: %s", detail) + fmt.Sprintf(" (%d)", e.Code)
}

// errorWords are Meta's most common send errors, in words an agent can act on.
var errorWords = map[cloudapi.ErrorCode]string{
	cloudapi.CodeReEngagement:        "Seit der letzten Kundennachricht sind mehr als 24 Stunden vergangen. Jetzt geht nur eine Vorlage.",
	cloudapi.CodeUndeliverable:       "Nicht zustellbar: Die Nummer hat kein WhatsApp, eine sehr alte App-Version, oder die Person hat die neuen Bedingungen nicht akzeptiert.",
	cloudapi.CodeEcosystemEngagement: "Meta hat die Nachricht zurückgehalten, um die Person nicht mit Werbung zu überhäufen. Später erneut versuchen.",
	cloudapi.CodeUnsupportedType:     "Dieser Nachrichtentyp wird nicht unterstützt.",
	cloudapi.CodeMediaDownload:       "Die Datei konnte nicht geladen werden.",
	cloudapi.CodeMediaUpload:         "Die Datei konnte nicht hochgeladen werden (Format oder Größe).",
	cloudapi.CodePairRateLimit:       "Zu viele Nachrichten an diese Person in kurzer Zeit. Bitte etwas warten.",
	cloudapi.CodeThroughputReached:   "Das Sendelimit der Nummer ist erreicht. Pforte versucht es später erneut.",
	cloudapi.CodePaymentIssue:        "Problem mit der Zahlungsmethode im Meta-Konto.",
	cloudapi.CodeAccountLocked:       "Das WhatsApp-Konto ist gesperrt.",
	cloudapi.CodeSomethingWentWrong:  "Unbekannter Fehler bei Meta. Später erneut versuchen.",
	cloudapi.CodeTemplateParamCount:  "Die Zahl der Platzhalter passt nicht zur Vorlage.",
	cloudapi.CodeTemplateNotFound:    "Diese Vorlage gibt es nicht (oder nicht in dieser Sprache).",
	cloudapi.CodeTemplatePaused:      "Die Vorlage ist pausiert (schlechte Bewertungen).",
	cloudapi.CodeTemplateDisabled:    "Die Vorlage ist deaktiviert.",
	cloudapi.CodeNumberNotRegistered: "Die Geschäftsnummer ist nicht registriert.",
	cloudapi.CodeAccessTokenExpired:  "Der Zugangsschlüssel von Meta ist abgelaufen. Bitte in den Einstellungen erneuern.",
	cloudapi.CodePolicyBlocked:       "Das Konto ist wegen Richtlinienverstößen vorübergehend gesperrt.",
	cloudapi.CodeInvalidParameter:    "Meta hat die Anfrage als ungültig abgelehnt.",
}

// pricingVMs is Meta's pricing of the outbound messages on screen, by wamid.
func (s *Server) pricingVMs(ctx context.Context, convID int64, msgs []*store.Message, full bool) (map[string]*web.PricingVM, error) {
	var wamids []string
	for _, m := range msgs {
		if m.Direction == "outbound" && m.WAMID != "" {
			wamids = append(wamids, m.WAMID)
		}
	}
	out := map[string]*web.PricingVM{}
	if len(wamids) == 0 {
		return out, nil
	}
	prices, err := s.store.PricingByWAMID(ctx, wamids)
	if err != nil || len(prices) == 0 {
		return out, err
	}
	var rates []store.Rate
	var recipient string
	if full {
		if rates, err = s.store.Rates(ctx); err != nil {
			return nil, err
		}
		cs, err := s.store.ConversationByID(ctx, convID)
		if err != nil {
			return nil, err
		}
		recipient = cs.Contact.WaID
	}
	for wamid, p := range prices {
		vm := &web.PricingVM{Category: p.Category, Type: p.Type, Model: p.PricingModel, Billable: p.Billable, Full: full}
		if full {
			if r, ok := store.RateOf(rates, recipient, p.Category); ok {
				vm.Rate, vm.Country, vm.RateFrom = store.FormatMicros(r.RateMicros)+" "+r.Currency, r.CountryCode, r.ValidFrom
			}
		}
		out[wamid] = vm
	}
	return out, nil
}
