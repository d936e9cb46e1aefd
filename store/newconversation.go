package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ConversationWith returns the conversation between a business number and
// a contact, ErrNotFound if they never wrote: the panel's "new
// conversation" finds the one its first template created.
func (s *Store) ConversationWith(ctx context.Context, phoneNumberID string, contactID int64) (int64, error) {
	var id int64
	err := s.rdb.QueryRowContext(ctx, `SELECT cv.id FROM conversations cv JOIN business_numbers n ON n.id = cv.business_number_id
		WHERE n.phone_number_id = ? AND cv.contact_id = ?`, phoneNumberID, contactID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("store: conversation: %w", err)
	}
	return id, nil
}
