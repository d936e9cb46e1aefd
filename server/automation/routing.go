package automation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/pforte/pforte/store"
)

// Routing modes for a team.
const (
	ModeRoundRobin = "round_robin"
	ModeLeastBusy  = "least_busy"
)

// Priorities a rule may set, as the API spells them.
var priorities = map[string]int{"low": -1, "normal": 0, "high": 1, "urgent": 2}

// RoutingSpec is one number's rule list as the API takes it; the first
// rule whose conditions all hold decides.
type RoutingSpec struct {
	Rules []RuleSpec `json:"rules"`
}

// RuleSpec is one routing rule. Every condition left empty holds.
type RuleSpec struct {
	Name string   `json:"name,omitempty"`
	If   CondSpec `json:"if"`
	Then ThenSpec `json:"then"`
}

// CondSpec are a rule's conditions; all must hold.
type CondSpec struct {
	Keywords []string   `json:"keywords,omitempty"` // any of them as a whole word, case-insensitive
	Labels   []string   `json:"labels,omitempty"`   // the conversation has all of them
	Language string     `json:"language,omitempty"` // "de" or "en", guessed from the phone prefix
	Field    *FieldCond `json:"field,omitempty"`    // a contact custom field equals a value
}

// FieldCond compares one contact field.
type FieldCond struct {
	Key    string `json:"key"`
	Equals string `json:"equals"`
}

// ThenSpec are a rule's actions.
type ThenSpec struct {
	Team     string   `json:"team,omitempty"`  // team name
	Mode     string   `json:"mode,omitempty"`  // round_robin (default) or least_busy
	Agent    string   `json:"agent,omitempty"` // agent e-mail; wins over team
	Labels   []string `json:"labels,omitempty"`
	Priority string   `json:"priority,omitempty"` // low, normal, high, urgent
}

// Names resolve a rule list's names to ids (lower-case keys).
type Names struct {
	Teams, Labels, Agents, Fields map[string]int64
}

// rule is a compiled RuleSpec.
type rule struct {
	name     string
	keywords []string // lower case
	labels   []string // lower case
	language string
	field    *FieldCond
	route    store.Route
	mode     string
}

// Router is one number's compiled rule list.
type Router struct {
	rules    []rule
	needFact bool // a rule looks at labels or fields: load them
}

// ParseRouting checks a rule list against the known names; any error
// is an *InputError naming the field (rules[2].then.team).
func ParseRouting(body []byte, n Names) (*Router, *RoutingSpec, error) {
	var spec RoutingSpec
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		return nil, nil, &InputError{Field: "rules", De: "Die Regeln sind kein gültiges JSON: " + err.Error(), En: "The rules are not valid JSON: " + err.Error()}
	}
	rt := &Router{}
	for i, rs := range spec.Rules {
		at := fmt.Sprintf("rules[%d]", i)
		r := rule{name: rs.Name, language: rs.If.Language, mode: rs.Then.Mode}
		if r.name == "" {
			r.name = at
		}
		for j, k := range rs.If.Keywords {
			k = strings.ToLower(strings.TrimSpace(k))
			if k == "" {
				return nil, nil, &InputError{Field: fmt.Sprintf("%s.if.keywords[%d]", at, j), De: "Leeres Stichwort.", En: "Empty keyword."}
			}
			r.keywords = append(r.keywords, k)
		}
		for j, l := range rs.If.Labels {
			l = strings.ToLower(strings.TrimSpace(l))
			if _, ok := n.Labels[l]; !ok {
				return nil, nil, &InputError{Field: fmt.Sprintf("%s.if.labels[%d]", at, j), De: "Dieses Label gibt es nicht.", En: "There is no such label."}
			}
			r.labels = append(r.labels, l)
			rt.needFact = true
		}
		switch r.language {
		case "", "de", "en":
		default:
			return nil, nil, &InputError{Field: at + ".if.language", De: "Sprache: nur de oder en.", En: "Language: only de or en."}
		}
		if f := rs.If.Field; f != nil {
			if _, ok := n.Fields[strings.ToLower(f.Key)]; !ok {
				return nil, nil, &InputError{Field: at + ".if.field.key", De: "Dieses Kontaktfeld gibt es nicht.", En: "There is no such contact field."}
			}
			r.field = &FieldCond{Key: strings.ToLower(f.Key), Equals: f.Equals}
			rt.needFact = true
		}
		t := rs.Then
		if t.Team != "" {
			id, ok := n.Teams[strings.ToLower(t.Team)]
			if !ok {
				return nil, nil, &InputError{Field: at + ".then.team", De: "Dieses Team gibt es nicht.", En: "There is no such team."}
			}
			r.route.TeamID = id
		}
		switch t.Mode {
		case "":
			r.mode = ModeRoundRobin
		case ModeRoundRobin, ModeLeastBusy:
		default:
			return nil, nil, &InputError{Field: at + ".then.mode", De: "Verteilung: nur round_robin oder least_busy.", En: "Mode: only round_robin or least_busy."}
		}
		if t.Agent != "" {
			id, ok := n.Agents[strings.ToLower(t.Agent)]
			if !ok {
				return nil, nil, &InputError{Field: at + ".then.agent", De: "Unter dieser E-Mail-Adresse gibt es keine aktive Person mit Rolle Agent oder Admin.", En: "No active agent or admin has this e-mail address."}
			}
			r.route.UserID = id
		}
		for j, l := range t.Labels {
			id, ok := n.Labels[strings.ToLower(strings.TrimSpace(l))]
			if !ok {
				return nil, nil, &InputError{Field: fmt.Sprintf("%s.then.labels[%d]", at, j), De: "Dieses Label gibt es nicht.", En: "There is no such label."}
			}
			r.route.Labels = append(r.route.Labels, id)
		}
		if t.Priority != "" {
			p, ok := priorities[t.Priority]
			if !ok {
				return nil, nil, &InputError{Field: at + ".then.priority", De: "Priorität: nur low, normal, high oder urgent.", En: "Priority: only low, normal, high or urgent."}
			}
			r.route.Priority = &p
		}
		if r.route.TeamID == 0 && r.route.UserID == 0 && len(r.route.Labels) == 0 && r.route.Priority == nil {
			return nil, nil, &InputError{Field: at + ".then", De: "Die Regel tut nichts: Team, Person, Labels oder Priorität angeben.", En: "The rule does nothing: give a team, agent, labels or priority."}
		}
		r.route.Rule = r.name
		rt.rules = append(rt.rules, r)
	}
	if spec.Rules == nil {
		spec.Rules = []RuleSpec{}
	}
	return rt, &spec, nil
}

