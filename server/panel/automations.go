package panel

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/pforte/pforte/server/automation"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// stateNames are the Bundesländer for the holiday select.
var stateNames = map[string]string{
	"BW": "Baden-Württemberg", "BY": "Bayern", "BE": "Berlin", "BB": "Brandenburg", "HB": "Bremen", "HH": "Hamburg",
	"HE": "Hessen", "MV": "Mecklenburg-Vorpommern", "NI": "Niedersachsen", "NW": "Nordrhein-Westfalen",
	"RP": "Rheinland-Pfalz", "SL": "Saarland", "SN": "Sachsen", "ST": "Sachsen-Anhalt", "SH": "Schleswig-Holstein", "TH": "Thüringen",
}

var dayNames = [][2]string{{"mon", "Montag"}, {"tue", "Dienstag"}, {"wed", "Mittwoch"}, {"thu", "Donnerstag"}, {"fri", "Freitag"},
	{"sat", "Samstag"}, {"sun", "Sonntag"}}

// inputMessage is a refused setting's message in the viewer's language.
func inputMessage(ctx context.Context, ie *automation.InputError) string {
	if web.Lang(ctx) == "en" {
		return ie.En
	}
	return ie.De
}

func (s *Server) automationsPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if e := q.Get("edit"); e != "" {
		if f, ok := s.routingEditForm(r.Context(), q.Get("number"), e); ok {
			r = r.WithContext(context.WithValue(r.Context(), routingFormKey{}, f))
		}
	}
	s.renderAutomations(w, r, http.StatusOK, q.Get("number"), nil, "", nil)
}

// renderAutomations shows the page; hours or reply, if set, is a refused
// form to show again as typed.
func (s *Server) renderAutomations(w http.ResponseWriter, r *http.Request, status int, number string, hours *web.HoursFormVM,
	kind store.AutomationKind, reply *web.ReplyFormVM) {
	ctx := r.Context()
	nums, err := s.store.BusinessNumbers(ctx)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	vm := web.AutomationsVM{}
	for _, n := range nums {
		display := n.DisplayPhoneNumber
		if display == "" {
			display = n.PhoneNumberID
		}
		vm.Numbers = append(vm.Numbers, web.NumberVM{ID: n.ID, PhoneNumberID: n.PhoneNumberID, Display: display, WABAID: n.WABAID})
		if n.PhoneNumberID == number {
			vm.Number = number
		}
	}
	if vm.Number == "" && len(nums) > 0 {
		vm.Number = nums[0].PhoneNumberID
	}
	for code, name := range stateNames {
		vm.States = append(vm.States, web.StateVM{Code: code, Name: name})
	}
	sort.Slice(vm.States, func(i, j int) bool { return vm.States[i].Name < vm.States[j].Name })
	if vm.Number != "" {
		set := s.cfg.Automations
		h, err := set.Hours(ctx, vm.Number)
		if err != nil {
			s.storeFail(w, r, err)
			return
		}
		vm.Hours = hoursForm(ctx, h)
		if hours != nil {
			vm.Hours = *hours
		}
		st, err := set.State(ctx, vm.Number)
		if err != nil {
			s.storeFail(w, r, err)
			return
		}
		vm.Status = hoursStatus(ctx, st, set.Now(), h)
		for _, k := range store.AutoReplyKinds {
			rep, err := set.Reply(ctx, vm.Number, k)
			if err != nil {
				s.storeFail(w, r, err)
				return
			}
			f := replyForm(ctx, rep)
			if reply != nil && k == kind {
				reply.Title, reply.Hint, reply.Variables = f.Title, f.Hint, f.Variables
				f = *reply
			}
			vm.Replies = append(vm.Replies, f)
		}
	}
	if vm.Number != "" {
		c, err := s.cfg.Automations.CSAT(ctx, vm.Number)
		if err != nil {
			s.storeFail(w, r, err)
			return
		}
		vm.CSAT = web.CSATFormVM{Enabled: c.Enabled, Scale: c.Scale, Question: c.Question, QuestionEN: c.QuestionEN, Template: c.Template,
			TemplateLanguage: c.TemplateLanguage}
		if csat := csatFormOf(r.Context()); csat != nil {
			vm.CSAT = *csat
		}
		if vm.Routing, err = s.routingVM(ctx, vm.Number); err != nil {
			s.storeFail(w, r, err)
			return
		}
	}
	s.page(w, r, status, web.Chrome{Title: web.T(ctx, "Automatisierung"), Nav: "automations"}, web.Automations(vm))
}

