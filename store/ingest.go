package store

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Party identifies a customer: by phone number (WaID), business-scoped user
// id (UserID), or both.
type Party struct {
	WaID         string
	UserID       string
	ParentUserID string
	Username     string
	Name         string
}

// Number is a business phone number as named in a webhook's metadata.
type Number struct {
	PhoneNumberID      string
	DisplayPhoneNumber string
	WABAID             string
}

// InboundMessage is one customer message, normalised from a webhook.
type InboundMessage struct {
	Number   Number
	From     Party
	WAMID    string
	Type     string
	Text     sql.NullString
	Payload  []byte
	Context  []byte
	Referral []byte
	Errors   []byte
	Extra    []byte
	GroupID  string
	TS       int64
	Media    *MediaRef
}

// MediaRef is what a webhook says about an attached file.
type MediaRef struct {
	MediaID  string
	MimeType string
	SHA256   string
	Filename string
}

// StatusUpdate is one delivery receipt from a webhook.
type StatusUpdate struct {
	WAMID        string
	Status       string
	TS           int64
	Recipient    Party
	Errors       []byte
	Pricing      []byte
	Conversation []byte
	CallbackData string
}

// Event is any other part of a delivery, kept raw.
type Event struct {
	WABAID        string
	Field         string
	PhoneNumberID string
	TS            int64
	Value         []byte
}

// Delivery is one verified webhook POST, parsed.
type Delivery struct {
	Body       []byte
	ReceivedAt time.Time
	ParseError string
	// Unreadable counts, by kind, the items that could not be read; each
	// is kept raw as an event, and everything else is stored as usual.
	Unreadable map[string]int
	Messages   []InboundMessage
	Statuses   []StatusUpdate
	Events     []Event
	// Coexistence and groups (coexist.go).
	Echoes       []OutboundEcho
	History      []HistoryChunk
	ContactSyncs []ContactSync
	Groups       []GroupUpdate
}

// IngestResult counts what a delivery added; redelivered items count zero.
type IngestResult struct {
	Duplicate bool // the exact body was stored before
	Messages  int
	Statuses  int
	Events    int
	Fanout    int // fan-out queue rows added, one per matching subscription
}

// Ingest stores a delivery durably: the raw body and everything in it, in
// one group commit. It returns only after the commit has been fsynced.
func (s *Store) Ingest(ctx context.Context, d *Delivery) (IngestResult, error) {
	var res IngestResult
	sum := sha256.Sum256(d.Body)
	err := s.Write(ctx, func(tx *Tx) error {
		res = IngestResult{}
		return ingest(tx, d, sum[:], &res)
	})
	if err != nil {
		// A caller that gave up may return before fn ran: never read res then.
		return IngestResult{}, err
	}
	if res.Fanout > 0 {
		s.signalFanout()
	}
	return res, nil
}

func ingest(tx *Tx, d *Delivery, sum []byte, res *IngestResult) error {
	now := d.ReceivedAt.Unix()
	var parseErr sql.NullString
	if d.ParseError != "" {
		parseErr = sql.NullString{String: d.ParseError, Valid: true}
	}
	dup, byHash, err := redelivery(tx, d, sum)
	if err != nil {
		return err
	}
	if dup {
		// The same bytes were committed before, together with all they contain.
		res.Duplicate = true
		return nil
	}
	events := fanoutEvents(d)
	deliveryID, inserted, err := tx.Insert(`INSERT INTO deliveries(sha256, body, received_at, parse_error, fanout_events, by_hash)
		VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, sum, d.Body, now, parseErr, int(events), byHash)
	if err == nil && !inserted {
		res.Duplicate = true // found by its hash
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: delivery: %w", err)
	}
	if err := enqueueFanout(tx, d, events, deliveryID, res); err != nil {
		return err
	}
	b := batch{numbers: map[string]int64{}, contacts: map[Party]int64{}, convs: map[[2]int64]*convUpdate{}, groups: map[string]int64{}}
	for i := range d.Messages {
		added, err := b.insertInbound(tx, &d.Messages[i], deliveryID, now)
		if err != nil {
			return err
		}
		if added {
			res.Messages++
		}
	}
	if err := b.updateConversations(tx, now); err != nil {
		return err
	}
	if err := ingestCoexistence(tx, d, &b, deliveryID, now, res); err != nil {
		return err
	}
	for i := range d.Statuses {
		added, err := applyStatus(tx, &d.Statuses[i], deliveryID, now)
		if err != nil {
			return err
		}
		if added {
			res.Statuses++
		}
	}
	for _, e := range d.Events {
		if _, err := tx.Exec(`INSERT INTO events(delivery_id, waba_id, field, phone_number_id, ts, value, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, deliveryID, e.WABAID, e.Field, e.PhoneNumberID, e.TS, string(e.Value), now); err != nil {
			return fmt.Errorf("store: event: %w", err)
		}
		if isTemplateField(e.Field) {
			// Outlives the raw event, which retention purges.
			if err := learnTemplate(tx, &e); err != nil {
				return err
			}
		}
		if isHealthField(e.Field) {
			if err := applyHealth(tx, &e, now); err != nil {
				return err
			}
		}
		res.Events++
	}
	return noteWebhook(tx, deliveryNumbers(d), now)
}