// Facts are what a rule looks at.
type Facts struct {
	Text   string
	WaID   string
	Labels []string          // lower case
	Fields map[string]string // by key
}

// Match returns the first rule that holds, or nil. Words are split once
// per call, so 100 keyword rules cost one pass over the text.
func (rt *Router) Match(f *Facts) *store.Route {
	var words map[string]struct{}
	var lower string
	lang := ""
	for i := range rt.rules {
		r := &rt.rules[i]
		if r.language != "" {
			if lang == "" {
				lang = "de"
				if PrefersEnglish(f.WaID) {
					lang = "en"
				}
			}
			if lang != r.language {
				continue
			}
		}
		if len(r.keywords) > 0 {
			if words == nil {
				lower = strings.ToLower(f.Text)
				words = splitWords(lower)
			}
			if !anyKeyword(r.keywords, words, lower) {
				continue
			}
		}
		if !hasAll(f.Labels, r.labels) {
			continue
		}
		if r.field != nil && f.Fields[r.field.Key] != r.field.Equals {
			continue
		}
		route := r.route
		return &route
	}
	return nil
}

// modeOf returns the team mode of the rule that produced a route.
func (rt *Router) modeOf(name string) string {
	for i := range rt.rules {
		if rt.rules[i].name == name {
			return rt.rules[i].mode
		}
	}
	return ModeRoundRobin
}

// splitWords takes the lower-case text.
func splitWords(text string) map[string]struct{} {
	words := map[string]struct{}{}
	for _, w := range strings.FieldsFunc(text, notWord) {
		words[w] = struct{}{}
	}
	return words
}

// anyKeyword: a one-word keyword must be a whole word; a phrase of
// several words must appear as such, bounded by non-letters. lower is
// the message text in lower case.
func anyKeyword(keys []string, words map[string]struct{}, lower string) bool {
	for _, k := range keys {
		if _, ok := words[k]; ok {
			return true
		}
		if strings.ContainsFunc(k, notWord) && phrase(lower, k) {
			return true
		}
	}
	return false
}

func notWord(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }

func phrase(text, k string) bool {
	for from := 0; ; {
		i := strings.Index(text[from:], k)
		if i < 0 {
			return false
		}
		i += from
		before := i == 0 || !isWordByte(text[i-1])
		after := i+len(k) == len(text) || !isWordByte(text[i+len(k)])
		if before && after {
			return true
		}
		from = i + 1
	}
}

func isWordByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b >= 0x80
}

func hasAll(have, want []string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// PickAgent chooses a team's agent among the available ones: round robin
// takes the next user id after the last one served (wrapping), least busy
// the fewest open conversations (lowest id on a tie). 0: nobody available.
func PickAgent(agents []store.TeamAgent, rrLast int64, mode string) int64 {
	var pick int64
	switch mode {
	case ModeLeastBusy:
		best := -1
		for _, a := range agents {
			if a.Available && (best < 0 || a.Open < best) {
				best, pick = a.Open, a.UserID
			}
		}
	default:
		var first int64
		for _, a := range agents { // sorted by user id
			if !a.Available {
				continue
			}
			if first == 0 {
				first = a.UserID
			}
			if a.UserID > rrLast {
				return a.UserID
			}
		}
		pick = first
	}
	return pick
}

// Routers compiles every number's rule list against today's names. A
// list that no longer passes (a team was deleted) is skipped and logged,
// never half-applied.
func (w *Worker) Routers(ctx context.Context) (map[string]*Router, error) {
	specs, err := w.st.RoutingAll(ctx)
	if err != nil || len(specs) == 0 {
		return nil, err
	}
	n, err := LoadNames(ctx, w.st)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Router, len(specs))
	for pnid, spec := range specs {
		rt, _, err := ParseRouting([]byte(spec), n)
		if err != nil {
			w.log.Warn("routing rules skipped", "number", pnid, "err", err)
			continue
		}
		out[pnid] = rt
	}
	return out, nil
}

