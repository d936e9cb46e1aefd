package automation_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte/pforte/server/privacy"

	"github.com/pforte/pforte/server/automation"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// clock is the worker's controllable time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time)     { c.mu.Lock(); c.now = t; c.mu.Unlock() }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

type rig struct {
	g     *testenv.SendingGateway
	w     *automation.Worker
	clock *clock
	pnid  string
}

func newRig(t *testing.T, at time.Time) *rig {
	t.Helper()
	g := testenv.NewFastSending(t)
	c := &clock{now: at}
	r := &rig{g: g, clock: c, pnid: g.Sim.Options().PhoneNumberID}
	r.w = automation.New(g.Store, g.Sender, slog.New(slog.DiscardHandler), automation.Options{Now: c.Now})
	r.run(t) // the cursor starts after what is already stored
	return r
}

func (r *rig) run(t *testing.T) {
	t.Helper()
	if err := r.w.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) put(t *testing.T, path, body string) (int, string) {
	t.Helper()
	st, b := r.g.API(t, "PUT", "/api/v1/numbers/"+r.pnid+path, strings.NewReader(body))
	return st, string(b)
}

func (r *rig) mustPut(t *testing.T, path, body string) {
	t.Helper()
	if st, b := r.put(t, path, body); st != 200 {
		t.Fatalf("PUT %s: %d %s", path, st, b)
	}
}

func (r *rig) write(t *testing.T, c simulator.Customer, kind, text string) {
	t.Helper()
	var st int
	var err error
	if text != "" {
		_, st, err = r.g.Sim.WriteLine(context.Background(), c, simulator.Line{Kind: kind, Text: text})
	} else {
		_, st, err = r.g.Sim.Write(context.Background(), c, kind)
	}
	if err != nil || st != 200 {
		t.Fatalf("customer writes: %d %v", st, err)
	}
}