// deliveryNumbers are the business numbers a delivery speaks for.
func deliveryNumbers(d *Delivery) map[string]bool {
	out := map[string]bool{}
	for i := range d.Messages {
		out[d.Messages[i].Number.PhoneNumberID] = true
	}
	for i := range d.Events {
		out[d.Events[i].PhoneNumberID] = true
	}
	return out
}

// redelivery tells whether these exact bytes were stored before, and how
// the delivery will be found again. A body is a function of its first
// message (or receipt): a redelivery repeats both. So when that first item
// is new, the delivery becomes its anchor and needs no index of its own;
// random hashes in an index cost a different page on every insert. A body
// without such an item, or whose first item came in another delivery, is
// kept in the hash index (byHash).
func redelivery(tx *Tx, d *Delivery, sum []byte) (dup, byHash bool, err error) {
	var have []byte
	// Subqueries, not joins: see resolve.
	switch {
	case len(d.Messages) > 0:
		err = tx.QueryRow(`SELECT coalesce((SELECT d.sha256 FROM deliveries d WHERE d.id = m.delivery_id), x'')
			FROM messages m WHERE m.wamid = ?`, d.Messages[0].WAMID).Scan(&have)
	case len(d.Statuses) > 0:
		err = tx.QueryRow(`SELECT coalesce((SELECT d.sha256 FROM deliveries d WHERE d.id = s.delivery_id), x'')
			FROM message_statuses s WHERE s.wamid = ? AND s.status = ?`, d.Statuses[0].WAMID, d.Statuses[0].Status).Scan(&have)
	default:
		return false, true, nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("store: redelivery: %w", err)
	}
	return bytes.Equal(have, sum), true, nil
}

// batch remembers, within one delivery, the rows its messages share, so a
// batch of a hundred messages from one customer touches the contact and
// the conversation once, not a hundred times.
type batch struct {
	numbers  map[string]int64
	contacts map[Party]int64
	convs    map[[2]int64]*convUpdate
	order    []*convUpdate
	groups   map[string]int64 // group id → its stand-in contact
}

type convUpdate struct {
	id          int64
	added       int
	lastInbound int64
	reopen      bool   // a message other than a survey's button answer came
	firstText   string // the delivery's first text: a survey's comment, if one was just answered
}

