package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/pforte/pforte/store"
)

// SubscriptionJSON is a fan-out subscription in /api/v1. The secret appears
// only in the answer to its creation (and only if Pforte generated it or it
// was just set), never in reads.
type SubscriptionJSON struct {
	ID        int64     `json:"id"`
	Name      string    `json:"name"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Enabled   bool      `json:"enabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Secret    string    `json:"secret,omitempty"`
	Queue     QueueJSON `json:"queue"`
}

// QueueJSON is a subscription's forwarding state.
type QueueJSON struct {
	Pending          int64      `json:"pending"`
	Dead             int64      `json:"dead"`
	OldestPendingAt  *time.Time `json:"oldest_pending_at"`
	OldestAgeSeconds float64    `json:"oldest_age_seconds"`
	Delivered        int64      `json:"delivered"`
	FailedAttempts   int64      `json:"failed_attempts"`
	DeadLettered     int64      `json:"dead_lettered"`
	LastSuccessAt    *time.Time `json:"last_success_at"`
	LastErrorAt      *time.Time `json:"last_error_at"`
	LastError        *string    `json:"last_error"`
	LastStatus       *int       `json:"last_status"`
}

func msTime(ms int64) *time.Time {
	if ms == 0 {
		return nil
	}
	t := time.UnixMilli(ms).UTC()
	return &t
}

func subscriptionJSON(s *store.Subscription, now time.Time) SubscriptionJSON {
	q := s.Queue
	j := SubscriptionJSON{
		ID: s.ID, Name: s.Name, URL: s.URL, Events: s.Events.Names(), Enabled: s.Enabled,
		CreatedAt: time.UnixMilli(s.CreatedAt).UTC(), UpdatedAt: time.UnixMilli(s.UpdatedAt).UTC(),
		Queue: QueueJSON{
			Pending: q.Pending, Dead: q.Dead, OldestPendingAt: msTime(q.OldestPendingAt), OldestAgeSeconds: q.OldestAge(now).Seconds(),
			Delivered: q.Delivered, FailedAttempts: q.FailedAttempts, DeadLettered: q.DeadLettered,
			LastSuccessAt: msTime(q.LastSuccessAt), LastErrorAt: msTime(q.LastErrorAt), LastError: optional(q.LastError),
		},
	}
	if q.LastStatus != 0 {
		j.Queue.LastStatus = &q.LastStatus
	}
	return j
}

// SubscriptionRequest is the body of POST and PATCH /api/v1/subscriptions.
// Absent fields keep their value (PATCH) or default (POST: events all four
// classes, enabled true, secret generated and returned once).
type SubscriptionRequest struct {
	Name    *string   `json:"name"`
	URL     *string   `json:"url"`
	Secret  *string   `json:"secret"`
	Events  *[]string `json:"events"`
	Enabled *bool     `json:"enabled"`
}

// ReplayRequest is the body of POST /api/v1/subscriptions/{id}/replay:
// either a time range of received deliveries, or the dead letters.
type ReplayRequest struct {
	From       *time.Time `json:"from"`
	To         *time.Time `json:"to"`
	DeadLetter bool       `json:"dead_letter"`
}

// maxAPIBody caps request bodies of the JSON API.
const maxAPIBody = 64 << 10

// decodeStrict reads exactly one JSON object and refuses unknown fields, so
// that a typo does not silently do nothing.
func decodeStrict(r io.Reader, v any) error {
	dec := json.NewDecoder(io.LimitReader(r, maxAPIBody+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return errors.New("empty body: send a JSON object")
		}
		return fmt.Errorf("invalid JSON: %v", err)
	}
	if dec.More() {
		return errors.New("invalid JSON: more than one value")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("invalid JSON: trailing data")
	}
	return nil
}

