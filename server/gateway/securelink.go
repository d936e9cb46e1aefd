package gateway

import (
	"errors"
	"html/template"
	"io"
	"net/http"
	"strings"

	"github.com/pforte/pforte/store"
)

// The answer page of a secure link: served by Pforte itself, so that
// sensitive data (IBAN, health data, ID documents) never travels through
// WhatsApp. It is deliberately tiny: no scripts, no external resources.
var secureLinkTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="de"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>Sichere Übermittlung</title>
<style>body{font-family:sans-serif;max-width:34em;margin:2em auto;padding:0 1em;line-height:1.5}
textarea{width:100%;min-height:8em}button{padding:.6em 1.2em;font-size:1em}.box{border:1px solid #ccc;padding:1em;border-radius:.4em}</style>
</head><body>
{{if .Done}}<h1>Danke!</h1><p>Ihre Angaben sind sicher angekommen. Sie können dieses Fenster schließen.</p>
<p lang="en">Thank you, your answer has arrived safely.</p>
{{else if .Gone}}<h1>Link nicht mehr gültig</h1><p>Dieser Link wurde bereits benutzt oder ist abgelaufen. Bitte fragen Sie bei uns einen neuen an.</p>
<p lang="en">This link was used already or has expired. Please ask us for a new one.</p>
{{else}}<h1>Sichere Übermittlung</h1>
<p class="box">{{.Prompt}}</p>
<p>Ihre Antwort geht verschlüsselt direkt an uns und nicht über WhatsApp. Der Link funktioniert nur einmal.</p>
{{if .Error}}<p role="alert"><strong>{{.Error}}</strong></p>{{end}}
<form method="post" enctype="multipart/form-data">
<p><label for="text">Ihre Antwort</label><br><textarea id="text" name="text" maxlength="10000"></textarea></p>
<p><label for="file">Datei (optional, höchstens 20 MB)</label><br><input id="file" type="file" name="file"></p>
<p><button type="submit">Sicher senden</button></p>
</form>
<p lang="en"><small>Your answer goes to us directly and encrypted, not through WhatsApp. This link works once.</small></p>
{{end}}</body></html>
`))

type secureLinkView struct {
	Prompt, Error string
	Done, Gone    bool
}

func (s *Server) renderSecureLink(w http.ResponseWriter, code int, v secureLinkView) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.WriteHeader(code)
	secureLinkTmpl.Execute(w, v)
}

func (s *Server) secureLinkPage(w http.ResponseWriter, r *http.Request) {
	l, err := s.store.SecureLinkByToken(r.Context(), r.PathValue("token"), s.now())
	if errors.Is(err, store.ErrLinkGone) {
		s.renderSecureLink(w, http.StatusGone, secureLinkView{Gone: true})
		return
	}
	if err != nil {
		s.log.Error("secure link", "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	s.renderSecureLink(w, http.StatusOK, secureLinkView{Prompt: l.Prompt})
}

func (s *Server) secureLinkAnswer(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	l, err := s.store.SecureLinkByToken(r.Context(), token, s.now())
	if errors.Is(err, store.ErrLinkGone) {
		s.renderSecureLink(w, http.StatusGone, secureLinkView{Gone: true})
		return
	}
	if err != nil {
		s.log.Error("secure link", "err", err)
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	again := func(msg string) {
		s.renderSecureLink(w, http.StatusBadRequest, secureLinkView{Prompt: l.Prompt, Error: msg})
	}
	// The form is read as a stream: the file goes straight into the media
	// folder, never into a temporary file outside the data directory.
	r.Body = http.MaxBytesReader(w, r.Body, store.SecureAnswerMaxFile+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		again("Das Formular ist unvollständig.")
		return
	}
	var a store.SecureAnswer
	answered := false
	for !answered {
		part, perr := mr.NextPart()
		if perr == io.EOF {
			break
		}
		if perr != nil {
			again("Die Datei ist zu groß (höchstens 20 MB) oder das Formular ist unvollständig.")
			return
		}
		switch part.FormName() {
		case "text":
			b, _ := io.ReadAll(io.LimitReader(part, 4*store.SecureAnswerMaxText+1))
			a.Text = string(b)
		case "file":
			if part.FileName() == "" {
				continue
			}
			// A browser sends the fields in page order, so the text is in.
			a.File, a.FileName, a.MimeType = part, part.FileName(), strings.TrimSpace(part.Header.Get("Content-Type"))
			_, err = s.store.AnswerSecureLink(r.Context(), token, a, s.now())
			answered = true
		}
		part.Close()
	}
	if !answered {
		_, err = s.store.AnswerSecureLink(r.Context(), token, a, s.now())
	}
	switch {
	case errors.Is(err, store.ErrLinkGone):
		s.renderSecureLink(w, http.StatusGone, secureLinkView{Gone: true})
	case errors.Is(err, store.ErrInvalid):
		again("Bitte geben Sie eine Antwort ein oder wählen Sie eine Datei (Text höchstens 10 000 Zeichen, Datei höchstens 20 MB).")
	case err != nil:
		s.log.Error("secure link answer not stored", "link", l.ID, "err", err)
		again("Das hat leider nicht geklappt. Bitte versuchen Sie es in einigen Minuten noch einmal.")
	default:
		s.log.Info("secure link answered", "link", l.ID, "conversation", l.ConversationID)
		s.renderSecureLink(w, http.StatusOK, secureLinkView{Done: true})
	}
}