func (b *batch) insertInbound(tx *Tx, m *InboundMessage, deliveryID, now int64) (bool, error) {
	contactID, cu, err := b.resolve(tx, m, now)
	if err != nil {
		return false, err
	}
	// A group message names the member who wrote it; a 1:1 message does not.
	var sender sql.NullInt64
	if m.GroupID != "" {
		sender = sql.NullInt64{Int64: contactID, Valid: true}
	}
	// The unique wamid makes a redelivered message a no-op.
	msgID, inserted, err := tx.Insert(`INSERT INTO messages(wamid, conversation_id, direction, type, text, payload, context, referral, errors, extra, group_id, ts, created_at, delivery_id, sender_contact_id)
		VALUES (?, ?, 'inbound', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(wamid) DO NOTHING`,
		m.WAMID, cu.id, m.Type, m.Text, nullJSON(m.Payload), nullJSON(m.Context), nullJSON(m.Referral),
		nullJSON(m.Errors), nullJSON(m.Extra), nullString(m.GroupID), m.TS, now, deliveryID, sender)
	if err != nil {
		return false, fmt.Errorf("store: message: %w", err)
	}
	if !inserted {
		return false, nil
	}
	cu.added++
	cu.lastInbound = max(cu.lastInbound, m.TS)
	answered, err := recordSurveyAnswer(tx, cu.id, m, now)
	if err != nil {
		return false, err
	}
	if !answered {
		cu.reopen = true
	}
	if cu.firstText == "" && m.Type == "text" && m.Text.Valid {
		cu.firstText = m.Text.String
	}
	if m.Media != nil {
		if _, err := tx.Exec(`INSERT INTO media(message_id, media_id, mime_type, sha256, filename) VALUES (?, ?, ?, ?, ?)`,
			msgID, m.Media.MediaID, m.Media.MimeType, m.Media.SHA256, m.Media.Filename); err != nil {
			return false, fmt.Errorf("store: media: %w", err)
		}
	}
	if m.Type == "edit" || m.Type == "revoke" {
		if err := applyRevision(tx, cu.id, m.WAMID, m.Type, m.Payload, m.TS); err != nil {
			return false, err
		}
	}
	if m.Type == "text" && m.Text.Valid {
		if err := applyStopWord(tx, contactID, m.WAMID, m.Text.String, m.TS); err != nil {
			return false, err
		}
	}
	if m.Type == "contacts" && m.From.WaID == "" && len(m.Context) > 0 {
		if err := applySharedNumber(tx, contactID, m, now); err != nil {
			return false, err
		}
	}
	return true, nil
}

// resolve finds the business number, contact and conversation of a
// message, creating or updating what is missing or changed. Three simple
// lookups beat one query that joins them: SQLite answers a lookup by one
// unique key without running its full planner, and a join through a table
// with a partial index makes it re-prepare the statement on every bind.
func (b *batch) resolve(tx *Tx, m *InboundMessage, now int64) (contactID int64, cu *convUpdate, err error) {
	numberID, ok := b.numbers[m.Number.PhoneNumberID]
	if !ok {
		if numberID, err = upsertNumber(tx, m.Number, now); err != nil {
			return 0, nil, err
		}
		b.numbers[m.Number.PhoneNumberID] = numberID
	}
	contactID, ok = b.contacts[m.From]
	if !ok {
		if contactID, err = upsertContact(tx, m.From, now); err != nil {
			return 0, nil, err
		}
		b.contacts[m.From] = contactID
	}
	// A group message belongs to the group's conversation, never to the
	// member's own one, whose window it must not move; the group's window
	// is the one any member's message opens.
	convContact := contactID
	if m.GroupID != "" {
		gid, ok := b.groups[m.GroupID]
		if !ok {
			if gid, err = groupContact(tx, m.GroupID, "", now); err != nil {
				return 0, nil, err
			}
			b.groups[m.GroupID] = gid
		}
		if err := addParticipant(tx, gid, contactID, m.TS); err != nil {
			return 0, nil, err
		}
		convContact = gid
	}
	if cu = b.convs[[2]int64{numberID, convContact}]; cu != nil {
		return contactID, cu, nil
	}
	var id int64
	err = tx.QueryRow("SELECT id FROM conversations WHERE business_number_id = ? AND contact_id = ?", numberID, convContact).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		id, _, err = tx.Insert(`INSERT INTO conversations(business_number_id, contact_id, last_message_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?)`, numberID, convContact, m.TS, now, now)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("store: conversation: %w", err)
	}
	cu = &convUpdate{id: id}
	b.convs[[2]int64{numberID, convContact}] = cu
	b.order = append(b.order, cu)
	return contactID, cu, nil
}

// updateConversations moves each touched conversation's unread count and
// customer-service window forward once per delivery.
func (b *batch) updateConversations(tx *Tx, now int64) error {
	for _, cu := range b.order {
		// A customer writing again reopens a closed conversation; a
		// satisfaction survey's button answer alone does not.
		if _, err := tx.Exec(`UPDATE conversations SET unread = unread + ?, status = CASE WHEN ? THEN 'open' ELSE status END,
				last_inbound_at = max(coalesce(last_inbound_at, 0), ?), last_message_at = max(last_message_at, ?), updated_at = ?
			WHERE id = ?`, cu.added, cu.reopen, cu.lastInbound, cu.lastInbound, now, cu.id); err != nil {
			return fmt.Errorf("store: conversation update: %w", err)
		}
		if cu.firstText != "" {
			if err := recordSurveyComment(tx, cu.id, cu.firstText, now); err != nil {
				return err
			}
		}
	}
	return nil
}