// hoursStatus is what the inbox and the page say about a number's hours.
func hoursStatus(ctx context.Context, st automation.OpenState, now time.Time, h *automation.Hours) string {
	if !st.Known || h == nil {
		return ""
	}
	if st.Open {
		return web.T(ctx, "Innerhalb der Geschäftszeiten.")
	}
	if st.NextOpening.IsZero() {
		return web.T(ctx, "Außerhalb der Geschäftszeiten.")
	}
	return web.Tf(ctx, "Außerhalb der Geschäftszeiten, öffnet %s.",
		automation.FormatOpening(st.NextOpening, now, h.Location(), web.Lang(ctx) == "en"))
}

func hoursForm(ctx context.Context, h *automation.Hours) web.HoursFormVM {
	f := web.HoursFormVM{Timezone: "Europe/Berlin"}
	var spec automation.HoursSpec
	if h != nil {
		spec = h.Spec()
		f.Timezone, f.State = spec.Timezone, spec.State
		f.Closed = strings.Join(spec.ClosedDays, "\n")
	}
	for _, d := range dayNames {
		var parts []string
		for _, rg := range spec.Week[d[0]] {
			parts = append(parts, rg[0]+"-"+rg[1])
		}
		f.Days = append(f.Days, web.DayFormVM{Key: d[0], Label: web.T(ctx, d[1]), Value: strings.Join(parts, ", ")})
	}
	return f
}

func replyForm(ctx context.Context, rep *automation.Reply) web.ReplyFormVM {
	f := web.ReplyFormVM{Kind: string(rep.Kind), Enabled: rep.Enabled, Text: rep.Text, TextEN: rep.TextEN, MinInterval: rep.MinInterval.String(),
		PrivacyURL: rep.PrivacyURL}
	switch rep.Kind {
	case store.AutoWelcome:
		f.Title = web.T(ctx, "Begrüßung")
		f.Hint = web.T(ctx, "Für die allererste Nachricht eines Kunden, einmal: mit dem Datenschutzhinweis nach Art. 13 DSGVO (Verantwortlicher, Zwecke, Speicherdauer, Rechte) und dem Link zu Ihrer Datenschutzerklärung.")
		f.Variables = web.T(ctx, "Variablen: {{name}}, {{privacy_url}}, {{next_opening}}")
	case store.AutoAway:
		f.Title = web.T(ctx, "Abwesenheitsnotiz")
		f.Hint = web.T(ctx, "Für Nachrichten außerhalb der Geschäftszeiten, mit der nächsten Öffnungszeit.")
		f.Variables = web.T(ctx, "Variablen: {{name}}, {{next_opening}}")
	case store.AutoWaiting:
		f.Title = web.T(ctx, "Warte-Antwort")
		f.Hint = web.T(ctx, "Wenn während der Geschäftszeiten niemand innerhalb der Wartezeit antwortet.")
		f.Variables = web.T(ctx, "Variablen: {{name}}")
		f.After = rep.After.String()
		f.AfterLabel = web.T(ctx, "Senden, wenn niemand antwortet innerhalb von")
	case store.AutoNudge:
		f.Title = web.T(ctx, "Bitte um Antwort vor Fensterende")
		f.Hint = web.T(ctx, "Hat zuletzt jemand aus dem Team geschrieben und läuft das 24-Stunden-Fenster bald ab, bittet diese Nachricht den Kunden um eine kurze Antwort, damit Sie ihm weiter frei schreiben können. Einmal je Fenster.")
		f.Variables = web.T(ctx, "Variablen: {{name}}")
		f.After = rep.After.String()
		f.AfterLabel = web.T(ctx, "Senden so lange vor Fensterende")
	}
	return f
}

