package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Label tags conversations ("Reklamation", "Angebot", ...).
type Label struct {
	ID    int64
	Name  string
	Color string
}

// LabelColors are the colours the panel can draw.
var LabelColors = []string{"slate", "red", "amber", "green", "teal", "blue", "violet", "pink"}

// Labels lists every label by name.
func (s *Store) Labels(ctx context.Context) ([]Label, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT id, name, color FROM labels ORDER BY name")
	if err != nil {
		return nil, fmt.Errorf("store: labels: %w", err)
	}
	defer rows.Close()
	var out []Label
	for rows.Next() {
		var l Label
		if err := rows.Scan(&l.ID, &l.Name, &l.Color); err != nil {
			return nil, fmt.Errorf("store: labels: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// CreateLabel adds a label; ErrExists when the name is taken.
func (s *Store) CreateLabel(ctx context.Context, name, color string) (*Label, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 40 {
		return nil, fmt.Errorf("store: label name must have 1 to 40 characters")
	}
	if !slices.Contains(LabelColors, color) {
		color = "slate"
	}
	l := &Label{Name: name, Color: color}
	err := s.Write(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow("SELECT count(*) FROM labels WHERE name = ?", name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrExists
		}
		return tx.QueryRow("INSERT INTO labels(name, color, created_at) VALUES (?, ?, ?) RETURNING id", name, color, time.Now().Unix()).Scan(&l.ID)
	})
	if errors.Is(err, ErrExists) {
		return nil, ErrExists
	}
	if err != nil {
		return nil, fmt.Errorf("store: create label: %w", err)
	}
	return l, nil
}

// DeleteLabel removes a label from everything.
func (s *Store) DeleteLabel(ctx context.Context, id int64) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("DELETE FROM labels WHERE id = ?", id)
		return err
	})
}

// SetConversationLabel adds (on) or removes a label.
func (s *Store) SetConversationLabel(ctx context.Context, convID, labelID int64, on bool) error {
	err := s.Write(ctx, func(tx *Tx) error {
		if !on {
			_, err := tx.Exec("DELETE FROM conversation_labels WHERE conversation_id = ? AND label_id = ?", convID, labelID)
			return err
		}
		var n int
		if err := tx.QueryRow("SELECT (SELECT count(*) FROM conversations WHERE id = ?) * (SELECT count(*) FROM labels WHERE id = ?)", convID, labelID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		_, err := tx.Exec("INSERT INTO conversation_labels(conversation_id, label_id) VALUES (?, ?) ON CONFLICT DO NOTHING", convID, labelID)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: conversation label: %w", err)
	}
	return nil
}

// CannedReply is a prepared answer. Its body may hold variables such as
// {{name}} that the composer fills in.
type CannedReply struct {
	ID    int64
	Title string
	Body  string
}

// CannedReplies lists the prepared answers by title.
func (s *Store) CannedReplies(ctx context.Context) ([]CannedReply, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT id, title, body FROM canned_replies ORDER BY title COLLATE NOCASE")
	if err != nil {
		return nil, fmt.Errorf("store: canned replies: %w", err)
	}
	defer rows.Close()
	var out []CannedReply
	for rows.Next() {
		var c CannedReply
		if err := rows.Scan(&c.ID, &c.Title, &c.Body); err != nil {
			return nil, fmt.Errorf("store: canned replies: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SaveCannedReply creates (id 0) or updates a prepared answer.
func (s *Store) SaveCannedReply(ctx context.Context, c CannedReply) error {
	c.Title, c.Body = strings.TrimSpace(c.Title), strings.TrimSpace(c.Body)
	if c.Title == "" || c.Body == "" {
		return fmt.Errorf("store: a canned reply needs a title and a text")
	}
	now := time.Now().Unix()
	return s.Write(ctx, func(tx *Tx) error {
		if c.ID == 0 {
			_, err := tx.Exec("INSERT INTO canned_replies(title, body, created_at, updated_at) VALUES (?, ?, ?, ?)", c.Title, c.Body, now, now)
			return err
		}
		_, err := tx.Exec("UPDATE canned_replies SET title = ?, body = ?, updated_at = ? WHERE id = ?", c.Title, c.Body, now, c.ID)
		return err
	})
}

// DeleteCannedReply removes a prepared answer.
func (s *Store) DeleteCannedReply(ctx context.Context, id int64) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("DELETE FROM canned_replies WHERE id = ?", id)
		return err
	})
}