// ParseSubscriptionRequest decodes and checks a create (patch false) or
// update body without touching the store.
func ParseSubscriptionRequest(body []byte, patch bool) (store.SubscriptionPatch, error) {
	var req SubscriptionRequest
	var p store.SubscriptionPatch
	if len(body) > maxAPIBody {
		return p, errors.New("body too large")
	}
	if err := decodeStrict(bytes.NewReader(body), &req); err != nil {
		return p, err
	}
	p.Name, p.URL, p.Secret, p.Enabled = req.Name, req.URL, req.Secret, req.Enabled
	if req.Events != nil {
		e, err := store.ParseEvents(*req.Events)
		if err != nil {
			return p, err
		}
		p.Events = &e
	}
	if !patch && (p.URL == nil || *p.URL == "") {
		return p, &store.InputError{Field: "url", Msg: "required: where to forward deliveries, e.g. https://crm.example.com/whatsapp"}
	}
	if p.URL != nil {
		if err := store.CheckSubscriptionURL(*p.URL); err != nil {
			return p, err
		}
	}
	if p.Secret != nil && len(*p.Secret) < store.MinSecretLen {
		return p, &store.InputError{Field: "secret", Msg: fmt.Sprintf("at least %d characters, or leave it out and Pforte generates one", store.MinSecretLen)}
	}
	if patch && p == (store.SubscriptionPatch{}) {
		return p, errors.New("nothing to change: send at least one of name, url, secret, events, enabled")
	}
	return p, nil
}

// ParseReplayRequest decodes and checks a replay body.
func ParseReplayRequest(body []byte) (store.Replay, error) {
	var req ReplayRequest
	if err := decodeStrict(bytes.NewReader(body), &req); err != nil {
		return store.Replay{}, err
	}
	r := store.Replay{DeadLetter: req.DeadLetter}
	if req.From != nil {
		r.From = *req.From
	}
	if req.To != nil {
		r.To = *req.To
	}
	switch {
	case r.DeadLetter && (req.From != nil || req.To != nil):
		return r, &store.InputError{Field: "dead_letter", Msg: "replay either the dead letters or a time range (from, to), not both"}
	case !r.DeadLetter && r.From.IsZero():
		return r, &store.InputError{Field: "from", Msg: `required: {"from": "2026-01-31T00:00:00Z", "to": ...} or {"dead_letter": true}`}
	case req.To != nil && !r.From.Before(r.To):
		return r, &store.InputError{Field: "to", Msg: "must be after from"}
	}
	return r, nil
}

func readAPIBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAPIBody))
	if err != nil {
		writeAPIError(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("body larger than %d bytes", maxAPIBody))
		return nil, false
	}
	return body, true
}

func subscriptionID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeAPIError(w, http.StatusNotFound, "not_found", "subscription not found")
		return 0, false
	}
	return id, true
}

func actorOf(r *http.Request) store.Actor {
	if k := requestKey(r); k != nil {
		return store.KeyActor(k.Prefix)
	}
	return store.ActorAPI
}

// apiInputError answers a rejected body: 400 with the field at fault.
func (s *Server) apiInputError(w http.ResponseWriter, err error) {
	var ie *store.InputError
	if errors.As(err, &ie) {
		writeAPIError(w, http.StatusBadRequest, "invalid_parameter", ie.Error())
		return
	}
	writeAPIError(w, http.StatusBadRequest, "invalid_request", err.Error())
}