// automationHours saves the business hours form; bad input shows the
// form again as typed with the German (or English) message.
func (s *Server) automationHours(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	number := r.PathValue("number")
	form := web.HoursFormVM{Timezone: strings.TrimSpace(r.PostFormValue("timezone")), State: r.PostFormValue("state"),
		Closed: r.PostFormValue("closed_days")}
	spec := automation.HoursSpec{Timezone: form.Timezone, State: form.State, Week: map[string][][2]string{}, ClosedDays: []string{}}
	var problem *automation.InputError
	for _, d := range dayNames {
		val := strings.TrimSpace(r.PostFormValue(d[0]))
		form.Days = append(form.Days, web.DayFormVM{Key: d[0], Label: web.T(ctx, d[1]), Value: val})
		for _, part := range strings.Split(val, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			from, to, ok := strings.Cut(strings.ReplaceAll(part, "–", "-"), "-")
			if !ok && problem == nil {
				problem = &automation.InputError{Field: "week." + d[0], De: "Zeiträume als 08:00-12:00 angeben, mehrere durch Komma getrennt.",
					En: "Give ranges as 08:00-12:00, several separated by commas."}
			}
			spec.Week[d[0]] = append(spec.Week[d[0]], [2]string{strings.TrimSpace(from), strings.TrimSpace(to)})
		}
	}
	for _, line := range strings.FieldsFunc(form.Closed, func(r rune) bool { return r == '\n' || r == ',' || r == ' ' || r == '\r' }) {
		spec.ClosedDays = append(spec.ClosedDays, line)
	}
	if problem == nil {
		body, _ := json.Marshal(spec)
		_, err := s.cfg.Automations.SetHours(ctx, v.actor(), number, body)
		if err == nil {
			setFlash(w, web.T(ctx, "Geschäftszeiten gespeichert."))
			redirect(w, r, "/automations?number="+number+"#hours")
			return
		}
		if !errors.As(err, &problem) {
			s.storeFail(w, r, err)
			return
		}
	}
	form.Error = dayLabel(ctx, problem.Field) + inputMessage(ctx, problem)
	s.renderAutomations(w, r, http.StatusUnprocessableEntity, number, &form, "", nil)
}

// dayLabel names the day a week.* error is about.
func dayLabel(ctx context.Context, field string) string {
	for _, d := range dayNames {
		if strings.HasPrefix(field, "week."+d[0]) {
			return web.T(ctx, d[1]) + ": "
		}
	}
	return ""
}

func (s *Server) automationReply(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	number, kind := r.PathValue("number"), store.AutomationKind(r.PathValue("kind"))
	if !kind.Valid() {
		http.NotFound(w, r)
		return
	}
	spec := automation.ReplySpec{Enabled: r.PostFormValue("enabled") != "", Text: r.PostFormValue("text"), TextEN: r.PostFormValue("text_en"),
		MinInterval: strings.TrimSpace(r.PostFormValue("min_interval")), After: strings.TrimSpace(r.PostFormValue("after")),
		PrivacyURL: strings.TrimSpace(r.PostFormValue("privacy_url"))}
	body, _ := json.Marshal(spec)
	_, err := s.cfg.Automations.SetReply(ctx, v.actor(), number, kind, body)
	if err == nil {
		setFlash(w, web.T(ctx, "Automatische Antwort gespeichert."))
		redirect(w, r, "/automations?number="+number+"#reply-"+string(kind))
		return
	}
	var ie *automation.InputError
	if !errors.As(err, &ie) {
		s.storeFail(w, r, err)
		return
	}
	form := web.ReplyFormVM{Kind: string(kind), Enabled: spec.Enabled, Text: spec.Text, TextEN: spec.TextEN, MinInterval: spec.MinInterval,
		After: spec.After, PrivacyURL: spec.PrivacyURL, Error: inputMessage(ctx, ie)}
	s.renderAutomations(w, r, http.StatusUnprocessableEntity, number, nil, kind, &form)
}

