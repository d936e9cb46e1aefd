package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Alarm keys are "<kind>" or "<kind>:<subject>" (a phone number id, a WABA
// id, a template id); the kind labels the Prometheus gauge.
const (
	AlarmQuality      = "quality"     // quality rating YELLOW/RED, or the number FLAGGED
	AlarmTier         = "tier"        // messaging limit lowered
	AlarmAccountBan   = "account_ban" // WABA disabled or scheduled for it
	AlarmRestriction  = "restriction" // account restricted or in violation
	AlarmTemplate     = "template"    // a template paused or disabled
	AlarmPermissions  = "permissions" // the token lacks a permission Graph reads need
	AlarmWebhooks     = "webhooks"    // no webhook for longer than usual
	AlarmDisk         = "disk"        // the data directory's disk almost full
	AlarmCertificate  = "certificate" // certificate renewal failing
	AlarmBackup       = "backup"      // the backup job failing
	AlarmTokenExpired = "access_token_expired"
)

// AlarmKind is the kind part of an alarm key.
func AlarmKind(key string) string {
	k, _, _ := strings.Cut(key, ":")
	return k
}

// AlarmMailKind says whether a mail announces an alarm or its end.
type AlarmMailKind string

const (
	AlarmMailRaised   AlarmMailKind = "raised"
	AlarmMailResolved AlarmMailKind = "resolved"
)

// SettingAlarmMailTo is the comma-separated list of addresses alarms are
// mailed to; without it no alarm mail is queued.
const SettingAlarmMailTo = "alarm_mail.to"

// raiseAlarmTx records an alarm; the first raise of a condition queues one
// mail, repeats only count.
func raiseAlarmTx(tx *Tx, key, message string, now int64) error {
	_, inserted, err := tx.Insert(`INSERT INTO alarms(key, message, raised_at) VALUES (?, ?, ?) ON CONFLICT(key) DO NOTHING`,
		key, message, now)
	if err != nil {
		return fmt.Errorf("store: raise alarm: %w", err)
	}
	if !inserted {
		_, err := tx.Exec("UPDATE alarms SET message = ?, count = count + 1 WHERE key = ?", message, key)
		return err
	}
	if err := queueAlarmEvent(tx, key, AlarmMailRaised, message, now); err != nil {
		return err
	}
	return queueAlarmMail(tx, key, AlarmMailRaised, message, now)
}

// clearAlarmTx ends an alarm; ending one that stood queues the resolution mail.
func clearAlarmTx(tx *Tx, key, message string, now int64) error {
	res, err := tx.Exec("DELETE FROM alarms WHERE key = ?", key)
	if err != nil {
		return fmt.Errorf("store: clear alarm: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil
	}
	if err := queueAlarmEvent(tx, key, AlarmMailResolved, message, now); err != nil {
		return err
	}
	return queueAlarmMail(tx, key, AlarmMailResolved, message, now)
}

// AlarmField is the webhook field of the event "other" subscriptions get
// when an alarm is raised or resolved.
const AlarmField = "pforte_alarm"

// queueAlarmEvent tells the subscriptions that forward "other" events of
// an alarm's start or end: a delivery in Meta's webhook shape (object
// "pforte"), like the bot handover, so it is signed, retried and
// replayable. It runs in the alarm's own transaction, so an alarm is never
// recorded without its event. The message names business numbers and
// templates, never a customer.
func queueAlarmEvent(tx *Tx, key string, kind AlarmMailKind, message string, now int64) error {
	id := "pforte"
	if _, subject, ok := strings.Cut(key, ":"); ok && subject != "" {
		id = subject
	}
	value := map[string]any{"key": key, "alarm": AlarmKind(key), "kind": string(kind), "message": message, "at": now}
	if err := queueOwnEvent(tx, id, AlarmField, value, now); err != nil {
		return fmt.Errorf("store: alarm event: %w", err)
	}
	return nil
}

// OwnEventObject is the webhook object of the events Pforte itself sends
// its subscriptions (alarms, bot handovers), where Meta's say
// "whatsapp_business_account".
const OwnEventObject = "pforte"

// queueOwnEvent stores one of Pforte's own events as a delivery in Meta's
// webhook shape and queues it for the subscriptions that forward "other"
// events, so it is signed, retried and replayable like Meta's. The very
// same event in the same second is stored once.
func queueOwnEvent(tx *Tx, entryID, field string, value map[string]any, now int64) error {
	body, err := json.Marshal(map[string]any{"object": OwnEventObject, "entry": []any{map[string]any{"id": entryID,
		"changes": []any{map[string]any{"field": field, "value": value}}}}})
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	id, _, err := tx.Insert(`INSERT INTO deliveries(sha256, body, received_at, fanout_events, by_hash) VALUES (?, ?, ?, ?, 1)
		ON CONFLICT DO NOTHING`, sum[:], body, now, int(EventOther))
	if err != nil || id == 0 {
		return err
	}
	var res IngestResult
	return enqueueFanout(tx, &Delivery{Body: body, ReceivedAt: time.Unix(now, 0)}, EventOther, id, &res)
}

func queueAlarmMail(tx *Tx, key string, kind AlarmMailKind, message string, now int64) error {
	var to string
	err := tx.QueryRow("SELECT value FROM settings WHERE key = ?", SettingAlarmMailTo).Scan(&to)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && strings.TrimSpace(to) == "") {
		return nil // nobody to tell; the panel's banner still shows it
	}
	if err != nil {
		return fmt.Errorf("store: alarm mail: %w", err)
	}
	_, err = tx.Exec(`INSERT INTO alarm_mails(alarm_key, kind, message, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?)`,
		key, string(kind), message, now, now)
	return err
}

// RaiseAlarmAt is RaiseAlarm with the caller's clock.
func (s *Store) RaiseAlarmAt(ctx context.Context, key, message string, now time.Time) error {
	err := s.Write(ctx, func(tx *Tx) error { return raiseAlarmTx(tx, key, message, now.Unix()) })
	s.signalFanout()
	return err
}

// ClearAlarmAt ends an alarm with a resolution message.
func (s *Store) ClearAlarmAt(ctx context.Context, key, message string, now time.Time) error {
	err := s.Write(ctx, func(tx *Tx) error { return clearAlarmTx(tx, key, message, now.Unix()) })
	s.signalFanout()
	return err
}

// AlarmMail is one queued alarm e-mail.
type AlarmMail struct {
	ID        int64
	AlarmKey  string
	Kind      AlarmMailKind
	Message   string
	CreatedAt int64
	Attempts  int
	SentAt    int64
	LastError string
}

// DueAlarmMails lists unsent mails whose next attempt is due, oldest first.
func (s *Store) DueAlarmMails(ctx context.Context, now time.Time, limit int) ([]AlarmMail, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, alarm_key, kind, message, created_at, attempts, last_error
		FROM alarm_mails WHERE sent_at IS NULL AND next_attempt_at <= ? ORDER BY id LIMIT ?`, now.Unix(), limit)
	if err != nil {
		return nil, fmt.Errorf("store: due alarm mails: %w", err)
	}
	defer rows.Close()
	var out []AlarmMail
	for rows.Next() {
		var m AlarmMail
		if err := rows.Scan(&m.ID, &m.AlarmKey, &m.Kind, &m.Message, &m.CreatedAt, &m.Attempts, &m.LastError); err != nil {
			return nil, fmt.Errorf("store: due alarm mails: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// AlarmMailSent marks a mail delivered to the SMTP server and forgets
// mails sent more than 30 days ago.
func (s *Store) AlarmMailSent(ctx context.Context, id int64, now time.Time) error {
	return s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec("UPDATE alarm_mails SET sent_at = ?, attempts = attempts + 1, last_error = '' WHERE id = ?", now.Unix(), id); err != nil {
			return err
		}
		_, err := tx.Exec("DELETE FROM alarm_mails WHERE sent_at IS NOT NULL AND sent_at < ?", now.Add(-30*24*time.Hour).Unix())
		return err
	})
}

// AlarmMailFailed records a failed attempt and when to try again.
func (s *Store) AlarmMailFailed(ctx context.Context, id int64, errText string, next time.Time) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("UPDATE alarm_mails SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?",
			errText, next.Unix(), id)
		return err
	})
}

// AlarmMailState is what the panel says about alarm mail: how many wait
// and the newest failure, if the oldest waiting mail failed.
type AlarmMailState struct {
	Pending   int
	Failing   bool
	LastError string
	Sent      int
}

// AlarmMailStatus summarises the mail queue.
func (s *Store) AlarmMailStatus(ctx context.Context) (AlarmMailState, error) {
	var st AlarmMailState
	err := s.rdb.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM alarm_mails WHERE sent_at IS NULL),
		(SELECT count(*) FROM alarm_mails WHERE sent_at IS NOT NULL),
		coalesce((SELECT last_error FROM alarm_mails WHERE sent_at IS NULL AND last_error != '' ORDER BY id DESC LIMIT 1), '')`).
		Scan(&st.Pending, &st.Sent, &st.LastError)
	if err != nil {
		return st, fmt.Errorf("store: alarm mail status: %w", err)
	}
	st.Failing = st.LastError != ""
	return st, nil
}

