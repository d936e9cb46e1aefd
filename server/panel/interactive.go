package panel

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// The kinds of message the composer's "more" picker sends.
const (
	iaButtons         = "button"
	iaList            = "list"
	iaCTA             = "cta_url"
	iaLocationRequest = "location_request"
	iaLocation        = "location"
	iaContact         = "contacts"
	iaReaction        = "reaction"
)

var rowIDChars = regexp.MustCompile(`[^a-z0-9_]+`)

// sendInteractive sends what WhatsApp offers beyond text and files: reply
// buttons, a list, a link button, a location request, a location, a
// contact card or a reaction. Meta's limits are checked before anything
// is queued; a broken rule is named in German and nothing is sent.
func (s *Server) sendInteractive(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := viewerOf(r)
	cs, ok := s.sendableConversation(w, r)
	if !ok {
		return
	}
	id := cs.ID
	if !store.WindowOpen(cs.LastInboundAt, s.now()) {
		s.renderConversation(w, r, http.StatusConflict, web.T(ctx, windowClosedNoSend))
		return
	}
	kind := r.PostFormValue("kind")
	if cs.Contact.GroupID != "" && kind != iaLocation && kind != iaContact {
		s.renderConversation(w, r, http.StatusUnprocessableEntity, web.T(ctx, "In Gruppen erlaubt WhatsApp keine Knöpfe, Listen, Reaktionen oder Standortanfragen."))
		return
	}
	to := cloudapi.Recipient{WaID: cs.Contact.WaID, UserID: cs.Contact.UserID, GroupID: cs.Contact.GroupID}
	out, err := buildInteractive(to, kind, r)
	if err != nil {
		s.renderConversation(w, r, http.StatusUnprocessableEntity, limitText(ctx, err))
		return
	}
	msg := Message{ConversationID: id, PhoneNumberID: cs.PhoneNumberID, ToWaID: cs.Contact.WaID, ToUserID: cs.Contact.UserID,
		ToGroupID: cs.Contact.GroupID, AgentID: v.user.ID, Type: out.Type, Built: out}
	if kind != iaReaction {
		if c := strings.TrimSpace(r.PostFormValue("context")); c != "" && len(c) <= 200 {
			msg.ReplyTo = c
		}
	}
	if err := s.panel.cfg.Sender.PanelSend(ctx, msg); err != nil {
		s.sendFailed(w, r, err)
		return
	}
	s.Publish(Event{Kind: "message", Conversation: id})
	backToConversation(w, r, id)
}

// errUnknownKind is a picker value the composer does not offer.
var errUnknownKind = errors.New("panel: unknown interactive kind")

func buildInteractive(to cloudapi.Recipient, kind string, r *http.Request) (*cloudapi.Outbound, error) {
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	frame := cloudapi.Frame{Header: f("header"), Body: f("body"), Footer: f("footer")}
	switch kind {
	case iaButtons:
		var bs []cloudapi.OutReply
		for _, k := range []string{"b1", "b2", "b3"} {
			if t := f(k); t != "" {
				bs = append(bs, cloudapi.OutReply{ID: choiceID(t, len(bs)+1), Title: t})
			}
		}
		return cloudapi.ReplyButtons(to, frame, bs)
	case iaList:
		return cloudapi.ListMessage(to, frame, f("list_button"), parseSections(r.PostFormValue("list_rows")))
	case iaCTA:
		return cloudapi.CTAURL(to, frame, f("cta_text"), f("cta_url"))
	case iaLocationRequest:
		return cloudapi.LocationRequest(to, frame.Body)
	case iaLocation:
		lat, err1 := strconv.ParseFloat(strings.ReplaceAll(f("lat"), ",", "."), 64)
		lng, err2 := strconv.ParseFloat(strings.ReplaceAll(f("lng"), ",", "."), 64)
		if err1 != nil || err2 != nil {
			return nil, &cloudapi.LimitError{Field: "latitude", Rule: cloudapi.LimitInvalid}
		}
		return cloudapi.LocationMessage(to, lat, lng, f("place_name"), f("place_address"))
	case iaContact:
		return cloudapi.ContactsMessage(to, f("card_name"), f("card_phone"))
	case iaReaction:
		return cloudapi.ReactionMessage(to, f("context"), f("emoji"))
	}
	return nil, errUnknownKind
}