func upsertNumber(tx *Tx, n Number, now int64) (int64, error) {
	if c, ok := tx.numbers[n.PhoneNumberID]; ok && !numberChanged(c.waba, c.display, n) {
		return c.id, nil
	}
	var c numberRow
	err := tx.QueryRow("SELECT id, waba_id, display_phone_number FROM business_numbers WHERE phone_number_id = ?", n.PhoneNumberID).Scan(&c.id, &c.waba, &c.display)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		c = numberRow{waba: n.WABAID, display: n.DisplayPhoneNumber}
		c.id, err = insertNumber(tx, n, now)
	case err != nil:
		err = fmt.Errorf("store: business number: %w", err)
	case numberChanged(c.waba, c.display, n):
		err = updateNumber(tx, c.id, n)
		c.waba, c.display = cmp.Or(n.WABAID, c.waba), cmp.Or(n.DisplayPhoneNumber, c.display)
	}
	if err != nil {
		return 0, err
	}
	tx.numbers[n.PhoneNumberID] = c
	return c.id, nil
}

// numberChanged reports whether a webhook names an account or display
// number the stored row does not have yet.
func numberChanged(waba, display string, n Number) bool {
	return (n.WABAID != "" && n.WABAID != waba) || (n.DisplayPhoneNumber != "" && n.DisplayPhoneNumber != display)
}

// upsertContact finds the customer by user id, then by phone number, and
// creates or updates them (see updateContact).
func upsertContact(tx *Tx, p Party, now int64) (int64, error) {
	var c Contact
	err := sql.ErrNoRows
	const q = "SELECT " + contactColumns + " FROM contacts c WHERE "
	if p.UserID != "" {
		err = tx.QueryRow(q+"c.user_id = ?", p.UserID).Scan(c.scanDest()...)
	}
	if errors.Is(err, sql.ErrNoRows) && p.WaID != "" {
		err = tx.QueryRow(q+"c.wa_id = ?", p.WaID).Scan(c.scanDest()...)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return insertContact(tx, p, now)
	}
	if err != nil {
		return 0, fmt.Errorf("store: contact lookup: %w", err)
	}
	c.fromNull()
	return c.ID, updateContact(tx, &c, p, now)
}

func insertNumber(tx *Tx, n Number, now int64) (int64, error) {
	id, _, err := tx.Insert(`INSERT INTO business_numbers(phone_number_id, waba_id, display_phone_number, created_at) VALUES (?, ?, ?, ?)`,
		n.PhoneNumberID, n.WABAID, n.DisplayPhoneNumber, now)
	if err != nil {
		return 0, fmt.Errorf("store: business number: %w", err)
	}
	return id, nil
}

// updateNumber fills in the account and display number a webhook names.
func updateNumber(tx *Tx, id int64, n Number) error {
	if _, err := tx.Exec(`UPDATE business_numbers SET waba_id = coalesce(nullif(?, ''), waba_id),
		display_phone_number = coalesce(nullif(?, ''), display_phone_number) WHERE id = ?`, n.WABAID, n.DisplayPhoneNumber, id); err != nil {
		return fmt.Errorf("store: business number: %w", err)
	}
	return nil
}

