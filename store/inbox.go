package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// ConversationFilter selects the inbox list.
type ConversationFilter struct {
	Assigned string // "mine", "unassigned" or "" (all)
	UserID   int64  // whose "mine"
	Status   string // "open", "closed" or "" (both)
	NumberID int64  // business number, 0 for all
	LabelID  int64  // 0 for all
	Before   Cursor // page after this position; zero value starts at the newest
	Limit    int
	// HideRestricted leaves out conversations of restricted contacts (Art.
	// 18): the agents' inbox.
	HideRestricted bool
	// TeamID lists the conversations assigned to a team (0 for all).
	TeamID int64
}

// Cursor is a position in the recency-ordered inbox.
type Cursor struct {
	At int64
	ID int64
}

// String encodes a cursor for a URL.
func (c Cursor) String() string {
	if c.ID == 0 {
		return ""
	}
	return fmt.Sprintf("%d.%d", c.At, c.ID)
}

// ParseCursor decodes Cursor.String; a malformed value is the zero cursor.
func ParseCursor(s string) Cursor {
	var c Cursor
	if _, err := fmt.Sscanf(s, "%d.%d", &c.At, &c.ID); err != nil {
		return Cursor{}
	}
	return c
}

// ConversationSummary is one row of the inbox.
type ConversationSummary struct {
	ID            int64
	Status        string
	AssigneeID    int64
	AssigneeName  string
	NumberID      int64
	DisplayNumber string
	PhoneNumberID string
	LastInboundAt int64
	LastMessageAt int64
	Unread        int
	Contact       Contact
	LastDirection string
	LastType      string
	LastText      string
	LastStatus    MessageStatus
	Labels        []Label
	Restricted    bool // the contact's processing is restricted (Art. 18)
}

const summaryColumns = `cv.id, cv.status, coalesce(cv.assignee_id, 0), coalesce(nullif(u.name, ''), u.email, ''),
	n.id, n.display_phone_number, n.phone_number_id, coalesce(cv.last_inbound_at, 0), cv.last_message_at, cv.unread,
	` + contactColumns + `,
	lm.direction, lm.type, coalesce(lm.text, ''), coalesce(lm.status, ''),
	` + cvRestrictedSQL

// The last message comes from one index probe per listed row.
const summaryJoins = `FROM conversations cv
	JOIN contacts c ON c.id = cv.contact_id
	JOIN business_numbers n ON n.id = cv.business_number_id
	LEFT JOIN users u ON u.id = cv.assignee_id
	LEFT JOIN messages lm ON lm.id = (SELECT m.id FROM messages m WHERE m.conversation_id = cv.id ORDER BY m.ts DESC, m.id DESC LIMIT 1)`

func scanSummary(r scanner) (*ConversationSummary, error) {
	var cs ConversationSummary
	var dir, typ, text, status sql.NullString
	dst := []any{&cs.ID, &cs.Status, &cs.AssigneeID, &cs.AssigneeName, &cs.NumberID, &cs.DisplayNumber, &cs.PhoneNumberID,
		&cs.LastInboundAt, &cs.LastMessageAt, &cs.Unread}
	dst = append(dst, cs.Contact.scanDest()...)
	dst = append(dst, &dir, &typ, &text, &status, &cs.Restricted)
	if err := r.Scan(dst...); err != nil {
		return nil, err
	}
	cs.Contact.fromNull()
	cs.LastDirection, cs.LastType, cs.LastText, cs.LastStatus = dir.String, typ.String, text.String, MessageStatus(status.String)
	return &cs, nil
}

