package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
)

// The Graph-compatible proxy: Meta's paths, request and response bodies and
// error shapes, on the internal listener. Callers authenticate with a
// Pforte API key (scope send) where Meta wants the access token, so code
// written for Meta works after changing only the base URL and the token.
//
// It relays only what its contract names, since Pforte's token reaches
// far more at Meta than an API key should: sends and media uploads for the
// company's business numbers, and GET/DELETE of media ids Pforte uploaded
// or received. Everything else gets Meta's answer for an object the token
// may not touch (100, subcode 33) without Meta being called.

// maxSendBody caps a send request; Meta's bodies are a few kilobytes.
const maxSendBody = 1 << 20

func writeGraphError(w http.ResponseWriter, e *cloudapi.Error) {
	st := e.HTTPStatus
	if st == 0 {
		st = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(st)
	w.Write(e.JSON())
}

func writeGraphRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	w.Write(body)
}

// refused answers an error of the outbox on the proxy: a refusal as the
// Graph error Meta would give, anything else (the database) as Meta's
// "temporarily unavailable".
func (s *Server) refused(w http.ResponseWriter, r *http.Request, err error) {
	if ref, ok := refusalOf(r.Method, err); ok {
		writeGraphError(w, ref.graph)
		return
	}
	s.log.Error("proxy: outbox", "err", err)
	writeGraphError(w, cloudapi.NewError(http.StatusServiceUnavailable, cloudapi.CodeServiceUnavailable, "Service temporarily unavailable", "Pforte could not read its database; nothing was sent to Meta."))
}

// graphKey admits requests with an API key carrying scope, taken from the
// Authorization header or, as Graph SDKs also do, the access_token query
// parameter. Refusals are Graph-shaped (190 / 10) so SDKs report them.
func (s *Server) graphKey(scope store.Scope, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			secret = r.URL.Query().Get("access_token")
		}
		secret = strings.TrimSpace(secret)
		k, err := s.store.APIKeyBySecret(r.Context(), secret)
		if secret == "" || err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pforte", error="invalid_token"`)
			writeGraphError(w, &cloudapi.Error{HTTPStatus: http.StatusUnauthorized, Code: cloudapi.CodeAccessTokenExpired, Type: "OAuthException",
				Message: "Invalid OAuth access token: use a Pforte API key with the send scope (pforte apikey create --scopes send).", FBTraceID: "pforte"})
			return
		}
		if !k.Has(scope) {
			writeGraphError(w, &cloudapi.Error{HTTPStatus: http.StatusForbidden, Code: cloudapi.CodePermissionDenied, Type: "OAuthException",
				Message: "(#10) Application does not have permission for this action: the API key lacks the " + string(scope) + " scope.", FBTraceID: "pforte"})
			return
		}
		if err := s.store.TouchAPIKey(r.Context(), k, s.now()); err != nil {
			s.log.Warn("api key last use not recorded", "key", k.Prefix, "err", err)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), apiKeyCtx{}, k)))
	})
}

func actor(r *http.Request) store.Actor {
	if k := requestKey(r); k != nil {
		return store.KeyActor(k.Prefix)
	}
	return store.ActorUnknown
}

func (s *Server) sendingOff(w http.ResponseWriter) bool {
	if s.cfg.Sender != nil {
		return false
	}
	writeGraphError(w, cloudapi.NewError(http.StatusServiceUnavailable, cloudapi.CodeServiceUnavailable, "Service temporarily unavailable",
		"Sending is not configured on this Pforte: set the Meta access token (--access-token)."))
	return true
}

// unsupportedObject is Meta's error for an object that does not exist, may
// not be loaded with the token or does not support the operation.
func unsupportedObject(method, id string) *cloudapi.Error {
	if len(id) > 64 {
		id = id[:64]
	}
	details, _ := json.Marshal(map[string]string{"messaging_product": "whatsapp",
		"details": "Pforte relays only sends and media uploads for the business numbers it knows, and GET/DELETE of media it uploaded or received."})
	return &cloudapi.Error{HTTPStatus: http.StatusBadRequest, Code: cloudapi.CodeInvalidParameter, Subcode: cloudapi.SubcodeUnsupportedObject, Type: "GraphMethodException", FBTraceID: "pforte", ErrorData: details,
		Message: "Unsupported " + strings.ToLower(method) + " request. Object with ID '" + id + "' does not exist, cannot be loaded due to missing permissions, or does not support this operation. Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"}
}

