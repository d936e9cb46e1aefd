package automation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
)

// CSATSpec is the API's and the store's shape of the satisfaction survey.
type CSATSpec struct {
	Enabled    bool   `json:"enabled"`
	Scale      string `json:"scale"` // "thumbs" (👍/👎) or "five" (1–5)
	Question   string `json:"question"`
	QuestionEN string `json:"question_en,omitempty"`
	// Template is sent when the customer-service window has closed; its
	// quick-reply buttons carry the scores, best first. Without one the
	// survey is skipped outside the window.
	Template         string `json:"template,omitempty"`
	TemplateLanguage string `json:"template_language,omitempty"`
}

// CSAT is a checked survey setting.
type CSAT struct{ CSATSpec }

// MaxScore is the scale's top score.
func (c *CSAT) MaxScore() int {
	if c.Scale == "five" {
		return 5
	}
	return 2
}

// ParseCSAT decodes and checks the survey setting (the template's
// approval is checked by Settings, which knows the store).
func ParseCSAT(body []byte) (*CSAT, error) {
	var spec CSATSpec
	if err := decodeStrict(body, &spec); err != nil {
		return nil, err
	}
	c := &CSAT{spec}
	if c.Scale == "" {
		c.Scale = "thumbs"
	}
	if c.Scale != "thumbs" && c.Scale != "five" {
		return nil, bad("scale", "Skala %q unbekannt: thumbs (👍/👎) oder five (1–5).", "Unknown scale %q: thumbs (👍/👎) or five (1–5).", c.Scale)
	}
	c.Question = strings.TrimSpace(c.Question)
	if c.Question == "" {
		c.Question = "Wie zufrieden waren Sie mit unserer Hilfe?"
		if c.QuestionEN == "" {
			c.QuestionEN = "How satisfied were you with our help?"
		}
	}
	if len([]rune(c.Question)) > 1024 || len([]rune(c.QuestionEN)) > 1024 {
		return nil, bad("question", "Die Frage ist zu lang (höchstens 1024 Zeichen).", "The question is too long (at most 1024 characters).")
	}
	if (c.Template == "") != (c.TemplateLanguage == "") {
		return nil, bad("template", "Vorlage und Sprache der Vorlage bitte zusammen angeben (z. B. csat_umfrage, de).",
			"Give the template together with its language (e.g. csat_survey, en).")
	}
	return c, nil
}

// JSON is the stored form.
func (c *CSAT) JSON() string {
	b, _ := json.Marshal(c.CSATSpec)
	return string(b)
}

// CSAT returns a number's survey setting (off when unset).
func (s *Settings) CSAT(ctx context.Context, pnid string) (*CSAT, error) {
	if _, err := s.numberKnown(ctx, pnid); err != nil {
		return nil, err
	}
	a, err := s.st.Automation(ctx, pnid, store.AutoCSAT)
	if errors.Is(err, store.ErrNotFound) {
		return ParseCSAT([]byte(`{}`))
	}
	if err != nil {
		return nil, err
	}
	return ParseCSAT([]byte(a.Spec))
}

// SetCSAT checks and saves the survey setting; a template must be one
// Meta approved.
func (s *Settings) SetCSAT(ctx context.Context, actor store.Actor, pnid string, body []byte) (*CSAT, error) {
	c, err := ParseCSAT(body)
	if err != nil {
		return nil, err
	}
	if _, err := s.numberKnown(ctx, pnid); err != nil {
		return nil, err
	}
	if c.Template != "" {
		tpls, err := s.st.Templates(ctx)
		if err != nil {
			return nil, err
		}
		status := ""
		for _, t := range tpls {
			if t.Name == c.Template && strings.EqualFold(strings.ReplaceAll(t.Language, "-", "_"), strings.ReplaceAll(c.TemplateLanguage, "-", "_")) {
				status = t.Status
			}
		}
		if status != "APPROVED" {
			if status == "" {
				status = "unbekannt"
			}
			return nil, bad("template", "Die Vorlage %q (%s) ist nicht von Meta freigegeben (Status: %s).",
				"The template %q (%s) is not approved by Meta (status: %s).", c.Template, c.TemplateLanguage, status)
		}
	}
	return c, s.st.SetAutomation(ctx, actor, pnid, store.AutoCSAT, c.JSON(), s.now())
}

