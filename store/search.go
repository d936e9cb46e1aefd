package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// SearchHit is one message matching a search.
type SearchHit struct {
	MessageID      int64
	ConversationID int64
	Direction      string
	TS             int64
	Snippet        string // matched words are wrapped in \x02 ... \x03
	Contact        Contact
}

// Snippet markers; the panel turns them into <mark> after escaping.
const (
	MarkStart = "\x02"
	MarkEnd   = "\x03"
)

// ftsQuery turns what a person typed into an FTS5 query that cannot be a
// syntax error: every word is quoted, the last one matches as a prefix.
func ftsQuery(q string) string {
	// Control characters (NUL ends an SQLite string early) and broken
	// UTF-8 cannot be part of a word anyway.
	q = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return ' '
		}
		return r
	}, q)
	words := strings.Fields(q)
	if len(words) > 8 {
		words = words[:8]
	}
	var parts []string
	for i, w := range words {
		w = strings.ReplaceAll(w, `"`, `""`)
		p := `"` + w + `"`
		if i == len(words)-1 {
			p += "*"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

// SearchMessages finds messages by text, newest first.
func (s *Store) SearchMessages(ctx context.Context, q string, limit int, opts ...ListOption) ([]SearchHit, error) {
	if s.wdb != nil {
		if err := s.FlushSearchIndex(ctx); err != nil {
			return nil, err
		}
	}
	fq := ftsQuery(q)
	if fq == "" {
		return nil, nil
	}
	hide := ""
	if listOpts(opts).hideRestricted {
		hide = " AND NOT " + cvRestrictedSQL
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT f.rowid, snippet(messages_fts, 0, char(2), char(3), '…', 12),
		m.conversation_id, m.direction, m.ts, `+contactColumns+`
		FROM messages_fts f
		JOIN messages m ON m.id = f.rowid
		JOIN conversations cv ON cv.id = m.conversation_id
		JOIN contacts c ON c.id = cv.contact_id
		WHERE messages_fts MATCH ?`+hide+` ORDER BY f.rowid DESC LIMIT ?`, fq, Page{Limit: limit}.limit())
	if err != nil {
		return nil, fmt.Errorf("store: search: %w", err)
	}
	defer rows.Close()
	var out []SearchHit
	for rows.Next() {
		var h SearchHit
		dst := append([]any{&h.MessageID, &h.Snippet, &h.ConversationID, &h.Direction, &h.TS}, h.Contact.scanDest()...)
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("store: search: %w", err)
		}
		h.Contact.fromNull()
		out = append(out, h)
	}
	return out, rows.Err()
}

// ContactListItem is a row of the contacts page.
type ContactListItem struct {
	Contact
	Conversations int
	LastMessageAt int64
	Restricted    bool // processing restricted (Art. 18)
}

// Contacts lists customers, optionally matching q in name, number, user id
// or username; newest first (the inbox already sorts by activity). offset
// pages through.
func (s *Store) Contacts(ctx context.Context, q string, limit, offset int, opts ...ListOption) ([]ContactListItem, error) {
	args := []any{}
	where := ""
	if q = strings.TrimSpace(q); q != "" {
		like := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(q) + "%"
		where = `(c.name LIKE ?1 ESCAPE '\' OR c.user_id LIKE ?1 ESCAPE '\' OR c.username LIKE ?1 ESCAPE '\'`
		args = append(args, like)
		if digits := normalizePhone(q); len(digits) >= 3 {
			where += ` OR c.wa_id LIKE ?2`
			args = append(args, "%"+digits+"%")
		}
		where += ")"
	}
	if listOpts(opts).hideRestricted {
		if where != "" {
			where += " AND "
		}
		where += "NOT " + cRestrictedSQL
	}
	if where != "" {
		where += " AND "
	}
	where = "WHERE " + where + "c.group_id IS NULL" // groups are not customers
	n := len(args)
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+contactColumns+`,
		(SELECT count(*) FROM conversations WHERE contact_id = c.id),
		coalesce((SELECT max(last_message_at) FROM conversations WHERE contact_id = c.id), 0) AS last, `+cRestrictedSQL+`
		FROM contacts c `+where+fmt.Sprintf(` ORDER BY c.id DESC LIMIT ?%d OFFSET ?%d`, n+1, n+2),
		append(args, Page{Limit: limit}.limit(), max(offset, 0))...)
	if err != nil {
		return nil, fmt.Errorf("store: contacts: %w", err)
	}
	defer rows.Close()
	var out []ContactListItem
	for rows.Next() {
		var it ContactListItem
		dst := append(it.Contact.scanDest(), &it.Conversations, &it.LastMessageAt, &it.Restricted)
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("store: contacts: %w", err)
		}
		it.Contact.fromNull()
		out = append(out, it)
	}
	return out, rows.Err()
}

// ContactByID returns one customer.
func (s *Store) ContactByID(ctx context.Context, id int64) (*Contact, error) {
	var c Contact
	if err := s.rdb.QueryRowContext(ctx, "SELECT "+contactColumns+" FROM contacts c WHERE c.id = ?", id).Scan(c.scanDest()...); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("store: contact: %w", err)
	}
	c.fromNull()
	return &c, nil
}

// ContactConversations lists a customer's conversations, newest first.
func (s *Store) ContactConversations(ctx context.Context, contactID int64) ([]*ConversationSummary, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+summaryColumns+" "+summaryJoins+" WHERE cv.contact_id = ? ORDER BY cv.last_message_at DESC", contactID)
	if err != nil {
		return nil, fmt.Errorf("store: contact conversations: %w", err)
	}
	defer rows.Close()
	var out []*ConversationSummary
	for rows.Next() {
		cs, err := scanSummary(rows)
		if err != nil {
			return nil, fmt.Errorf("store: contact conversations: %w", err)
		}
		out = append(out, cs)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, s.attachLabels(ctx, out)
}
