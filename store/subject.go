package store

import (
	"context"
	"database/sql"
	"fmt"
	"os"
)

// The queries below hand a data subject's rows to server/privacy, which
// renders the Art. 15/20 export; the store knows no file format.

// subjectPage is how many messages EachSubjectMessage holds at a time.
const subjectPage = 500

// SubjectTotals counts a contact's messages and the bytes of their stored
// media, for an export's progress.
func (s *Store) SubjectTotals(ctx context.Context, contactID int64) (messages, mediaBytes int64, err error) {
	err = s.rdb.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(CASE WHEN md.state = 'stored' THEN md.size END), 0)
		FROM messages m JOIN conversations cv ON cv.id = m.conversation_id LEFT JOIN media md ON md.message_id = m.id
		WHERE cv.contact_id = ?`, contactID).Scan(&messages, &mediaBytes)
	if err != nil {
		return 0, 0, fmt.Errorf("store: subject totals: %w", err)
	}
	return messages, mediaBytes, nil
}

// EachSubjectMessage calls fn for every message of the contact, oldest
// first, with its receipts. It reads a page at a time and closes the rows
// before calling fn, so memory stays flat and fn may take its time.
func (s *Store) EachSubjectMessage(ctx context.Context, contactID int64, fn func(*Message, []StatusHistory) error) error {
	var after int64
	for {
		page, err := s.subjectPage(ctx, contactID, after)
		if err != nil {
			return fmt.Errorf("store: subject messages: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		after = page[len(page)-1].ID
		statuses, err := s.pageStatuses(ctx, page)
		if err != nil {
			return fmt.Errorf("store: subject receipts: %w", err)
		}
		for _, m := range page {
			if err := fn(m, statuses[m.WAMID]); err != nil {
				return err
			}
		}
		if len(page) < subjectPage {
			return nil
		}
	}
}

func (s *Store) subjectPage(ctx context.Context, contactID, after int64) ([]*Message, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+messageColumns+" "+messageJoins+`
		WHERE m.id > ?2 AND (m.conversation_id IN (SELECT id FROM conversations WHERE contact_id = ?1) OR m.sender_contact_id = ?1)
		ORDER BY m.id LIMIT ?3`, contactID, after, subjectPage) // a member's group messages too
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var page []*Message
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, err
		}
		page = append(page, m)
	}
	return page, rows.Err()
}

func (s *Store) pageStatuses(ctx context.Context, page []*Message) (map[string][]StatusHistory, error) {
	var ids []any
	for _, m := range page {
		if m.WAMID != "" {
			ids = append(ids, m.WAMID)
		}
	}
	out := map[string][]StatusHistory{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT wamid, status, ts, errors, pricing FROM message_statuses
		WHERE wamid IN (SELECT value FROM json_each(?)) ORDER BY ts, id`, jsonArray(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var wamid string
		var h StatusHistory
		var errs, pricing sql.NullString
		if err := rows.Scan(&wamid, &h.Status, &h.TS, &errs, &pricing); err != nil {
			return nil, err
		}
		h.Errors, h.Pricing = bytesOf(errs), bytesOf(pricing)
		out[wamid] = append(out[wamid], h)
	}
	return out, rows.Err()
}

// OpenSubjectMedia opens a message's stored file for an export. Unlike
// OpenMedia it takes any path inside the media folder, as erasure does;
// a path that would leave the folder is reported as missing
// (os.ErrNotExist), so the export counts it instead of failing.
func (s *Store) OpenSubjectMedia(rel string) (*os.File, error) {
	full, ok := s.mediaFile(rel)
	if !ok {
		return nil, fmt.Errorf("store: media %q: %w", rel, os.ErrNotExist)
	}
	return os.Open(full)
}

// SubjectConversation is one of a contact's conversations.
type SubjectConversation struct {
	ID            int64
	PhoneNumberID string
	Status        string
	CreatedAt     int64
	LastMessageAt int64
}

