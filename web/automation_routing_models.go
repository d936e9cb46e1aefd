package web

import "strconv"

// RoutingVM is one number's routing rules on the automations page.
type RoutingVM struct {
	Rules []RoutingRuleVM
	Teams []string // team names for the select
	Form  RoutingFormVM
}

// RoutingRuleVM is one rule as a table row.
type RoutingRuleVM struct {
	Index    int
	Name     string
	If, Then string // in words
}

// RoutingFormVM is the add-a-rule form, as typed when refused; with
// Editing it changes rule Index in place instead.
type RoutingFormVM struct {
	Name, Keywords, Labels, Language, FieldKey, FieldValue string
	Team, Mode, Agent, AddLabels, Priority                 string
	Error                                                  string
	Editing                                                bool
	Index                                                  int
}

// routingFormAction is where the rule form posts: the list to add, or the
// rule being edited.
func routingFormAction(number string, f RoutingFormVM) string {
	if f.Editing {
		return "/automations/" + number + "/routing/" + strconv.Itoa(f.Index)
	}
	return "/automations/" + number + "/routing"
}
