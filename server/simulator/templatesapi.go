package simulator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
)

// The template API of a WhatsApp Business Account as the simulator plays
// it (cloudapi-2026.md §1): list with cursor paging, create (with an
// asynchronous review that sends Meta's status webhook), edit, delete, the
// template library, and the Resumable Upload API for header samples.

// DefaultRejectMarker makes the review reject a template whose name
// contains it.
const DefaultRejectMarker = "reject"

// storedTemplate is a template in the simulated account.
type storedTemplate struct {
	ID              int64
	Name, Language  string
	Category        string
	Status          string
	Reason          string
	ParameterFormat string
	Quality         string
	Components      json.RawMessage
	Library         string
}

// LibraryTemplate is an entry of the simulated template library.
type LibraryTemplate = cloudapi.LibraryTemplate

// defaultLibrary is a small, German-speaking template library.
var defaultLibrary = []LibraryTemplate{
	{Name: "delivery_update_1", Language: "de", Category: "UTILITY", Topic: "ORDER_MANAGEMENT", UseCase: "SHIPPING_UPDATE",
		Body: "Gute Nachrichten: Ihre Bestellung {{1}} ist unterwegs und kommt voraussichtlich am {{2}}."},
	{Name: "appointment_reminder_1", Language: "de", Category: "UTILITY", Topic: "APPOINTMENTS", UseCase: "APPOINTMENT_REMINDER",
		Body: "Erinnerung: Ihr Termin bei {{1}} ist am {{2}} um {{3}} Uhr."},
	{Name: "payment_received_1", Language: "de", Category: "UTILITY", Topic: "PAYMENTS", UseCase: "PAYMENT_CONFIRMATION",
		Body: "Vielen Dank! Wir haben Ihre Zahlung über {{1}} für die Rechnung {{2}} erhalten."},
}

var templateNameRe = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)

func bodyComponents(body string) json.RawMessage {
	c := map[string]any{"type": "BODY", "text": body}
	if ps := cloudapi.Placeholders(body); len(ps) > 0 {
		ex := make([]string, len(ps))
		for i := range ex {
			ex[i] = "Beispiel"
		}
		c["example"] = map[string]any{"body_text": [][]string{ex}}
	}
	b, _ := json.Marshal([]any{c})
	return b
}

// seedTemplates fills the account with the approved templates of Options.
func (s *Simulator) seedTemplates() {
	for _, t := range s.opts.Templates {
		id := t.ID
		if id == 0 {
			s.nextTemplateID++
			id = s.nextTemplateID
		}
		pf := "POSITIONAL"
		if ps := t.Params(); len(ps) > 0 && !isNumber(ps[0]) {
			pf = "NAMED"
		}
		comps := t.Components
		if len(comps) == 0 {
			comps = bodyComponents(t.Body)
		}
		s.templates = append(s.templates, &storedTemplate{ID: id, Name: t.Name, Language: t.Language, Category: t.Category,
			Status: "APPROVED", Quality: "GREEN", ParameterFormat: pf, Components: comps})
	}
}

// AccountTemplates returns the names and statuses of the simulated
// account's templates, "name/language" → status.
func (s *Simulator) AccountTemplates() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for _, t := range s.templates {
		out[t.Name+"/"+t.Language] = t.Status
	}
	return out
}

// TemplateComponents returns the components "Meta" holds for a template
// (nil when unknown), so tests see what an edit reached.
func (s *Simulator) TemplateComponents(name, language string) json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.templates {
		if t.Name == name && t.Language == language {
			return slices.Clone(t.Components)
		}
	}
	return nil
}

// AddAccountTemplate puts a template straight into the account (approved),
// as if created in the WhatsApp Manager; no webhook is sent.
func (s *Simulator) AddAccountTemplate(name, language, category string, components json.RawMessage) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextTemplateID++
	s.templates = append(s.templates, &storedTemplate{ID: s.nextTemplateID, Name: name, Language: language, Category: category,
		Status: "APPROVED", Quality: "GREEN", ParameterFormat: "POSITIONAL", Components: components})
	return s.nextTemplateID
}

// RemoveAccountTemplate deletes a template at "Meta" without telling
// anyone, as a deletion in the WhatsApp Manager of another app would.
func (s *Simulator) RemoveAccountTemplate(name, language string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.templates = slices.DeleteFunc(s.templates, func(t *storedTemplate) bool { return t.Name == name && t.Language == language })
}

