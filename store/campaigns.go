package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// schema440Campaigns is migration 440: campaigns and their recipients.
// A recipient row keeps only ids and statuses (the per-recipient
// parameters stay until the message is queued, then live in the outbox
// body, which is emptied once Meta accepted it). Triggers copy a queued
// message's status, pricing and the customer's opt-out onto the row, so
// that counts need no join and survive an erasure, which only unlinks
// the person (contact_id, message_id, params become NULL).
const schema440Campaigns = `
CREATE TABLE campaigns (
	id                 INTEGER PRIMARY KEY AUTOINCREMENT,
	name               TEXT NOT NULL,
	phone_number_id    TEXT NOT NULL,
	purpose            TEXT NOT NULL CHECK (purpose IN ('marketing')),
	template_name      TEXT NOT NULL,
	template_language  TEXT NOT NULL,
	parameters         TEXT NOT NULL DEFAULT '[]', -- JSON array: literal text, {{name}} or {{1}}..{{n}} per recipient
	unsubscribe_button INTEGER NOT NULL DEFAULT -1, -- index of the template's quick-reply button that unsubscribes; -1 none
	audience           TEXT NOT NULL,               -- JSON of the AudienceFilter (labels, number, dates; no personal data but the numbers listed)
	status             TEXT NOT NULL CHECK (status IN ('scheduled', 'running', 'paused', 'cancelled', 'done')),
	pause_reason       TEXT NOT NULL DEFAULT '',
	start_at           INTEGER NOT NULL,            -- unix seconds
	started_at         INTEGER NOT NULL DEFAULT 0,
	finished_at        INTEGER NOT NULL DEFAULT 0,
	unknown            INTEGER NOT NULL DEFAULT 0,  -- listed numbers Pforte does not know (never wrote, or erased)
	created_by         TEXT NOT NULL,
	created_at         INTEGER NOT NULL,
	updated_at         INTEGER NOT NULL
);
CREATE INDEX campaigns_status ON campaigns(status);

CREATE TABLE campaign_recipients (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	campaign_id  INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
	contact_id   INTEGER REFERENCES contacts(id) ON DELETE SET NULL,
	message_id   INTEGER REFERENCES messages(id) ON DELETE SET NULL,
	status       TEXT NOT NULL,      -- pending, excluded, skipped, stopped, then the message's: queued, accepted, sent, delivered, read, failed, unknown
	reason       TEXT NOT NULL DEFAULT '', -- why excluded/skipped/stopped; Meta's error code when failed
	params       TEXT,               -- JSON per-recipient values until queued
	country      TEXT NOT NULL DEFAULT '', -- calling code, for the cost estimate
	billable     INTEGER NOT NULL DEFAULT 0,
	pricing_category TEXT NOT NULL DEFAULT '',
	opted_out    INTEGER NOT NULL DEFAULT 0,
	queued_at    INTEGER NOT NULL DEFAULT 0,
	UNIQUE (campaign_id, contact_id)
);
CREATE INDEX campaign_recipients_work ON campaign_recipients(campaign_id, status, id);
CREATE INDEX campaign_recipients_contact ON campaign_recipients(contact_id);
CREATE INDEX campaign_recipients_message ON campaign_recipients(message_id);
CREATE INDEX campaign_recipients_queued ON campaign_recipients(queued_at) WHERE queued_at > 0;

CREATE TRIGGER campaign_recipient_status AFTER UPDATE OF status ON messages
WHEN NEW.direction = 'outbound' AND NEW.status IS NOT NULL
BEGIN
	UPDATE campaign_recipients SET status = NEW.status,
		reason = CASE WHEN NEW.status = 'failed' THEN coalesce(json_extract(NEW.errors, '$[0].code'), reason) ELSE reason END
	WHERE message_id = NEW.id;
END;

CREATE TRIGGER campaign_recipient_pricing AFTER INSERT ON message_statuses
WHEN NEW.pricing IS NOT NULL
BEGIN
	UPDATE campaign_recipients SET billable = coalesce(json_extract(NEW.pricing, '$.billable'), 0) = 1,
		pricing_category = coalesce(json_extract(NEW.pricing, '$.category'), '')
	WHERE message_id = (SELECT id FROM messages WHERE wamid = NEW.wamid);
END;

CREATE TRIGGER campaign_recipient_opt_out AFTER INSERT ON consent_records
WHEN NEW.action = 'opt_out'
BEGIN
	UPDATE campaign_recipients SET opted_out = 1
	WHERE contact_id = NEW.contact_id AND campaign_id IN (SELECT id FROM campaigns WHERE started_at > 0 AND purpose = NEW.purpose);
END;
`

// CampaignStatus is where a campaign is.
type CampaignStatus string

// Campaign states.
const (
	CampaignScheduled CampaignStatus = "scheduled"
	CampaignRunning   CampaignStatus = "running"
	CampaignPaused    CampaignStatus = "paused"
	CampaignCancelled CampaignStatus = "cancelled"
	CampaignDone      CampaignStatus = "done"
)

