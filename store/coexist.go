package store

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Message origins (messages.origin); live Cloud API traffic has none.
const (
	OriginPhone      = "phone"       // sent by the owner from the WhatsApp Business app
	OriginHistory    = "history"     // imported from the app's chat history
	OriginGroupEvent = "group_event" // a group lifecycle, participant or settings update
)

// OutboundEcho is a message the owner sent from the WhatsApp Business app
// on a coexistence number (smb_message_echoes).
type OutboundEcho struct {
	Number  Number
	To      Party
	WAMID   string
	Type    string
	Text    sql.NullString
	Payload []byte
	Context []byte
	Extra   []byte
	TS      int64
	Media   *MediaRef
}

// HistoryChunk is one chunk of the app's chat history, stored as it came
// and imported later in small steps (ImportHistory).
type HistoryChunk struct {
	Number   Number
	Key      string // number, phase and order: a repeat is a no-op
	Phase    int64
	Order    int64
	Progress int64
	Value    []byte // the chunk; nil when the owner declined sharing
	Declined bool
	// InBody says Value is part of the delivery's body as it came: the
	// chunk is then not stored a second time, and the importer finds it
	// in the raw delivery by Key.
	InBody bool
}

// ContactSync is one entry of the app's address book (smb_app_state_sync).
type ContactSync struct {
	Number Number
	Action string // add or remove
	WaID   string
	Name   string
	TS     int64
}

// GroupUpdate is one update of a WhatsApp group (Groups API webhooks).
type GroupUpdate struct {
	Number  Number
	GroupID string
	Field   string
	Type    string
	Subject string // set on create and on a subject change
	TS      int64
	Raw     []byte
	Added   []Party
	Removed []Party
}

// ingestCoexistence stores the coexistence and group parts of a delivery,
// in the delivery's transaction. None of them opens or moves a customer's
// 24-hour window or counts as unread.
func ingestCoexistence(tx *Tx, d *Delivery, b *batch, deliveryID, now int64, res *IngestResult) error {
	for i := range d.Echoes {
		added, err := insertEcho(tx, b, &d.Echoes[i], deliveryID, now)
		if err != nil {
			return err
		}
		if added {
			res.Messages++
		}
	}
	for i := range d.History {
		if err := queueHistory(tx, &d.History[i], deliveryID, now); err != nil {
			return err
		}
	}
	for i := range d.ContactSyncs {
		if err := syncContact(tx, &d.ContactSyncs[i], now); err != nil {
			return err
		}
	}
	for i := range d.Groups {
		if err := applyGroupUpdate(tx, b, &d.Groups[i], deliveryID, now); err != nil {
			return err
		}
	}
	return nil
}

// quietConversation finds or creates the conversation of a number and a
// party without touching its window, unread count or status: what echoes
// and history need. A new one starts closed, so an import does not flood
// the open inbox.
func quietConversation(tx *Tx, b *batch, n Number, p Party, ts, now int64, status string) (int64, error) {
	numberID, ok := b.numbers[n.PhoneNumberID]
	if !ok {
		var err error
		if numberID, err = upsertNumber(tx, n, now); err != nil {
			return 0, err
		}
		b.numbers[n.PhoneNumberID] = numberID
	}
	contactID, ok := b.contacts[p]
	if !ok {
		var err error
		if contactID, err = upsertContact(tx, p, now); err != nil {
			return 0, err
		}
		b.contacts[p] = contactID
	}
	var id int64
	err := tx.QueryRow("SELECT id FROM conversations WHERE business_number_id = ? AND contact_id = ?", numberID, contactID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		id, _, err = tx.Insert(`INSERT INTO conversations(business_number_id, contact_id, status, last_message_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?)`, numberID, contactID, status, ts, now, now)
	}
	if err != nil {
		return 0, fmt.Errorf("store: conversation: %w", err)
	}
	return id, nil
}

