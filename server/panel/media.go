package panel

import (
	"mime"
	"net/http"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// inlineTypes may be shown in the page; anything else is only downloaded,
// so a hostile file can never run as HTML or script on our origin.
var inlineTypes = map[string]bool{
	"image/jpeg": true, "image/png": true, "image/webp": true, "image/gif": true,
	"video/mp4": true, "video/3gpp": true,
	"audio/aac": true, "audio/mpeg": true, "audio/mp4": true, "audio/ogg": true, "audio/amr": true,
}

// media serves a message's stored file, only through the conversation it
// belongs to (no guessing file names).
func (s *Server) media(w http.ResponseWriter, r *http.Request) {
	convID, ok1 := pathID(r, "id")
	msgID, ok2 := pathID(r, "msg")
	if !ok1 || !ok2 {
		http.NotFound(w, r)
		return
	}
	m, err := s.store.MessageInConversation(r.Context(), convID, msgID)
	if err != nil || m.Media == nil || m.Media.State != store.MediaStored || m.Media.Path == "" {
		http.NotFound(w, r)
		return
	}
	f, err := s.store.OpenMedia(m.Media.Path)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ct, _, _ := mime.ParseMediaType(m.Media.MimeType)
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, max-age=3600")
	name := m.Media.Filename
	if name == "" {
		name = "datei" + cloudapi.Extension(ct)
	}
	if inlineTypes[ct] && r.URL.Query().Get("download") == "" {
		h.Set("Content-Type", ct)
		h.Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": name}))
	} else {
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	}
	http.ServeContent(w, r, "", fi.ModTime(), f)
}
