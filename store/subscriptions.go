package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Events is a set of event classes a subscription receives.
type Events uint8

// The event classes of a delivery. A delivery can hold several; it is
// forwarded whole to every subscription that wants any of them, because the
// signature covers the whole body.
const (
	EventMessages Events = 1 << iota // customer messages (value.messages)
	EventStatuses                    // receipts of sent messages (value.statuses)
	EventErrors                      // system and account errors (value.errors)
	EventOther                       // every other field: templates, account, quality, unknown
	EventsAll     = EventMessages | EventStatuses | EventErrors | EventOther
)

// EventHistory is the coexistence chat history: never part of "all", so
// only a subscription that names it receives history chunks.
const (
	EventHistory Events = 1 << 4
	eventsKnown         = EventsAll | EventHistory
)

var eventNames = []struct {
	e    Events
	name string
}{{EventMessages, "messages"}, {EventStatuses, "statuses"}, {EventErrors, "errors"}, {EventOther, "other"}, {EventHistory, "history"}}

// EventNames lists the names ParseEvents accepts, in bit order.
func EventNames() []string {
	out := make([]string, len(eventNames))
	for i, n := range eventNames {
		out[i] = n.name
	}
	return out
}

// ParseEvents turns names ("messages", "statuses", "errors", "other") into a
// set. An empty list is an error: a subscription must want something.
func ParseEvents(names []string) (Events, error) {
	var e Events
	for _, raw := range names {
		name := strings.ToLower(strings.TrimSpace(raw))
		found := false
		for _, n := range eventNames {
			if n.name == name {
				e |= n.e
				found = true
			}
		}
		if !found {
			return 0, &InputError{Field: "events", Msg: fmt.Sprintf("unknown event class %q (known: %s)", raw, strings.Join(EventNames(), ", "))}
		}
	}
	if e == 0 {
		return 0, &InputError{Field: "events", Msg: "choose at least one of " + strings.Join(EventNames(), ", ")}
	}
	return e, nil
}

