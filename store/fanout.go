package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// fanoutEvents says which event classes a parsed delivery holds. What could
// not be parsed counts as every class: better a receiver sees too much than
// misses a message.
func fanoutEvents(d *Delivery) Events {
	if d.ParseError != "" && len(d.Messages) == 0 && len(d.Statuses) == 0 && len(d.Events) == 0 {
		return EventsAll
	}
	var e Events
	if len(d.Messages) > 0 {
		e |= EventMessages
	}
	if len(d.Statuses) > 0 {
		e |= EventStatuses
	}
	if len(d.Echoes) > 0 {
		e |= EventMessages
	}
	if len(d.Groups) > 0 || len(d.ContactSyncs) > 0 {
		e |= EventOther
	}
	if len(d.History) > 0 {
		// Only to subscriptions that ask for it: a sync can be thousands
		// of chunks, and forwarding them uninvited would be a storm.
		e |= EventHistory
	}
	for _, ev := range d.Events {
		switch {
		case ev.Field == "statuses.unreadable":
			e |= EventStatuses
		case strings.HasPrefix(ev.Field, "messages.unreadable"):
			e |= EventMessages
		case ev.Field == "messages.errors":
			e |= EventErrors
		case ev.Field == "messages":
			// A messages value that did not decode may hold anything.
			e |= EventMessages | EventStatuses | EventErrors
		default:
			e |= EventOther
		}
	}
	if e == 0 {
		// An authentic delivery with nothing recognisable in it.
		e = EventOther
	}
	return e
}

// enqueueFanout queues a just-stored delivery for every enabled subscription
// that wants one of its event classes. It runs inside ingest's transaction,
// so a delivery is never stored without its fan-out, whatever crashes.
func enqueueFanout(tx *Tx, d *Delivery, ev Events, deliveryID int64, res *IngestResult) error {
	r, err := tx.Exec(`INSERT INTO fanout_queue(subscription_id, delivery_id, enqueued_at)
		SELECT id, ?, ? FROM subscriptions WHERE enabled = 1 AND (events | events_extra) & ? <> 0`,
		deliveryID, d.ReceivedAt.UnixMilli(), int(ev))
	if err != nil {
		return fmt.Errorf("store: fan-out: %w", err)
	}
	n, _ := r.RowsAffected()
	res.Fanout = int(n)
	return nil
}

// FanoutSignal wakes the fan-out worker: it carries a value (coalesced)
// whenever this process queued deliveries or changed subscriptions. Only
// one goroutine should receive from it; other processes' changes (the CLI)
// are found by polling.
func (s *Store) FanoutSignal() <-chan struct{} { return s.fanoutWake() }

func (s *Store) fanoutWake() chan struct{} {
	s.fanoutOnce.Do(func() { s.fanoutCh = make(chan struct{}, 1) })
	return s.fanoutCh
}

func (s *Store) signalFanout() {
	select {
	case s.fanoutWake() <- struct{}{}:
	default:
	}
}

