package panel

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// typingEvery is how often the typing indicator may be sent for one
// conversation: WhatsApp shows it for up to 25 s, so every 20 s keeps it
// up while an agent writes without flooding Meta.
const typingEvery = 20 * time.Second

// chatSignalState remembers when "typing…" was last sent per conversation
// and tracks the read receipts and typing indicators still on their way.
type chatSignalState struct {
	mu     sync.Mutex
	typing map[int64]time.Time
	wg     sync.WaitGroup
}

// typingDue reports whether the indicator may be sent now, and notes it.
func (c *chatSignalState) typingDue(conv int64, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.typing == nil {
		c.typing = map[int64]time.Time{}
	}
	if last, ok := c.typing[conv]; ok && now.Sub(last) < typingEvery {
		return false
	}
	for k, t := range c.typing {
		if now.Sub(t) > time.Hour {
			delete(c.typing, k) // forget conversations long left
		}
	}
	c.typing[conv] = now
	return true
}

// WaitSignals waits for read receipts and typing indicators in flight.
func (s *Server) WaitSignals() { s.panel.signals.wg.Wait() }

// readBody is Meta's mark-as-read request, with the typing indicator when
// asked: the indicator exists only together with a read receipt.
func readBody(wamid string, typing bool) []byte {
	m := map[string]any{"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
	if typing {
		m["typing_indicator"] = map[string]string{"type": "text"}
	}
	b, _ := json.Marshal(m)
	return b
}

// sendSignals hands read receipts to the outbox, which relays them through
// the one Meta client at the number's pace. It does not hold up the page:
// a slow Meta must not slow down opening a conversation.
func (s *Server) sendSignals(pnid string, actor store.Actor, bodies [][]byte) {
	snd := s.cfg.Outbox
	if snd == nil || len(bodies) == 0 {
		return
	}
	s.panel.signals.wg.Add(1)
	go func() {
		defer s.panel.signals.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, b := range bodies {
			res, err := snd.Send(ctx, outbox.Request{PhoneNumberID: pnid, Body: b, Actor: actor})
			if err != nil || res.State != store.OutboxAccepted {
				s.log.Warn("read receipt not sent", "err", err, "number", pnid)
				return
			}
		}
	}()
}

// markReadAtMeta marks the customer's messages read at Meta (blue ticks)
// when the conversation has unread messages and the number allows it. It
// must run before the local unread count is cleared.
func (s *Server) markReadAtMeta(ctx context.Context, v *viewer, convID int64) {
	t, err := s.store.ReadTargetOf(ctx, convID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("read target", "err", err)
		}
		return
	}
	if t.Unread == 0 || !t.Signals.ReadReceipts || t.Restricted {
		return
	}
	var bodies [][]byte
	for _, w := range t.WAMIDs {
		bodies = append(bodies, readBody(w, false))
	}
	s.sendSignals(t.PhoneNumberID, store.UserActor(v.user.ID), bodies)
}

// typing sends the typing indicator while an agent writes, at most every
// 20 s per conversation, when the number allows read receipts and typing
// (WhatsApp has no indicator without marking read) and the window is open.
func (s *Server) typing(w http.ResponseWriter, r *http.Request) {
	ctx, v := r.Context(), viewerOf(r)
	id, ok := pathID(r, "id")
	if !ok {
		http.Error(w, web.T(ctx, "Nicht gefunden."), http.StatusNotFound)
		return
	}
	t, err := s.store.ReadTargetOf(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		http.Error(w, web.T(ctx, "Nicht gefunden."), http.StatusNotFound)
		return
	}
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	cs, err := s.store.ConversationByID(ctx, id)
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	now := s.now()
	// Groups: Meta documents no typing indicator there.
	if t.Signals.ReadReceipts && t.Signals.Typing && !t.Group && len(t.WAMIDs) > 0 && !cs.Restricted &&
		store.WindowOpen(cs.LastInboundAt, now) && s.panel.signals.typingDue(id, now) {
		s.sendSignals(t.PhoneNumberID, store.UserActor(v.user.ID), [][]byte{readBody(t.WAMIDs[0], true)})
	}
	w.WriteHeader(http.StatusNoContent)
}

// settingsSignals switches a number's read receipts and typing indicator.
func (s *Server) settingsSignals(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	pnid := r.PostFormValue("phone_number_id")
	if !digits.MatchString(pnid) {
		s.failPage(w, r, http.StatusBadRequest, "Bitte nur Ziffern eingeben.")
		return
	}
	sig := store.ChatSignals{ReadReceipts: r.PostFormValue("read_receipts") == "1", Typing: r.PostFormValue("typing") == "1"}
	if err := s.store.SetChatSignals(r.Context(), pnid, sig, store_audit(v, r, store.AuditNumberSignals)); err != nil {
		s.storeFail(w, r, err)
		return
	}
	s.settingsDone(w, r, "")
}

// numberSignalsVM lists the numbers with their switches and history import.
func (s *Server) numberSignalsVM(ctx context.Context, nums []store.BusinessNumber, vm *web.SettingsVM) error {
	sigs, err := s.store.AllChatSignals(ctx)
	if err != nil {
		return err
	}
	hist, err := s.store.HistoryImports(ctx)
	if err != nil {
		return err
	}
	for _, n := range nums {
		nv := numberVM(n)
		nv.ReadReceipts, nv.Typing = sigs[n.PhoneNumberID].ReadReceipts, sigs[n.PhoneNumberID].Typing
		for _, h := range hist {
			if h.PhoneNumberID == n.PhoneNumberID {
				nv.History = &web.HistoryVM{Chunks: h.Chunks, Pending: h.Pending, Progress: h.Progress, Imported: h.Imported, Skipped: h.Skipped, Declined: h.Declined}
			}
		}
		vm.Numbers = append(vm.Numbers, nv)
	}
	return nil
}
