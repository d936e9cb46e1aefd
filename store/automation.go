package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// AutomationKind names one automation setting of a business number; stored
// in automation_settings.kind and, for replies, automation_sends.rule.
type AutomationKind string

// Automation settings.
const (
	AutoHours   AutomationKind = "hours"   // business hours (not a reply)
	AutoWelcome AutomationKind = "welcome" // first message ever, with the Art. 13 notice
	AutoAway    AutomationKind = "away"    // outside business hours
	AutoWaiting AutomationKind = "waiting" // no agent answer within N minutes
	AutoNudge   AutomationKind = "nudge"   // asks the customer to answer before the window closes
	AutoCSAT    AutomationKind = "csat"    // satisfaction survey when a conversation is closed
)

// AutoReplyKinds are the automatic replies, in the order they go out.
var AutoReplyKinds = []AutomationKind{AutoWelcome, AutoAway, AutoWaiting, AutoNudge}

// Valid reports whether k is a known automatic reply.
func (k AutomationKind) Valid() bool {
	return k == AutoWelcome || k == AutoAway || k == AutoWaiting || k == AutoNudge
}

// autoActorPrefix marks outbox actors of automatic messages: the actor
// says which rule sent it, like a user actor says who.
const autoActorPrefix = "system:auto:"

// AutoActor is the outbox actor of a message a rule sent.
func AutoActor(k AutomationKind) Actor { return Actor(autoActorPrefix + string(k)) }

// AutoRule is the rule behind an AutoActor.
func (a Actor) AutoRule() (AutomationKind, bool) {
	k, ok := strings.CutPrefix(string(a), autoActorPrefix)
	return AutomationKind(k), ok
}

// AutomationSetting is one stored setting: the JSON the API takes.
type AutomationSetting struct {
	PhoneNumberID string
	Kind          AutomationKind
	Spec          string
	UpdatedAt     int64
}

// SetAutomation stores a number's setting (already checked by the
// caller) and audits it in the same commit. An unknown number is
// ErrNotFound and nothing is written.
func (s *Store) SetAutomation(ctx context.Context, actor Actor, pnid string, kind AutomationKind, spec string, now time.Time) error {
	detail, _ := json.Marshal(map[string]any{"kind": kind, "spec": json.RawMessage(spec)})
	err := s.Write(ctx, func(tx *Tx) error {
		var numberID int64
		if err := tx.QueryRow("SELECT id FROM business_numbers WHERE phone_number_id = ?", pnid).Scan(&numberID); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		if _, err := tx.Exec(`INSERT INTO automation_settings(business_number_id, kind, spec, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (business_number_id, kind) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at`,
			numberID, kind, spec, now.Unix()); err != nil {
			return err
		}
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: actor, Action: AuditAutomationChange, Target: "number:" + pnid, Detail: string(detail)})
	})
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: automation setting: %w", err)
	}
	return nil
}