// NumberHealth is what Pforte knows about a business number's standing.
type NumberHealth struct {
	PhoneNumberID      string
	WABAID             string
	QualityRating      string // GREEN, YELLOW, RED, NA
	MessagingLimitTier string // TIER_250 … TIER_UNLIMITED
	Throughput         string // STANDARD, HIGH, NOT_APPLICABLE
	NameStatus         string
	VerifiedName       string
	AccountStatus      string // the newest account_update event that matters
	StorageStatus      string // IN_COUNTRY_STORAGE_ENABLED / _DISABLED, "" unknown
	StorageRegion      string
	LastWebhookAt      int64
	ReadAt             int64
	ReadError          string
	UpdatedAt          int64
}

// LocalStorageOn says whether Meta keeps this number's data at rest in
// the region (Cloud API local storage).
func (h NumberHealth) LocalStorageOn() bool {
	return strings.EqualFold(h.StorageStatus, "IN_COUNTRY_STORAGE_ENABLED")
}

// NumberHealths lists every known business number's health, numbers that
// never reported included.
func (s *Store) NumberHealths(ctx context.Context) ([]NumberHealth, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT ids.id, coalesce(nullif(h.waba_id, ''), n.waba_id, ''),
		coalesce(h.quality_rating, ''), coalesce(h.messaging_limit_tier, ''), coalesce(h.throughput, ''),
		coalesce(h.name_status, ''), coalesce(h.verified_name, ''), coalesce(h.account_status, ''),
		coalesce(h.storage_status, ''), coalesce(h.storage_region, ''), coalesce(h.last_webhook_at, 0),
		coalesce(h.read_at, 0), coalesce(h.read_error, ''), coalesce(h.updated_at, 0)
		FROM (SELECT phone_number_id AS id FROM business_numbers UNION SELECT phone_number_id FROM number_health) ids
		LEFT JOIN business_numbers n ON n.phone_number_id = ids.id
		LEFT JOIN number_health h ON h.phone_number_id = ids.id
		ORDER BY ids.id`)
	if err != nil {
		return nil, fmt.Errorf("store: number health: %w", err)
	}
	defer rows.Close()
	var out []NumberHealth
	for rows.Next() {
		var h NumberHealth
		if err := rows.Scan(&h.PhoneNumberID, &h.WABAID, &h.QualityRating, &h.MessagingLimitTier, &h.Throughput, &h.NameStatus,
			&h.VerifiedName, &h.AccountStatus, &h.StorageStatus, &h.StorageRegion, &h.LastWebhookAt, &h.ReadAt, &h.ReadError,
			&h.UpdatedAt); err != nil {
			return nil, fmt.Errorf("store: number health: %w", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// NumberHealthOf returns one number's health (zero values when unknown).
func (s *Store) NumberHealthOf(ctx context.Context, phoneNumberID string) (NumberHealth, error) {
	all, err := s.NumberHealths(ctx)
	if err != nil {
		return NumberHealth{}, err
	}
	for _, h := range all {
		if h.PhoneNumberID == phoneNumberID {
			return h, nil
		}
	}
	return NumberHealth{PhoneNumberID: phoneNumberID}, nil
}

func ensureHealthRow(tx *Tx, pnid string, now int64) error {
	_, err := tx.Exec(`INSERT INTO number_health(phone_number_id, updated_at) VALUES (?, ?) ON CONFLICT DO NOTHING`, pnid, now)
	return err
}

// tierRank orders Meta's messaging limits; unknown tiers rank 0 and never
// count as a change downwards.
func tierRank(t string) int {
	switch strings.ToUpper(t) {
	case "TIER_50":
		return 1
	case "TIER_250":
		return 2
	case "TIER_1K":
		return 3
	case "TIER_2K":
		return 4
	case "TIER_10K":
		return 5
	case "TIER_100K":
		return 6
	case "TIER_UNLIMITED":
		return 7
	}
	return 0
}

// GraphHealth is one periodic read of GET /{phone_number_id}.
type GraphHealth struct {
	QualityRating      string
	MessagingLimitTier string
	Throughput         string
	NameStatus         string
	VerifiedName       string
	StorageStatus      string // "" when the settings read failed or said nothing
	StorageRegion      string
}

// ApplyGraphHealth stores a Graph read of a number and raises or clears
// the alarms it decides: quality YELLOW/RED, a lowered messaging limit.
func (s *Store) ApplyGraphHealth(ctx context.Context, pnid string, g GraphHealth, now time.Time) error {
	ts := now.Unix()
	return s.Write(ctx, func(tx *Tx) error {
		if err := ensureHealthRow(tx, pnid, ts); err != nil {
			return err
		}
		var oldTier string
		if err := tx.QueryRow("SELECT messaging_limit_tier FROM number_health WHERE phone_number_id = ?", pnid).Scan(&oldTier); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE number_health SET quality_rating = ?, messaging_limit_tier = coalesce(nullif(?, ''), messaging_limit_tier),
			throughput = ?, name_status = ?, verified_name = ?, storage_status = coalesce(nullif(?, ''), storage_status),
			storage_region = coalesce(nullif(?, ''), storage_region), read_at = ?, read_error = '', updated_at = ?
			WHERE phone_number_id = ?`, g.QualityRating, g.MessagingLimitTier, g.Throughput, g.NameStatus, g.VerifiedName,
			g.StorageStatus, g.StorageRegion, ts, ts, pnid); err != nil {
			return fmt.Errorf("store: graph health: %w", err)
		}
		if err := qualityAlarm(tx, pnid, g.QualityRating, ts); err != nil {
			return err
		}
		return tierAlarm(tx, pnid, oldTier, g.MessagingLimitTier, ts)
	})
}

