package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
)

// OptInRound reads the inbound messages that arrived since the last round:
// a keyword of an entry point gets the confirmation with its button; a tap
// on that button records consent with its evidence; a tap on a campaign's
// unsubscribe quick reply records the withdrawal. The cursor is stored
// after each batch; every step is idempotent per message, so a crash
// between them repeats nothing the customer would see twice.
func (e *Engine) OptInRound(ctx context.Context) error {
	cursor, _, err := e.store.OptInCursor(ctx)
	if err != nil {
		return err
	}
	var entries []store.OptInEntry
	loaded := false
	for {
		msgs, err := e.store.InboundAfter(ctx, cursor, 500)
		if err != nil || len(msgs) == 0 {
			return err
		}
		if !loaded {
			if entries, err = e.store.OptInEntries(ctx); err != nil {
				return err
			}
			loaded = true
		}
		for _, m := range msgs {
			if err := e.handleInbound(ctx, entries, m); err != nil {
				return fmt.Errorf("message %d: %w", m.ID, err)
			}
			cursor = m.ID
		}
		if err := e.store.SetOptInCursor(ctx, cursor); err != nil {
			return err
		}
	}
}

// MatchKeyword finds the entry point a text asks for: the whole text,
// without case and surrounding space or punctuation, is its keyword.
func MatchKeyword(entries []store.OptInEntry, text, phoneNumberID string) *store.OptInEntry {
	t := normKeyword(text)
	if t == "" {
		return nil
	}
	for i := range entries {
		if entries[i].PhoneNumberID != "" && entries[i].PhoneNumberID != phoneNumberID {
			continue
		}
		if normKeyword(entries[i].Keyword) == t {
			return &entries[i]
		}
	}
	return nil
}

func normKeyword(s string) string {
	return strings.ToLower(strings.Join(strings.Fields(strings.Trim(strings.TrimSpace(s), ".!?,;:\"'")), " "))
}

func (e *Engine) handleInbound(ctx context.Context, entries []store.OptInEntry, m store.ReceivedMessage) error {
	switch m.Type {
	case "text":
		en := MatchKeyword(entries, m.Text, m.PhoneNumberID)
		if en == nil || m.WAMID == "" {
			return nil
		}
		req, err := e.store.StartOptIn(ctx, *en, m, e.cfg.Now())
		if err != nil || !req.Pending {
			return err
		}
		body := confirmationBody(m, *en, req.ID)
		out, err := e.sender.Enqueue(ctx, outbox.Request{PhoneNumberID: m.PhoneNumberID, Body: body, Actor: "optin",
			IdempotencyKey: "optin:" + strconv.FormatInt(req.ID, 10)})
		var r *outbox.Refusal
		if errors.As(err, &r) {
			// Restricted customer or closed window: no confirmation, no consent.
			e.log.Info("campaign: opt-in confirmation not sent", "request", req.ID, "reason", r.Reason)
			return nil
		}
		if err != nil {
			return err
		}
		return e.store.SetOptInConfirmation(ctx, req.ID, out.MessageID)
	case "interactive":
		var p struct {
			Type        string `json:"type"`
			ButtonReply struct {
				ID string `json:"id"`
			} `json:"button_reply"`
		}
		json.Unmarshal([]byte(m.Payload), &p)
		id, ok := strings.CutPrefix(p.ButtonReply.ID, store.OptInButtonPrefix)
		if !ok {
			return nil
		}
		reqID, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return nil
		}
		rec, err := e.store.ConfirmOptIn(ctx, reqID, m)
		if errors.Is(err, store.ErrOptInMismatch) {
			e.log.Warn("campaign: opt-in button does not answer a confirmation sent to this customer; no consent recorded", "message", m.ID)
			return nil
		}
		if err == nil && rec != nil {
			e.log.Info("campaign: double opt-in confirmed", "contact", m.ContactID, "consent", rec.ID)
		}
		return err
	case "button":
		var p struct {
			Payload string `json:"payload"`
		}
		json.Unmarshal([]byte(m.Payload), &p)
		if !strings.HasPrefix(p.Payload, store.UnsubscribePayload) {
			return nil
		}
		return e.unsubscribe(ctx, m)
	}
	return nil
}

// unsubscribe records the withdrawal a quick-reply tap asked for, unless
// the customer's newest marketing record is already an opt-out (a stop
// word in the button's text may have done it during ingest).
func (e *Engine) unsubscribe(ctx context.Context, m store.ReceivedMessage) error {
	recs, err := e.store.ConsentRecords(ctx, m.ContactID)
	if err != nil {
		return err
	}
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Purpose == store.PurposeMarketing {
			if recs[i].Action == store.OptOut {
				return nil
			}
			break
		}
	}
	_, err = e.store.RecordConsent(ctx, store.ConsentRecord{ContactID: m.ContactID, Purpose: store.PurposeMarketing, Action: store.OptOut,
		Source: "unsubscribe_button", Evidence: "message:" + m.WAMID, Actor: store.ActorCustomer, TS: m.TS})
	return err
}

func confirmationBody(m store.ReceivedMessage, en store.OptInEntry, reqID int64) []byte {
	msg := map[string]any{"messaging_product": "whatsapp", "type": "interactive",
		"interactive": map[string]any{"type": "button", "body": map[string]string{"text": en.Confirmation},
			"action": map[string]any{"buttons": []any{map[string]any{"type": "reply",
				"reply": map[string]string{"id": store.OptInButtonPrefix + strconv.FormatInt(reqID, 10), "title": en.Button}}}}}}
	if m.WaID != "" {
		msg["to"] = m.WaID
	} else {
		msg["recipient"] = m.UserID
	}
	b, _ := json.Marshal(msg)
	return b
}

// Link is the wa.me link an entry point's QR code and website snippet
// open: the chat with the business number, its keyword filled in.
func Link(displayPhoneNumber string, en store.OptInEntry) string {
	return "https://wa.me/" + digits(displayPhoneNumber) + "?text=" + url.QueryEscape(en.Keyword)
}

// Snippet is the website code for an entry point: a plain link styled as
// a button, no script, no tracking, nothing loaded from elsewhere.
func Snippet(displayPhoneNumber string, en store.OptInEntry, label string) string {
	if label == "" {
		label = "Per WhatsApp anmelden"
	}
	return `<a href="` + htmlEscape(Link(displayPhoneNumber, en)) + `" rel="noopener" ` +
		`style="display:inline-block;padding:.6em 1.2em;border-radius:.4em;background:#1f7a4d;color:#fff;text-decoration:none;font-weight:600">` +
		htmlEscape(label) + `</a>`
}

func htmlEscape(s string) string {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#39;")
	return r.Replace(s)
}
