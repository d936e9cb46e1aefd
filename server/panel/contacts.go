package panel

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/pforte/pforte/server/privacy"
	"github.com/pforte/pforte/server/tlsmgr"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

func contactRow(it store.ContactListItem) web.ContactRowVM {
	return web.ContactRowVM{Contact: contactVM(it.Contact), Conversations: it.Conversations, LastAt: time.Unix(it.LastMessageAt, 0),
		Restricted: it.Restricted}
}

func (s *Server) contactDetail(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	s.renderContact(w, r, id, http.StatusOK, web.ConsentForm{})
}

// renderContact shows a customer's page; form keeps a refused consent
// form's input and error.
func (s *Server) renderContact(w http.ResponseWriter, r *http.Request, id int64, status int, form web.ConsentForm) {
	ctx := r.Context()
	v := viewerOf(r)
	c, err := s.store.ContactByID(ctx, id)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	vm := web.ContactDetailVM{Contact: contactVM(*c), Consent: form}
	if vm.Restricted, err = s.store.Restricted(ctx, id); err != nil {
		s.storeFail(w, r, err)
		return
	}
	convs, err := s.store.ContactConversations(ctx, id)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	now := s.now()
	for _, cs := range convs {
		vm.Conversations = append(vm.Conversations, convRow(ctx, cs))
		if cs.LastInboundAt > 0 {
			exp := store.WindowEnds(cs.LastInboundAt)
			vm.Windows = append(vm.Windows, web.WindowVM{Number: "+" + cs.DisplayNumber, Expires: exp, Open: now.Before(exp)})
		}
	}
	role := v.user.Role
	// Auditors check consent and restrictions; message contents and the
	// team's notes are not theirs to read.
	vm.ShowContent = role == store.RoleAdmin || role == store.RoleAgent
	if vm.ShowContent {
		notes, err := s.store.ContactNotes(ctx, id)
		if err != nil {
			s.storeFail(w, r, err)
			return
		}
		for _, n := range notes {
			vm.Notes = append(vm.Notes, web.NoteVM{Author: n.AuthorName, Body: n.Body, At: time.Unix(n.CreatedAt, 0)})
		}
	}
	consents, err := s.store.ConsentRecords(ctx, id)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	names, err := s.actorNames(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	// Newest first: the top line is the decision that counts.
	for i := len(consents) - 1; i >= 0; i-- {
		c := consents[i]
		vm.Consents = append(vm.Consents, web.ConsentVM{Purpose: c.Purpose, OptIn: c.Action == store.OptIn, Source: c.Source,
			Evidence: c.Evidence, Actor: actorLabel(ctx, c.Actor, names), At: time.Unix(c.TS, 0)})
	}
	vm.Consent.CanRecord = vm.ShowContent
	holds, err := s.store.Holds(ctx, id)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	for _, h := range holds {
		hv := web.HoldVM{ID: h.ID, Reason: h.Reason, Active: h.Active(now)}
		if h.Until > 0 {
			hv.Until = time.Unix(h.Until, 0)
		}
		vm.Holds = append(vm.Holds, hv)
	}
	vm.CanExport, vm.CanErase = role == store.RoleAdmin, role == store.RoleAdmin
	if vm.Book, err = s.contactBookVM(ctx, v, c, convs); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.page(w, r, status, web.Chrome{Title: vm.Contact.Display(), Nav: "contacts"}, web.ContactDetail(vm))
}

// contactExport streams a customer's Art. 15/20 export (the same ZIP as
// the internal API), audited with the person who asked for it.
func (s *Server) contactExport(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	c, err := s.store.ContactByID(r.Context(), id)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="pforte-export-%d-%s.zip"`, c.ID, s.now().UTC().Format("20060102")))
	if _, err := privacy.ExportContact(r.Context(), s.store, c, w, privacy.ExportOptions{Now: s.now(), Actor: v.actor(), IP: tlsmgr.ClientIP(r)}); err != nil {
		s.log.Error("panel export failed", "contact", c.ID, "err", err)
		panic(http.ErrAbortHandler) // a cut download, never a short ZIP that looks whole
	}
}

// contactErase carries out an Art. 17 erasure from the contact page.
func (s *Server) contactErase(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	id, ok := pathID(r, "id")
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if !ok || len(reason) > 500 {
		s.failPage(w, r, http.StatusBadRequest, "Ungültige Eingabe.")
		return
	}
	c, err := s.store.ContactByID(ctx, id)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	key := c.WaID
	if key == "" {
		key = c.UserID
	}
	eraser := privacy.Eraser{Store: s.store, DeleteAtMeta: s.cfg.DeleteMetaMedia, Log: s.log}
	res, _, err := eraser.Erase(ctx, key, store.EraseRequest{Actor: v.actor(), Reason: reason, IP: tlsmgr.ClientIP(r), Now: s.now()})
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	if res.State == store.ErasureRestricted {
		setFlash(w, web.T(ctx, "Eine Aufbewahrungspflicht besteht: Die Daten sind gesperrt und werden gelöscht, sobald sie endet."))
		redirect(w, r, fmt.Sprintf("/contacts/%d", id))
		return
	}
	setFlash(w, web.Tf(ctx, "Gelöscht: %s, %s.", web.Plural(ctx, int64(res.Messages), "%s Nachricht", "%s Nachrichten"), web.Plural(ctx, int64(res.MediaFiles), "%s Datei", "%s Dateien")))
	redirect(w, r, "/contacts")
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if len(q) > 200 {
		q = q[:200]
	}
	vm := web.SearchVM{Query: q}
	if q != "" {
		scope := viewerOf(r).scope()
		hits, err := s.store.SearchMessages(ctx, q, 50, scope...)
		if err != nil {
			s.storeFail(w, r, err)
			return
		}
		for _, h := range hits {
			vm.Messages = append(vm.Messages, web.SearchHitVM{ConversationID: h.ConversationID, MessageID: h.MessageID,
				Contact: contactVM(h.Contact), Outbound: h.Direction == "outbound", At: time.Unix(h.TS, 0), Snippet: snippetParts(h.Snippet)})
		}
		items, err := s.store.Contacts(ctx, q, 10, 0, scope...)
		if err != nil {
			s.storeFail(w, r, err)
			return
		}
		for _, it := range items {
			vm.Contacts = append(vm.Contacts, contactRow(it))
		}
	}
	s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(ctx, "Suchen"), Query: q, Nav: "inbox"}, web.Search(vm))
}

// snippetParts splits an FTS snippet at its match markers, so matches are
// highlighted by the template while everything stays escaped text.
func snippetParts(s string) []web.SnippetPart {
	var out []web.SnippetPart
	for s != "" {
		i := strings.Index(s, "\x02")
		if i < 0 {
			out = append(out, web.SnippetPart{Text: s})
			break
		}
		if i > 0 {
			out = append(out, web.SnippetPart{Text: s[:i]})
		}
		s = s[i+1:]
		j := strings.Index(s, "\x03")
		if j < 0 {
			out = append(out, web.SnippetPart{Text: s, Match: true})
			break
		}
		out = append(out, web.SnippetPart{Text: s[:j], Match: true})
		s = s[j+1:]
	}
	return out
}

func (s *Server) templateText(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	name, lang, body := strings.TrimSpace(r.PostFormValue("name")), strings.TrimSpace(r.PostFormValue("language")), r.PostFormValue("body")
	category := strings.TrimSpace(r.PostFormValue("category"))
	if name == "" || lang == "" || len(name) > 512 || len(lang) > 15 || len(body) > 1024 ||
		(category != "" && !slices.Contains(store.TemplateCategories(), category)) {
		s.failPage(w, r, http.StatusBadRequest, "Ungültige Eingabe.")
		return
	}
	if category != "" {
		// Ignored for a template whose category Meta reported.
		if err := s.store.SetTemplateCategory(r.Context(), name, lang, category, s.now(), store_audit(v, r, store.AuditTemplateCategory)); err != nil {
			s.storeFail(w, r, err)
			return
		}
	}
	if err := s.store.SaveTemplateText(r.Context(), name, lang, body, store_audit(v, r, store.AuditTemplateText)); err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(r.Context(), "Gespeichert."))
	redirect(w, r, "/templates")
}
