package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/templates"
	"github.com/pforte/pforte/store"
)

// /api/v1/templates: the templates Pforte listed from Meta, and creating,
// editing and deleting them at Meta (admin scope).

// TemplateJSON is a template as /api/v1 shows it.
type TemplateJSON struct {
	WABAID          string          `json:"waba_id"`
	ID              string          `json:"id,omitempty"` // Meta's id
	Name            string          `json:"name"`
	Language        string          `json:"language"`
	Category        string          `json:"category"`
	Status          string          `json:"status"`
	RejectedReason  string          `json:"rejected_reason,omitempty"`
	Detail          string          `json:"detail,omitempty"`
	Quality         string          `json:"quality,omitempty"`
	ParameterFormat string          `json:"parameter_format,omitempty"`
	Components      json.RawMessage `json:"components,omitempty"`
	Library         string          `json:"library_template_name,omitempty"`
	Usable          bool            `json:"usable"`
	SyncedAt        *time.Time      `json:"synced_at,omitempty"`
	DeletedAt       *time.Time      `json:"deleted_at,omitempty"`
}

func templateJSON(t *store.Template) TemplateJSON {
	j := TemplateJSON{WABAID: t.WABAID, ID: t.TemplateID, Name: t.Name, Language: t.Language, Category: t.Category, Status: t.Status,
		RejectedReason: t.Reason, Detail: t.Detail, Quality: t.Quality, ParameterFormat: t.ParameterFormat, Library: t.Library, Usable: t.Usable()}
	if t.Components != "" {
		if cs, err := cloudapi.ParseComponents([]byte(t.Components)); err == nil {
			j.Components, _ = json.Marshal(cs)
		}
	}
	if t.SyncedAt > 0 {
		at := time.Unix(t.SyncedAt, 0).UTC()
		j.SyncedAt = &at
	}
	if t.DeletedAt > 0 {
		at := time.Unix(t.DeletedAt, 0).UTC()
		j.DeletedAt = &at
	}
	return j
}

// templateError answers an error of the templates manager.
func (s *Server) templateError(w http.ResponseWriter, err error) {
	var fe *templates.FieldError
	var me *templates.MetaError
	switch {
	case errors.As(err, &fe):
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"code": "invalid_template", "field": fe.Field, "message": fe.English}})
	case errors.As(err, &me):
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]any{"code": "meta_refused",
			"message": "Meta refused the template: " + me.Reason, "graph_error": me.Graph.Object()}})
	case errors.Is(err, cloudapi.ErrNoToken):
		writeAPIError(w, http.StatusServiceUnavailable, "sending_disabled", "no Meta access token is configured")
	case errors.Is(err, store.ErrNotFound):
		writeAPIError(w, http.StatusNotFound, "not_found", "template not found")
	default:
		s.log.Error("api: templates", "err", err)
		writeAPIError(w, http.StatusBadGateway, "meta_unreachable", "Meta could not be asked: "+err.Error())
	}
}

func (s *Server) templatesOff(w http.ResponseWriter) bool {
	if s.cfg.Templates != nil {
		return false
	}
	writeAPIError(w, http.StatusServiceUnavailable, "sending_disabled", "template management needs the Meta access token (--access-token)")
	return true
}

// accountOf is the account a request names (waba_id), or the only one
// configured.
func (s *Server) accountOf(w http.ResponseWriter, r *http.Request, given string) (string, bool) {
	wabas, err := s.store.WABAs(r.Context())
	if err != nil {
		s.apiStoreError(w, err, "account")
		return "", false
	}
	if given == "" && len(wabas) == 1 {
		return wabas[0], true
	}
	for _, x := range wabas {
		if x == given {
			return x, true
		}
	}
	if given == "" {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"code": "invalid_template", "field": "waba_id",
			"message": "name the WhatsApp Business Account (waba_id): none or several are configured"}})
	} else {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"code": "invalid_template", "field": "waba_id",
			"message": "waba_id is not the account of any configured business number"}})
	}
	return "", false
}

