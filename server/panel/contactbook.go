package panel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pforte/pforte/server/addressbook"
	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// The address book: list with filters, create and edit, custom fields,
// merge, CSV import and export, asking a BSUID-only customer for their
// number. The store checks every value (store.CheckContactInput); the
// panel words its reasons in German (web.ReasonText).

const contactsPerPage = 50

// contactFilter reads the list's filter from the query (or a form).
func contactFilter(get func(string) string) (store.ContactFilter, int64, string, string) {
	q := strings.TrimSpace(get("q"))
	if utf8.RuneCountInString(q) > 100 {
		q = string([]rune(q)[:100])
	}
	f := store.ContactFilter{Query: q}
	label, _ := strconv.ParseInt(get("label"), 10, 64)
	if label > 0 {
		f.LabelIDs = []int64{label}
	}
	key, value := strings.TrimSpace(get("field")), strings.TrimSpace(get("value"))
	if key != "" {
		f.Fields = []store.FieldMatch{{Key: key, Value: value}}
	}
	return f, label, key, value
}

func (s *Server) contacts(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	f, label, key, value := contactFilter(r.URL.Query().Get)
	f.HideRestricted = !v.seesRestricted()
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	page = min(max(page, 0), 10_000)
	vm := web.AddressBookVM{Query: f.Query, LabelID: label, FieldKey: key, FieldValue: value,
		CanEdit: v.user.Role == store.RoleAdmin || v.user.Role == store.RoleAgent, CanAdmin: v.user.Role == store.RoleAdmin}
	if err := s.fillChoices(ctx, &vm.Labels, &vm.Fields); err != nil {
		s.storeFail(w, r, err)
		return
	}
	status := http.StatusOK
	items, err := s.store.ListContacts(ctx, f, contactsPerPage+1, 0, page*contactsPerPage)
	var fe *store.FieldError
	if errors.As(err, &fe) {
		status, vm.Error = http.StatusBadRequest, fieldLabelOf(ctx, fe.Field, vm.Fields)+": "+web.ReasonText(ctx, string(fe.Reason))
	} else if err != nil {
		s.storeFail(w, r, err)
		return
	}
	if len(items) > contactsPerPage {
		items = items[:contactsPerPage]
		vm.NextURL = "/contacts?" + web.FilterQuery(f.Query, label, key, value) + "&page=" + strconv.Itoa(page+1)
	}
	for _, it := range items {
		row := web.AddressRowVM{Contact: contactVM(it.Contact), Email: it.Email, Company: it.Company, Conversations: it.Conversations,
			LastAt: time.Unix(it.LastMessageAt, 0), Restricted: it.Restricted}
		for _, l := range it.Labels {
			row.Labels = append(row.Labels, web.LabelVM{ID: l.ID, Name: l.Name, Color: l.Color})
		}
		vm.Items = append(vm.Items, row)
	}
	s.page(w, r, status, web.Chrome{Title: web.T(ctx, "Kontakte"), Nav: "contacts"}, web.AddressBook(vm))
}

// fillChoices loads the labels and custom fields forms offer.
func (s *Server) fillChoices(ctx context.Context, labels *[]web.LabelVM, fields *[]web.ContactFieldVM) error {
	ls, err := s.store.Labels(ctx)
	if err != nil {
		return err
	}
	for _, l := range ls {
		*labels = append(*labels, web.LabelVM{ID: l.ID, Name: l.Name, Color: l.Color})
	}
	defs, err := s.store.ContactFields(ctx)
	if err != nil {
		return err
	}
	for _, d := range defs {
		*fields = append(*fields, fieldVM(d))
	}
	return nil
}

func fieldVM(d store.ContactField) web.ContactFieldVM {
	return web.ContactFieldVM{ID: d.ID, Key: d.Key, Label: d.Label, Kind: string(d.Kind), Choices: d.Choices}
}

