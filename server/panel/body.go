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

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/web"
)

// sendBody builds Meta's request body for a composer message with
// cloudapi's builder, the same bytes a Cloud API client would post;
// mediaID is the uploaded file's id.
func sendBody(m Message, mediaID string) ([]byte, error) {
	to := cloudapi.Recipient{WaID: m.ToWaID, UserID: m.ToUserID, GroupID: m.ToGroupID}
	if m.Built != nil {
		return json.Marshal(m.Built.ReplyingTo(m.ReplyTo))
	}
	var out *cloudapi.Outbound
	var err error
	switch m.Type {
	case "text":
		out, err = cloudapi.TextMessage(to, m.Text)
	case "image", "video", "audio", "document":
		filename := ""
		if m.File != nil {
			filename = m.File.Name
		}
		out, err = cloudapi.MediaMessage(to, m.Type, mediaID, m.Text, filename)
	case "template":
		if m.Template == nil {
			return nil, errors.New("panel: template missing")
		}
		t := m.Template
		// An uploaded file is the media header's (a template takes no
		// other attachment).
		fill := cloudapi.TemplateFill{HeaderMedia: t.HeaderMedia, HeaderLink: t.HeaderLink, HeaderID: mediaID, ButtonParams: t.Buttons, CopyCode: t.CopyCode}
		for _, p := range t.Params {
			fill.Body = append(fill.Body, cloudapi.TemplateParam{Name: p.Name, Value: p.Value})
		}
		if t.Header != nil {
			fill.HeaderText = &cloudapi.TemplateParam{Name: t.Header.Name, Value: t.Header.Value}
		}
		out, err = cloudapi.TemplateMessageFilled(to, t.Name, t.Language, fill)
	default:
		return nil, errors.New("panel: unknown message type " + m.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("panel: %w", err)
	}
	return json.Marshal(out.ReplyingTo(m.ReplyTo))
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
	attachmentMax     = cloudapi.MaxDocument + multipartOverhead
)

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