// Names lists the set's classes in a fixed order.
func (e Events) Names() []string {
	out := []string{}
	for _, n := range eventNames {
		if e&n.e != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

func (e Events) String() string { return strings.Join(e.Names(), ",") }

// InputError is a value the store refused; Field names it so the API and
// the CLI can point at it. Nothing was changed.
type InputError struct {
	Field string
	Msg   string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Msg }

// Subscription is a configured receiver of forwarded deliveries. The secret
// is not part of it: it is written once and only read by the fan-out worker.
type Subscription struct {
	ID        int64
	Name      string
	URL       string
	Events    Events
	Enabled   bool
	CreatedAt int64 // unix ms
	UpdatedAt int64 // unix ms
	Queue     QueueState
}

// QueueState is how a subscription's forwarding is doing: for metrics, the
// API and the panel.
type QueueState struct {
	Pending         int64 // deliveries waiting to be forwarded
	Dead            int64 // deliveries given up on (dead letters), replayable
	OldestPendingAt int64 // unix ms when the oldest waiting delivery was queued; 0 if none
	Delivered       int64 // forwarded since the subscription was created
	FailedAttempts  int64
	DeadLettered    int64 // deliveries ever moved to the dead letters
	LastSuccessAt   int64 // unix ms; 0 if never
	LastErrorAt     int64 // unix ms; 0 if never
	LastError       string
	LastStatus      int // HTTP status of the last attempt; 0 if none or no response
}

// OldestAge is how long the oldest waiting delivery has been queued.
func (q QueueState) OldestAge(now time.Time) time.Duration {
	if q.OldestPendingAt == 0 {
		return 0
	}
	return max(0, now.Sub(time.UnixMilli(q.OldestPendingAt)))
}

// SubscriptionInput creates a subscription. An empty Secret is replaced by a
// generated one; Events zero means every class.
type SubscriptionInput struct {
	Name    string
	URL     string
	Secret  string
	Events  Events
	Enabled bool
}

// SubscriptionPatch changes the fields that are not nil.
type SubscriptionPatch struct {
	Name    *string
	URL     *string
	Secret  *string
	Events  *Events
	Enabled *bool
}

// Limits on subscription fields.
const (
	MinSecretLen = 16
	maxSecretLen = 512
	maxURLLen    = 2048
	maxNameLen   = 200
)

// CheckSubscriptionURL accepts absolute http and https URLs. Plain http is
// allowed because receivers often sit on the same private network.
func CheckSubscriptionURL(raw string) error {
	if len(raw) > maxURLLen {
		return &InputError{Field: "url", Msg: fmt.Sprintf("longer than %d characters", maxURLLen)}
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return &InputError{Field: "url", Msg: "want an absolute http:// or https:// URL, e.g. https://crm.example.com/whatsapp"}
	}
	if u.User != nil {
		return &InputError{Field: "url", Msg: "must not carry a user name or password; the secret signs every request instead"}
	}
	if u.Fragment != "" {
		return &InputError{Field: "url", Msg: "must not have a #fragment"}
	}
	return nil
}

func checkSecret(secret string) error {
	if len(secret) < MinSecretLen || len(secret) > maxSecretLen {
		return &InputError{Field: "secret", Msg: fmt.Sprintf("must be %d to %d characters long", MinSecretLen, maxSecretLen)}
	}
	return nil
}

func checkName(name string) error {
	if len(name) > maxNameLen {
		return &InputError{Field: "name", Msg: fmt.Sprintf("longer than %d characters", maxNameLen)}
	}
	return nil
}

// GenerateSecret returns a fresh random subscription secret.
func GenerateSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// subscriptionSecretLabel binds a sealed value to its column (see Seal).
const subscriptionSecretLabel = "subscription.secret"

// sealSecret and openSecret are the only code that touches the secret
// columns.
func (s *Store) sealSecret(plain string) ([]byte, error) {
	b, err := s.Seal([]byte(plain), subscriptionSecretLabel)
	if err != nil {
		return nil, fmt.Errorf("store: seal subscription secret: %w", err)
	}
	return b, nil
}

// openSecret opens a sealed secret; a row not sealed yet (a read-only
// store opened an old database) still has its secret in legacy.
func (s *Store) openSecret(sealed []byte, legacy string) ([]byte, error) {
	if sealed == nil {
		return []byte(legacy), nil
	}
	return s.Unseal(sealed, subscriptionSecretLabel)
}

// sealLegacySecrets seals every subscription secret still in plain text,
// then truncates the WAL so no page holding the old text stays on disk
// (secure_delete clears it from the database file). It runs on the
// writer's connection before the writer starts, on every open: a restored
// old backup is sealed too.
func (s *Store) sealLegacySecrets(ctx context.Context) error {
	var migrated bool
	if err := s.wdb.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pragma_table_info('subscriptions') WHERE name = 'secret_sealed')").Scan(&migrated); err != nil || !migrated {
		return err // tests may stop the schema at an older step
	}
	rows, err := s.wdb.QueryContext(ctx, "SELECT id, secret FROM subscriptions WHERE secret_sealed IS NULL")
	if err != nil {
		return fmt.Errorf("store: seal subscription secrets: %w", err)
	}
	type legacy struct {
		id     int64
		secret string
	}
	var todo []legacy
	for rows.Next() {
		var l legacy
		if err := rows.Scan(&l.id, &l.secret); err != nil {
			rows.Close()
			return fmt.Errorf("store: seal subscription secrets: %w", err)
		}
		todo = append(todo, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(todo) == 0 {
		return err
	}
	tx, err := s.wdb.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: seal subscription secrets: %w", err)
	}
	defer tx.Rollback()
	for _, l := range todo {
		sealed, err := s.sealSecret(l.secret)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE subscriptions SET secret_sealed = ?, secret = '' WHERE id = ?", sealed, l.id); err != nil {
			return fmt.Errorf("store: seal subscription secrets: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: seal subscription secrets: %w", err)
	}
	if _, err := s.wdb.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("store: seal subscription secrets: checkpoint: %w", err)
	}
	s.log.Info("subscription secrets sealed", "count", len(todo))
	return nil
}