// fieldLabelOf names a store field ("fields.kundennummer" by its label).
func fieldLabelOf(ctx context.Context, field string, defs []web.ContactFieldVM) string {
	if key, ok := strings.CutPrefix(field, "fields."); ok {
		for _, d := range defs {
			if d.Key == key {
				return d.Label
			}
		}
		return key
	}
	return web.FieldLabel(ctx, field)
}

// contactForm builds the form's view model; c is nil for a new contact.
func (s *Server) contactFormVM(ctx context.Context, id int64) (web.ContactFormVM, error) {
	vm := web.ContactFormVM{ID: id, Errors: map[string]string{}}
	if err := s.fillChoices(ctx, &vm.Labels, &vm.Fields); err != nil {
		return vm, err
	}
	if id == 0 {
		return vm, nil
	}
	c, err := s.store.ContactByID(ctx, id)
	if err != nil {
		return vm, err
	}
	d, err := s.store.ContactDetails(ctx, id)
	if err != nil {
		return vm, err
	}
	if c.WaID != "" {
		vm.Phone = "+" + c.WaID
	}
	vm.UserID, vm.Name, vm.Email, vm.Company, vm.Note = c.UserID, c.Name, d.Email, d.Company, d.Note
	for i := range vm.Fields {
		vm.Fields[i].Value = d.Fields[vm.Fields[i].Key]
	}
	for i := range vm.Labels {
		vm.Labels[i].On = slices.ContainsFunc(d.Labels, func(l store.Label) bool { return l.ID == vm.Labels[i].ID })
	}
	return vm, nil
}

func (s *Server) contactNew(w http.ResponseWriter, r *http.Request) {
	vm, err := s.contactFormVM(r.Context(), 0)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(r.Context(), "Neuer Kontakt"), Nav: "contacts"}, web.ContactForm(vm))
}

func (s *Server) contactEdit(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	if !s.contactVisible(w, r, id) {
		return
	}
	vm, err := s.contactFormVM(r.Context(), id)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(r.Context(), "Kontakt bearbeiten"), Nav: "contacts"}, web.ContactForm(vm))
}

// contactVisible answers 404 for a contact the viewer may not see: agents
// never see restricted ones (Art. 18).
func (s *Server) contactVisible(w http.ResponseWriter, r *http.Request, id int64) bool {
	if viewerOf(r).seesRestricted() {
		return true
	}
	restricted, err := s.store.Restricted(r.Context(), id)
	if err != nil {
		s.storeFail(w, r, err)
		return false
	}
	if restricted {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return false
	}
	return true
}

// contactInputFromForm reads the contact form: every field is given (an
// empty one clears the value).
func contactInputFromForm(r *http.Request, defs []web.ContactFieldVM) store.ContactInput {
	get := func(k string) *string { v := r.PostFormValue(k); return &v }
	in := store.ContactInput{Phone: get("phone"), Name: get("name"), Email: get("email"), Company: get("company"), Note: get("note"),
		Fields: map[string]string{}}
	for _, d := range defs {
		in.Fields[d.Key] = r.PostFormValue("field." + d.Key)
	}
	labels := []int64{}
	for _, v := range r.PostForm["label"] {
		if id, err := strconv.ParseInt(v, 10, 64); err == nil && id > 0 {
			labels = append(labels, id)
		}
	}
	in.LabelIDs = &labels
	return in
}

func (s *Server) contactCreate(w http.ResponseWriter, r *http.Request) { s.saveContact(w, r, 0) }

func (s *Server) contactUpdate(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	if !s.contactVisible(w, r, id) {
		return
	}
	s.saveContact(w, r, id)
}

