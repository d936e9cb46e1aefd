package panel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/pforte/pforte/web"
)

// sendBody builds Meta's request body for a composer message, the same
// bytes a Cloud API client would post; mediaID is the uploaded file's id.
func sendBody(m Message, mediaID string) ([]byte, error) {
	body := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual", "type": m.Type}
	switch {
	case m.ToWaID != "":
		body["to"] = "+" + m.ToWaID
	case m.ToUserID != "":
		body["recipient"] = m.ToUserID
	default:
		return nil, errors.New("panel: the conversation has no recipient")
	}
	if m.ReplyTo != "" {
		body["context"] = map[string]string{"message_id": m.ReplyTo}
	}
	switch m.Type {
	case "text":
		t := map[string]any{"body": m.Text}
		if strings.Contains(m.Text, "https://") || strings.Contains(m.Text, "http://") {
			t["preview_url"] = true
		}
		body["text"] = t
	case "image", "video", "audio", "document":
		if mediaID == "" {
			return nil, errors.New("panel: attachment not uploaded")
		}
		obj := map[string]any{"id": mediaID}
		if m.Text != "" && m.Type != "audio" {
			obj["caption"] = m.Text
		}
		if m.Type == "document" && m.File != nil {
			obj["filename"] = m.File.Name
		}
		body[m.Type] = obj
	case "template":
		if m.Template == nil {
			return nil, errors.New("panel: template missing")
		}
		t := map[string]any{"name": m.Template.Name, "language": map[string]string{"code": m.Template.Language}}
		if len(m.Template.Params) > 0 {
			var params []map[string]string
			for _, p := range m.Template.Params {
				param := map[string]string{"type": "text", "text": p.Value}
				if !isDigits(p.Name) {
					// Named-parameter templates name each value.
					param["parameter_name"] = p.Name
				}
				params = append(params, param)
			}
			t["components"] = []any{map[string]any{"type": "body", "parameters": params}}
		}
		body["template"] = t
	default:
		return nil, errors.New("panel: unknown message type " + m.Type)
	}
	return json.Marshal(body)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// --- request body limits --------------------------------------------------

// bodyKind is what a panel route accepts as its request body. Every panel
// route names one in the route table (routes.go); the limit is enforced
// before anything reads the body, and the body is parsed here, in one
// place, so that a spooled upload is always removed again.
type bodyKind uint8

const (
	// noBody: pages (GET) and buttons without fields.
	noBody bodyKind = iota
	// shortForm: login, setup, one-line settings, buttons with a field or two.
	shortForm
	// longForm: forms with free text (notes, template texts, stop words,
	// settings with keys and certificates).
	longForm
	// attachmentForm: the composer, multipart with one file up to the
	// largest kind Meta takes (documents, 100 MB), spooled to the data dir.
	attachmentForm
)

// Sizes of the body kinds. The attachment limit leaves room for the
// caption and the multipart framing around the largest file.
const (
	shortFormMax      = 8 << 10
	longFormMax       = 64 << 10
	multipartOverhead = 1 << 20
	attachmentMax     = maxDocumentSize + multipartOverhead
)

// Meta's upload limits per media kind (Cloud API, "Supported media types").
const (
	maxImageSize    = 5 << 20
	maxAudioSize    = 16 << 20
	maxVideoSize    = 16 << 20
	maxDocumentSize = 100 << 20
)

// maxMediaSize is the largest file Meta takes for a message type.
func maxMediaSize(kind string) int64 {
	switch kind {
	case "image":
		return maxImageSize
	case "audio":
		return maxAudioSize
	case "video":
		return maxVideoSize
	case "document":
		return maxDocumentSize
	}
	return 0
}

// mediaTooLarge is the composer's answer to a file over its kind's limit.
func mediaTooLarge(kind string) string {
	switch kind {
	case "image":
		return "Bilder dürfen höchstens 5 MB groß sein."
	case "document":
		return "Dokumente dürfen höchstens 100 MB groß sein."
	}
	return "Audio und Video dürfen höchstens 16 MB groß sein."
}

func (k bodyKind) max() int64 {
	switch k {
	case shortForm:
		return shortFormMax
	case longForm:
		return longFormMax
	case attachmentForm:
		return attachmentMax
	}
	return 0
}

// Field and part counts of a multipart body: the composer has three fields.
const (
	maxUploadParts = 8
	maxUploadFiles = 1
)

// uploadedFile is a file part of a multipart body, spooled to the data
// directory (never os.TempDir: the container image has none, and
// systemd's PrivateTmp may be small).
type uploadedFile struct {
	Name string // as the browser sent it
	Type string // the part's Content-Type
	Size int64
	path string
}

// uploadForm holds what the handler of an attachment route gets besides
// r.Form: the spooled files by field name.
type uploadForm struct {
	files map[string]*uploadedFile
}

type uploadCtxKey struct{}

// uploadedFileOf returns a file part of the request's body, or nil.
func uploadedFileOf(r *http.Request, field string) *uploadedFile {
	f, _ := r.Context().Value(uploadCtxKey{}).(*uploadForm)
	if f == nil {
		return nil
	}
	return f.files[field]
}

// removeAll deletes the spooled files.
func (f *uploadForm) removeAll() {
	for _, file := range f.files {
		os.Remove(file.path)
	}
}

// What limitBody found wrong with a body; refuseBody answers accordingly.
var (
	errBodyTooLarge = errors.New("panel: request body too large")
	errBodyType     = errors.New("panel: request body of the wrong type")
	errSpool        = errors.New("panel: upload not spooled")
)

// limitBody enforces a route's body kind: a declared Content-Length over
// the limit is refused before a byte is read, the body is capped with
// http.MaxBytesReader, and the form is parsed here so that handlers never
// fall back to net/http's defaults (32 MB in memory, spill files in
// os.TempDir that are not removed for a copied request).
func (s *Server) limitBody(kind bodyKind, next http.Handler) http.Handler {
	limit := kind.max()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			s.refuseBody(w, r, kind, errBodyTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		multipartBody := ct == "multipart/form-data"
		switch {
		case kind == attachmentForm && multipartBody:
			form, err := s.spoolMultipart(r)
			defer form.removeAll() // the one place spooled uploads go away
			if err != nil {
				s.refuseBody(w, r, kind, err)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), uploadCtxKey{}, form))
		case multipartBody:
			s.refuseBody(w, r, kind, errBodyType)
			return
		default:
			if limit > longFormMax {
				// Without a file, the composer's body is text only.
				r.Body = http.MaxBytesReader(w, r.Body, longFormMax)
			}
			if err := r.ParseForm(); err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					err = errBodyTooLarge
				}
				s.refuseBody(w, r, kind, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// spoolMultipart reads a multipart body: fields into r.Form and r.PostForm,
// file parts into files under the data directory. The returned form is
// never nil, so the caller can always remove what was spooled.
func (s *Server) spoolMultipart(r *http.Request) (*uploadForm, error) {
	form := &uploadForm{files: map[string]*uploadedFile{}}
	r.Form, r.PostForm = url.Values{}, url.Values{}
	for k, vs := range r.URL.Query() {
		r.Form[k] = vs
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return form, err
	}
	tooLarge := func(err error) error {
		var mbe *http.MaxBytesError
		var pe *fs.PathError // writing the spool file, not reading the body
		switch {
		case errors.As(err, &mbe):
			return errBodyTooLarge
		case errors.As(err, &pe):
			return fmt.Errorf("%w: %w", errSpool, err)
		}
		return err
	}
	for parts := 0; ; parts++ {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return form, nil
		}
		if err != nil {
			return form, tooLarge(err)
		}
		if parts == maxUploadParts {
			part.Close()
			return form, errBodyType
		}
		name := part.FormName()
		if part.FileName() == "" {
			b, err := io.ReadAll(io.LimitReader(part, longFormMax+1))
			part.Close()
			if err != nil {
				return form, tooLarge(err)
			}
			if len(b) > longFormMax {
				return form, errBodyTooLarge
			}
			r.Form.Add(name, string(b))
			r.PostForm.Add(name, string(b))
			continue
		}
		if len(form.files) == maxUploadFiles || form.files[name] != nil {
			part.Close()
			return form, errBodyType
		}
		f, err := s.store.NewSpoolFile()
		if err != nil {
			part.Close()
			return form, fmt.Errorf("%w: %w", errSpool, err)
		}
		up := &uploadedFile{Name: part.FileName(), Type: part.Header.Get("Content-Type"), path: f.Name()}
		form.files[name] = up
		up.Size, err = io.Copy(f, part)
		part.Close()
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return form, tooLarge(err)
		}
	}
}