// SubjectConversations lists a contact's conversations by id.
func (s *Store) SubjectConversations(ctx context.Context, contactID int64) ([]SubjectConversation, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT cv.id, n.phone_number_id, cv.status, cv.created_at, cv.last_message_at
		FROM conversations cv JOIN business_numbers n ON n.id = cv.business_number_id WHERE cv.contact_id = ? ORDER BY cv.id`, contactID)
	if err != nil {
		return nil, fmt.Errorf("store: subject conversations: %w", err)
	}
	defer rows.Close()
	var out []SubjectConversation
	for rows.Next() {
		var c SubjectConversation
		if err := rows.Scan(&c.ID, &c.PhoneNumberID, &c.Status, &c.CreatedAt, &c.LastMessageAt); err != nil {
			return nil, fmt.Errorf("store: subject conversations: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SubjectNote is a team note on one of a contact's conversations. The
// author is left out: staff are data subjects of their own (Art. 15(4)).
type SubjectNote struct {
	ConversationID int64
	CreatedAt      int64
	Body           string
}

// SubjectNotes lists the notes on a contact's conversations, oldest first.
func (s *Store) SubjectNotes(ctx context.Context, contactID int64) ([]SubjectNote, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT n.conversation_id, n.created_at, n.body FROM notes n
		JOIN conversations cv ON cv.id = n.conversation_id WHERE cv.contact_id = ? ORDER BY n.created_at, n.id`, contactID)
	if err != nil {
		return nil, fmt.Errorf("store: subject notes: %w", err)
	}
	defer rows.Close()
	var out []SubjectNote
	for rows.Next() {
		var n SubjectNote
		if err := rows.Scan(&n.ConversationID, &n.CreatedAt, &n.Body); err != nil {
			return nil, fmt.Errorf("store: subject notes: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// SubjectLabel is a label on one of a contact's conversations.
type SubjectLabel struct {
	ConversationID int64
	Name           string
}

// SubjectLabels lists the labels on a contact's conversations.
func (s *Store) SubjectLabels(ctx context.Context, contactID int64) ([]SubjectLabel, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT cl.conversation_id, l.name FROM conversation_labels cl
		JOIN labels l ON l.id = cl.label_id JOIN conversations cv ON cv.id = cl.conversation_id
		WHERE cv.contact_id = ? ORDER BY cl.conversation_id, l.name`, contactID)
	if err != nil {
		return nil, fmt.Errorf("store: subject labels: %w", err)
	}
	defer rows.Close()
	var out []SubjectLabel
	for rows.Next() {
		var l SubjectLabel
		if err := rows.Scan(&l.ConversationID, &l.Name); err != nil {
			return nil, fmt.Errorf("store: subject labels: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// SubjectAuditEntry is an audit entry about a contact or its
// conversations; Detail is JSON when set.
type SubjectAuditEntry struct {
	TS     int64
	Actor  string
	Action string
	Detail string
}

// SubjectAudit lists the audit entries about a contact or its
// conversations, oldest first.
func (s *Store) SubjectAudit(ctx context.Context, contactID int64) ([]SubjectAuditEntry, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT ts, actor, action, detail FROM audit_log
		WHERE target = ?1 OR target IN (SELECT 'conversation:' || id FROM conversations WHERE contact_id = ?2) ORDER BY id`,
		fmt.Sprintf("contact:%d", contactID), contactID)
	if err != nil {
		return nil, fmt.Errorf("store: subject audit: %w", err)
	}
	defer rows.Close()
	var out []SubjectAuditEntry
	for rows.Next() {
		var e SubjectAuditEntry
		if err := rows.Scan(&e.TS, &e.Actor, &e.Action, &e.Detail); err != nil {
			return nil, fmt.Errorf("store: subject audit: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditExport records a finished export by its counts, never its contents.
func (s *Store) AuditExport(ctx context.Context, contactID, ts int64, actor Actor, ip string, messages, mediaFiles, mediaMismatches int) error {
	return s.Audit(ctx, AuditEntry{TS: ts, Actor: actor, Action: AuditContactExport, Target: fmt.Sprintf("contact:%d", contactID),
		IP: ip, Detail: jsonDetail(map[string]any{"messages": messages, "media_files": mediaFiles, "media_mismatches": mediaMismatches})})
}
