package panel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// This file holds the panel's data protection pieces that sit in other
// pages: restricted contacts, consent records on the contact page, stop
// words on the privacy page, secure links in a conversation and the
// retention shown at first run.

const restrictedNoSend = "Die Verarbeitung dieser Person ist eingeschränkt (Art. 18 DSGVO): Es kann nichts gesendet werden."

// seesRestricted says whether the viewer may see restricted contacts
// (Art. 18): admins and auditors do, with a badge; agents never.
func (v *viewer) seesRestricted() bool {
	return v != nil && (v.user.Role == store.RoleAdmin || v.user.Role == store.RoleAuditor)
}

// scope narrows the store's lists to what the viewer may see.
func (v *viewer) scope() []store.ListOption {
	if v.seesRestricted() {
		return nil
	}
	return []store.ListOption{store.WithoutRestricted()}
}

// hideRestricted answers 404 to an agent on any route of a restricted
// contact or of one of its conversations, before the handler runs. It
// works from the route pattern, so routes added later are covered too.
func (s *Server) hideRestricted(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := viewerOf(r)
		if v == nil || v.seesRestricted() {
			next.ServeHTTP(w, r)
			return
		}
		id, ok := pathID(r, "id")
		var restricted bool
		var err error
		switch {
		case !ok:
		case strings.Contains(r.Pattern, " /conversations/{id}"):
			restricted, err = s.store.ConversationRestricted(r.Context(), id)
		case strings.Contains(r.Pattern, " /contacts/{id}"):
			restricted, err = s.store.Restricted(r.Context(), id)
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) { // a missing id is the handler's 404
			s.storeFail(w, r, err)
			return
		}
		if restricted {
			// The same answer as for an id that does not exist.
			s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// actorNames maps account ids to people's names.
func (s *Server) actorNames(ctx context.Context) (map[int64]string, error) {
	users, err := s.store.Users(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[int64]string, len(users))
	for _, u := range users {
		m[u.ID] = u.DisplayName()
	}
	return m, nil
}

// actorLabel names who did something, for the panel.
func actorLabel(ctx context.Context, actor store.Actor, names map[int64]string) string {
	if id, ok := actor.UserID(); ok {
		if n, ok := names[id]; ok {
			return n
		}
	}
	if prefix, ok := actor.KeyPrefix(); ok {
		return web.Tf(ctx, "API-Schlüssel %s", prefix)
	}
	switch actor {
	case store.ActorCustomer:
		return web.T(ctx, "die Person selbst")
	case "":
		return "–"
	}
	return actor.String()
}

// contactConsent records an opt-in or opt-out from the contact page. The
// store audits it, as for POST /api/v1/contacts/{id}/consent.
func (s *Server) contactConsent(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	f := web.ConsentForm{Purpose: r.PostFormValue("purpose"), Action: r.PostFormValue("action"), Source: r.PostFormValue("source"),
		Evidence: strings.TrimSpace(r.PostFormValue("evidence"))}
	refuse := func(msg string) {
		f.Error = msg
		s.renderContact(w, r, id, http.StatusUnprocessableEntity, f)
	}
	action := store.ConsentAction(f.Action)
	switch {
	case f.Purpose != store.PurposeService && f.Purpose != store.PurposeMarketing:
		refuse(web.T(ctx, "Bitte den Zweck wählen: Werbung oder Kundenservice."))
		return
	case !action.Valid():
		refuse(web.T(ctx, "Bitte wählen, ob die Einwilligung erteilt oder widerrufen wurde."))
		return
	case !slices.Contains(web.ConsentSources, f.Source):
		refuse(web.T(ctx, "Bitte die Quelle wählen."))
		return
	case len(f.Evidence) > 4096 || !utf8.ValidString(f.Evidence):
		refuse(web.T(ctx, "Der Nachweis ist zu lang (höchstens 4096 Zeichen)."))
		return
	case action == store.OptIn && f.Evidence == "":
		// Art. 7(1): the company must be able to show the consent.
		refuse(web.T(ctx, "Für eine Einwilligung bitte den Nachweis angeben (Art. 7 Abs. 1 DSGVO), z. B. Formular-Nr. oder Datum des Gesprächs."))
		return
	}
	_, err := s.store.RecordConsent(ctx, store.ConsentRecord{ContactID: id, Purpose: f.Purpose, Action: action, Source: f.Source,
		Evidence: f.Evidence, Actor: v.actor(), TS: s.now().Unix()})
	if errors.Is(err, store.ErrInvalid) {
		refuse(web.T(ctx, "Ungültige Eingabe."))
		return
	}
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(ctx, "Einwilligung gespeichert."))
	redirect(w, r, fmt.Sprintf("/contacts/%d", id))
}

// Limits of the stop-word form: the rule's (outbox.MaxStopWords,
// outbox.MaxStopWordLen) and the confirmation's.
const (
	maxStopWords   = outbox.MaxStopWords
	maxStopWordLen = outbox.MaxStopWordLen
	maxStopReply   = 1000
)

// parseStopWordsForm reads the words, one per line (commas also split,
// since the list is stored comma-separated), and returns them normalised
// and without duplicates (outbox.NormalizeStopWords), as the store keeps
// them; or a reason to show the admin.
func parseStopWordsForm(ctx context.Context, text string) ([]string, string) {
	var words []string
	for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
		raw := strings.TrimSpace(line)
		if raw == "" {
			continue
		}
		if !utf8.ValidString(raw) {
			return nil, web.T(ctx, "Die Stoppwörter enthalten ungültige Zeichen.")
		}
		w := outbox.NormalizeStopWord(raw)
		if len(w) > maxStopWordLen {
			return nil, web.Tf(ctx, "„%s…“ ist zu lang: höchstens %d Zeichen je Stoppwort.", firstRunes(raw, 20), maxStopWordLen)
		}
		if strings.IndexFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) < 0 {
			return nil, web.Tf(ctx, "„%s“ enthält keinen Buchstaben und keine Ziffer.", raw)
		}
		words = append(words, w)
	}
	switch {
	case len(words) == 0:
		return nil, web.T(ctx, "Mindestens ein Stoppwort ist nötig, sonst könnten sich Kunden nicht abmelden.")
	case len(words) > maxStopWords:
		return nil, web.Tf(ctx, "Höchstens %d Stoppwörter.", maxStopWords)
	}
	words, err := outbox.NormalizeStopWords(words)
	if err != nil { // the checks above refuse all it refuses
		return nil, web.T(ctx, "Die Stoppwörter enthalten ungültige Zeichen.")
	}
	return words, ""
}

