package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pforte/pforte/server/addressbook"
	"github.com/pforte/pforte/store"
)

// The address book in /api/v1: list and search, create, patch, custom
// field definitions, CSV import (all-or-nothing, with a dry run) and CSV
// export. Refused input is a 400 naming the field (FieldErrorJSON).

// FieldErrorJSON is the error body of refused address book input: which
// field, and why (store's reasons: invalid_phone, duplicate, …).
type FieldErrorJSON struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field"`
		Reason  string `json:"reason"`
	} `json:"error"`
}

func writeFieldError(w http.ResponseWriter, field, reason, msg string) {
	var e FieldErrorJSON
	e.Error.Code, e.Error.Message, e.Error.Field, e.Error.Reason = "invalid_parameter", msg, field, reason
	writeJSON(w, http.StatusBadRequest, e)
}

// contactBookError answers a store error of the address book.
func (s *Server) contactBookError(w http.ResponseWriter, err error, what string) {
	var fe *store.FieldError
	if errors.As(err, &fe) {
		msg := fe.Field + ": " + string(fe.Reason)
		if fe.Detail != "" {
			msg += " (" + fe.Detail + ")"
		}
		writeFieldError(w, fe.Field, string(fe.Reason), msg)
		return
	}
	s.apiStoreError(w, err, what)
}

// ContactEntryJSON is a contact with its address book entry.
type ContactEntryJSON struct {
	ID            int64             `json:"id"`
	WaID          *string           `json:"wa_id"`
	UserID        *string           `json:"user_id"`
	Username      *string           `json:"username,omitempty"`
	Name          string            `json:"name"`
	Email         string            `json:"email"`
	Company       string            `json:"company"`
	Note          string            `json:"note,omitempty"`
	Fields        map[string]string `json:"fields"`
	Labels        []string          `json:"labels"`
	Conversations int               `json:"conversations"`
	LastMessageAt *time.Time        `json:"last_message_at"`
	CreatedAt     time.Time         `json:"created_at"`
}

// ContactListJSON is one page of contacts.
type ContactListJSON struct {
	Data []ContactEntryJSON `json:"data"`
	// Next is the "after" cursor of the following page, absent on the last.
	Next string `json:"next,omitempty"`
}

// apiContactFilter reads the list's filter: q, label (id or name),
// field.<key>=value, phone_number_id, last_contact_before/after (RFC 3339
// or unix seconds).
func (s *Server) apiContactFilter(w http.ResponseWriter, r *http.Request) (store.ContactFilter, bool) {
	q := r.URL.Query()
	f := store.ContactFilter{Query: q.Get("q"), PhoneNumberID: q.Get("phone_number_id")}
	if len(f.Query) > 200 {
		writeFieldError(w, "q", string(store.ReasonTooLong), "q: at most 200 characters")
		return f, false
	}
	if labels := q["label"]; len(labels) > 0 {
		all, err := s.store.Labels(r.Context())
		if err != nil {
			s.apiStoreError(w, err, "labels")
			return f, false
		}
		for _, l := range labels {
			found := false
			for _, have := range all {
				if strings.EqualFold(have.Name, l) || strconv.FormatInt(have.ID, 10) == l {
					f.LabelIDs, found = append(f.LabelIDs, have.ID), true
					break
				}
			}
			if !found {
				writeFieldError(w, "label", string(store.ReasonUnknownLabel), "label: no label "+strconv.Quote(l))
				return f, false
			}
		}
	}
	for k, vs := range q {
		if key, ok := strings.CutPrefix(k, "field."); ok && len(vs) > 0 {
			f.Fields = append(f.Fields, store.FieldMatch{Key: key, Value: vs[0]})
		}
	}
	for name, dst := range map[string]*int64{"last_contact_before": &f.LastContactBefore, "last_contact_after": &f.LastContactAfter} {
		v := q.Get(name)
		if v == "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			*dst = t.Unix()
		} else if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
			*dst = n
		} else {
			writeFieldError(w, name, string(store.ReasonInvalidDate), name+": RFC 3339 time or unix seconds")
			return f, false
		}
	}
	return f, true
}