// Conversations lists the inbox, most recent first. next is the cursor
// of the following page, zero at the end.
func (s *Store) Conversations(ctx context.Context, f ConversationFilter) (list []*ConversationSummary, next Cursor, err error) {
	var where []string
	var args []any
	switch f.Assigned {
	case "mine":
		where, args = append(where, "cv.assignee_id = ?"), append(args, f.UserID)
	case "unassigned":
		where = append(where, "cv.assignee_id IS NULL")
	}
	if f.Status == "open" || f.Status == "closed" {
		where, args = append(where, "cv.status = ?"), append(args, f.Status)
	}
	if f.NumberID > 0 {
		where, args = append(where, "cv.business_number_id = ?"), append(args, f.NumberID)
	}
	if f.HideRestricted {
		where = append(where, "NOT "+cvRestrictedSQL)
	}
	if f.TeamID > 0 {
		where, args = append(where, "cv.team_id = ?"), append(args, f.TeamID)
	}
	join := ""
	if f.LabelID > 0 {
		// Driving the query from the label's rows keeps it proportional to
		// the labelled conversations, not to the whole inbox.
		join = " JOIN conversation_labels fl ON fl.conversation_id = cv.id AND fl.label_id = ?"
		args = append([]any{f.LabelID}, args...)
	}
	if f.Before.ID > 0 {
		where = append(where, "(cv.last_message_at < ? OR (cv.last_message_at = ? AND cv.id < ?))")
		args = append(args, f.Before.At, f.Before.At, f.Before.ID)
	}
	lim := Page{Limit: f.Limit}.limit()
	// First pick the page's ids from the indexes alone, then fetch the
	// details (contact, last message) for those rows only; a filter that
	// matches thousands of conversations then sorts small rows.
	pick := "SELECT cv.id FROM conversations cv" + join
	if len(where) > 0 {
		pick += " WHERE " + strings.Join(where, " AND ")
	}
	pick += " ORDER BY cv.last_message_at DESC, cv.id DESC LIMIT ?"
	args = append(args, lim+1)
	q := "SELECT " + summaryColumns + " FROM (" + pick + ") pick JOIN conversations cv ON cv.id = pick.id" +
		strings.TrimPrefix(summaryJoins, "FROM conversations cv") + " ORDER BY cv.last_message_at DESC, cv.id DESC"
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, Cursor{}, fmt.Errorf("store: conversations: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		cs, err := scanSummary(rows)
		if err != nil {
			return nil, Cursor{}, fmt.Errorf("store: conversations: %w", err)
		}
		list = append(list, cs)
	}
	if err := rows.Err(); err != nil {
		return nil, Cursor{}, fmt.Errorf("store: conversations: %w", err)
	}
	if len(list) > lim {
		list = list[:lim]
		last := list[lim-1]
		next = Cursor{At: last.LastMessageAt, ID: last.ID}
	}
	if err := s.attachLabels(ctx, list); err != nil {
		return nil, Cursor{}, err
	}
	return list, next, nil
}

