package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// addCoexistence reads the coexistence and group fields of a change into
// the delivery. It reports false for a field it does not handle, or a
// value it cannot read, which the caller then keeps raw as an event.
func addCoexistence(d *store.Delivery, waba string, c cloudapi.Change, entryTime int64, now time.Time) bool {
	number := func(m cloudapi.Metadata) store.Number {
		return store.Number{PhoneNumberID: string(m.PhoneNumberID), DisplayPhoneNumber: string(m.DisplayPhoneNumber), WABAID: waba}
	}
	switch {
	case c.Field == cloudapi.FieldEchoes:
		v, err := cloudapi.DecodeEchoesValue(c.Value)
		if err != nil || v.Metadata.PhoneNumberID == "" {
			return false
		}
		n := number(v.Metadata)
		for _, raw := range v.Echoes {
			e, err := cloudapi.DecodeEcho(raw)
			if err != nil || e.ID == "" {
				d.Events = append(d.Events, store.Event{WABAID: waba, Field: "smb_message_echoes.unreadable", PhoneNumberID: n.PhoneNumberID, TS: now.Unix(), Value: raw})
				continue
			}
			d.Echoes = append(d.Echoes, echo(n, e, now))
		}
		return true
	case c.Field == cloudapi.FieldHistory:
		v, err := cloudapi.DecodeHistoryValue(c.Value)
		if err != nil || v.Metadata.PhoneNumberID == "" {
			return false
		}
		n := number(v.Metadata)
		for _, raw := range v.History {
			ch, err := cloudapi.DecodeHistoryChunk(raw)
			if err != nil {
				d.Events = append(d.Events, store.Event{WABAID: waba, Field: "history.unreadable", PhoneNumberID: n.PhoneNumberID, TS: now.Unix(), Value: raw})
				continue
			}
			phase, _ := ch.Metadata.Phase.Int64()
			order, _ := ch.Metadata.ChunkOrder.Int64()
			progress, _ := ch.Metadata.Progress.Int64()
			// InBody: the chunk is stored once, in the raw delivery, and
			// the importer finds it there by its key (historyChunkIn).
			h := store.HistoryChunk{Number: n, Phase: phase, Order: order, Progress: progress, Value: raw,
				Key: historyKey(n.PhoneNumberID, ch), InBody: true}
			if len(ch.Errors) > 0 && string(ch.Errors) != "null" && len(ch.Threads) == 0 {
				h.Declined, h.Value, h.Key = true, nil, n.PhoneNumberID+"/declined"
			}
			d.History = append(d.History, h)
		}
		if len(v.Messages) > 0 {
			// Media of the last 14 days, after their placeholders: a chunk
			// of its own, keyed by its content so a repeat is a no-op.
			raw, _ := json.Marshal(map[string]any{"threads": []any{map[string]any{"id": "", "messages": v.Messages}}})
			sum := sha256.Sum256(raw)
			d.History = append(d.History, store.HistoryChunk{Number: n, Phase: 99, Order: entryTime, Value: raw,
				Key: n.PhoneNumberID + "/media/" + hex.EncodeToString(sum[:12])})
		}
		return true
	case c.Field == cloudapi.FieldStateSync:
		v, err := cloudapi.DecodeStateSyncValue(c.Value)
		if err != nil {
			return false
		}
		n := number(v.Metadata)
		for _, it := range v.StateSync {
			if it.Type != "contact" {
				continue
			}
			ts, ok := it.Metadata.Timestamp.Int64()
			if !ok {
				ts = now.Unix()
			}
			d.ContactSyncs = append(d.ContactSyncs, store.ContactSync{Number: n, Action: it.Action,
				WaID: cloudapi.PhoneDigits(string(it.Contact.PhoneNumber)), Name: strings.TrimSpace(it.Contact.FullName), TS: ts})
		}
		return true
	case cloudapi.IsGroupField(c.Field):
		v, err := cloudapi.DecodeGroupsValue(c.Value)
		if err != nil || v.Metadata.PhoneNumberID == "" {
			return false
		}
		n := number(v.Metadata)
		for _, raw := range v.Groups {
			g, err := cloudapi.DecodeGroupUpdate(raw)
			if err != nil || g.GroupID == "" {
				d.Events = append(d.Events, store.Event{WABAID: waba, Field: c.Field + ".unreadable", PhoneNumberID: n.PhoneNumberID, TS: now.Unix(), Value: raw})
				continue
			}
			ts, ok := g.Timestamp.Int64()
			if !ok {
				ts = now.Unix()
			}
			u := store.GroupUpdate{Number: n, GroupID: g.GroupID, Field: c.Field, Type: g.Type, Subject: g.Subject, TS: ts, Raw: raw}
			if g.GroupSubject != nil {
				u.Subject = g.GroupSubject.Text
			}
			if u.Type == "" {
				u.Type = c.Field
			}
			for _, p := range g.Added {
				u.Added = append(u.Added, store.Party{WaID: cloudapi.PhoneDigits(string(p.WaID)), UserID: p.UserID})
			}
			for _, p := range g.Removed {
				u.Removed = append(u.Removed, store.Party{WaID: cloudapi.PhoneDigits(string(p.WaID)), UserID: p.UserID})
			}
			d.Groups = append(d.Groups, u)
		}
		return true
	}
	return false
}