func insertContact(tx *Tx, p Party, now int64) (int64, error) {
	id, _, err := tx.Insert(`INSERT INTO contacts(wa_id, user_id, parent_user_id, username, name, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		nullString(p.WaID), nullString(p.UserID), nullString(p.ParentUserID), nullString(p.Username), p.Name, now, now)
	if err != nil {
		return 0, fmt.Errorf("store: contact: %w", err)
	}
	return id, nil
}

// updateContact fills in whichever identifier was missing and takes new
// profile details. It never fails on a conflict: an identifier already
// owned by another contact is left where it is. The row is written only
// when something changed.
func updateContact(tx *Tx, c *Contact, p Party, now int64) error {
	changed := func(have, want string) bool { return want != "" && want != have }
	if !(c.WaID == "" && p.WaID != "") && !(c.UserID == "" && p.UserID != "") &&
		!changed(c.ParentUserID, p.ParentUserID) && !changed(c.Username, p.Username) && !changed(c.Name, p.Name) {
		return nil
	}
	_, err := tx.Exec(`UPDATE contacts SET
			wa_id = CASE WHEN wa_id IS NULL AND ?1 <> '' AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.wa_id = ?1) THEN ?1 ELSE wa_id END,
			user_id = CASE WHEN user_id IS NULL AND ?2 <> '' AND NOT EXISTS (SELECT 1 FROM contacts c WHERE c.user_id = ?2) THEN ?2 ELSE user_id END,
			parent_user_id = coalesce(nullif(?3, ''), parent_user_id),
			username = coalesce(nullif(?4, ''), username),
			name = coalesce(nullif(?5, ''), name),
			updated_at = ?6
		WHERE id = ?7`, p.WaID, p.UserID, p.ParentUserID, p.Username, p.Name, now, c.ID)
	if err != nil {
		return fmt.Errorf("store: contact update: %w", err)
	}
	return nil
}

func applyStatus(tx *Tx, st *StatusUpdate, deliveryID, now int64) (bool, error) {
	res, err := tx.Exec(`INSERT INTO message_statuses(wamid, status, ts, recipient_wa_id, recipient_user_id, errors, pricing, conversation, callback_data, delivery_id, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(wamid, status) DO NOTHING`,
		st.WAMID, st.Status, st.TS, nullString(st.Recipient.WaID), nullString(st.Recipient.UserID),
		nullJSON(st.Errors), nullJSON(st.Pricing), nullJSON(st.Conversation), nullString(st.CallbackData), deliveryID, now)
	if err != nil {
		return false, fmt.Errorf("store: status: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil // applied before
	}
	if err := refreshStatus(tx, st.WAMID); err != nil {
		return false, err
	}
	if st.Recipient.Name != "" || st.Recipient.Username != "" {
		// Since 2026 receipts name the recipient; keep the contact current.
		if _, err := tx.Exec(`UPDATE contacts SET name = coalesce(nullif(?, ''), name), username = coalesce(nullif(?, ''), username)
			WHERE id = (SELECT c.contact_id FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.wamid = ?)`,
			st.Recipient.Name, st.Recipient.Username, st.WAMID); err != nil {
			return false, fmt.Errorf("store: status contact: %w", err)
		}
	}
	return true, nil
}

// refreshStatus derives a message's status from its receipt history, so the
// result is the same whatever order the receipts arrived in. A message that
// is not stored (yet) is left alone; it picks up the history when inserted.
func refreshStatus(tx *Tx, wamid string) error {
	_, err := tx.Exec(`UPDATE messages SET (status, status_at, errors) = (
			SELECT s.status, s.ts, CASE WHEN s.status = 'failed' THEN s.errors ELSE messages.errors END
			FROM message_statuses s WHERE s.wamid = messages.wamid
			ORDER BY `+statusRankSQL+` DESC, s.ts DESC LIMIT 1)
		WHERE wamid = ? AND direction = 'outbound'
		  AND EXISTS (SELECT 1 FROM message_statuses s WHERE s.wamid = messages.wamid AND `+statusRankSQL+` > 0)`, wamid)
	if err != nil {
		return fmt.Errorf("store: refresh status: %w", err)
	}
	return nil
}

// statusRankSQL orders receipts: a message's status only moves forward, so a
// late "delivered" never overwrites "read"; failed is terminal; unknown
// values are kept in the history but never change the state.
const statusRankSQL = `CASE s.status WHEN 'accepted' THEN 1 WHEN 'sent' THEN 2 WHEN 'delivered' THEN 3
	WHEN 'read' THEN 4 WHEN 'played' THEN 5 WHEN 'failed' THEN 6 ELSE 0 END`

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func nullJSON(b []byte) sql.NullString {
	if len(b) == 0 || string(b) == "null" {
		return sql.NullString{}
	}
	return sql.NullString{String: string(b), Valid: true}
}