func (s *Simulator) ownWABA(w http.ResponseWriter, r *http.Request) bool {
	if !s.authorised(w, r) {
		return false
	}
	if waba := r.PathValue("waba"); waba != s.snapshot().WABAID {
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter",
			"Unsupported request. Object with ID '"+waba+"' does not exist, cannot be loaded due to missing permissions, or does not support this operation.")
		return false
	}
	return true
}

func templateJSON(t *storedTemplate) map[string]any {
	m := map[string]any{"id": strconv.FormatInt(t.ID, 10), "name": t.Name, "language": t.Language, "status": t.Status,
		"category": t.Category, "parameter_format": t.ParameterFormat, "components": t.Components}
	if t.Status == "REJECTED" {
		m["rejected_reason"] = cmpOr(t.Reason, "INVALID_FORMAT")
	}
	if t.Quality != "" {
		m["quality_score"] = map[string]any{"score": t.Quality, "date": time.Now().Unix()}
	}
	if t.Library != "" {
		m["library_template_name"] = t.Library
	}
	return m
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// handleTemplateList is GET /{waba}/message_templates with Meta's cursor
// paging: limit (default TemplatePageSize), after = the previous page's
// cursors.after; paging.next only while more follow.
func (s *Simulator) handleTemplateList(w http.ResponseWriter, r *http.Request) {
	if !s.ownWABA(w, r) {
		return
	}
	s.mu.Lock()
	s.templateLists++
	all := make([]map[string]any, 0, len(s.templates))
	for _, t := range s.templates {
		all = append(all, templateJSON(t))
	}
	size := s.opts.TemplatePageSize
	s.mu.Unlock()
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 && l < size {
		size = l
	}
	start := 0
	if a := r.URL.Query().Get("after"); a != "" {
		b, err := base64.RawURLEncoding.DecodeString(a)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > len(all) {
			s.graphError(w, http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "Invalid cursor: "+a)
			return
		}
		start = n
	}
	end := min(start+size, len(all))
	page := all[start:end]
	cur := func(n int) string { return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(n))) }
	paging := map[string]any{"cursors": map[string]string{"before": cur(start), "after": cur(end)}}
	if end < len(all) {
		q := r.URL.Query()
		q.Set("after", cur(end))
		paging["next"] = "https://graph.facebook.com/" + r.PathValue("version") + "/" + r.PathValue("waba") + "/message_templates?" + q.Encode()
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": page, "paging": paging})
}

// templateCreateError answers a refused template the way Meta does: code
// 100 with a subcode, error_user_title and error_user_msg.
func (s *Simulator) templateCreateError(w http.ResponseWriter, subcode int, title, msg string) {
	e := map[string]any{"error": map[string]any{"message": "Invalid parameter", "type": "OAuthException", "code": 100,
		"error_subcode": subcode, "is_transient": false, "error_user_title": title, "error_user_msg": msg, "fbtrace_id": randomID(12)}}
	writeJSON(w, http.StatusBadRequest, e)
}

type createBody struct {
	Name            string            `json:"name"`
	Language        string            `json:"language"`
	Category        string            `json:"category"`
	ParameterFormat string            `json:"parameter_format"`
	Components      json.RawMessage   `json:"components"`
	Library         string            `json:"library_template_name"`
	LibraryButtons  json.RawMessage   `json:"library_template_button_inputs"`
	LibraryBody     json.RawMessage   `json:"library_template_body_inputs"`
	Extra           map[string]string `json:"-"`
}

