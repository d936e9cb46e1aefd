package store

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// Origins of the contact card WhatsApp sends when a customer taps "share
// my number" under Meta's request_contact_info message (the interactive
// type was called contact_request until 2026-05-28; both are accepted).
const (
	originContactRequest     = "contact_request"
	originRequestContactInfo = "request_contact_info"
)

// applySharedNumber fills in the phone number of a customer known only by
// their BSUID when they share it: a contact card from WhatsApp's own
// button, in reply to the request_contact_info message Pforte sent to this
// very customer. Any other card (a friend's number, a card typed by hand)
// changes nothing. A number another contact already has stays there; the
// address book's merge joins the two. The change is audited.
func applySharedNumber(tx *Tx, contactID int64, m *InboundMessage, now int64) error {
	waID := sharedOwnNumber(m.Payload)
	if waID == "" {
		return nil
	}
	var ctx struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(m.Context, &ctx) != nil || ctx.ID == "" {
		return nil
	}
	var asked bool
	err := tx.QueryRow(`SELECT EXISTS (SELECT 1 FROM messages q JOIN conversations c ON c.id = q.conversation_id
		WHERE q.wamid = ? AND q.direction = 'outbound' AND q.type = 'interactive' AND c.contact_id = ?
			AND (instr(q.payload, '"request_contact_info"') > 0 OR instr(q.payload, '"contact_request"') > 0))`,
		ctx.ID, contactID).Scan(&asked)
	if err != nil {
		return fmt.Errorf("store: shared number: %w", err)
	}
	if !asked {
		return nil
	}
	res, err := tx.Exec(`UPDATE contacts SET wa_id = ?1, updated_at = ?2
		WHERE id = ?3 AND wa_id IS NULL AND NOT EXISTS (SELECT 1 FROM contacts o WHERE o.wa_id = ?1)`, waID, now, contactID)
	if err != nil {
		return fmt.Errorf("store: shared number: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	return AuditTx(tx, AuditEntry{TS: now, Actor: ActorCustomer, Action: AuditContactNumberShared,
		Target: "contact:" + strconv.FormatInt(contactID, 10), Detail: "wamid " + m.WAMID})
}

// sharedOwnNumber returns the wa_id of a contacts payload that is the
// answer to request_contact_info: one card, marked by its origin, with one
// number in digits; "" otherwise.
func sharedOwnNumber(payload []byte) string {
	var cards []struct {
		Origin string `json:"origin"`
		Phones []struct {
			WaID string `json:"wa_id"`
		} `json:"phones"`
	}
	if json.Unmarshal(payload, &cards) != nil || len(cards) != 1 {
		return ""
	}
	c := cards[0]
	if (c.Origin != originContactRequest && c.Origin != originRequestContactInfo) || len(c.Phones) != 1 {
		return ""
	}
	w := c.Phones[0].WaID
	if len(w) < 6 || len(w) > 15 {
		return ""
	}
	for _, r := range w {
		if r < '0' || r > '9' {
			return ""
		}
	}
	return w
}
