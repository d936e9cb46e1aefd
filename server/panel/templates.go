package panel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/templates"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// Templates in the panel: admins sync, submit, and delete them at Meta
// (templates page); agents pick approved ones in the composer and in
// "Neue Unterhaltung", with a live preview and a field per variable.

// templateVM is the view of a stored template: its components as Meta
// listed them, else the text an admin recorded.
func templateVM(t *store.Template) web.TemplateVM {
	vm := web.TemplateVM{Name: t.Name, Language: t.Language, Category: t.Category, CategoryBy: t.CategoryBy, Status: t.Status, Reason: t.Reason, Detail: t.Detail,
		Body: t.Body, Params: t.Params, Usable: t.Usable(), WABAID: t.WABAID, Quality: t.Quality, Library: t.Library, Deleted: t.DeletedAt != 0,
		Editable: slices.Contains([]string{"APPROVED", "REJECTED", "PAUSED"}, t.Status)}
	if t.UpdatedAt > 0 {
		vm.UpdatedAt = time.Unix(t.UpdatedAt, 0)
	}
	if t.SyncedAt > 0 {
		vm.SyncedAt = time.Unix(t.SyncedAt, 0)
	}
	if cs, err := cloudapi.ParseComponents([]byte(t.Components)); err == nil && len(cs) > 0 {
		sl := cloudapi.SlotsOf(cs)
		if sl.Body != "" {
			vm.Body, vm.Params = sl.Body, sl.BodyParams
		}
		vm.HeaderFormat, vm.HeaderText, vm.HeaderParams, vm.Footer = sl.HeaderFormat, sl.HeaderText, sl.HeaderParams, sl.Footer
		for i, b := range sl.Buttons {
			vm.Buttons = append(vm.Buttons, web.TemplateButtonVM{Index: i, Type: b.Type, Text: b.Text, URL: b.URL, Phone: b.PhoneNumber,
				Param: slices.Contains(sl.URLParams, i), CopyCode: b.Type == cloudapi.ButtonCopyCode})
		}
		vm.EditExamples, vm.EditButtons = formNotation(cs)
	}
	return vm
}

// formNotation writes stored components back into the create form's
// notation (examples one a line, buttons one a line), so the edit form
// opens with what Meta has and definitionFromForm reads it back.
func formNotation(cs []cloudapi.Component) (examples, buttons string) {
	var ex, bs []string
	for _, c := range cs {
		switch c.Type {
		case "HEADER":
			if c.Example != nil {
				ex = append(ex, c.Example.HeaderText...)
				for _, n := range c.Example.HeaderTextNamed {
					ex = append(ex, n.Example)
				}
			}
		case "BODY":
			if c.Example != nil {
				if len(c.Example.BodyText) > 0 {
					ex = append(ex, c.Example.BodyText[0]...)
				}
				for _, n := range c.Example.BodyTextNamed {
					ex = append(ex, n.Example)
				}
			}
		case "BUTTONS":
			for _, b := range c.Buttons {
				switch b.Type {
				case cloudapi.ButtonQuickReply:
					bs = append(bs, "Antwort: "+b.Text)
				case cloudapi.ButtonURL:
					line := "Link: " + b.Text + " | " + b.URL
					var sample []string
					if json.Unmarshal(b.Example, &sample) == nil && len(sample) > 0 {
						line += " | " + sample[0]
					}
					bs = append(bs, line)
				case cloudapi.ButtonPhone:
					bs = append(bs, "Anruf: "+b.Text+" | "+b.PhoneNumber)
				case cloudapi.ButtonCopyCode:
					var code string
					_ = json.Unmarshal(b.Example, &code)
					bs = append(bs, "Code: "+code)
				}
			}
		}
	}
	return strings.Join(ex, "\n"), strings.Join(bs, "\n")
}