// refuseBody answers a body the route does not take: 413 when too large,
// 415 for the wrong encoding, 400 when unreadable. The composer shows its
// error in the conversation, like its other refusals.
func (s *Server) refuseBody(w http.ResponseWriter, r *http.Request, kind bodyKind, err error) {
	status, msg := http.StatusBadRequest, "Das Formular ist unvollständig."
	switch {
	case errors.Is(err, errBodyTooLarge):
		status, msg = http.StatusRequestEntityTooLarge, "Die Anfrage ist zu groß."
		if kind == attachmentForm {
			msg = "Die Datei ist zu groß (höchstens 100 MB; Bilder 5 MB, Audio und Video 16 MB)."
		}
	case errors.Is(err, errBodyType):
		status, msg = http.StatusUnsupportedMediaType, "Dieses Formular nimmt keine Dateien an."
	case errors.Is(err, errSpool):
		s.log.Error("panel: upload not spooled", "path", r.URL.Path, "err", err)
		status, msg = http.StatusServiceUnavailable, "Die Datei konnte nicht zwischengespeichert werden. Bitte versuchen Sie es später noch einmal."
	default:
		s.log.Debug("panel: unreadable body", "path", r.URL.Path, "err", err)
	}
	if kind == attachmentForm && viewerOf(r) != nil {
		s.renderConversation(w, r, status, web.T(r.Context(), msg))
		return
	}
	s.failPage(w, r, status, msg)
}
