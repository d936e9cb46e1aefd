package gateway

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/pforte/pforte/server/automation"
	"github.com/pforte/pforte/store"
)

// automationError answers bad automation input: 400 naming the field,
// with the German message the panel shows and its English translation.
func (s *Server) automationError(w http.ResponseWriter, err error, what string) {
	var ie *automation.InputError
	if errors.As(err, &ie) {
		var e struct {
			Error struct {
				Code      string `json:"code"`
				Field     string `json:"field"`
				Message   string `json:"message"`
				MessageEN string `json:"message_en"`
			} `json:"error"`
		}
		e.Error.Code, e.Error.Field, e.Error.Message, e.Error.MessageEN = "invalid_parameter", ie.Field, ie.De, ie.En
		writeJSON(w, http.StatusBadRequest, e)
		return
	}
	s.apiStoreError(w, err, what)
}

func (s *Server) automations() *automation.Settings { return s.cfg.Automations }

func (s *Server) apiHoursGet(w http.ResponseWriter, r *http.Request) {
	pnid := r.PathValue("phone_number_id")
	if !s.numberExists(r.Context(), w, pnid) {
		return
	}
	h, err := s.automations().Hours(r.Context(), pnid)
	if err != nil {
		s.automationError(w, err, "business hours")
		return
	}
	if h == nil {
		writeAPIError(w, http.StatusNotFound, "not_found", "no business hours set for this number")
		return
	}
	writeJSON(w, http.StatusOK, h.Spec())
}

func (s *Server) apiHoursPut(w http.ResponseWriter, r *http.Request) {
	body, ok := readAPIBody(w, r)
	if !ok {
		return
	}
	h, err := s.automations().SetHours(r.Context(), actorOf(r), r.PathValue("phone_number_id"), body)
	if err != nil {
		s.automationError(w, err, "business number")
		return
	}
	writeJSON(w, http.StatusOK, h.Spec())
}

func (s *Server) apiAutoReplyGet(w http.ResponseWriter, r *http.Request) {
	rep, err := s.automations().Reply(r.Context(), r.PathValue("phone_number_id"), store.AutomationKind(r.PathValue("kind")))
	if err != nil {
		s.automationError(w, err, "business number")
		return
	}
	writeJSON(w, http.StatusOK, rep.Spec())
}

func (s *Server) apiAutoReplyPut(w http.ResponseWriter, r *http.Request) {
	body, ok := readAPIBody(w, r)
	if !ok {
		return
	}
	rep, err := s.automations().SetReply(r.Context(), actorOf(r), r.PathValue("phone_number_id"), store.AutomationKind(r.PathValue("kind")), body)
	if err != nil {
		s.automationError(w, err, "business number")
		return
	}
	writeJSON(w, http.StatusOK, rep.Spec())
}

// BotJSON is a conversation's bot handover state.
type BotJSON struct {
	Active bool `json:"active"`
}

func (s *Server) apiBotGet(w http.ResponseWriter, r *http.Request) {
	id, err := s.store.ConversationOf(r.Context(), r.PathValue("phone_number_id"), r.PathValue("contact"))
	if err != nil {
		s.apiStoreError(w, err, "conversation")
		return
	}
	on, err := s.store.BotActive(r.Context(), id)
	if err != nil {
		s.apiStoreError(w, err, "conversation")
		return
	}
	writeJSON(w, http.StatusOK, BotJSON{Active: on})
}

func (s *Server) apiBotPut(w http.ResponseWriter, r *http.Request) {
	body, ok := readAPIBody(w, r)
	if !ok {
		return
	}
	var req struct {
		Active *bool `json:"active"`
	}
	if err := decodeStrict(bytesReader(body), &req); err != nil {
		s.apiInputError(w, err)
		return
	}
	if req.Active == nil {
		s.apiInputError(w, &store.InputError{Field: "active", Msg: `required: {"active": true} while a bot answers, false to hand over to people`})
		return
	}
	id, err := s.store.ConversationOf(r.Context(), r.PathValue("phone_number_id"), r.PathValue("contact"))
	if err != nil {
		s.apiStoreError(w, err, "conversation")
		return
	}
	if _, err := s.store.SetBotActive(r.Context(), actorOf(r), id, *req.Active, s.now()); err != nil {
		s.apiStoreError(w, err, "conversation")
		return
	}
	writeJSON(w, http.StatusOK, BotJSON{Active: *req.Active})
}

func (s *Server) numberExists(ctx context.Context, w http.ResponseWriter, pnid string) bool {
	nums, err := s.store.BusinessNumbers(ctx)
	if err != nil {
		s.apiStoreError(w, err, "business number")
		return false
	}
	for _, n := range nums {
		if n.PhoneNumberID == pnid {
			return true
		}
	}
	writeAPIError(w, http.StatusNotFound, "not_found", "business number not found")
	return false
}
func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }

func (s *Server) apiCSATGet(w http.ResponseWriter, r *http.Request) {
	c, err := s.automations().CSAT(r.Context(), r.PathValue("phone_number_id"))
	if err != nil {
		s.automationError(w, err, "business number")
		return
	}
	writeJSON(w, http.StatusOK, c.CSATSpec)
}

func (s *Server) apiCSATPut(w http.ResponseWriter, r *http.Request) {
	body, ok := readAPIBody(w, r)
	if !ok {
		return
	}
	c, err := s.automations().SetCSAT(r.Context(), actorOf(r), r.PathValue("phone_number_id"), body)
	if err != nil {
		s.automationError(w, err, "business number")
		return
	}
	writeJSON(w, http.StatusOK, c.CSATSpec)
}

func (s *Server) apiRoutingGet(w http.ResponseWriter, r *http.Request) {
	spec, err := s.automations().Routing(r.Context(), r.PathValue("phone_number_id"))
	if err != nil {
		s.automationError(w, err, "business number")
		return
	}
	writeJSON(w, http.StatusOK, spec)
}

func (s *Server) apiRoutingPut(w http.ResponseWriter, r *http.Request) {
	body, ok := readAPIBody(w, r)
	if !ok {
		return
	}
	spec, err := s.automations().SetRouting(r.Context(), actorOf(r), r.PathValue("phone_number_id"), body)
	if err != nil {
		s.automationError(w, err, "business number")
		return
	}
	writeJSON(w, http.StatusOK, spec)
}
