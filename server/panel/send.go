package panel

import (
	"context"
	"errors"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// composerKind is the message type an attachment is sent as: Meta's kind
// for the type (cloudapi's list of supported media), except stickers,
// which the composer does not send; "" refuses the file.
func composerKind(ct string) string {
	if k := cloudapi.MediaKind(ct); k != "sticker" {
		return k
	}
	return ""
}

// fileType is an attachment's MIME type: as the browser sent it, or from
// the name's extension (by cloudapi's list) when the browser did not know.
func fileType(partType, name string) string {
	ct, _, _ := mime.ParseMediaType(partType)
	if ct == "" || ct == "application/octet-stream" {
		ct = cloudapi.MIMEOfExtension(filepath.Ext(name))
	}
	return ct
}

// sendableConversation loads the path's conversation if the panel may
// send in it, or answers why not: no such conversation, sending is not set
// up, the customer is restricted, or the page is stale.
func (s *Server) sendableConversation(w http.ResponseWriter, r *http.Request) (*store.ConversationSummary, bool) {
	ctx := r.Context()
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return nil, false
	}
	if s.panel.cfg.Sender == nil {
		s.renderConversation(w, r, http.StatusServiceUnavailable, web.T(ctx, "Senden ist nicht eingerichtet."))
		return nil, false
	}
	cs, err := s.store.ConversationByID(ctx, id)
	if err != nil {
		s.storeFail(w, r, err)
		return nil, false
	}
	if cs.Restricted {
		s.renderConversation(w, r, http.StatusConflict, web.T(ctx, restrictedNoSend))
		return nil, false
	}
	// The composer carries the contact it was rendered for: a page left
	// open on a customer who has since been erased must never write to
	// whoever holds the conversation now.
	if contact, err := strconv.ParseInt(r.FormValue("contact"), 10, 64); err != nil || contact != cs.Contact.ID {
		s.log.Warn("panel send refused: the conversation no longer belongs to the contact the form was written for",
			"conversation", id, "form_contact", r.FormValue("contact"), "contact", cs.Contact.ID)
		s.renderConversation(w, r, http.StatusConflict, web.T(ctx, staleComposer))
		return nil, false
	}
	return cs, true
}

// staleComposer answers a send from a form written for another customer
// than the conversation now belongs to.
const staleComposer = "Nicht gesendet: Diese Unterhaltung gehört nicht mehr zu der Person, für die die Nachricht geschrieben wurde (die Seite ist veraltet, die Person wurde vielleicht gelöscht). Bitte laden Sie die Seite neu und prüfen Sie den Empfänger."

// sendMessage handles the composer: text, an attachment with caption, and
// a reply-to. Free text is refused outside the 24-hour window.
func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := viewerOf(r)
	// The body was read and limited by limitBody (attachmentForm); an
	// attached file waits in the data directory's spool folder.
	cs, ok := s.sendableConversation(w, r)
	if !ok {
		return
	}
	id := cs.ID
	if !store.WindowOpen(cs.LastInboundAt, s.now()) {
		s.renderConversation(w, r, http.StatusConflict, web.T(ctx, windowClosedNoSend))
		return
	}
	msg := Message{ConversationID: id, PhoneNumberID: cs.PhoneNumberID, ToWaID: cs.Contact.WaID, ToUserID: cs.Contact.UserID, ToGroupID: cs.Contact.GroupID,
		AgentID: v.user.ID, Type: "text", Text: strings.TrimSpace(r.FormValue("text")), ReplyTo: strings.TrimSpace(r.FormValue("context"))}
	if len(msg.ReplyTo) > 200 {
		msg.ReplyTo = ""
	}
	if file := uploadedFileOf(r, "file"); file != nil && file.Name != "" {
		ct := fileType(file.Type, file.Name)
		kind := composerKind(ct)
		if kind == "" || file.Size == 0 {
			s.renderConversation(w, r, http.StatusUnsupportedMediaType, web.T(ctx, "Diesen Dateityp nimmt WhatsApp nicht an. Erlaubt: JPEG, PNG, MP4, MP3, OGG, PDF, Office-Dokumente, Text."))
			return
		}
		// The outbox's size rule, asked before a sender gets the file.
		if err := outbox.CheckFile(ct, file.Size); err != nil {
			s.sendFailed(w, r, err)
			return
		}
		if kind == "audio" && msg.Text != "" {
			s.renderConversation(w, r, http.StatusUnprocessableEntity, web.T(ctx, "Zu Audiodateien erlaubt WhatsApp keinen Text. Bitte getrennt senden."))
			return
		}
		content, err := os.Open(file.path)
		if err != nil {
			s.storeFail(w, r, err)
			return
		}
		defer content.Close()
		msg.Type = kind
		msg.File = &File{Name: filepath.Base(file.Name), Mime: ct, Size: file.Size, Content: content}
	}
	if msg.File == nil && msg.Text == "" {
		s.renderConversation(w, r, http.StatusUnprocessableEntity, web.T(ctx, "Die Nachricht ist leer."))
		return
	}
	if len([]rune(msg.Text)) > 4096 {
		s.renderConversation(w, r, http.StatusUnprocessableEntity, web.T(ctx, "Die Nachricht ist zu lang (höchstens 4096 Zeichen)."))
		return
	}
	if err := s.panel.cfg.Sender.PanelSend(ctx, msg); err != nil {
		s.sendFailed(w, r, err)
		return
	}
	s.Publish(Event{Kind: "message", Conversation: id})
	backToConversation(w, r, id)
}