// ruleLabel names an automatic reply.
func ruleLabel(ctx context.Context, rule store.AutomationKind) string {
	switch rule {
	case store.AutoWelcome:
		return web.T(ctx, "Begrüßung")
	case store.AutoAway:
		return web.T(ctx, "Abwesenheitsnotiz")
	case store.AutoWaiting:
		return web.T(ctx, "Warte-Antwort")
	case store.AutoNudge:
		return web.T(ctx, "Bitte um Antwort vor Fensterende")
	case store.AutoCSAT:
		return web.T(ctx, "Zufriedenheitsumfrage")
	}
	return string(rule)
}

// reminderLead is how long before a window closes the assigned person is
// reminded that the customer still waits.
const reminderLead = 2 * time.Hour

// reminders are the viewer's conversations whose window runs out soon.
func (s *Server) reminders(ctx context.Context, userID int64) ([]web.ReminderVM, error) {
	list, err := s.store.WindowReminders(ctx, userID, s.now(), reminderLead)
	if err != nil {
		return nil, err
	}
	var out []web.ReminderVM
	for _, r := range list {
		name := r.Name
		if name == "" {
			name = "+" + r.WaID
		}
		out = append(out, web.ReminderVM{ConversationID: r.ConversationID, Name: name, Ends: web.Clock(ctx, r.WindowEnds)})
	}
	return out, nil
}

// hoursLine is the inbox's line about a number outside its hours; empty
// when it is open or has no hours.
func (s *Server) hoursLine(ctx context.Context, pnid string) (string, error) {
	set := s.cfg.Automations
	st, err := set.State(ctx, pnid)
	if err != nil || !st.Known || st.Open {
		return "", err
	}
	h, err := set.Hours(ctx, pnid)
	if err != nil || h == nil {
		return "", err
	}
	return hoursStatus(ctx, st, set.Now(), h), nil
}

type csatFormKey struct{}

func csatFormOf(ctx context.Context) *web.CSATFormVM {
	f, _ := ctx.Value(csatFormKey{}).(*web.CSATFormVM)
	return f
}

// automationCSAT saves the satisfaction survey form; an unapproved
// template or bad input shows the form again as typed.
func (s *Server) automationCSAT(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	number := r.PathValue("number")
	spec := automation.CSATSpec{Enabled: r.PostFormValue("enabled") != "", Scale: r.PostFormValue("scale"),
		Question: r.PostFormValue("question"), QuestionEN: strings.TrimSpace(r.PostFormValue("question_en")),
		Template: strings.TrimSpace(r.PostFormValue("template")), TemplateLanguage: strings.TrimSpace(r.PostFormValue("template_language"))}
	body, _ := json.Marshal(spec)
	_, err := s.cfg.Automations.SetCSAT(ctx, v.actor(), number, body)
	if err == nil {
		setFlash(w, web.T(ctx, "Zufriedenheitsumfrage gespeichert."))
		redirect(w, r, "/automations?number="+number+"#csat")
		return
	}
	var ie *automation.InputError
	if !errors.As(err, &ie) {
		s.storeFail(w, r, err)
		return
	}
	form := &web.CSATFormVM{Enabled: spec.Enabled, Scale: spec.Scale, Question: spec.Question, QuestionEN: spec.QuestionEN,
		Template: spec.Template, TemplateLanguage: spec.TemplateLanguage, Error: inputMessage(ctx, ie)}
	s.renderAutomations(w, r.WithContext(context.WithValue(ctx, csatFormKey{}, form)), http.StatusUnprocessableEntity, number, nil, "", nil)
}
