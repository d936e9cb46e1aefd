package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Note is an internal remark on a conversation; customers never see it.
type Note struct {
	ID             int64
	ConversationID int64
	AuthorID       int64
	AuthorName     string
	Body           string
	CreatedAt      int64
}

// AddNote stores a note.
func (s *Store) AddNote(ctx context.Context, convID, authorID int64, body string) (*Note, error) {
	body = strings.TrimSpace(body)
	if body == "" {
		return nil, fmt.Errorf("store: empty note")
	}
	n := &Note{ConversationID: convID, AuthorID: authorID, Body: body, CreatedAt: time.Now().Unix()}
	err := s.Write(ctx, func(tx *Tx) error {
		return tx.QueryRow("INSERT INTO notes(conversation_id, author_id, body, created_at) VALUES (?, ?, ?, ?) RETURNING id",
			convID, authorID, body, n.CreatedAt).Scan(&n.ID)
	})
	if err != nil {
		return nil, fmt.Errorf("store: add note: %w", err)
	}
	return n, nil
}

// Notes lists a conversation's notes, oldest first.
func (s *Store) Notes(ctx context.Context, convID int64) ([]Note, error) {
	return s.notes(ctx, "n.conversation_id = ?", convID)
}

// ContactNotes lists the notes on all of a contact's conversations.
func (s *Store) ContactNotes(ctx context.Context, contactID int64) ([]Note, error) {
	return s.notes(ctx, "n.conversation_id IN (SELECT id FROM conversations WHERE contact_id = ?)", contactID)
}

func (s *Store) notes(ctx context.Context, where string, arg any) ([]Note, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT n.id, n.conversation_id, coalesce(n.author_id, 0), coalesce(nullif(u.name, ''), u.email, ''), n.body, n.created_at
		FROM notes n LEFT JOIN users u ON u.id = n.author_id WHERE `+where+` ORDER BY n.created_at, n.id`, arg)
	if err != nil {
		return nil, fmt.Errorf("store: notes: %w", err)
	}
	defer rows.Close()
	var out []Note
	for rows.Next() {
		var n Note
		if err := rows.Scan(&n.ID, &n.ConversationID, &n.AuthorID, &n.AuthorName, &n.Body, &n.CreatedAt); err != nil {
			return nil, fmt.Errorf("store: notes: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