// saveContact creates (id 0) or updates a contact from the form; refused
// input comes back in the form with the field's German error and nothing
// stored.
func (s *Server) saveContact(w http.ResponseWriter, r *http.Request, id int64) {
	ctx, v := r.Context(), viewerOf(r)
	vm, err := s.contactFormVM(ctx, id)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	in := contactInputFromForm(r, vm.Fields)
	if id == 0 {
		var c *store.Contact
		if c, err = s.store.CreateContact(ctx, in, v.actor(), s.now()); err == nil {
			id = c.ID
		}
	} else {
		err = s.store.UpdateContact(ctx, id, in, v.actor(), s.now())
	}
	var fe *store.FieldError
	if errors.As(err, &fe) {
		// Show what was typed, with the error at its field.
		vm.Phone, vm.Name, vm.Email, vm.Company, vm.Note = *in.Phone, *in.Name, *in.Email, *in.Company, *in.Note
		for i := range vm.Fields {
			vm.Fields[i].Value = in.Fields[vm.Fields[i].Key]
			if fe.Field == "fields."+vm.Fields[i].Key {
				vm.Fields[i].Error = web.ReasonText(ctx, string(fe.Reason))
			}
		}
		for i := range vm.Labels {
			vm.Labels[i].On = slices.Contains(*in.LabelIDs, vm.Labels[i].ID)
		}
		vm.Errors[fe.Field] = web.ReasonText(ctx, string(fe.Reason))
		vm.Error = web.Tf(ctx, "Nicht gespeichert: %s – %s", fieldLabelOf(ctx, fe.Field, vm.Fields), web.ReasonText(ctx, string(fe.Reason)))
		s.page(w, r, http.StatusUnprocessableEntity, web.Chrome{Title: web.T(ctx, "Kontakt bearbeiten"), Nav: "contacts"}, web.ContactForm(vm))
		return
	}
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(ctx, "Kontakt gespeichert."))
	redirect(w, r, fmt.Sprintf("/contacts/%d", id))
}