// CreateSubscription validates in and stores it. It returns the stored
// subscription and the secret, which the caller shows once.
func (s *Store) CreateSubscription(ctx context.Context, actor Actor, in SubscriptionInput) (*Subscription, string, error) {
	in.Name = strings.TrimSpace(in.Name)
	if in.Events == 0 {
		in.Events = EventsAll
	}
	if in.Secret == "" {
		in.Secret = GenerateSecret()
	}
	if err := CheckSubscriptionURL(in.URL); err != nil {
		return nil, "", err
	}
	if err := checkSecret(in.Secret); err != nil {
		return nil, "", err
	}
	if err := checkName(in.Name); err != nil {
		return nil, "", err
	}
	if in.Events&^eventsKnown != 0 {
		return nil, "", &InputError{Field: "events", Msg: "unknown event class"}
	}
	if in.Events&EventsAll == 0 {
		return nil, "", &InputError{Field: "events", Msg: "history needs at least one of messages, statuses, errors, other"}
	}
	sealed, err := s.sealSecret(in.Secret)
	if err != nil {
		return nil, "", err
	}
	now := time.Now().UnixMilli()
	var id int64
	err = s.Write(ctx, func(tx *Tx) error {
		if err := tx.QueryRow(`INSERT INTO subscriptions(name, url, secret, secret_sealed, events, events_extra, enabled, created_at, updated_at)
			VALUES (?, ?, '', ?, ?, ?, ?, ?, ?) RETURNING id`, in.Name, in.URL, sealed, int(in.Events&EventsAll), int(in.Events&^EventsAll), in.Enabled, now, now).Scan(&id); err != nil {
			return fmt.Errorf("store: subscription: %w", err)
		}
		return AuditTx(tx, AuditEntry{Actor: actor, Action: AuditSubscriptionCreate, Target: subTarget(id),
			Detail: auditDetail(map[string]any{"events": in.Events.Names(), "enabled": in.Enabled})})
	})
	if err != nil {
		return nil, "", err
	}
	s.signalFanout()
	sub, err := s.Subscription(ctx, id)
	return sub, in.Secret, err
}

func subTarget(id int64) string { return "subscription:" + strconv.FormatInt(id, 10) }

func auditDetail(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// UpdateSubscription applies p. Any change makes waiting deliveries due at
// once, so that fixing a receiver's URL does not wait out the backoff.
func (s *Store) UpdateSubscription(ctx context.Context, actor Actor, id int64, p SubscriptionPatch) (*Subscription, error) {
	var sets []string
	var args []any
	var changed []string
	if p.Name != nil {
		name := strings.TrimSpace(*p.Name)
		if err := checkName(name); err != nil {
			return nil, err
		}
		sets, args, changed = append(sets, "name = ?"), append(args, name), append(changed, "name")
	}
	if p.URL != nil {
		if err := CheckSubscriptionURL(*p.URL); err != nil {
			return nil, err
		}
		sets, args, changed = append(sets, "url = ?"), append(args, *p.URL), append(changed, "url")
	}
	if p.Secret != nil {
		if err := checkSecret(*p.Secret); err != nil {
			return nil, err
		}
		sealed, err := s.sealSecret(*p.Secret)
		if err != nil {
			return nil, err
		}
		sets, args, changed = append(sets, "secret = ''", "secret_sealed = ?"), append(args, sealed), append(changed, "secret")
	}
	if p.Events != nil {
		if *p.Events&EventsAll == 0 || *p.Events&^eventsKnown != 0 {
			return nil, &InputError{Field: "events", Msg: "choose at least one of " + strings.Join(EventNames(), ", ")}
		}
		sets, args, changed = append(sets, "events = ?", "events_extra = ?"), append(args, int(*p.Events&EventsAll), int(*p.Events&^EventsAll)), append(changed, "events")
	}
	if p.Enabled != nil {
		sets, args, changed = append(sets, "enabled = ?"), append(args, *p.Enabled), append(changed, "enabled")
	}
	now := time.Now().UnixMilli()
	err := s.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec("UPDATE subscriptions SET "+strings.Join(append(sets, "updated_at = ?"), ", ")+" WHERE id = ?",
			append(args, now, id)...)
		if err != nil {
			return fmt.Errorf("store: subscription update: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if _, err := tx.Exec("UPDATE fanout_queue SET next_attempt_at = 0 WHERE subscription_id = ? AND state = 'pending'", id); err != nil {
			return fmt.Errorf("store: subscription update: %w", err)
		}
		return AuditTx(tx, AuditEntry{Actor: actor, Action: AuditSubscriptionUpdate, Target: subTarget(id),
			Detail: auditDetail(map[string]any{"changed": changed})})
	})
	if err != nil {
		return nil, err
	}
	s.signalFanout()
	return s.Subscription(ctx, id)
}