// apiTemplateList is GET /api/v1/templates[?waba_id=…].
func (s *Server) apiTemplateList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	wabas := []string{r.URL.Query().Get("waba_id")}
	if wabas[0] == "" {
		var err error
		if wabas, err = s.store.WABAs(ctx); err != nil {
			s.apiStoreError(w, err, "templates")
			return
		}
	}
	out := []TemplateJSON{}
	for _, waba := range wabas {
		ts, err := s.store.AccountTemplates(ctx, waba)
		if err != nil {
			s.apiStoreError(w, err, "templates")
			return
		}
		for _, t := range ts {
			out = append(out, templateJSON(t))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

// apiTemplateCreate is POST /api/v1/templates: Meta's create body plus an
// optional waba_id.
func (s *Server) apiTemplateCreate(w http.ResponseWriter, r *http.Request) {
	if s.templatesOff(w) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		writeAPIError(w, http.StatusRequestEntityTooLarge, "too_large", "the request body is larger than 1 MiB")
		return
	}
	var req struct {
		WABAID string `json:"waba_id"`
		templates.Definition
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"code": "invalid_template", "field": "body",
			"message": "want Meta's template body {name, language, category, components} and optionally waba_id: " + err.Error()}})
		return
	}
	waba, ok := s.accountOf(w, r, req.WABAID)
	if !ok {
		return
	}
	t, err := s.cfg.Templates.Create(r.Context(), waba, req.Definition, actor(r))
	if err != nil {
		s.templateError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, templateJSON(t))
}

// apiTemplateEdit is POST /api/v1/templates/{name}/{language}: new
// components for an approved, rejected or paused template.
func (s *Server) apiTemplateEdit(w http.ResponseWriter, r *http.Request) {
	if s.templatesOff(w) {
		return
	}
	var req struct {
		WABAID     string          `json:"waba_id"`
		Components json.RawMessage `json:"components"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || len(req.Components) == 0 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": map[string]string{"code": "invalid_template", "field": "components",
			"message": "want {\"components\": [Meta's components]}"}})
		return
	}
	waba, ok := s.accountOf(w, r, req.WABAID)
	if !ok {
		return
	}
	if err := s.cfg.Templates.Edit(r.Context(), waba, r.PathValue("name"), r.PathValue("language"), req.Components, actor(r)); err != nil {
		s.templateError(w, err)
		return
	}
	t, err := s.store.TemplateOf(r.Context(), waba, r.PathValue("name"), r.PathValue("language"))
	if err != nil {
		s.apiStoreError(w, err, "template")
		return
	}
	writeJSON(w, http.StatusOK, templateJSON(t))
}

// apiTemplateDelete is DELETE /api/v1/templates/{name}[?language=…&waba_id=…].
func (s *Server) apiTemplateDelete(w http.ResponseWriter, r *http.Request) {
	if s.templatesOff(w) {
		return
	}
	waba, ok := s.accountOf(w, r, r.URL.Query().Get("waba_id"))
	if !ok {
		return
	}
	if err := s.cfg.Templates.Delete(r.Context(), waba, r.PathValue("name"), r.URL.Query().Get("language"), actor(r)); err != nil {
		s.templateError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// apiTemplateSync is POST /api/v1/templates/sync: list every account's
// templates from Meta now.
func (s *Server) apiTemplateSync(w http.ResponseWriter, r *http.Request) {
	if s.templatesOff(w) {
		return
	}
	res, err := s.cfg.Templates.Sync(r.Context(), actor(r))
	if err != nil {
		s.templateError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"listed": res.Listed, "added": res.Added, "deleted": res.Deleted})
}

// apiTemplateLibrary is GET /api/v1/templates/library[?search=…&language=…].
func (s *Server) apiTemplateLibrary(w http.ResponseWriter, r *http.Request) {
	if s.templatesOff(w) {
		return
	}
	l, err := s.cfg.Templates.Library(r.Context(), r.URL.Query().Get("search"), r.URL.Query().Get("language"))
	if err != nil {
		s.templateError(w, err)
		return
	}
	if l == nil {
		l = []cloudapi.LibraryTemplate{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": l})
}

// apiTemplateSample is POST /api/v1/templates/samples: the raw file (its
// type in Content-Type, its name in ?file_name=) uploaded to Meta's
// Resumable Upload API; the answer's header_handle goes into a media
// header's example.
func (s *Server) apiTemplateSample(w http.ResponseWriter, r *http.Request) {
	if s.templatesOff(w) {
		return
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 100<<20))
	if err != nil {
		writeAPIError(w, http.StatusRequestEntityTooLarge, "too_large", "a header sample may have at most 100 MB")
		return
	}
	name := r.URL.Query().Get("file_name")
	if name == "" {
		name = "sample"
	}
	h, err := s.cfg.Templates.UploadSample(r.Context(), name, mt, data)
	if err != nil {
		s.templateError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]string{"header_handle": h})
}