// surveyBody is the survey message: reply buttons (👍/👎) or a list (1–5)
// inside the window, the template with quick-reply payloads outside.
func surveyBody(c *CSAT, v store.Survey, inWindow, english bool) ([]byte, bool) {
	msg := map[string]any{"messaging_product": "whatsapp", "recipient_type": "individual"}
	if v.WaID != "" {
		msg["to"] = v.WaID
	} else if v.UserID != "" {
		msg["recipient"] = v.UserID
	} else {
		return nil, false
	}
	q := c.Question
	if english && c.QuestionEN != "" {
		q = c.QuestionEN
	}
	id := func(score int) string { return fmt.Sprintf("%s%d:%d", store.SurveyPrefix, v.ID, score) }
	switch {
	case inWindow && c.Scale == "thumbs":
		msg["type"] = "interactive"
		msg["interactive"] = map[string]any{"type": "button", "body": map[string]string{"text": q},
			"action": map[string]any{"buttons": []any{
				map[string]any{"type": "reply", "reply": map[string]string{"id": id(2), "title": "👍"}},
				map[string]any{"type": "reply", "reply": map[string]string{"id": id(1), "title": "👎"}},
			}}}
	case inWindow:
		var rows []any
		for score := 5; score >= 1; score-- {
			rows = append(rows, map[string]string{"id": id(score), "title": strings.Repeat("★", score)})
		}
		button := "Bewerten"
		if english {
			button = "Rate"
		}
		msg["type"] = "interactive"
		msg["interactive"] = map[string]any{"type": "list", "body": map[string]string{"text": q},
			"action": map[string]any{"button": button, "sections": []any{map[string]any{"title": "1–5", "rows": rows}}}}
	case c.Template != "":
		var comps []any
		for i := 0; i < c.MaxScore(); i++ {
			comps = append(comps, map[string]any{"type": "button", "sub_type": "quick_reply", "index": fmt.Sprint(i),
				"parameters": []any{map[string]string{"type": "payload", "payload": id(c.MaxScore() - i)}}})
		}
		msg["type"] = "template"
		msg["template"] = map[string]any{"name": c.Template, "language": map[string]string{"code": c.TemplateLanguage}, "components": comps}
	default:
		return nil, false
	}
	b, _ := json.Marshal(msg)
	return b, true
}

// surveys sends the satisfaction surveys of closed conversations.
func (w *Worker) surveys(ctx context.Context, rules Rules) error {
	list, err := w.st.PendingSurveys(ctx, 100)
	if err != nil {
		return err
	}
	now := w.opts.Now()
	for _, v := range list {
		nr := rules[v.PhoneNumberID]
		if nr == nil || nr.CSAT == nil || !nr.CSAT.Enabled || v.Status != "closed" {
			if err := w.st.FinishSurvey(ctx, v.ID, 0, 0); err != nil { // turned off, or the customer wrote again
				return err
			}
			continue
		}
		body, ok := surveyBody(nr.CSAT, v, store.WindowOpen(v.LastInboundAt, now), PrefersEnglish(v.WaID))
		if !ok {
			if err := w.st.FinishSurvey(ctx, v.ID, 0, 0); err != nil {
				return err
			}
			continue
		}
		out, err := w.snd.Enqueue(ctx, outbox.Request{PhoneNumberID: v.PhoneNumberID, Body: body, Actor: store.AutoActor(store.AutoCSAT),
			IdempotencyKey: fmt.Sprintf("auto-csat-%d", v.ID)})
		var ref *outbox.Refusal
		if errors.As(err, &ref) {
			w.log.Info("survey refused; skipped", "survey", v.ID, "reason", ref.Reason)
			if err := w.st.FinishSurvey(ctx, v.ID, 0, 0); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		if err := w.st.RecordAutomatic(ctx, v.ConversationID, out.MessageID, store.AutoCSAT, 0, now); err != nil {
			return err
		}
		if err := w.st.FinishSurvey(ctx, v.ID, out.MessageID, nr.CSAT.MaxScore()); err != nil {
			return err
		}
	}
	return nil
}
