package panel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/pforte/pforte/server/tlsmgr"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

func pathID(r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return id, err == nil && id > 0
}

// conversationVM loads everything the conversation pane shows.
func (s *Server) conversationVM(ctx context.Context, v *viewer, id, before int64) (*web.ConversationVM, error) {
	cs, err := s.store.ConversationByID(ctx, id)
	if err != nil {
		return nil, err
	}
	msgs, more, err := s.store.ConversationMessages(ctx, id, before, 60)
	if err != nil {
		return nil, err
	}
	thread, err := s.threadVM(ctx, id, msgs, more, v != nil && v.user.Role == store.RoleAdmin)
	if err != nil {
		return nil, err
	}
	c := &web.ConversationVM{
		ID: cs.ID, Contact: contactVM(cs.Contact), Status: cs.Status, AssigneeID: cs.AssigneeID, Assignee: cs.AssigneeName,
		Number: web.NumberVM{ID: cs.NumberID, PhoneNumberID: cs.PhoneNumberID, Display: "+" + cs.DisplayNumber}, Thread: thread,
		Restricted: cs.Restricted,
	}
	if cs.Contact.GroupID != "" {
		if c.Participants, err = s.store.GroupParticipants(ctx, cs.Contact.ID); err != nil {
			return nil, err
		}
	}
	if c.BotActive, err = s.store.BotActive(ctx, cs.ID); err != nil {
		return nil, err
	}
	if c.Hours, err = s.hoursLine(ctx, cs.PhoneNumberID); err != nil {
		return nil, err
	}
	if cs.LastInboundAt > 0 {
		c.WindowExpires = store.WindowEnds(cs.LastInboundAt)
		c.WindowOpen = store.WindowOpen(cs.LastInboundAt, s.now())
	}
	users, err := s.store.Users(ctx)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		if !u.Disabled && (u.Role == store.RoleAdmin || u.Role == store.RoleAgent) {
			c.Agents = append(c.Agents, web.AgentVM{ID: u.ID, Name: u.DisplayName()})
		}
	}
	labels, err := s.store.Labels(ctx)
	if err != nil {
		return nil, err
	}
	on := map[int64]bool{}
	for _, l := range cs.Labels {
		on[l.ID] = true
	}
	for _, l := range labels {
		c.Labels = append(c.Labels, web.LabelVM{ID: l.ID, Name: l.Name, Color: l.Color, On: on[l.ID]})
	}
	notes, err := s.store.Notes(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, n := range notes {
		c.Notes = append(c.Notes, web.NoteVM{Author: n.AuthorName, Body: n.Body, At: time.Unix(n.CreatedAt, 0)})
	}
	c.Composer.Enabled = s.panel.cfg.Sender != nil
	if cs.Restricted {
		c.Composer.Blocked = web.T(ctx, restrictedNoSend)
	}
	if c.SecureLinks, err = s.secureLinksVM(ctx, v, id, cs.Restricted); err != nil {
		return nil, err
	}
	c.SecureLinks.CanSend = c.Composer.Enabled && c.WindowOpen
	if !c.WindowOpen {
		c.Composer.Disabled = web.T(ctx, "Freie Nachrichten sind nur bis 24 Stunden nach der letzten Nachricht des Kunden erlaubt (Regel von Meta). Schicken Sie eine genehmigte Vorlage; antwortet die Person, ist das Fenster wieder offen.")
		if c.WindowExpires.IsZero() {
			c.Composer.Disabled = web.T(ctx, "Die Person hat noch nicht geschrieben. Ein Gespräch beginnt mit einer genehmigten Vorlage.")
		}
	}
	canned, err := s.store.CannedReplies(ctx)
	if err != nil {
		return nil, err
	}
	for _, cr := range canned {
		c.Composer.Canned = append(c.Composer.Canned, web.CannedVM{ID: cr.ID, Title: cr.Title, Body: cr.Body})
	}
	waba, err := s.store.WABAOf(ctx, cs.PhoneNumberID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if c.Composer.Templates, err = s.sendableTemplates(ctx, waba); err != nil {
		return nil, err
	}
	return c, nil
}

// conversation renders the inbox with one conversation open and marks it read.
func (s *Server) conversation(w http.ResponseWriter, r *http.Request) {
	s.renderConversation(w, r, http.StatusOK, "")
}

func (s *Server) renderConversation(w http.ResponseWriter, r *http.Request, status int, composerErr string) {
	s.renderConversationWith(w, r, status, composerErr, nil)
}

// renderConversationWith lets a handler adjust the view (e.g. show a link
// just created) before it renders.
func (s *Server) renderConversationWith(w http.ResponseWriter, r *http.Request, status int, composerErr string, adjust func(*web.ConversationVM)) {
	ctx := r.Context()
	v := viewerOf(r)
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	c, err := s.conversationVM(ctx, v, id, before)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	c.Composer.Error = composerErr
	if adjust != nil {
		adjust(c)
	}
	if r.Method == http.MethodGet {
		s.markReadAtMeta(ctx, v, id)
		if err := s.store.MarkRead(ctx, id); err != nil {
			s.log.Warn("mark read", "err", err)
		}
	}
	f := inboxFilter(r)
	vm, err := s.inboxVM(ctx, v, f, "", id)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	vm.Selected = c
	s.page(w, r, status, web.Chrome{Title: c.Contact.Display(), Nav: "inbox"}, web.Inbox(vm))
}

// thread renders only the message list, for live updates.
func (s *Server) thread(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	msgs, more, err := s.store.ConversationMessages(ctx, id, 0, 60)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	if _, err := s.store.ConversationByID(ctx, id); err != nil {
		s.storeFail(w, r, err)
		return
	}
	v := viewerOf(r)
	t, err := s.threadVM(ctx, id, msgs, more, v != nil && v.user.Role == store.RoleAdmin)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.markReadAtMeta(ctx, viewerOf(r), id)
	if err := s.store.MarkRead(ctx, id); err != nil {
		s.log.Warn("mark read", "err", err)
	}
	s.fragment(w, r, web.Thread(t))
}

// backToConversation redirects to the conversation, keeping the filter.
func backToConversation(w http.ResponseWriter, r *http.Request, id int64) {
	q := r.URL.RawQuery
	if q == "" {
		q = "assigned=all&status=all"
	}
	redirect(w, r, fmt.Sprintf("/conversations/%d?%s", id, q))
}

func (s *Server) assign(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	id, ok := pathID(r, "id")
	userID, err := strconv.ParseInt(r.PostFormValue("user"), 10, 64)
	if !ok || err != nil || userID < 0 {
		s.failPage(w, r, http.StatusBadRequest, "Ungültige Eingabe.")
		return
	}
	err = s.store.Assign(r.Context(), id, userID, store.AuditEntry{Actor: v.actor(), Action: store.AuditConversationAssign,
		Detail: fmt.Sprintf(`{"assignee":%d}`, userID), IP: tlsmgr.ClientIP(r)})
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.Publish(Event{Kind: "assign", Conversation: id})
	backToConversation(w, r, id)
}

func (s *Server) setStatus(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	st := r.PostFormValue("status")
	if !ok || (st != "open" && st != "closed") {
		s.failPage(w, r, http.StatusBadRequest, "Ungültige Eingabe.")
		return
	}
	if err := s.store.SetConversationStatus(r.Context(), id, st); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.Publish(Event{Kind: "state", Conversation: id})
	if st == "closed" {
		setFlash(w, web.T(r.Context(), "Unterhaltung als erledigt markiert."))
	}
	backToConversation(w, r, id)
}

func (s *Server) addNote(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	id, ok := pathID(r, "id")
	body := r.PostFormValue("body")
	if !ok || len(body) > 4000 {
		s.failPage(w, r, http.StatusBadRequest, "Ungültige Eingabe.")
		return
	}
	if _, err := s.store.ConversationByID(r.Context(), id); err != nil {
		s.storeFail(w, r, err)
		return
	}
	if _, err := s.store.AddNote(r.Context(), id, v.user.ID, body); err != nil {
		s.failPage(w, r, http.StatusUnprocessableEntity, "Die Notiz ist leer.")
		return
	}
	s.Publish(Event{Kind: "note", Conversation: id})
	backToConversation(w, r, id)
}

func (s *Server) setLabel(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	labelID, err := strconv.ParseInt(r.PostFormValue("label"), 10, 64)
	if !ok || err != nil {
		s.failPage(w, r, http.StatusBadRequest, "Ungültige Eingabe.")
		return
	}
	if err := s.store.SetConversationLabel(r.Context(), id, labelID, r.PostFormValue("on") == "1"); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.Publish(Event{Kind: "label", Conversation: id})
	backToConversation(w, r, id)
}