// historyKey names a chunk by number, phase and order: a repeat is a no-op.
func historyKey(phoneNumberID string, ch *cloudapi.HistoryChunk) string {
	phase, _ := ch.Metadata.Phase.Int64()
	order, _ := ch.Metadata.ChunkOrder.Int64()
	return fmt.Sprintf("%s/%d/%d", phoneNumberID, phase, order)
}

// historyChunkIn finds the history chunk named key in a raw delivery's
// body, where addCoexistence found it when the delivery came in.
func historyChunkIn(body []byte, key string) (*cloudapi.HistoryChunk, bool) {
	n, err := cloudapi.ParseNotification(body)
	if err != nil {
		return nil, false
	}
	for _, e := range n.Entry {
		for _, c := range e.Changes {
			if c.Field != cloudapi.FieldHistory {
				continue
			}
			v, err := cloudapi.DecodeHistoryValue(c.Value)
			if err != nil {
				continue
			}
			for _, raw := range v.History {
				if ch, err := cloudapi.DecodeHistoryChunk(raw); err == nil && historyKey(string(v.Metadata.PhoneNumberID), ch) == key {
					return ch, true
				}
			}
		}
	}
	return nil, false
}

// echo turns an echo into what the store keeps.
func echo(n store.Number, e cloudapi.Echo, now time.Time) store.OutboundEcho {
	ts, ok := e.Timestamp.Int64()
	if !ok {
		ts = now.Unix()
	}
	to := store.Party{WaID: cloudapi.PhoneDigits(string(e.To))}
	if to.WaID == "" {
		to.UserID = string(e.To)
	}
	out := store.OutboundEcho{Number: n, To: to, WAMID: e.ID, Type: e.Type, Payload: e.Payload, Context: e.Context, Extra: e.Extra, TS: ts}
	if out.Type == "" {
		out.Type = "unknown"
	}
	c := e.Content()
	out.Text.String, out.Text.Valid = c.Text, c.HasText
	if c.Media != nil {
		out.Media = &store.MediaRef{MediaID: string(c.Media.ID), MimeType: c.Media.MimeType, SHA256: c.Media.SHA256, Filename: c.Media.Filename}
	}
	return out
}

// HistoryImporter imports the coexistence chat history in the background,
// in small transactions, so live webhooks keep their latency while
// thousands of old messages go in. Each step commits its resume point with
// its messages: a restart continues where it stopped.
type HistoryImporter struct {
	Store *store.Store
	Log   *slog.Logger
	Now   func() time.Time
	// Step is how many messages one transaction imports. Zero sizes the
	// steps to take about StepTime each (between minStep and maxStep
	// messages): on a busy machine steps get smaller, so a live webhook
	// never waits long behind one.
	Step int
	// StepTime is the time one step aims at when Step is zero (default
	// 4 ms).
	StepTime time.Duration
	// Kick wakes the importer; the gateway's ingest hook sends on it when
	// a history chunk arrived. Without one it polls every Poll.
	Kick <-chan struct{}
	Poll time.Duration
	// Pause is the rest between two steps (default 5 ms): it leaves the
	// store's writer to live webhooks between the import's transactions.
	Pause time.Duration

	// The chunk being imported, decoded once rather than at every step.
	cachedID    int64
	cachedMsgs  []threadMessage
	cachedTotal int
	// adaptive is the current step size when Step is zero.
	adaptive int
}

// The bounds of an adaptive step: below minStep the fixed cost of a
// commit dominates; maxStep keeps one step short even on an idle machine.
const (
	minStep = 10
	maxStep = 400
)

// threadMessage is one raw history message with its thread.
type threadMessage struct {
	thread string
	raw    json.RawMessage
}

