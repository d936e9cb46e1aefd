package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// HoldPreset is a German statutory retention period a hold can be set for.
type HoldPreset struct {
	Key   string
	Years int
	Label string // German, as shown to the admin
	Basis string
}

// HoldPresets are the periods of § 147 AO / § 257 HGB as of 2025 (BEG IV).
var HoldPresets = []HoldPreset{
	{"business_letter", 6, "Handels- und Geschäftsbriefe (6 Jahre)", "§ 147 Abs. 1 Nr. 2, 3 AO; § 257 Abs. 1 Nr. 2, 3 HGB"},
	{"voucher", 8, "Buchungsbelege, Rechnungen (8 Jahre)", "§ 147 Abs. 1 Nr. 4 AO; § 257 Abs. 1 Nr. 4 HGB"},
	{"books", 10, "Bücher, Jahresabschlüsse (10 Jahre)", "§ 147 Abs. 1 Nr. 1 AO; § 257 Abs. 1 Nr. 1 HGB"},
}

// HoldUntil is the end of a statutory period: it starts at the end of the
// calendar year of ref (§ 147 Abs. 4 AO), so it ends on 31 December.
func HoldUntil(preset string, ref time.Time, loc *time.Location) (time.Time, error) {
	if loc == nil {
		loc = time.UTC
	}
	for _, p := range HoldPresets {
		if p.Key == preset {
			y := ref.In(loc).Year() + p.Years
			return time.Date(y, 12, 31, 23, 59, 59, 0, loc), nil
		}
	}
	return time.Time{}, fmt.Errorf("store: unknown hold preset %q", preset)
}

// LegalHold keeps a contact or conversation out of retention and erasure.
type LegalHold struct {
	ID             int64
	ContactID      int64 // set for a hold on the whole contact
	ConversationID int64 // set for a hold on one conversation
	Preset         string
	Reason         string
	Until          int64 // unix seconds; 0 = until released
	CreatedBy      Actor
	CreatedAt      int64
	ReleasedBy     Actor
	ReleasedAt     int64
}

// Active reports whether the hold applies at now.
func (h *LegalHold) Active(now time.Time) bool {
	return h.ReleasedAt == 0 && (h.Until == 0 || h.Until > now.Unix())
}

// ErrInvalid marks bad input from a caller; nothing was changed.
var ErrInvalid = errors.New("store: invalid input")

// heldSQL is true for a conversation row "cv" under an active hold at ?1,
// so every query using it passes the time as its first parameter.
const heldSQL = `EXISTS (SELECT 1 FROM legal_holds h WHERE h.released_at IS NULL AND (h.until IS NULL OR h.until > ?1)
	AND (h.conversation_id = cv.id OR h.contact_id = cv.contact_id))`

