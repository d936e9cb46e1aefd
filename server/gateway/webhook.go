package gateway

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// webhookVerify answers Meta's subscription handshake: the challenge is
// echoed only when the verify token matches.
func (s *Server) webhookVerify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	token := q.Get("hub.verify_token")
	ok := s.cfg.VerifyToken != "" &&
		q.Get("hub.mode") == "subscribe" &&
		subtle.ConstantTimeCompare([]byte(token), []byte(s.cfg.VerifyToken)) == 1
	if !ok {
		s.metrics.verifications.WithLabelValues("rejected").Inc()
		http.Error(w, "verification failed", http.StatusForbidden)
		return
	}
	s.metrics.verifications.WithLabelValues("accepted").Inc()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, q.Get("hub.challenge"))
}

var bodyPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// webhookReceive verifies a delivery's signature over the raw bytes, stores
// everything in it and answers 200 only once that is durable.
func (s *Server) webhookReceive(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	if len(s.appSecrets()) == 0 {
		// Without a secret nothing can be verified. 503 makes Meta retry for
		// days, so deliveries survive until the admin sets the secret.
		s.reject(w, "unconfigured", http.StatusServiceUnavailable, "webhook not configured: set the Meta app secret")
		return
	}
	if r.ContentLength > s.cfg.MaxBody {
		s.reject(w, "too_large", http.StatusRequestEntityTooLarge, "body too large")
		return
	}
	buf := bodyPool.Get().(*bytes.Buffer)
	buf.Reset()
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, s.cfg.MaxBody)); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.reject(w, "too_large", http.StatusRequestEntityTooLarge, "body too large")
			return
		}
		s.reject(w, "read_error", http.StatusBadRequest, "could not read body")
		return
	}
	body := buf.Bytes()
	if err := cloudapi.VerifySignature(r.Header.Get(cloudapi.SignatureHeader), body, s.appSecrets()...); err != nil {
		s.log.Warn("webhook rejected", "reason", err.Error(), "remote", r.RemoteAddr)
		s.reject(w, "bad_signature", http.StatusUnauthorized, "invalid signature")
		return
	}
	d := ParseDelivery(body, s.now())
	if d.ParseError != "" {
		// Authentic but unreadable: keep it raw and say so. Answering 4xx
		// would only buy seven days of identical retries.
		s.metrics.parseErrors.Inc()
		s.log.Error("webhook body not fully understood; unreadable parts stored raw", "err", d.ParseError, "bytes", len(body))
	}
	for kind, n := range d.Unreadable {
		s.metrics.unreadable.WithLabelValues(kind).Add(float64(n))
	}
	res, err := s.store.Ingest(r.Context(), d)
	if err == nil || !errors.Is(err, r.Context().Err()) {
		// A write abandoned by a gone client may still run and read the
		// body, so only a finished one gives the buffer back.
		bodyPool.Put(buf)
	}
	if err != nil {
		s.log.Error("webhook not stored; Meta will retry", "err", err)
		s.reject(w, "unavailable", http.StatusServiceUnavailable, "temporarily unavailable")
		return
	}
	s.metrics.deliveries.WithLabelValues("accepted").Inc()
	s.metrics.messages.Add(float64(res.Messages))
	s.metrics.statuses.Add(float64(res.Statuses))
	s.metrics.events.Add(float64(res.Events))
	if res.Duplicate {
		s.metrics.duplicates.Inc()
	} else {
		s.metrics.countPricing(d)
	}
	s.metrics.ackLatency.Observe(time.Since(start).Seconds())
	if s.cfg.OnIngest != nil {
		s.cfg.OnIngest(d, res)
	}
	if s.cfg.Templates != nil && len(d.Events) > 0 {
		// A template webhook says something changed: list the account's
		// templates again for the whole picture (components, examples).
		// Also for a body stored before: two reviews ending in the same
		// second send the same bytes.
		for _, waba := range store.TemplateAccounts(d) {
			s.cfg.Templates.Kick(waba)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok")
}

func (s *Server) reject(w http.ResponseWriter, reason string, code int, msg string) {
	s.metrics.deliveries.WithLabelValues(reason).Inc()
	http.Error(w, msg, code)
}

// ParseDelivery turns a verified body into what the store keeps. It never
// fails: whatever it cannot read is stored raw with the reason.
func ParseDelivery(body []byte, now time.Time) *store.Delivery {
	d := &store.Delivery{Body: body, ReceivedAt: now}
	n, err := cloudapi.ParseNotification(body)
	if err != nil {
		d.ParseError = err.Error()
		return d
	}
	for _, e := range n.Entry {
		waba := string(e.ID)
		entryTime, _ := e.Time.Int64()
		if entryTime == 0 {
			entryTime = now.Unix()
		}
		for _, c := range e.Changes {
			if addCoexistence(d, waba, c, entryTime, now) {
				continue
			}
			if c.Field != "messages" {
				d.Events = append(d.Events, store.Event{WABAID: waba, Field: c.Field, TS: entryTime, Value: c.Value})
				continue
			}
			v, err := c.MessagesValue()
			if err != nil {
				d.Events = append(d.Events, store.Event{WABAID: waba, Field: c.Field, TS: entryTime, Value: c.Value})
				d.ParseError = err.Error()
				continue
			}
			addMessagesValue(d, waba, v, now)
		}
	}
	return d
}

func addMessagesValue(d *store.Delivery, waba string, v *cloudapi.MessagesValue, now time.Time) {
	number := store.Number{
		PhoneNumberID:      string(v.Metadata.PhoneNumberID),
		DisplayPhoneNumber: string(v.Metadata.DisplayPhoneNumber),
		WABAID:             waba,
	}
	// Each item is read on its own: one that cannot be read is kept raw as
	// an event and counted, and the others are stored as usual.
	unreadable := func(kind cloudapi.ItemKind, raw []byte, err error) {
		if err == nil {
			err = errors.New("no id")
		}
		d.Events = append(d.Events, store.Event{WABAID: waba, Field: unreadableField(kind), PhoneNumberID: number.PhoneNumberID, TS: now.Unix(), Value: raw})
		if d.Unreadable == nil {
			d.Unreadable = map[string]int{}
		}
		d.Unreadable[string(kind)]++
		if len(d.ParseError) < 1024 {
			d.ParseError = strings.TrimPrefix(d.ParseError+"; ", "; ") + fmt.Sprintf("%s unreadable: %v", kind, err)
		}
	}
	for _, u := range v.Unreadable {
		unreadable(u.Kind, u.Raw, u.Err)
	}
	for _, raw := range v.Messages {
		m, err := cloudapi.DecodeMessage(raw)
		if err != nil || m.ID == "" {
			unreadable(cloudapi.ItemMessage, raw, err)
			continue
		}
		d.Messages = append(d.Messages, inboundMessage(number, v, m, now))
	}
	for _, raw := range v.Statuses {
		st, err := cloudapi.DecodeStatus(raw)
		if err != nil || st.ID == "" {
			unreadable(cloudapi.ItemStatus, raw, err)
			continue
		}
		ts, ok := st.Timestamp.Int64()
		if !ok {
			ts = now.Unix()
		}
		p := store.Party{WaID: string(st.RecipientID), UserID: st.RecipientUserID, ParentUserID: st.RecipientParentUserID}
		if c, ok := v.ContactFor(p.WaID, p.UserID); ok {
			p.Name, p.Username = c.Profile.Name, c.Profile.Username
		}
		d.Statuses = append(d.Statuses, store.StatusUpdate{
			WAMID: st.ID, Status: st.Status, TS: ts, Recipient: p,
			Errors: st.Errors, Pricing: st.Pricing, Conversation: st.Conversation, CallbackData: st.BizOpaqueCallbackData,
		})
	}
	if e := bytes.TrimSpace(v.Errors); len(e) > 0 && !bytes.Equal(e, []byte("null")) && !bytes.Equal(e, []byte("[]")) {
		d.Events = append(d.Events, store.Event{WABAID: waba, Field: "messages.errors", PhoneNumberID: number.PhoneNumberID, TS: now.Unix(), Value: e})
	}
}

// unreadableField is the event field an unreadable item is kept under;
// messages.unreadable is what earlier versions stored, and fan-out counts
// it as a message.
func unreadableField(kind cloudapi.ItemKind) string {
	switch kind {
	case cloudapi.ItemMessage, cloudapi.ItemMessages:
		return "messages.unreadable"
	case cloudapi.ItemStatus, cloudapi.ItemStatuses:
		return "statuses.unreadable"
	}
	return "messages.unreadable_" + string(kind)
}

func inboundMessage(number store.Number, v *cloudapi.MessagesValue, m cloudapi.Message, now time.Time) store.InboundMessage {
	from := store.Party{WaID: string(m.From), UserID: m.FromUserID, ParentUserID: m.FromParentUserID}
	if c, ok := v.ContactFor(from.WaID, from.UserID); ok {
		from.Name, from.Username = c.Profile.Name, c.Profile.Username
		if from.WaID == "" {
			from.WaID = string(c.WaID)
		}
		if from.UserID == "" {
			from.UserID = c.UserID
		}
		if from.ParentUserID == "" {
			from.ParentUserID = c.ParentUserID
		}
	}
	ts, ok := m.Timestamp.Int64()
	if !ok {
		ts = now.Unix()
	}
	in := store.InboundMessage{
		Number: number, From: from, WAMID: m.ID, Type: m.Type, TS: ts,
		Payload: m.Payload, Context: m.Context, Referral: m.Referral, Errors: m.Errors, Extra: m.Extra, GroupID: m.GroupID,
	}
	if in.Type == "" {
		in.Type = "unknown"
	}
	c := m.Content()
	in.Text.String, in.Text.Valid = c.Text, c.HasText
	if c.Media != nil {
		in.Media = &store.MediaRef{MediaID: string(c.Media.ID), MimeType: c.Media.MimeType, SHA256: c.Media.SHA256, Filename: c.Media.Filename}
	}
	return in
}