// insertEcho stores a message sent from the app as an outbound message of
// the customer's conversation (created if there was none: the owner may
// write to someone new). An edit or revoke changes the message it names.
func insertEcho(tx *Tx, b *batch, e *OutboundEcho, deliveryID, now int64) (bool, error) {
	if e.To.WaID == "" && e.To.UserID == "" {
		return false, nil // no recipient: kept only in the raw delivery
	}
	convID, err := quietConversation(tx, b, e.Number, e.To, e.TS, now, "open")
	if err != nil {
		return false, err
	}
	msgID, inserted, err := tx.Insert(`INSERT INTO messages(wamid, conversation_id, direction, type, text, payload, context, extra, status, status_at, ts, created_at, delivery_id, origin)
		VALUES (?, ?, 'outbound', ?, ?, ?, ?, ?, 'sent', ?, ?, ?, ?, 'phone') ON CONFLICT(wamid) DO NOTHING`,
		e.WAMID, convID, e.Type, e.Text, nullJSON(e.Payload), nullJSON(e.Context), nullJSON(e.Extra), e.TS, e.TS, now, deliveryID)
	if err != nil {
		return false, fmt.Errorf("store: echo: %w", err)
	}
	if !inserted {
		return false, nil
	}
	if e.Media != nil {
		if _, err := tx.Exec(`INSERT INTO media(message_id, media_id, mime_type, sha256, filename) VALUES (?, ?, ?, ?, ?)`,
			msgID, e.Media.MediaID, e.Media.MimeType, e.Media.SHA256, e.Media.Filename); err != nil {
			return false, fmt.Errorf("store: echo media: %w", err)
		}
	}
	if _, err := tx.Exec(`UPDATE conversations SET last_message_at = max(last_message_at, ?), updated_at = ? WHERE id = ?`, e.TS, now, convID); err != nil {
		return false, fmt.Errorf("store: echo conversation: %w", err)
	}
	if e.Type == "edit" || e.Type == "revoke" {
		if err := applyRevision(tx, convID, e.WAMID, e.Type, e.Payload, e.TS); err != nil {
			return false, err
		}
	}
	if err := refreshStatus(tx, e.WAMID); err != nil {
		return false, err
	}
	return true, nil
}

// applyRevision applies an edit or revoke to the message it names, within
// the same conversation only (nobody edits someone else's message). The
// text before the change is kept in message_revisions, under the message's
// retention; the raw delivery keeps the rest under its own.
func applyRevision(tx *Tx, convID int64, wamid, kind string, payload []byte, ts int64) error {
	var p struct {
		Original string `json:"original_message_id"`
		Message  struct {
			Type string `json:"type"`
			Text struct {
				Body string `json:"body"`
			} `json:"text"`
			Caption string `json:"caption"`
		} `json:"message"`
	}
	if json.Unmarshal(payload, &p) != nil || p.Original == "" {
		return nil // unreadable: the edit itself is stored, nothing changes
	}
	var id int64
	var text sql.NullString
	err := tx.QueryRow("SELECT id, text FROM messages WHERE wamid = ? AND conversation_id = ?", p.Original, convID).Scan(&id, &text)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("store: revision target: %w", err)
	}
	if _, inserted, err := tx.Insert(`INSERT INTO message_revisions(message_id, kind, wamid, text, at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT(wamid) DO NOTHING`, id, kind, wamid, text, ts); err != nil || !inserted {
		if err != nil {
			return fmt.Errorf("store: revision: %w", err)
		}
		return nil
	}
	if kind == "revoke" {
		_, err = tx.Exec("UPDATE messages SET revoked_at = ?, text = NULL WHERE id = ?", ts, id)
	} else {
		body := p.Message.Text.Body
		if body == "" {
			body = p.Message.Caption
		}
		_, err = tx.Exec("UPDATE messages SET edited_at = ?, text = ? WHERE id = ?", ts, body, id)
	}
	if err != nil {
		return fmt.Errorf("store: revision apply: %w", err)
	}
	return nil
}