// choiceID makes a readable, stable id for a button or row from its title
// (what a bot or the fan-out receiver sees in the customer's tap).
func choiceID(title string, n int) string {
	id := strings.Trim(rowIDChars.ReplaceAllString(strings.ToLower(title), "_"), "_")
	if len(id) > 40 {
		id = id[:40]
	}
	return strconv.Itoa(n) + "_" + id
}

// parseSections reads the list editor: one row per line, "Title | Description";
// a line starting with "##" begins a new section with that title.
func parseSections(text string) []cloudapi.OutSection {
	var out []cloudapi.OutSection
	n := 0
	for _, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if t, ok := strings.CutPrefix(line, "##"); ok {
			out = append(out, cloudapi.OutSection{Title: strings.TrimSpace(t)})
			continue
		}
		if len(out) == 0 {
			out = append(out, cloudapi.OutSection{})
		}
		title, desc, _ := strings.Cut(line, "|")
		n++
		sec := &out[len(out)-1]
		sec.Rows = append(sec.Rows, cloudapi.OutRow{ID: choiceID(strings.TrimSpace(title), n), Title: strings.TrimSpace(title), Description: strings.TrimSpace(desc)})
	}
	return out
}

// limitText words a broken rule of Meta's for the agent.
func limitText(ctx context.Context, err error) string {
	var le *cloudapi.LimitError
	if !errors.As(err, &le) {
		return web.T(ctx, "Bitte wählen Sie, was gesendet werden soll.")
	}
	what := limitField(ctx, le.Field)
	switch le.Rule {
	case cloudapi.LimitTooLong:
		return web.Tf(ctx, "%s: höchstens %d Zeichen (Vorgabe von WhatsApp).", what, le.Max)
	case cloudapi.LimitTooMany:
		return web.Tf(ctx, "%s: höchstens %d (Vorgabe von WhatsApp).", what, le.Max)
	case cloudapi.LimitRequired:
		return web.Tf(ctx, "%s fehlt.", what)
	case cloudapi.LimitUnique:
		return web.Tf(ctx, "%s: Jeder Eintrag muss anders lauten.", what)
	case cloudapi.LimitNotEmpty:
		return web.Tf(ctx, "%s: Bitte mindestens einen Eintrag angeben.", what)
	}
	return web.Tf(ctx, "%s ist ungültig.", what)
}

// limitField names the part of the message a rule is about.
func limitField(ctx context.Context, field string) string {
	last := field
	if i := strings.LastIndex(field, "."); i >= 0 {
		last = field[i+1:]
	}
	num := func(prefix string) int {
		i := strings.Index(field, prefix+"[")
		if i < 0 {
			return 0
		}
		n, _ := strconv.Atoi(strings.SplitN(field[i+len(prefix)+1:], "]", 2)[0])
		return n + 1
	}
	switch {
	case strings.HasPrefix(field, "buttons["):
		return web.Tf(ctx, "Knopf %d", num("buttons"))
	case field == "buttons":
		return web.T(ctx, "Knöpfe")
	case strings.Contains(field, "rows[") && last == "description":
		return web.Tf(ctx, "Beschreibung in Zeile %d", num("rows"))
	case strings.Contains(field, "rows["):
		return web.Tf(ctx, "Zeile %d", num("rows"))
	case strings.HasPrefix(field, "sections[") && last == "rows":
		return web.Tf(ctx, "Abschnitt %d", num("sections"))
	case strings.HasPrefix(field, "sections["):
		return web.Tf(ctx, "Titel von Abschnitt %d", num("sections"))
	}
	switch field {
	case "body":
		return web.T(ctx, "Text")
	case "header":
		return web.T(ctx, "Kopfzeile")
	case "footer":
		return web.T(ctx, "Fußzeile")
	case "button":
		return web.T(ctx, "Beschriftung des Listenknopfs")
	case "sections":
		return web.T(ctx, "Abschnitte")
	case "rows":
		return web.T(ctx, "Zeilen")
	case "display_text":
		return web.T(ctx, "Knopftext")
	case "url":
		return web.T(ctx, "Link")
	case "latitude", "longitude":
		return web.T(ctx, "Koordinaten")
	case "name":
		return web.T(ctx, "Name")
	case "phone":
		return web.T(ctx, "Telefonnummer")
	case "emoji":
		return web.T(ctx, "Emoji")
	case "message_id":
		return web.T(ctx, "Nachricht, auf die reagiert wird")
	}
	return field
}