// Automation returns one setting of a number; ErrNotFound when unset.
func (s *Store) Automation(ctx context.Context, pnid string, kind AutomationKind) (AutomationSetting, error) {
	a := AutomationSetting{PhoneNumberID: pnid, Kind: kind}
	err := s.rdb.QueryRowContext(ctx, `SELECT a.spec, a.updated_at FROM automation_settings a
		JOIN business_numbers b ON b.id = a.business_number_id WHERE b.phone_number_id = ? AND a.kind = ?`, pnid, kind).Scan(&a.Spec, &a.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	if err != nil {
		return a, fmt.Errorf("store: automation setting: %w", err)
	}
	return a, nil
}

// Automations returns every stored setting, for the worker's rule cache.
func (s *Store) Automations(ctx context.Context) ([]AutomationSetting, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT b.phone_number_id, a.kind, a.spec, a.updated_at FROM automation_settings a
		JOIN business_numbers b ON b.id = a.business_number_id ORDER BY a.id`)
	if err != nil {
		return nil, fmt.Errorf("store: automation settings: %w", err)
	}
	defer rows.Close()
	var out []AutomationSetting
	for rows.Next() {
		var a AutomationSetting
		if err := rows.Scan(&a.PhoneNumberID, &a.Kind, &a.Spec, &a.UpdatedAt); err != nil {
			return nil, fmt.Errorf("store: automation settings: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AutomationsVersion changes whenever a setting is saved: the worker
// reloads its rules only then.
func (s *Store) AutomationsVersion(ctx context.Context) (string, error) {
	var n, last int64
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*), coalesce(max(updated_at * 1000000 + id), 0) FROM automation_settings").Scan(&n, &last); err != nil {
		return "", fmt.Errorf("store: automation settings: %w", err)
	}
	return strconv.FormatInt(n, 10) + ":" + strconv.FormatInt(last, 10), nil
}

// AutoCandidate is an inbound message the automations look at, with what
// they need to know about its customer and conversation.
type AutoCandidate struct {
	MessageID      int64
	ConversationID int64
	ContactID      int64
	PhoneNumberID  string
	WAMID          string
	Type           string
	Text           string
	Group          bool  // sent in a group chat
	TS             int64 // Meta's timestamp, unix seconds
	WaID, UserID   string
	Name           string
	BotActive      bool // an external bot answers this conversation
	StopWord       bool // the message opted the customer out
	FirstEver      bool // the customer's first message to any number
	WelcomedBefore bool // a welcome went to this customer before
	Status         string
	SurveyAnswer   bool   // the answer to a satisfaction survey
	Origin         string // messages.origin: "" live, "phone" echo, "history" import
	Routed         bool   // the conversation has an assignee or a team already
}

// settingAutomationCursor holds the id of the last inbound message the
// automation worker has looked at.
const settingAutomationCursor = "automation.cursor"

// AutomationCursor is where the worker resumes. On first use it starts
// after the newest message, so history is never answered.
func (s *Store) AutomationCursor(ctx context.Context) (int64, error) {
	v, ok, err := s.Setting(ctx, settingAutomationCursor)
	if err != nil {
		return 0, err
	}
	if ok {
		return strconv.ParseInt(v, 10, 64)
	}
	var max int64
	if err := s.rdb.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM messages").Scan(&max); err != nil {
		return 0, fmt.Errorf("store: automation cursor: %w", err)
	}
	return max, s.SetAutomationCursor(ctx, max)
}

// SetAutomationCursor records that messages up to id were looked at.
func (s *Store) SetAutomationCursor(ctx context.Context, id int64) error {
	return s.SetSetting(ctx, settingAutomationCursor, strconv.FormatInt(id, 10))
}

// AutomationCandidates returns inbound messages after id, oldest first.
func (s *Store) AutomationCandidates(ctx context.Context, after int64, limit int) ([]AutoCandidate, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT m.id, m.conversation_id, c.contact_id, b.phone_number_id, coalesce(m.wamid, ''), m.type,
			coalesce(m.text, ''), m.group_id IS NOT NULL, m.ts, coalesce(k.wa_id, ''), coalesce(k.user_id, ''), k.name, c.bot_active, c.status,
			EXISTS (SELECT 1 FROM consent_records r WHERE r.contact_id = c.contact_id AND r.evidence = 'message:' || m.wamid),
			NOT EXISTS (SELECT 1 FROM conversations pc JOIN messages p ON p.conversation_id = pc.id
				WHERE pc.contact_id = c.contact_id AND p.direction = 'inbound' AND p.id < m.id),
			EXISTS (SELECT 1 FROM conversations pc JOIN automation_sends a ON a.conversation_id = pc.id
				WHERE pc.contact_id = c.contact_id AND a.rule = 'welcome'),
			m.type IN ('interactive', 'button') AND instr(coalesce(m.payload, ''), '"`+SurveyPrefix+`') > 0,
			coalesce(m.origin, ''), c.assignee_id IS NOT NULL OR c.team_id IS NOT NULL
		FROM messages m
		JOIN conversations c ON c.id = m.conversation_id
		JOIN business_numbers b ON b.id = c.business_number_id
		JOIN contacts k ON k.id = c.contact_id
		WHERE m.id > ? AND m.direction = 'inbound' ORDER BY m.id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: automation candidates: %w", err)
	}
	defer rows.Close()
	var out []AutoCandidate
	for rows.Next() {
		var c AutoCandidate
		if err := rows.Scan(&c.MessageID, &c.ConversationID, &c.ContactID, &c.PhoneNumberID, &c.WAMID, &c.Type, &c.Text, &c.Group, &c.TS,
			&c.WaID, &c.UserID, &c.Name, &c.BotActive, &c.Status, &c.StopWord, &c.FirstEver, &c.WelcomedBefore, &c.SurveyAnswer,
			&c.Origin, &c.Routed); err != nil {
			return nil, fmt.Errorf("store: automation candidates: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// LastAutomatic is when a rule last wrote in a conversation (unix
// seconds, 0 for never), and how many automatic messages of any rule went
// there since the given time: the rate limit and the loop guard.
func (s *Store) LastAutomatic(ctx context.Context, convID int64, rule AutomationKind, since int64) (last int64, recent int, err error) {
	err = s.rdb.QueryRowContext(ctx, `SELECT coalesce(max(CASE WHEN rule = ? THEN created_at END), 0), count(CASE WHEN created_at >= ? THEN 1 END)
		FROM automation_sends WHERE conversation_id = ?`, rule, since, convID).Scan(&last, &recent)
	if err != nil {
		return 0, 0, fmt.Errorf("store: automatic messages: %w", err)
	}
	return last, recent, nil
}

// RecordAutomatic marks a stored outbound message as sent by a rule. A
// second call for the same message changes nothing.
func (s *Store) RecordAutomatic(ctx context.Context, convID, messageID int64, rule AutomationKind, triggerID int64, now time.Time) error {
	var trig any
	if triggerID > 0 {
		trig = triggerID
	}
	err := s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO automation_sends(conversation_id, message_id, rule, trigger_message_id, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING`, convID, messageID, rule, trig, now.Unix())
		return err
	})
	if err != nil {
		return fmt.Errorf("store: record automatic message: %w", err)
	}
	return nil
}