// DeleteSubscription removes a subscription and everything queued for it.
func (s *Store) DeleteSubscription(ctx context.Context, actor Actor, id int64) error {
	return s.Write(ctx, func(tx *Tx) error {
		var dropped int64
		if err := tx.QueryRow("SELECT count(*) FROM fanout_queue WHERE subscription_id = ?", id).Scan(&dropped); err != nil {
			return fmt.Errorf("store: subscription delete: %w", err)
		}
		res, err := tx.Exec("DELETE FROM subscriptions WHERE id = ?", id)
		if err != nil {
			return fmt.Errorf("store: subscription delete: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return AuditTx(tx, AuditEntry{Actor: actor, Action: AuditSubscriptionDelete, Target: subTarget(id),
			Detail: auditDetail(map[string]any{"queued_dropped": dropped})})
	})
}

const subscriptionColumns = `s.id, s.name, s.url, s.events | s.events_extra, s.enabled, s.created_at, s.updated_at,
	s.delivered_total, s.failed_total, s.dead_total, coalesce(s.last_success_at, 0), coalesce(s.last_error_at, 0),
	coalesce(s.last_error, ''), coalesce(s.last_status, 0),
	(SELECT count(*) FROM fanout_queue q WHERE q.subscription_id = s.id AND q.state = 'pending'),
	(SELECT count(*) FROM fanout_queue q WHERE q.subscription_id = s.id AND q.state = 'dead'),
	coalesce((SELECT min(q.enqueued_at) FROM fanout_queue q WHERE q.subscription_id = s.id AND q.state = 'pending'), 0)`

func scanSubscription(r scanner) (*Subscription, error) {
	var sub Subscription
	var events int
	q := &sub.Queue
	if err := r.Scan(&sub.ID, &sub.Name, &sub.URL, &events, &sub.Enabled, &sub.CreatedAt, &sub.UpdatedAt,
		&q.Delivered, &q.FailedAttempts, &q.DeadLettered, &q.LastSuccessAt, &q.LastErrorAt, &q.LastError, &q.LastStatus,
		&q.Pending, &q.Dead, &q.OldestPendingAt); err != nil {
		return nil, err
	}
	sub.Events = Events(events)
	return &sub, nil
}

// Subscription returns one subscription with its queue state.
func (s *Store) Subscription(ctx context.Context, id int64) (*Subscription, error) {
	sub, err := scanSubscription(s.rdb.QueryRowContext(ctx, "SELECT "+subscriptionColumns+" FROM subscriptions s WHERE s.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: subscription: %w", err)
	}
	return sub, nil
}

// Subscriptions lists every subscription with its queue state, oldest first.
func (s *Store) Subscriptions(ctx context.Context) ([]*Subscription, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+subscriptionColumns+" FROM subscriptions s ORDER BY s.id")
	if err != nil {
		return nil, fmt.Errorf("store: subscriptions: %w", err)
	}
	defer rows.Close()
	out := []*Subscription{}
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, fmt.Errorf("store: subscriptions: %w", err)
		}
		out = append(out, sub)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: subscriptions: %w", err)
	}
	return out, nil
}