func (s *Server) apiContactList(w http.ResponseWriter, r *http.Request) {
	f, ok := s.apiContactFilter(w, r)
	if !ok {
		return
	}
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeFieldError(w, "limit", string(store.ReasonInvalidNumber), "limit must be a number from 1 to 500")
			return
		}
		limit = n
	}
	var after int64
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			writeFieldError(w, "after", string(store.ReasonInvalidNumber), "after must be a cursor from a previous page's next")
			return
		}
		after = n
	}
	items, err := s.store.ListContacts(r.Context(), f, limit+1, after, 0)
	if err != nil {
		s.contactBookError(w, err, "contacts")
		return
	}
	page := ContactListJSON{Data: []ContactEntryJSON{}}
	if len(items) > limit {
		items = items[:limit]
		page.Next = strconv.FormatInt(items[limit-1].ID, 10)
	}
	for _, it := range items {
		j := ContactEntryJSON{ID: it.ID, WaID: optional(it.WaID), UserID: optional(it.UserID), Username: optional(it.Username), Name: it.Name,
			Email: it.Email, Company: it.Company, Labels: []string{}, Conversations: it.Conversations, CreatedAt: time.Unix(it.CreatedAt, 0).UTC()}
		for _, l := range it.Labels {
			j.Labels = append(j.Labels, l.Name)
		}
		if it.LastMessageAt > 0 {
			t := time.Unix(it.LastMessageAt, 0).UTC()
			j.LastMessageAt = &t
		}
		page.Data = append(page.Data, j)
	}
	writeJSON(w, http.StatusOK, page)
}

// contactEntry reads one contact with its details for an answer.
func (s *Server) contactEntry(r *http.Request, c *store.Contact) (*ContactEntryJSON, error) {
	d, err := s.store.ContactDetails(r.Context(), c.ID)
	if err != nil {
		return nil, err
	}
	j := &ContactEntryJSON{ID: c.ID, WaID: optional(c.WaID), UserID: optional(c.UserID), Username: optional(c.Username), Name: c.Name,
		Email: d.Email, Company: d.Company, Note: d.Note, Fields: d.Fields, Labels: []string{}, CreatedAt: time.Unix(c.CreatedAt, 0).UTC()}
	for _, l := range d.Labels {
		j.Labels = append(j.Labels, l.Name)
	}
	return j, nil
}

// contactBody is the JSON of a create or patch: absent members stay.
type contactBody struct {
	Phone   *string           `json:"phone"`
	UserID  *string           `json:"user_id"`
	Name    *string           `json:"name"`
	Email   *string           `json:"email"`
	Company *string           `json:"company"`
	Note    *string           `json:"note"`
	Fields  map[string]string `json:"fields"`
	Labels  *[]string         `json:"labels"` // names; replaces the contact's labels
}

func (s *Server) contactInput(w http.ResponseWriter, r *http.Request) (store.ContactInput, bool) {
	var b contactBody
	if !decodeBody(w, r, &b) {
		return store.ContactInput{}, false
	}
	in := store.ContactInput{Phone: b.Phone, UserID: b.UserID, Name: b.Name, Email: b.Email, Company: b.Company, Note: b.Note, Fields: b.Fields}
	if b.Labels != nil {
		all, err := s.store.Labels(r.Context())
		if err != nil {
			s.apiStoreError(w, err, "labels")
			return in, false
		}
		ids := []int64{}
		for _, name := range *b.Labels {
			found := false
			for _, l := range all {
				if strings.EqualFold(l.Name, name) {
					ids, found = append(ids, l.ID), true
				}
			}
			if !found {
				writeFieldError(w, "labels", string(store.ReasonUnknownLabel), "labels: no label "+strconv.Quote(name))
				return in, false
			}
		}
		in.LabelIDs = &ids
	}
	return in, true
}

func (s *Server) apiContactCreate(w http.ResponseWriter, r *http.Request) {
	in, ok := s.contactInput(w, r)
	if !ok {
		return
	}
	c, err := s.store.CreateContact(r.Context(), in, actor(r), s.now())
	if err != nil {
		s.contactBookError(w, err, "contact")
		return
	}
	j, err := s.contactEntry(r, c)
	if err != nil {
		s.apiStoreError(w, err, "contact")
		return
	}
	writeJSON(w, http.StatusCreated, j)
}

