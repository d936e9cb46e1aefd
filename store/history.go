package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// PendingHistory is the next history chunk to import, and where its import
// stopped last time.
type PendingHistory struct {
	ID     int64
	Key    string
	Number Number
	// Value is the chunk, or with InDelivery the whole raw delivery that
	// holds it (find it by Key). Neither is loaded for the chunk the
	// caller said it has already.
	Value      []byte
	InDelivery bool
	Loaded     bool
	Done       int
}

// NextHistoryChunk returns the oldest chunk still waiting (lowest phase,
// then chunk order, whatever order they arrived in), or nil. The chunk
// with id have is returned without its data, which the caller keeps
// decoded: reading a 250 KB chunk again for every step costs the CPU
// live webhooks need.
func (s *Store) NextHistoryChunk(ctx context.Context, have int64) (*PendingHistory, error) {
	var p PendingHistory
	err := s.rdb.QueryRowContext(ctx, `SELECT h.id, h.chunk_key, h.phone_number_id, h.waba_id, h.display_number, h.done,
			h.value IS NULL AND h.delivery_id IS NOT NULL, h.id <> ?1,
			CASE WHEN h.id = ?1 THEN NULL WHEN h.value IS NOT NULL THEN h.value
				ELSE (SELECT d.body FROM deliveries d WHERE d.id = h.delivery_id) END
		FROM history_chunks h WHERE h.state = 'pending' ORDER BY h.phase, h.chunk_order, h.id LIMIT 1`, have).
		Scan(&p.ID, &p.Key, &p.Number.PhoneNumberID, &p.Number.WABAID, &p.Number.DisplayPhoneNumber, &p.Done,
			&p.InDelivery, &p.Loaded, &p.Value)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: history chunk: %w", err)
	}
	return &p, nil
}

// HistoryMessage is one message of the imported history, normalised.
type HistoryMessage struct {
	Customer Party
	Outbound bool // written by the business (in the app)
	WAMID    string
	Type     string
	Text     sql.NullString
	Payload  []byte
	Context  []byte
	Extra    []byte
	Status   string // lower-case history_context.status of an outbound message
	TS       int64
	Media    *MediaRef
}

// HistoryBatch is one step of a chunk's import: the messages from position
// From on; Finished marks the chunk's last step.
type HistoryBatch struct {
	ChunkID  int64
	Number   Number
	From     int
	Handled  int // positions this step covers (messages plus unreadable ones)
	Messages []HistoryMessage
	Finished bool
	Now      int64 // unix seconds
}

// ImportHistoryBatch stores one step of a chunk in one transaction,
// together with the chunk's new resume point, so an interrupted import
// resumes where it stopped and a repeated step changes nothing. The step
// is a background turn of the writer (live webhooks go first and never
// share its commit) that indexes its messages for search itself and does
// not wait for its own fsync: a power loss may take back the last steps,
// resume point included, and they are redone. Messages
// of erased people are skipped (tombstones win); nothing opens a window,
// counts as unread or reopens a conversation, and new conversations start
// closed.
func (s *Store) ImportHistoryBatch(ctx context.Context, hb HistoryBatch) (imported, skipped int, err error) {
	key, err := tombstoneKey(s.dir)
	if err != nil {
		return 0, 0, err
	}
	err = s.importTurn(ctx, func(tx *Tx) error {
		imported, skipped = 0, 0
		var done int
		if err := tx.QueryRow("SELECT done FROM history_chunks WHERE id = ? AND state = 'pending'", hb.ChunkID).Scan(&done); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return nil // finished, or erased with a contact
			}
			return fmt.Errorf("store: history chunk: %w", err)
		}
		if done != hb.From {
			return nil // this step was stored before
		}
		now := hb.Now
		b := batch{numbers: map[string]int64{}, contacts: map[Party]int64{}, groups: map[string]int64{}}
		erased := map[Party]bool{}
		convs := map[Party]int64{}
		touched := map[int64]int64{}
		for i := range hb.Messages {
			m := &hb.Messages[i]
			gone, ok := erased[m.Customer]
			if !ok {
				a, err := erasedIdentifier(tx, key, "wa_id", m.Customer.WaID)
				if err != nil {
					return err
				}
				bb, err := erasedIdentifier(tx, key, "user_id", m.Customer.UserID)
				if err != nil {
					return err
				}
				gone = a || bb
				erased[m.Customer] = gone
			}
			if gone || (m.Customer.WaID == "" && m.Customer.UserID == "") {
				skipped++
				continue
			}
			convID, ok := convs[m.Customer]
			if !ok {
				var err error
				if convID, err = quietConversation(tx, &b, hb.Number, m.Customer, m.TS, now, "closed"); err != nil {
					return err
				}
				convs[m.Customer] = convID
			}
			added, err := insertHistoryMessage(tx, convID, m, now)
			if err != nil {
				return err
			}
			if added {
				imported++
				touched[convID] = max(touched[convID], m.TS)
			}
		}
		for id, ts := range touched {
			if _, err := tx.Exec("UPDATE conversations SET last_message_at = max(last_message_at, ?) WHERE id = ?", ts, id); err != nil {
				return fmt.Errorf("store: history conversation: %w", err)
			}
		}
		if _, err := tx.Exec(`UPDATE history_chunks SET done = done + ?, imported = imported + ?, skipped = skipped + ? WHERE id = ?`,
			hb.Handled, imported, skipped, hb.ChunkID); err != nil {
			return fmt.Errorf("store: history progress: %w", err)
		}
		if hb.Finished {
			// The chunk (personal data) is not needed once imported.
			if _, err := tx.Exec(`UPDATE history_chunks SET state = 'imported', value = NULL, imported_at = ? WHERE id = ?`, now, hb.ChunkID); err != nil {
				return fmt.Errorf("store: history finished: %w", err)
			}
		}
		return nil
	})
	return imported, skipped, err
}

