package simulator

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// change wraps one value of any field in Meta's notification envelope,
// with the number's metadata, as coexistence and group webhooks carry it.
func change(o Options, field string, value map[string]any) []byte {
	value["messaging_product"] = "whatsapp"
	value["metadata"] = map[string]string{"display_phone_number": o.DisplayPhoneNumber, "phone_number_id": o.PhoneNumberID}
	b, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{"id": o.WABAID, "time": time.Now().Unix(),
			"changes": []any{map[string]any{"field": field, "value": value}}}},
	})
	return b
}

// PostEcho is the owner writing to a customer from the WhatsApp Business
// app on a coexistence number: Meta sends an smb_message_echoes webhook.
func (s *Simulator) PostEcho(ctx context.Context, toWaID, text string) (string, int, error) {
	o := s.snapshot()
	wamid := newWAMID(toWaID)
	body := change(o, "smb_message_echoes", map[string]any{"message_echoes": []any{map[string]any{
		"from": o.DisplayPhoneNumber, "to": toWaID, "id": wamid, "timestamp": strconv.FormatInt(time.Now().Unix(), 10),
		"type": "text", "text": map[string]string{"body": text}}}})
	st, err := s.PostWebhook(ctx, body)
	return wamid, st, err
}

// HistoryThread is one chat of a synced history.
type HistoryThread struct {
	WaID     string
	Messages []HistoryLine
}

// HistoryLine is one message of a synced history.
type HistoryLine struct {
	FromBusiness bool
	Text         string
	At           time.Time
	WAMID        string // generated when empty
}

// HistoryChunk builds one history webhook: the chunk's threads with Meta's
// phase, chunk order and progress.
func (s *Simulator) HistoryChunk(phase, order, progress int, threads []HistoryThread) []byte {
	o := s.snapshot()
	var ts []any
	for _, t := range threads {
		var msgs []any
		for _, l := range t.Messages {
			id := l.WAMID
			if id == "" {
				id = newWAMID(t.WaID)
			}
			m := map[string]any{"id": id, "timestamp": strconv.FormatInt(l.At.Unix(), 10), "type": "text",
				"text": map[string]string{"body": l.Text}, "history_context": map[string]string{"status": "READ"}}
			if l.FromBusiness {
				m["from"], m["to"] = o.DisplayPhoneNumber, t.WaID
			} else {
				m["from"] = t.WaID
			}
			msgs = append(msgs, m)
		}
		ts = append(ts, map[string]any{"id": t.WaID, "messages": msgs})
	}
	return change(o, "history", map[string]any{"history": []any{map[string]any{
		"metadata": map[string]int{"phase": phase, "chunk_order": order, "progress": progress}, "threads": ts}}})
}

// PostHistory delivers a history chunk built with HistoryChunk.
func (s *Simulator) PostHistory(ctx context.Context, body []byte) (int, error) {
	return s.PostWebhook(ctx, body)
}

// CreateGroup announces a new group (group_lifecycle_update, group_create)
// and returns its id.
func (s *Simulator) CreateGroup(ctx context.Context, subject string) (string, int, error) {
	o := s.snapshot()
	id := "Y2FwaV9ncm91cD" + randomID(12)
	body := change(o, "group_lifecycle_update", map[string]any{"groups": []any{map[string]any{
		"timestamp": strconv.FormatInt(time.Now().Unix(), 10), "group_id": id, "type": "group_create",
		"request_id": randomID(16), "subject": subject, "invite_link": "https://chat.whatsapp.com/" + randomID(10),
		"join_approval_mode": "auto_approve"}}})
	st, err := s.PostWebhook(ctx, body)
	return id, st, err
}

// JoinGroup is a customer joining a group by its invite link.
func (s *Simulator) JoinGroup(ctx context.Context, groupID string, c Customer) (int, error) {
	o := s.snapshot()
	body := change(o, "group_participants_update", map[string]any{"groups": []any{map[string]any{
		"timestamp": strconv.FormatInt(time.Now().Unix(), 10), "group_id": groupID, "type": "group_participants_add",
		"reason": "invite_link", "added_participants": []any{map[string]string{"wa_id": c.WaID}}}}})
	return s.PostWebhook(ctx, body)
}

