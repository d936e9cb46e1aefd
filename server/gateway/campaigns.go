package gateway

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/pforte/pforte/server/campaign"
	"github.com/pforte/pforte/store"
)

// CampaignRequestJSON is the body of POST /api/v1/campaigns.
type CampaignRequestJSON struct {
	Name          string `json:"name"`
	PhoneNumberID string `json:"phone_number_id"`
	Purpose       string `json:"purpose"`
	Template      struct {
		Name       string   `json:"name"`
		Language   string   `json:"language"`
		Parameters []string `json:"parameters"`
	} `json:"template"`
	Audience struct {
		Contacts          []string          `json:"contacts"`
		Labels            []string          `json:"labels"`
		ContactLabels     []string          `json:"contact_labels"`
		Fields            map[string]string `json:"fields"`
		PhoneNumberID     string            `json:"phone_number_id"`
		LastContactAfter  *time.Time        `json:"last_contact_after"`
		LastContactBefore *time.Time        `json:"last_contact_before"`
	} `json:"audience"`
	RecipientParameters map[string][]string `json:"recipient_parameters"`
	UnsubscribeButton   *int                `json:"unsubscribe_button"`
	Start               string              `json:"start"`
}

// CampaignJSON is a campaign in /api/v1.
type CampaignJSON struct {
	ID            string               `json:"id"`
	Name          string               `json:"name"`
	Status        string               `json:"status"`
	PauseReason   string               `json:"pause_reason,omitempty"`
	PhoneNumberID string               `json:"phone_number_id"`
	Purpose       string               `json:"purpose"`
	Template      string               `json:"template"`
	Language      string               `json:"language"`
	StartAt       time.Time            `json:"start_at"`
	StartedAt     *time.Time           `json:"started_at,omitempty"`
	FinishedAt    *time.Time           `json:"finished_at,omitempty"`
	Counts        store.CampaignCounts `json:"counts"`
	// The minimal shape names the counts at the top level too.
	Eligible  int     `json:"eligible"`
	Excluded  int     `json:"excluded"`
	Sent      int     `json:"sent"`
	Delivered int     `json:"delivered"`
	Read      int     `json:"read"`
	Failed    int     `json:"failed"`
	OptedOut  int     `json:"opted_out"`
	Cost      float64 `json:"cost"`
	Currency  string  `json:"currency"`
}

func unixPtr(s int64) *time.Time {
	if s == 0 {
		return nil
	}
	t := time.Unix(s, 0).UTC()
	return &t
}

func campaignJSON(st *campaign.Status) CampaignJSON {
	c, n := st.Campaign, st.Counts
	return CampaignJSON{ID: strconv.FormatInt(c.ID, 10), Name: c.Name, Status: string(c.Status), PauseReason: c.PauseReason,
		PhoneNumberID: c.PhoneNumberID, Purpose: c.Purpose, Template: c.TemplateName, Language: c.TemplateLanguage,
		StartAt: time.Unix(c.StartAt, 0).UTC(), StartedAt: unixPtr(c.StartedAt), FinishedAt: unixPtr(c.FinishedAt), Counts: *n,
		Eligible: n.Eligible, Excluded: n.Excluded, Sent: n.Sent, Delivered: n.Delivered, Read: n.Read, Failed: n.Failed, OptedOut: n.OptedOut,
		Cost: st.Cost, Currency: st.Currency}
}

// maxCampaignBody allows an audience of about 500 000 listed numbers.
const maxCampaignBody = 16 << 20

func (s *Server) campaignInput(w http.ResponseWriter, r *http.Request) (campaign.Input, bool) {
	var body CampaignRequestJSON
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCampaignBody))
	if err != nil {
		writeAPIError(w, http.StatusRequestEntityTooLarge, "too_large", "request body too large (16 MiB)")
		return campaign.Input{}, false
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeAPIError(w, http.StatusBadRequest, "invalid_body", "invalid JSON body: "+err.Error())
		return campaign.Input{}, false
	}
	in := campaign.Input{Name: body.Name, PhoneNumberID: body.PhoneNumberID, Purpose: body.Purpose, Template: body.Template.Name,
		Language: body.Template.Language, Parameters: body.Template.Parameters, UnsubscribeButton: body.UnsubscribeButton,
		RecipientParams: body.RecipientParameters, Start: body.Start,
		Audience: store.AudienceFilter{Contacts: body.Audience.Contacts, Labels: body.Audience.Labels, PhoneNumberID: body.Audience.PhoneNumberID,
			ContactLabels: body.Audience.ContactLabels, Fields: body.Audience.Fields}}
	if body.Audience.LastContactAfter != nil {
		in.Audience.LastContactAfter = body.Audience.LastContactAfter.Unix()
	}
	if body.Audience.LastContactBefore != nil {
		in.Audience.LastContactBefore = body.Audience.LastContactBefore.Unix()
	}
	return in, true
}

