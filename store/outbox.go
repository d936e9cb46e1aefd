package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// OutboxState is where an outbox entry is; stored in outbox.state.
type OutboxState string

// Outbox states.
const (
	OutboxQueued   OutboxState = "queued"
	OutboxSending  OutboxState = "sending"
	OutboxAccepted OutboxState = "accepted"
	OutboxFailed   OutboxState = "failed"
	OutboxUnknown  OutboxState = "unknown"
)

// OutboundSend is one message to store and deliver. The caller (the sender
// package) has parsed Meta's body; the store only keeps what it is told.
type OutboundSend struct {
	PhoneNumberID string
	WaID          string // recipient phone digits, if addressed by phone
	UserID        string // recipient business-scoped user id, if addressed so
	GroupID       string // recipient group (Groups API), if addressed so
	PairKey       string // WaID or UserID: who the pair rate and ordering apply to
	Type          string
	Text          *string
	Payload       []byte
	Context       []byte
	MediaID       string // for media sent by id
	Filename      string
	Body          []byte // the exact Meta request body
	// CheckWindow refuses a message when the customer has not written to
	// this number in the last 24 hours (templates are exempt by the caller).
	CheckWindow bool
	// StartSending stores the message already claimed (state sending) for
	// a caller that sends it right away, unless older messages to the same
	// customer still wait; then it is queued behind them.
	StartSending bool
	// NoSync skips the fsync (see WriteNoSync): for a caller that has not
	// acknowledged anything and records the outcome durably right after.
	NoSync         bool
	Deadline       time.Time
	Actor          Actor
	IdempotencyKey string
	Now            time.Time
}

// Outbound is an outbox entry with its message.
type Outbound struct {
	ID            int64 // outbox id
	MessageID     int64 // local message id, as shown in /api/v1
	PhoneNumberID string
	PairKey       string
	Body          []byte
	State         OutboxState
	Attempts      int
	NextAttemptAt int64 // unix ms
	Deadline      int64 // unix ms, 0 = none
	LastError     []byte
	Response      []byte
	WAMID         string
	Actor         Actor
	CreatedAt     int64
	// Existing is set when EnqueueSend found the idempotency key in use.
	Existing bool
}

// WindowClosedError refuses a free-form message outside the customer-service
// window. LastInboundAt is 0 when the customer never wrote to this number.
type WindowClosedError struct {
	LastInboundAt int64
}

func (e *WindowClosedError) Error() string {
	if e.LastInboundAt == 0 {
		return "store: customer-service window closed: the customer has never written to this number"
	}
	return fmt.Sprintf("store: customer-service window closed since %s", WindowEnds(e.LastInboundAt).UTC().Format(time.RFC3339))
}

// WindowLength is Meta's customer-service window: free-form messages may
// be sent until this long after the customer's last message.
const WindowLength = 24 * time.Hour

// WindowEnds is when the window opened by a customer's message at
// lastInboundAt (unix seconds) closes.
func WindowEnds(lastInboundAt int64) time.Time {
	return time.Unix(lastInboundAt, 0).Add(WindowLength)
}

// WindowOpen is the one window rule: a free-form message may go out at now
// if the customer wrote (lastInboundAt > 0) less than WindowLength before.
func WindowOpen(lastInboundAt int64, now time.Time) bool {
	return lastInboundAt > 0 && now.Before(WindowEnds(lastInboundAt))
}

