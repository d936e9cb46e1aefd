package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// schema441OptIn is migration 441: double opt-in. An entry point is what a
// customer writes (a keyword, or the text a wa.me link or QR code fills
// in); Pforte answers with the confirmation and a button, and only the
// tap on that button records consent. optin_requests ties the three
// messages together: they are the evidence. Its rows go with the contact
// (ON DELETE CASCADE); the consent record itself keeps the evidence.
const schema441OptIn = `
CREATE TABLE optin_entries (
	id              INTEGER PRIMARY KEY AUTOINCREMENT,
	name            TEXT NOT NULL UNIQUE,
	purpose         TEXT NOT NULL CHECK (purpose IN ('marketing')),
	keyword         TEXT NOT NULL UNIQUE,  -- compared without case and surrounding space
	confirmation    TEXT NOT NULL,         -- the exact wording the customer confirms
	button          TEXT NOT NULL,         -- the button's label (at most 20 characters, Meta's limit)
	phone_number_id TEXT NOT NULL DEFAULT '', -- '' any number
	created_at      INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL
);

CREATE TABLE optin_requests (
	id                INTEGER PRIMARY KEY AUTOINCREMENT,
	entry_id          INTEGER NOT NULL REFERENCES optin_entries(id) ON DELETE CASCADE,
	contact_id        INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
	phone_number_id   TEXT NOT NULL,
	keyword_wamid     TEXT NOT NULL UNIQUE,
	confirm_message_id INTEGER REFERENCES messages(id) ON DELETE SET NULL,
	wording           TEXT NOT NULL,       -- what the confirmation said, as sent
	state             TEXT NOT NULL CHECK (state IN ('pending', 'confirmed')),
	created_at        INTEGER NOT NULL,
	confirmed_at      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX optin_requests_contact ON optin_requests(contact_id);
CREATE INDEX optin_requests_message ON optin_requests(confirm_message_id);
`

// OptInEntry is one way customers opt in (a keyword, a link, a QR code).
type OptInEntry struct {
	ID            int64  `json:"id"`
	Name          string `json:"name"`
	Purpose       string `json:"purpose"`
	Keyword       string `json:"keyword"`
	Confirmation  string `json:"confirmation"`
	Button        string `json:"button"`
	PhoneNumberID string `json:"phone_number_id,omitempty"`
	CreatedAt     int64  `json:"created_at"`
}

// OptInButtonPrefix starts the id of the confirmation button; the rest is
// the request's id.
const OptInButtonPrefix = "pforte_optin:"

// UnsubscribePayload is the payload of the unsubscribe quick reply on
// campaign messages; the rest is the campaign id.
const UnsubscribePayload = "pforte_unsubscribe:"