func (s *Server) campaignError(w http.ResponseWriter, err error) {
	var fe *campaign.FieldError
	switch {
	case errors.As(err, &fe):
		writeAPIError(w, http.StatusBadRequest, "invalid_parameter", fe.Field+": "+fe.EN)
	case errors.Is(err, store.ErrCampaignState):
		writeAPIError(w, http.StatusConflict, "invalid_state", strings.TrimPrefix(err.Error(), "store: "))
	default:
		s.apiStoreError(w, err, "campaign")
	}
}

func (s *Server) campaignsReady(w http.ResponseWriter) bool {
	if s.cfg.Campaigns == nil {
		writeAPIError(w, http.StatusServiceUnavailable, "unavailable", "campaigns need the outbox, which is not running")
		return false
	}
	return true
}

func (s *Server) apiCampaignCreate(w http.ResponseWriter, r *http.Request) {
	if !s.campaignsReady(w) {
		return
	}
	in, ok := s.campaignInput(w, r)
	if !ok {
		return
	}
	c, err := s.cfg.Campaigns.Create(r.Context(), in, actor(r))
	if err != nil {
		s.campaignError(w, err)
		return
	}
	st, err := s.cfg.Campaigns.Get(r.Context(), c.ID)
	if err != nil {
		s.campaignError(w, err)
		return
	}
	writeJSON(w, http.StatusCreated, campaignJSON(st))
}

// CampaignPreviewJSON is the answer of POST /api/v1/campaigns/preview.
type CampaignPreviewJSON struct {
	Eligible   int              `json:"eligible"`
	Excluded   map[string]int   `json:"excluded"`
	Skipped    int              `json:"skipped"`
	Unknown    int              `json:"unknown"`
	Cost       float64          `json:"expected_cost"`
	Currency   string           `json:"currency"`
	QuietUntil *time.Time       `json:"quiet_until,omitempty"`
	Messages   []map[string]any `json:"messages"`
}

func (s *Server) apiCampaignPreview(w http.ResponseWriter, r *http.Request) {
	if !s.campaignsReady(w) {
		return
	}
	in, ok := s.campaignInput(w, r)
	if !ok {
		return
	}
	p, err := s.cfg.Campaigns.Preview(r.Context(), in, 5)
	if err != nil {
		s.campaignError(w, err)
		return
	}
	out := CampaignPreviewJSON{Eligible: p.Eligible, Excluded: p.Excluded, Skipped: p.Skipped, Unknown: p.Unknown, Cost: p.Cost, Currency: p.Currency,
		Messages: []map[string]any{}}
	if !p.QuietUntil.IsZero() {
		t := p.QuietUntil.UTC()
		out.QuietUntil = &t
	}
	for _, m := range p.Messages {
		out.Messages = append(out.Messages, map[string]any{"recipient": m.Recipient, "text": m.Text, "message": json.RawMessage(m.Body)})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) campaignID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		writeAPIError(w, http.StatusNotFound, "not_found", "campaign not found")
		return 0, false
	}
	return id, s.campaignsReady(w)
}

func (s *Server) apiCampaignGet(w http.ResponseWriter, r *http.Request) {
	id, ok := s.campaignID(w, r)
	if !ok {
		return
	}
	st, err := s.cfg.Campaigns.Get(r.Context(), id)
	if err != nil {
		s.campaignError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, campaignJSON(st))
}

