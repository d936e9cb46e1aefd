package gateway

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/pforte/pforte/store"
)

// MessageJSON is a message in /api/v1.
type MessageJSON struct {
	ID            string          `json:"id"`
	LocalID       int64           `json:"local_id"`
	Direction     string          `json:"direction"`
	PhoneNumberID string          `json:"phone_number_id"`
	Contact       ContactRef      `json:"contact"`
	Type          string          `json:"type"`
	Text          *string         `json:"text"`
	Timestamp     time.Time       `json:"timestamp"`
	Status        *string         `json:"status"`
	Errors        json.RawMessage `json:"errors"`
	Context       json.RawMessage `json:"context"`
	Referral      json.RawMessage `json:"referral,omitempty"`
	GroupID       string          `json:"group_id,omitempty"`
	Media         *MediaJSON      `json:"media"`
	Payload       json.RawMessage `json:"payload"`
	Extra         json.RawMessage `json:"extra,omitempty"`
	Delivery      *DeliveryJSON   `json:"delivery,omitempty"`
	// Pricing is what Meta reported the message costs (outbound only,
	// once a status webhook carried it).
	Pricing *store.Pricing `json:"pricing,omitempty"`
}

// ContactRef names a message's customer.
type ContactRef struct {
	WaID   *string `json:"wa_id"`
	UserID *string `json:"user_id"`
	Name   string  `json:"name"`
}

// MediaJSON describes a message's file.
type MediaJSON struct {
	MimeType     string `json:"mime_type"`
	SHA256       string `json:"sha256"`
	Size         *int64 `json:"size"`
	Filename     string `json:"filename"`
	State        string `json:"state"`
	DownloadPath string `json:"download_path"`
	Error        string `json:"error,omitempty"`
}

// ContactJSON is a customer in /api/v1.
type ContactJSON struct {
	WaID         *string      `json:"wa_id"`
	UserID       *string      `json:"user_id"`
	ParentUserID *string      `json:"parent_user_id,omitempty"`
	Username     *string      `json:"username,omitempty"`
	Name         string       `json:"name"`
	CreatedAt    time.Time    `json:"created_at"`
	UpdatedAt    time.Time    `json:"updated_at"`
	Windows      []WindowJSON `json:"windows"`
	// The address book entry (contactbook.go).
	AddressBook *ContactEntryJSON `json:"address_book,omitempty"`
}