func (s *Server) sendFailed(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := sendRefusal(r.Context(), err)
	if status >= http.StatusInternalServerError {
		s.log.Warn("panel send failed", "err", err)
	}
	s.renderConversation(w, r, status, msg)
}

// German answers to the outbox's refusals (English in web's tables).
const (
	windowClosedNoSend    = "Das 24-Stunden-Fenster ist geschlossen. Bitte eine Vorlage senden."
	unknownCategoryNoSend = "Nicht gesendet: Die Kategorie dieser Vorlage ist Pforte nicht bekannt, daher wird sie wie Werbung behandelt, und die Person hat nicht in Werbung eingewilligt. Tragen Sie die Kategorie auf der Seite Vorlagen ein oder erfassen Sie eine Einwilligung."
	noConsentNoSend       = "Nicht gesendet: Meta stuft diese Vorlage als Werbung (MARKETING) ein, und die Person hat nicht in Werbung eingewilligt oder hat widerrufen. Erfassen Sie zuerst eine Einwilligung auf der Kontaktseite."
	unknownNumberNoSend   = "Nicht gesendet: Die Absendernummer dieser Unterhaltung ist keine Geschäftsnummer dieses Pforte. Fügen Sie sie unter Einstellungen hinzu."
	invalidNoSend         = "Nicht gesendet: Meta würde diese Nachricht nicht annehmen (%s)."
	templateParamsNoSend  = "Nicht gesendet: Die Angaben passen nicht zur Vorlage, wie Meta sie zuletzt gemeldet hat (%s)."
)

// sendRefusal is the one place that words why a send from the panel
// failed: the outbox's refusals in German (translated by web.T), anything
// else as a failure on the way to Meta (502).
func sendRefusal(ctx context.Context, err error) (int, string) {
	var ref *outbox.Refusal
	var nc *store.NoConsentError
	switch {
	case errors.Is(err, outbox.ErrWindowClosed):
		return http.StatusConflict, web.T(ctx, windowClosedNoSend)
	case errors.Is(err, outbox.ErrNoConsent) && errors.As(err, &nc) && nc.Unknown:
		return http.StatusConflict, web.T(ctx, unknownCategoryNoSend)
	case errors.Is(err, outbox.ErrNoConsent):
		return http.StatusConflict, web.T(ctx, noConsentNoSend)
	case errors.Is(err, outbox.ErrRestricted):
		return http.StatusConflict, web.T(ctx, restrictedNoSend)
	case errors.Is(err, outbox.ErrUnknownNumber):
		return http.StatusConflict, web.T(ctx, unknownNumberNoSend)
	case errors.Is(err, outbox.ErrTooLarge) && errors.As(err, &ref):
		return http.StatusRequestEntityTooLarge, web.T(ctx, mediaTooLarge(ref.Kind))
	case errors.Is(err, outbox.ErrTemplateParams) && errors.As(err, &ref):
		return http.StatusUnprocessableEntity, web.Tf(ctx, templateParamsNoSend, ref.Param.Details)
	case errors.Is(err, outbox.ErrInvalid) && errors.As(err, &ref):
		return http.StatusUnprocessableEntity, web.Tf(ctx, invalidNoSend, ref.Details)
	}
	return http.StatusBadGateway, web.Tf(ctx, "Nicht gesendet: %s", err.Error())
}