// GraphHealthFailed records that a Graph read failed, e.g. for a missing
// permission (Meta's #10/#200), and raises the permissions alarm for it.
func (s *Store) GraphHealthFailed(ctx context.Context, pnid, errText string, permission bool, now time.Time) error {
	ts := now.Unix()
	return s.Write(ctx, func(tx *Tx) error {
		if err := ensureHealthRow(tx, pnid, ts); err != nil {
			return err
		}
		if _, err := tx.Exec("UPDATE number_health SET read_error = ?, updated_at = ? WHERE phone_number_id = ?", errText, ts, pnid); err != nil {
			return err
		}
		if permission {
			return raiseAlarmTx(tx, AlarmPermissions, "Meta verweigert das Lesen der Nummer "+pnid+" (fehlende Berechtigung): "+errText, ts)
		}
		return nil
	})
}

// PermissionsOK clears the permissions alarm after a successful read.
func (s *Store) PermissionsOK(ctx context.Context, now time.Time) error {
	return s.ClearAlarmAt(ctx, AlarmPermissions, "Meta erlaubt das Lesen der Nummern wieder.", now)
}

func qualityAlarm(tx *Tx, pnid, rating string, now int64) error {
	key := AlarmQuality + ":" + pnid
	switch strings.ToUpper(rating) {
	case "YELLOW", "RED":
		return raiseAlarmTx(tx, key, fmt.Sprintf("Qualitätsbewertung der Nummer %s ist %s.", pnid, strings.ToUpper(rating)), now)
	case "GREEN":
		return clearAlarmTx(tx, key, fmt.Sprintf("Qualitätsbewertung der Nummer %s ist wieder GREEN.", pnid), now)
	}
	return nil // NA or unknown: no verdict either way
}

