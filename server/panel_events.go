package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/pforte/pforte/store"
)

// events streams panel events to a browser (server-sent events). The
// stream re-checks the session now and then, so a logout elsewhere or a
// disabled account ends it.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	sub, cancel := s.panel.broker.subscribe()
	defer cancel()
	// The listener's WriteTimeout would cut the stream; each write
	// extends its own deadline instead.
	write := func(format string, args ...any) bool {
		rc.SetWriteDeadline(time.Now().Add(30 * time.Second))
		if _, err := fmt.Fprintf(w, format, args...); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write("retry: 3000\n: hello\n\n") {
		return
	}
	heartbeat := time.NewTicker(20 * time.Second)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-sub.done:
			return
		case ev := <-sub.ch:
			if ev.Restricted && !v.seesRestricted() {
				continue
			}
			if sub.lagged.Swap(false) {
				if !write("event: resync\ndata: {}\n\n") {
					return
				}
			}
			b, _ := json.Marshal(ev)
			if !write("event: change\ndata: %s\n\n", b) {
				return
			}
		case <-heartbeat.C:
			if _, _, err := s.store.SessionByToken(r.Context(), v.token); err != nil {
				return
			}
			if !write(": ping\n\n") {
				return
			}
		}
	}
}

// notifyIngest tells open panels about what a webhook delivery added. It
// costs nothing when no panel is open, and otherwise runs after the
// response so Meta's acknowledgement is never delayed.
func (s *Server) notifyIngest(d *store.Delivery, res store.IngestResult) {
	if !s.panel.broker.active() || res.Duplicate || res.Messages+res.Statuses == 0 {
		return
	}
	wamids := make([]string, 0, len(d.Messages)+len(d.Statuses))
	for _, m := range d.Messages {
		wamids = append(wamids, m.WAMID)
	}
	for _, st := range d.Statuses {
		wamids = append(wamids, st.WAMID)
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		refs, err := s.store.ConversationsOfWAMIDs(ctx, wamids)
		if err != nil {
			s.log.Warn("panel notify", "err", err)
			return
		}
		var unread *int
		if n, err := s.store.UnreadCount(ctx); err == nil {
			unread = &n
		}
		seen := map[int64]bool{}
		for _, ref := range refs {
			if seen[ref.ConversationID] {
				continue
			}
			seen[ref.ConversationID] = true
			kind := "status"
			if ref.Direction == "inbound" {
				kind = "message"
			}
			s.panel.broker.publish(PanelEvent{Kind: kind, Conversation: ref.ConversationID, Inbound: ref.Direction == "inbound", Title: ref.ContactName, Unread: unread,
				Restricted: ref.Restricted})
		}
	}()
}
