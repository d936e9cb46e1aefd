package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// AuditNumberSignals records a change of a number's read receipts or
// typing indicator switch.
const AuditNumberSignals AuditAction = "settings.number.signals"

func init() { AuditActions = append(AuditActions, AuditNumberSignals) }

// ChatSignals say what a business number shows customers: blue ticks when
// an agent opens the conversation, "typing…" while one writes. Both are on
// by default; some businesses do not want them.
type ChatSignals struct {
	ReadReceipts bool
	Typing       bool
}

// SetChatSignals switches a number's read receipts and typing indicator.
func (s *Store) SetChatSignals(ctx context.Context, pnid string, sig ChatSignals, audit ...AuditEntry) error {
	err := s.Write(ctx, func(tx *Tx) error {
		r, err := tx.Exec("UPDATE business_numbers SET read_receipts = ?, typing_indicator = ? WHERE phone_number_id = ?", sig.ReadReceipts, sig.Typing, pnid)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		for i := range audit {
			audit[i].Detail = fmt.Sprintf(`{"read_receipts":%t,"typing_indicator":%t}`, sig.ReadReceipts, sig.Typing)
		}
		return auditAll(tx, audit, "number:"+pnid)
	})
	if err != nil {
		return fmt.Errorf("store: chat signals: %w", err)
	}
	return nil
}

// AllChatSignals returns every number's switches, by phone number id.
func (s *Store) AllChatSignals(ctx context.Context) (map[string]ChatSignals, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT phone_number_id, read_receipts, typing_indicator FROM business_numbers")
	if err != nil {
		return nil, fmt.Errorf("store: chat signals: %w", err)
	}
	defer rows.Close()
	out := map[string]ChatSignals{}
	for rows.Next() {
		var id string
		var sig ChatSignals
		if err := rows.Scan(&id, &sig.ReadReceipts, &sig.Typing); err != nil {
			return nil, fmt.Errorf("store: chat signals: %w", err)
		}
		out[id] = sig
	}
	return out, rows.Err()
}

// ReadTarget is what marking a conversation read at Meta needs.
type ReadTarget struct {
	PhoneNumberID string
	Signals       ChatSignals
	Unread        int
	Group         bool
	// Restricted: the person's processing is restricted (Art. 18); nothing,
	// not even a read receipt, goes to Meta about them.
	Restricted bool
	// WAMIDs are the customer messages to mark: the newest one (Meta marks
	// the earlier ones with it), or in a group each unread one, which Meta
	// requires, newest first and at most 20.
	WAMIDs []string
}

// ReadTargetOf returns a conversation's read target. Only live customer
// messages count: imported history and group events are not Meta's to mark.
func (s *Store) ReadTargetOf(ctx context.Context, convID int64) (*ReadTarget, error) {
	var t ReadTarget
	err := s.rdb.QueryRowContext(ctx, `SELECT n.phone_number_id, n.read_receipts, n.typing_indicator, c.unread, k.group_id IS NOT NULL,
			EXISTS (SELECT 1 FROM erasure_requests r WHERE r.contact_id = k.id AND r.state = 'restricted')
		FROM conversations c JOIN business_numbers n ON n.id = c.business_number_id JOIN contacts k ON k.id = c.contact_id WHERE c.id = ?`, convID).
		Scan(&t.PhoneNumberID, &t.Signals.ReadReceipts, &t.Signals.Typing, &t.Unread, &t.Group, &t.Restricted)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read target: %w", err)
	}
	limit := 1
	if t.Group {
		limit = min(max(t.Unread, 1), 20)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT wamid FROM messages WHERE conversation_id = ? AND direction = 'inbound'
		AND origin IS NULL AND wamid IS NOT NULL ORDER BY ts DESC, id DESC LIMIT ?`, convID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: read target: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var w string
		if err := rows.Scan(&w); err != nil {
			return nil, fmt.Errorf("store: read target: %w", err)
		}
		t.WAMIDs = append(t.WAMIDs, w)
	}
	return &t, rows.Err()
}