func tierAlarm(tx *Tx, pnid, oldTier, newTier string, now int64) error {
	key := AlarmTier + ":" + pnid
	o, n := tierRank(oldTier), tierRank(newTier)
	switch {
	case o > 0 && n > 0 && n < o:
		return raiseAlarmTx(tx, key, fmt.Sprintf("Nachrichtenlimit der Nummer %s gesenkt: %s → %s.", pnid, oldTier, newTier), now)
	case o > 0 && n > o:
		return clearAlarmTx(tx, key, fmt.Sprintf("Nachrichtenlimit der Nummer %s wieder erhöht: %s.", pnid, newTier), now)
	}
	return nil
}

// isHealthField tells whether a webhook change is about an account's or a
// number's standing.
func isHealthField(field string) bool {
	switch field {
	case "account_update", "phone_number_quality_update", "business_capability_update", "message_template_status_update":
		return true
	}
	return false
}

type healthReport struct {
	Event        string          `json:"event"`
	Display      string          `json:"display_phone_number"`
	CurrentLimit string          `json:"current_limit"`
	OldLimit     string          `json:"old_limit"`
	MaxDaily     json.RawMessage `json:"max_daily_conversations_per_business"`
	PhoneNumber  string          `json:"phone_number"`
	Ban          *struct {
		State string `json:"waba_ban_state"`
		Date  string `json:"waba_ban_date"`
	} `json:"ban_info"`
	Violation *struct {
		Type string `json:"violation_type"`
	} `json:"violation_info"`
	Restrictions []struct {
		Type string `json:"restriction_type"`
	} `json:"restriction_info"`
	TemplateID   json.RawMessage `json:"message_template_id"`
	TemplateName string          `json:"message_template_name"`
	Language     string          `json:"message_template_language"`
	Other        *struct {
		Title string `json:"title"`
	} `json:"other_info"`
}