// sendableTemplates are the templates a number may send: its account's
// (as listed from Meta), else, for installations that never synced, every
// template known.
func (s *Server) sendableTemplates(ctx context.Context, waba string) ([]web.TemplateVM, error) {
	var out []web.TemplateVM
	if waba != "" {
		ts, err := s.store.AccountTemplates(ctx, waba)
		if err != nil {
			return nil, err
		}
		texts := map[string]string{}
		if all, err := s.store.Templates(ctx); err == nil {
			for _, t := range all {
				if t.Body != "" {
					texts[t.Name+"|"+t.Language] = t.Body
				}
			}
		}
		for _, t := range ts {
			if t.Components == "" && t.Body == "" {
				t.Body = texts[t.Name+"|"+t.Language]
				t.Params = store.TemplateParams(t.Body)
			}
			out = append(out, templateVM(t))
		}
		if len(out) > 0 {
			return out, nil
		}
	}
	all, err := s.store.Templates(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range all {
		out = append(out, templateVM(t))
	}
	return out, nil
}

// templateFill reads what the person filled into a template's fields;
// the German message says what is missing. withFile: a file for the media
// header was uploaded, so no link is needed.
func templateFill(r *http.Request, t web.TemplateVM, withFile bool) (*Template, string) {
	ctx := r.Context()
	pt := &Template{Name: t.Name, Language: t.Language}
	value := func(field string) (string, bool) {
		v := strings.TrimSpace(r.PostFormValue(field))
		return v, v != "" && len(v) <= 1000 && !strings.ContainsAny(v, "\n\t")
	}
	for _, p := range t.HeaderParams {
		v, ok := value("h_" + p)
		if !ok {
			return nil, web.Tf(ctx, "Bitte füllen Sie den Platzhalter {{%s}} der Kopfzeile aus (eine Zeile).", p)
		}
		pt.Header = &Param{Name: p, Value: v}
	}
	if kind := t.HeaderMedia(); kind != "" {
		pt.HeaderMedia = kind
		if !withFile {
			v, ok := value("header_link")
			if !ok || !strings.HasPrefix(v, "https://") {
				return nil, web.T(ctx, "Bitte laden Sie die Datei der Kopfzeile hoch oder geben Sie den Link (https://…) zu ihr an.")
			}
			pt.HeaderLink = v
		}
	}
	for _, p := range t.Params {
		v, ok := value("p_" + p)
		if !ok {
			return nil, web.Tf(ctx, "Bitte füllen Sie den Platzhalter {{%s}} aus (eine Zeile).", p)
		}
		pt.Params = append(pt.Params, Param{Name: p, Value: v})
	}
	for _, b := range t.Buttons {
		if !b.Param {
			continue
		}
		v, ok := value(fmt.Sprintf("b_%d", b.Index))
		if !ok {
			return nil, web.Tf(ctx, "Bitte füllen Sie das Feld der Schaltfläche „%s“ aus.", b.Text)
		}
		if pt.Buttons == nil {
			pt.Buttons, pt.CopyCode = map[int]string{}, map[int]bool{}
		}
		pt.Buttons[b.Index], pt.CopyCode[b.Index] = v, b.CopyCode
	}
	return pt, ""
}

// ---- the templates page (admins manage) ----

func (s *Server) templatesView(ctx context.Context, r *http.Request) (web.TemplatesVM, error) {
	tpls, err := s.store.Templates(ctx)
	if err != nil {
		return web.TemplatesVM{}, err
	}
	vm := web.TemplatesVM{CanEdit: viewerOf(r).user.Role == store.RoleAdmin, CanManage: s.cfg.Templates != nil}
	vm.Accounts, err = s.store.WABAs(ctx)
	if err != nil {
		return vm, err
	}
	// Each account's own rows (with components), then hand-entered ones.
	seen := map[string]bool{}
	for _, w := range vm.Accounts {
		ts, err := s.store.AccountTemplates(ctx, w)
		if err != nil {
			return vm, err
		}
		for _, t := range ts {
			seen[t.Name+"|"+t.Language] = true
			vm.Templates = append(vm.Templates, templateVM(t))
		}
	}
	for _, t := range tpls {
		if !seen[t.Name+"|"+t.Language] {
			vm.Templates = append(vm.Templates, templateVM(t))
		}
	}
	if vm.CanEdit && s.cfg.Templates != nil {
		lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if lib, err := s.cfg.Templates.Library(lctx, "", ""); err == nil {
			for _, l := range lib {
				vm.Library = append(vm.Library, web.LibraryVM{Name: l.Name, Language: l.Language, Category: l.Category, Body: l.Body})
			}
		} else {
			s.log.Debug("template library not loaded", "err", err)
		}
	}
	return vm, nil
}

func (s *Server) renderTemplates(w http.ResponseWriter, r *http.Request, status int, errMsg, notice string) {
	ctx := r.Context()
	vm, err := s.templatesView(ctx, r)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	vm.Error, vm.Notice = errMsg, notice
	s.page(w, r, status, web.Chrome{Title: web.T(ctx, "Vorlagen"), Nav: "templates"}, web.Templates(vm))
}

func (s *Server) templatesPage(w http.ResponseWriter, r *http.Request) {
	notice := ""
	if r.URL.Query().Get("synced") != "" {
		notice = web.T(r.Context(), "Die Vorlagen wurden mit Meta abgeglichen.")
	} else if r.URL.Query().Get("edited") != "" {
		notice = web.T(r.Context(), "Die Änderung wurde bei Meta eingereicht. Meta prüft die Vorlage erneut; bis dahin ist sie nicht nutzbar.")
	} else if r.URL.Query().Get("submitted") != "" {
		notice = web.T(r.Context(), "Die Vorlage wurde bei Meta eingereicht. Sobald Meta sie geprüft hat, ändert sich ihr Status hier.")
	}
	s.renderTemplates(w, r, http.StatusOK, "", notice)
}

// templateFailure words a failure of the templates manager in German.
func templateFailure(ctx context.Context, err error) (int, string) {
	var fe *templates.FieldError
	var me *templates.MetaError
	switch {
	case errors.As(err, &fe):
		return http.StatusUnprocessableEntity, web.T(ctx, fe.German)
	case errors.As(err, &me):
		return http.StatusUnprocessableEntity, web.Tf(ctx, "Meta hat die Vorlage nicht angenommen: %s", me.Reason)
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, web.T(ctx, "Diese Vorlage ist nicht bekannt.")
	case errors.Is(err, cloudapi.ErrNoToken):
		return http.StatusServiceUnavailable, web.T(ctx, "Es ist kein Zugangsschlüssel von Meta eingerichtet (Einstellungen).")
	}
	return http.StatusBadGateway, web.Tf(ctx, "Meta war nicht erreichbar: %s", err.Error())
}

func (s *Server) templatesManaged(w http.ResponseWriter, r *http.Request) bool {
	if s.cfg.Templates != nil {
		return true
	}
	s.renderTemplates(w, r, http.StatusServiceUnavailable, web.T(r.Context(), "Es ist kein Zugangsschlüssel von Meta eingerichtet (Einstellungen)."), "")
	return false
}

func (s *Server) templateSync(w http.ResponseWriter, r *http.Request) {
	if !s.templatesManaged(w, r) {
		return
	}
	if _, err := s.cfg.Templates.Sync(r.Context(), viewerOf(r).actor()); err != nil {
		st, msg := templateFailure(r.Context(), err)
		s.renderTemplates(w, r, st, msg, "")
		return
	}
	redirect(w, r, "/templates?synced=1")
}

func (s *Server) templateAccount(r *http.Request) (string, string) {
	ctx := r.Context()
	wabas, err := s.store.WABAs(ctx)
	if err != nil || len(wabas) == 0 {
		return "", web.T(ctx, "Es ist noch kein WhatsApp-Konto (WABA) bekannt: Fügen Sie unter Einstellungen eine Geschäftsnummer mit ihrer WABA-ID hinzu.")
	}
	if w := r.PostFormValue("waba"); w != "" {
		if slices.Contains(wabas, w) {
			return w, ""
		}
		return "", web.T(ctx, "Dieses WhatsApp-Konto gehört zu keiner Geschäftsnummer.")
	}
	return wabas[0], ""
}

// templateCreate submits the form's template to Meta.
func (s *Server) templateCreate(w http.ResponseWriter, r *http.Request) {
	waba, ok := s.managedAccount(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	def, msg := s.definitionFromForm(r)
	if msg != "" {
		s.renderTemplates(w, r, http.StatusUnprocessableEntity, msg, "")
		return
	}
	if _, err := s.cfg.Templates.Create(ctx, waba, def, viewerOf(r).actor()); err != nil {
		st, msg := templateFailure(ctx, err)
		s.renderTemplates(w, r, st, msg, "")
		return
	}
	redirect(w, r, "/templates?submitted=1")
}

// definitionFromForm builds Meta's create body from the panel's form:
// header (text or a file sent through the Resumable Upload API), body
// with examples, footer, buttons one per line.
func (s *Server) definitionFromForm(r *http.Request) (templates.Definition, string) {
	ctx := r.Context()
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	d := templates.Definition{Name: f("name"), Language: f("language"), Category: f("category")}
	body := strings.ReplaceAll(r.PostFormValue("body"), "\r\n", "\n")
	var examples []string
	for _, l := range strings.Split(strings.ReplaceAll(r.PostFormValue("examples"), "\r\n", "\n"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			examples = append(examples, l)
		}
	}
	var comps []cloudapi.Component
	switch hf := f("header_format"); hf {
	case "":
	case cloudapi.HeaderText:
		ht := f("header_text")
		if ht == "" {
			return d, web.T(ctx, "Bitte geben Sie den Text der Kopfzeile an.")
		}
		c := cloudapi.Component{Type: "HEADER", Format: hf, Text: ht}
		if ps := cloudapi.Placeholders(ht); len(ps) > 0 {
			if len(examples) == 0 {
				return d, web.T(ctx, "Für den Platzhalter der Kopfzeile braucht Meta einen Beispielwert (erste Zeile der Beispielwerte).")
			}
			if isDigitsStr(ps[0]) {
				c.Example = &cloudapi.ComponentExample{HeaderText: []string{examples[0]}}
			} else {
				c.Example = &cloudapi.ComponentExample{HeaderTextNamed: []cloudapi.NamedExample{{ParamName: ps[0], Example: examples[0]}}}
			}
			examples = examples[1:]
		}
		comps = append(comps, c)
	case cloudapi.HeaderImage, cloudapi.HeaderVideo, cloudapi.HeaderDocument:
		file := uploadedFileOf(r, "header_file")
		if file == nil || file.Name == "" || file.Size == 0 {
			return d, web.T(ctx, "Für eine Kopfzeile mit Bild, Video oder Dokument braucht Meta eine Beispieldatei.")
		}
		want := map[string][]string{cloudapi.HeaderImage: {"image/jpeg", "image/png"}, cloudapi.HeaderVideo: {"video/mp4"}, cloudapi.HeaderDocument: {"application/pdf"}}[hf]
		ct := fileType(file.Type, file.Name)
		if !slices.Contains(want, ct) {
			return d, web.Tf(ctx, "Die Beispieldatei passt nicht zur Kopfzeile: erlaubt sind %s.", strings.Join(want, ", "))
		}
		fh, err := os.Open(file.path)
		if err != nil {
			return d, web.T(ctx, "Die Beispieldatei konnte nicht gelesen werden.")
		}
		data, err := io.ReadAll(io.LimitReader(fh, 100<<20))
		fh.Close()
		if err != nil {
			return d, web.T(ctx, "Die Beispieldatei konnte nicht gelesen werden.")
		}
		h, err := s.cfg.Templates.UploadSample(ctx, file.Name, ct, data)
		if err != nil {
			_, msg := templateFailure(ctx, err)
			return d, msg
		}
		comps = append(comps, cloudapi.Component{Type: "HEADER", Format: hf, Example: &cloudapi.ComponentExample{HeaderHandle: []string{h}}})
	case cloudapi.HeaderLocation:
		comps = append(comps, cloudapi.Component{Type: "HEADER", Format: hf})
	default:
		return d, web.T(ctx, "Unbekanntes Format der Kopfzeile.")
	}
	bc := cloudapi.Component{Type: "BODY", Text: body}
	ps := cloudapi.Placeholders(body)
	if len(ps) > 0 {
		if len(examples) != len(ps) {
			return d, web.Tf(ctx, "Der Text hat %d Platzhalter; bitte geben Sie genau so viele Beispielwerte an (einen je Zeile), nicht %d.", len(ps), len(examples))
		}
		if isDigitsStr(ps[0]) {
			bc.Example = &cloudapi.ComponentExample{BodyText: [][]string{examples}}
		} else {
			d.ParameterFormat = "NAMED"
			ex := &cloudapi.ComponentExample{}
			for i, p := range ps {
				ex.BodyTextNamed = append(ex.BodyTextNamed, cloudapi.NamedExample{ParamName: p, Example: examples[i]})
			}
			bc.Example = ex
		}
	}
	comps = append(comps, bc)
	if ft := f("footer"); ft != "" {
		comps = append(comps, cloudapi.Component{Type: "FOOTER", Text: ft})
	}
	buttons, msg := buttonsFromLines(ctx, r.PostFormValue("buttons"))
	if msg != "" {
		return d, msg
	}
	if len(buttons) > 0 {
		comps = append(comps, cloudapi.Component{Type: "BUTTONS", Buttons: buttons})
	}
	d.Components, _ = json.Marshal(comps)
	return d, ""
}

// buttonsFromLines reads "Antwort: Text", "Link: Text | URL | Beispiel",
// "Anruf: Text | Nummer", "Code: BEISPIEL" (English keywords too).
func buttonsFromLines(ctx context.Context, text string) ([]cloudapi.Button, string) {
	var out []cloudapi.Button
	for i, line := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		kind, rest, ok := strings.Cut(line, ":")
		if !ok {
			return nil, web.Tf(ctx, "Zeile %d der Schaltflächen: Bitte mit „Antwort:“, „Link:“, „Anruf:“ oder „Code:“ beginnen.", i+1)
		}
		parts := strings.Split(rest, "|")
		for j := range parts {
			parts[j] = strings.TrimSpace(parts[j])
		}
		switch strings.ToLower(strings.TrimSpace(kind)) {
		case "antwort", "reply":
			out = append(out, cloudapi.Button{Type: cloudapi.ButtonQuickReply, Text: parts[0]})
		case "link", "url":
			if len(parts) < 2 {
				return nil, web.Tf(ctx, "Zeile %d der Schaltflächen: „Link: Text | https://… | Beispiel“.", i+1)
			}
			b := cloudapi.Button{Type: cloudapi.ButtonURL, Text: parts[0], URL: parts[1]}
			if len(parts) > 2 && parts[2] != "" {
				b.Example, _ = json.Marshal([]string{parts[2]})
			}
			out = append(out, b)
		case "anruf", "phone":
			if len(parts) < 2 {
				return nil, web.Tf(ctx, "Zeile %d der Schaltflächen: „Anruf: Text | +49…“.", i+1)
			}
			out = append(out, cloudapi.Button{Type: cloudapi.ButtonPhone, Text: parts[0], PhoneNumber: parts[1]})
		case "code", "copy":
			ex, _ := json.Marshal(parts[0])
			out = append(out, cloudapi.Button{Type: cloudapi.ButtonCopyCode, Text: "Copy code", Example: ex})
		default:
			return nil, web.Tf(ctx, "Zeile %d der Schaltflächen: Bitte mit „Antwort:“, „Link:“, „Anruf:“ oder „Code:“ beginnen.", i+1)
		}
	}
	return out, ""
}

func isDigitsStr(s string) bool {
	_, err := strconv.ParseUint(s, 10, 64)
	return err == nil
}

// templateEdit sends the edit form's components to Meta through the
// same Manager.Edit the API uses: Meta reviews the template again, and
// nothing changes locally when Pforte or Meta refuses.
func (s *Server) templateEdit(w http.ResponseWriter, r *http.Request) {
	waba, ok := s.managedAccount(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	name, lang := strings.TrimSpace(r.PostFormValue("name")), strings.TrimSpace(r.PostFormValue("language"))
	if _, err := s.store.TemplateOf(ctx, waba, name, lang); err != nil {
		st, msg := templateFailure(ctx, err)
		s.renderTemplates(w, r, st, msg, "")
		return
	}
	def, msg := s.definitionFromForm(r)
	if msg != "" {
		s.renderTemplates(w, r, http.StatusUnprocessableEntity, msg, "")
		return
	}
	if err := s.cfg.Templates.Edit(ctx, waba, name, lang, def.Components, viewerOf(r).actor()); err != nil {
		st, msg := templateFailure(ctx, err)
		var me *templates.MetaError
		if errors.As(err, &me) {
			msg = web.Tf(ctx, "Meta hat die Änderung nicht angenommen: %s", me.Reason)
		}
		s.renderTemplates(w, r, st, msg, "")
		return
	}
	redirect(w, r, "/templates?edited=1")
}

// templateFromLibrary creates a template from Meta's library.
func (s *Server) templateFromLibrary(w http.ResponseWriter, r *http.Request) {
	waba, ok := s.managedAccount(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	lib := strings.TrimSpace(r.PostFormValue("library"))
	cat := store.CategoryUtility
	if l, err := s.cfg.Templates.Library(ctx, "", ""); err == nil {
		for _, x := range l {
			if x.Name == lib && x.Category != "" {
				cat = x.Category
			}
		}
	}
	d := templates.Definition{Name: strings.TrimSpace(r.PostFormValue("name")), Language: strings.TrimSpace(r.PostFormValue("language")),
		Category: cat, LibraryName: lib}
	if lib == "" {
		s.renderTemplates(w, r, http.StatusUnprocessableEntity, web.T(ctx, "Bitte wählen Sie eine Vorlage aus der Bibliothek."), "")
		return
	}
	if _, err := s.cfg.Templates.Create(ctx, waba, d, viewerOf(r).actor()); err != nil {
		st, msg := templateFailure(ctx, err)
		s.renderTemplates(w, r, st, msg, "")
		return
	}
	redirect(w, r, "/templates?submitted=1")
}

// templateDelete deletes one language of a template at Meta.
func (s *Server) templateDelete(w http.ResponseWriter, r *http.Request) {
	waba, ok := s.managedAccount(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	if err := s.cfg.Templates.Delete(ctx, waba, r.PostFormValue("name"), r.PostFormValue("language"), viewerOf(r).actor()); err != nil {
		st, msg := templateFailure(ctx, err)
		s.renderTemplates(w, r, st, msg, "")
		return
	}
	redirect(w, r, "/templates")
}

// ---- "Neue Unterhaltung" (agents start a conversation) ----

func (s *Server) newConversationView(ctx context.Context) (web.NewConversationVM, error) {
	var vm web.NewConversationVM
	nums, err := s.store.BusinessNumbers(ctx)
	if err != nil {
		return vm, err
	}
	wabas := map[string]bool{}
	for _, n := range nums {
		label := n.DisplayPhoneNumber
		if label == "" {
			label = n.PhoneNumberID
		} else {
			label = "+" + strings.TrimPrefix(label, "+")
		}
		vm.Numbers = append(vm.Numbers, web.NumberOptionVM{PhoneNumberID: n.PhoneNumberID, Display: label, WABAID: n.WABAID})
		wabas[n.WABAID] = true
	}
	seen := map[string]bool{}
	for w := range wabas {
		ts, err := s.sendableTemplates(ctx, w)
		if err != nil {
			return vm, err
		}
		for _, t := range ts {
			k := t.WABAID + "|" + t.Key()
			if t.Usable && !seen[k] {
				seen[k] = true
				vm.Templates = append(vm.Templates, t)
			}
		}
	}
	slices.SortFunc(vm.Templates, func(a, b web.TemplateVM) int { return strings.Compare(a.Key(), b.Key()) })
	cs, err := s.store.Contacts(ctx, "", 500, 0)
	if err != nil {
		return vm, err
	}
	for _, c := range cs {
		if c.WaID == "" || c.Restricted {
			continue
		}
		label := "+" + c.WaID
		if c.Name != "" {
			label = c.Name + " (+" + c.WaID + ")"
		}
		vm.Contacts = append(vm.Contacts, web.ContactOptionVM{Key: c.WaID, Label: label})
	}
	return vm, nil
}

func (s *Server) newConversationPage(w http.ResponseWriter, r *http.Request) {
	s.renderNewConversation(w, r, http.StatusOK, "")
}

func (s *Server) renderNewConversation(w http.ResponseWriter, r *http.Request, status int, errMsg string) {
	ctx := r.Context()
	vm, err := s.newConversationView(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	vm.Error = errMsg
	vm.Phone, vm.ContactKey, vm.NumberID, vm.TemplateKey = r.PostFormValue("phone"), r.PostFormValue("contact"), r.PostFormValue("number"), r.PostFormValue("template")
	s.page(w, r, status, web.Chrome{Title: web.T(ctx, "Neue Unterhaltung"), Nav: "inbox"}, web.NewConversation(vm))
}

// newConversationSubmit sends the first template to an existing contact or
// a new number and assigns the conversation to the agent who started it.
func (s *Server) newConversationSubmit(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := viewerOf(r)
	if s.panel.cfg.Sender == nil {
		s.renderNewConversation(w, r, http.StatusServiceUnavailable, web.T(ctx, "Senden ist nicht eingerichtet."))
		return
	}
	vm, err := s.newConversationView(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	// Whom: a contact from the list, else the typed number (German
	// numbers may be typed nationally, 0151 …).
	waID := strings.TrimSpace(r.PostFormValue("contact"))
	if waID != "" && !slices.ContainsFunc(vm.Contacts, func(c web.ContactOptionVM) bool { return c.Key == waID }) {
		s.renderNewConversation(w, r, http.StatusUnprocessableEntity, web.T(ctx, "Diesen Kontakt gibt es nicht (mehr)."))
		return
	}
	if waID == "" {
		d, ok := store.ParsePhoneE164(r.PostFormValue("phone"))
		if !ok {
			s.renderNewConversation(w, r, http.StatusUnprocessableEntity,
				web.T(ctx, "Bitte wählen Sie einen Kontakt oder geben Sie eine gültige Telefonnummer ein, z. B. 0151 23456789 oder +43 664 1234567."))
			return
		}
		waID = d
	}
	pnid := r.PostFormValue("number")
	i := slices.IndexFunc(vm.Numbers, func(n web.NumberOptionVM) bool { return n.PhoneNumberID == pnid })
	if i < 0 {
		s.renderNewConversation(w, r, http.StatusUnprocessableEntity, web.T(ctx, "Bitte wählen Sie eine Absendernummer."))
		return
	}
	waba := vm.Numbers[i].WABAID
	key := r.PostFormValue("template")
	j := slices.IndexFunc(vm.Templates, func(t web.TemplateVM) bool {
		return t.Key() == key && (t.WABAID == waba || t.WABAID == "")
	})
	if j < 0 {
		s.renderNewConversation(w, r, http.StatusUnprocessableEntity, web.T(ctx, "Bitte wählen Sie eine genehmigte Vorlage dieser Absendernummer."))
		return
	}
	pt, msg := templateFill(r, vm.Templates[j], headerFileOf(r) != nil)
	if msg != "" {
		s.renderNewConversation(w, r, http.StatusUnprocessableEntity, msg)
		return
	}
	msgIn := Message{PhoneNumberID: pnid, ToWaID: waID, AgentID: v.user.ID, Type: "template", Template: pt}
	done, st, problem := attachHeaderFile(r, &msgIn)
	defer done()
	if problem != "" {
		s.renderNewConversation(w, r, st, problem)
		return
	}
	if err := s.panel.cfg.Sender.PanelSend(ctx, msgIn); err != nil {
		st, msg := sendRefusal(ctx, err)
		if st >= http.StatusInternalServerError {
			s.log.Warn("panel: new conversation not sent", "err", err)
		}
		s.renderNewConversation(w, r, st, msg)
		return
	}
	c, err := s.store.ContactByKey(ctx, waID)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	convID, err := s.store.ConversationWith(ctx, pnid, c.ID)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	a := store_audit(v, r, store.AuditConversationStart)
	if err := s.store.Assign(ctx, convID, v.user.ID, a); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.Publish(Event{Kind: "message", Conversation: convID})
	redirect(w, r, fmt.Sprintf("/conversations/%d", convID))
}

// managedAccount is the start of every managing action: templates are
// managed at all, and the form names one of the configured accounts. It
// has answered when ok is false.
func (s *Server) managedAccount(w http.ResponseWriter, r *http.Request) (waba string, ok bool) {
	if !s.templatesManaged(w, r) {
		return "", false
	}
	waba, msg := s.templateAccount(r)
	if msg != "" {
		s.renderTemplates(w, r, http.StatusUnprocessableEntity, msg, "")
		return "", false
	}
	return waba, true
}
