package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Contact is a customer.
type Contact struct {
	ID           int64
	WaID         string
	UserID       string
	ParentUserID string
	Username     string
	Name         string
	CreatedAt    int64
	UpdatedAt    int64
	// GroupID is set when the "contact" stands in for a WhatsApp group.
	GroupID string

	nWaID, nUserID, nParent, nUsername sql.NullString
}

const contactColumns = `c.id, c.wa_id, c.user_id, c.parent_user_id, c.username, c.name, c.created_at, c.updated_at, coalesce(c.group_id, '')`

func (c *Contact) scanDest() []any {
	return []any{&c.ID, &c.nWaID, &c.nUserID, &c.nParent, &c.nUsername, &c.Name, &c.CreatedAt, &c.UpdatedAt, &c.GroupID}
}

func (c *Contact) fromNull() {
	c.WaID, c.UserID, c.ParentUserID, c.Username = c.nWaID.String, c.nUserID.String, c.nParent.String, c.nUsername.String
}

// Window is a customer-service window: the last time the customer wrote to
// one business number.
type Window struct {
	PhoneNumberID string
	LastInboundAt int64
}

// ContactByKey finds a customer by phone digits (wa_id) or business-scoped
// user id. A leading "+" and spaces in a phone number are ignored.
func (s *Store) ContactByKey(ctx context.Context, key string) (*Contact, error) {
	key = strings.TrimSpace(key)
	if key == "" {
		return nil, ErrNotFound
	}
	var c Contact
	err := s.rdb.QueryRowContext(ctx, "SELECT "+contactColumns+" FROM contacts c WHERE c.user_id = ?1 OR c.wa_id = ?2 ORDER BY c.user_id = ?1 DESC LIMIT 1",
		key, normalizePhone(key)).Scan(c.scanDest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: contact: %w", err)
	}
	c.fromNull()
	return &c, nil
}

// ContactWindows returns the customer's last inbound time per business number.
func (s *Store) ContactWindows(ctx context.Context, contactID int64) ([]Window, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT n.phone_number_id, cv.last_inbound_at FROM conversations cv
		JOIN business_numbers n ON n.id = cv.business_number_id
		WHERE cv.contact_id = ? AND cv.last_inbound_at IS NOT NULL ORDER BY n.phone_number_id`, contactID)
	if err != nil {
		return nil, fmt.Errorf("store: windows: %w", err)
	}
	defer rows.Close()
	var out []Window
	for rows.Next() {
		var w Window
		if err := rows.Scan(&w.PhoneNumberID, &w.LastInboundAt); err != nil {
			return nil, fmt.Errorf("store: windows: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// normalizePhone keeps the digits of a phone number as Meta writes wa_ids.
// A key with letters is a user id, never a phone number.
func normalizePhone(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' }) >= 0 {
		return ""
	}
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
