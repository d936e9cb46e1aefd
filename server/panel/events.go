package panel

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/pforte/pforte/store"
)

// eventsPath is the live event stream's route; eventsRoles may open it.
const (
	eventsPath  = "/events"
	eventsRoles = agents
)

// mayStream says whether a user may have the live event stream.
func mayStream(u *store.User) bool {
	return eventsRoles.admits(u.Role)
}

// events streams panel events to a browser (server-sent events). The
// stream lives only as long as its session: it re-checks the session, the
// user and the role every StreamCheck and before it passes on events (once
// per batch that waited in its queue, so a busy webhook costs one query
// per wake-up, not per event), and ends on logout, idle or absolute
// timeout, a disabled or deleted user, a role without the inbox, or 2FA
// becoming required for a user without it.
func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	v := viewerOf(r)
	if !mayStream(v.user) {
		// Not audited like other refusals: an auditor's open tab asks for
		// the stream on every page and retry, which is no attack.
		s.failPage(w, r, http.StatusForbidden, "Ihre Rolle darf diese Seite nicht öffnen.")
		return
	}
	ctx := r.Context()
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
	user := v.user
	// stillValid re-reads the session; user follows role changes, so
	// restricted events follow them too.
	stillValid := func() bool {
		sess, u, err := s.store.SessionByToken(ctx, v.token)
		if err != nil || sess.ID != v.session.ID || s.sessionOver(sess, u, s.now()) || !mayStream(u) {
			return false
		}
		if !u.HasSecondFactor() && !sess.SSO && s.require2FA(ctx) {
			return false
		}
		user = u
		return true
	}
	if !write("retry: 3000\n: hello\n\n") {
		return
	}
	check := time.NewTicker(s.panel.cfg.StreamCheck)
	defer check.Stop()
	heartbeat := time.NewTicker(20 * time.Second)
	defer heartbeat.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sub.done:
			return
		case ev := <-sub.ch:
			if !stillValid() {
				return
			}
			batch := []Event{ev}
			for range len(sub.ch) {
				batch = append(batch, <-sub.ch)
			}
			if sub.lagged.Swap(false) {
				if !write("event: resync\ndata: {}\n\n") {
					return
				}
			}
			for _, ev := range batch {
				if ev.Restricted && !(&viewer{user: user}).seesRestricted() {
					continue
				}
				b, _ := json.Marshal(ev)
				if !write("event: change\ndata: %s\n\n", b) {
					return
				}
			}
		case <-check.C:
			if !stillValid() {
				return
			}
		case <-heartbeat.C:
			if !write(": ping\n\n") {
				return
			}
		}
	}
}

// NotifyIngest tells open panels about what a webhook delivery added. It
// costs nothing when no panel is open, and otherwise runs after the
// response so Meta's acknowledgement is never delayed.
func (s *Server) NotifyIngest(d *store.Delivery, res store.IngestResult) {
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
	for _, e := range d.Echoes {
		// Sent from the phone: open panels refresh, nobody is notified.
		wamids = append(wamids, e.WAMID)
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
			s.panel.broker.publish(Event{Kind: kind, Conversation: ref.ConversationID, Inbound: ref.Direction == "inbound", Title: ref.ContactName, Unread: unread,
				Restricted: ref.Restricted})
		}
	}()
}
