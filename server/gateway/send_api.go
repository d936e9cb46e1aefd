package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
)

// DeliveryJSON is the outbox side of an outbound message.
type DeliveryJSON struct {
	State     string          `json:"state"` // queued, sending, accepted, failed, unknown
	Attempts  int             `json:"attempts"`
	NextTryAt *time.Time      `json:"next_attempt_at,omitempty"`
	LastError json.RawMessage `json:"last_error,omitempty"`
}

// messageKey is how /api/v1 names a message: its wamid, or the local id
// while it has none.
func messageKey(m *store.Message) string {
	if m.WAMID != "" {
		return m.WAMID
	}
	return strconv.FormatInt(m.ID, 10)
}

// lookupMessage accepts a wamid or a local id (digits only; wamids never are).
func (s *Server) lookupMessage(ctx context.Context, key string) (*store.Message, error) {
	if id, err := strconv.ParseInt(key, 10, 64); err == nil && id > 0 {
		return s.store.MessageByID(ctx, id)
	}
	return s.store.MessageByWAMID(ctx, key)
}

func (s *Server) deliveryJSON(ctx context.Context, msgID int64) (*DeliveryJSON, error) {
	o, err := s.store.Outbound(ctx, msgID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	d := &DeliveryJSON{State: string(o.State), Attempts: o.Attempts}
	if len(o.LastError) > 0 {
		d.LastError = o.LastError
	}
	if o.State == store.OutboxQueued && o.NextAttemptAt > 0 {
		t := time.UnixMilli(o.NextAttemptAt).UTC()
		d.NextTryAt = &t
	}
	return d, nil
}

// SendRequestJSON is the body of POST /api/v1/messages.
type SendRequestJSON struct {
	PhoneNumberID string          `json:"phone_number_id"`
	Message       json.RawMessage `json:"message"` // exactly Meta's send body
}

// SendAcceptedJSON is the 202 answer of POST /api/v1/messages.
type SendAcceptedJSON struct {
	ID      string      `json:"id"` // local id; GET /api/v1/messages/{id}
	Status  string      `json:"status"`
	Message MessageJSON `json:"message"`
}

// sendError is an /api/v1 error that carries the Graph error Meta would
// have given, so callers can branch on Meta's code.
type sendError struct {
	Error struct {
		Code       string          `json:"code"`
		Message    string          `json:"message"`
		GraphError json.RawMessage `json:"graph_error,omitempty"`
	} `json:"error"`
}

func writeSendError(w http.ResponseWriter, status int, code, msg string, g *cloudapi.Error) {
	var e sendError
	e.Error.Code, e.Error.Message = code, msg
	if g != nil {
		e.Error.GraphError = g.Object()
	}
	writeJSON(w, status, e)
}

// apiMessageSend is POST /api/v1/messages: store and answer 202 at once;
// the outbox delivers it and its status is then tracked.
func (s *Server) apiMessageSend(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Sender == nil {
		writeAPIError(w, http.StatusServiceUnavailable, "sending_disabled", "sending is not configured: set the Meta access token (--access-token)")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSendBody))
	if err != nil {
		writeAPIError(w, http.StatusRequestEntityTooLarge, "too_large", "the request body is larger than 1 MiB")
		return
	}
	var req SendRequestJSON
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeAPIError(w, http.StatusBadRequest, "invalid_body", `want {"phone_number_id": "...", "message": {Meta's send body}}: `+err.Error())
		return
	}
	if req.PhoneNumberID == "" || len(req.Message) == 0 {
		writeAPIError(w, http.StatusBadRequest, "invalid_body", `phone_number_id and message are required`)
		return
	}
	out, err := s.cfg.Sender.Enqueue(r.Context(), outbox.Request{PhoneNumberID: req.PhoneNumberID, Body: req.Message,
		Actor: actor(r), IdempotencyKey: scopedIdempotencyKey(r)})
	if ref, ok := refusalOf(r.Method, err); ok {
		writeSendError(w, ref.apiStatus, ref.apiCode, ref.details, ref.graph)
		return
	}
	if err != nil {
		s.apiStoreError(w, err, "message")
		return
	}
	m, err := s.store.MessageByID(r.Context(), out.MessageID)
	if err != nil {
		s.apiStoreError(w, err, "message")
		return
	}
	j := messageJSON(m)
	j.Delivery, _ = s.deliveryJSON(r.Context(), m.ID)
	id := strconv.FormatInt(out.MessageID, 10)
	w.Header().Set("Location", "/api/v1/messages/"+id)
	status := http.StatusAccepted
	if out.Existing {
		status = http.StatusOK // a repeated Idempotency-Key: the first request's message
	}
	writeJSON(w, status, SendAcceptedJSON{ID: id, Status: string(m.Status), Message: j})
}

// apiMessageRetry is POST /api/v1/messages/{id}/retry: a person decides
// that a failed or unknown message should go out again.
func (s *Server) apiMessageRetry(w http.ResponseWriter, r *http.Request) {
	m, err := s.lookupMessage(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, err, "message")
		return
	}
	if err := s.store.RequeueOutbound(r.Context(), m.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeAPIError(w, http.StatusConflict, "not_retryable", "only outbound messages that failed or whose outcome is unknown can be sent again")
			return
		}
		s.apiStoreError(w, err, "message")
		return
	}
	if err := s.store.Audit(r.Context(), store.AuditEntry{Actor: actor(r), Action: store.AuditMessageRetry, Target: strconv.FormatInt(m.ID, 10)}); err != nil {
		s.log.Warn("audit not written", "err", err)
	}
	if s.cfg.Sender != nil {
		s.cfg.Sender.Kick()
	}
	w.WriteHeader(http.StatusAccepted)
}

// apiMessageMedia is GET /api/v1/messages/{id}/media: the stored file.
func (s *Server) apiMessageMedia(w http.ResponseWriter, r *http.Request) {
	m, err := s.lookupMessage(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, err, "message")
		return
	}
	switch {
	case m.Media == nil:
		writeAPIError(w, http.StatusNotFound, "no_media", "this message has no file")
	case m.Media.State == store.MediaPending:
		w.Header().Set("Retry-After", "5")
		writeAPIError(w, http.StatusConflict, "media_pending", "the file is still being downloaded from Meta")
	case m.Media.State == store.MediaFailed:
		writeAPIError(w, http.StatusGone, "media_failed", "the file could not be downloaded from Meta: "+m.Media.LastError)
	default:
		s.serveStoredFile(w, r, m.Media, m.Media.Filename)
	}
}