// applyHealth raises or clears the alarms a webhook decides and keeps the
// number's health current. Unknown events and unreadable values are left
// to the raw events table: a webhook is never refused for its content.
func applyHealth(tx *Tx, e *Event, now int64) error {
	var r healthReport
	if json.Unmarshal(e.Value, &r) != nil {
		return nil
	}
	ev := strings.ToUpper(r.Event)
	pnid := e.PhoneNumberID
	if pnid == "" && r.Display != "" {
		_ = tx.QueryRow("SELECT phone_number_id FROM business_numbers WHERE display_phone_number = ? OR replace(display_phone_number, '+', '') = ?",
			r.Display, r.Display).Scan(&pnid)
	}
	subject := pnid
	if subject == "" {
		subject = r.Display
	}
	switch e.Field {
	case "phone_number_quality_update":
		if pnid != "" {
			if err := ensureHealthRow(tx, pnid, now); err != nil {
				return err
			}
			if r.CurrentLimit != "" {
				if _, err := tx.Exec("UPDATE number_health SET messaging_limit_tier = ?, updated_at = ? WHERE phone_number_id = ?",
					r.CurrentLimit, now, pnid); err != nil {
					return err
				}
			}
		}
		switch ev {
		case "FLAGGED":
			return raiseAlarmTx(tx, AlarmQuality+":"+subject, fmt.Sprintf("Meta hat die Nummer %s wegen schlechter Qualität markiert (FLAGGED).", subject), now)
		case "UNFLAGGED":
			return clearAlarmTx(tx, AlarmQuality+":"+subject, fmt.Sprintf("Meta hat die Markierung der Nummer %s aufgehoben.", subject), now)
		case "DOWNGRADE":
			return raiseAlarmTx(tx, AlarmTier+":"+subject, fmt.Sprintf("Nachrichtenlimit der Nummer %s gesenkt: %s → %s.", subject, r.OldLimit, r.CurrentLimit), now)
		case "UPGRADE", "THROUGHPUT_UPGRADE":
			return clearAlarmTx(tx, AlarmTier+":"+subject, fmt.Sprintf("Nachrichtenlimit der Nummer %s erhöht: %s.", subject, r.CurrentLimit), now)
		}
	case "business_capability_update":
		// The portfolio's limit; the periodic read attributes it per number.
		return nil
	case "account_update":
		waba := e.WABAID
		if waba != "" {
			if _, err := tx.Exec("UPDATE number_health SET account_status = ?, updated_at = ? WHERE waba_id = ? OR phone_number_id IN (SELECT phone_number_id FROM business_numbers WHERE waba_id = ?)",
				ev, now, waba, waba); err != nil {
				return err
			}
		}
		switch ev {
		case "DISABLED_UPDATE":
			if r.Ban == nil {
				return nil
			}
			switch strings.ToUpper(r.Ban.State) {
			case "DISABLE", "SCHEDULE_FOR_DISABLE":
				return raiseAlarmTx(tx, AlarmAccountBan+":"+waba, fmt.Sprintf("Meta sperrt das WhatsApp-Konto %s (%s %s).", waba, r.Ban.State, r.Ban.Date), now)
			case "REINSTATE":
				return clearAlarmTx(tx, AlarmAccountBan+":"+waba, fmt.Sprintf("Meta hat das WhatsApp-Konto %s wieder freigegeben.", waba), now)
			}
		case "ACCOUNT_RESTRICTION":
			var types []string
			for _, x := range r.Restrictions {
				types = append(types, x.Type)
			}
			if len(types) == 0 {
				return clearAlarmTx(tx, AlarmRestriction+":"+waba, fmt.Sprintf("Die Einschränkung des WhatsApp-Kontos %s ist aufgehoben.", waba), now)
			}
			return raiseAlarmTx(tx, AlarmRestriction+":"+waba, fmt.Sprintf("Meta schränkt das WhatsApp-Konto %s ein: %s.", waba, strings.Join(types, ", ")), now)
		case "ACCOUNT_VIOLATION":
			vt := ""
			if r.Violation != nil {
				vt = r.Violation.Type
			}
			return raiseAlarmTx(tx, AlarmRestriction+":"+waba, fmt.Sprintf("Meta meldet einen Richtlinienverstoß des WhatsApp-Kontos %s: %s.", waba, vt), now)
		}
	case "message_template_status_update":
		id := strings.Trim(string(r.TemplateID), `"`)
		if id == "" {
			id = r.TemplateName + "/" + r.Language
		}
		key := AlarmTemplate + ":" + id
		name := r.TemplateName
		if r.Language != "" {
			name += " (" + r.Language + ")"
		}
		switch ev {
		case "PAUSED", "DISABLED":
			return raiseAlarmTx(tx, key, fmt.Sprintf("Meta hat die Vorlage %s gestoppt: %s.", name, ev), now)
		case "APPROVED", "REINSTATED", "UNPAUSED":
			return clearAlarmTx(tx, key, fmt.Sprintf("Die Vorlage %s ist wieder nutzbar (%s).", name, ev), now)
		}
	}
	return nil
}

