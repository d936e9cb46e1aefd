package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Message is a stored message with its contact and business number.
type Message struct {
	ID             int64
	WAMID          string
	ConversationID int64
	Direction      string
	Type           string
	Text           sql.NullString
	Payload        []byte
	Context        []byte
	Referral       []byte
	Errors         []byte
	Extra          []byte
	GroupID        string
	Status         MessageStatus
	StatusAt       int64
	TS             int64
	PhoneNumberID  string
	Contact        Contact
	Media          *Media
	// Coexistence and groups: where the message came from (OriginPhone,
	// OriginHistory, OriginGroupEvent; "" for live Cloud API traffic),
	// when it was edited or revoked, and who wrote it in a group.
	Origin     string
	EditedAt   int64
	RevokedAt  int64
	SenderName string
}

// MessageStatus is the newest delivery receipt of an outbound message;
// stored in messages.status ("" before Meta's first receipt).
type MessageStatus string

// Message statuses, in the order statusRankSQL lets them advance.
const (
	MessageAccepted  MessageStatus = "accepted"
	MessageSent      MessageStatus = "sent"
	MessageDelivered MessageStatus = "delivered"
	MessageRead      MessageStatus = "read"
	MessagePlayed    MessageStatus = "played"
	MessageFailed    MessageStatus = "failed"
)

// MediaState is how far a file's download got; stored in media.state.
type MediaState string

// Media states.
const (
	MediaPending MediaState = "pending" // not downloaded yet, or retrying
	MediaStored  MediaState = "stored"
	MediaFailed  MediaState = "failed" // given up
)

// Media is a stored file reference.
type Media struct {
	MediaID   string
	MimeType  string
	SHA256    string
	Filename  string
	Size      int64
	Path      string
	State     MediaState
	LastError string
}

const messageColumns = `m.id, coalesce(m.wamid, ''), m.conversation_id, m.direction, m.type, m.text, m.payload, m.context, m.referral,
	m.errors, m.extra, coalesce(m.group_id, ''), coalesce(m.status, ''), coalesce(m.status_at, 0), m.ts, n.phone_number_id,
	` + contactColumns + `,
	md.media_id, md.mime_type, md.sha256, md.filename, md.size, md.path, md.state, md.last_error,
	coalesce(m.origin, ''), coalesce(m.edited_at, 0), coalesce(m.revoked_at, 0),
	coalesce((SELECT coalesce(nullif(sc.name, ''), sc.wa_id, sc.user_id) FROM contacts sc WHERE sc.id = m.sender_contact_id), '')`

const messageJoins = `FROM messages m
	JOIN conversations cv ON cv.id = m.conversation_id
	JOIN business_numbers n ON n.id = cv.business_number_id
	JOIN contacts c ON c.id = cv.contact_id
	LEFT JOIN media md ON md.message_id = m.id`

type scanner interface{ Scan(...any) error }

func scanMessage(r scanner) (*Message, error) {
	var m Message
	var payload, ctx, ref, errs, extra sql.NullString
	var mediaID, mime, sum, fname, path, state, lastErr sql.NullString
	var size sql.NullInt64
	dst := []any{&m.ID, &m.WAMID, &m.ConversationID, &m.Direction, &m.Type, &m.Text, &payload, &ctx, &ref,
		&errs, &extra, &m.GroupID, &m.Status, &m.StatusAt, &m.TS, &m.PhoneNumberID}
	dst = append(dst, m.Contact.scanDest()...)
	dst = append(dst, &mediaID, &mime, &sum, &fname, &size, &path, &state, &lastErr)
	dst = append(dst, &m.Origin, &m.EditedAt, &m.RevokedAt, &m.SenderName)
	if err := r.Scan(dst...); err != nil {
		return nil, err
	}
	m.Contact.fromNull()
	m.Payload, m.Context, m.Referral, m.Errors, m.Extra = bytesOf(payload), bytesOf(ctx), bytesOf(ref), bytesOf(errs), bytesOf(extra)
	if state.Valid {
		m.Media = &Media{MediaID: mediaID.String, MimeType: mime.String, SHA256: sum.String, Filename: fname.String,
			Size: size.Int64, Path: path.String, State: MediaState(state.String), LastError: lastErr.String}
	}
	return &m, nil
}

func bytesOf(s sql.NullString) []byte {
	if !s.Valid {
		return nil
	}
	return []byte(s.String)
}

// MessageByWAMID returns one message by Meta's message id.
func (s *Store) MessageByWAMID(ctx context.Context, wamid string) (*Message, error) {
	return s.messageWhere(ctx, "m.wamid = ?", wamid)
}

func (s *Store) messageWhere(ctx context.Context, cond string, arg any) (*Message, error) {
	row := s.rdb.QueryRowContext(ctx, "SELECT "+messageColumns+" "+messageJoins+" WHERE "+cond, arg)
	m, err := scanMessage(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: message: %w", err)
	}
	return m, nil
}

// Page selects a slice of a newest-first list. Before is an opaque cursor
// (the id of the last item seen); zero starts at the newest.
type Page struct {
	Limit  int
	Before int64
}

func (p Page) limit() int {
	switch {
	case p.Limit <= 0:
		return 50
	case p.Limit > 500:
		return 500
	}
	return p.Limit
}

// ContactMessages lists a contact's messages across all business numbers,
// newest first. next is the cursor for the following page, or 0 at the end.
func (s *Store) ContactMessages(ctx context.Context, contactID int64, p Page) (msgs []*Message, next int64, err error) {
	before := p.Before
	if before <= 0 {
		before = 1<<63 - 1
	}
	lim := p.limit()
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+messageColumns+" "+messageJoins+`
		WHERE cv.contact_id = ? AND m.id < ? ORDER BY m.id DESC LIMIT ?`, contactID, before, lim+1)
	if err != nil {
		return nil, 0, fmt.Errorf("store: contact messages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("store: contact messages: %w", err)
		}
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("store: contact messages: %w", err)
	}
	if len(msgs) > lim {
		msgs = msgs[:lim]
		next = msgs[lim-1].ID
	}
	return msgs, next, nil
}

// StatusHistory is one receipt of a message.
type StatusHistory struct {
	Status  string
	TS      int64
	Errors  []byte
	Pricing []byte // Meta's pricing object, on the receipt that carried it
}

// MessageStatuses returns a message's receipts, oldest first.
func (s *Store) MessageStatuses(ctx context.Context, wamid string) ([]StatusHistory, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT status, ts, errors FROM message_statuses WHERE wamid = ? ORDER BY ts, id`, wamid)
	if err != nil {
		return nil, fmt.Errorf("store: statuses: %w", err)
	}
	defer rows.Close()
	var out []StatusHistory
	for rows.Next() {
		var h StatusHistory
		var errs sql.NullString
		if err := rows.Scan(&h.Status, &h.TS, &errs); err != nil {
			return nil, fmt.Errorf("store: statuses: %w", err)
		}
		h.Errors = bytesOf(errs)
		out = append(out, h)
	}
	return out, rows.Err()
}

// MessageByID returns one message by its local id (outbound messages have
// no wamid until Meta accepts them).
func (s *Store) MessageByID(ctx context.Context, id int64) (*Message, error) {
	return s.messageWhere(ctx, "m.id = ?", id)
}