// checkComponents refuses what Meta's review refuses at once: no body,
// variables without examples, too long parts, a media header without a
// Resumable-Upload handle the simulator issued.
func (s *Simulator) checkComponents(raw json.RawMessage) (subcode int, title, msg string) {
	cs, err := cloudapi.ParseComponents(raw)
	if err != nil {
		return 2388042, "Ungültige Komponenten", "The components are not valid: " + err.Error()
	}
	sl := cloudapi.SlotsOf(cs)
	if strings.TrimSpace(sl.Body) == "" {
		return 2388043, "Message template body is missing", "A template needs a BODY component with text."
	}
	if len([]rune(sl.Body)) > 1024 {
		return 2388040, "Message template body too long", "The body may have at most 1024 characters."
	}
	for _, c := range cs {
		switch c.Type {
		case "BODY":
			if n := len(cloudapi.Placeholders(c.Text)); n > 0 {
				if c.Example == nil || (len(c.Example.BodyText) == 0 || len(c.Example.BodyText[0]) != n) && len(c.Example.BodyTextNamed) != n {
					return 2388043, "Message template variables are missing sample values",
						"The body has variables, but no sample value for each of them. Add samples and try again."
				}
			}
		case "HEADER":
			switch c.Format {
			case cloudapi.HeaderImage, cloudapi.HeaderVideo, cloudapi.HeaderDocument, cloudapi.HeaderGIF:
				if c.Example == nil || len(c.Example.HeaderHandle) == 0 || !s.knownHandle(c.Example.HeaderHandle[0]) {
					return 2388273, "Media header sample missing",
						"A media header needs a sample uploaded through the Resumable Upload API (example.header_handle)."
				}
			case cloudapi.HeaderText, "":
				if len([]rune(c.Text)) > 60 {
					return 2388040, "Header too long", "The header may have at most 60 characters."
				}
			}
		case "FOOTER":
			if len([]rune(c.Text)) > 60 {
				return 2388040, "Footer too long", "The footer may have at most 60 characters."
			}
		case "BUTTONS":
			if len(c.Buttons) > 10 {
				return 2388047, "Too many buttons", "A template may have at most 10 buttons."
			}
			for _, b := range c.Buttons {
				if len([]rune(b.Text)) > 25 {
					return 2388047, "Button text too long", "A button's text may have at most 25 characters."
				}
			}
		}
	}
	return 0, "", ""
}

func (s *Simulator) knownHandle(h string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handles[h]
}

func (s *Simulator) handleTemplateCreate(w http.ResponseWriter, r *http.Request) {
	if !s.ownWABA(w, r) {
		return
	}
	var b createBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&b); err != nil {
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "The body is not JSON: "+err.Error())
		return
	}
	b.Category = strings.ToUpper(b.Category)
	switch {
	case !templateNameRe.MatchString(b.Name):
		s.templateCreateError(w, 2388019, "Invalid template name",
			"The name may contain only lowercase letters, digits and underscores, at most 512 characters.")
		return
	case b.Language == "":
		s.templateCreateError(w, 2388021, "Language missing", "The template needs a language, e.g. de or en_US.")
		return
	case !slices.Contains([]string{"MARKETING", "UTILITY", "AUTHENTICATION"}, b.Category):
		s.templateCreateError(w, 2388020, "Invalid category", "The category must be MARKETING, UTILITY or AUTHENTICATION.")
		return
	}
	if b.Library != "" {
		i := slices.IndexFunc(defaultLibrary, func(l LibraryTemplate) bool { return l.Name == b.Library })
		if i < 0 {
			s.templateCreateError(w, 2388299, "Library template not found", "There is no library template named "+b.Library+".")
			return
		}
		b.Components = bodyComponents(defaultLibrary[i].Body)
	} else if code, title, msg := s.checkComponents(b.Components); code != 0 {
		s.templateCreateError(w, code, title, msg)
		return
	}
	s.mu.Lock()
	for _, t := range s.templates {
		if t.Name == b.Name && t.Language == b.Language {
			s.mu.Unlock()
			s.templateCreateError(w, 2388024, "Message template already exists",
				"There is already content in "+b.Language+" for this template. Create a new template and try again.")
			return
		}
	}
	s.nextTemplateID++
	pf := strings.ToUpper(b.ParameterFormat)
	if pf == "" {
		pf = "POSITIONAL"
	}
	t := &storedTemplate{ID: s.nextTemplateID, Name: b.Name, Language: b.Language, Category: b.Category, Status: "PENDING",
		ParameterFormat: pf, Components: b.Components, Library: b.Library}
	s.templates = append(s.templates, t)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"id": strconv.FormatInt(t.ID, 10), "status": "PENDING", "category": t.Category})
	s.scheduleReview(t.ID)
}