// RecipientStatus is where one recipient of a campaign is; after queuing
// it follows the message's status (queued, accepted, sent, ...).
type RecipientStatus string

// Recipient states before a message exists.
const (
	RecipientPending  RecipientStatus = "pending"  // eligible, not queued yet
	RecipientExcluded RecipientStatus = "excluded" // no valid consent, withdrawn or restricted when the audience was built
	RecipientSkipped  RecipientStatus = "skipped"  // a parameter was missing; never sent half-filled
	RecipientStopped  RecipientStatus = "stopped"  // consent withdrawn or processing restricted before the send
	RecipientQueued   RecipientStatus = "queued"
)

// Reasons a recipient is excluded, skipped or stopped.
const (
	ReasonNoConsent         = "no_consent"
	ReasonWithdrawn         = "withdrawn"
	ReasonRestricted        = "restricted"
	ReasonMissingParameters = "missing_parameters"
	ReasonCancelled         = "cancelled"
)

// Errors of campaign commands.
var (
	ErrEmptyAudience      = errors.New("store: the audience contains no customer with valid consent")
	ErrCampaignNotRunning = errors.New("store: the campaign is not running")
	ErrCampaignState      = errors.New("store: the campaign cannot change to that state now")
)

// AudienceFilter selects a campaign's audience. Every given criterion
// must hold; contacts, labels, contact labels, custom fields or a
// business number must be given.
type AudienceFilter struct {
	Contacts      []string `json:"contacts,omitempty"`       // phone numbers (digits) or user ids
	Labels        []string `json:"labels,omitempty"`         // conversation labels, any of them
	ContactLabels []string `json:"contact_labels,omitempty"` // address book labels on the contact, any of them
	// Fields are custom fields by key that must all equal their value (in
	// any form NormalizeFieldValue accepts; "" means the field is empty).
	Fields            map[string]string `json:"fields,omitempty"`
	PhoneNumberID     string            `json:"phone_number_id,omitempty"` // customers who have a conversation with this number
	LastContactAfter  int64             `json:"last_contact_after,omitempty"`
	LastContactBefore int64             `json:"last_contact_before,omitempty"`
	Purpose           string            `json:"purpose,omitempty"` // consent purpose; marketing
}

// Campaign is one broadcast of a template to an audience.
type Campaign struct {
	ID                int64
	Name              string
	PhoneNumberID     string
	Purpose           string
	TemplateName      string
	TemplateLanguage  string
	Parameters        []string
	UnsubscribeButton int // -1: the template has no unsubscribe quick reply
	Audience          AudienceFilter
	Status            CampaignStatus
	PauseReason       string
	StartAt           int64
	StartedAt         int64
	FinishedAt        int64
	Unknown           int
	CreatedBy         Actor
	CreatedAt         int64
	UpdatedAt         int64
}

// CampaignCounts are a campaign's recipients by outcome.
type CampaignCounts struct {
	Eligible   int            `json:"eligible"` // recipients with valid consent when the audience was built
	Excluded   int            `json:"excluded"` // without valid consent, withdrawn, restricted, or unknown/erased numbers
	Skipped    int            `json:"skipped"`  // missing parameters
	Pending    int            `json:"pending"`
	Queued     int            `json:"queued"` // in the outbox, not yet accepted
	Sent       int            `json:"sent"`   // accepted by Meta or further
	Delivered  int            `json:"delivered"`
	Read       int            `json:"read"`
	Failed     int            `json:"failed"`
	Stopped    int            `json:"stopped"` // consent withdrawn before their turn
	OptedOut   int            `json:"opted_out"`
	Billable   int            `json:"billable"`
	ExcludedBy map[string]int `json:"excluded_by"`
}

const campaignColumns = `id, name, phone_number_id, purpose, template_name, template_language, parameters, unsubscribe_button,
	audience, status, pause_reason, start_at, started_at, finished_at, unknown, created_by, created_at, updated_at`

func scanCampaign(r scanner) (*Campaign, error) {
	var c Campaign
	var params, aud string
	if err := r.Scan(&c.ID, &c.Name, &c.PhoneNumberID, &c.Purpose, &c.TemplateName, &c.TemplateLanguage, &params, &c.UnsubscribeButton,
		&aud, &c.Status, &c.PauseReason, &c.StartAt, &c.StartedAt, &c.FinishedAt, &c.Unknown, &c.CreatedBy, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return nil, err
	}
	json.Unmarshal([]byte(params), &c.Parameters)
	json.Unmarshal([]byte(aud), &c.Audience)
	return &c, nil
}