// insertHistoryMessage stores one imported message. A media message that
// follows its placeholder (Meta sends media of the last 14 days later)
// fills the placeholder in.
func insertHistoryMessage(tx *Tx, convID int64, m *HistoryMessage, now int64) (bool, error) {
	dir, status := "inbound", sql.NullString{}
	if m.Outbound {
		dir = "outbound"
		status = nullString(m.Status)
	}
	msgID, inserted, err := tx.Insert(`INSERT INTO messages(wamid, conversation_id, direction, type, text, payload, context, extra, status, ts, created_at, origin)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'history')
		ON CONFLICT(wamid) DO UPDATE SET type = excluded.type, text = excluded.text, payload = excluded.payload
		WHERE messages.type = 'media_placeholder' AND excluded.type <> 'media_placeholder' AND messages.conversation_id = excluded.conversation_id`,
		m.WAMID, convID, dir, m.Type, m.Text, nullJSON(m.Payload), nullJSON(m.Context), nullJSON(m.Extra), status, m.TS, now)
	if err != nil {
		return false, fmt.Errorf("store: history message: %w", err)
	}
	if !inserted {
		return false, nil
	}
	if m.Media != nil {
		// An upsert that filled a placeholder has no new row id.
		if err := tx.QueryRow("SELECT id FROM messages WHERE wamid = ?", m.WAMID).Scan(&msgID); err != nil {
			return false, fmt.Errorf("store: history media: %w", err)
		}
		if _, err := tx.Exec(`INSERT INTO media(message_id, media_id, mime_type, sha256, filename) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT(message_id) DO NOTHING`, msgID, m.Media.MediaID, m.Media.MimeType, m.Media.SHA256, m.Media.Filename); err != nil {
			return false, fmt.Errorf("store: history media: %w", err)
		}
	}
	return true, nil
}

// HistoryProgress is how far the history import of one number is.
type HistoryProgress struct {
	PhoneNumberID string
	Chunks        int
	Pending       int
	Declined      bool
	Progress      int // Meta's percentage of the newest chunk
	Imported      int
	Skipped       int
}

// HistoryImports lists the history imports per number.
func (s *Store) HistoryImports(ctx context.Context) ([]HistoryProgress, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT phone_number_id, count(*), sum(state = 'pending'), max(state = 'declined'),
		max(progress), sum(imported), sum(skipped) FROM history_chunks GROUP BY phone_number_id ORDER BY phone_number_id`)
	if err != nil {
		return nil, fmt.Errorf("store: history progress: %w", err)
	}
	defer rows.Close()
	var out []HistoryProgress
	for rows.Next() {
		var p HistoryProgress
		if err := rows.Scan(&p.PhoneNumberID, &p.Chunks, &p.Pending, &p.Declined, &p.Progress, &p.Imported, &p.Skipped); err != nil {
			return nil, fmt.Errorf("store: history progress: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}
