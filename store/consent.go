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

// Consent purposes.
const (
	PurposeService   = "service"
	PurposeMarketing = "marketing"
)

// ErrNoConsent is returned when a customer has not opted in to marketing
// (or has opted out since); marketing templates must not be sent then.
var ErrNoConsent = errors.New("store: the customer has not consented to marketing messages")

// ConsentRecord is one opt-in or opt-out, with where it came from.
type ConsentRecord struct {
	ID         int64
	ContactID  int64
	Purpose    string // service or marketing
	Action     ConsentAction
	Source     string // e.g. customer_stop, web_form, agent, api
	Evidence   string // what proves it: a message id, a form submission id, a note
	Actor      Actor
	TS         int64
	ReplyState ReplyState // ReplyPending while the confirmation of a stop word waits to be sent
}

// RecordConsent stores a consent decision and audits it.
func (s *Store) RecordConsent(ctx context.Context, r ConsentRecord) (*ConsentRecord, error) {
	if r.Purpose != PurposeService && r.Purpose != PurposeMarketing {
		return nil, fmt.Errorf("%w: purpose must be service or marketing", ErrInvalid)
	}
	if !r.Action.Valid() {
		return nil, fmt.Errorf("%w: action must be opt_in or opt_out", ErrInvalid)
	}
	r.Source = strings.TrimSpace(r.Source)
	if r.Source == "" || len(r.Source) > 64 {
		return nil, fmt.Errorf("%w: a consent record needs a source (e.g. web_form, agent)", ErrInvalid)
	}
	if len(r.Evidence) > 4096 {
		return nil, fmt.Errorf("%w: evidence is limited to 4096 bytes", ErrInvalid)
	}
	if r.TS == 0 {
		r.TS = time.Now().Unix()
	}
	err := s.Write(ctx, func(tx *Tx) error {
		var one int
		if err := tx.QueryRow("SELECT 1 FROM contacts WHERE id = ?", r.ContactID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		return insertConsent(tx, &r)
	})
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func insertConsent(tx *Tx, r *ConsentRecord) error {
	if err := tx.QueryRow(`INSERT INTO consent_records(contact_id, purpose, action, source, evidence, actor, ts, reply_state)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, r.ContactID, r.Purpose, r.Action, r.Source, r.Evidence, r.Actor, r.TS,
		nullString(string(r.ReplyState))).Scan(&r.ID); err != nil {
		return fmt.Errorf("store: consent: %w", err)
	}
	return AuditTx(tx, AuditEntry{TS: r.TS, Actor: r.Actor, Action: consentAction(r.Action), Target: fmt.Sprintf("contact:%d", r.ContactID),
		Detail: jsonDetail(map[string]any{"purpose": r.Purpose, "source": r.Source, "record": r.ID})})
}

// ConsentRecords lists a contact's consent history, oldest first.
func (s *Store) ConsentRecords(ctx context.Context, contactID int64) ([]ConsentRecord, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, contact_id, purpose, action, source, evidence, actor, ts, coalesce(reply_state, '')
		FROM consent_records WHERE contact_id = ? ORDER BY ts, id`, contactID)
	if err != nil {
		return nil, fmt.Errorf("store: consent: %w", err)
	}
	defer rows.Close()
	var out []ConsentRecord
	for rows.Next() {
		var r ConsentRecord
		if err := rows.Scan(&r.ID, &r.ContactID, &r.Purpose, &r.Action, &r.Source, &r.Evidence, &r.Actor, &r.TS, &r.ReplyState); err != nil {
			return nil, fmt.Errorf("store: consent: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CheckMarketingConsent returns nil only if the customer's newest marketing
// record is an opt-in. The composer and the send API call it before a
// marketing template goes out.
func (s *Store) CheckMarketingConsent(ctx context.Context, contactID int64) error {
	var action ConsentAction
	err := s.rdb.QueryRowContext(ctx, `SELECT action FROM consent_records WHERE contact_id = ? AND purpose = 'marketing'
		ORDER BY ts DESC, id DESC LIMIT 1`, contactID).Scan(&action)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && action != OptIn) {
		return ErrNoConsent
	}
	if err != nil {
		return fmt.Errorf("store: consent: %w", err)
	}
	return nil
}

const stopWordsSetting = "consent.stop_words"

// Limits that keep the stored list sane. Which words make sense is the
// stop-word rule's business (outbox.NormalizeStopWords); these only
// protect the settings row and its comma-separated form.
const (
	maxStoredStopWords   = 200
	maxStoredStopWordLen = 256
)

// ErrNoStopWordRule is returned by Ingest for a text message when the
// store was opened without Options.IsStopWord.
var ErrNoStopWordRule = errors.New("store: no stop-word rule configured (Options.IsStopWord); refusing to ingest text messages unchecked")

// StopWords returns the configured stop words, or nil when none are
// configured (the rule then uses its defaults).
func (s *Store) StopWords(ctx context.Context) ([]string, error) {
	var v string
	err := s.rdb.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = ?", stopWordsSetting).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: stop words: %w", err)
	}
	return parseStopWords(v), nil
}

// SetStopWords replaces the stop word list. The caller normalises the
// words (outbox.NormalizeStopWords); they are stored as given.
func (s *Store) SetStopWords(ctx context.Context, words []string, actor Actor, now time.Time) error {
	if len(words) == 0 {
		return fmt.Errorf("%w: at least one stop word is needed, or customers could not opt out", ErrInvalid)
	}
	if len(words) > maxStoredStopWords {
		return fmt.Errorf("%w: at most %d stop words", ErrInvalid, maxStoredStopWords)
	}
	for _, w := range words {
		if strings.TrimSpace(w) == "" || len(w) > maxStoredStopWordLen || !utf8.ValidString(w) || strings.Contains(w, ",") {
			return fmt.Errorf("%w: stop word %q: empty, longer than %d bytes, not UTF-8 or containing a comma", ErrInvalid,
				firstBytes(w, 40), maxStoredStopWordLen)
		}
	}
	defer s.stopWordCache.Store(nil)
	return s.Write(ctx, func(tx *Tx) error {
		s.stopWordCache.Store(nil)
		if _, err := tx.Exec(`INSERT INTO settings(key, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
			stopWordsSetting, strings.Join(words, ","), now.Unix()); err != nil {
			return fmt.Errorf("store: stop words: %w", err)
		}
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: actor, Action: AuditSettingsStopWords, Target: "settings",
			Detail: jsonDetail(map[string]any{"count": len(words)})})
	})
}

func firstBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// parseStopWords splits the stored list; nil when it holds no word, so
// that a damaged setting falls back to the defaults instead of matching
// nothing.
func parseStopWords(v string) []string {
	var out []string
	for _, w := range strings.Split(v, ",") {
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}

// stopWords reads the configured stop words (nil when unset) once and
// keeps them until SetStopWords changes them: ingest checks every text
// against them.
func (tx *Tx) stopWords() ([]string, error) {
	if w := tx.s.stopWordCache.Load(); w != nil {
		return *w, nil
	}
	var v string
	var words []string
	err := tx.QueryRow("SELECT value FROM settings WHERE key = ?", stopWordsSetting).Scan(&v)
	if err == nil {
		words = parseStopWords(v)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: stop words: %w", err)
	}
	tx.s.stopWordCache.Store(&words)
	return words, nil
}

// applyStopWord runs inside ingest: a customer who writes a stop word is
// opted out of marketing, and answered once (reply_state pending) unless
// they were opted out already. Without a rule it fails the ingest rather
// than store the message unchecked: a silently ignored STOP would keep
// sending advertising to a customer who opted out (§ 7 UWG), while a
// failed webhook is visible and Meta delivers it again.
func applyStopWord(tx *Tx, contactID int64, wamid, text string, ts int64) error {
	match := tx.s.opts.IsStopWord
	if match == nil {
		return ErrNoStopWordRule
	}
	words, err := tx.stopWords()
	if err != nil {
		return err
	}
	if !match(text, words) {
		return nil
	}
	var last ConsentAction
	err = tx.QueryRow(`SELECT action FROM consent_records WHERE contact_id = ? AND purpose = 'marketing' ORDER BY ts DESC, id DESC LIMIT 1`,
		contactID).Scan(&last)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: consent: %w", err)
	}
	r := ConsentRecord{ContactID: contactID, Purpose: PurposeMarketing, Action: OptOut, Source: "customer_stop",
		Evidence: "message:" + wamid, Actor: ActorCustomer, TS: ts}
	if last != OptOut {
		r.ReplyState = ReplyPending
	}
	return insertConsent(tx, &r)
}

// PendingStopReplies returns opt-outs whose confirmation has not been sent.
func (s *Store) PendingStopReplies(ctx context.Context) ([]ConsentRecord, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, contact_id, purpose, action, source, evidence, actor, ts, reply_state
		FROM consent_records WHERE reply_state = 'pending' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: consent replies: %w", err)
	}
	defer rows.Close()
	var out []ConsentRecord
	for rows.Next() {
		var r ConsentRecord
		if err := rows.Scan(&r.ID, &r.ContactID, &r.Purpose, &r.Action, &r.Source, &r.Evidence, &r.Actor, &r.TS, &r.ReplyState); err != nil {
			return nil, fmt.Errorf("store: consent replies: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// MarkStopReplied records that the confirmation for an opt-out was sent
// (or queued), so that it is never sent twice.
func (s *Store) MarkStopReplied(ctx context.Context, id int64) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("UPDATE consent_records SET reply_state = 'sent' WHERE id = ? AND reply_state = 'pending'", id)
		return err
	})
}

// NoConsentError refuses a marketing template to a customer whose newest
// marketing consent record is not an opt-in. Unknown says the template's
// category is not known to Pforte, which treats it as marketing.
type NoConsentError struct {
	Template string
	Unknown  bool
}

func (e *NoConsentError) Error() string {
	if e.Unknown {
		return fmt.Sprintf("store: the category of template %q is not known, so it is treated as marketing, and the customer has not opted in to marketing messages", e.Template)
	}
	return fmt.Sprintf("store: %q is a marketing template and the customer has not opted in to marketing messages", e.Template)
}

// Is lets errors.Is(err, ErrNoConsent) match.
func (e *NoConsentError) Is(target error) bool { return target == ErrNoConsent }

// checkMarketingTx runs inside the send transaction: a template goes to a
// customer without a marketing opt-in only when Pforte knows its category
// and that is not MARKETING. A template of unknown category (never
// reported, or a payload without a name) counts as marketing: failing open
// here would send advertising without consent (§ 7 UWG).
func checkMarketingTx(tx *Tx, contactID, numberID int64, typ string, payload []byte) error {
	if typ != "template" {
		return nil
	}
	var t struct {
		Name     string `json:"name"`
		Language struct {
			Code string `json:"code"`
		} `json:"language"`
	}
	json.Unmarshal(payload, &t)
	cat := ""
	if t.Name != "" {
		var waba string
		if err := tx.QueryRow("SELECT waba_id FROM business_numbers WHERE id = ?", numberID).Scan(&waba); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: template category: %w", err)
		}
		var err error
		if cat, err = templateCategoryTx(tx, waba, t.Name, t.Language.Code); err != nil {
			return err
		}
	}
	if cat != "" && cat != CategoryMarketing {
		return nil
	}
	var action ConsentAction
	err := tx.QueryRow(`SELECT action FROM consent_records WHERE contact_id = ? AND purpose = 'marketing' ORDER BY ts DESC, id DESC LIMIT 1`,
		contactID).Scan(&action)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: consent: %w", err)
	}
	if action != OptIn {
		return &NoConsentError{Template: t.Name, Unknown: cat == ""}
	}
	return nil
}

// StopReplyTarget names where the confirmation of a stop word goes: the
// business number the customer wrote to and the customer.
func (s *Store) StopReplyTarget(ctx context.Context, recordID int64) (phoneNumberID, waID, userID string, err error) {
	var wa, uid sql.NullString
	err = s.rdb.QueryRowContext(ctx, `SELECT n.phone_number_id, c.wa_id, c.user_id FROM consent_records r
		JOIN contacts c ON c.id = r.contact_id
		JOIN messages m ON m.wamid = substr(r.evidence, 9) AND r.evidence LIKE 'message:%'
		JOIN conversations cv ON cv.id = m.conversation_id
		JOIN business_numbers n ON n.id = cv.business_number_id
		WHERE r.id = ?`, recordID).Scan(&phoneNumberID, &wa, &uid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", "", ErrNotFound
	}
	if err != nil {
		return "", "", "", fmt.Errorf("store: stop reply: %w", err)
	}
	return phoneNumberID, wa.String, uid.String, nil
}

// DefaultStopReply confirms an opt-out; admins change it in the settings.
const DefaultStopReply = "Sie erhalten von uns keine Werbung mehr über WhatsApp. Auf Ihre Fragen antworten wir weiterhin gern. " +
	"(You will no longer receive marketing messages from us on WhatsApp.)"

const stopReplySetting = "consent.stop_reply"

// StopReply returns the confirmation text.
func (s *Store) StopReply(ctx context.Context) (string, error) {
	var v string
	err := s.rdb.QueryRowContext(ctx, "SELECT value FROM settings WHERE key = ?", stopReplySetting).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && strings.TrimSpace(v) == "") {
		return DefaultStopReply, nil
	}
	if err != nil {
		return "", fmt.Errorf("store: stop reply: %w", err)
	}
	return v, nil
}

// SetStopReply changes the confirmation text; empty restores the default.
func (s *Store) SetStopReply(ctx context.Context, text string, actor Actor, now time.Time) error {
	text = strings.TrimSpace(text)
	if utf8.RuneCountInString(text) > 1000 {
		return fmt.Errorf("%w: the confirmation is limited to 1000 characters", ErrInvalid)
	}
	return s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`INSERT INTO settings(key, value, updated_at) VALUES (?, ?, ?)
			ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, stopReplySetting, text, now.Unix()); err != nil {
			return fmt.Errorf("store: stop reply: %w", err)
		}
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: actor, Action: AuditSettingsStopReply, Target: "settings"})
	})
}