// audienceQuery selects the contacts a filter names with their newest
// consent action for the purpose and whether processing is restricted.
// ?1 filter JSON; the numbers in contacts go through json_each.
const audienceQuery = `
WITH f AS (SELECT ?1 AS j),
listed AS (SELECT value AS k FROM json_each((SELECT json_extract(j, '$.contacts') FROM f))),
wanted AS (SELECT value AS name FROM json_each((SELECT json_extract(j, '$.labels') FROM f))),
clabels AS (SELECT value AS name FROM json_each((SELECT json_extract(j, '$.contact_labels') FROM f))),
fm AS (SELECT key AS k, value AS v FROM json_each((SELECT json_extract(j, '$.fields') FROM f))),
num AS (SELECT id FROM business_numbers WHERE phone_number_id = (SELECT json_extract(j, '$.phone_number_id') FROM f))
SELECT c.id, coalesce(c.wa_id, ''), coalesce(c.user_id, ''), c.name,
	coalesce((SELECT action FROM consent_records r WHERE r.contact_id = c.id AND r.purpose = coalesce((SELECT json_extract(j, '$.purpose') FROM f), 'marketing')
		ORDER BY r.ts DESC, r.id DESC LIMIT 1), '') AS consent,
	EXISTS (SELECT 1 FROM erasure_requests e WHERE e.contact_id = c.id AND e.state = 'restricted') AS restricted,
	` + contactFieldsJSON + `
FROM contacts c
WHERE c.group_id IS NULL -- a group's stand-in is not a person who can consent
  AND (NOT EXISTS (SELECT 1 FROM listed) OR c.wa_id IN (SELECT k FROM listed) OR c.user_id IN (SELECT k FROM listed))
  AND (NOT EXISTS (SELECT 1 FROM wanted) OR EXISTS (SELECT 1 FROM conversations cv JOIN conversation_labels cl ON cl.conversation_id = cv.id
		JOIN labels l ON l.id = cl.label_id WHERE cv.contact_id = c.id AND l.name IN (SELECT name FROM wanted)))
  AND (NOT EXISTS (SELECT 1 FROM clabels) OR EXISTS (SELECT 1 FROM contact_labels xl JOIN labels l ON l.id = xl.label_id
		WHERE xl.contact_id = c.id AND l.name IN (SELECT name FROM clabels)))
  AND NOT EXISTS (SELECT 1 FROM fm JOIN contact_fields d ON d.key = fm.k WHERE CASE WHEN fm.v = ''
		THEN EXISTS (SELECT 1 FROM contact_field_values v WHERE v.contact_id = c.id AND v.field_id = d.id)
		ELSE NOT EXISTS (SELECT 1 FROM contact_field_values v WHERE v.contact_id = c.id AND v.field_id = d.id AND v.value = fm.v) END)
  AND ((SELECT json_extract(j, '$.phone_number_id') FROM f) IS NULL OR EXISTS (SELECT 1 FROM conversations cv
		WHERE cv.contact_id = c.id AND cv.business_number_id IN (SELECT id FROM num)))
  AND (coalesce((SELECT json_extract(j, '$.last_contact_after') FROM f), 0) = 0 OR EXISTS (SELECT 1 FROM conversations cv
		WHERE cv.contact_id = c.id AND cv.last_inbound_at >= (SELECT json_extract(j, '$.last_contact_after') FROM f)))
  AND (coalesce((SELECT json_extract(j, '$.last_contact_before') FROM f), 0) = 0 OR NOT EXISTS (SELECT 1 FROM conversations cv
		WHERE cv.contact_id = c.id AND cv.last_inbound_at >= (SELECT json_extract(j, '$.last_contact_before') FROM f)))
ORDER BY c.id`

// contactFieldsJSON is a contact c's custom field values as a JSON object
// by key, written as a German reader expects them in a message: dates
// DD.MM.YYYY, decimal comma.
const contactFieldsJSON = `coalesce((SELECT json_group_object(d.key, CASE d.kind WHEN 'date' THEN strftime('%d.%m.%Y', v.value)
		WHEN 'number' THEN replace(v.value, '.', ',') ELSE v.value END)
	FROM contact_field_values v JOIN contact_fields d ON d.id = v.field_id WHERE v.contact_id = c.id), '{}')`

// AudienceMember is one contact a filter selected, with why it may or
// may not be written to.
type AudienceMember struct {
	ContactID int64
	WaID      string
	UserID    string
	Name      string
	Reason    string            // "" eligible, else ReasonNoConsent, ReasonWithdrawn or ReasonRestricted
	Fields    map[string]string // custom field values by key, as a message shows them
}

func (f AudienceFilter) valid() error {
	if len(f.Contacts) == 0 && len(f.Labels) == 0 && len(f.ContactLabels) == 0 && len(f.Fields) == 0 && f.PhoneNumberID == "" {
		return fmt.Errorf("%w: audience: name contacts, labels, contact labels, fields or a business number", ErrInvalid)
	}
	if len(f.Contacts) > 1_000_000 {
		return fmt.Errorf("%w: audience: at most 1 000 000 contacts", ErrInvalid)
	}
	return nil
}