func (s *Store) attachLabels(ctx context.Context, list []*ConversationSummary) error {
	if len(list) == 0 {
		return nil
	}
	byID := map[int64]*ConversationSummary{}
	ph := make([]string, len(list))
	args := make([]any, len(list))
	for i, cs := range list {
		byID[cs.ID] = cs
		ph[i], args[i] = "?", cs.ID
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT cl.conversation_id, l.id, l.name, l.color FROM conversation_labels cl
		JOIN labels l ON l.id = cl.label_id WHERE cl.conversation_id IN (`+strings.Join(ph, ",")+`) ORDER BY l.name`, args...)
	if err != nil {
		return fmt.Errorf("store: labels: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var cid int64
		var l Label
		if err := rows.Scan(&cid, &l.ID, &l.Name, &l.Color); err != nil {
			return fmt.Errorf("store: labels: %w", err)
		}
		byID[cid].Labels = append(byID[cid].Labels, l)
	}
	return rows.Err()
}

// InboxCounts are the numbers beside the inbox filters (open conversations).
type InboxCounts struct {
	Mine, Unassigned, All int
	Unread                int // open conversations with unread messages
}

// InboxCounts counts open conversations per filter for userID. Those of
// restricted contacts are not work to do and do not count.
func (s *Store) InboxCounts(ctx context.Context, userID int64) (InboxCounts, error) {
	var c InboxCounts
	// Restricted ones are subtracted, found from the (few) restricted
	// requests, so the counts stay index-only on a large inbox. CROSS JOIN
	// keeps erasure_requests outside: without statistics the planner would
	// walk every open conversation instead.
	err := s.rdb.QueryRowContext(ctx, `WITH r AS (SELECT cv.assignee_id FROM erasure_requests er
			CROSS JOIN conversations cv ON cv.contact_id = er.contact_id
			WHERE er.state = 'restricted' AND cv.status = 'open' GROUP BY cv.id)
		SELECT
		(SELECT count(*) FROM conversations WHERE assignee_id = ?1 AND status = 'open') - (SELECT count(*) FROM r WHERE assignee_id = ?1),
		(SELECT count(*) FROM conversations WHERE assignee_id IS NULL AND status = 'open') - (SELECT count(*) FROM r WHERE assignee_id IS NULL),
		(SELECT count(*) FROM conversations WHERE status = 'open') - (SELECT count(*) FROM r),
		(SELECT count(*) FROM conversations cv INDEXED BY conversations_unread WHERE status = 'open' AND unread > 0 AND NOT `+cvRestrictedSQL+`)`,
		userID).Scan(&c.Mine, &c.Unassigned, &c.All, &c.Unread)
	if err != nil {
		return c, fmt.Errorf("store: inbox counts: %w", err)
	}
	return c, nil
}

// UnreadCount is the number of open conversations with unread messages:
// the badge on every page. Restricted contacts' conversations do not count.
func (s *Store) UnreadCount(ctx context.Context) (int, error) {
	var n int
	// Without statistics the planner would walk every open conversation;
	// the partial index holds only the unread ones.
	// It runs on every page: the unread ones are few, so each is checked
	// for a restriction rather than counting the restricted ones.
	if err := s.rdb.QueryRowContext(ctx, `SELECT count(*) FROM conversations cv INDEXED BY conversations_unread
		WHERE unread > 0 AND status = 'open' AND NOT `+cvRestrictedSQL).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: unread: %w", err)
	}
	return n, nil
}

// ConversationByID returns one conversation's header data.
func (s *Store) ConversationByID(ctx context.Context, id int64) (*ConversationSummary, error) {
	cs, err := scanSummary(s.rdb.QueryRowContext(ctx, "SELECT "+summaryColumns+" "+summaryJoins+" WHERE cv.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: conversation: %w", err)
	}
	if err := s.attachLabels(ctx, []*ConversationSummary{cs}); err != nil {
		return nil, err
	}
	return cs, nil
}

// ConversationMessages returns up to limit messages of a conversation,
// oldest first, ending before message id before (0: the newest). more says
// whether older ones exist.
func (s *Store) ConversationMessages(ctx context.Context, convID int64, before int64, limit int) (msgs []*Message, more bool, err error) {
	lim := Page{Limit: limit}.limit()
	q := "SELECT " + messageColumns + " " + messageJoins + " WHERE m.conversation_id = ?"
	args := []any{convID}
	if before > 0 {
		q += " AND (m.ts, m.id) < (SELECT ts, id FROM messages WHERE id = ?)"
		args = append(args, before)
	}
	q += " ORDER BY m.ts DESC, m.id DESC LIMIT ?"
	args = append(args, lim+1)
	rows, err := s.rdb.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, false, fmt.Errorf("store: conversation messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, false, fmt.Errorf("store: conversation messages: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("store: conversation messages: %w", err)
	}
	if len(msgs) > lim {
		msgs, more = msgs[:lim], true
	}
	for i, j := 0, len(msgs)-1; i < j; i, j = i+1, j-1 {
		msgs[i], msgs[j] = msgs[j], msgs[i]
	}
	return msgs, more, nil
}

// Quoted is the short form of a message another one replies or reacts to.
type Quoted struct {
	WAMID     string
	Direction string
	Type      string
	Text      string
}

// MessagesByWAMIDs looks up quoted messages by wamid, within one conversation.
func (s *Store) MessagesByWAMIDs(ctx context.Context, convID int64, wamids []string) (map[string]Quoted, error) {
	out := map[string]Quoted{}
	if len(wamids) == 0 {
		return out, nil
	}
	ph := make([]string, len(wamids))
	args := []any{convID}
	for i, w := range wamids {
		ph[i] = "?"
		args = append(args, w)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT wamid, direction, type, coalesce(text, '') FROM messages
		WHERE conversation_id = ? AND wamid IN (`+strings.Join(ph, ",")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: quoted: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var q Quoted
		if err := rows.Scan(&q.WAMID, &q.Direction, &q.Type, &q.Text); err != nil {
			return nil, fmt.Errorf("store: quoted: %w", err)
		}
		out[q.WAMID] = q
	}
	return out, rows.Err()
}

// MessageInConversation returns one message by local id, only if it
// belongs to the conversation (object-level authorisation for media).
func (s *Store) MessageInConversation(ctx context.Context, convID, msgID int64) (*Message, error) {
	m, err := scanMessage(s.rdb.QueryRowContext(ctx, "SELECT "+messageColumns+" "+messageJoins+" WHERE m.id = ? AND m.conversation_id = ?", msgID, convID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: message: %w", err)
	}
	return m, nil
}

// MarkRead clears a conversation's unread count.
func (s *Store) MarkRead(ctx context.Context, convID int64) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("UPDATE conversations SET unread = 0 WHERE id = ? AND unread <> 0", convID)
		return err
	})
}

// Assign gives a conversation to a user (0: nobody). The user must be an
// active admin or agent.
func (s *Store) Assign(ctx context.Context, convID, userID int64, audit ...AuditEntry) error {
	err := s.Write(ctx, func(tx *Tx) error {
		var assignee any
		if userID > 0 {
			var ok int
			if err := tx.QueryRow("SELECT count(*) FROM users WHERE id = ? AND role IN ('admin', 'agent') AND disabled_at IS NULL", userID).Scan(&ok); err != nil {
				return err
			}
			if ok == 0 {
				return ErrNotFound
			}
			assignee = userID
		}
		res, err := tx.Exec("UPDATE conversations SET assignee_id = ?, updated_at = ? WHERE id = ?", assignee, time.Now().Unix(), convID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if userID > 0 && len(audit) > 0 {
			// A person assigning takes the conversation over from a bot.
			if err := clearBotTx(tx, convID, audit[0].Actor, time.Now().Unix()); err != nil {
				return err
			}
		}
		return auditAll(tx, audit, fmt.Sprintf("conversation:%d", convID))
	})
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: assign: %w", err)
	}
	return nil
}