// FanoutLanes returns the enabled subscriptions that have deliveries waiting.
func (s *Store) FanoutLanes(ctx context.Context) ([]int64, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT s.id FROM subscriptions s WHERE s.enabled = 1
		AND EXISTS (SELECT 1 FROM fanout_queue q WHERE q.subscription_id = s.id AND q.state = 'pending') ORDER BY s.id`)
	if err != nil {
		return nil, fmt.Errorf("store: fan-out lanes: %w", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: fan-out lanes: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// FanoutItem is the next delivery to forward to one subscription.
type FanoutItem struct {
	SubscriptionID int64
	DeliveryID     int64
	Attempts       int   // failed attempts so far
	EnqueuedAt     int64 // unix ms
	NextAttemptAt  int64 // unix ms
	URL            string
	Secret         []byte
	// Body is the delivery exactly as Meta sent it; nil while the item is
	// not yet due (its backoff has not run out).
	Body []byte
}

// FanoutHead returns the oldest waiting delivery of an enabled subscription,
// with its body only when it is due at now. ErrNotFound means nothing waits.
func (s *Store) FanoutHead(ctx context.Context, subID int64, now time.Time) (*FanoutItem, error) {
	items, err := s.FanoutNext(ctx, subID, now, 1, 0)
	if err != nil {
		return nil, err
	}
	return items[0], nil
}

// FanoutNext returns up to limit waiting deliveries of an enabled
// subscription in delivery order, stopping before the first one that is not
// due and once the bodies exceed maxBytes. If the oldest is not due, it
// alone is returned without a body. ErrNotFound means nothing waits.
func (s *Store) FanoutNext(ctx context.Context, subID int64, now time.Time, limit, maxBytes int) ([]*FanoutItem, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT q.delivery_id, q.attempts, q.enqueued_at, q.next_attempt_at, s.url, s.secret, s.secret_sealed,
			CASE WHEN q.next_attempt_at <= ?2 THEN d.body END
		FROM fanout_queue q
		JOIN subscriptions s ON s.id = q.subscription_id
		JOIN deliveries d ON d.id = q.delivery_id
		WHERE q.subscription_id = ?1 AND q.state = 'pending' AND s.enabled = 1
		ORDER BY q.delivery_id LIMIT ?3`, subID, now.UnixMilli(), max(1, limit))
	if err != nil {
		return nil, fmt.Errorf("store: fan-out queue: %w", err)
	}
	defer rows.Close()
	var out []*FanoutItem
	size := 0
	for rows.Next() {
		it := &FanoutItem{SubscriptionID: subID}
		var secret string
		var sealed []byte
		if err := rows.Scan(&it.DeliveryID, &it.Attempts, &it.EnqueuedAt, &it.NextAttemptAt, &it.URL, &secret, &sealed, &it.Body); err != nil {
			return nil, fmt.Errorf("store: fan-out queue: %w", err)
		}
		due := it.NextAttemptAt <= now.UnixMilli()
		if due && it.Body == nil {
			it.Body = []byte{} // an empty body is still a body
		}
		if !due && len(out) > 0 {
			break // order: nothing passes a delivery that waits
		}
		if it.Secret, err = s.openSecret(sealed, secret); err != nil {
			return nil, fmt.Errorf("store: fan-out queue: subscription %d: %w", subID, err)
		}
		out = append(out, it)
		size += len(it.Body)
		if !due || size >= maxBytes {
			break
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: fan-out queue: %w", err)
	}
	if len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, nil
}

// FanoutDelivered records that the receiver accepted items (all of one
// subscription).
func (s *Store) FanoutDelivered(ctx context.Context, items []*FanoutItem, status int, now time.Time) error {
	if len(items) == 0 {
		return nil
	}
	return s.Write(ctx, func(tx *Tx) error {
		for _, it := range items {
			if _, err := tx.Exec("DELETE FROM fanout_queue WHERE subscription_id = ? AND delivery_id = ?", it.SubscriptionID, it.DeliveryID); err != nil {
				return fmt.Errorf("store: fan-out delivered: %w", err)
			}
		}
		if _, err := tx.Exec(`UPDATE subscriptions SET delivered_total = delivered_total + ?, last_success_at = ?, last_status = ?
			WHERE id = ?`, len(items), now.UnixMilli(), status, items[0].SubscriptionID); err != nil {
			return fmt.Errorf("store: fan-out delivered: %w", err)
		}
		return nil
	})
}

// FanoutFailure describes a failed attempt.
type FanoutFailure struct {
	At      time.Time
	RetryAt time.Time // when to try the item again
	// DeadBefore: waiting items of the subscription queued at or before
	// this time are given up on (moved to the dead letters), the failed
	// item included if it qualifies.
	DeadBefore time.Time
	Status     int    // HTTP status, 0 if there was no response
	Reason     string // short, without URL or secret
}

// FanoutFailed records a failed attempt and returns how many items went to
// the dead letters because of it.
func (s *Store) FanoutFailed(ctx context.Context, it *FanoutItem, f FanoutFailure) (int, error) {
	var dead int64
	err := s.Write(ctx, func(tx *Tx) error {
		dead = 0
		if _, err := tx.Exec(`UPDATE fanout_queue SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?
			WHERE subscription_id = ? AND delivery_id = ? AND state = 'pending'`, f.RetryAt.UnixMilli(), f.Reason, it.SubscriptionID, it.DeliveryID); err != nil {
			return fmt.Errorf("store: fan-out failed: %w", err)
		}
		r, err := tx.Exec(`UPDATE fanout_queue SET state = 'dead', last_error = coalesce(last_error, ?)
			WHERE subscription_id = ? AND state = 'pending' AND enqueued_at <= ?`, f.Reason, it.SubscriptionID, f.DeadBefore.UnixMilli())
		if err != nil {
			return fmt.Errorf("store: fan-out dead letter: %w", err)
		}
		dead, _ = r.RowsAffected()
		if _, err := tx.Exec(`UPDATE subscriptions SET failed_total = failed_total + 1, dead_total = dead_total + ?,
			last_error = ?, last_error_at = ?, last_status = ? WHERE id = ?`,
			dead, f.Reason, f.At.UnixMilli(), f.Status, it.SubscriptionID); err != nil {
			return fmt.Errorf("store: fan-out failed: %w", err)
		}
		return nil
	})
	return int(dead), err
}