func firstRunes(s string, n int) string {
	for i := range s {
		if n == 0 {
			return s[:i]
		}
		n--
	}
	return s
}

// privacyStopWords saves the stop words and the confirmation text; bad
// input changes neither and shows the form again with what was typed.
func (s *Server) privacyStopWords(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	in := web.StopWordsVM{Words: r.PostFormValue("words"), Reply: strings.TrimSpace(r.PostFormValue("reply"))}
	words, problem := parseStopWordsForm(ctx, in.Words)
	if problem == "" && (utf8.RuneCountInString(in.Reply) > maxStopReply || !utf8.ValidString(in.Reply)) {
		problem = web.Tf(ctx, "Die Bestätigung ist zu lang: höchstens %d Zeichen.", maxStopReply)
	}
	if problem != "" {
		in.Error = problem
		s.renderPrivacy(w, r, http.StatusUnprocessableEntity, &in)
		return
	}
	now := s.now()
	if err := s.store.SetStopWords(ctx, words, v.actor(), now); err != nil {
		s.storeFail(w, r, err)
		return
	}
	cur, err := s.store.StopReply(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	want := in.Reply
	if want == "" {
		want = store.DefaultStopReply
	}
	if cur != want { // audited only when it changes
		if err := s.store.SetStopReply(ctx, in.Reply, v.actor(), now); err != nil {
			s.storeFail(w, r, err)
			return
		}
	}
	setFlash(w, web.T(ctx, "Stoppwörter gespeichert."))
	redirect(w, r, "/privacy#stop-words")
}

// stopWordsVM fills the stop-word form from the settings.
func (s *Server) stopWordsVM(ctx context.Context) (web.StopWordsVM, error) {
	vm := web.StopWordsVM{DefaultReply: store.DefaultStopReply}
	words, err := s.store.StopWords(ctx)
	if err != nil {
		return vm, err
	}
	if words == nil {
		words = outbox.DefaultStopWords
	}
	vm.Words = strings.Join(words, "\n")
	reply, err := s.store.StopReply(ctx)
	if err != nil {
		return vm, err
	}
	if reply != store.DefaultStopReply {
		vm.Reply = reply
	}
	return vm, nil
}

// setupRetention lists the retention periods this install applies now,
// read from the store, for the first-run page.
func (s *Server) setupRetention(ctx context.Context) []web.RetentionVM {
	ps, err := s.store.RetentionPolicies(ctx)
	if err != nil {
		s.log.Warn("setup: retention policies", "err", err)
		return nil
	}
	var out []web.RetentionVM
	for _, p := range ps {
		if p.PhoneNumberID == "" {
			out = append(out, web.RetentionVM{Class: p.Class, Label: web.RetentionLabel(ctx, p.Class), Days: p.Days})
		}
	}
	return out
}

// Secure links from the panel follow the API's rules: a public address
// is needed, and a link lives up to 30 days.
const maxSecureLinkHours = 30 * 24

// secureLinksVM lists a conversation's links with their state.
func (s *Server) secureLinksVM(ctx context.Context, v *viewer, convID int64, restricted bool) (web.SecureLinksVM, error) {
	vm := web.SecureLinksVM{On: s.cfg.PublicURL != "", CanUse: !restricted && v != nil && v.user.Role != store.RoleAuditor}
	links, err := s.store.SecureLinks(ctx, convID)
	if err != nil {
		return vm, err
	}
	names, err := s.actorNames(ctx)
	if err != nil {
		return vm, err
	}
	now := s.now()
	for _, l := range links {
		vm.Links = append(vm.Links, web.SecureLinkVM{Prompt: l.Prompt, State: l.State(now), Created: time.Unix(l.CreatedAt, 0),
			Expires: time.Unix(l.ExpiresAt, 0), By: actorLabel(ctx, l.CreatedBy, names)})
	}
	return vm, nil
}

// secureLinkMessage is the text the customer gets: the prompt, the link
// and how long it works. It goes to the customer, so it is German.
func secureLinkMessage(prompt, url string, expires time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.Local
	}
	return fmt.Sprintf("%s\n\n%s\n\nDer Link funktioniert einmal und gilt bis %s Uhr. Ihre Angaben gehen verschlüsselt direkt an uns, nicht über WhatsApp.",
		prompt, url, expires.In(loc).Format("02.01.2006, 15:04"))
}