// SaveOptInEntry creates (ID 0) or changes an entry point, audited.
func (s *Store) SaveOptInEntry(ctx context.Context, e OptInEntry, actor Actor, now time.Time) (*OptInEntry, error) {
	e.Name, e.Keyword = strings.TrimSpace(e.Name), strings.TrimSpace(e.Keyword)
	e.Confirmation, e.Button = strings.TrimSpace(e.Confirmation), strings.TrimSpace(e.Button)
	if e.Purpose == "" {
		e.Purpose = PurposeMarketing
	}
	switch {
	case e.Name == "" || utf8.RuneCountInString(e.Name) > 100:
		return nil, fmt.Errorf("%w: name: 1 to 100 characters", ErrInvalid)
	case e.Purpose != PurposeMarketing:
		return nil, fmt.Errorf("%w: purpose: must be marketing", ErrInvalid)
	case e.Keyword == "" || utf8.RuneCountInString(e.Keyword) > 200:
		return nil, fmt.Errorf("%w: keyword: 1 to 200 characters", ErrInvalid)
	case e.Confirmation == "" || utf8.RuneCountInString(e.Confirmation) > 1024:
		return nil, fmt.Errorf("%w: confirmation: 1 to 1024 characters (Meta's limit for the body of a button message)", ErrInvalid)
	case e.Button == "" || utf8.RuneCountInString(e.Button) > 20:
		return nil, fmt.Errorf("%w: button: 1 to 20 characters (Meta's limit for a reply button)", ErrInvalid)
	}
	e.CreatedAt = now.Unix()
	err := s.Write(ctx, func(tx *Tx) error {
		var one int
		err := tx.QueryRow("SELECT 1 FROM optin_entries WHERE lower(keyword) = lower(?) AND id <> ?", e.Keyword, e.ID).Scan(&one)
		if err == nil {
			return fmt.Errorf("%w: keyword: another entry point uses it already", ErrInvalid)
		}
		if e.ID == 0 {
			e.ID, _, err = tx.Insert(`INSERT INTO optin_entries(name, purpose, keyword, confirmation, button, phone_number_id, created_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, e.Name, e.Purpose, e.Keyword, e.Confirmation, e.Button, e.PhoneNumberID, e.CreatedAt, e.CreatedAt)
		} else {
			var res sql.Result
			res, err = tx.Exec(`UPDATE optin_entries SET name = ?, keyword = ?, confirmation = ?, button = ?, phone_number_id = ?, updated_at = ? WHERE id = ?`,
				e.Name, e.Keyword, e.Confirmation, e.Button, e.PhoneNumberID, e.CreatedAt, e.ID)
			if n, _ := res.RowsAffected(); err == nil && n == 0 {
				return ErrNotFound
			}
		}
		if err != nil {
			if strings.Contains(err.Error(), "UNIQUE") {
				return fmt.Errorf("%w: name: another entry point has this name", ErrInvalid)
			}
			return fmt.Errorf("store: opt-in entry: %w", err)
		}
		return AuditTx(tx, AuditEntry{TS: e.CreatedAt, Actor: actor, Action: AuditOptInEntry, Target: fmt.Sprintf("optin:%d", e.ID),
			Detail: jsonDetail(map[string]any{"name": e.Name, "keyword": e.Keyword})})
	})
	if err != nil {
		return nil, err
	}
	return &e, nil
}

// OptInEntries lists the entry points.
func (s *Store) OptInEntries(ctx context.Context) ([]OptInEntry, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, name, purpose, keyword, confirmation, button, phone_number_id, created_at FROM optin_entries ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("store: opt-in entries: %w", err)
	}
	defer rows.Close()
	var out []OptInEntry
	for rows.Next() {
		var e OptInEntry
		if err := rows.Scan(&e.ID, &e.Name, &e.Purpose, &e.Keyword, &e.Confirmation, &e.Button, &e.PhoneNumberID, &e.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ReceivedMessage is an inbound message as the opt-in worker reads it.
type ReceivedMessage struct {
	ID            int64
	WAMID         string
	ContactID     int64
	WaID, UserID  string
	PhoneNumberID string
	Type          string
	Text          string
	Payload       string
	ContextWAMID  string
	TS            int64
}

// InboundAfter lists inbound messages with an id above after, oldest first.
func (s *Store) InboundAfter(ctx context.Context, after int64, limit int) ([]ReceivedMessage, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT m.id, coalesce(m.wamid, ''), c.id, coalesce(c.wa_id, ''), coalesce(c.user_id, ''), n.phone_number_id,
		m.type, coalesce(m.text, ''), coalesce(m.payload, ''), coalesce(json_extract(m.context, '$.id'), ''), m.ts
		FROM messages m JOIN conversations cv ON cv.id = m.conversation_id JOIN contacts c ON c.id = cv.contact_id
		JOIN business_numbers n ON n.id = cv.business_number_id
		WHERE m.id > ? AND m.direction = 'inbound' ORDER BY m.id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: inbound: %w", err)
	}
	defer rows.Close()
	var out []ReceivedMessage
	for rows.Next() {
		var m ReceivedMessage
		if err := rows.Scan(&m.ID, &m.WAMID, &m.ContactID, &m.WaID, &m.UserID, &m.PhoneNumberID, &m.Type, &m.Text, &m.Payload, &m.ContextWAMID, &m.TS); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// LastInboundID is the newest inbound message id (where the opt-in worker
// starts on a fresh data directory).
func (s *Store) LastInboundID(ctx context.Context) (int64, error) {
	var id sql.NullInt64
	err := s.rdb.QueryRowContext(ctx, "SELECT max(id) FROM messages").Scan(&id)
	return id.Int64, err
}

const optInCursorSetting = "campaign.optin_cursor"

// OptInCursor returns how far the opt-in worker has read; ok false on a
// fresh data directory.
func (s *Store) OptInCursor(ctx context.Context) (int64, bool, error) {
	var v string
	err := s.rdb.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = ?", optInCursorSetting).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	var n int64
	fmt.Sscan(v, &n)
	return n, err == nil, err
}

// SetOptInCursor records how far the opt-in worker has read.
func (s *Store) SetOptInCursor(ctx context.Context, id int64) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO settings(key, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, optInCursorSetting, fmt.Sprint(id), time.Now().Unix())
		return err
	})
}

// OptInRequest is a keyword that asked for a confirmation.
type OptInRequest struct {
	ID      int64
	Entry   OptInEntry
	Created bool // false when this keyword message was handled before
	Pending bool // still waiting for its confirmation to be queued
}

// StartOptIn records that a customer's message asked to opt in through
// an entry point. It is idempotent per message: a webhook read twice
// asks only once.
func (s *Store) StartOptIn(ctx context.Context, e OptInEntry, m ReceivedMessage, now time.Time) (*OptInRequest, error) {
	r := &OptInRequest{Entry: e}
	err := s.Write(ctx, func(tx *Tx) error {
		id, ins, err := tx.Insert(`INSERT INTO optin_requests(entry_id, contact_id, phone_number_id, keyword_wamid, wording, state, created_at)
			VALUES (?, ?, ?, ?, ?, 'pending', ?) ON CONFLICT(keyword_wamid) DO NOTHING`, e.ID, m.ContactID, m.PhoneNumberID, m.WAMID, e.Confirmation, now.Unix())
		if err != nil {
			return fmt.Errorf("store: opt-in request: %w", err)
		}
		r.Created = ins
		if !ins {
			var msg sql.NullInt64
			if err := tx.QueryRow("SELECT id, confirm_message_id FROM optin_requests WHERE keyword_wamid = ?", m.WAMID).Scan(&id, &msg); err != nil {
				return err
			}
			r.Pending = !msg.Valid
		} else {
			r.Pending = true
		}
		r.ID = id
		return nil
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// SetOptInConfirmation links a request to the confirmation message queued for it.
func (s *Store) SetOptInConfirmation(ctx context.Context, requestID, messageID int64) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("UPDATE optin_requests SET confirm_message_id = ? WHERE id = ?", messageID, requestID)
		return err
	})
}

// OptInEvidence is what a consent record from a double opt-in proves.
type OptInEvidence struct {
	Method              string `json:"method"` // double_opt_in
	Entry               string `json:"entry_point"`
	Purpose             string `json:"purpose"`
	Wording             string `json:"wording"`
	Button              string `json:"button"`
	Channel             string `json:"channel"` // whatsapp:<phone_number_id>
	KeywordMessage      string `json:"keyword_message"`
	ConfirmationMessage string `json:"confirmation_message"`
	TapMessage          string `json:"tap_message"`
	RequestedAt         string `json:"requested_at"`
	ConfirmedAt         string `json:"confirmed_at"`
}

// ErrOptInMismatch refuses a tap that does not answer a confirmation this
// contact was sent.
var ErrOptInMismatch = errors.New("store: the button does not answer a confirmation sent to this customer")

// ConfirmOptIn records consent for a button tap on a confirmation: only
// when the tap answers (by Meta's context id) the confirmation message
// Pforte sent to the same contact for the request the button names. The
// consent record's evidence holds the purpose, the exact wording, the
// times, the channel and the three message ids. Idempotent: a second tap
// records nothing more (recorded false).
func (s *Store) ConfirmOptIn(ctx context.Context, requestID int64, tap ReceivedMessage) (rec *ConsentRecord, err error) {
	err = s.Write(ctx, func(tx *Tx) error {
		rec = nil
		var ev OptInEvidence
		var contactID, created int64
		var state, confirmWAMID string
		err := tx.QueryRow(`SELECT r.contact_id, r.state, r.wording, r.keyword_wamid, r.phone_number_id, r.created_at, coalesce(m.wamid, ''),
				e.name, e.purpose, e.button
			FROM optin_requests r JOIN optin_entries e ON e.id = r.entry_id LEFT JOIN messages m ON m.id = r.confirm_message_id
			WHERE r.id = ?`, requestID).Scan(&contactID, &state, &ev.Wording, &ev.KeywordMessage, &ev.Channel, &created, &confirmWAMID,
			&ev.Entry, &ev.Purpose, &ev.Button)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrOptInMismatch
		}
		if err != nil {
			return fmt.Errorf("store: opt-in: %w", err)
		}
		if contactID != tap.ContactID || confirmWAMID == "" || tap.ContextWAMID != confirmWAMID {
			return ErrOptInMismatch
		}
		if state == "confirmed" {
			return nil
		}
		ev.Method = "double_opt_in"
		ev.Channel = "whatsapp:" + ev.Channel
		ev.ConfirmationMessage, ev.TapMessage = confirmWAMID, tap.WAMID
		ev.RequestedAt = time.Unix(created, 0).UTC().Format(time.RFC3339)
		ev.ConfirmedAt = time.Unix(tap.TS, 0).UTC().Format(time.RFC3339)
		b, _ := json.Marshal(ev)
		r := ConsentRecord{ContactID: contactID, Purpose: ev.Purpose, Action: OptIn, Source: "double_opt_in", Evidence: string(b),
			Actor: ActorCustomer, TS: tap.TS}
		if err := insertConsent(tx, &r); err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE optin_requests SET state = 'confirmed', confirmed_at = ? WHERE id = ?", tap.TS, requestID); err != nil {
			return err
		}
		rec = &r
		return nil
	})
	return rec, err
}