// AutomaticRules says which of the given messages a rule sent, and which.
func (s *Store) AutomaticRules(ctx context.Context, msgIDs []int64) (map[int64]AutomationKind, error) {
	out := map[int64]AutomationKind{}
	if len(msgIDs) == 0 {
		return out, nil
	}
	ids, _ := json.Marshal(msgIDs)
	rows, err := s.rdb.QueryContext(ctx, `SELECT message_id, rule FROM automation_sends WHERE message_id IN (SELECT value FROM json_each(?))`, string(ids))
	if err != nil {
		return nil, fmt.Errorf("store: automatic messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var rule AutomationKind
		if err := rows.Scan(&id, &rule); err != nil {
			return nil, fmt.Errorf("store: automatic messages: %w", err)
		}
		out[id] = rule
	}
	return out, rows.Err()
}

// UnansweredConversation is an open conversation whose customer's last
// message has had no answer from a person.
type UnansweredConversation struct {
	ConversationID int64
	LastInboundAt  int64
	WaID, UserID   string
	Name           string
}

// UnansweredConversations lists a number's open conversations whose
// customer last wrote between from and to (unix seconds), that no person
// or API client answered since, and that got no waiting reply since.
// Automatic messages do not count as an answer; bot conversations are left
// to the bot.
func (s *Store) UnansweredConversations(ctx context.Context, pnid string, from, to int64) ([]UnansweredConversation, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT c.id, c.last_inbound_at, coalesce(k.wa_id, ''), coalesce(k.user_id, ''), k.name
		FROM conversations c
		JOIN business_numbers b ON b.id = c.business_number_id
		JOIN contacts k ON k.id = c.contact_id
		WHERE b.phone_number_id = ? AND c.status = 'open' AND c.bot_active = 0 AND c.last_inbound_at BETWEEN ? AND ?
		AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'outbound' AND m.ts >= c.last_inbound_at
			AND NOT EXISTS (SELECT 1 FROM automation_sends a WHERE a.message_id = m.id))
		AND NOT EXISTS (SELECT 1 FROM automation_sends a WHERE a.conversation_id = c.id AND a.rule = 'waiting' AND a.created_at >= c.last_inbound_at)
		ORDER BY c.last_inbound_at`, pnid, from, to)
	if err != nil {
		return nil, fmt.Errorf("store: unanswered conversations: %w", err)
	}
	defer rows.Close()
	var out []UnansweredConversation
	for rows.Next() {
		var u UnansweredConversation
		if err := rows.Scan(&u.ConversationID, &u.LastInboundAt, &u.WaID, &u.UserID, &u.Name); err != nil {
			return nil, fmt.Errorf("store: unanswered conversations: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// SetBotActive marks a conversation as answered by an external bot (on)
// or hands it back to people; audited in the same commit. It reports
// whether the flag changed.
func (s *Store) SetBotActive(ctx context.Context, actor Actor, convID int64, on bool, now time.Time) (changed bool, err error) {
	err = s.Write(ctx, func(tx *Tx) error {
		var cur bool
		if err := tx.QueryRow("SELECT bot_active FROM conversations WHERE id = ?", convID).Scan(&cur); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		if cur == on {
			return nil
		}
		changed = true
		if _, err := tx.Exec("UPDATE conversations SET bot_active = ?, updated_at = ? WHERE id = ?", on, now.Unix(), convID); err != nil {
			return err
		}
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: actor, Action: AuditBotHandover, Target: fmt.Sprintf("conversation:%d", convID),
			Detail: fmt.Sprintf(`{"bot_active":%t}`, on)})
	})
	if errors.Is(err, ErrNotFound) {
		return false, ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("store: bot handover: %w", err)
	}
	return changed, nil
}

// BotActive reports whether an external bot answers the conversation.
func (s *Store) BotActive(ctx context.Context, convID int64) (bool, error) {
	var on bool
	err := s.rdb.QueryRowContext(ctx, "SELECT bot_active FROM conversations WHERE id = ?", convID).Scan(&on)
	if errors.Is(err, sql.ErrNoRows) {
		return false, ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("store: bot handover: %w", err)
	}
	return on, nil
}

// clearBotTx hands a conversation back to people when one of them acts
// in it (sends or assigns); the bot hears of it through the audit entry's
// fan-out-free record (AuditBotHandover with actor the person).
func clearBotTx(tx *Tx, convID int64, actor Actor, now int64) error {
	res, err := tx.Exec("UPDATE conversations SET bot_active = 0 WHERE id = ? AND bot_active = 1", convID)
	if err != nil {
		return fmt.Errorf("store: bot handover: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	if err := AuditTx(tx, AuditEntry{TS: now, Actor: actor, Action: AuditBotHandover, Target: fmt.Sprintf("conversation:%d", convID),
		Detail: `{"bot_active":false}`}); err != nil {
		return err
	}
	return queueHandoverEvent(tx, convID, actor, now)
}

// HandoverField is the webhook field of the event the bot's fan-out
// subscription gets when a person takes a conversation over.
const HandoverField = "pforte_bot_handover"

// queueHandoverEvent tells the subscriptions that forward "other" events
// that a person took over: a delivery in Meta's webhook shape (object
// "pforte"), stored and forwarded like any other, so it is signed,
// retried, replayable, and found by erasure by the customer's number.
func queueHandoverEvent(tx *Tx, convID int64, actor Actor, now int64) error {
	var pnid, waID, userID string
	if err := tx.QueryRow(`SELECT b.phone_number_id, coalesce(k.wa_id, ''), coalesce(k.user_id, '') FROM conversations c
		JOIN business_numbers b ON b.id = c.business_number_id JOIN contacts k ON k.id = c.contact_id WHERE c.id = ?`, convID).Scan(&pnid, &waID, &userID); err != nil {
		return fmt.Errorf("store: bot handover event: %w", err)
	}
	value := map[string]any{"phone_number_id": pnid, "conversation_id": convID, "bot_active": false, "by": actor, "timestamp": now}
	if waID != "" {
		value["wa_id"] = waID
	}
	if userID != "" {
		value["user_id"] = userID
	}
	if err := queueOwnEvent(tx, pnid, HandoverField, value, now); err != nil {
		return fmt.Errorf("store: bot handover event: %w", err)
	}
	return nil
}

// ConversationOf finds the conversation of a business number with a
// customer (by phone number or business-scoped user id).
func (s *Store) ConversationOf(ctx context.Context, pnid, contactKey string) (int64, error) {
	c, err := s.ContactByKey(ctx, contactKey)
	if err != nil {
		return 0, err
	}
	var id int64
	err = s.rdb.QueryRowContext(ctx, `SELECT c.id FROM conversations c JOIN business_numbers b ON b.id = c.business_number_id
		WHERE b.phone_number_id = ? AND c.contact_id = ?`, pnid, c.ID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("store: conversation: %w", err)
	}
	return id, nil
}

// AutomationCost is what one rule sent since a time, and how many of
// those messages Meta reported as billable (pricing.billable in any of
// their receipts): Meta's webhooks carry no prices, only this flag and a
// category.
type AutomationCost struct {
	Rule     AutomationKind
	Sent     int
	Billable int
}

// AutomationCosts lists, per rule, the automatic messages since a time.
func (s *Store) AutomationCosts(ctx context.Context, since time.Time) ([]AutomationCost, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT a.rule, count(*),
			coalesce(sum(EXISTS (SELECT 1 FROM messages m JOIN message_statuses st ON st.wamid = m.wamid
				WHERE m.id = a.message_id AND json_extract(st.pricing, '$.billable') IN (1, 'true'))), 0)
		FROM automation_sends a WHERE a.created_at >= ? GROUP BY a.rule ORDER BY a.rule`, since.Unix())
	if err != nil {
		return nil, fmt.Errorf("store: automation costs: %w", err)
	}
	defer rows.Close()
	var out []AutomationCost
	for rows.Next() {
		var c AutomationCost
		if err := rows.Scan(&c.Rule, &c.Sent, &c.Billable); err != nil {
			return nil, fmt.Errorf("store: automation costs: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// WindowReminder is an assigned conversation whose customer waits for an
// answer while the 24-hour window runs out.
type WindowReminder struct {
	ConversationID int64
	Name           string
	WaID, UserID   string
	WindowEnds     time.Time
}

// WindowReminders lists the open conversations assigned to a person whose
// customer wrote last (no answer from a person since) and whose window
// closes within lead of now (store.WindowEnds, the one window rule).
func (s *Store) WindowReminders(ctx context.Context, userID int64, now time.Time, lead time.Duration) ([]WindowReminder, error) {
	from := now.Add(-WindowLength).Unix()
	to := now.Add(lead - WindowLength).Unix()
	rows, err := s.rdb.QueryContext(ctx, `SELECT c.id, c.last_inbound_at, k.name, coalesce(k.wa_id, ''), coalesce(k.user_id, '')
		FROM conversations c JOIN contacts k ON k.id = c.contact_id
		WHERE c.assignee_id = ? AND c.status = 'open' AND c.last_inbound_at > ? AND c.last_inbound_at <= ?
		AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'outbound' AND m.ts >= c.last_inbound_at
			AND NOT EXISTS (SELECT 1 FROM automation_sends a WHERE a.message_id = m.id))
		ORDER BY c.last_inbound_at`, userID, from, to)
	if err != nil {
		return nil, fmt.Errorf("store: window reminders: %w", err)
	}
	defer rows.Close()
	var out []WindowReminder
	for rows.Next() {
		var r WindowReminder
		var last int64
		if err := rows.Scan(&r.ConversationID, &last, &r.Name, &r.WaID, &r.UserID); err != nil {
			return nil, fmt.Errorf("store: window reminders: %w", err)
		}
		if !WindowOpen(last, now) {
			continue
		}
		r.WindowEnds = WindowEnds(last)
		out = append(out, r)
	}
	return out, rows.Err()
}

// NudgeCandidates lists a number's open conversations where a person (or
// an API client) wrote after the customer's last message, whose window
// closes within lead, and that got no nudge in this window.
func (s *Store) NudgeCandidates(ctx context.Context, pnid string, now time.Time, lead time.Duration) ([]UnansweredConversation, error) {
	from := now.Add(-WindowLength).Unix()
	to := now.Add(lead - WindowLength).Unix()
	rows, err := s.rdb.QueryContext(ctx, `SELECT c.id, c.last_inbound_at, coalesce(k.wa_id, ''), coalesce(k.user_id, ''), k.name
		FROM conversations c
		JOIN business_numbers b ON b.id = c.business_number_id
		JOIN contacts k ON k.id = c.contact_id
		WHERE b.phone_number_id = ? AND c.status = 'open' AND c.bot_active = 0 AND c.last_inbound_at > ? AND c.last_inbound_at <= ?
		AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'outbound' AND m.ts >= c.last_inbound_at
			AND NOT EXISTS (SELECT 1 FROM automation_sends a WHERE a.message_id = m.id))
		AND NOT EXISTS (SELECT 1 FROM automation_sends a WHERE a.conversation_id = c.id AND a.rule = 'nudge' AND a.created_at >= c.last_inbound_at)
		ORDER BY c.last_inbound_at`, pnid, from, to)
	if err != nil {
		return nil, fmt.Errorf("store: nudge candidates: %w", err)
	}
	defer rows.Close()
	var out []UnansweredConversation
	for rows.Next() {
		var u UnansweredConversation
		if err := rows.Scan(&u.ConversationID, &u.LastInboundAt, &u.WaID, &u.UserID, &u.Name); err != nil {
			return nil, fmt.Errorf("store: nudge candidates: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// SurveyPrefix starts the id of a survey's buttons: "csat:<survey>:<score>".
const SurveyPrefix = "csat:"

// queueSurveyTx asks for a satisfaction survey when a conversation on a
// number with the survey on is closed (once while one is outstanding).
func queueSurveyTx(tx *Tx, convID, now int64) error {
	_, err := tx.Exec(`INSERT INTO csat_surveys(conversation_id, assignee_id, closed_at)
		SELECT c.id, c.assignee_id, ? FROM conversations c
		WHERE c.id = ? AND c.bot_active = 0
		AND EXISTS (SELECT 1 FROM automation_settings a WHERE a.business_number_id = c.business_number_id AND a.kind = 'csat'
			AND json_extract(a.spec, '$.enabled'))
		AND NOT EXISTS (SELECT 1 FROM csat_surveys s WHERE s.conversation_id = c.id AND s.state IN ('pending', 'sent'))`, now, convID)
	if err != nil {
		return fmt.Errorf("store: survey: %w", err)
	}
	return nil
}

// surveyAnswer reads "csat:<survey>:<score>" from a button, list or
// template quick-reply answer.
func surveyAnswer(m *InboundMessage) (survey, score int64, ok bool) {
	if m.Type != "interactive" && m.Type != "button" {
		return 0, 0, false
	}
	var p struct {
		ButtonReply struct{ ID string } `json:"button_reply"`
		ListReply   struct{ ID string } `json:"list_reply"`
		Payload     string              `json:"payload"`
	}
	if json.Unmarshal(m.Payload, &p) != nil {
		return 0, 0, false
	}
	id := p.ButtonReply.ID + p.ListReply.ID + p.Payload
	rest, found := strings.CutPrefix(id, SurveyPrefix)
	if !found {
		return 0, 0, false
	}
	a, b, found := strings.Cut(rest, ":")
	survey, err1 := strconv.ParseInt(a, 10, 64)
	score, err2 := strconv.ParseInt(b, 10, 64)
	return survey, score, found && err1 == nil && err2 == nil
}

// recordSurveyAnswer stores a survey's answer in the ingest transaction
// and reports whether the message was nothing but that answer (which then
// does not reopen the conversation). Other messages cost nothing here.
func recordSurveyAnswer(tx *Tx, convID int64, m *InboundMessage, now int64) (bool, error) {
	survey, score, ok := surveyAnswer(m)
	if !ok {
		return false, nil
	}
	res, err := tx.Exec(`UPDATE csat_surveys SET state = 'answered', score = ?, answered_at = ?
		WHERE id = ? AND conversation_id = ? AND state IN ('sent', 'answered') AND ? BETWEEN 1 AND max_score`, score, now, survey, convID, score)
	if err != nil {
		return false, fmt.Errorf("store: survey answer: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// recordSurveyComment keeps a text that follows a survey's answer within
// an hour as its comment (once per conversation and delivery, one index
// probe); being text, it reopens the conversation as usual.
func recordSurveyComment(tx *Tx, convID int64, text string, now int64) error {
	if _, err := tx.Exec(`UPDATE csat_surveys SET comment = ? WHERE conversation_id = ? AND state = 'answered' AND comment IS NULL
		AND answered_at >= ?`, text, convID, now-3600); err != nil {
		return fmt.Errorf("store: survey comment: %w", err)
	}
	return nil
}

// Survey is a satisfaction survey waiting to be sent.
type Survey struct {
	ID             int64
	ConversationID int64
	PhoneNumberID  string
	WaID, UserID   string
	Name           string
	LastInboundAt  int64
	Status         string // the conversation's status now
}

// PendingSurveys lists surveys to send, oldest first.
func (s *Store) PendingSurveys(ctx context.Context, limit int) ([]Survey, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT s.id, s.conversation_id, b.phone_number_id, coalesce(k.wa_id, ''), coalesce(k.user_id, ''), k.name,
			coalesce(c.last_inbound_at, 0), c.status
		FROM csat_surveys s JOIN conversations c ON c.id = s.conversation_id
		JOIN business_numbers b ON b.id = c.business_number_id JOIN contacts k ON k.id = c.contact_id
		WHERE s.state = 'pending' ORDER BY s.id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: surveys: %w", err)
	}
	defer rows.Close()
	var out []Survey
	for rows.Next() {
		var v Survey
		if err := rows.Scan(&v.ID, &v.ConversationID, &v.PhoneNumberID, &v.WaID, &v.UserID, &v.Name, &v.LastInboundAt, &v.Status); err != nil {
			return nil, fmt.Errorf("store: surveys: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// FinishSurvey marks a survey sent (with its message and scale) or, with
// messageID 0, skipped.
func (s *Store) FinishSurvey(ctx context.Context, id, messageID int64, maxScore int) error {
	err := s.Write(ctx, func(tx *Tx) error {
		if messageID == 0 {
			_, err := tx.Exec("UPDATE csat_surveys SET state = 'skipped' WHERE id = ? AND state = 'pending'", id)
			return err
		}
		_, err := tx.Exec("UPDATE csat_surveys SET state = 'sent', message_id = ?, max_score = ? WHERE id = ? AND state = 'pending'", messageID, maxScore, id)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: survey: %w", err)
	}
	return nil
}

// SurveyResult is the satisfaction of one agent or number.
type SurveyResult struct {
	Key      string // the agent's name or the number's phone number id
	Answered int
	Percent  float64 // mean of score/max_score, 0–100
}

// SurveyResults are the answered surveys since a time, per agent and per
// number.
func (s *Store) SurveyResults(ctx context.Context, since time.Time) (perAgent, perNumber []SurveyResult, err error) {
	q := func(key string) ([]SurveyResult, error) {
		rows, err := s.rdb.QueryContext(ctx, `SELECT `+key+`, count(*), avg(100.0 * s.score / s.max_score)
			FROM csat_surveys s JOIN conversations c ON c.id = s.conversation_id
			JOIN business_numbers b ON b.id = c.business_number_id LEFT JOIN users u ON u.id = s.assignee_id
			WHERE s.state = 'answered' AND s.answered_at >= ? GROUP BY 1 ORDER BY 1`, since.Unix())
		if err != nil {
			return nil, fmt.Errorf("store: survey results: %w", err)
		}
		defer rows.Close()
		var out []SurveyResult
		for rows.Next() {
			var r SurveyResult
			if err := rows.Scan(&r.Key, &r.Answered, &r.Percent); err != nil {
				return nil, fmt.Errorf("store: survey results: %w", err)
			}
			out = append(out, r)
		}
		return out, rows.Err()
	}
	if perAgent, err = q(`coalesce(nullif(u.name, ''), u.email, '')`); err != nil {
		return nil, nil, err
	}
	perNumber, err = q(`b.phone_number_id`)
	return perAgent, perNumber, err
}

// Survey returns a survey's state, score and comment (for tests and the API).
func (s *Store) SurveyOf(ctx context.Context, convID int64) (state string, score int, comment string, err error) {
	var sc sql.NullInt64
	var cm sql.NullString
	err = s.rdb.QueryRowContext(ctx, `SELECT state, score, comment FROM csat_surveys WHERE conversation_id = ? ORDER BY id DESC LIMIT 1`, convID).Scan(&state, &sc, &cm)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0, "", ErrNotFound
	}
	return state, int(sc.Int64), cm.String, err
}

// SurveyRecord is one satisfaction survey of a customer, for the export.
type SurveyRecord struct {
	PhoneNumberID string
	State         string
	Score, Max    int
	Comment       string
	ClosedAt      int64
	AnsweredAt    int64
}

// SurveysOfContact lists a customer's satisfaction surveys (Art. 15).
func (s *Store) SurveysOfContact(ctx context.Context, contactID int64) ([]SurveyRecord, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT b.phone_number_id, s.state, coalesce(s.score, 0), coalesce(s.max_score, 0), coalesce(s.comment, ''),
			s.closed_at, coalesce(s.answered_at, 0)
		FROM csat_surveys s JOIN conversations c ON c.id = s.conversation_id JOIN business_numbers b ON b.id = c.business_number_id
		WHERE c.contact_id = ? ORDER BY s.id`, contactID)
	if err != nil {
		return nil, fmt.Errorf("store: surveys: %w", err)
	}
	defer rows.Close()
	var out []SurveyRecord
	for rows.Next() {
		var r SurveyRecord
		if err := rows.Scan(&r.PhoneNumberID, &r.State, &r.Score, &r.Max, &r.Comment, &r.ClosedAt, &r.AnsweredAt); err != nil {
			return nil, fmt.Errorf("store: surveys: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