// sent is what went out to a customer automatically: rule and text, oldest first.
func (r *rig) sent(t *testing.T, waID string) []string {
	t.Helper()
	ctx := context.Background()
	c, err := r.g.Store.ContactByKey(ctx, waID)
	if err != nil {
		t.Fatal(err)
	}
	msgs, _, err := r.g.Store.ContactMessages(ctx, c.ID, store.Page{Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, m := range msgs {
		if m.Direction == "outbound" {
			ids = append(ids, m.ID)
		}
	}
	rules, err := r.g.Store.AutomaticRules(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if m.Direction != "outbound" {
			continue
		}
		rule, ok := rules[m.ID]
		if !ok {
			rule = "person"
		}
		out = append(out, string(rule)+": "+m.Text.String)
	}
	return out
}

const weekdays = `{"timezone": "Europe/Berlin", "state": "BY",
	"week": {"mon": [["08:00", "18:00"]], "tue": [["08:00", "18:00"]], "wed": [["08:00", "18:00"]], "thu": [["08:00", "18:00"]], "fri": [["08:00", "18:00"]]}}`

var (
	anna = simulator.Customer{WaID: "4915112345678", Name: "Anna"}
	tom  = simulator.Customer{WaID: "447700900123", Name: "Tom"}
)

// Away replies go out exactly outside the hours — at night and on a
// Bavarian holiday, not during the day — at most once per interval, in
// the customer's language, with the next opening time.
func TestAwayReplyOutsideHoursOnly(t *testing.T) {
	r := newRig(t, berlin(t, "2026-06-01 22:00")) // Monday night
	r.mustPut(t, "/business-hours", weekdays)
	r.mustPut(t, "/auto-replies/away", `{"enabled": true, "text": "Wir sind ab {{next_opening}} wieder da, {{name}}.",
		"text_en": "Back {{next_opening}}, {{name}}.", "min_interval": "12h"}`)

	r.write(t, anna, "text", "Hallo, ist noch jemand da?")
	r.write(t, tom, "text", "Hello?")
	r.run(t)
	if got := r.sent(t, anna.WaID); len(got) != 1 || got[0] != "away: Wir sind ab Di 08:00 wieder da, Anna." {
		t.Fatalf("Anna got %q", got)
	}
	if got := r.sent(t, tom.WaID); len(got) != 1 || got[0] != "away: Back Tue 08:00, Tom." {
		t.Fatalf("Tom got %q", got)
	}
	// Again an hour later: within 12 hours nothing more.
	r.clock.Add(time.Hour)
	r.write(t, anna, "text", "Hallo??")
	r.run(t)
	if got := r.sent(t, anna.WaID); len(got) != 1 {
		t.Fatalf("rate limit broken: %q", got)
	}
	// Tuesday 10:00: open, no away reply even though 12 hours passed.
	r.clock.Set(berlin(t, "2026-06-02 10:00"))
	r.write(t, anna, "text", "Guten Morgen")
	r.run(t)
	if got := r.sent(t, anna.WaID); len(got) != 1 {
		t.Fatalf("away reply during business hours: %q", got)
	}
	// Thursday 4 June 10:00 is Fronleichnam in Bavaria: closed, answered;
	// the next opening is Friday.
	r.clock.Set(berlin(t, "2026-06-04 10:00"))
	r.write(t, anna, "text", "Feiertag?")
	r.run(t)
	if got := r.sent(t, anna.WaID); len(got) != 2 || got[1] != "away: Wir sind ab Fr 08:00 wieder da, Anna." {
		t.Fatalf("holiday: %q", got)
	}
}

// The welcome goes to a customer's first message ever, once, with the
// privacy link; never to a second message or a returning customer.
func TestWelcomeOncePerCustomer(t *testing.T) {
	r := newRig(t, berlin(t, "2026-06-01 10:00"))
	r.mustPut(t, "/auto-replies/welcome", `{"enabled": true, "privacy_url": "https://example.de/datenschutz"}`)
	r.write(t, anna, "text", "Hallo")
	r.write(t, anna, "text", "Noch eine Frage")
	r.run(t)
	got := r.sent(t, anna.WaID)
	if len(got) != 1 || !strings.HasPrefix(got[0], "welcome: Willkommen, Anna!") || !strings.Contains(got[0], "https://example.de/datenschutz") ||
		!strings.Contains(got[0], "Auskunft") {
		t.Fatalf("welcome: %q", got)
	}
	r.clock.Add(48 * time.Hour)
	r.write(t, anna, "text", "Ich bin wieder da")
	r.run(t)
	if got := r.sent(t, anna.WaID); len(got) != 1 {
		t.Fatalf("welcomed twice: %q", got)
	}
	// Tom's number is British: the English default, with the same link.
	r.write(t, tom, "text", "Hi")
	r.run(t)
	if got := r.sent(t, tom.WaID); len(got) != 1 || !strings.HasPrefix(got[0], "welcome: Welcome, Tom!") {
		t.Fatalf("Tom: %q", got)
	}
}

// The waiting reply goes out when nobody answered within N minutes during
// the hours, once; an answer from a person in time prevents it.
func TestWaitingReplyAfterNMinutes(t *testing.T) {
	r := newRig(t, time.Now())
	// Open around the clock, so the customer's real timestamps fall inside.
	r.mustPut(t, "/business-hours", `{"timezone": "Europe/Berlin", "week": {"mon": [["00:00", "24:00"]], "tue": [["00:00", "24:00"]],
		"wed": [["00:00", "24:00"]], "thu": [["00:00", "24:00"]], "fri": [["00:00", "24:00"]], "sat": [["00:00", "24:00"]], "sun": [["00:00", "24:00"]]},
		"closed_days": []}`)
	r.mustPut(t, "/auto-replies/waiting", `{"enabled": true, "after": "15m", "text": "Einen Moment bitte, {{name}}."}`)
	r.write(t, anna, "text", "Hallo")
	r.write(t, tom, "text", "Hello")
	r.run(t)
	if got := r.sent(t, anna.WaID); len(got) != 0 {
		t.Fatalf("waiting reply at once: %q", got)
	}
	// A person answers Tom within the 15 minutes.
	if _, err := r.g.Sender.Enqueue(context.Background(), outboxText(r.pnid, tom.WaID, "Hallo Tom, wir sind dran.", 1)); err != nil {
		t.Fatal(err)
	}
	r.clock.Add(14 * time.Minute)
	r.run(t)
	if got := r.sent(t, anna.WaID); len(got) != 0 {
		t.Fatalf("waiting reply before 15 minutes: %q", got)
	}
	r.clock.Add(2 * time.Minute)
	r.run(t)
	r.run(t)
	if got := r.sent(t, anna.WaID); len(got) != 1 || got[0] != "waiting: Einen Moment bitte, Anna." {
		t.Fatalf("waiting: %q", got)
	}
	if got := r.sent(t, tom.WaID); len(got) != 1 || got[0] != "person: Hallo Tom, wir sind dran." {
		t.Fatalf("Tom was answered by a person and still got %q", got)
	}
	r.clock.Add(time.Hour)
	r.run(t)
	if got := r.sent(t, anna.WaID); len(got) != 1 {
		t.Fatalf("waiting twice: %q", got)
	}
}

// Nothing answers a stop word, a reaction, a group message or a
// conversation a bot has; a person taking over hands it back, and the
// replies resume.
func TestNoReplyToStopReactionGroupOrBot(t *testing.T) {
	r := newRig(t, berlin(t, "2026-06-01 22:00"))
	r.mustPut(t, "/business-hours", weekdays)
	r.mustPut(t, "/auto-replies/away", `{"enabled": true, "min_interval": "10m"}`)
	lena := simulator.Customer{WaID: "4917612345678", Name: "Lena"}
	r.write(t, lena, "text", "Hallo")
	r.run(t)
	r.clock.Add(20 * time.Minute) // past the interval: only the kind holds the next ones back
	r.write(t, anna, "text", "Stopp")
	r.write(t, lena, "reaction", "")
	if st := r.g.PostWebhook(t, groupMessage(r.pnid)); st.StatusCode != 200 {
		t.Fatalf("group webhook: %d", st.StatusCode)
	}
	r.run(t)
	if got := r.sent(t, anna.WaID); len(got) != 0 {
		t.Fatalf("answered a stop word: %q", got)
	}
	if got := r.sent(t, lena.WaID); len(got) != 1 {
		t.Fatalf("answered a reaction: %q", got)
	}
	if got := r.sent(t, "4915199999999"); len(got) != 0 {
		t.Fatalf("answered a group message: %q", got)
	}
	// A bot takes Tom's conversation: his text gets no away reply.
	r.write(t, tom, "text", "first text")
	st, b := r.g.API(t, "PUT", "/api/v1/numbers/"+r.pnid+"/conversations/"+tom.WaID+"/bot", strings.NewReader(`{"active": true}`))
	if st != 200 {
		t.Fatalf("bot on: %d %s", st, b)
	}
	// The cursor still points before "first text": the bot flag holds it.
	r.run(t)
	if got := r.sent(t, tom.WaID); len(got) != 0 {
		t.Fatalf("answered in a bot conversation: %q", got)
	}
	// A person writes: the bot is off (audited), and later messages get replies.
	agent := addAgent(t, r.g.Store)
	if _, err := r.g.Sender.Enqueue(context.Background(), outboxTextBy(r.pnid, tom.WaID, "Ich übernehme.", store.UserActor(agent))); err != nil {
		t.Fatal(err)
	}
	_, b = r.g.API(t, "GET", "/api/v1/numbers/"+r.pnid+"/conversations/"+tom.WaID+"/bot", nil)
	if !strings.Contains(string(b), `"active":false`) {
		t.Fatalf("bot still active after a person wrote: %s", b)
	}
	r.clock.Add(20 * time.Minute)
	r.write(t, tom, "text", "after handover")
	r.run(t)
	if got := r.sent(t, tom.WaID); len(got) != 2 || !strings.HasPrefix(got[1], "away: ") {
		t.Fatalf("after handover: %q", got)
	}
	if n := auditCount(t, r.g.Store, store.AuditBotHandover); n != 2 {
		t.Fatalf("bot handover audit entries: %d, want on and off", n)
	}
}

// A customer's own bot answering every message cannot make a loop: the
// interval holds each rule, the cap holds all rules together.
func TestNoReplyLoop(t *testing.T) {
	r := newRig(t, berlin(t, "2026-06-01 22:00"))
	r.mustPut(t, "/business-hours", weekdays)
	r.mustPut(t, "/auto-replies/away", `{"enabled": true, "min_interval": "10m"}`)
	for i := 0; i < 12; i++ { // an echoing bot writes every 11 minutes for two hours
		r.write(t, anna, "text", fmt.Sprintf("Automatische Antwort %d", i))
		r.run(t)
		r.clock.Add(11 * time.Minute)
	}
	got := r.sent(t, anna.WaID)
	// 3 in the first hour (loop cap), then again at most 3 in the next.
	if len(got) < 3 || len(got) > 6 {
		t.Fatalf("automatic replies to a bot over two hours: %d", len(got))
	}
	// An interval shorter than 10 minutes is refused as a loop risk.
	st, b := r.put(t, "/auto-replies/away", `{"enabled": true, "min_interval": "1m"}`)
	if st != 400 || !strings.Contains(b, `"field":"min_interval"`) || !strings.Contains(b, "Schleife") {
		t.Fatalf("1m interval: %d %s", st, b)
	}
}

// Bad settings through the API: 400 naming the field in German (and
// English), and the earlier settings stay as they were.
func TestAutomationAPIBadInputSavesNothing(t *testing.T) {
	r := newRig(t, time.Now())
	st, b := r.put(t, "/auto-replies/away", `{"enabled": true}`)
	if st != 400 || !strings.Contains(b, "Geschäftszeiten") || !strings.Contains(b, `"message_en"`) {
		t.Fatalf("away without hours: %d %s", st, b)
	}
	r.mustPut(t, "/business-hours", weekdays)
	for _, c := range []struct{ path, body, field string }{
		{"/business-hours", `{"timezone": "Mars/Olympus", "week": {}}`, "timezone"},
		{"/business-hours", `{"timezone": "Europe/Berlin", "state": "AT"}`, "state"},
		{"/business-hours", `{"timezone": "Europe/Berlin", "week": {"mon": [["08:00", "12:00"], ["10:00", "14:00"]]}}`, "week.mon"},
		{"/business-hours", `{"timezone": "Europe/Berlin", "week": {"mon": [["12:00", "12:00"]]}}`, "week.mon[0]"},
		{"/auto-replies/welcome", `{"enabled": true}`, "privacy_url"},
		{"/auto-replies/away", `{"enabled": true, "text": "Hallo {{vorname}}"}`, "text"},
		{"/auto-replies/waiting", `{"enabled": true, "after": "2d"}`, "after"},
		{"/auto-replies/lunch", `{"enabled": true}`, "kind"},
	} {
		st, b := r.put(t, c.path, c.body)
		if st != 400 || !strings.Contains(b, `"field":"`+c.field+`"`) {
			t.Errorf("%s %s: %d %s", c.path, c.body, st, b)
		}
	}
	st, hb := r.g.API(t, "GET", "/api/v1/numbers/"+r.pnid+"/business-hours", nil)
	if st != 200 || !strings.Contains(string(hb), `"state":"BY"`) || !strings.Contains(string(hb), `"mon":[["08:00","18:00"]]`) {
		t.Fatalf("hours after refused changes: %d %s", st, hb)
	}
	st, wb := r.g.API(t, "GET", "/api/v1/numbers/"+r.pnid+"/auto-replies/welcome", nil)
	if st != 200 || !strings.Contains(string(wb), `"enabled":false`) {
		t.Fatalf("welcome is not off by default: %d %s", st, wb)
	}
	if st, _ := r.g.API(t, "GET", "/api/v1/numbers/999/business-hours", nil); st != 404 {
		t.Fatalf("unknown number: %d", st)
	}
	if n := auditCount(t, r.g.Store, store.AuditAutomationChange); n != 1 {
		t.Fatalf("audited changes: %d (want only the one that was saved)", n)
	}
}

func groupMessage(pnid string) []byte {
	return []byte(`{"object":"whatsapp_business_account","entry":[{"id":"318824617705293","changes":[{"value":{"messaging_product":"whatsapp",
"metadata":{"display_phone_number":"4930123456","phone_number_id":"` + pnid + `"},"contacts":[{"profile":{"name":"Gruppe"},"wa_id":"4915199999999"}],
"messages":[{"from":"4915199999999","id":"wamid.group1","timestamp":"` + strconv.FormatInt(time.Now().Unix(), 10) + `","type":"text","group_id":"120363000000000001","text":{"body":"Hallo Gruppe"}}]},"field":"messages"}]}]}`)
}

func outboxText(pnid, to, text string, _ int) outbox.Request {
	return outboxTextBy(pnid, to, text, store.KeyActor("test"))
}

func outboxTextBy(pnid, to, text string, actor store.Actor) outbox.Request {
	body, _ := json.Marshal(map[string]any{"messaging_product": "whatsapp", "to": to, "type": "text", "text": map[string]string{"body": text}})
	return outbox.Request{PhoneNumberID: pnid, Body: body, Actor: actor}
}

func addAgent(t *testing.T, st *store.Store) int64 {
	t.Helper()
	u, err := st.CreateUser(context.Background(), store.NewUser{Email: "agent@example.de", Name: "Agentin", Role: store.RoleAgent}, false)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

// auditCount counts the audit entries of one action.
func auditCount(t *testing.T, st *store.Store, action store.AuditAction) int {
	t.Helper()
	entries, err := st.AuditLog(context.Background(), 0, 500)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Action == action {
			n++
		}
	}
	return n
}

// Before the window closes: the assigned person is reminded while the
// customer waits; once the person wrote, the customer gets the nudge
// inside the window, once; a fresh window gets none.
func TestWindowReminderAndNudge(t *testing.T) {
	r := newRig(t, time.Now())
	ctx := context.Background()
	r.mustPut(t, "/auto-replies/nudge", `{"enabled": true, "after": "1h"}`)
	if _, st, err := r.g.Sim.WriteLine(ctx, anna, simulator.Line{Text: "Können Sie mir das Angebot schicken?", Ago: 23*time.Hour + 10*time.Minute}); err != nil || st != 200 {
		t.Fatalf("write: %d %v", st, err)
	}
	r.write(t, tom, "text", "Hello")
	agent := addAgent(t, r.g.Store)
	for _, c := range []simulator.Customer{anna, tom} {
		conv, err := r.g.Store.ConversationOf(ctx, r.pnid, c.WaID)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.g.Store.Assign(ctx, conv, agent); err != nil {
			t.Fatal(err)
		}
	}
	rem, err := r.g.Store.WindowReminders(ctx, agent, time.Now(), 2*time.Hour)
	if err != nil || len(rem) != 1 || rem[0].Name != "Anna" || time.Until(rem[0].WindowEnds) > time.Hour {
		t.Fatalf("reminders: %+v %v", rem, err)
	}
	r.run(t)
	if got := r.sent(t, anna.WaID); len(got) != 0 {
		t.Fatalf("nudged while the customer waits for us: %q", got)
	}
	for _, c := range []simulator.Customer{anna, tom} {
		if _, err := r.g.Sender.Enqueue(ctx, outboxTextBy(r.pnid, c.WaID, "Hier ist das Angebot.", store.UserActor(agent))); err != nil {
			t.Fatal(err)
		}
	}
	if rem, _ := r.g.Store.WindowReminders(ctx, agent, time.Now(), 2*time.Hour); len(rem) != 0 {
		t.Fatalf("reminded after the answer: %+v", rem)
	}
	r.run(t)
	r.run(t)
	if got := r.sent(t, anna.WaID); len(got) != 2 || got[1] != "nudge: Bitte antworten Sie kurz, damit wir Ihnen weiter schreiben können." {
		t.Fatalf("nudge: %q", got)
	}
	if got := r.sent(t, tom.WaID); len(got) != 1 {
		t.Fatalf("nudged a fresh window: %q", got)
	}
}

var surveyID = regexp.MustCompile(`csat:(\d+):`)

// lastSurvey is the survey id in the newest message of the given type
// that reached the simulator.
func (r *rig) lastSurvey(t *testing.T, typ string) string {
	t.Helper()
	var id string
	testenv.Eventually(t, 10*time.Second, "the survey at Meta", func() bool {
		for _, q := range r.g.Sim.Accepted() {
			if m := surveyID.FindSubmatch(q.Body); q.Type == typ && m != nil {
				id = string(m[1])
			}
		}
		return id != ""
	})
	return id
}

func (r *rig) status(t *testing.T, waID string) string {
	t.Helper()
	conv, err := r.g.Store.ConversationOf(context.Background(), r.pnid, waID)
	if err != nil {
		t.Fatal(err)
	}
	c, err := r.g.Store.ConversationByID(context.Background(), conv)
	if err != nil {
		t.Fatal(err)
	}
	return c.Status
}

// The survey goes out when a conversation is closed: buttons inside the
// window, the approved template outside; a button answer is recorded and
// does not reopen, a text after it is the comment and does; results per
// number and agent. An unapproved template is refused and nothing saved.
func TestSatisfactionSurveyInAndOutsideWindow(t *testing.T) {
	r := newRig(t, time.Now())
	ctx := context.Background()
	st, b := r.put(t, "/csat", `{"enabled": true, "template": "zufriedenheit", "template_language": "de"}`)
	if st != 400 || !strings.Contains(b, `"field":"template"`) || !strings.Contains(b, "nicht von Meta freigegeben") {
		t.Fatalf("unapproved template: %d %s", st, b)
	}
	if _, got := r.g.API(t, "GET", "/api/v1/numbers/"+r.pnid+"/csat", nil); !strings.Contains(string(got), `"enabled":false`) {
		t.Fatalf("refused survey saved: %s", got)
	}
	r.g.ApproveTemplate(t, "zufriedenheit", "de", "UTILITY")
	r.mustPut(t, "/csat", `{"enabled": true, "template": "zufriedenheit", "template_language": "de"}`)
	agent := addAgent(t, r.g.Store)

	r.write(t, anna, "text", "Danke für die Hilfe")
	if _, st, err := r.g.Sim.WriteLine(ctx, tom, simulator.Line{Text: "Thanks", Ago: 25 * time.Hour}); err != nil || st != 200 {
		t.Fatalf("write: %d %v", st, err)
	}
	for _, c := range []simulator.Customer{anna, tom} {
		conv, err := r.g.Store.ConversationOf(ctx, r.pnid, c.WaID)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.g.Store.Assign(ctx, conv, agent); err != nil {
			t.Fatal(err)
		}
		if err := r.g.Store.SetConversationStatus(ctx, conv, "closed"); err != nil {
			t.Fatal(err)
		}
	}
	r.run(t)
	// Inside the window: reply buttons.
	id := r.lastSurvey(t, "interactive")
	if got := r.sent(t, anna.WaID); len(got) != 1 || !strings.HasPrefix(got[0], "csat:") {
		t.Fatalf("Anna: %q", got)
	}
	if _, st, err := r.g.Sim.WriteLine(ctx, anna, simulator.Line{Kind: "button_reply", ReplyID: "csat:" + id + ":2", Text: "👍"}); err != nil || st != 200 {
		t.Fatalf("answer: %d %v", st, err)
	}
	annaConv, _ := r.g.Store.ConversationOf(ctx, r.pnid, anna.WaID)
	if state, score, _, err := r.g.Store.SurveyOf(ctx, annaConv); err != nil || state != "answered" || score != 2 {
		t.Fatalf("survey: %s %d %v", state, score, err)
	}
	if s := r.status(t, anna.WaID); s != "closed" {
		t.Fatalf("the button answer reopened the conversation: %s", s)
	}
	r.write(t, anna, "text", "Sehr freundlich, danke!")
	if _, _, comment, _ := r.g.Store.SurveyOf(ctx, annaConv); comment != "Sehr freundlich, danke!" {
		t.Fatalf("comment: %q", comment)
	}
	if s := r.status(t, anna.WaID); s != "open" {
		t.Fatalf("a text did not reopen: %s", s)
	}
	// The subject access export holds the answer and the comment.
	contact, err := r.g.Store.ContactByKey(ctx, anna.WaID)
	if err != nil {
		t.Fatal(err)
	}
	var zipped bytes.Buffer
	if _, err := privacy.ExportContact(ctx, r.g.Store, contact, &zipped, privacy.ExportOptions{Now: time.Now(), Actor: store.ActorCLI}); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(zipped.Bytes()), int64(zipped.Len()))
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range zr.File {
		if f.Name != "data.json" {
			continue
		}
		rc, _ := f.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		found = strings.Contains(string(data), `"comment":"Sehr freundlich, danke!"`) && strings.Contains(string(data), `"score":2`)
	}
	if !found {
		t.Fatal("the export lacks the survey answer")
	}
	// Outside the window: the approved template with payloads, best first.
	tid := r.lastSurvey(t, "template")
	var tbody string
	for _, q := range r.g.Sim.Accepted() {
		if q.Type == "template" {
			tbody = string(q.Body)
		}
	}
	if !strings.Contains(tbody, `"index":"0","parameters":[{"payload":"csat:`+tid+`:2"`) && !strings.Contains(tbody, `"payload":"csat:`+tid+`:2"`) {
		t.Fatalf("template body: %s", tbody)
	}
	if _, st, err := r.g.Sim.WriteLine(ctx, tom, simulator.Line{Kind: "button", ReplyID: "csat:" + tid + ":1", Text: "Nicht gut"}); err != nil || st != 200 {
		t.Fatalf("answer: %d %v", st, err)
	}
	if s := r.status(t, tom.WaID); s != "closed" {
		t.Fatalf("the template answer reopened: %s", s)
	}
	r.run(t) // survey answers get no automatic reply of their own
	perAgent, perNumber, err := r.g.Store.SurveyResults(ctx, time.Now().Add(-time.Hour))
	if err != nil || len(perNumber) != 1 || perNumber[0].Answered != 2 || perNumber[0].Percent != 75 ||
		len(perAgent) != 1 || perAgent[0].Key != "Agentin" {
		t.Fatalf("results: %+v %+v %v", perAgent, perNumber, err)
	}
}