// Replay selects deliveries to forward to a subscription again: either its
// dead letters, or every delivery received in [From, To) that matches its
// filter. Replayed deliveries keep their place in delivery order.
type Replay struct {
	DeadLetter bool
	From, To   time.Time
}

// ReplayFanout queues a replay and returns how many deliveries it queued.
// Deliveries that are already waiting are left as they are.
func (s *Store) ReplayFanout(ctx context.Context, actor Actor, subID int64, r Replay) (int, error) {
	if !r.DeadLetter {
		if r.From.IsZero() {
			return 0, &InputError{Field: "from", Msg: "a replay needs a start time, or dead_letter"}
		}
		if r.To.IsZero() {
			r.To = time.Now()
		}
		if !r.From.Before(r.To) {
			return 0, &InputError{Field: "to", Msg: "must be after from"}
		}
	} else if !r.From.IsZero() || !r.To.IsZero() {
		return 0, &InputError{Field: "dead_letter", Msg: "replay either the dead letters or a time range, not both"}
	}
	now := time.Now().UnixMilli()
	var queued int64
	err := s.Write(ctx, func(tx *Tx) error {
		queued = 0
		var events int
		var enabled bool
		err := tx.QueryRow("SELECT events | events_extra, enabled FROM subscriptions WHERE id = ?", subID).Scan(&events, &enabled)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: replay: %w", err)
		}
		var res sql.Result
		detail := map[string]any{}
		if r.DeadLetter {
			detail["dead_letter"] = true
			res, err = tx.Exec(`UPDATE fanout_queue SET state = 'pending', attempts = 0, next_attempt_at = 0, enqueued_at = ?, last_error = NULL
				WHERE subscription_id = ? AND state = 'dead'`, now, subID)
		} else {
			detail["from"], detail["to"] = r.From.Unix(), r.To.Unix()
			// received_at has whole seconds: include the second From falls in.
			res, err = tx.Exec(`INSERT INTO fanout_queue(subscription_id, delivery_id, enqueued_at)
				SELECT ?1, d.id, ?2 FROM deliveries d
				WHERE d.received_at >= ?3 AND d.received_at < ?4 AND d.fanout_events & ?5 <> 0
				ORDER BY d.id
				ON CONFLICT(subscription_id, delivery_id) DO UPDATE SET state = 'pending', attempts = 0, next_attempt_at = 0,
					enqueued_at = excluded.enqueued_at, last_error = NULL WHERE state = 'dead'`,
				subID, now, r.From.Unix(), ceilSeconds(r.To), events)
		}
		if err != nil {
			return fmt.Errorf("store: replay: %w", err)
		}
		queued, _ = res.RowsAffected()
		detail["queued"] = queued
		return AuditTx(tx, AuditEntry{Actor: actor, Action: AuditSubscriptionReplay, Target: subTarget(subID), Detail: auditDetail(detail)})
	})
	if err != nil {
		return 0, err
	}
	s.signalFanout()
	return int(queued), nil
}

func ceilSeconds(t time.Time) int64 {
	if t.Truncate(time.Second).Equal(t) {
		return t.Unix()
	}
	return t.Unix() + 1
}

// DeadLetter is one delivery a subscription gave up on.
type DeadLetter struct {
	DeliveryID int64
	ReceivedAt int64 // unix seconds
	Attempts   int
	LastError  string
}

// DeadLetters lists a subscription's dead letters, oldest first.
func (s *Store) DeadLetters(ctx context.Context, subID int64, limit int) ([]DeadLetter, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT q.delivery_id, d.received_at, q.attempts, coalesce(q.last_error, '')
		FROM fanout_queue q JOIN deliveries d ON d.id = q.delivery_id
		WHERE q.subscription_id = ? AND q.state = 'dead' ORDER BY q.delivery_id LIMIT ?`, subID, Page{Limit: limit}.limit())
	if err != nil {
		return nil, fmt.Errorf("store: dead letters: %w", err)
	}
	defer rows.Close()
	out := []DeadLetter{}
	for rows.Next() {
		var d DeadLetter
		if err := rows.Scan(&d.DeliveryID, &d.ReceivedAt, &d.Attempts, &d.LastError); err != nil {
			return nil, fmt.Errorf("store: dead letters: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
