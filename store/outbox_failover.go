package store

import (
	"context"
	"fmt"
	"time"
)

// UnconfirmOutbox runs when a standby is promoted from a copy that may end
// before the lost primary did: every entry still queued or sending may
// have been claimed and sent by the primary after the copy ends, so it
// becomes "unknown" — reported, and sent again only by a person's
// decision (RequeueOutbound). It returns how many entries it marked.
func (s *Store) UnconfirmOutbox(ctx context.Context, now time.Time) (int, error) {
	var n int
	err := s.Write(ctx, func(tx *Tx) error {
		rows, err := tx.Query("SELECT id FROM outbox WHERE state IN ('queued', 'sending')")
		if err != nil {
			return fmt.Errorf("store: unconfirm outbox: %w", err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("store: unconfirm outbox: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: unconfirm outbox: %w", err)
		}
		n = len(ids)
		obj := []byte(`{"code":0,"title":"Outcome unknown","message":"This instance was promoted from a replica that may end before the lost primary did; the primary may have sent this message. Check, and send it again if it did not arrive."}`)
		for _, id := range ids {
			if err := finishFailed(tx, id, obj, OutboxUnknown, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}