func (f AudienceFilter) normalized() AudienceFilter {
	out := f
	out.Contacts = nil
	for _, k := range f.Contacts {
		if d := normalizePhone(k); d != "" {
			out.Contacts = append(out.Contacts, d)
		} else if k = strings.TrimSpace(k); k != "" {
			out.Contacts = append(out.Contacts, k)
		}
	}
	if out.Purpose == "" {
		out.Purpose = PurposeMarketing
	}
	return out
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func scanAudience(rows *sql.Rows, fn func(AudienceMember) error) error {
	defer rows.Close()
	for rows.Next() {
		var m AudienceMember
		var consent ConsentAction
		var restricted bool
		var fields string
		if err := rows.Scan(&m.ContactID, &m.WaID, &m.UserID, &m.Name, &consent, &restricted, &fields); err != nil {
			return fmt.Errorf("store: audience: %w", err)
		}
		if fields != "{}" {
			_ = json.Unmarshal([]byte(fields), &m.Fields)
		}
		switch {
		case restricted:
			m.Reason = ReasonRestricted
		case consent == OptOut:
			m.Reason = ReasonWithdrawn
		case consent != OptIn:
			m.Reason = ReasonNoConsent
		}
		if err := fn(m); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Audience calls fn for every contact the filter selects (for the live
// count and the preview); unknown counts listed numbers Pforte does not know.
func (s *Store) Audience(ctx context.Context, f AudienceFilter, fn func(AudienceMember) error) (unknown int, err error) {
	if err := f.valid(); err != nil {
		return 0, err
	}
	f = f.normalized()
	if f, err = s.resolveFields(ctx, f); err != nil {
		return 0, err
	}
	j, _ := json.Marshal(f)
	rows, err := s.rdb.QueryContext(ctx, audienceQuery, string(j))
	if err != nil {
		return 0, fmt.Errorf("store: audience: %w", err)
	}
	found := 0
	if err := scanAudience(rows, func(m AudienceMember) error { found++; return fn(m) }); err != nil {
		return 0, err
	}
	if len(f.Contacts) > 0 {
		unknown = max(distinct(f.Contacts)-found, 0)
	}
	return unknown, nil
}

// resolveFields checks a filter's custom fields against the definitions
// and writes their values in the stored (canonical) form, so that
// "01.02.2024" finds the date 2024-02-01. An unknown key or a value the
// field cannot hold is a FieldError naming audience.fields.<key>.
func (s *Store) resolveFields(ctx context.Context, f AudienceFilter) (AudienceFilter, error) {
	if len(f.Fields) == 0 {
		return f, nil
	}
	defs, err := s.ContactFields(ctx)
	if err != nil {
		return f, err
	}
	out := make(map[string]string, len(f.Fields))
	for k, v := range f.Fields {
		k = strings.TrimSpace(k)
		i := slices.IndexFunc(defs, func(d ContactField) bool { return d.Key == k })
		if i < 0 {
			return f, fieldErr("audience.fields."+k, ReasonUnknownField, "no custom field has this key")
		}
		nv, reason := NormalizeFieldValue(defs[i], v)
		if reason != "" {
			return f, fieldErr("audience.fields."+k, reason, "")
		}
		out[k] = nv
	}
	f.Fields = out
	return f, nil
}

func distinct(l []string) int {
	seen := make(map[string]struct{}, len(l))
	for _, k := range l {
		seen[k] = struct{}{}
	}
	return len(seen)
}

// NewCampaign is what CreateCampaign needs beyond the campaign itself.
type NewCampaign struct {
	Campaign
	// RecipientParams are per-recipient values for {{1}}..{{n}}, keyed by
	// phone digits or user id (from an uploaded CSV or the API).
	RecipientParams map[string][]string
	// Needs says which placeholders each recipient must fill: the highest
	// {{n}} used, and whether {{name}} is used.
	NeedsColumns int
	NeedsName    bool
	// NeedsFields are the custom field keys bound to a parameter
	// ({{field:key}}): a recipient without a value is skipped.
	NeedsFields []string
}

// CreateCampaign stores a campaign and its audience in one commit: every
// selected contact becomes a recipient row, eligible ones "pending",
// the others "excluded" with the reason, those missing a parameter
// "skipped". A campaign nobody eligible would receive is refused
// (ErrEmptyAudience) and nothing is stored.
func (s *Store) CreateCampaign(ctx context.Context, nc NewCampaign, now time.Time) (*Campaign, error) {
	c := nc.Campaign
	if err := c.Audience.valid(); err != nil {
		return nil, err
	}
	c.Audience = c.Audience.normalized()
	var err error
	if c.Audience, err = s.resolveFields(ctx, c.Audience); err != nil {
		return nil, err
	}
	c.Purpose = c.Audience.Purpose
	if c.Status == "" {
		c.Status = CampaignScheduled
	}
	c.CreatedAt, c.UpdatedAt = now.Unix(), now.Unix()
	params, _ := json.Marshal(c.Parameters)
	aud, _ := json.Marshal(c.Audience)
	err = s.Write(ctx, func(tx *Tx) error {
		id, _, err := tx.Insert(`INSERT INTO campaigns(name, phone_number_id, purpose, template_name, template_language, parameters, unsubscribe_button,
			audience, status, start_at, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			c.Name, c.PhoneNumberID, c.Purpose, c.TemplateName, c.TemplateLanguage, string(params), c.UnsubscribeButton, string(aud),
			c.Status, c.StartAt, c.CreatedBy, c.CreatedAt, c.UpdatedAt)
		if err != nil {
			return fmt.Errorf("store: campaign: %w", err)
		}
		c.ID = id
		rows, err := tx.Query(audienceQuery, string(aud))
		if err != nil {
			return fmt.Errorf("store: audience: %w", err)
		}
		var members []AudienceMember
		if err := scanAudience(rows, func(m AudienceMember) error { members = append(members, m); return nil }); err != nil {
			return err
		}
		eligible := 0
		for _, m := range members {
			status, reason := RecipientPending, m.Reason
			var vals []string
			if reason != "" {
				status = RecipientExcluded
			} else {
				key := m.WaID
				if key == "" {
					key = m.UserID
				}
				vals = nc.RecipientParams[key]
				if nc.RecipientParams != nil && vals == nil && m.UserID != "" {
					vals = nc.RecipientParams[m.UserID]
				}
				if missingParams(vals, nc.NeedsColumns) || (nc.NeedsName && strings.TrimSpace(m.Name) == "") || missingFields(m.Fields, nc.NeedsFields) {
					status, reason = RecipientSkipped, ReasonMissingParameters
				} else {
					eligible++
				}
			}
			var pj sql.NullString
			if status == RecipientPending && len(vals) > 0 {
				b, _ := json.Marshal(vals)
				pj = sql.NullString{String: string(b), Valid: true}
			}
			if _, err := tx.Exec(`INSERT INTO campaign_recipients(campaign_id, contact_id, status, reason, params, country)
				VALUES (?, ?, ?, ?, ?, ?)`, c.ID, m.ContactID, status, reason, pj, CallingCode(m.WaID)); err != nil {
				return fmt.Errorf("store: campaign recipient: %w", err)
			}
		}
		if eligible == 0 {
			return ErrEmptyAudience
		}
		if len(c.Audience.Contacts) > 0 {
			c.Unknown = max(distinct(c.Audience.Contacts)-len(members), 0)
			if _, err := tx.Exec("UPDATE campaigns SET unknown = ? WHERE id = ?", c.Unknown, c.ID); err != nil {
				return err
			}
		}
		return AuditTx(tx, AuditEntry{TS: c.CreatedAt, Actor: c.CreatedBy, Action: AuditCampaignCreate, Target: fmt.Sprintf("campaign:%d", c.ID),
			Detail: jsonDetail(map[string]any{"name": c.Name, "template": c.TemplateName, "eligible": eligible, "audience": len(members)})})
	})
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func missingParams(vals []string, n int) bool {
	if len(vals) < n {
		return true
	}
	for _, v := range vals[:n] {
		if strings.TrimSpace(v) == "" {
			return true
		}
	}
	return false
}

func missingFields(have map[string]string, keys []string) bool {
	for _, k := range keys {
		if strings.TrimSpace(have[k]) == "" {
			return true
		}
	}
	return false
}

// Campaign returns one campaign.
func (s *Store) Campaign(ctx context.Context, id int64) (*Campaign, error) {
	c, err := scanCampaign(s.rdb.QueryRowContext(ctx, "SELECT "+campaignColumns+" FROM campaigns WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: campaign: %w", err)
	}
	return c, nil
}

// Campaigns lists campaigns, newest first.
func (s *Store) Campaigns(ctx context.Context, limit int) ([]*Campaign, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+campaignColumns+" FROM campaigns ORDER BY id DESC LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("store: campaigns: %w", err)
	}
	defer rows.Close()
	var out []*Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, fmt.Errorf("store: campaigns: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CampaignCounts counts a campaign's recipients by outcome.
func (s *Store) CampaignCounts(ctx context.Context, id int64) (*CampaignCounts, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT status, reason, sum(opted_out), sum(billable), count(*) FROM campaign_recipients
		WHERE campaign_id = ? GROUP BY status, reason`, id)
	if err != nil {
		return nil, fmt.Errorf("store: campaign counts: %w", err)
	}
	defer rows.Close()
	c := &CampaignCounts{ExcludedBy: map[string]int{}}
	for rows.Next() {
		var st, reason string
		var opted, billable, n int
		if err := rows.Scan(&st, &reason, &opted, &billable, &n); err != nil {
			return nil, fmt.Errorf("store: campaign counts: %w", err)
		}
		c.OptedOut += opted
		c.Billable += billable
		switch RecipientStatus(st) {
		case RecipientExcluded:
			c.Excluded += n
			c.ExcludedBy[reason] += n
			continue
		case RecipientSkipped:
			c.Skipped += n
			continue
		case RecipientPending:
			c.Pending += n
		case RecipientStopped:
			c.Stopped += n
		case RecipientQueued, "sending":
			c.Queued += n
		case "accepted", "sent":
			c.Sent += n
		case "delivered":
			c.Sent += n
			c.Delivered += n
		case "read":
			c.Sent += n
			c.Delivered += n
			c.Read += n
		case "failed", "unknown":
			c.Failed += n
		}
		c.Eligible += n
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var unknown int
	if err := s.rdb.QueryRowContext(ctx, "SELECT unknown FROM campaigns WHERE id = ?", id).Scan(&unknown); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("store: campaign counts: %w", err)
	}
	if unknown > 0 {
		c.Excluded += unknown
		c.ExcludedBy["unknown"] = unknown
	}
	return c, nil
}

// SetCampaignStatus moves a campaign from one of the given states to
// another, audited; ErrCampaignState when it is in none of them.
func (s *Store) SetCampaignStatus(ctx context.Context, id int64, from []CampaignStatus, to CampaignStatus, reason string, actor Actor, action AuditAction, now time.Time) error {
	return s.Write(ctx, func(tx *Tx) error {
		var cur CampaignStatus
		if err := tx.QueryRow("SELECT status FROM campaigns WHERE id = ?", id).Scan(&cur); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return fmt.Errorf("store: campaign status: %w", err)
		}
		ok := false
		for _, f := range from {
			ok = ok || f == cur
		}
		if !ok {
			return fmt.Errorf("%w: it is %s", ErrCampaignState, cur)
		}
		fin := int64(0)
		if to == CampaignCancelled || to == CampaignDone {
			fin = now.Unix()
		}
		if _, err := tx.Exec(`UPDATE campaigns SET status = ?, pause_reason = ?, updated_at = ?, finished_at = max(finished_at, ?),
			started_at = CASE WHEN ? = 'running' AND started_at = 0 THEN ? ELSE started_at END WHERE id = ?`,
			to, reason, now.Unix(), fin, to, now.Unix(), id); err != nil {
			return fmt.Errorf("store: campaign status: %w", err)
		}
		if to == CampaignCancelled {
			if _, err := tx.Exec("UPDATE campaign_recipients SET status = 'stopped', reason = ?, params = NULL WHERE campaign_id = ? AND status = 'pending'",
				ReasonCancelled, id); err != nil {
				return fmt.Errorf("store: campaign cancel: %w", err)
			}
		}
		if action == "" {
			return nil
		}
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: actor, Action: action, Target: fmt.Sprintf("campaign:%d", id),
			Detail: jsonDetail(map[string]any{"from": cur, "to": to, "reason": reason})})
	})
}

// DueCampaigns returns campaigns that should send now: running ones and
// scheduled ones whose start has come (those are set running).
func (s *Store) DueCampaigns(ctx context.Context, now time.Time) ([]*Campaign, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT id FROM campaigns WHERE status = 'scheduled' AND start_at <= ?", now.Unix())
	if err != nil {
		return nil, fmt.Errorf("store: due campaigns: %w", err)
	}
	var start []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		start = append(start, id)
	}
	rows.Close()
	for _, id := range start {
		if err := s.SetCampaignStatus(ctx, id, []CampaignStatus{CampaignScheduled}, CampaignRunning, "", ActorSystem, AuditCampaignStart, now); err != nil &&
			!errors.Is(err, ErrCampaignState) {
			return nil, err
		}
	}
	rows, err = s.rdb.QueryContext(ctx, "SELECT "+campaignColumns+" FROM campaigns WHERE status = 'running' ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("store: due campaigns: %w", err)
	}
	defer rows.Close()
	var out []*Campaign
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, fmt.Errorf("store: due campaigns: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// CampaignTarget is a pending recipient with what its message needs.
type CampaignTarget struct {
	RecipientID int64
	ContactID   int64
	WaID        string
	UserID      string
	Name        string
	Params      []string
	Fields      map[string]string // custom field values by key, read when the message is built
}

// PendingRecipients returns up to limit recipients still to be queued.
func (s *Store) PendingRecipients(ctx context.Context, campaignID int64, limit int) ([]CampaignTarget, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT r.id, c.id, coalesce(c.wa_id, ''), coalesce(c.user_id, ''), c.name, coalesce(r.params, ''),
		`+contactFieldsJSON+`
		FROM campaign_recipients r JOIN contacts c ON c.id = r.contact_id
		WHERE r.campaign_id = ? AND r.status = 'pending' ORDER BY r.id LIMIT ?`, campaignID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: pending recipients: %w", err)
	}
	defer rows.Close()
	var out []CampaignTarget
	for rows.Next() {
		var t CampaignTarget
		var p, fields string
		if err := rows.Scan(&t.RecipientID, &t.ContactID, &t.WaID, &t.UserID, &t.Name, &p, &fields); err != nil {
			return nil, fmt.Errorf("store: pending recipients: %w", err)
		}
		if fields != "{}" {
			_ = json.Unmarshal([]byte(fields), &t.Fields)
		}
		if p != "" {
			json.Unmarshal([]byte(p), &t.Params)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// CampaignSend is one recipient's prepared message.
type CampaignSend struct {
	RecipientID int64
	Send        OutboundSend
}

// EnqueueCampaign queues a batch of a running campaign's messages in one
// commit, each through the outbox's own enqueue (window, consent and
// restriction checks) and together with its recipient row, so that a
// crash leaves each recipient either pending or queued, never both and
// never twice. A recipient the outbox refuses (consent withdrawn,
// processing restricted) is marked stopped. A campaign that is no longer
// running queues nothing (ErrCampaignNotRunning).
func (s *Store) EnqueueCampaign(ctx context.Context, campaignID int64, sends []CampaignSend, now time.Time) (queued, stopped int, err error) {
	err = s.Write(ctx, func(tx *Tx) error {
		queued, stopped = 0, 0
		var st CampaignStatus
		if err := tx.QueryRow("SELECT status FROM campaigns WHERE id = ?", campaignID).Scan(&st); err != nil {
			return fmt.Errorf("store: campaign: %w", err)
		}
		if st != CampaignRunning {
			return ErrCampaignNotRunning
		}
		for i := range sends {
			cs := &sends[i]
			var state RecipientStatus
			if err := tx.QueryRow("SELECT status FROM campaign_recipients WHERE id = ? AND campaign_id = ?", cs.RecipientID, campaignID).Scan(&state); err != nil {
				return fmt.Errorf("store: campaign recipient: %w", err)
			}
			if state != RecipientPending {
				continue
			}
			if err := tx.run("SAVEPOINT c"); err != nil {
				return err
			}
			cs.Send.Now = now
			out, err := enqueue(tx, &cs.Send)
			if err != nil {
				clear(tx.numbers)
				if rerr := tx.run("ROLLBACK TO c"); rerr != nil {
					return rerr
				}
				if rerr := tx.run("RELEASE c"); rerr != nil {
					return rerr
				}
				reason := ""
				switch {
				case errors.Is(err, ErrNoConsent):
					reason = ReasonWithdrawn
				case errors.Is(err, ErrRestricted):
					reason = ReasonRestricted
				default:
					return err
				}
				if _, err := tx.Exec("UPDATE campaign_recipients SET status = 'stopped', reason = ?, params = NULL WHERE id = ?", reason, cs.RecipientID); err != nil {
					return err
				}
				stopped++
				continue
			}
			if err := tx.run("RELEASE c"); err != nil {
				return err
			}
			if _, err := tx.Exec("UPDATE campaign_recipients SET status = 'queued', message_id = ?, params = NULL, queued_at = ? WHERE id = ?",
				out.MessageID, now.Unix(), cs.RecipientID); err != nil {
				return fmt.Errorf("store: campaign recipient: %w", err)
			}
			queued++
		}
		return nil
	})
	return queued, stopped, err
}

// SkipRecipient marks a pending recipient skipped (e.g. a parameter that
// turned out empty), so it is listed rather than sent half-filled.
func (s *Store) SkipRecipient(ctx context.Context, recipientID int64, reason string) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("UPDATE campaign_recipients SET status = 'skipped', reason = ?, params = NULL WHERE id = ? AND status = 'pending'", reason, recipientID)
		return err
	})
}

// CampaignInFlight counts a campaign's messages still in the outbox
// (queued or being sent): the engine keeps this small, so that a pause or
// an opt-out takes effect at once.
func (s *Store) CampaignInFlight(ctx context.Context, campaignID int64) (int, error) {
	var n int
	err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM campaign_recipients WHERE campaign_id = ? AND status IN ('queued', 'sending')`, campaignID).Scan(&n)
	return n, err
}

// CampaignSendsSince counts campaign messages queued from a number since t,
// for the messaging limit tier (business-initiated conversations per 24 h).
func (s *Store) CampaignSendsSince(ctx context.Context, phoneNumberID string, t time.Time) (int, error) {
	var n int
	err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM campaign_recipients r JOIN campaigns c ON c.id = r.campaign_id
		WHERE r.queued_at >= ? AND c.phone_number_id = ?`, t.Unix(), phoneNumberID).Scan(&n)
	return n, err
}

// CampaignResult is one recipient's outcome, as the results export shows it.
type CampaignResult struct {
	RecipientID     int64
	ContactID       int64  // 0 once erased
	Recipient       string // phone digits or user id; "" once erased
	Status          string
	Reason          string
	OptedOut        bool
	Billable        bool
	PricingCategory string
	Country         string
}

// CampaignResults calls fn for every recipient of a campaign, in order.
func (s *Store) CampaignResults(ctx context.Context, id int64, fn func(CampaignResult) error) error {
	rows, err := s.rdb.QueryContext(ctx, `SELECT r.id, coalesce(r.contact_id, 0), coalesce(c.wa_id, c.user_id, ''), r.status, r.reason,
		r.opted_out, r.billable, r.pricing_category, r.country
		FROM campaign_recipients r LEFT JOIN contacts c ON c.id = r.contact_id WHERE r.campaign_id = ? ORDER BY r.id`, id)
	if err != nil {
		return fmt.Errorf("store: campaign results: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r CampaignResult
		if err := rows.Scan(&r.RecipientID, &r.ContactID, &r.Recipient, &r.Status, &r.Reason, &r.OptedOut, &r.Billable, &r.PricingCategory, &r.Country); err != nil {
			return fmt.Errorf("store: campaign results: %w", err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ContactCampaigns lists the campaigns a contact was a recipient of, for
// the subject access export.
func (s *Store) ContactCampaigns(ctx context.Context, contactID int64) ([]CampaignResult, []string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT r.id, r.status, r.reason, r.opted_out, c.name FROM campaign_recipients r
		JOIN campaigns c ON c.id = r.campaign_id WHERE r.contact_id = ? ORDER BY r.id`, contactID)
	if err != nil {
		return nil, nil, fmt.Errorf("store: contact campaigns: %w", err)
	}
	defer rows.Close()
	var out []CampaignResult
	var names []string
	for rows.Next() {
		var r CampaignResult
		var name string
		if err := rows.Scan(&r.RecipientID, &r.Status, &r.Reason, &r.OptedOut, &name); err != nil {
			return nil, nil, err
		}
		r.ContactID = contactID
		out = append(out, r)
		names = append(names, name)
	}
	return out, names, rows.Err()
}

// CallingCode returns the country calling code of phone digits (1 to 3
// digits, by the ITU's assignment), "" for a user id or an unknown code.
func CallingCode(waID string) string {
	if waID == "" {
		return ""
	}
	for n := 1; n <= 3 && n <= len(waID); n++ {
		if callingCodes[waID[:n]] {
			return waID[:n]
		}
	}
	return ""
}

// callingCodes are the assigned codes the cost table can name; a number
// of another country gets the table's default rate.
var callingCodes = map[string]bool{
	"1": true, "7": true, "20": true, "27": true, "30": true, "31": true, "32": true, "33": true, "34": true, "36": true, "39": true,
	"40": true, "41": true, "43": true, "44": true, "45": true, "46": true, "47": true, "48": true, "49": true, "51": true, "52": true,
	"54": true, "55": true, "56": true, "57": true, "60": true, "61": true, "62": true, "63": true, "64": true, "65": true, "66": true,
	"81": true, "82": true, "84": true, "86": true, "90": true, "91": true, "92": true, "234": true, "351": true, "352": true,
	"353": true, "354": true, "356": true, "357": true, "358": true, "359": true, "370": true, "371": true, "372": true, "385": true,
	"386": true, "420": true, "421": true, "423": true, "966": true, "971": true, "972": true,
}

// LatestQuality returns the newest phone_number_quality_update event for a
// business number (matched by its display number): the event name and, if
// Meta sent one, the quality rating. Empty when none arrived.
func (s *Store) LatestQuality(ctx context.Context, phoneNumberID string) (event, rating, limit string, err error) {
	var value string
	err = s.rdb.QueryRowContext(ctx, `SELECT e.value FROM events e WHERE e.field = 'phone_number_quality_update'
		AND (e.phone_number_id = ?1 OR json_extract(e.value, '$.display_phone_number') IN
			(SELECT display_phone_number FROM business_numbers WHERE phone_number_id = ?1 AND display_phone_number <> ''))
		ORDER BY e.ts DESC, e.id DESC LIMIT 1`, phoneNumberID).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", "", nil
	}
	if err != nil {
		return "", "", "", fmt.Errorf("store: quality: %w", err)
	}
	var v struct {
		Event   string `json:"event"`
		Rating  string `json:"quality_rating"`
		Current string `json:"current_limit"`
	}
	json.Unmarshal([]byte(value), &v)
	return v.Event, v.Rating, v.Current, nil
}

// TemplateState returns the newest status and category Pforte knows of a
// template (any account), or ErrNotFound.
func (s *Store) TemplateState(ctx context.Context, name, lang string) (*Template, error) {
	all, err := s.Templates(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range all {
		if t.Name == name && sameLanguage(t.Language, lang) {
			return t, nil
		}
	}
	return nil, ErrNotFound
}
