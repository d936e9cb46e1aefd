package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pforte/pforte/server/privacy"
	"github.com/pforte/pforte/server/tlsmgr"
	"github.com/pforte/pforte/store"
)

// decodeBody reads an optional small JSON body; an empty body is fine.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeAPIError(w, http.StatusRequestEntityTooLarge, "too_large", "request body too large")
		return false
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return true
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeAPIError(w, http.StatusBadRequest, "invalid_body", "invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func (s *Server) gdprError(w http.ResponseWriter, err error, what string) {
	switch {
	case errors.Is(err, store.ErrInvalid):
		writeAPIError(w, http.StatusBadRequest, "invalid_parameter", strings.TrimPrefix(err.Error(), "store: invalid input: "))
	default:
		s.apiStoreError(w, err, what)
	}
}

// apiContactExport streams the Art. 15/20 export ZIP.
func (s *Server) apiContactExport(w http.ResponseWriter, r *http.Request) {
	c, err := s.store.ContactByKey(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, err, "contact")
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="pforte-export-%d-%s.zip"`, c.ID, s.now().UTC().Format("20060102")))
	w.Header().Set("Cache-Control", "no-store")
	_, err = privacy.ExportContact(r.Context(), s.store, c, w, privacy.ExportOptions{Now: s.now(), Actor: actor(r), IP: tlsmgr.ClientIP(r)})
	if err != nil {
		// The status is sent already: cut the connection, so that the client
		// sees a broken download, never a short ZIP that looks whole.
		s.log.Error("export failed", "contact", c.ID, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// EraseJSON is the answer to DELETE /api/v1/contacts/{id}.
type EraseJSON struct {
	Status        string            `json:"status"` // erased, or restricted while a legal hold lasts
	RequestID     int64             `json:"request_id"`
	Subject       string            `json:"subject"`
	Messages      int               `json:"messages"`
	Conversations int               `json:"conversations"`
	Deliveries    int               `json:"deliveries"`
	Statuses      int               `json:"statuses"`
	Events        int               `json:"events"`
	MediaFiles    int               `json:"media_files"`
	MetaMedia     privacy.MetaMedia `json:"meta_media"`
	// NotifyRecipients lists the company's own systems deliveries are
	// forwarded to; they may hold copies and should be told (Art. 19).
	NotifyRecipients []string   `json:"notify_recipients"`
	Holds            []HoldJSON `json:"holds,omitempty"`
}

func (s *Server) apiContactErase(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Reason string `json:"reason"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if body.Reason == "" {
		body.Reason = r.URL.Query().Get("reason")
	}
	if len(body.Reason) > 500 {
		writeAPIError(w, http.StatusBadRequest, "invalid_parameter", "reason is limited to 500 characters")
		return
	}
	res, meta, err := s.eraser().Erase(r.Context(), r.PathValue("id"), store.EraseRequest{Actor: actor(r), Reason: body.Reason, IP: tlsmgr.ClientIP(r), Now: s.now()})
	if err != nil {
		s.gdprError(w, err, "contact")
		return
	}
	out := EraseJSON{Status: string(res.State), RequestID: res.RequestID, Subject: res.Subject, Messages: res.Messages,
		Conversations: res.Conversations, Deliveries: res.Deliveries, Statuses: res.Statuses, Events: res.Events, MediaFiles: res.MediaFiles,
		NotifyRecipients: append([]string{}, res.Recipients...)}
	for _, h := range res.Holds {
		out.Holds = append(out.Holds, holdJSON(h))
	}
	out.MetaMedia = meta
	code := http.StatusOK
	if res.State == store.ErasureRestricted {
		code = http.StatusAccepted
	}
	writeJSON(w, code, out)
}

// eraser erases through the one Meta client.
func (s *Server) eraser() privacy.Eraser {
	return privacy.Eraser{Store: s.store, DeleteAtMeta: s.cfg.DeleteMetaMedia, Log: s.log}
}