// SetHold records a legal hold; who set it and why are kept with it and
// in the audit trail.
func (s *Store) SetHold(ctx context.Context, h LegalHold) (*LegalHold, error) {
	h.Reason = strings.TrimSpace(h.Reason)
	if h.Reason == "" {
		return nil, fmt.Errorf("%w: a legal hold needs a reason", ErrInvalid)
	}
	if (h.ContactID == 0) == (h.ConversationID == 0) {
		return nil, fmt.Errorf("%w: a legal hold is on a contact or on a conversation", ErrInvalid)
	}
	if h.CreatedBy == "" {
		return nil, fmt.Errorf("%w: a legal hold needs an author", ErrInvalid)
	}
	if h.CreatedAt == 0 {
		h.CreatedAt = time.Now().Unix()
	}
	if h.Until != 0 && h.Until <= h.CreatedAt {
		return nil, fmt.Errorf("%w: the hold would end in the past", ErrInvalid)
	}
	// Who the hold is about, for the decision journal: found again by
	// identifier after a restore.
	owner := h.ContactID
	if h.ConversationID != 0 {
		err := s.rdb.QueryRowContext(ctx, "SELECT contact_id FROM conversations WHERE id = ?", h.ConversationID).Scan(&owner)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, fmt.Errorf("store: legal hold: %w", err)
		}
	}
	subjects, err := s.contactSubjects(ctx, owner)
	if err != nil {
		return nil, err
	}
	err = s.Write(ctx, func(tx *Tx) error {
		target := fmt.Sprintf("contact:%d", h.ContactID)
		if h.ConversationID != 0 {
			target = fmt.Sprintf("conversation:%d", h.ConversationID)
		}
		var exists int
		if h.ContactID != 0 {
			err := tx.QueryRow("SELECT 1 FROM contacts WHERE id = ?", h.ContactID).Scan(&exists)
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
		} else {
			err := tx.QueryRow("SELECT 1 FROM conversations WHERE id = ?", h.ConversationID).Scan(&exists)
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
		}
		if err := tx.QueryRow(`INSERT INTO legal_holds(contact_id, conversation_id, preset, reason, until, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, nullID(h.ContactID), nullID(h.ConversationID), h.Preset, h.Reason,
			nullID(h.Until), h.CreatedBy, h.CreatedAt).Scan(&h.ID); err != nil {
			return fmt.Errorf("store: legal hold: %w", err)
		}
		return AuditTx(tx, AuditEntry{TS: h.CreatedAt, Actor: h.CreatedBy, Action: AuditLegalHoldSet, Target: target,
			Detail: jsonDetail(map[string]any{"hold": h.ID, "preset": h.Preset, "until": h.Until})})
	})
	if err != nil {
		return nil, err
	}
	if err := s.recordDecision(decision{Kind: DecisionHoldSet, At: h.CreatedAt, Actor: h.CreatedBy, Subjects: subjects,
		ConversationID: h.ConversationID, HoldID: h.ID, Preset: h.Preset, Until: h.Until, CreatedAt: h.CreatedAt}, h.Reason); err != nil {
		return nil, err
	}
	return &h, nil
}

// ReleaseHold ends a hold early. Data it kept is purged by the next
// retention run if its policy says so; a restricted erasure runs then too.
func (s *Store) ReleaseHold(ctx context.Context, id int64, actor Actor, now time.Time) error {
	err := s.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec("UPDATE legal_holds SET released_by = ?, released_at = ? WHERE id = ? AND released_at IS NULL", actor, now.Unix(), id)
		if err != nil {
			return fmt.Errorf("store: release hold: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: actor, Action: AuditLegalHoldRelease, Target: fmt.Sprintf("hold:%d", id)})
	})
	if err != nil {
		return err
	}
	return s.recordDecision(decision{Kind: DecisionHoldRelease, At: now.Unix(), Actor: actor, HoldID: id}, "")
}

// Holds lists holds, active ones first; with contactID > 0 only those on
// that contact or its conversations.
func (s *Store) Holds(ctx context.Context, contactID int64) ([]LegalHold, error) {
	q := `SELECT h.id, coalesce(h.contact_id, 0), coalesce(h.conversation_id, 0), h.preset, h.reason, coalesce(h.until, 0),
		h.created_by, h.created_at, coalesce(h.released_by, ''), coalesce(h.released_at, 0)
		FROM legal_holds h LEFT JOIN conversations cv ON cv.id = h.conversation_id
		WHERE ?1 = 0 OR h.contact_id = ?1 OR cv.contact_id = ?1
		ORDER BY h.released_at IS NOT NULL, h.id DESC`
	rows, err := s.rdb.QueryContext(ctx, q, contactID)
	if err != nil {
		return nil, fmt.Errorf("store: holds: %w", err)
	}
	defer rows.Close()
	var out []LegalHold
	for rows.Next() {
		var h LegalHold
		if err := rows.Scan(&h.ID, &h.ContactID, &h.ConversationID, &h.Preset, &h.Reason, &h.Until,
			&h.CreatedBy, &h.CreatedAt, &h.ReleasedBy, &h.ReleasedAt); err != nil {
			return nil, fmt.Errorf("store: holds: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// activeHolds returns the holds that keep a contact's data at now.
func (s *Store) activeHolds(ctx context.Context, contactID int64, now time.Time) ([]LegalHold, error) {
	all, err := s.Holds(ctx, contactID)
	if err != nil {
		return nil, err
	}
	var out []LegalHold
	for _, h := range all {
		if h.Active(now) {
			out = append(out, h)
		}
	}
	return out, nil
}

func nullID(v int64) sql.NullInt64 { return sql.NullInt64{Int64: v, Valid: v != 0} }

// jsonDetail renders an audit detail; callers pass ids and counts only.
func jsonDetail(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(b)
}

// Restricted reports whether processing of a contact is restricted (Art.
// 18): an erasure was requested while a legal hold keeps the data. The
// panel hides such a contact from agents and the composer refuses it.
func (s *Store) Restricted(ctx context.Context, contactID int64) (bool, error) {
	var one int
	err := s.rdb.QueryRowContext(ctx, "SELECT 1 FROM erasure_requests WHERE contact_id = ? AND state = 'restricted' LIMIT 1", contactID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: restricted: %w", err)
	}
	return true, nil
}