// syncContact takes a name from the app's address book for a customer
// Pforte already knows. It never creates a contact: the address book
// holds people who never wrote to the business, and their data has no
// place here (data minimisation). An erased person is never known again.
func syncContact(tx *Tx, c *ContactSync, now int64) error {
	if c.WaID == "" || c.Action != "add" || c.Name == "" {
		return nil // remove: the app forgot a name; the conversation stays
	}
	if _, err := tx.Exec("UPDATE contacts SET name = ?, updated_at = ? WHERE wa_id = ? AND group_id IS NULL AND name <> ?",
		c.Name, now, c.WaID, c.Name); err != nil {
		return fmt.Errorf("store: contact sync: %w", err)
	}
	return nil
}

// queueHistory keeps a chunk until the importer takes it; a repeated chunk
// (same number, phase and order) is ignored. A chunk that is in the raw
// delivery as it came is kept only there: the row points to it.
func queueHistory(tx *Tx, h *HistoryChunk, deliveryID, now int64) error {
	state := "pending"
	if h.Declined {
		state = "declined"
	}
	value, ref := nullJSON(h.Value), sql.NullInt64{}
	if h.InBody && !h.Declined && len(h.Value) > 0 {
		value, ref = sql.NullString{}, sql.NullInt64{Int64: deliveryID, Valid: true}
	}
	if _, err := tx.Exec(`INSERT INTO history_chunks(chunk_key, phone_number_id, waba_id, display_number, phase, chunk_order, progress, value, delivery_id, state, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(chunk_key) DO NOTHING`,
		h.Key, h.Number.PhoneNumberID, h.Number.WABAID, h.Number.DisplayPhoneNumber, h.Phase, h.Order, h.Progress, value, ref, state, now); err != nil {
		return fmt.Errorf("store: history chunk: %w", err)
	}
	return nil
}

// groupContact finds or creates the stand-in contact of a group.
func groupContact(tx *Tx, groupID, subject string, now int64) (int64, error) {
	var id int64
	err := tx.QueryRow("SELECT id FROM contacts WHERE group_id = ?", groupID).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		id, _, err = tx.Insert(`INSERT INTO contacts(group_id, name, created_at, updated_at) VALUES (?, ?, ?, ?)`, groupID, subject, now, now)
	case err == nil && subject != "":
		_, err = tx.Exec("UPDATE contacts SET name = ?, updated_at = ? WHERE id = ? AND name <> ?", subject, now, id, subject)
	}
	if err != nil {
		return 0, fmt.Errorf("store: group: %w", err)
	}
	return id, nil
}

// groupConversation finds or creates a group's conversation.
func groupConversation(tx *Tx, b *batch, n Number, groupID, subject string, ts, now int64) (contactID, convID int64, err error) {
	numberID, ok := b.numbers[n.PhoneNumberID]
	if !ok {
		if numberID, err = upsertNumber(tx, n, now); err != nil {
			return 0, 0, err
		}
		b.numbers[n.PhoneNumberID] = numberID
	}
	if contactID, err = groupContact(tx, groupID, subject, now); err != nil {
		return 0, 0, err
	}
	err = tx.QueryRow("SELECT id FROM conversations WHERE business_number_id = ? AND contact_id = ?", numberID, contactID).Scan(&convID)
	if errors.Is(err, sql.ErrNoRows) {
		convID, _, err = tx.Insert(`INSERT INTO conversations(business_number_id, contact_id, last_message_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?)`, numberID, contactID, ts, now, now)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("store: group conversation: %w", err)
	}
	return contactID, convID, nil
}

// addParticipant records that a contact is (again) in a group.
func addParticipant(tx *Tx, groupContactID, contactID, ts int64) error {
	_, err := tx.Exec(`INSERT INTO group_participants(group_contact_id, contact_id, joined_at) VALUES (?, ?, ?)
		ON CONFLICT(group_contact_id, contact_id) DO UPDATE SET left_at = NULL WHERE left_at IS NOT NULL`, groupContactID, contactID, ts)
	if err != nil {
		return fmt.Errorf("store: participant: %w", err)
	}
	return nil
}