func (s *Server) apiContactPatch(w http.ResponseWriter, r *http.Request) {
	c, err := s.store.ContactByKey(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, err, "contact")
		return
	}
	in, ok := s.contactInput(w, r)
	if !ok {
		return
	}
	if err := s.store.UpdateContact(r.Context(), c.ID, in, actor(r), s.now()); err != nil {
		s.contactBookError(w, err, "contact")
		return
	}
	if c, err = s.store.ContactByID(r.Context(), c.ID); err != nil {
		s.apiStoreError(w, err, "contact")
		return
	}
	j, err := s.contactEntry(r, c)
	if err != nil {
		s.apiStoreError(w, err, "contact")
		return
	}
	writeJSON(w, http.StatusOK, j)
}

// ContactFieldJSON is a custom field definition.
type ContactFieldJSON struct {
	ID      int64    `json:"id"`
	Key     string   `json:"key"`
	Label   string   `json:"label"`
	Kind    string   `json:"kind"`
	Choices []string `json:"choices,omitempty"`
}

func (s *Server) apiContactFieldList(w http.ResponseWriter, r *http.Request) {
	defs, err := s.store.ContactFields(r.Context())
	if err != nil {
		s.apiStoreError(w, err, "contact fields")
		return
	}
	out := []ContactFieldJSON{}
	for _, d := range defs {
		out = append(out, ContactFieldJSON{d.ID, d.Key, d.Label, string(d.Kind), d.Choices})
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (s *Server) apiContactFieldCreate(w http.ResponseWriter, r *http.Request) {
	var b ContactFieldJSON
	if !decodeBody(w, r, &b) {
		return
	}
	f, err := s.store.SaveContactField(r.Context(), store.ContactField{Key: b.Key, Label: b.Label, Kind: store.FieldKind(b.Kind), Choices: b.Choices},
		actor(r), s.now())
	if err != nil {
		s.contactBookError(w, err, "contact field")
		return
	}
	writeJSON(w, http.StatusCreated, ContactFieldJSON{f.ID, f.Key, f.Label, string(f.Kind), f.Choices})
}

func (s *Server) apiContactFieldDelete(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeAPIError(w, http.StatusNotFound, "not_found", "contact field not found")
		return
	}
	if err := s.store.DeleteContactField(r.Context(), id, actor(r), s.now()); err != nil {
		s.apiStoreError(w, err, "contact field")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ImportResultJSON reports an import or its dry run.
type ImportResultJSON struct {
	DryRun    bool             `json:"dry_run"`
	Imported  bool             `json:"imported"`
	Encoding  string           `json:"encoding"`
	Separator string           `json:"separator"`
	Mapping   []string         `json:"mapping"`
	Rows      int              `json:"rows"`
	Created   int              `json:"created"`
	Updated   int              `json:"updated"`
	Consents  int              `json:"consents"`
	Labels    int              `json:"labels_created"`
	Refused   int              `json:"refused"`
	Errors    []ImportRowError `json:"errors"`
}

// ImportRowError is one refused row.
type ImportRowError struct {
	Line   int    `json:"line"`
	Field  string `json:"field"`
	Reason string `json:"reason"`
}

// maxImportBody bounds an import upload (200 000 rows of a typical
// address book are about 30 MB).
const maxImportBody = 64 << 20

// apiContactImport imports the CSV in the body: ?dry_run=true checks
// only; ?mapping=phone,name,,field:kundennummer maps the columns in
// order (default: guessed from the header); ?file_name= is kept as the
// consent records' evidence. All-or-nothing: with any refused row the
// answer is 400 with every row's problem and nothing is stored.
func (s *Server) apiContactImport(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	name := strings.TrimSpace(q.Get("file_name"))
	if name == "" {
		name = "api-import.csv"
	}
	if len(name) > 120 {
		name = name[:120]
	}
	dry := q.Get("dry_run") == "true" || q.Get("dry_run") == "1"
	// Spooled to the data directory: the file is read twice (check, then write).
	spool, err := s.store.NewSpoolFile()
	if err != nil {
		s.apiStoreError(w, err, "import")
		return
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	if _, err := io.Copy(spool, http.MaxBytesReader(w, r.Body, maxImportBody)); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeAPIError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the file is larger than %d MB", maxImportBody>>20))
			return
		}
		writeAPIError(w, http.StatusBadRequest, "invalid_parameter", "the body could not be read")
		return
	}
	f, err := addressbook.Open(name, spool)
	switch {
	case errors.Is(err, addressbook.ErrEncoding):
		writeFieldError(w, "file", "invalid_encoding", "the file is neither UTF-8 nor Windows-1252 text")
		return
	case errors.Is(err, addressbook.ErrNoHeader):
		writeFieldError(w, "file", "no_header", "the file is empty or has no header line")
		return
	case err != nil:
		writeFieldError(w, "file", "invalid_file", err.Error())
		return
	}
	defs, err := s.store.ContactFields(ctx)
	if err != nil {
		s.apiStoreError(w, err, "import")
		return
	}
	mapping := addressbook.GuessMapping(f.Header, defs)
	if m := q.Get("mapping"); m != "" {
		parts := strings.Split(m, ",")
		if len(parts) != len(f.Header) {
			writeFieldError(w, "mapping", "invalid_mapping", fmt.Sprintf("mapping names %d columns, the file has %d", len(parts), len(f.Header)))
			return
		}
		for i, p := range parts {
			mapping[i] = addressbook.Target(strings.TrimSpace(p))
		}
	}
	if err := addressbook.CheckMapping(mapping, defs); err != nil {
		var me *addressbook.MappingError
		errors.As(err, &me)
		writeFieldError(w, "mapping", "invalid_mapping", fmt.Sprintf("column %d (%s): %s", me.Column+1, me.Target, me.Reason))
		return
	}
	res, err := s.store.ImportContacts(ctx, f.Scan(mapping), store.ImportOptions{FileName: name, Actor: actor(r), Now: s.now(), DryRun: dry})
	switch {
	case errors.Is(err, store.ErrImportEmpty):
		writeFieldError(w, "file", "no_rows", "the file has no data rows")
		return
	case errors.Is(err, store.ErrImportTooLarge):
		writeFieldError(w, "file", "too_many_rows", fmt.Sprintf("at most %d rows", store.MaxImportRows))
		return
	case errors.Is(err, store.ErrInvalid):
		writeFieldError(w, "file", "invalid_file", err.Error())
		return
	case err != nil:
		s.apiStoreError(w, err, "import")
		return
	}
	out := ImportResultJSON{DryRun: dry, Imported: res.Imported, Encoding: string(f.Encoding), Separator: string(f.Separator),
		Rows: res.Rows, Created: res.Created, Updated: res.Updated, Consents: res.Consents, Labels: res.Labels, Refused: res.Refused,
		Errors: []ImportRowError{}}
	for _, t := range mapping {
		out.Mapping = append(out.Mapping, string(t))
	}
	for _, e := range res.Errors {
		out.Errors = append(out.Errors, ImportRowError{Line: e.Line, Field: e.Field, Reason: string(e.Reason)})
	}
	status := http.StatusOK
	if res.Refused > 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, out)
}

// apiContactExportCSV streams the (filtered) address book as CSV, UTF-8
// with BOM; ?separator=comma for ',' instead of ';'. Audited first.
func (s *Server) apiContactExportCSV(w http.ResponseWriter, r *http.Request) {
	f, ok := s.apiContactFilter(w, r)
	if !ok {
		return
	}
	sep := ';'
	if r.URL.Query().Get("separator") == "comma" {
		sep = ','
	}
	filter, _ := json.Marshal(r.URL.Query())
	if err := s.store.Audit(r.Context(), store.AuditEntry{TS: s.now().Unix(), Actor: actor(r), Action: store.AuditContactsExport,
		Target: "contacts", Detail: string(filter)}); err != nil {
		s.apiStoreError(w, err, "export")
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="pforte-kontakte-%s.csv"`, s.now().UTC().Format("20060102")))
	if _, err := addressbook.Export(r.Context(), s.store, f, w, addressbook.ExportOptions{Separator: sep}); err != nil {
		s.log.Error("api: contacts export failed", "err", err)
		panic(http.ErrAbortHandler)
	}
}