// contactBookVM is the address book part of the contact page.
func (s *Server) contactBookVM(ctx context.Context, v *viewer, c *store.Contact, convs []*store.ConversationSummary) (*web.ContactBookVM, error) {
	d, err := s.store.ContactDetails(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	defs, err := s.store.ContactFields(ctx)
	if err != nil {
		return nil, err
	}
	role := v.user.Role
	vm := &web.ContactBookVM{Email: d.Email, Company: d.Company, Note: d.Note,
		CanEdit: role == store.RoleAdmin || role == store.RoleAgent, CanMerge: role == store.RoleAdmin}
	for _, def := range defs {
		f := fieldVM(def)
		f.Value = d.Fields[def.Key]
		vm.Fields = append(vm.Fields, f)
	}
	for _, l := range d.Labels {
		vm.Labels = append(vm.Labels, web.LabelVM{ID: l.ID, Name: l.Name, Color: l.Color})
	}
	if c.WaID == "" && c.UserID != "" && vm.CanEdit && s.cfg.Outbox != nil {
		for _, cs := range convs {
			if cs.LastInboundAt > 0 && store.WindowOpen(cs.LastInboundAt, s.now()) {
				vm.Numbers = append(vm.Numbers, cs.PhoneNumberID)
			}
		}
		vm.CanRequestInfo = len(vm.Numbers) > 0
	}
	return vm, nil
}

// contactMerge merges another contact (named by number, BSUID or its
// number in the panel) into this one.
func (s *Server) contactMerge(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	key := strings.TrimSpace(r.PostFormValue("other"))
	fail := func(msg string) {
		setFlash(w, msg)
		redirect(w, r, fmt.Sprintf("/contacts/%d", id))
	}
	var other *store.Contact
	var err error
	if n, perr := strconv.ParseInt(strings.TrimPrefix(key, "#"), 10, 64); perr == nil && n > 0 && len(key) < 10 {
		other, err = s.store.ContactByID(ctx, n)
	} else {
		if d, ok := store.ParsePhoneE164(key); ok {
			key = d
		}
		other, err = s.store.ContactByKey(ctx, key)
	}
	if errors.Is(err, store.ErrNotFound) {
		fail(web.T(ctx, "Nicht zusammengeführt: Kein Kontakt mit dieser Nummer oder Kennung gefunden."))
		return
	}
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	res, err := s.store.MergeContacts(ctx, id, other.ID, v.actor(), s.now())
	var fe *store.FieldError
	switch {
	case errors.As(err, &fe) && other.ID == id:
		fail(web.T(ctx, "Nicht zusammengeführt: Das ist derselbe Kontakt."))
		return
	case errors.As(err, &fe):
		fail(web.T(ctx, "Nicht zusammengeführt: Beide Kontakte haben eine Telefonnummer (oder beide eine BSUID). Für WhatsApp sind das zwei Personen."))
		return
	case err != nil:
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.Tf(ctx, "Zusammengeführt: %s, %s.", web.Plural(ctx, int64(res.Conversations+res.Joined), "%s Unterhaltung", "%s Unterhaltungen"),
		web.Plural(ctx, int64(res.Consents), "%s Einwilligung", "%s Einwilligungen")))
	redirect(w, r, fmt.Sprintf("/contacts/%d", id))
}

// requestNumberText is what the customer reads above WhatsApp's button.
const requestNumberText = "Damit wir Sie auch telefonisch erreichen können: Möchten Sie uns Ihre Telefonnummer mitteilen? Tippen Sie dazu auf den Button."

// contactRequestNumber sends Meta's request_contact_info message through
// the outbox to a customer known only by a business-scoped user id.
func (s *Server) contactRequestNumber(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	id, ok := pathID(r, "id")
	if !ok || s.cfg.Outbox == nil {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	if !s.contactVisible(w, r, id) {
		return
	}
	c, err := s.store.ContactByID(ctx, id)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	back := fmt.Sprintf("/contacts/%d", id)
	if c.WaID != "" || c.UserID == "" {
		setFlash(w, web.T(ctx, "Die Telefonnummer ist schon bekannt."))
		redirect(w, r, back)
		return
	}
	pnid := r.PostFormValue("number")
	body, err := cloudapi.RequestContactInfo(cloudapi.Recipient{UserID: c.UserID}, web.T(ctx, requestNumberText))
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	raw, err := json.Marshal(body)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	if _, err := s.cfg.Outbox.Enqueue(ctx, outbox.Request{PhoneNumberID: pnid, Body: raw, Actor: v.actor()}); err != nil {
		_, msg := sendRefusal(ctx, err)
		setFlash(w, msg)
		redirect(w, r, back)
		return
	}
	if err := s.store.Audit(ctx, store.AuditEntry{TS: s.now().Unix(), Actor: v.actor(), Action: store.AuditContactInfoRequest,
		Target: fmt.Sprintf("contact:%d", id), Detail: fmt.Sprintf(`{"phone_number_id":%q}`, pnid)}); err != nil {
		s.log.Warn("panel: audit of a number request failed", "err", err)
	}
	setFlash(w, web.T(ctx, "Anfrage gesendet: Die Person sieht in WhatsApp einen Button, um ihre Nummer zu teilen."))
	redirect(w, r, back)
}

// --- custom fields ----------------------------------------------------------

func (s *Server) contactFieldsPage(w http.ResponseWriter, r *http.Request) {
	s.renderFields(w, r, http.StatusOK, web.ContactFieldVM{Kind: "text"}, nil)
}

func (s *Server) renderFields(w http.ResponseWriter, r *http.Request, status int, form web.ContactFieldVM, errs map[string]string) {
	ctx := r.Context()
	defs, err := s.store.ContactFields(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	vm := web.ContactFieldsVM{Form: form, Errors: errs}
	for _, d := range defs {
		vm.Fields = append(vm.Fields, fieldVM(d))
	}
	s.page(w, r, status, web.Chrome{Title: web.T(ctx, "Eigene Felder"), Nav: "contacts"}, web.ContactFields(vm))
}

func (s *Server) contactFieldCreate(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	f := store.ContactField{Key: r.PostFormValue("key"), Label: r.PostFormValue("label"), Kind: store.FieldKind(r.PostFormValue("kind")),
		Choices: strings.Split(strings.ReplaceAll(r.PostFormValue("choices"), "\r", ""), "\n")}
	_, err := s.store.SaveContactField(ctx, f, v.actor(), s.now())
	var fe *store.FieldError
	if errors.As(err, &fe) {
		s.renderFields(w, r, http.StatusUnprocessableEntity, web.ContactFieldVM{Key: f.Key, Label: f.Label, Kind: string(f.Kind), Choices: f.Choices},
			map[string]string{fe.Field: web.ReasonText(ctx, string(fe.Reason))})
		return
	}
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(ctx, "Feld angelegt."))
	redirect(w, r, "/contacts/fields")
}

func (s *Server) contactFieldDelete(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(r, "id")
	if !ok {
		s.failPage(w, r, http.StatusNotFound, "Nicht gefunden.")
		return
	}
	if err := s.store.DeleteContactField(r.Context(), id, viewerOf(r).actor(), s.now()); err != nil {
		s.storeFail(w, r, err)
		return
	}
	setFlash(w, web.T(r.Context(), "Feld gelöscht."))
	redirect(w, r, "/contacts/fields")
}

// --- import and export ------------------------------------------------------

// Uploaded import files wait in the spool folder between the upload and
// the import (never longer than importFileMaxAge; the store sweeps the
// folder at start too). Their name is a random token.
const importFileMaxAge = time.Hour

var importTokenRe = regexp.MustCompile(`^[0-9a-f]{32}$`)

func (s *Server) importPath(token string) string {
	return filepath.Join(s.store.Dir(), store.SpoolDirName, "import-"+token+".csv")
}

// sweepImports removes import files older than importFileMaxAge.
func (s *Server) sweepImports() {
	dir := filepath.Join(s.store.Dir(), store.SpoolDirName)
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && strings.HasPrefix(e.Name(), "import-") && s.now().Sub(fi.ModTime()) > importFileMaxAge {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

func (s *Server) contactImportPage(w http.ResponseWriter, r *http.Request) {
	s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(r.Context(), "Kontakte importieren"), Nav: "contacts"}, web.ContactImport(web.ImportVM{}))
}

// importFileName keeps a file name fit for evidence and display.
func importFileName(name string) string {
	name = filepath.Base(strings.ReplaceAll(name, `\`, "/"))
	name = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, name)
	if utf8.RuneCountInString(name) > 120 {
		name = string([]rune(name)[:120])
	}
	if name == "" || name == "." || name == "/" {
		name = "import.csv"
	}
	return name
}

// openImportErr words why a file cannot be read.
func openImportErr(ctx context.Context, err error) string {
	switch {
	case errors.Is(err, addressbook.ErrEncoding):
		return web.T(ctx, "Die Datei ist keine lesbare CSV-Datei (weder UTF-8 noch Windows-1252). Bitte in Excel „Speichern unter“ → „CSV UTF-8“ wählen.")
	case errors.Is(err, addressbook.ErrNoHeader):
		return web.T(ctx, "Die Datei ist leer oder hat keine Kopfzeile.")
	case errors.Is(err, store.ErrInvalid):
		return web.T(ctx, "Die Datei hat zu viele Spalten (höchstens 100).")
	}
	return ""
}

func (s *Server) contactImportUpload(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	up := uploadedFileOf(r, "file")
	fail := func(msg string) {
		s.page(w, r, http.StatusUnprocessableEntity, web.Chrome{Title: web.T(ctx, "Kontakte importieren"), Nav: "contacts"},
			web.ContactImport(web.ImportVM{Error: msg}))
	}
	if up == nil || up.Size == 0 {
		fail(web.T(ctx, "Bitte eine CSV-Datei wählen."))
		return
	}
	s.sweepImports()
	b := make([]byte, 16)
	rand.Read(b)
	token := hex.EncodeToString(b)
	if err := copyFile(up.path, s.importPath(token)); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.renderMapping(w, r, token, importFileName(up.Name), nil, nil)
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		os.Remove(to)
		return err
	}
	return dst.Close()
}

// renderMapping shows the mapping form with a preview; mapping nil means
// "guess", result is a dry run's or refused import's report.
func (s *Server) renderMapping(w http.ResponseWriter, r *http.Request, token, name string, mapping []addressbook.Target, result *web.ImportResultVM) {
	s.renderMappingMsg(w, r, token, name, mapping, result, "")
}

// renderMappingMsg is renderMapping with an error above the form (a
// mapping or file problem); the file stays for another try.
func (s *Server) renderMappingMsg(w http.ResponseWriter, r *http.Request, token, name string, mapping []addressbook.Target, result *web.ImportResultVM, msg string) {
	ctx := r.Context()
	title := web.Chrome{Title: web.T(ctx, "Kontakte importieren"), Nav: "contacts"}
	src, err := os.Open(s.importPath(token))
	if errors.Is(err, os.ErrNotExist) {
		s.page(w, r, http.StatusGone, title, web.ContactImport(web.ImportVM{Error: web.T(ctx, "Die hochgeladene Datei ist nicht mehr da (nach einer Stunde wird sie gelöscht). Bitte erneut hochladen.")}))
		return
	}
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	defer src.Close()
	f, err := addressbook.Open(name, src)
	if msg := openImportErr(ctx, err); msg != "" {
		os.Remove(s.importPath(token))
		s.page(w, r, http.StatusUnprocessableEntity, title, web.ContactImport(web.ImportVM{Error: msg}))
		return
	}
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	defs, err := s.store.ContactFields(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	if mapping == nil {
		mapping = addressbook.GuessMapping(f.Header, defs)
	}
	vm := web.ImportVM{Token: token, FileName: name, Encoding: string(f.Encoding), Separator: separatorName(ctx, f.Separator),
		Header: f.Header, Result: result, Error: msg}
	for _, m := range mapping {
		vm.Mapping = append(vm.Mapping, string(m))
	}
	vm.Targets = append(vm.Targets, web.ImportTargetVM{Value: "", Label: web.ImportTargetLabel(ctx, "")})
	for _, t := range addressbook.BuiltinTargets {
		vm.Targets = append(vm.Targets, web.ImportTargetVM{Value: string(t), Label: web.ImportTargetLabel(ctx, string(t))})
	}
	for _, d := range defs {
		vm.Targets = append(vm.Targets, web.ImportTargetVM{Value: string(addressbook.FieldTarget(d.Key)), Label: web.Tf(ctx, "Feld: %s", d.Label)})
	}
	if vm.Preview, err = f.Preview(5); err != nil {
		vm.Error = web.Tf(ctx, "Die Datei ist nicht lesbar: %s", err.Error())
	}
	status := http.StatusOK
	if msg != "" || (result != nil && result.Refused > 0) {
		status = http.StatusUnprocessableEntity
	}
	s.page(w, r, status, title, web.ContactImport(vm))
}

func separatorName(ctx context.Context, r rune) string {
	if r == '\t' {
		return web.T(ctx, "Tabulator")
	}
	return string(r)
}

// contactImportRun checks (dry run) or imports the uploaded file with the
// chosen mapping. An import is all-or-nothing: one bad row and nothing is
// stored; the report names every bad row (the first 1000).
func (s *Server) contactImportRun(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	token := r.PostFormValue("token")
	name := importFileName(r.PostFormValue("name"))
	if !importTokenRe.MatchString(token) {
		s.failPage(w, r, http.StatusBadRequest, "Ungültige Eingabe.")
		return
	}
	defs, err := s.store.ContactFields(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	src, err := os.Open(s.importPath(token))
	if err != nil {
		s.renderMapping(w, r, token, name, nil, nil) // says the file is gone
		return
	}
	defer src.Close()
	f, err := addressbook.Open(name, src)
	if err != nil {
		s.renderMapping(w, r, token, name, nil, nil)
		return
	}
	mapping := make([]addressbook.Target, len(f.Header))
	for i := range mapping {
		mapping[i] = addressbook.Target(r.PostFormValue(fmt.Sprintf("col%d", i)))
	}
	dry := r.PostFormValue("dry_run") == "1"
	if err := addressbook.CheckMapping(mapping, defs); err != nil {
		var me *addressbook.MappingError
		msg := web.T(ctx, "Ungültige Zuordnung.")
		if errors.As(err, &me) {
			switch me.Reason {
			case "no_identifier":
				msg = web.T(ctx, "Bitte eine Spalte als Telefonnummer (oder BSUID) zuordnen.")
			case "twice":
				msg = web.Tf(ctx, "„%s“ ist mehreren Spalten zugeordnet.", web.ImportTargetLabel(ctx, string(me.Target)))
			}
		}
		s.renderMappingErr(w, r, token, name, mapping, msg)
		return
	}
	res, err := s.store.ImportContacts(ctx, f.Scan(mapping), store.ImportOptions{FileName: name, Actor: v.actor(), Now: s.now(), DryRun: dry})
	if err != nil {
		msg := ""
		switch {
		case errors.Is(err, store.ErrImportEmpty):
			msg = web.T(ctx, "Die Datei hat keine Datenzeilen.")
		case errors.Is(err, store.ErrImportTooLarge):
			msg = web.Tf(ctx, "Die Datei hat zu viele Zeilen (höchstens %d). Bitte aufteilen.", store.MaxImportRows)
		case errors.Is(err, store.ErrInvalid):
			msg = web.Tf(ctx, "Die Datei ist nicht lesbar: %s", err.Error())
		}
		if msg != "" {
			s.renderMappingErr(w, r, token, name, mapping, msg)
			return
		}
		s.storeFail(w, r, err)
		return
	}
	vm := &web.ImportResultVM{DryRun: dry, Imported: res.Imported, Rows: res.Rows, Created: res.Created, Updated: res.Updated,
		Consents: res.Consents, Labels: res.Labels, Refused: res.Refused}
	fieldVMs := make([]web.ContactFieldVM, 0, len(defs))
	for _, d := range defs {
		fieldVMs = append(fieldVMs, fieldVM(d))
	}
	for _, e := range res.Errors {
		vm.Errors = append(vm.Errors, web.ImportRowErrorVM{Line: e.Line, Field: fieldLabelOf(ctx, e.Field, fieldVMs),
			Message: web.ReasonText(ctx, string(e.Reason))})
	}
	if res.Imported {
		os.Remove(s.importPath(token))
		s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(ctx, "Kontakte importieren"), Nav: "contacts"},
			web.ContactImport(web.ImportVM{Result: vm}))
		return
	}
	s.renderMapping(w, r, token, name, mapping, vm)
}

func (s *Server) renderMappingErr(w http.ResponseWriter, r *http.Request, token, name string, mapping []addressbook.Target, msg string) {
	s.renderMappingMsg(w, r, token, name, mapping, nil, msg)
}

// contactExportCSV streams the address book (as filtered) as CSV in
// UTF-8 with BOM, which Excel opens with umlauts intact; audited.
func (s *Server) contactExportCSV(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	f, _, _, _ := contactFilter(r.PostFormValue)
	// Audited before the first byte leaves: a failed audit sends nothing.
	if err := s.store.Audit(ctx, store.AuditEntry{TS: s.now().Unix(), Actor: v.actor(), Action: store.AuditContactsExport, Target: "contacts",
		Detail: fmt.Sprintf(`{"filter":%q}`, web.FilterQuery(f.Query, firstID(f.LabelIDs), r.PostFormValue("field"), r.PostFormValue("value")))}); err != nil {
		s.storeFail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="pforte-kontakte-%s.csv"`, s.now().UTC().Format("20060102")))
	if _, err := addressbook.Export(ctx, s.store, f, w, addressbook.ExportOptions{}); err != nil {
		s.log.Error("panel: contacts export failed", "err", err)
		panic(http.ErrAbortHandler) // a cut download, never a short file that looks whole
	}
}

func firstID(ids []int64) int64 {
	if len(ids) == 0 {
		return 0
	}
	return ids[0]
}