// ownNumber admits a phone number id that is one of the company's numbers
// (seen in a webhook or added under Settings).
func (s *Server) ownNumber(w http.ResponseWriter, r *http.Request, pnid string) bool {
	ok, err := s.store.IsBusinessNumber(r.Context(), pnid)
	if err != nil {
		s.log.Error("proxy: business number lookup", "err", err)
		writeGraphError(w, cloudapi.NewError(http.StatusServiceUnavailable, cloudapi.CodeServiceUnavailable, "Service temporarily unavailable", "Pforte could not read its database; nothing was sent to Meta."))
		return false
	}
	if !ok {
		writeGraphError(w, unsupportedObject(r.Method, pnid))
	}
	return ok
}

// knownMedia admits a media id Pforte uploaded or received, and a
// phone_number_id parameter only for one of the company's numbers. A file
// a customer sent is their personal data: like GET /api/v1/messages/{id}/media
// it needs the read scope, on top of send, which every proxy route needs.
func (s *Server) knownMedia(w http.ResponseWriter, r *http.Request, id string) bool {
	origin, err := s.store.MediaOriginOf(r.Context(), id)
	if err != nil {
		s.log.Error("proxy: media lookup", "err", err)
		writeGraphError(w, cloudapi.NewError(http.StatusServiceUnavailable, cloudapi.CodeServiceUnavailable, "Service temporarily unavailable", "Pforte could not read its database; nothing was sent to Meta."))
		return false
	}
	if origin == store.MediaUnknown {
		writeGraphError(w, unsupportedObject(r.Method, id))
		return false
	}
	if k := requestKey(r); origin == store.MediaReceived && (k == nil || !k.Has(store.ScopeRead)) {
		writeGraphError(w, &cloudapi.Error{HTTPStatus: http.StatusForbidden, Code: cloudapi.CodePermissionDenied, Type: "OAuthException", FBTraceID: "pforte",
			Message: "(#10) Application does not have permission for this action: media received from a customer needs an API key with the read scope as well."})
		return false
	}
	if p := r.URL.Query().Get("phone_number_id"); p != "" {
		return s.ownNumber(w, r, p)
	}
	return true
}