// noteWebhook records when a number last heard from Meta.
func noteWebhook(tx *Tx, pnids map[string]bool, now int64) error {
	for pnid := range pnids {
		if pnid == "" {
			continue
		}
		if _, err := tx.Exec(`INSERT INTO number_health(phone_number_id, last_webhook_at, updated_at) VALUES (?, ?, ?)
			ON CONFLICT(phone_number_id) DO UPDATE SET last_webhook_at = excluded.last_webhook_at`, pnid, now, now); err != nil {
			return fmt.Errorf("store: webhook seen: %w", err)
		}
	}
	return nil
}

// WebhookActivity says when the last delivery arrived and how many came
// in the week before now, for the "webhooks silent" alarm.
func (s *Store) WebhookActivity(ctx context.Context, now time.Time) (last int64, week int, err error) {
	// Pforte's own events (alarms, bot handover) are stored as deliveries
	// too but are not Meta speaking: the newest delivery from Meta is the
	// newest without object "pforte" (inside a JSON string that text would
	// be escaped, so it only matches the key). Otherwise the silent-webhooks
	// alarm's own event would clear it at the next check.
	err = s.rdb.QueryRowContext(ctx, `SELECT coalesce((SELECT received_at FROM deliveries
			WHERE instr(body, ?) = 0 ORDER BY received_at DESC LIMIT 1), 0),
		(SELECT count(*) FROM deliveries WHERE received_at >= ?)`, `"object":"`+OwnEventObject+`"`, now.Add(-7*24*time.Hour).Unix()).Scan(&last, &week)
	if err != nil {
		return 0, 0, fmt.Errorf("store: webhook activity: %w", err)
	}
	return last, week, nil
}
