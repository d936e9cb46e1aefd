package panel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/pforte/pforte/server/automation"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

type routingFormKey struct{}

func routingFormOf(ctx context.Context) *web.RoutingFormVM {
	f, _ := ctx.Value(routingFormKey{}).(*web.RoutingFormVM)
	return f
}

// routingVM is a number's rule list as the page shows it.
func (s *Server) routingVM(ctx context.Context, number string) (web.RoutingVM, error) {
	vm := web.RoutingVM{}
	spec, err := s.cfg.Automations.Routing(ctx, number)
	if err != nil {
		return vm, err
	}
	teams, err := s.store.Teams(ctx)
	if err != nil {
		return vm, err
	}
	for _, t := range teams {
		vm.Teams = append(vm.Teams, t.Name)
	}
	for i, r := range spec.Rules {
		vm.Rules = append(vm.Rules, web.RoutingRuleVM{Index: i, Name: r.Name, If: ruleConditions(ctx, r.If), Then: ruleActions(ctx, r.Then)})
	}
	vm.Form = web.RoutingFormVM{Mode: automation.ModeRoundRobin}
	if f := routingFormOf(ctx); f != nil {
		vm.Form = *f
	}
	return vm, nil
}

// ruleConditions says in words when a rule holds.
func ruleConditions(ctx context.Context, c automation.CondSpec) string {
	var parts []string
	if len(c.Keywords) > 0 {
		parts = append(parts, web.T(ctx, "Stichwörter")+": "+strings.Join(c.Keywords, ", "))
	}
	if len(c.Labels) > 0 {
		parts = append(parts, web.T(ctx, "Labels")+": "+strings.Join(c.Labels, ", "))
	}
	if c.Language != "" {
		parts = append(parts, web.T(ctx, "Sprache")+": "+c.Language)
	}
	if c.Field != nil {
		parts = append(parts, c.Field.Key+" = "+c.Field.Equals)
	}
	if len(parts) == 0 {
		return web.T(ctx, "immer")
	}
	return strings.Join(parts, "; ")
}

// ruleActions says in words what a rule does.
func ruleActions(ctx context.Context, t automation.ThenSpec) string {
	var parts []string
	if t.Agent != "" {
		parts = append(parts, web.T(ctx, "Person")+": "+t.Agent)
	} else if t.Team != "" {
		mode := web.T(ctx, "reihum")
		if t.Mode == automation.ModeLeastBusy {
			mode = web.T(ctx, "an die am wenigsten Ausgelasteten")
		}
		parts = append(parts, web.T(ctx, "Team")+": "+t.Team+" ("+mode+")")
	}
	if len(t.Labels) > 0 {
		parts = append(parts, web.T(ctx, "Labels setzen")+": "+strings.Join(t.Labels, ", "))
	}
	if t.Priority != "" {
		parts = append(parts, web.T(ctx, "Priorität")+": "+t.Priority)
	}
	return strings.Join(parts, "; ")
}

// splitList is a comma-separated form value as a list.
func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// automationRoutingAdd appends a rule to a number's list; bad input
// shows the form again as typed and saves nothing.
func (s *Server) automationRoutingAdd(w http.ResponseWriter, r *http.Request) {
	form, rule := routingFormFrom(r)
	s.changeRouting(w, r, &form, func(rules []automation.RuleSpec) ([]automation.RuleSpec, bool) {
		return append(rules, rule), true
	}, web.T(r.Context(), "Regel hinzugefügt."))
}

// automationRoutingEdit replaces one rule in place, keeping its position;
// bad input shows the edit form again as typed and saves nothing.
func (s *Server) automationRoutingEdit(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(r.PathValue("index"))
	form, rule := routingFormFrom(r)
	form.Editing, form.Index = true, i
	s.changeRouting(w, r, &form, func(rules []automation.RuleSpec) ([]automation.RuleSpec, bool) {
		if err != nil || i < 0 || i >= len(rules) {
			return nil, false
		}
		rules[i] = rule
		return rules, true
	}, web.T(r.Context(), "Regel geändert."))
}

// routingEditForm is rule i of a number's list as the edit form shows it;
// false when there is no such rule.
func (s *Server) routingEditForm(ctx context.Context, number, index string) (*web.RoutingFormVM, bool) {
	i, err := strconv.Atoi(index)
	if err != nil {
		return nil, false
	}
	spec, err := s.cfg.Automations.Routing(ctx, number)
	if err != nil || i < 0 || i >= len(spec.Rules) {
		return nil, false
	}
	r := spec.Rules[i]
	f := &web.RoutingFormVM{Editing: true, Index: i, Name: r.Name, Keywords: strings.Join(r.If.Keywords, ", "),
		Labels: strings.Join(r.If.Labels, ", "), Language: r.If.Language, Team: r.Then.Team, Mode: r.Then.Mode,
		Agent: r.Then.Agent, AddLabels: strings.Join(r.Then.Labels, ", "), Priority: r.Then.Priority}
	if r.If.Field != nil {
		f.FieldKey, f.FieldValue = r.If.Field.Key, r.If.Field.Equals
	}
	if f.Mode == "" {
		f.Mode = automation.ModeRoundRobin
	}
	return f, true
}