// conversationSecureLink creates a one-time secure link in a conversation
// and either sends it to the customer as a text (only while the 24-hour
// window is open, like the composer) or shows it once for copying.
func (s *Server) conversationSecureLink(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	cs, err := s.store.ConversationByID(ctx, id)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	prompt := strings.TrimSpace(r.PostFormValue("prompt"))
	send := r.PostFormValue("send") == "1"
	ttl, err := strconv.Atoi(r.PostFormValue("ttl"))
	if r.PostFormValue("ttl") == "" {
		ttl, err = 72, nil
	}
	fail := func(status int, msg string) {
		s.renderConversationWith(w, r, status, msg, func(c *web.ConversationVM) { c.SecureLinks.Prompt = prompt })
	}
	switch {
	case cs.Restricted:
		fail(http.StatusConflict, web.T(ctx, restrictedNoSend))
		return
	case s.cfg.PublicURL == "":
		fail(http.StatusConflict, web.T(ctx, "Sichere Links brauchen die öffentliche Adresse (--public-url oder --domain)."))
		return
	case prompt == "" || utf8.RuneCountInString(prompt) > 500:
		fail(http.StatusUnprocessableEntity, web.T(ctx, "Bitte schreiben Sie, worum Sie bitten (1 bis 500 Zeichen)."))
		return
	case err != nil || ttl < 1 || ttl > maxSecureLinkHours:
		fail(http.StatusUnprocessableEntity, web.T(ctx, "Ein Link gilt zwischen einer Stunde und 30 Tagen."))
		return
	}
	if send {
		// Checked before the link exists, so a refused send leaves nothing behind.
		if s.panel.cfg.Sender == nil {
			fail(http.StatusServiceUnavailable, web.T(ctx, "Senden ist nicht eingerichtet."))
			return
		}
		if !store.WindowOpen(cs.LastInboundAt, s.now()) {
			fail(http.StatusConflict, web.T(ctx, windowClosedNoSend))
			return
		}
	}
	token, l, err := s.store.CreateSecureLink(ctx, id, prompt, v.actor(), time.Duration(ttl)*time.Hour, s.now())
	if errors.Is(err, store.ErrInvalid) {
		fail(http.StatusUnprocessableEntity, web.T(ctx, "Ungültige Eingabe."))
		return
	}
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	url := strings.TrimRight(s.cfg.PublicURL, "/") + "/s/" + token
	showOnce := func(status int, msg string) {
		s.renderConversationWith(w, r, status, msg, func(c *web.ConversationVM) { c.SecureLinks.NewURL = url })
	}
	if !send {
		showOnce(http.StatusOK, "")
		return
	}
	msg := Message{ConversationID: id, PhoneNumberID: cs.PhoneNumberID, ToWaID: cs.Contact.WaID, ToUserID: cs.Contact.UserID,
		AgentID: v.user.ID, Type: "text", Text: secureLinkMessage(prompt, url, time.Unix(l.ExpiresAt, 0), s.cfg.Location)}
	if err := s.panel.cfg.Sender.PanelSend(ctx, msg); err != nil {
		// The link exists: show it, so it can still be passed on.
		status, text := sendRefusal(ctx, err)
		s.log.Warn("secure link not sent", "link", l.ID, "err", err)
		showOnce(status, text)
		return
	}
	s.Publish(Event{Kind: "message", Conversation: id})
	setFlash(w, web.T(ctx, "Sicherer Link gesendet."))
	backToConversation(w, r, id)
}
