package store

import (
	"context"
	"time"
)

// exportExtension returns what a table outside the core keeps about a
// contact for one section of data.json ("notes", "labels").
func exportExtension(ctx context.Context, s *Store, section string, contactID int64) (any, error) {
	if fn, ok := exportExtensions[section]; ok {
		return fn(ctx, s, contactID)
	}
	return []any{}, nil
}

var exportExtensions = map[string]func(ctx context.Context, s *Store, contactID int64) (any, error){
	// The team's notes on the customer's conversations. The author is not
	// named: staff are data subjects of their own (Art. 15(4)).
	"notes": func(ctx context.Context, s *Store, contactID int64) (any, error) {
		rows, err := s.rdb.QueryContext(ctx, `SELECT n.conversation_id, n.created_at, n.body FROM notes n
			JOIN conversations cv ON cv.id = n.conversation_id WHERE cv.contact_id = ? ORDER BY n.created_at, n.id`, contactID)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []map[string]any{}
		for rows.Next() {
			var conv, at int64
			var body string
			if err := rows.Scan(&conv, &at, &body); err != nil {
				return nil, err
			}
			out = append(out, map[string]any{"conversation_id": conv, "created_at": time.Unix(at, 0).UTC().Format(time.RFC3339),
				"text": body, "author": "Mitarbeiter/in"})
		}
		return out, rows.Err()
	},
	"labels": func(ctx context.Context, s *Store, contactID int64) (any, error) {
		rows, err := s.rdb.QueryContext(ctx, `SELECT cl.conversation_id, l.name FROM conversation_labels cl
			JOIN labels l ON l.id = cl.label_id JOIN conversations cv ON cv.id = cl.conversation_id
			WHERE cv.contact_id = ? ORDER BY cl.conversation_id, l.name`, contactID)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		out := []map[string]any{}
		for rows.Next() {
			var conv int64
			var name string
			if err := rows.Scan(&conv, &name); err != nil {
				return nil, err
			}
			out = append(out, map[string]any{"conversation_id": conv, "label": name})
		}
		return out, rows.Err()
	},
}