// sendTemplate sends an approved template with its placeholders filled in;
// it is allowed whether or not the window is open.
func (s *Server) sendTemplate(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := viewerOf(r)
	cs, ok := s.sendableConversation(w, r)
	if !ok {
		return
	}
	id := cs.ID
	waba, err := s.store.WABAOf(ctx, cs.PhoneNumberID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.storeFail(w, r, err)
		return
	}
	tpls, err := s.sendableTemplates(ctx, waba)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	i := slices.IndexFunc(tpls, func(t web.TemplateVM) bool { return t.Key() == r.PostFormValue("template") })
	if i < 0 || !tpls[i].Usable {
		s.renderConversation(w, r, http.StatusUnprocessableEntity, web.T(ctx, "Diese Vorlage ist nicht genehmigt und kann nicht gesendet werden."))
		return
	}
	pt, problem := templateFill(r, tpls[i], headerFileOf(r) != nil)
	if problem != "" {
		s.renderConversation(w, r, http.StatusUnprocessableEntity, problem)
		return
	}
	msg := Message{ConversationID: id, PhoneNumberID: cs.PhoneNumberID, ToWaID: cs.Contact.WaID, ToUserID: cs.Contact.UserID, ToGroupID: cs.Contact.GroupID,
		AgentID: v.user.ID, Type: "template", Template: pt}
	done, st, problem := attachHeaderFile(r, &msg)
	defer done()
	if problem != "" {
		s.renderConversation(w, r, st, problem)
		return
	}
	if err := s.panel.cfg.Sender.PanelSend(ctx, msg); err != nil {
		s.sendFailed(w, r, err)
		return
	}
	s.Publish(Event{Kind: "message", Conversation: id})
	backToConversation(w, r, id)
}

// headerKind is the media header a file fits: Meta takes JPEG and PNG
// images, MP4 videos and PDF documents there.
func headerKind(contentType string) string {
	switch contentType {
	case "image/jpeg", "image/png":
		return "image"
	case "video/mp4":
		return "video"
	case "application/pdf":
		return "document"
	}
	return ""
}

// headerFileWanted says which file a media header takes.
func headerFileWanted(kind string) string {
	switch kind {
	case "image":
		return "Die Kopfzeile dieser Vorlage braucht ein Bild (JPEG oder PNG)."
	case "video":
		return "Die Kopfzeile dieser Vorlage braucht ein Video (MP4)."
	}
	return "Die Kopfzeile dieser Vorlage braucht ein PDF-Dokument."
}

// headerFileOf is the uploaded file for a template's media header, nil
// when none was chosen.
func headerFileOf(r *http.Request) *uploadedFile {
	if f := uploadedFileOf(r, "header_file"); f != nil && f.Name != "" {
		return f
	}
	return nil
}

// attachHeaderFile gives m the uploaded file of its template's media
// header, to go through the composer's one upload path; a file that does
// not fit the header is a status and a German message. done closes the
// file and is always set.
func attachHeaderFile(r *http.Request, m *Message) (done func(), status int, msg string) {
	done = func() {}
	file := headerFileOf(r)
	if file == nil || m.Template == nil || m.Template.HeaderMedia == "" {
		return done, 0, ""
	}
	ctx := r.Context()
	ct := fileType(file.Type, file.Name)
	if headerKind(ct) != m.Template.HeaderMedia || file.Size == 0 {
		return done, http.StatusUnsupportedMediaType, web.T(ctx, headerFileWanted(m.Template.HeaderMedia))
	}
	if err := outbox.CheckFile(ct, file.Size); err != nil {
		status, msg = sendRefusal(ctx, err)
		return done, status, msg
	}
	content, err := os.Open(file.path)
	if err != nil {
		return done, http.StatusInternalServerError, web.T(ctx, "Die Datei konnte nicht gelesen werden.")
	}
	m.File = &File{Name: filepath.Base(file.Name), Mime: ct, Size: file.Size, Content: content}
	return func() { content.Close() }, 0, ""
}