// graphFallback answers every request under a Graph version that no route
// takes (/me, a WABA's edges, other methods and edges) the way Meta
// answers an object the token may not touch, without calling Meta. Other
// paths get the mux's own 404 or 405.
func (s *Server) graphFallback(mux *http.ServeMux) http.Handler {
	unsupported := s.graphKey(store.ScopeSend, func(w http.ResponseWriter, r *http.Request) {
		_, rest, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		obj, _, _ := strings.Cut(rest, "/")
		writeGraphError(w, unsupportedObject(r.Method, obj))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			if v, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/"); validVersion(v) {
				unsupported.ServeHTTP(w, r)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
}

func validVersion(v string) bool {
	if !strings.HasPrefix(v, "v") || len(v) < 2 {
		return false
	}
	_, err := strconv.ParseFloat(v[1:], 64)
	return err == nil
}

func (s *Server) badVersion(w http.ResponseWriter, r *http.Request) bool {
	if validVersion(r.PathValue("version")) {
		return false
	}
	writeGraphError(w, &cloudapi.Error{HTTPStatus: http.StatusBadRequest, Code: cloudapi.CodeUnknownPath, Type: "OAuthException",
		Message: "Unknown path components: the first path segment must be a Graph version such as v24.0.", FBTraceID: "pforte"})
	return true
}

// proxySend is POST /{version}/{phone_number_id}/messages.
func (s *Server) proxySend(w http.ResponseWriter, r *http.Request) {
	// The outbox refuses a phone number id that is none of the company's.
	if s.badVersion(w, r) || s.sendingOff(w) {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSendBody))
	if err != nil {
		writeGraphError(w, cloudapi.NewError(http.StatusRequestEntityTooLarge, cloudapi.CodeInvalidParameter, "Invalid parameter", "The request body is too large or could not be read."))
		return
	}
	res, err := s.cfg.Sender.Send(r.Context(), outbox.Request{
		PhoneNumberID: r.PathValue("phone_number_id"), Body: body, Actor: actor(r),
		IdempotencyKey: scopedIdempotencyKey(r),
	})
	if _, ok := refusalOf(r.Method, err); ok {
		s.refused(w, r, err)
		return
	}
	if err != nil {
		if r.Context().Err() != nil {
			return // the caller left
		}
		s.log.Error("proxy: send not stored", "err", err)
		writeGraphError(w, cloudapi.NewError(http.StatusServiceUnavailable, cloudapi.CodeServiceUnavailable, "Service temporarily unavailable",
			"Pforte could not store the message; nothing was sent. Try again."))
		return
	}
	if res.MessageID > 0 {
		w.Header().Set("X-Pforte-Message-Id", strconv.FormatInt(res.MessageID, 10))
	}
	writeGraphRaw(w, res.HTTPStatus, res.Body)
}

// scopedIdempotencyKey keeps one key's Idempotency-Key values apart from
// another's.
func scopedIdempotencyKey(r *http.Request) string {
	v := strings.TrimSpace(r.Header.Get("Idempotency-Key"))
	if v == "" {
		return ""
	}
	if len(v) > 200 {
		v = v[:200]
	}
	return actor(r).String() + "/" + v
}

// proxyUpload is POST /{version}/{phone_number_id}/media: the file is
// kept under media/ first, then uploaded to Meta from that copy.
func (s *Server) proxyUpload(w http.ResponseWriter, r *http.Request) {
	pnid := r.PathValue("phone_number_id")
	if s.badVersion(w, r) || s.sendingOff(w) {
		return
	}
	// Asked before the body is read, so an unknown number costs no disk.
	if err := s.cfg.Sender.CheckNumber(r.Context(), pnid); err != nil {
		s.refused(w, r, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, cloudapi.MaxDocument+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		writeGraphError(w, cloudapi.NewError(http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "The upload must be multipart/form-data with messaging_product, type and file."))
		return
	}
	var product, typ, filename, partType string
	tmp, err := s.store.NewMediaTemp()
	if err != nil {
		s.log.Error("proxy: media temp", "err", err)
		writeGraphError(w, cloudapi.NewError(http.StatusServiceUnavailable, cloudapi.CodeServiceUnavailable, "Service temporarily unavailable", "Pforte could not store the file."))
		return
	}
	defer tmp.Discard()
	gotFile := false
	var head headBuffer // the file's first bytes, for sniffing its type
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			writeGraphError(w, cloudapi.NewError(http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "The multipart body could not be read: "+err.Error()))
			return
		}
		switch p.FormName() {
		case "messaging_product":
			b, _ := io.ReadAll(io.LimitReader(p, 64))
			product = string(b)
		case "type":
			b, _ := io.ReadAll(io.LimitReader(p, 256))
			typ = strings.TrimSpace(string(b))
		case "file":
			gotFile = true
			filename, partType = p.FileName(), p.Header.Get("Content-Type")
			head.Reset()
			n, err := io.Copy(io.MultiWriter(tmp, &head), io.LimitReader(p, cloudapi.MaxDocument+1))
			if err != nil {
				writeGraphError(w, cloudapi.NewError(http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "The file could not be read."))
				return
			}
			if n > cloudapi.MaxDocument {
				writeGraphError(w, cloudapi.NewError(http.StatusBadRequest, cloudapi.CodeMediaUpload, "Media upload error", "The file is larger than Meta's 100 MB limit."))
				return
			}
		}
		p.Close()
	}
	if product != "whatsapp" {
		writeGraphError(w, cloudapi.NewError(http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", `The parameter messaging_product is required and must be "whatsapp".`))
		return
	}
	if !gotFile || tmp.Size() == 0 {
		writeGraphError(w, cloudapi.NewError(http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "The parameter file is required."))
		return
	}
	if typ == "" || cloudapi.IsMediaKind(typ) {
		// Meta judges the file part's own type, not the field: SDKs send
		// no type, or the kind (type=image). Take the part's Content-Type,
		// sniff the bytes when it says nothing, and refuse what Meta refuses
		// in Meta's words.
		typ = partType
		if mt, _, err := mime.ParseMediaType(typ); err != nil || mt == "" || mt == "application/octet-stream" {
			typ = cloudapi.SniffMIME(head.b, filename)
		}
		if !cloudapi.UploadSupported(typ) {
			received, _, _ := mime.ParseMediaType(typ)
			if received == "" {
				received = "application/octet-stream"
			}
			writeGraphError(w, cloudapi.NewError(http.StatusBadRequest, cloudapi.CodeInvalidParameter, cloudapi.UnsupportedFileMessage(received), ""))
			return
		}
	}
	if mt, _, err := mime.ParseMediaType(typ); typ == "" || err != nil || !strings.Contains(mt, "/") {
		writeGraphError(w, cloudapi.NewError(http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", "The parameter type must be the file's MIME type, e.g. image/jpeg."))
		return
	}
	_, resp, err := s.cfg.Sender.UploadTemp(r.Context(), pnid, filename, typ, tmp)
	ref, refused := refusalOf(r.Method, err)
	switch {
	case refused:
		writeGraphError(w, ref.graph) // refused before Meta
	case errors.Is(err, outbox.ErrStorage):
		s.log.Error("proxy: media store", "err", err)
		writeGraphError(w, cloudapi.NewError(http.StatusServiceUnavailable, cloudapi.CodeServiceUnavailable, "Service temporarily unavailable", "Pforte could not store the file."))
	case err != nil:
		s.graphFailure(w, resp, err)
	default:
		writeGraphRaw(w, resp.Status, resp.Body)
	}
}

// graphFailure hands on Meta's error answer, or a Graph-shaped one when
// Meta could not be reached.
func (s *Server) graphFailure(w http.ResponseWriter, resp *cloudapi.Response, err error) {
	if resp != nil {
		writeGraphRaw(w, resp.Status, resp.Body)
		return
	}
	s.log.Warn("proxy: graph api unreachable", "err", err)
	if cloudapi.IsUncertain(err) {
		writeGraphError(w, cloudapi.NewError(http.StatusBadGateway, cloudapi.CodeSomethingWentWrong, "Something went wrong", "Meta did not answer; the request may have been carried out."))
		return
	}
	writeGraphError(w, cloudapi.NewError(http.StatusServiceUnavailable, cloudapi.CodeServiceUnavailable, "Service temporarily unavailable", "Pforte could not reach the Graph API."))
}

// downloadPath is where callers fetch a file through Pforte, since they do
// not hold the token Meta's download URLs need.
func downloadPath(mediaID string) string { return "/pforte/media/" + url.PathEscape(mediaID) }

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// proxyMediaGet is GET /{version}/{media_id} for media Pforte uploaded or
// received: Meta's answer, with the download URL pointing at Pforte. A
// file Pforte already keeps is answered locally, even after Meta deleted it.
func (s *Server) proxyMediaGet(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("media_id")
	if s.badVersion(w, r) || !s.knownMedia(w, r, id) {
		return
	}
	if m, err := s.store.StoredMediaByMediaID(r.Context(), id); err == nil {
		writeJSON(w, http.StatusOK, map[string]string{"messaging_product": "whatsapp", "url": baseURL(r) + downloadPath(id),
			"mime_type": m.MimeType, "sha256": m.SHA256, "file_size": strconv.FormatInt(m.Size, 10), "id": id})
		return
	}
	if s.sendingOff(w) {
		return
	}
	resp, err := s.cfg.Sender.Client().Do(r.Context(), http.MethodGet, "/"+url.PathEscape(id)+pnidQuery(r), "", nil)
	if err != nil {
		s.graphFailure(w, nil, err)
		return
	}
	if resp.Status != http.StatusOK {
		writeGraphRaw(w, resp.Status, resp.Body)
		return
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(resp.Body, &obj) != nil {
		writeGraphRaw(w, resp.Status, resp.Body)
		return
	}
	u, _ := json.Marshal(baseURL(r) + downloadPath(id))
	obj["url"] = u
	writeJSON(w, http.StatusOK, obj)
}

func pnidQuery(r *http.Request) string {
	if p := r.URL.Query().Get("phone_number_id"); p != "" {
		return "?phone_number_id=" + url.QueryEscape(p)
	}
	return ""
}

// proxyMediaDelete is DELETE /{version}/{media_id} for media Pforte
// uploaded or received; the local copy stays for the messages that used it
// (retention removes it with them).
func (s *Server) proxyMediaDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("media_id")
	if s.badVersion(w, r) || !s.knownMedia(w, r, id) || s.sendingOff(w) {
		return
	}
	resp, err := s.cfg.Sender.Client().DeleteMedia(r.Context(), id, r.URL.Query().Get("phone_number_id"))
	if err != nil && resp == nil {
		s.graphFailure(w, nil, err)
		return
	}
	if err == nil {
		if err := s.store.MarkUploadDeleted(r.Context(), id); err != nil {
			s.log.Warn("proxy: upload deletion not recorded", "err", err)
		}
	}
	writeGraphRaw(w, resp.Status, resp.Body)
}

// proxyMediaDownload is the URL handed out by proxyMediaGet: the local
// copy if there is one, else streamed from Meta with the real token.
func (s *Server) proxyMediaDownload(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("media_id")
	if !s.knownMedia(w, r, id) {
		return
	}
	if m, err := s.store.StoredMediaByMediaID(r.Context(), id); err == nil {
		s.serveStoredFile(w, r, m, m.Filename)
		return
	}
	if s.sendingOff(w) {
		return
	}
	info, err := s.cfg.Sender.Client().MediaInfo(r.Context(), id, "")
	var gerr *cloudapi.Error
	if errors.As(err, &gerr) {
		writeGraphError(w, gerr)
		return
	}
	if err != nil {
		s.graphFailure(w, nil, err)
		return
	}
	setFileHeaders(w, info.MimeType, cloudapi.Filename("", cloudapi.KindOfMIME(info.MimeType), info.MimeType, 0))
	if _, _, err := s.cfg.Sender.Client().Download(r.Context(), info.URL, w, cloudapi.MaxInbound); err != nil {
		s.log.Warn("proxy: media download failed", "err", err)
	}
}

// setFileHeaders makes a download safe to open from a browser: always an
// attachment, never sniffed into something executable.
func setFileHeaders(w http.ResponseWriter, mimeType, filename string) {
	h := w.Header()
	if mt, _, err := mime.ParseMediaType(mimeType); err != nil || mt == "" || strings.Contains(mt, "html") || strings.Contains(mt, "xml") || strings.Contains(mt, "javascript") {
		mimeType = "application/octet-stream"
	}
	h.Set("Content-Type", mimeType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "private, no-store")
	cd := mime.FormatMediaType("attachment", map[string]string{"filename": filename})
	if cd == "" {
		cd = "attachment"
	}
	h.Set("Content-Disposition", cd)
}

func (s *Server) serveStoredFile(w http.ResponseWriter, r *http.Request, m *store.Media, filename string) {
	f, err := s.store.OpenMedia(m.Path)
	if err != nil {
		s.log.Error("media file missing", "path", m.Path, "err", err)
		writeAPIError(w, http.StatusGone, "media_missing", "the stored file is missing from the media folder")
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		writeAPIError(w, http.StatusServiceUnavailable, "unavailable", "storage temporarily unavailable")
		return
	}
	name := cloudapi.SanitizeFilename(filename)
	if name == "" {
		name = cloudapi.Filename("", cloudapi.KindOfMIME(m.MimeType), m.MimeType, 0)
	}
	setFileHeaders(w, m.MimeType, name)
	http.ServeContent(w, r, "", st.ModTime(), f)
}

// headBuffer keeps the first 512 bytes written to it (what
// http.DetectContentType looks at) and drops the rest.
type headBuffer struct{ b []byte }

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := 512 - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (h *headBuffer) Reset() { h.b = h.b[:0] }