// applyGroupUpdate shows an update as an event in the group's conversation
// (created for a group Pforte has not seen yet) and keeps the participant
// list. The event's id is derived from its content, so a repeat is a no-op.
func applyGroupUpdate(tx *Tx, b *batch, g *GroupUpdate, deliveryID, now int64) error {
	if g.GroupID == "" {
		return nil // kept only in the raw delivery
	}
	groupCID, convID, err := groupConversation(tx, b, g.Number, g.GroupID, g.Subject, g.TS, now)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(append([]byte(g.GroupID+"\x00"+g.Type+"\x00"), g.Raw...))
	wamid := "pforte.group." + hex.EncodeToString(sum[:16])
	text := sql.NullString{String: g.Subject, Valid: g.Subject != ""}
	_, inserted, err := tx.Insert(`INSERT INTO messages(wamid, conversation_id, direction, type, text, payload, ts, created_at, delivery_id, origin)
		VALUES (?, ?, 'inbound', ?, ?, ?, ?, ?, ?, 'group_event') ON CONFLICT(wamid) DO NOTHING`,
		wamid, convID, g.Type, text, nullJSON(g.Raw), g.TS, now, deliveryID)
	if err != nil {
		return fmt.Errorf("store: group event: %w", err)
	}
	if !inserted {
		return nil
	}
	for _, p := range g.Added {
		cid, err := upsertContact(tx, p, now)
		if err != nil {
			return err
		}
		if err := addParticipant(tx, groupCID, cid, g.TS); err != nil {
			return err
		}
	}
	for _, p := range g.Removed {
		if _, err := tx.Exec(`UPDATE group_participants SET left_at = ? WHERE group_contact_id = ? AND left_at IS NULL
			AND contact_id IN (SELECT id FROM contacts WHERE (wa_id = ?1 AND ?1 <> '') OR (user_id = ?2 AND ?2 <> ''))`,
			g.TS, groupCID, p.WaID, p.UserID); err != nil {
			return fmt.Errorf("store: participant left: %w", err)
		}
	}
	if _, err := tx.Exec("UPDATE conversations SET last_message_at = max(last_message_at, ?), updated_at = ? WHERE id = ?", g.TS, now, convID); err != nil {
		return fmt.Errorf("store: group conversation: %w", err)
	}
	return nil
}

// erasedIdentifier reports whether a phone number or user id belongs to an
// erased person: tombstones win over anything Meta sends again.
func erasedIdentifier(tx *Tx, key []byte, kind, v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(kind + ":" + v))
	var one int
	err := tx.QueryRow("SELECT 1 FROM erasure_tombstones WHERE hash = ?", hex.EncodeToString(m.Sum(nil))).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: tombstone: %w", err)
	}
	return true, nil
}

// GroupParticipants names the current members of a group (by its
// stand-in contact), as the panel shows them.
func (s *Store) GroupParticipants(ctx context.Context, groupContactID int64) ([]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT coalesce(nullif(c.name, ''), '+' || c.wa_id, c.user_id, '') FROM group_participants p
		JOIN contacts c ON c.id = p.contact_id WHERE p.group_contact_id = ? AND p.left_at IS NULL ORDER BY p.joined_at, p.id`, groupContactID)
	if err != nil {
		return nil, fmt.Errorf("store: participants: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("store: participants: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Revision is what a message said before an edit or revoke.
type Revision struct {
	Kind string // edit or revoke
	Text string
	At   int64
}

// SubjectRevisions returns the earlier texts of a person's messages (in
// their conversations, and their own group messages), by message id.
func (s *Store) SubjectRevisions(ctx context.Context, contactID int64) (map[int64][]Revision, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT r.message_id, r.kind, coalesce(r.text, ''), r.at FROM message_revisions r
		JOIN messages m ON m.id = r.message_id
		WHERE m.conversation_id IN (SELECT id FROM conversations WHERE contact_id = ?1) OR m.sender_contact_id = ?1
		ORDER BY r.message_id, r.at, r.id`, contactID)
	if err != nil {
		return nil, fmt.Errorf("store: revisions: %w", err)
	}
	defer rows.Close()
	out := map[int64][]Revision{}
	for rows.Next() {
		var id int64
		var r Revision
		if err := rows.Scan(&id, &r.Kind, &r.Text, &r.At); err != nil {
			return nil, fmt.Errorf("store: revisions: %w", err)
		}
		out[id] = append(out[id], r)
	}
	return out, rows.Err()
}
