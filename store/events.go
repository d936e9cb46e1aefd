package store

import (
	"context"
	"fmt"
)

// StoredEvent is a stored non-message webhook event.
type StoredEvent struct {
	ID            int64
	WABAID        string
	Field         string
	PhoneNumberID string
	TS            int64
	Value         []byte
}

// EventsByField lists events of one field, newest first.
func (s *Store) EventsByField(ctx context.Context, field string, limit int) ([]StoredEvent, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, waba_id, field, phone_number_id, ts, value FROM events
		WHERE field = ? ORDER BY ts DESC, id DESC LIMIT ?`, field, Page{Limit: limit}.limit())
	if err != nil {
		return nil, fmt.Errorf("store: events: %w", err)
	}
	defer rows.Close()
	var out []StoredEvent
	for rows.Next() {
		var e StoredEvent
		var v string
		if err := rows.Scan(&e.ID, &e.WABAID, &e.Field, &e.PhoneNumberID, &e.TS, &v); err != nil {
			return nil, fmt.Errorf("store: events: %w", err)
		}
		e.Value = []byte(v)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Counts is how many rows the main tables hold; tests and the dashboard use it.
type Counts struct {
	Deliveries, Messages, Statuses, Events, Contacts, Conversations int64
}

// Count returns the row counts of the main tables.
func (s *Store) Count(ctx context.Context) (Counts, error) {
	var c Counts
	err := s.rdb.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM deliveries), (SELECT count(*) FROM messages), (SELECT count(*) FROM message_statuses),
		(SELECT count(*) FROM events), (SELECT count(*) FROM contacts), (SELECT count(*) FROM conversations)`).
		Scan(&c.Deliveries, &c.Messages, &c.Statuses, &c.Events, &c.Contacts, &c.Conversations)
	if err != nil {
		return c, fmt.Errorf("store: count: %w", err)
	}
	return c, nil
}