// routingFormFrom reads the rule form: as typed (to show again) and as
// the rule the API takes.
func routingFormFrom(r *http.Request) (web.RoutingFormVM, automation.RuleSpec) {
	form := web.RoutingFormVM{Name: strings.TrimSpace(r.PostFormValue("name")), Keywords: r.PostFormValue("keywords"),
		Labels: r.PostFormValue("labels"), Language: r.PostFormValue("language"),
		FieldKey: strings.TrimSpace(r.PostFormValue("field_key")), FieldValue: r.PostFormValue("field_value"),
		Team: strings.TrimSpace(r.PostFormValue("team")), Mode: r.PostFormValue("mode"), Agent: strings.TrimSpace(r.PostFormValue("agent")),
		AddLabels: r.PostFormValue("add_labels"), Priority: r.PostFormValue("priority")}
	rule := automation.RuleSpec{Name: form.Name,
		If:   automation.CondSpec{Keywords: splitList(form.Keywords), Labels: splitList(form.Labels), Language: form.Language},
		Then: automation.ThenSpec{Team: form.Team, Agent: form.Agent, Labels: splitList(form.AddLabels), Priority: form.Priority}}
	if form.Team != "" {
		rule.Then.Mode = form.Mode
	}
	if form.FieldKey != "" || form.FieldValue != "" {
		rule.If.Field = &automation.FieldCond{Key: form.FieldKey, Equals: form.FieldValue}
	}
	return form, rule
}

// automationRoutingDelete removes one rule.
func (s *Server) automationRoutingDelete(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(r.PathValue("index"))
	s.changeRouting(w, r, nil, func(rules []automation.RuleSpec) ([]automation.RuleSpec, bool) {
		if err != nil || i < 0 || i >= len(rules) {
			return nil, false
		}
		return append(rules[:i:i], rules[i+1:]...), true
	}, web.T(r.Context(), "Regel gelöscht."))
}

// automationRoutingUp moves one rule a place up: it is tried earlier.
func (s *Server) automationRoutingUp(w http.ResponseWriter, r *http.Request) {
	i, err := strconv.Atoi(r.PathValue("index"))
	s.changeRouting(w, r, nil, func(rules []automation.RuleSpec) ([]automation.RuleSpec, bool) {
		if err != nil || i < 1 || i >= len(rules) {
			return nil, false
		}
		rules[i-1], rules[i] = rules[i], rules[i-1]
		return rules, true
	}, web.T(r.Context(), "Regel nach oben verschoben."))
}

// changeRouting edits a number's stored rule list and saves it through
// the same check and audit the API uses (Settings.SetRouting). form is
// the add form to show again when the change is refused; done is the
// flash on success.
func (s *Server) changeRouting(w http.ResponseWriter, r *http.Request, form *web.RoutingFormVM,
	edit func([]automation.RuleSpec) ([]automation.RuleSpec, bool), done string) {
	ctx, v := r.Context(), viewerOf(r)
	number := r.PathValue("number")
	spec, err := s.cfg.Automations.Routing(ctx, number)
	if errors.Is(err, store.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	rules, ok := edit(spec.Rules)
	if !ok {
		http.NotFound(w, r)
		return
	}
	body, err := json.Marshal(automation.RoutingSpec{Rules: rules})
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	_, err = s.cfg.Automations.SetRouting(ctx, v.actor(), number, body)
	if err == nil {
		setFlash(w, done)
		redirect(w, r, "/automations?number="+number+"#routing")
		return
	}
	var ie *automation.InputError
	if !errors.As(err, &ie) {
		s.storeFail(w, r, err)
		return
	}
	if form == nil {
		form = &web.RoutingFormVM{Mode: automation.ModeRoundRobin}
	}
	form.Error = routingFieldLabel(ctx, ie.Field) + inputMessage(ctx, ie)
	s.renderAutomations(w, r.WithContext(context.WithValue(ctx, routingFormKey{}, form)), http.StatusUnprocessableEntity, number, nil, "", nil)
}

// routingFields name a rule's fields (the API's path without the
// rules[i] prefix) as the form labels them.
var routingFields = []struct{ path, label string }{
	{".if.keywords", "Stichwörter"}, {".if.labels", "Labels"}, {".if.language", "Sprache"}, {".if.field", "Kontaktfeld"},
	{".then.team", "Team"}, {".then.mode", "Verteilung"}, {".then.agent", "Person (E-Mail)"}, {".then.labels", "Labels setzen"},
	{".then.priority", "Priorität"}, {".then", "Aktion"},
}

// routingFieldLabel is "Regel 3, Team: " for rules[2].then.team.
func routingFieldLabel(ctx context.Context, field string) string {
	rest, ok := strings.CutPrefix(field, "rules[")
	if !ok {
		return ""
	}
	idx, rest, ok := strings.Cut(rest, "]")
	n, err := strconv.Atoi(idx)
	if !ok || err != nil {
		return ""
	}
	for _, f := range routingFields {
		if strings.HasPrefix(rest, f.path) {
			return web.Tf(ctx, "Regel %d, %s: ", n+1, web.T(ctx, f.label))
		}
	}
	return fmt.Sprintf("%s: ", web.Tf(ctx, "Regel %d", n+1))
}