// EnqueueSend stores an outbound message and its outbox entry in one
// durable commit. With CheckWindow a closed window returns
// *WindowClosedError and stores nothing.
func (s *Store) EnqueueSend(ctx context.Context, o OutboundSend) (*Outbound, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.PairKey == "" || o.PhoneNumberID == "" || len(o.Body) == 0 {
		return nil, errors.New("store: enqueue: phone number id, recipient and body are required")
	}
	var out *Outbound
	write := s.Write
	if o.NoSync {
		write = s.WriteNoSync
	}
	err := write(ctx, func(tx *Tx) error {
		var err error
		out, err = enqueue(tx, &o)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func enqueue(tx *Tx, o *OutboundSend) (*Outbound, error) {
	now := o.Now.Unix()
	nowMs := o.Now.UnixMilli()
	if o.IdempotencyKey != "" {
		var msgID int64
		err := tx.QueryRow("SELECT message_id FROM outbox WHERE idempotency_key = ?", o.IdempotencyKey).Scan(&msgID)
		if err == nil {
			out, err := outboundTx(tx, msgID)
			if err == nil {
				out.Existing = true
			}
			return out, err
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("store: idempotency key: %w", err)
		}
	}
	numberID, err := upsertNumber(tx, Number{PhoneNumberID: o.PhoneNumberID}, now)
	if err != nil {
		return nil, err
	}
	var contactID int64
	if o.GroupID != "" {
		// A group's conversation belongs to its stand-in contact.
		contactID, err = groupContact(tx, o.GroupID, "", now)
	} else {
		contactID, err = upsertContact(tx, Party{WaID: o.WaID, UserID: o.UserID}, now)
	}
	if err != nil {
		return nil, err
	}
	var restricted bool
	if err := tx.QueryRow("SELECT EXISTS (SELECT 1 FROM erasure_requests WHERE contact_id = ? AND state = 'restricted')", contactID).Scan(&restricted); err != nil {
		return nil, fmt.Errorf("store: restriction: %w", err)
	}
	if restricted {
		return nil, ErrRestricted
	}
	var convID int64
	var lastIn sql.NullInt64
	err = tx.QueryRow("SELECT id, last_inbound_at FROM conversations WHERE business_number_id = ? AND contact_id = ?", numberID, contactID).Scan(&convID, &lastIn)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("store: conversation: %w", err)
	}
	if o.CheckWindow && !WindowOpen(lastIn.Int64, o.Now) {
		// Nothing was written yet except possibly the number and contact
		// rows; the savepoint rollback removes those too.
		return nil, &WindowClosedError{LastInboundAt: lastIn.Int64}
	}
	if err := checkMarketingTx(tx, contactID, numberID, o.Type, o.Payload); err != nil {
		return nil, err
	}
	if convID == 0 {
		convID, _, err = tx.Insert(`INSERT INTO conversations(business_number_id, contact_id, last_message_at, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?)`, numberID, contactID, now, now, now)
	} else {
		_, err = tx.Exec("UPDATE conversations SET last_message_at = max(last_message_at, ?), updated_at = ? WHERE id = ?", now, now, convID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: conversation: %w", err)
	}
	if _, person := o.Actor.UserID(); person {
		// A person writing takes the conversation over from a bot.
		if err := clearBotTx(tx, convID, o.Actor, now); err != nil {
			return nil, err
		}
	}
	var text sql.NullString
	if o.Text != nil {
		text = sql.NullString{String: *o.Text, Valid: true}
	}
	msgID, _, err := tx.Insert(`INSERT INTO messages(wamid, conversation_id, direction, type, text, payload, context, status, status_at, ts, created_at)
		VALUES (NULL, ?, 'outbound', ?, ?, ?, ?, 'queued', ?, ?, ?)`,
		convID, o.Type, text, nullJSON(o.Payload), nullJSON(o.Context), now, now, now)
	if err != nil {
		return nil, fmt.Errorf("store: outbound message: %w", err)
	}
	if o.MediaID != "" {
		if err := attachOutboundMedia(tx, msgID, o); err != nil {
			return nil, err
		}
	}
	state := OutboxQueued
	attempts := 0
	if o.StartSending {
		var waiting int
		if err := tx.QueryRow("SELECT count(*) FROM outbox WHERE pair_key = ? AND state IN ('queued', 'sending')", o.PairKey).Scan(&waiting); err != nil {
			return nil, fmt.Errorf("store: outbox order: %w", err)
		}
		if waiting == 0 {
			state, attempts = OutboxSending, 1
		}
	}
	var deadline sql.NullInt64
	if !o.Deadline.IsZero() {
		deadline = sql.NullInt64{Int64: o.Deadline.UnixMilli(), Valid: true}
	}
	out := &Outbound{MessageID: msgID, PhoneNumberID: o.PhoneNumberID, PairKey: o.PairKey, Body: o.Body, State: state,
		Attempts: attempts, NextAttemptAt: nowMs, Deadline: deadline.Int64, Actor: o.Actor, CreatedAt: now}
	// Exec, not RETURNING: measured 25 times faster on this table with the
	// bundled SQLite (12 µs against 300 µs per insert).
	res, err := tx.Exec(`INSERT INTO outbox(message_id, phone_number_id, pair_key, body, state, attempts, next_attempt_at, deadline, actor, idempotency_key, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		msgID, o.PhoneNumberID, o.PairKey, o.Body, state, attempts, nowMs, deadline, o.Actor, nullString(o.IdempotencyKey), now, now)
	if err == nil {
		out.ID, err = res.LastInsertId()
	}
	if err != nil {
		return nil, fmt.Errorf("store: outbox: %w", err)
	}
	return out, nil
}

// attachOutboundMedia links a media-by-id message to its file: the local
// copy when it was uploaded through Pforte, else a pending row that the
// media fetcher downloads from Meta like an inbound file.
func attachOutboundMedia(tx *Tx, msgID int64, o *OutboundSend) error {
	var mime, sum, fname, path string
	var size int64
	err := tx.QueryRow("SELECT mime_type, sha256, filename, path, size FROM uploads WHERE media_id = ?", o.MediaID).Scan(&mime, &sum, &fname, &path, &size)
	if o.Filename != "" {
		fname = o.Filename
	}
	switch {
	case err == nil:
		_, err = tx.Exec(`INSERT INTO media(message_id, media_id, mime_type, sha256, filename, size, path, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'stored')`,
			msgID, o.MediaID, mime, sum, fname, size, path)
	case errors.Is(err, sql.ErrNoRows):
		_, err = tx.Exec(`INSERT INTO media(message_id, media_id, filename) VALUES (?, ?, ?)`, msgID, o.MediaID, fname)
	}
	if err != nil {
		return fmt.Errorf("store: outbound media: %w", err)
	}
	return nil
}

const outboundColumns = `o.id, o.message_id, o.phone_number_id, o.pair_key, o.body, o.state, o.attempts, o.next_attempt_at,
	coalesce(o.deadline, 0), o.last_error, o.response, coalesce(m.wamid, ''), o.actor, o.created_at`

func scanOutbound(r scanner) (*Outbound, error) {
	var o Outbound
	var lastErr, resp sql.NullString
	if err := r.Scan(&o.ID, &o.MessageID, &o.PhoneNumberID, &o.PairKey, &o.Body, &o.State, &o.Attempts, &o.NextAttemptAt,
		&o.Deadline, &lastErr, &resp, &o.WAMID, &o.Actor, &o.CreatedAt); err != nil {
		return nil, err
	}
	o.LastError, o.Response = bytesOf(lastErr), bytesOf(resp)
	return &o, nil
}

func outboundTx(tx *Tx, msgID int64) (*Outbound, error) {
	o, err := scanOutbound(tx.QueryRow("SELECT "+outboundColumns+" FROM outbox o JOIN messages m ON m.id = o.message_id WHERE o.message_id = ?", msgID))
	if err != nil {
		return nil, fmt.Errorf("store: outbox: %w", err)
	}
	return o, nil
}

// Outbound returns the outbox entry of a local message id.
func (s *Store) Outbound(ctx context.Context, messageID int64) (*Outbound, error) {
	o, err := scanOutbound(s.rdb.QueryRowContext(ctx, "SELECT "+outboundColumns+" FROM outbox o JOIN messages m ON m.id = o.message_id WHERE o.message_id = ?", messageID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: outbox: %w", err)
	}
	return o, nil
}

// DueOutbox lists queued entries whose time has come and which are the
// oldest unfinished entry for their customer, oldest first, so that one
// customer's messages go out in order.
func (s *Store) DueOutbox(ctx context.Context, now time.Time, limit int) ([]*Outbound, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+outboundColumns+` FROM outbox o JOIN messages m ON m.id = o.message_id
		WHERE o.state = 'queued' AND o.next_attempt_at <= ?
		  AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.pair_key = o.pair_key AND p.id < o.id AND p.state IN ('queued', 'sending'))
		ORDER BY o.id LIMIT ?`, now.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: due outbox: %w", err)
	}
	defer rows.Close()
	var out []*Outbound
	for rows.Next() {
		o, err := scanOutbound(rows)
		if err != nil {
			return nil, fmt.Errorf("store: due outbox: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// NextOutboxAttempt returns when the earliest queued entry is due.
func (s *Store) NextOutboxAttempt(ctx context.Context) (time.Time, bool, error) {
	var ms sql.NullInt64
	if err := s.rdb.QueryRowContext(ctx, "SELECT min(next_attempt_at) FROM outbox WHERE state = 'queued'").Scan(&ms); err != nil {
		return time.Time{}, false, fmt.Errorf("store: next outbox attempt: %w", err)
	}
	return time.UnixMilli(ms.Int64), ms.Valid, nil
}

// ErrNotQueued is returned when an entry was claimed or finished meanwhile.
var ErrNotQueued = errors.New("store: outbox entry is no longer queued")

// ClaimOutbound marks a queued entry as being sent, durably, before the
// request leaves: after a crash it becomes "unknown", never resent blindly.
// It checks consent and restriction again, as the message leaves: a
// customer who wrote STOP (or whose processing was restricted) after the
// message was queued, as in the middle of a campaign, is not written to.
// Such an entry fails with a *ClaimRefusedError and is never sent.
func (s *Store) ClaimOutbound(ctx context.Context, id int64, now time.Time) error {
	var refused error
	err := s.Write(ctx, func(tx *Tx) error {
		refused = nil
		res, err := tx.Exec("UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ? WHERE id = ? AND state = 'queued'", now.Unix(), id)
		if err != nil {
			return fmt.Errorf("store: claim outbox: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotQueued
		}
		var typ string
		var payload []byte
		var msgID, contactID, numberID int64
		var restricted bool
		err = tx.QueryRow(`SELECT m.id, m.type, coalesce(m.payload, ''), cv.contact_id, cv.business_number_id,
			EXISTS (SELECT 1 FROM erasure_requests e WHERE e.contact_id = cv.contact_id AND e.state = 'restricted')
			FROM outbox o JOIN messages m ON m.id = o.message_id JOIN conversations cv ON cv.id = m.conversation_id WHERE o.id = ?`, id).
			Scan(&msgID, &typ, &payload, &contactID, &numberID, &restricted)
		if err != nil {
			return fmt.Errorf("store: claim outbox: %w", err)
		}
		reason := ""
		if restricted {
			refused, reason = ErrRestricted, ReasonRestricted
		} else if cerr := checkMarketingTx(tx, contactID, numberID, typ, payload); errors.Is(cerr, ErrNoConsent) {
			refused, reason = cerr, ReasonWithdrawn
		} else if cerr != nil {
			return cerr
		}
		if refused == nil {
			return nil
		}
		obj := []byte(`{"code":0,"title":"Not sent","message":"Consent was withdrawn or processing restricted after the message was queued; Pforte did not send it."}`)
		if err := finishFailed(tx, id, obj, OutboxFailed, now); err != nil {
			return err
		}
		_, err = tx.Exec("UPDATE campaign_recipients SET status = 'stopped', reason = ? WHERE message_id = ?", reason, msgID)
		return err
	})
	if err != nil {
		return err
	}
	if refused != nil {
		return &ClaimRefusedError{Err: refused}
	}
	return nil
}

// ClaimRefusedError says a queued message was not sent because consent or
// restriction forbade it when it was about to leave; it is failed.
type ClaimRefusedError struct{ Err error }

func (e *ClaimRefusedError) Error() string { return "store: not sent: " + e.Err.Error() }
func (e *ClaimRefusedError) Unwrap() error { return e.Err }

// RetryOutbound records a failed attempt whose request Meta did not carry
// out and queues the next one. A retry that would start after the entry's
// deadline fails it instead; failed reports which happened.
func (s *Store) RetryOutbound(ctx context.Context, id int64, errObj []byte, next time.Time) (failed bool, err error) {
	err = s.Write(ctx, func(tx *Tx) error {
		failed = false
		var deadline sql.NullInt64
		if err := tx.QueryRow("SELECT deadline FROM outbox WHERE id = ?", id).Scan(&deadline); err != nil {
			return fmt.Errorf("store: retry outbox: %w", err)
		}
		if deadline.Valid && next.UnixMilli() > deadline.Int64 {
			failed = true
			return finishFailed(tx, id, errObj, OutboxFailed, time.Now())
		}
		_, err := tx.Exec("UPDATE outbox SET state = 'queued', next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ? AND state IN ('sending', 'queued')",
			next.UnixMilli(), nullJSON(errObj), time.Now().Unix(), id)
		if err != nil {
			return fmt.Errorf("store: retry outbox: %w", err)
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return failed, nil
}

// FailOutbound finishes an entry as failed, keeping Meta's error object
// on the message like a failed-status webhook would.
func (s *Store) FailOutbound(ctx context.Context, id int64, errObj []byte) error {
	return s.Write(ctx, func(tx *Tx) error { return finishFailed(tx, id, errObj, OutboxFailed, time.Now()) })
}

// UnknownOutbound finishes an entry whose request may have reached Meta:
// it is reported, and only a person decides whether to send it again.
func (s *Store) UnknownOutbound(ctx context.Context, id int64, errObj []byte) error {
	return s.Write(ctx, func(tx *Tx) error { return finishFailed(tx, id, errObj, OutboxUnknown, time.Now()) })
}

// ExpireOutbound fails a still-queued entry whose caller stopped waiting.
func (s *Store) ExpireOutbound(ctx context.Context, id int64, errObj []byte) error {
	return s.Write(ctx, func(tx *Tx) error {
		var state OutboxState
		if err := tx.QueryRow("SELECT state FROM outbox WHERE id = ?", id).Scan(&state); err != nil {
			return fmt.Errorf("store: expire outbox: %w", err)
		}
		if state != OutboxQueued {
			return ErrNotQueued
		}
		return finishFailed(tx, id, errObj, OutboxFailed, time.Now())
	})
}

func finishFailed(tx *Tx, id int64, errObj []byte, state OutboxState, now time.Time) error {
	var errs sql.NullString
	if e := nullJSON(errObj); e.Valid {
		errs = sql.NullString{String: "[" + e.String + "]", Valid: true}
	}
	if _, err := tx.Exec("UPDATE outbox SET state = ?, last_error = ?, updated_at = ? WHERE id = ?", state, nullJSON(errObj), now.Unix(), id); err != nil {
		return fmt.Errorf("store: finish outbox: %w", err)
	}
	if _, err := tx.Exec(`UPDATE messages SET status = ?, status_at = ?, errors = ? WHERE id = (SELECT message_id FROM outbox WHERE id = ?)`,
		state, now.Unix(), errs, id); err != nil {
		return fmt.Errorf("store: finish outbox message: %w", err)
	}
	return nil
}

// AcceptOutbound records Meta's acceptance: the message gets its wamid and
// status "accepted", and receipts that arrived before the answer (they
// can) are applied at once.
func (s *Store) AcceptOutbound(ctx context.Context, id int64, wamid string, response []byte) error {
	return s.Write(ctx, func(tx *Tx) error {
		now := time.Now().Unix()
		if _, err := tx.Exec("UPDATE outbox SET state = 'accepted', response = ?, last_error = NULL, body = X'', updated_at = ? WHERE id = ?",
			nullJSON(response), now, id); err != nil {
			return fmt.Errorf("store: accept outbox: %w", err)
		}
		if _, err := tx.Exec(`UPDATE messages SET wamid = ?, status = 'accepted', status_at = ?, errors = NULL WHERE id = (SELECT message_id FROM outbox WHERE id = ?)`,
			wamid, now, id); err != nil {
			return fmt.Errorf("store: accept outbox message: %w", err)
		}
		return refreshStatus(tx, wamid)
	})
}

// RecoverOutbox runs at start: entries left "sending" by a crash may have
// reached Meta, so they become "unknown" instead of being sent again.
func (s *Store) RecoverOutbox(ctx context.Context) (int, error) {
	var n int
	err := s.Write(ctx, func(tx *Tx) error {
		rows, err := tx.Query("SELECT id FROM outbox WHERE state = 'sending'")
		if err != nil {
			return fmt.Errorf("store: recover outbox: %w", err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("store: recover outbox: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		n = len(ids)
		for _, id := range ids {
			obj := []byte(`{"code":0,"title":"Outcome unknown","message":"Pforte stopped while this message was being sent; it may have reached Meta and was not sent again."}`)
			if err := finishFailed(tx, id, obj, OutboxUnknown, time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// RequeueOutbound sends an unknown or failed entry again: a person's
// decision, e.g. after checking with the customer.
func (s *Store) RequeueOutbound(ctx context.Context, messageID int64) error {
	return s.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE outbox SET state = 'queued', next_attempt_at = 0, deadline = NULL, updated_at = ?
			WHERE message_id = ? AND state IN ('unknown', 'failed') AND length(body) > 0`, time.Now().Unix(), messageID)
		if err != nil {
			return fmt.Errorf("store: requeue: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tx.Exec("UPDATE messages SET status = 'queued', errors = NULL WHERE id = ?", messageID)
		return err
	})
}

// OutboxCounts returns how many entries are in each state.
func (s *Store) OutboxCounts(ctx context.Context) (map[OutboxState]int, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT state, count(*) FROM outbox GROUP BY state")
	if err != nil {
		return nil, fmt.Errorf("store: outbox counts: %w", err)
	}
	defer rows.Close()
	out := map[OutboxState]int{}
	for rows.Next() {
		var st OutboxState
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, fmt.Errorf("store: outbox counts: %w", err)
		}
		out[st] = n
	}
	return out, rows.Err()
}

// Alarm is a condition an admin must act on.
type Alarm struct {
	Key      string
	Message  string
	RaisedAt int64
	Count    int
}

// RaiseAlarm records (or repeats) an alarm; the first raise queues a mail.
func (s *Store) RaiseAlarm(ctx context.Context, key, message string) error {
	return s.RaiseAlarmAt(ctx, key, message, time.Now())
}

// ClearAlarm removes an alarm whose condition ended (with a resolution
// mail when it stood).
func (s *Store) ClearAlarm(ctx context.Context, key string) error {
	return s.ClearAlarmAt(ctx, key, "Behoben: "+key, time.Now())
}

// Alarms lists the current alarms, oldest first.
func (s *Store) Alarms(ctx context.Context) ([]Alarm, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT key, message, raised_at, count FROM alarms ORDER BY raised_at, key")
	if err != nil {
		return nil, fmt.Errorf("store: alarms: %w", err)
	}
	defer rows.Close()
	var out []Alarm
	for rows.Next() {
		var a Alarm
		if err := rows.Scan(&a.Key, &a.Message, &a.RaisedAt, &a.Count); err != nil {
			return nil, fmt.Errorf("store: alarms: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