// scheduleReview ends a review after ReviewDelay: names containing the
// reject marker are rejected, everything else approved; Meta's status
// webhook follows.
func (s *Simulator) scheduleReview(id int64) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	delay := s.opts.ReviewDelay
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		select {
		case <-time.After(delay):
		case <-s.statusCtx.Done():
			return
		}
		s.mu.Lock()
		i := slices.IndexFunc(s.templates, func(t *storedTemplate) bool { return t.ID == id })
		if i < 0 {
			s.mu.Unlock()
			return
		}
		t := s.templates[i]
		ev := map[string]any{"event": "APPROVED", "reason": "NONE"}
		if strings.Contains(t.Name, s.opts.RejectMarker) {
			t.Status, t.Reason = "REJECTED", "INVALID_FORMAT"
			ev = map[string]any{"event": "REJECTED", "reason": "INVALID_FORMAT",
				"rejection_info": map[string]string{"reason": "Die Vorlage enthält ungültige Platzhalter.", "recommendation": "Platzhalter prüfen."}}
		} else {
			t.Status, t.Reason, t.Quality = "APPROVED", "", "UNKNOWN"
		}
		ev["message_template_id"], ev["message_template_name"] = t.ID, t.Name
		ev["message_template_language"], ev["message_template_category"] = t.Language, t.Category
		hook := s.opts.WebhookURL
		s.mu.Unlock()
		if hook == "" {
			return
		}
		if err := s.PostTemplateUpdate(s.statusCtx, "message_template_status_update", ev); err != nil {
			s.log.Debug("simulator: template review webhook failed", "err", err)
		}
	}()
}

// PostTemplateUpdate delivers one template webhook (any of Meta's four
// template fields) with the given value, as Meta sends it: no metadata, an
// integer entry time.
func (s *Simulator) PostTemplateUpdate(ctx context.Context, field string, value map[string]any) error {
	o := s.snapshot()
	body, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry":  []any{map[string]any{"id": o.WABAID, "time": time.Now().Unix(), "changes": []any{map[string]any{"field": field, "value": value}}}},
	})
	st, err := s.PostWebhook(ctx, body)
	if err != nil {
		return fmt.Errorf("simulator: %s: %w", field, err)
	}
	if st != http.StatusOK {
		return fmt.Errorf("simulator: %s: webhook answered %d", field, st)
	}
	return nil
}

// SetTemplate changes a template at "Meta" (status, quality, category;
// empty leaves it) without a webhook, as happens before a sync.
func (s *Simulator) SetTemplate(name, language, status, quality, category string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.templates {
		if t.Name == name && t.Language == language {
			t.Status = cmpOr(status, t.Status)
			t.Quality = cmpOr(quality, t.Quality)
			t.Category = cmpOr(category, t.Category)
			return true
		}
	}
	return false
}