// Run imports until ctx ends.
func (h *HistoryImporter) Run(ctx context.Context) {
	if h.Poll <= 0 {
		h.Poll = 30 * time.Second
	}
	for {
		busy, err := h.RunOnce(ctx)
		if err != nil && ctx.Err() == nil && h.Log != nil {
			h.Log.Error("history import", "err", err)
		}
		if busy && err == nil {
			pause := h.Pause
			if pause <= 0 {
				pause = 5 * time.Millisecond
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(pause):
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-h.Kick:
		case <-time.After(h.Poll):
		}
	}
}

// RunOnce imports one step of the oldest waiting chunk; busy is false when
// nothing waits.
func (h *HistoryImporter) RunOnce(ctx context.Context) (busy bool, err error) {
	step := h.Step
	if step <= 0 {
		if h.adaptive <= 0 {
			h.adaptive = 50
		}
		step = h.adaptive
	}
	p, err := h.Store.NextHistoryChunk(ctx, h.cachedID)
	if err != nil || p == nil {
		return false, err
	}
	if h.cachedID != p.ID || p.Loaded {
		h.cachedID, h.cachedMsgs, h.cachedTotal = p.ID, nil, 0
		var ch *cloudapi.HistoryChunk
		if p.InDelivery {
			// A chunk whose delivery is gone (erased with a person) has
			// nothing left to import; it is finished empty.
			ch, _ = historyChunkIn(p.Value, p.Key)
		} else if c, err := cloudapi.DecodeHistoryChunk(p.Value); err == nil {
			ch = c
		}
		if ch != nil {
			for _, t := range ch.Threads {
				for _, raw := range t.Messages {
					h.cachedMsgs = append(h.cachedMsgs, threadMessage{string(t.ID), raw})
				}
			}
		}
		h.cachedTotal = len(h.cachedMsgs)
	}
	total := h.cachedTotal
	hb := store.HistoryBatch{ChunkID: p.ID, Number: p.Number, From: p.Done, Now: h.now().Unix()}
	for pos := p.Done; pos < total && pos < p.Done+step; pos++ {
		tm := h.cachedMsgs[pos]
		if m, ok := historyMessage(p.Number, tm.thread, tm.raw, h.now()); ok {
			hb.Messages = append(hb.Messages, m)
		}
		hb.Handled++
	}
	hb.Finished = p.Done+hb.Handled >= total
	began := time.Now()
	if _, _, err := h.Store.ImportHistoryBatch(ctx, hb); err != nil {
		return false, err
	}
	if h.Step <= 0 && hb.Handled == step {
		h.adaptive = nextStep(step, time.Since(began), h.StepTime)
	}
	if hb.Finished {
		h.cachedID, h.cachedMsgs = 0, nil
	}
	return true, nil
}

// nextStep sizes the next step from how long the last one took (its
// wait for the writer included, so a busy store also means smaller
// steps), towards target, growing at most by half at a time.
func nextStep(step int, took, target time.Duration) int {
	if target <= 0 {
		target = 4 * time.Millisecond
	}
	next := step * 3 / 2
	if took > 0 {
		next = min(next, int(int64(step)*int64(target)/int64(took)))
	}
	return max(minStep, min(maxStep, next))
}

func (h *HistoryImporter) now() time.Time {
	if h.Now != nil {
		return h.Now()
	}
	return time.Now()
}

// historyMessage normalises one history message; the customer is the
// thread's, or whoever is not the business.
func historyMessage(n store.Number, thread string, raw json.RawMessage, now time.Time) (store.HistoryMessage, bool) {
	e, err := cloudapi.DecodeEcho(raw)
	if err != nil || e.ID == "" {
		return store.HistoryMessage{}, false
	}
	from := cloudapi.PhoneDigits(string(e.From))
	biz := cloudapi.PhoneDigits(n.DisplayPhoneNumber)
	outbound := e.To != "" || (biz != "" && from == biz)
	customer := cloudapi.PhoneDigits(thread)
	if customer == "" {
		customer = from
		if outbound {
			customer = cloudapi.PhoneDigits(string(e.To))
		}
	}
	ts, ok := e.Timestamp.Int64()
	if !ok {
		ts = now.Unix()
	}
	m := store.HistoryMessage{Customer: store.Party{WaID: customer}, Outbound: outbound, WAMID: e.ID, Type: e.Type,
		Payload: e.Payload, Context: e.Context, Extra: e.Extra, Status: strings.ToLower(e.HistoryStatus), TS: ts}
	if !outbound && e.FromUserID != "" {
		m.Customer.UserID = e.FromUserID
	}
	if m.Type == "" {
		m.Type = "unknown"
	}
	c := e.Content()
	m.Text.String, m.Text.Valid = c.Text, c.HasText
	if c.Media != nil {
		m.Media = &store.MediaRef{MediaID: string(c.Media.ID), MimeType: c.Media.MimeType, SHA256: c.Media.SHA256, Filename: c.Media.Filename}
	}
	return m, true
}