// SetConversationStatus closes or reopens a conversation.
func (s *Store) SetConversationStatus(ctx context.Context, convID int64, status string) error {
	if status != "open" && status != "closed" {
		return fmt.Errorf("store: unknown conversation status %q", status)
	}
	err := s.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec("UPDATE conversations SET status = ?, updated_at = ? WHERE id = ?", status, time.Now().Unix(), convID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if status == "closed" {
			return queueSurveyTx(tx, convID, time.Now().Unix())
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: conversation status: %w", err)
	}
	return nil
}

// BusinessNumber is one of the company's WhatsApp numbers.
type BusinessNumber struct {
	ID                 int64
	PhoneNumberID      string
	WABAID             string
	DisplayPhoneNumber string
	CreatedAt          int64
}

// BusinessNumbers lists the numbers Pforte has seen or was told about.
func (s *Store) BusinessNumbers(ctx context.Context) ([]BusinessNumber, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT id, phone_number_id, waba_id, display_phone_number, created_at FROM business_numbers ORDER BY display_phone_number, id")
	if err != nil {
		return nil, fmt.Errorf("store: business numbers: %w", err)
	}
	defer rows.Close()
	var out []BusinessNumber
	for rows.Next() {
		var b BusinessNumber
		if err := rows.Scan(&b.ID, &b.PhoneNumberID, &b.WABAID, &b.DisplayPhoneNumber, &b.CreatedAt); err != nil {
			return nil, fmt.Errorf("store: business numbers: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// AddBusinessNumber registers a number ahead of its first webhook.
func (s *Store) AddBusinessNumber(ctx context.Context, n Number, audit ...AuditEntry) error {
	err := s.Write(ctx, func(tx *Tx) error {
		if _, err := upsertNumber(tx, n, time.Now().Unix()); err != nil {
			return err
		}
		return auditAll(tx, audit, "number:"+n.PhoneNumberID)
	})
	if err != nil {
		return fmt.Errorf("store: add number: %w", err)
	}
	return nil
}

// WAMIDRef says which conversation a message belongs to.
type WAMIDRef struct {
	WAMID          string
	ConversationID int64
	Direction      string
	ContactName    string
	Restricted     bool // the contact's processing is restricted (Art. 18)
}

// ConversationsOfWAMIDs maps message ids to their conversations; unknown
// ids are left out.
func (s *Store) ConversationsOfWAMIDs(ctx context.Context, wamids []string) ([]WAMIDRef, error) {
	if len(wamids) == 0 {
		return nil, nil
	}
	var out []WAMIDRef
	for start := 0; start < len(wamids); start += 500 {
		chunk := wamids[start:min(start+500, len(wamids))]
		ph := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, w := range chunk {
			ph[i], args[i] = "?", w
		}
		rows, err := s.rdb.QueryContext(ctx, `SELECT m.wamid, m.conversation_id, m.direction, c.name, `+cvRestrictedSQL+` FROM messages m
			JOIN conversations cv ON cv.id = m.conversation_id JOIN contacts c ON c.id = cv.contact_id
			WHERE m.wamid IN (`+strings.Join(ph, ",")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("store: wamid lookup: %w", err)
		}
		for rows.Next() {
			var r WAMIDRef
			if err := rows.Scan(&r.WAMID, &r.ConversationID, &r.Direction, &r.ContactName, &r.Restricted); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: wamid lookup: %w", err)
			}
			out = append(out, r)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("store: wamid lookup: %w", err)
		}
	}
	return out, nil
}

// OutboundAuthors names who sent each of the given outbound messages:
// the panel user's name, or the API key's name, from the outbox's actor.
func (s *Store) OutboundAuthors(ctx context.Context, msgIDs []int64) (map[int64]string, error) {
	out := map[int64]string{}
	if len(msgIDs) == 0 {
		return out, nil
	}
	ph := make([]string, len(msgIDs))
	args := make([]any, len(msgIDs))
	for i, id := range msgIDs {
		ph[i], args[i] = "?", id
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT o.message_id,
			coalesce(nullif(u.name, ''), u.email, k.name, '')
		FROM outbox o
		LEFT JOIN users u ON o.actor = 'user:' || u.id
		LEFT JOIN api_keys k ON o.actor = 'apikey:' || k.prefix
		WHERE o.message_id IN (`+strings.Join(ph, ",")+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: outbound authors: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("store: outbound authors: %w", err)
		}
		if name != "" {
			out[id] = name
		}
	}
	return out, rows.Err()
}