// handleTemplateDelete is DELETE /{waba}/message_templates?name=…[&hsm_id=…].
func (s *Simulator) handleTemplateDelete(w http.ResponseWriter, r *http.Request) {
	if !s.ownWABA(w, r) {
		return
	}
	name, hsm := r.URL.Query().Get("name"), r.URL.Query().Get("hsm_id")
	s.mu.Lock()
	n := len(s.templates)
	s.templates = slices.DeleteFunc(s.templates, func(t *storedTemplate) bool {
		return t.Name == name && (hsm == "" || strconv.FormatInt(t.ID, 10) == hsm)
	})
	deleted := n - len(s.templates)
	s.mu.Unlock()
	if name == "" || deleted == 0 {
		s.templateCreateError(w, 2388094, "Message template not found", "There is no template named "+name+" to delete.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

// handleObjectPost is POST /{id}: a Resumable Upload transfer when the id
// is an upload session, else an edit of the template with that id.
func (s *Simulator) handleObjectPost(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if strings.HasPrefix(id, "upload:") {
		s.handleUploadData(w, r, id)
		return
	}
	if !s.authorised(w, r) {
		return
	}
	var b struct {
		Components json.RawMessage `json:"components"`
		Category   string          `json:"category"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&b); err != nil {
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "The body is not JSON: "+err.Error())
		return
	}
	s.mu.Lock()
	i := slices.IndexFunc(s.templates, func(t *storedTemplate) bool { return strconv.FormatInt(t.ID, 10) == id })
	if i < 0 {
		s.mu.Unlock()
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "Unsupported post request. Object with ID '"+id+"' does not exist.")
		return
	}
	t := s.templates[i]
	status := t.Status
	s.mu.Unlock()
	if !slices.Contains([]string{"APPROVED", "REJECTED", "PAUSED"}, status) {
		s.templateCreateError(w, 2388025, "Template cannot be edited", "Only approved, rejected or paused templates can be edited; this one is "+status+".")
		return
	}
	if len(b.Components) > 0 {
		if code, title, msg := s.checkComponents(b.Components); code != 0 {
			s.templateCreateError(w, code, title, msg)
			return
		}
	}
	if b.Category != "" && status == "APPROVED" {
		s.templateCreateError(w, 2388026, "Category cannot be changed", "The category of an approved template cannot be changed.")
		return
	}
	s.mu.Lock()
	if len(b.Components) > 0 {
		t.Components = b.Components
	}
	if b.Category != "" {
		t.Category = strings.ToUpper(b.Category)
	}
	t.Status = "PENDING"
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
	s.scheduleReview(t.ID)
}

// handleTemplateLibrary is GET /message_template_library.
func (s *Simulator) handleTemplateLibrary(w http.ResponseWriter, r *http.Request) {
	if !s.authorised(w, r) {
		return
	}
	q := strings.ToLower(r.URL.Query().Get("search"))
	lang := r.URL.Query().Get("language")
	out := []LibraryTemplate{}
	for _, l := range defaultLibrary {
		if (q == "" || strings.Contains(strings.ToLower(l.Name+" "+l.Body+" "+l.UseCase), q)) && (lang == "" || lang == l.Language) {
			out = append(out, l)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

type uploadSession struct {
	name, mime string
	length     int64
	data       []byte
}

// handleUploadStart is POST /{app}/uploads: a Resumable Upload session.
func (s *Simulator) handleUploadStart(w http.ResponseWriter, r *http.Request) {
	if !s.authorised(w, r) {
		return
	}
	q := r.URL.Query()
	n, err := strconv.ParseInt(q.Get("file_length"), 10, 64)
	ft := q.Get("file_type")
	if err != nil || n <= 0 || n > 100<<20 {
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "file_length must be the file's size in bytes.")
		return
	}
	if !slices.Contains(append(slices.Clone(cloudapi.HeaderSampleTypes), "image/jpg"), ft) {
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "file_type "+ft+" is not supported; use application/pdf, image/jpeg, image/jpg, image/png or video/mp4.")
		return
	}
	id := "upload:" + base64.RawURLEncoding.EncodeToString([]byte(numericID(12)))
	s.mu.Lock()
	s.uploads[id] = &uploadSession{name: q.Get("file_name"), mime: ft, length: n}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]string{"id": id})
}

func (s *Simulator) uploadAuthorised(w http.ResponseWriter, r *http.Request) bool {
	a := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(a, "OAuth "); ok {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return s.authorised(w, r)
}

func (s *Simulator) handleUploadData(w http.ResponseWriter, r *http.Request, id string) {
	if !s.uploadAuthorised(w, r) {
		return
	}
	s.mu.Lock()
	u := s.uploads[id]
	s.mu.Unlock()
	if u == nil {
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "No upload session "+id+".")
		return
	}
	off, err := strconv.ParseInt(r.Header.Get("file_offset"), 10, 64)
	if err != nil || off != int64(len(u.data)) {
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter",
			fmt.Sprintf("file_offset must be %d, where the upload stands.", len(u.data)))
		return
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, u.length-off+1))
	if err != nil {
		return
	}
	if off+int64(len(data)) > u.length {
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "More bytes than file_length announced.")
		return
	}
	s.mu.Lock()
	u.data = append(u.data, data...)
	done := int64(len(u.data)) == u.length
	h := ""
	if done {
		h = "4::" + base64.StdEncoding.EncodeToString([]byte(u.mime+":"+numericID(10)))
		s.handles[h] = true
	}
	s.mu.Unlock()
	if !done {
		writeJSON(w, http.StatusOK, map[string]any{"id": id, "file_offset": len(u.data)})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"h": h})
}

// handleUploadStatus is GET /upload:…: where a session stands.
func (s *Simulator) handleUploadStatus(w http.ResponseWriter, r *http.Request, id string) {
	if !s.uploadAuthorised(w, r) {
		return
	}
	s.mu.Lock()
	u := s.uploads[id]
	s.mu.Unlock()
	if u == nil {
		s.graphError(w, http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "No upload session "+id+".")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"id": id, "file_offset": len(u.data)})
}

// TemplateLists is how many template listings the simulator answered.
func (s *Simulator) TemplateLists() int { s.mu.Lock(); defer s.mu.Unlock(); return s.templateLists }
