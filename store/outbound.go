package store

import (
	"context"
	"fmt"
	"time"
)

// SentMessage is an outbound message Meta has accepted (it has a wamid).
type SentMessage struct {
	Number  Number
	To      Party
	WAMID   string
	Type    string
	Text    string
	Payload []byte // the type's object as sent
	Context []byte
	TS      int64
}

// RecordSent stores an outbound message that Meta accepted. Receipts that
// arrived before it (Meta's webhook can beat the send response) are applied
// at once. Recording the same wamid twice keeps the first.
func (s *Store) RecordSent(ctx context.Context, m SentMessage) (id int64, err error) {
	err = s.Write(ctx, func(tx *Tx) error {
		id, err = RecordSentTx(tx, m)
		return err
	})
	return id, err
}

// RecordSentTx is RecordSent inside a caller's write.
func RecordSentTx(tx *Tx, m SentMessage) (int64, error) {
	now := time.Now().Unix()
	if m.TS == 0 {
		m.TS = now
	}
	var id int64
	if err := tx.QueryRow("SELECT id FROM messages WHERE wamid = ?", m.WAMID).Scan(&id); err == nil {
		return id, nil
	}
	numberID, err := upsertNumber(tx, m.Number, now)
	if err != nil {
		return 0, err
	}
	contactID, err := upsertContact(tx, m.To, now)
	if err != nil {
		return 0, err
	}
	var convID int64
	if err := tx.QueryRow(`INSERT INTO conversations(business_number_id, contact_id, last_message_at, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(business_number_id, contact_id) DO UPDATE SET
			last_message_at = max(last_message_at, excluded.last_message_at), updated_at = excluded.updated_at
		RETURNING id`, numberID, contactID, m.TS, now, now).Scan(&convID); err != nil {
		return 0, fmt.Errorf("store: conversation: %w", err)
	}
	if id, _, err = tx.Insert(`INSERT INTO messages(wamid, conversation_id, direction, type, text, payload, context, status, status_at, ts, created_at)
		VALUES (?, ?, 'outbound', ?, ?, ?, ?, 'accepted', ?, ?, ?)`,
		m.WAMID, convID, m.Type, nullString(m.Text), nullJSON(m.Payload), nullJSON(m.Context), m.TS, m.TS, now); err != nil {
		return 0, fmt.Errorf("store: outbound message: %w", err)
	}
	if err := refreshStatus(tx, m.WAMID); err != nil {
		return 0, err
	}
	return id, nil
}