func (s *Server) apiRecordsOfProcessing(w http.ResponseWriter, r *http.Request) {
	rec, err := s.store.RecordsOfProcessing(r.Context(), s.cfg.Processing)
	if err != nil {
		s.apiStoreError(w, err, "records of processing")
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

// ConsentJSON is one consent record in /api/v1.
type ConsentJSON struct {
	Purpose   string    `json:"purpose"`
	Action    string    `json:"action"`
	Source    string    `json:"source"`
	Evidence  string    `json:"evidence"`
	Actor     string    `json:"actor"`
	Timestamp time.Time `json:"timestamp"`
}

func (s *Server) apiConsentList(w http.ResponseWriter, r *http.Request) {
	c, err := s.store.ContactByKey(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, err, "contact")
		return
	}
	recs, err := s.store.ConsentRecords(r.Context(), c.ID)
	if err != nil {
		s.apiStoreError(w, err, "consent")
		return
	}
	out := struct {
		Marketing bool          `json:"marketing"`
		Records   []ConsentJSON `json:"records"`
	}{Records: []ConsentJSON{}}
	out.Marketing = s.store.CheckMarketingConsent(r.Context(), c.ID) == nil
	for _, rc := range recs {
		out.Records = append(out.Records, ConsentJSON{rc.Purpose, string(rc.Action), rc.Source, rc.Evidence, string(rc.Actor), time.Unix(rc.TS, 0).UTC()})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiConsentRecord(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Purpose  string `json:"purpose"`
		Action   string `json:"action"`
		Source   string `json:"source"`
		Evidence string `json:"evidence"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	c, err := s.store.ContactByKey(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, err, "contact")
		return
	}
	rc, err := s.store.RecordConsent(r.Context(), store.ConsentRecord{ContactID: c.ID, Purpose: body.Purpose, Action: store.ConsentAction(body.Action),
		Source: body.Source, Evidence: body.Evidence, Actor: actor(r), TS: s.now().Unix()})
	if err != nil {
		s.gdprError(w, err, "consent")
		return
	}
	writeJSON(w, http.StatusCreated, ConsentJSON{rc.Purpose, string(rc.Action), rc.Source, rc.Evidence, string(rc.Actor), time.Unix(rc.TS, 0).UTC()})
}

// HoldJSON is a legal hold in /api/v1.
type HoldJSON struct {
	ID             int64      `json:"id"`
	Scope          string     `json:"scope"`
	ConversationID int64      `json:"conversation_id,omitempty"`
	Preset         string     `json:"preset,omitempty"`
	Reason         string     `json:"reason"`
	Until          *time.Time `json:"until"`
	SetBy          string     `json:"set_by"`
	SetAt          time.Time  `json:"set_at"`
	ReleasedAt     *time.Time `json:"released_at,omitempty"`
}

func holdJSON(h store.LegalHold) HoldJSON {
	j := HoldJSON{ID: h.ID, Scope: "contact", ConversationID: h.ConversationID, Preset: h.Preset, Reason: h.Reason,
		SetBy: string(h.CreatedBy), SetAt: time.Unix(h.CreatedAt, 0).UTC()}
	if h.ConversationID != 0 {
		j.Scope = "conversation"
	}
	if h.Until != 0 {
		u := time.Unix(h.Until, 0).UTC()
		j.Until = &u
	}
	if h.ReleasedAt != 0 {
		u := time.Unix(h.ReleasedAt, 0).UTC()
		j.ReleasedAt = &u
	}
	return j
}

func (s *Server) apiHoldList(w http.ResponseWriter, r *http.Request) {
	c, err := s.store.ContactByKey(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, err, "contact")
		return
	}
	hs, err := s.store.Holds(r.Context(), c.ID)
	if err != nil {
		s.apiStoreError(w, err, "legal holds")
		return
	}
	out := []HoldJSON{}
	for _, h := range hs {
		out = append(out, holdJSON(h))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (s *Server) apiHoldSet(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Preset         string     `json:"preset"`
		Until          *time.Time `json:"until"`
		Reason         string     `json:"reason"`
		ConversationID int64      `json:"conversation_id"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	c, err := s.store.ContactByKey(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, err, "contact")
		return
	}
	h := store.LegalHold{Preset: body.Preset, Reason: body.Reason, CreatedBy: actor(r), CreatedAt: s.now().Unix()}
	if body.ConversationID != 0 {
		owner, err := s.store.ConversationContact(r.Context(), body.ConversationID)
		if err != nil || owner != c.ID {
			writeAPIError(w, http.StatusNotFound, "not_found", "conversation not found for this contact")
			return
		}
		h.ConversationID = body.ConversationID
	} else {
		h.ContactID = c.ID
	}
	switch {
	case body.Preset != "" && body.Until != nil:
		writeAPIError(w, http.StatusBadRequest, "invalid_parameter", "give either preset or until, not both")
		return
	case body.Preset != "":
		u, err := store.HoldUntil(body.Preset, s.now(), s.cfg.Location)
		if err != nil {
			writeAPIError(w, http.StatusBadRequest, "invalid_parameter", "preset must be business_letter, voucher or books")
			return
		}
		h.Until = u.Unix()
	case body.Until != nil:
		h.Until = body.Until.Unix()
	}
	out, err := s.store.SetHold(r.Context(), h)
	if err != nil {
		s.gdprError(w, err, "legal hold")
		return
	}
	writeJSON(w, http.StatusCreated, holdJSON(*out))
}

func (s *Server) apiHoldRelease(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("hold"), 10, 64)
	if err != nil || id < 1 {
		writeAPIError(w, http.StatusBadRequest, "invalid_parameter", "hold id must be a number")
		return
	}
	if err := s.store.ReleaseHold(r.Context(), id, actor(r), s.now()); err != nil {
		s.gdprError(w, err, "legal hold")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) apiRetentionPreview(w http.ResponseWriter, r *http.Request) {
	rep, err := s.store.RunRetention(r.Context(), store.RetentionOptions{Now: s.now(), DryRun: true})
	if err != nil {
		s.apiStoreError(w, err, "retention")
		return
	}
	policies, err := s.store.RetentionPolicies(r.Context())
	if err != nil {
		s.apiStoreError(w, err, "retention")
		return
	}
	type item struct {
		Class         string    `json:"class"`
		PhoneNumberID string    `json:"phone_number_id,omitempty"`
		Days          int       `json:"days"`
		Cutoff        time.Time `json:"cutoff"`
		Rows          int64     `json:"rows"`
	}
	type policy struct {
		Class         string `json:"class"`
		PhoneNumberID string `json:"phone_number_id,omitempty"`
		Days          int    `json:"days"`
	}
	out := struct {
		Policies   []policy `json:"policies"`
		WouldGo    []item   `json:"would_delete"`
		MediaFiles int      `json:"media_files"`
	}{Policies: []policy{}, WouldGo: []item{}, MediaFiles: rep.MediaFiles + rep.OrphanFiles}
	for _, p := range policies {
		out.Policies = append(out.Policies, policy{p.Class, p.PhoneNumberID, p.Days})
	}
	for _, it := range rep.Items {
		out.WouldGo = append(out.WouldGo, item{it.Class, it.PhoneNumberID, it.Days, it.Cutoff.UTC(), it.Rows})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiSecureLinkCreate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		PhoneNumberID string `json:"phone_number_id"`
		Prompt        string `json:"prompt"`
		TTLHours      int    `json:"ttl_hours"`
	}
	if !decodeBody(w, r, &body) {
		return
	}
	if s.cfg.PublicURL == "" {
		writeAPIError(w, http.StatusConflict, "not_configured", "secure links need the public address (--domain)")
		return
	}
	c, err := s.store.ContactByKey(r.Context(), r.PathValue("id"))
	if err != nil {
		s.apiStoreError(w, err, "contact")
		return
	}
	conv, err := s.store.ContactConversation(r.Context(), c.ID, body.PhoneNumberID)
	if err != nil {
		s.apiStoreError(w, err, "conversation")
		return
	}
	if body.TTLHours == 0 {
		body.TTLHours = 72
	}
	token, l, err := s.store.CreateSecureLink(r.Context(), conv, body.Prompt, actor(r), time.Duration(body.TTLHours)*time.Hour, s.now())
	if err != nil {
		s.gdprError(w, err, "secure link")
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"url": strings.TrimRight(s.cfg.PublicURL, "/") + "/s/" + token,
		"expires_at": time.Unix(l.ExpiresAt, 0).UTC(), "conversation_id": conv})
}
