package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// checkTemplate compares a template send with the template as Pforte
// last listed it from Meta (store.TemplateOf): missing or extra
// parameters and a wrong header kind are refused here, with the error
// Meta would give, instead of costing a call and a failed message. A
// template Pforte does not know, or whose components it cannot read, is
// left to Meta; so is one with parts the check does not model.
func (s *Sender) checkTemplate(ctx context.Context, pnid string, sr *cloudapi.SendRequest) error {
	if !sr.IsTemplate() {
		return nil
	}
	var p struct {
		Name     string `json:"name"`
		Language struct {
			Code string `json:"code"`
		} `json:"language"`
	}
	if json.Unmarshal(sr.Payload, &p) != nil || p.Name == "" {
		return invalid("A template message needs template.name and template.language.code.")
	}
	waba, err := s.store.WABAOf(ctx, pnid)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("outbox: template check: %w", err)
	}
	t, err := s.store.TemplateOf(ctx, waba, p.Name, p.Language.Code)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("outbox: template check: %w", err)
	}
	if t.DeletedAt != 0 {
		return &Refusal{Reason: ErrTemplateParams, Param: &cloudapi.ParamError{Code: cloudapi.CodeTemplateNotFound, Field: "template.name",
			Details: fmt.Sprintf("template %q (%s) was deleted at Meta", p.Name, p.Language.Code)},
			Details: fmt.Sprintf("Pforte refused this message before calling Meta: template %q (%s) no longer exists at Meta.", p.Name, p.Language.Code)}
	}
	if t.Components == "" {
		return nil
	}
	cs, err := cloudapi.ParseComponents([]byte(t.Components))
	if err != nil {
		return nil
	}
	if pe := cloudapi.CheckTemplateParams(cs, sr.Payload); pe != nil {
		return &Refusal{Reason: ErrTemplateParams, Param: pe,
			Details: "Pforte refused this message before calling Meta: " + pe.Details + " (field " + pe.Field + ")."}
	}
	return nil
}