func (s *Server) apiSubscriptionList(w http.ResponseWriter, r *http.Request) {
	subs, err := s.store.Subscriptions(r.Context())
	if err != nil {
		s.apiStoreError(w, err, "subscriptions")
		return
	}
	now := s.now()
	out := struct {
		Data []SubscriptionJSON `json:"data"`
	}{Data: make([]SubscriptionJSON, 0, len(subs))}
	for _, sub := range subs {
		out.Data = append(out.Data, subscriptionJSON(sub, now))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiSubscriptionCreate(w http.ResponseWriter, r *http.Request) {
	body, ok := readAPIBody(w, r)
	if !ok {
		return
	}
	p, err := ParseSubscriptionRequest(body, false)
	if err != nil {
		s.apiInputError(w, err)
		return
	}
	in := store.SubscriptionInput{URL: *p.URL, Enabled: true, Events: store.EventsAll}
	if p.Name != nil {
		in.Name = *p.Name
	}
	if p.Secret != nil {
		in.Secret = *p.Secret
	}
	if p.Events != nil {
		in.Events = *p.Events
	}
	if p.Enabled != nil {
		in.Enabled = *p.Enabled
	}
	sub, secret, err := s.store.CreateSubscription(r.Context(), actorOf(r), in)
	if err != nil {
		s.apiWriteError(w, err)
		return
	}
	j := subscriptionJSON(sub, s.now())
	if p.Secret == nil {
		// Generated: this answer is the only place it is ever shown.
		j.Secret = secret
	}
	w.Header().Set("Location", "/api/v1/subscriptions/"+strconv.FormatInt(sub.ID, 10))
	writeJSON(w, http.StatusCreated, j)
}

func (s *Server) apiSubscriptionGet(w http.ResponseWriter, r *http.Request) {
	id, ok := subscriptionID(w, r)
	if !ok {
		return
	}
	sub, err := s.store.Subscription(r.Context(), id)
	if err != nil {
		s.apiStoreError(w, err, "subscription")
		return
	}
	writeJSON(w, http.StatusOK, subscriptionJSON(sub, s.now()))
}

func (s *Server) apiSubscriptionUpdate(w http.ResponseWriter, r *http.Request) {
	id, ok := subscriptionID(w, r)
	if !ok {
		return
	}
	body, ok := readAPIBody(w, r)
	if !ok {
		return
	}
	p, err := ParseSubscriptionRequest(body, true)
	if err != nil {
		s.apiInputError(w, err)
		return
	}
	sub, err := s.store.UpdateSubscription(r.Context(), actorOf(r), id, p)
	if err != nil {
		s.apiWriteError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, subscriptionJSON(sub, s.now()))
}

func (s *Server) apiSubscriptionDelete(w http.ResponseWriter, r *http.Request) {
	id, ok := subscriptionID(w, r)
	if !ok {
		return
	}
	if err := s.store.DeleteSubscription(r.Context(), actorOf(r), id); err != nil {
		s.apiWriteError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiSubscriptionReplay(w http.ResponseWriter, r *http.Request) {
	id, ok := subscriptionID(w, r)
	if !ok {
		return
	}
	body, ok := readAPIBody(w, r)
	if !ok {
		return
	}
	rp, err := ParseReplayRequest(body)
	if err != nil {
		s.apiInputError(w, err)
		return
	}
	n, err := s.store.ReplayFanout(r.Context(), actorOf(r), id, rp)
	if err != nil {
		s.apiWriteError(w, err)
		return
	}
	writeJSON(w, http.StatusAccepted, struct {
		Queued int `json:"queued"`
	}{n})
}

// apiWriteError maps a store write's error to an answer.
func (s *Server) apiWriteError(w http.ResponseWriter, err error) {
	var ie *store.InputError
	if errors.As(err, &ie) {
		s.apiInputError(w, err)
		return
	}
	s.apiStoreError(w, err, "subscription")
}

// DeadLetterJSON is one delivery a subscription gave up on.
type DeadLetterJSON struct {
	Sequence   int64     `json:"sequence"` // X-Pforte-Sequence of the delivery
	ReceivedAt time.Time `json:"received_at"`
	Attempts   int       `json:"attempts"`
	LastError  string    `json:"last_error"`
}

func (s *Server) apiSubscriptionDeadLetters(w http.ResponseWriter, r *http.Request) {
	id, ok := subscriptionID(w, r)
	if !ok {
		return
	}
	limit := 50
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			writeAPIError(w, http.StatusBadRequest, "invalid_parameter", "limit must be a number from 1 to 500")
			return
		}
		limit = n
	}
	if _, err := s.store.Subscription(r.Context(), id); err != nil {
		s.apiStoreError(w, err, "subscription")
		return
	}
	dl, err := s.store.DeadLetters(r.Context(), id, limit)
	if err != nil {
		s.apiStoreError(w, err, "dead letters")
		return
	}
	out := struct {
		Data []DeadLetterJSON `json:"data"`
	}{Data: make([]DeadLetterJSON, 0, len(dl))}
	for _, d := range dl {
		out.Data = append(out.Data, DeadLetterJSON{Sequence: d.DeliveryID, ReceivedAt: time.Unix(d.ReceivedAt, 0).UTC(),
			Attempts: d.Attempts, LastError: d.LastError})
	}
	writeJSON(w, http.StatusOK, out)
}