// LoadNames reads the names a rule list may use.
func LoadNames(ctx context.Context, st *store.Store) (Names, error) {
	teams, labels, agents, err := st.RoutingNames(ctx)
	if err != nil {
		return Names{}, err
	}
	fields, err := st.ContactFields(ctx)
	if err != nil {
		return Names{}, err
	}
	n := Names{Teams: teams, Labels: labels, Agents: agents, Fields: map[string]int64{}}
	for _, f := range fields {
		n.Fields[strings.ToLower(f.Key)] = f.ID
	}
	return n, nil
}

// Route evaluates a number's rules for one inbound message and writes
// the outcome. It is quiet for bots, groups, echoes, history imports and
// conversations someone already has.
func (w *Worker) route(ctx context.Context, rt *Router, c *store.AutoCandidate) error {
	if rt == nil || len(rt.rules) == 0 || c.Group || c.BotActive || c.Origin != "" || c.Routed || c.SurveyAnswer || c.StopWord {
		return nil
	}
	f := Facts{Text: c.Text, WaID: c.WaID}
	if rt.needFact {
		var err error
		if f.Labels, f.Fields, err = w.st.RoutingFacts(ctx, c.ConversationID, c.ContactID); err != nil {
			return err
		}
	}
	r := rt.Match(&f)
	if r == nil {
		return nil
	}
	if r.UserID == 0 && r.TeamID > 0 {
		agents, last, err := w.st.TeamAgents(ctx, r.TeamID)
		if errors.Is(err, store.ErrNotFound) {
			return nil // the team went away since the rules were read
		}
		if err != nil {
			return err
		}
		mode := rt.modeOf(r.Rule)
		r.UserID = PickAgent(agents, last, mode)
		r.RRTeam = mode == ModeRoundRobin
	}
	done, err := w.st.ApplyRoute(ctx, c.ConversationID, *r, w.opts.Now())
	if err != nil {
		return err
	}
	if done {
		w.log.Info("conversation routed", "conversation", c.ConversationID, "rule", r.Rule, "team", r.TeamID, "agent", r.UserID)
	}
	return nil
}

// Routing returns a number's rule list as stored (an empty list when
// unset); store.ErrNotFound for an unknown number.
func (s *Settings) Routing(ctx context.Context, pnid string) (*RoutingSpec, error) {
	raw, err := s.st.Routing(ctx, pnid)
	if err != nil {
		return nil, err
	}
	spec := &RoutingSpec{Rules: []RuleSpec{}}
	if raw != "" {
		if err := json.Unmarshal([]byte(raw), spec); err != nil {
			return nil, fmt.Errorf("automation: stored routing rules: %w", err)
		}
	}
	return spec, nil
}

// SetRouting checks a rule list against the teams, labels, agents and
// contact fields there are and saves it (audited). Bad input is an
// *InputError and nothing is saved.
func (s *Settings) SetRouting(ctx context.Context, actor store.Actor, pnid string, body []byte) (*RoutingSpec, error) {
	if _, err := s.st.Routing(ctx, pnid); err != nil {
		return nil, err
	}
	n, err := LoadNames(ctx, s.st)
	if err != nil {
		return nil, err
	}
	_, spec, err := ParseRouting(body, n)
	if err != nil {
		return nil, err
	}
	canon, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("automation: routing rules: %w", err)
	}
	return spec, s.st.SetRouting(ctx, actor, pnid, string(canon), s.now())
}

// SetAvailable switches a user's availability. Coming back, the user's
// teams hand out what waited for them: conversations routed to a team
// while none of its members was available go round robin to the members
// available now, longest waiting first. It returns how many of them went
// to this user.
func (s *Settings) SetAvailable(ctx context.Context, userID int64, available bool) (int, error) {
	if err := s.st.SetAvailable(ctx, userID, available); err != nil || !available {
		return 0, err
	}
	waiting, err := s.st.TeamWaiting(ctx, userID)
	if err != nil {
		return 0, err
	}
	mine := 0
	for _, c := range waiting {
		agents, last, err := s.st.TeamAgents(ctx, c.TeamID)
		if errors.Is(err, store.ErrNotFound) {
			continue // the team went away meanwhile
		}
		if err != nil {
			return mine, err
		}
		pick := PickAgent(agents, last, ModeRoundRobin)
		if pick == 0 {
			continue // switched away again meanwhile
		}
		// ApplyRoute writes only while nobody has taken it: an agent who
		// opened it meanwhile keeps it.
		done, err := s.st.ApplyRoute(ctx, c.ConversationID, store.Route{TeamID: c.TeamID, UserID: pick, RRTeam: true, Rule: "available"}, s.now())
		if err != nil {
			return mine, err
		}
		if done && pick == userID {
			mine++
		}
	}
	return mine, nil
}