// WriteGroup is customer c writing a text in a group: a messages webhook
// whose message carries the group's id, the sender in contacts.
func (s *Simulator) WriteGroup(ctx context.Context, c Customer, groupID, text string) (string, int, error) {
	o := s.snapshot()
	wamid := newWAMID(c.key())
	msg := map[string]any{"from": c.WaID, "group_id": groupID, "id": wamid, "timestamp": strconv.FormatInt(time.Now().Unix(), 10),
		"type": "text", "text": map[string]string{"body": text}}
	body := envelope(o, o.PhoneNumberID, map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]string{"name": c.Name}, "wa_id": c.WaID}},
		"messages": []any{msg}})
	s.mu.Lock()
	s.windows[groupID] = time.Now() // a member's message opens the group's window
	s.mu.Unlock()
	st, err := s.PostWebhook(ctx, body)
	return wamid, st, err
}

// Interactive is an interactive message the business sent, as the
// customer's phone shows it: the choices they can tap.
type Interactive struct {
	WAMID   string
	Kind    string   // button or list
	Choices []Choice // reply buttons, or every row of every section
}

// Choice is a button or list row.
type Choice struct{ ID, Title, Description string }

// LastInteractive returns the newest interactive message (buttons or list)
// the simulator accepted for a customer.
func (s *Simulator) LastInteractive(c Customer) (*Interactive, bool) {
	reqs := s.Accepted()
	for i := len(reqs) - 1; i >= 0; i-- {
		r := reqs[i]
		if r.Type != "interactive" || r.To != c.key() {
			continue
		}
		var body struct {
			Interactive struct {
				Type   string `json:"type"`
				Action struct {
					Buttons []struct {
						Reply struct{ ID, Title string } `json:"reply"`
					} `json:"buttons"`
					Sections []struct {
						Rows []struct{ ID, Title, Description string } `json:"rows"`
					} `json:"sections"`
				} `json:"action"`
			} `json:"interactive"`
		}
		if json.Unmarshal(r.Body, &body) != nil {
			continue
		}
		it := &Interactive{WAMID: r.WAMID, Kind: body.Interactive.Type}
		for _, b := range body.Interactive.Action.Buttons {
			it.Choices = append(it.Choices, Choice{ID: b.Reply.ID, Title: b.Reply.Title})
		}
		for _, sec := range body.Interactive.Action.Sections {
			for _, row := range sec.Rows {
				it.Choices = append(it.Choices, Choice(row))
			}
		}
		return it, true
	}
	return nil, false
}

// Tap is customer c tapping a reply button or list row of an interactive
// message: Meta sends an interactive button_reply or list_reply whose
// context names the message tapped.
func (s *Simulator) Tap(ctx context.Context, c Customer, it *Interactive, choice Choice) (string, int, error) {
	if it == nil {
		return "", 0, fmt.Errorf("simulator: nothing to tap")
	}
	o := s.snapshot()
	wamid := newWAMID(c.key())
	reply := map[string]any{"type": "button_reply", "button_reply": map[string]string{"id": choice.ID, "title": choice.Title}}
	if it.Kind == "list" {
		reply = map[string]any{"type": "list_reply", "list_reply": map[string]string{"id": choice.ID, "title": choice.Title, "description": choice.Description}}
	}
	msg := map[string]any{"from": c.WaID, "id": wamid, "timestamp": strconv.FormatInt(time.Now().Unix(), 10), "type": "interactive",
		"interactive": reply, "context": map[string]string{"from": o.DisplayPhoneNumber, "id": it.WAMID}}
	body := envelope(o, o.PhoneNumberID, map[string]any{
		"contacts": []any{map[string]any{"profile": map[string]string{"name": c.Name}, "wa_id": c.WaID}},
		"messages": []any{msg}})
	s.mu.Lock()
	s.windows[c.key()] = time.Now()
	s.mu.Unlock()
	st, err := s.PostWebhook(ctx, body)
	return wamid, st, err
}