// WindowJSON is the customer-service window with one business number.
type WindowJSON struct {
	PhoneNumberID string    `json:"phone_number_id"`
	LastInboundAt time.Time `json:"last_inbound_at"`
	ExpiresAt     time.Time `json:"expires_at"`
	Open          bool      `json:"open"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func rawOrNull(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

func messageJSON(m *store.Message) MessageJSON {
	j := MessageJSON{
		ID: m.WAMID, LocalID: m.ID, Direction: m.Direction, PhoneNumberID: m.PhoneNumberID,
		Contact:   ContactRef{WaID: optional(m.Contact.WaID), UserID: optional(m.Contact.UserID), Name: m.Contact.Name},
		Type:      m.Type,
		Timestamp: time.Unix(m.TS, 0).UTC(),
		Errors:    rawOrNull(m.Errors), Context: rawOrNull(m.Context), Payload: rawOrNull(m.Payload),
		Referral: m.Referral, GroupID: m.GroupID, Extra: m.Extra,
	}
	if m.Text.Valid {
		j.Text = &m.Text.String
	}
	if m.Direction == "outbound" {
		j.Status = optional(string(m.Status))
	}
	if m.Media != nil {
		j.Media = &MediaJSON{MimeType: m.Media.MimeType, SHA256: m.Media.SHA256, Filename: m.Media.Filename,
			State: string(m.Media.State), DownloadPath: "/api/v1/messages/" + messageKey(m) + "/media", Error: m.Media.LastError}
		if m.Media.State == store.MediaStored {
			j.Media.Size = &m.Media.Size
		}
	}
	return j
}

func (s *Server) apiMessageGet(w http.ResponseWriter, r *http.Request) {
	m, err := s.lookupMessage(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, err, "message")
		return
	}
	j := messageJSON(m)
	if m.Direction == "outbound" {
		if j.Delivery, err = s.deliveryJSON(r.Context(), m.ID); err != nil {
			s.apiStoreError(w, err, "message")
			return
		}
		if err := s.addPricing(r.Context(), []*MessageJSON{&j}); err != nil {
			s.apiStoreError(w, err, "message")
			return
		}
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) apiContactGet(w http.ResponseWriter, r *http.Request) {
	c, err := s.store.ContactByKey(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, err, "contact")
		return
	}
	wins, err := s.store.ContactWindows(r.Context(), c.ID)
	if err != nil {
		s.apiStoreError(w, err, "contact")
		return
	}
	j := ContactJSON{WaID: optional(c.WaID), UserID: optional(c.UserID), ParentUserID: optional(c.ParentUserID),
		Username: optional(c.Username), Name: c.Name,
		CreatedAt: time.Unix(c.CreatedAt, 0).UTC(), UpdatedAt: time.Unix(c.UpdatedAt, 0).UTC(), Windows: []WindowJSON{}}
	if j.AddressBook, err = s.contactEntry(r, c); err != nil {
		s.apiStoreError(w, err, "contact")
		return
	}
	now := s.now()
	for _, win := range wins {
		j.Windows = append(j.Windows, WindowJSON{PhoneNumberID: win.PhoneNumberID, LastInboundAt: time.Unix(win.LastInboundAt, 0).UTC(),
			ExpiresAt: store.WindowEnds(win.LastInboundAt).UTC(), Open: store.WindowOpen(win.LastInboundAt, now)})
	}
	writeJSON(w, http.StatusOK, j)
}

// MessagePage is one page of a message list.
type MessagePage struct {
	Data []MessageJSON `json:"data"`
	// Next is the "before" cursor of the following page, absent on the last.
	Next string `json:"next,omitempty"`
}

func (s *Server) apiContactMessages(w http.ResponseWriter, r *http.Request) {
	c, err := s.store.ContactByKey(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, err, "contact")
		return
	}
	var p store.Page
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		if p.Limit, err = strconv.Atoi(v); err != nil || p.Limit < 1 || p.Limit > 500 {
			writeAPIError(w, http.StatusBadRequest, "invalid_parameter", "limit must be a number from 1 to 500")
			return
		}
	}
	if v := q.Get("before"); v != "" {
		if p.Before, err = strconv.ParseInt(v, 10, 64); err != nil || p.Before < 1 {
			writeAPIError(w, http.StatusBadRequest, "invalid_parameter", "before must be a cursor from a previous page's next")
			return
		}
	}
	msgs, next, err := s.store.ContactMessages(r.Context(), c.ID, p)
	if err != nil {
		s.apiStoreError(w, err, "messages")
		return
	}
	page := MessagePage{Data: make([]MessageJSON, 0, len(msgs))}
	for _, m := range msgs {
		page.Data = append(page.Data, messageJSON(m))
	}
	refs := make([]*MessageJSON, len(page.Data))
	for i := range page.Data {
		refs[i] = &page.Data[i]
	}
	if err := s.addPricing(r.Context(), refs); err != nil {
		s.apiStoreError(w, err, "messages")
		return
	}
	if next > 0 {
		page.Next = strconv.FormatInt(next, 10)
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) apiStoreError(w http.ResponseWriter, err error, what string) {
	if errors.Is(err, store.ErrNotFound) {
		writeAPIError(w, http.StatusNotFound, "not_found", what+" not found")
		return
	}
	s.log.Error("api", "what", what, "err", err)
	writeAPIError(w, http.StatusServiceUnavailable, "unavailable", "storage temporarily unavailable")
}

// APIError is the error body of /api/v1.
type APIError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeAPIError(w http.ResponseWriter, status int, code, msg string) {
	var e APIError
	e.Error.Code, e.Error.Message = code, msg
	writeJSON(w, status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