func (s *Server) apiCampaignList(w http.ResponseWriter, r *http.Request) {
	if !s.campaignsReady(w) {
		return
	}
	list, err := s.store.Campaigns(r.Context(), 200)
	if err != nil {
		s.campaignError(w, err)
		return
	}
	out := []CampaignJSON{}
	for _, c := range list {
		st, err := s.cfg.Campaigns.Get(r.Context(), c.ID)
		if err != nil {
			s.campaignError(w, err)
			return
		}
		out = append(out, campaignJSON(st))
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (s *Server) apiCampaignControl(w http.ResponseWriter, r *http.Request) {
	id, ok := s.campaignID(w, r)
	if !ok {
		return
	}
	var err error
	switch r.PathValue("action") {
	case "pause":
		err = s.cfg.Campaigns.Pause(r.Context(), id, actor(r))
	case "resume":
		err = s.cfg.Campaigns.Resume(r.Context(), id, actor(r))
	case "cancel":
		err = s.cfg.Campaigns.Cancel(r.Context(), id, actor(r))
	default:
		writeAPIError(w, http.StatusNotFound, "not_found", "unknown action; use pause, resume or cancel")
		return
	}
	if err != nil {
		s.campaignError(w, err)
		return
	}
	s.apiCampaignGet(w, r)
}

func (s *Server) apiCampaignResults(w http.ResponseWriter, r *http.Request) {
	id, ok := s.campaignID(w, r)
	if !ok {
		return
	}
	if _, err := s.store.Campaign(r.Context(), id); err != nil {
		s.campaignError(w, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="kampagne-`+strconv.FormatInt(id, 10)+`.csv"`)
	if err := s.cfg.Campaigns.WriteResultsCSV(r.Context(), id, w); err != nil {
		s.log.Error("campaign results", "err", err)
	}
}

// OptInEntryJSON is an opt-in entry point in /api/v1, with its link.
type OptInEntryJSON struct {
	store.OptInEntry
	Link string `json:"link,omitempty"`
}

func (s *Server) apiOptInList(w http.ResponseWriter, r *http.Request) {
	list, err := s.store.OptInEntries(r.Context())
	if err != nil {
		s.apiStoreError(w, err, "opt-in entries")
		return
	}
	nums, err := s.store.BusinessNumbers(r.Context())
	if err != nil {
		s.apiStoreError(w, err, "business numbers")
		return
	}
	out := []OptInEntryJSON{}
	for _, e := range list {
		j := OptInEntryJSON{OptInEntry: e}
		for _, n := range nums {
			if n.DisplayPhoneNumber != "" && (e.PhoneNumberID == "" || e.PhoneNumberID == n.PhoneNumberID) {
				j.Link = campaign.Link(n.DisplayPhoneNumber, e)
				break
			}
		}
		out = append(out, j)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func (s *Server) apiOptInCreate(w http.ResponseWriter, r *http.Request) {
	var e store.OptInEntry
	if !decodeBody(w, r, &e) {
		return
	}
	e.ID = 0
	saved, err := s.store.SaveOptInEntry(r.Context(), e, actor(r), s.now())
	if err != nil {
		s.gdprError(w, err, "opt-in entry")
		return
	}
	writeJSON(w, http.StatusCreated, OptInEntryJSON{OptInEntry: *saved})
}

// apiOptInQR answers the QR code of an entry point's wa.me link, as PNG
// (?format=png, default, ?size= pixels) or SVG (?format=svg).
func (s *Server) apiOptInQR(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeAPIError(w, http.StatusNotFound, "not_found", "opt-in entry not found")
		return
	}
	link, err := s.optInLink(r, id)
	if err != nil {
		s.apiStoreError(w, err, "opt-in entry")
		return
	}
	if link == "" {
		writeAPIError(w, http.StatusConflict, "no_display_number", "the business number's display number is not known yet; it arrives with the first webhook or is entered under Settings")
		return
	}
	if r.URL.Query().Get("format") == "svg" {
		b, err := campaign.QRSVG(link)
		if err != nil {
			writeAPIError(w, http.StatusBadRequest, "invalid_parameter", err.Error())
			return
		}
		w.Header().Set("Content-Type", "image/svg+xml")
		w.Write(b)
		return
	}
	size, _ := strconv.Atoi(r.URL.Query().Get("size"))
	if size < 128 || size > 2048 {
		size = 512
	}
	b, err := campaign.QRPNG(link, size)
	if err != nil {
		writeAPIError(w, http.StatusBadRequest, "invalid_parameter", err.Error())
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Write(b)
}

func (s *Server) optInLink(r *http.Request, id int64) (string, error) {
	list, err := s.store.OptInEntries(r.Context())
	if err != nil {
		return "", err
	}
	nums, err := s.store.BusinessNumbers(r.Context())
	if err != nil {
		return "", err
	}
	for _, e := range list {
		if e.ID != id {
			continue
		}
		for _, n := range nums {
			if n.DisplayPhoneNumber != "" && (e.PhoneNumberID == "" || e.PhoneNumberID == n.PhoneNumberID) {
				return campaign.Link(n.DisplayPhoneNumber, e), nil
			}
		}
		return "", nil
	}
	return "", store.ErrNotFound
}
