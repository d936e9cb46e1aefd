package simulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
)

// Template is a message template the simulator treats as approved by
// Meta, as a WhatsApp Business Account's template library would hold it.
type Template struct {
	ID       int64  // Meta's message_template_id
	Name     string // e.g. "versand_bestaetigung"
	Language string // Meta's code, e.g. "de" or "en_US"
	Category string // MARKETING, UTILITY or AUTHENTICATION
	Body     string // text with {{1}} or {{name}} placeholders
	// Components, if set, are Meta's components (header, buttons, …);
	// otherwise the template is its body alone.
	Components json.RawMessage
}

// TemplateStatus is an event of Meta's message_template_status_update
// webhook.
type TemplateStatus string

// The template events the simulator sends.
const (
	TemplateApproved TemplateStatus = "APPROVED"
	TemplateRejected TemplateStatus = "REJECTED"
	TemplatePaused   TemplateStatus = "PAUSED"
)

var placeholderRe = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

// Params lists the body's placeholders in order of first use.
func (t Template) Params() []string {
	var out []string
	for _, m := range placeholderRe.FindAllStringSubmatch(t.Body, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// templateError checks a template send against the known templates the
// way Meta does: the name must exist in that language (132001) and the
// body must get one value per placeholder, named ones by their names
// (132000). Zero means the send is fine. With no known templates every
// template is accepted, as before templates were known.
func (s *Simulator) templateError(sr *cloudapi.SendRequest) cloudapi.ErrorCode {
	if len(s.opts.Templates) == 0 {
		return 0
	}
	var p struct {
		Name     string `json:"name"`
		Language struct {
			Code string `json:"code"`
		} `json:"language"`
	}
	if json.Unmarshal(sr.Payload, &p) != nil {
		return cloudapi.CodeInvalidParameter
	}
	s.mu.Lock()
	i := slices.IndexFunc(s.templates, func(t *storedTemplate) bool {
		return t.Name == p.Name && t.Language == p.Language.Code && t.Status == "APPROVED"
	})
	var comps json.RawMessage
	if i >= 0 {
		comps = s.templates[i].Components
	}
	s.mu.Unlock()
	if i < 0 {
		return cloudapi.CodeTemplateNotFound
	}
	cs, err := cloudapi.ParseComponents(comps)
	if err != nil {
		return cloudapi.CodeInvalidParameter
	}
	if e := cloudapi.CheckTemplateParams(cs, sr.Payload); e != nil {
		return e.Code
	}
	return 0
}

func isNumber(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// templateStatusWebhook is Meta's message_template_status_update
// notification (cloudapi-2026.md §1.8): no metadata, an integer entry time.
func templateStatusWebhook(o Options, t Template, event TemplateStatus, now time.Time) []byte {
	b, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{"id": o.WABAID, "time": now.Unix(), "changes": []any{map[string]any{
			"field": "message_template_status_update",
			"value": map[string]any{"event": event, "message_template_id": t.ID, "message_template_name": t.Name,
				"message_template_language": t.Language, "reason": "NONE", "message_template_category": t.Category},
		}}}},
	})
	return b
}

// PostTemplateStatus tells the gateway, as Meta does, that a template's
// review ended with event (e.g. APPROVED), naming its category.
func (s *Simulator) PostTemplateStatus(ctx context.Context, t Template, event TemplateStatus) error {
	st, err := s.PostWebhook(ctx, templateStatusWebhook(s.snapshot(), t, event, time.Now()))
	if err != nil {
		return fmt.Errorf("simulator: template status %s of %s: %w", event, t.Name, err)
	}
	if st != http.StatusOK {
		return fmt.Errorf("simulator: template status %s of %s: webhook answered %d", event, t.Name, st)
	}
	return nil
}
