package simulator

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
)

// Campaign makes template sends behave like a marketing broadcast at Meta:
// some fail after acceptance (a failed status instead of sent), some
// recipients reply or opt out after reading. Rates are shares of 1.
type Campaign struct {
	// FailRate is the share of template sends that fail asynchronously,
	// spread over 131049 (marketing per-user limit), 131026 (undeliverable)
	// and 130472 (Meta's experiment group).
	FailRate float64
	// ReplyRate is the share of read marketing messages answered.
	ReplyRate float64
	// OptOutRate is the share of read marketing messages answered "STOP".
	OptOutRate float64
}

// campaignFailures are the asynchronous failures of marketing sends.
var campaignFailures = []struct {
	code          cloudapi.ErrorCode
	title, detail string
}{
	{cloudapi.CodeEcosystemEngagement, "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
		"Message failed to send to maintain healthy ecosystem engagement."},
	{cloudapi.CodeUndeliverable, "Message undeliverable", "Message Undeliverable."},
	{cloudapi.CodeMarketingExperiment, "Message not sent as part of an experiment",
		"The message was not sent as part of an experiment to measure the effectiveness of marketing messages."},
}

// SetCampaign changes the campaign behaviour (zero value: every send succeeds).
func (s *Simulator) SetCampaign(c Campaign) {
	s.mu.Lock()
	s.opts.Campaign = c
	s.mu.Unlock()
}

// campaignOutcome decides what happens to an accepted send: failed (the
// error), or delivered and read, then maybe a reply or an opt-out.
func (s *Simulator) campaignOutcome(o Options, sr *cloudapi.SendRequest) (fail int, reply, optOut bool) {
	c := o.Campaign
	if !sr.IsTemplate() || c == (Campaign{}) {
		return -1, false, false
	}
	r := rand.Float64()
	if r < c.FailRate {
		return rand.IntN(len(campaignFailures)), false, false
	}
	r = rand.Float64()
	return -1, r < c.ReplyRate, r >= c.ReplyRate && r < c.ReplyRate+c.OptOutRate
}

func failedStatusWebhook(o Options, pnid string, sr *cloudapi.SendRequest, wamid string, fail int, now time.Time) []byte {
	f := campaignFailures[fail]
	st := map[string]any{"id": wamid, "status": "failed", "timestamp": strconv.FormatInt(now.Unix(), 10),
		"errors": []any{map[string]any{"code": int(f.code), "title": f.title, "message": f.title, "error_data": map[string]string{"details": f.detail},
			"href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"}}}
	if sr.To != "" {
		st["recipient_id"] = cloudapi.PhoneDigits(sr.To)
	} else {
		st["recipient_user_id"] = sr.Recipient
	}
	return envelope(o, pnid, map[string]any{"statuses": []any{st}})
}

// TapButton makes customer c tap a reply button of an interactive message
// (wamid): Meta sends an interactive message with button_reply and the
// context of the message tapped.
func (s *Simulator) TapButton(ctx context.Context, c Customer, wamid, id, title string) (string, error) {
	msg := map[string]any{"type": "interactive", "context": map[string]string{"from": s.opts.DisplayPhoneNumber, "id": wamid},
		"interactive": map[string]any{"type": "button_reply", "button_reply": map[string]string{"id": id, "title": title}}}
	return s.customerMessage(ctx, c, msg)
}

// TapQuickReply makes customer c tap a quick-reply button of a template
// message (wamid): Meta sends a message of type button with the payload.
func (s *Simulator) TapQuickReply(ctx context.Context, c Customer, wamid, payload, text string) (string, error) {
	msg := map[string]any{"type": "button", "context": map[string]string{"from": s.opts.DisplayPhoneNumber, "id": wamid},
		"button": map[string]string{"payload": payload, "text": text}}
	return s.customerMessage(ctx, c, msg)
}

func (s *Simulator) customerMessage(ctx context.Context, c Customer, msg map[string]any) (string, error) {
	now := time.Now()
	wamid := newWAMID(c.key())
	msg["id"], msg["timestamp"] = wamid, strconv.FormatInt(now.Unix(), 10)
	if c.WaID != "" {
		msg["from"] = c.WaID
	}
	if c.UserID != "" {
		msg["from_user_id"] = c.UserID
	}
	contact := map[string]any{"profile": map[string]string{"name": c.Name}}
	if c.WaID != "" {
		contact["wa_id"] = c.WaID
	}
	if c.UserID != "" {
		contact["user_id"] = c.UserID
	}
	s.mu.Lock()
	if now.After(s.windows[c.key()]) {
		s.windows[c.key()] = now
	}
	s.mu.Unlock()
	body := envelope(s.snapshot(), s.opts.PhoneNumberID, map[string]any{"contacts": []any{contact}, "messages": []any{msg}})
	st, err := s.PostWebhook(ctx, body)
	if err == nil && st != http.StatusOK {
		err = fmt.Errorf("simulator: webhook answered %d", st)
	}
	return wamid, err
}
