// Package campaign sends consent-checked broadcasts and runs the double
// opt-in: a worker beside the outbox. Every message it sends is queued in
// the outbox (store.EnqueueCampaign, the outbox's own enqueue), whose
// consent and restriction checks refuse it at queue time and again when
// it leaves; the engine only decides who, when and how fast.
package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rickar/cal/v2"
	"github.com/rickar/cal/v2/de"

	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
)

// Config tunes the engine. Zero values take the defaults.
type Config struct {
	// Rate is what campaigns may use of a number's throughput, messages per
	// second (default: the outbox's rate, 80; Meta allows up to 1000 on
	// upgraded numbers). The outbox paces every send at its own rate.
	Rate float64
	// TierLimit is the portfolio's messaging limit: business-initiated
	// conversations per rolling 24 hours (Meta: 250, 1000, 10000, 100000;
	// 0 takes what phone_number_quality_update last said, else no limit).
	TierLimit int
	// QuietFrom and QuietTo are the hours (local time) between which no
	// marketing goes out; default 20 and 8. Equal values disable them.
	QuietFrom, QuietTo int
	// SendOnSundaysAndHolidays lifts the default ban on Sundays and German
	// public holidays.
	SendOnSundaysAndHolidays bool
	// Holidays are the public holidays (default: Germany's national ones
	// from rickar/cal); a state's list can be given instead.
	Holidays []*cal.Holiday
	// Location is the company's time zone (default Europe/Berlin).
	Location *time.Location
	// FailureRate pauses a campaign when this share of finished sends
	// failed (default 0.2), once FailureMin have finished (default 50).
	FailureRate float64
	FailureMin  int
	// Rates is the cost table for previews and results.
	Rates RateTable
	// Tick is how often the worker looks for work (default 200 ms).
	Tick time.Duration
	// Now is the clock (tests set it).
	Now func() time.Time
}

func (c *Config) defaults(sender *outbox.Sender) {
	if c.Rate <= 0 {
		c.Rate = 80
		if sender != nil {
			c.Rate = sender.Config().Rate
		}
	}
	c.Rate = min(c.Rate, 1000)
	if c.QuietFrom == 0 && c.QuietTo == 0 {
		c.QuietFrom, c.QuietTo = 20, 8
	}
	if c.Holidays == nil {
		c.Holidays = de.Holidays
	}
	if c.Location == nil {
		c.Location, _ = time.LoadLocation("Europe/Berlin")
		if c.Location == nil {
			c.Location = time.UTC
		}
	}
	if c.FailureRate <= 0 {
		c.FailureRate = 0.2
	}
	if c.FailureMin <= 0 {
		c.FailureMin = 50
	}
	if c.Rates.Default == nil {
		c.Rates = DefaultRates()
	}
	if c.Tick <= 0 {
		c.Tick = 200 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Engine runs campaigns and the double opt-in.
type Engine struct {
	cfg    Config
	store  *store.Store
	sender *outbox.Sender
	log    *slog.Logger
	cal    *cal.Calendar
	kick   chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex
	budget map[string]*allowance // per business number
}

type allowance struct {
	tokens float64
	at     time.Time
}

// New builds an engine; sender is the outbox every message goes through.
func New(cfg Config, st *store.Store, sender *outbox.Sender, log *slog.Logger) *Engine {
	cfg.defaults(sender)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &cal.Calendar{}
	c.AddHoliday(cfg.Holidays...)
	return &Engine{cfg: cfg, store: st, sender: sender, log: log, cal: c, kick: make(chan struct{}, 1), budget: map[string]*allowance{}}
}

// Config returns the effective settings.
func (e *Engine) Config() Config { return e.cfg }

// Start runs the worker until ctx ends.
func (e *Engine) Start(ctx context.Context) error {
	if _, ok, err := e.store.OptInCursor(ctx); err != nil {
		return err
	} else if !ok {
		// A fresh data directory: older messages asked nobody to opt in.
		last, err := e.store.LastInboundID(ctx)
		if err != nil {
			return err
		}
		if err := e.store.SetOptInCursor(ctx, last); err != nil {
			return err
		}
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for ctx.Err() == nil {
			if err := e.OptInRound(ctx); err != nil && ctx.Err() == nil {
				e.log.Error("campaign: opt-in", "err", err)
			}
			if err := e.SendRound(ctx); err != nil && ctx.Err() == nil {
				e.log.Error("campaign: send", "err", err)
			}
			t := time.NewTimer(e.cfg.Tick)
			select {
			case <-ctx.Done():
			case <-e.kick:
			case <-t.C:
			}
			t.Stop()
		}
	}()
	return nil
}

// Wait blocks until the worker has stopped.
func (e *Engine) Wait() { e.wg.Wait() }

// Kick wakes the worker (after an ingest: a keyword, a tap, a status).
func (e *Engine) Kick() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Quiet reports whether marketing must not go out at t, and until when.
func (e *Engine) Quiet(t time.Time) (bool, time.Time) {
	t = t.In(e.cfg.Location)
	quiet := func(t time.Time) bool {
		if !e.cfg.SendOnSundaysAndHolidays {
			if t.Weekday() == time.Sunday {
				return true
			}
			if actual, _, _ := e.cal.IsHoliday(t); actual {
				return true
			}
		}
		h := t.Hour()
		from, to := e.cfg.QuietFrom, e.cfg.QuietTo
		switch {
		case from == to:
			return false
		case from > to: // over midnight, 20–8
			return h >= from || h < to
		default:
			return h >= from && h < to
		}
	}
	if !quiet(t) {
		return false, t
	}
	// Step by the hour (on the hour) until allowed; at most two weeks.
	next := t.Truncate(time.Hour).Add(time.Hour)
	for i := 0; i < 24*14 && quiet(next); i++ {
		next = next.Add(time.Hour)
	}
	return true, next
}

// Alarm keys the panel shows on its dashboard.
func alarmKey(id int64) string { return "campaign_paused_" + strconv.FormatInt(id, 10) }

// SendRound queues the next batch of every running campaign.
func (e *Engine) SendRound(ctx context.Context) error {
	now := e.cfg.Now()
	due, err := e.store.DueCampaigns(ctx, now)
	if err != nil {
		return err
	}
	for _, c := range due {
		if err := e.runOne(ctx, c, now); err != nil {
			if errors.Is(err, store.ErrCampaignNotRunning) {
				continue
			}
			return fmt.Errorf("campaign %d: %w", c.ID, err)
		}
	}
	return nil
}

// AutoPause reasons (also the German alarm text's key).
const (
	PauseTemplate = "template"
	PauseQuality  = "quality"
	PauseFailures = "failures"
	PauseManual   = "manual"
)

func (e *Engine) autoPause(ctx context.Context, c *store.Campaign, counts *store.CampaignCounts) (string, string, error) {
	t, err := e.store.TemplateState(ctx, c.TemplateName, c.TemplateLanguage)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", "", err
	}
	if t == nil || !t.Usable() {
		st := "unbekannt"
		if t != nil {
			st = t.Status
		}
		return PauseTemplate, fmt.Sprintf("Kampagne %q angehalten: Meta meldet die Vorlage %q als %s. / Campaign paused: Meta reports the template as %s.",
			c.Name, c.TemplateName, st, st), nil
	}
	ev, rating, _, err := e.store.LatestQuality(ctx, c.PhoneNumberID)
	if err != nil {
		return "", "", err
	}
	if rating == "RED" || ev == "FLAGGED" || ev == "DOWNGRADE" {
		return PauseQuality, fmt.Sprintf("Kampagne %q angehalten: Die Qualitätsbewertung der Rufnummer ist auf ROT gefallen (%s). / Campaign paused: the number's quality dropped to RED.",
			c.Name, strings.TrimSpace(ev+" "+rating)), nil
	}
	done := counts.Sent + counts.Failed
	if done >= e.cfg.FailureMin && float64(counts.Failed) > e.cfg.FailureRate*float64(done) {
		return PauseFailures, fmt.Sprintf("Kampagne %q angehalten: %d von %d Sendungen fehlgeschlagen (über %.0f %%). / Campaign paused: %d of %d sends failed.",
			c.Name, counts.Failed, done, e.cfg.FailureRate*100, counts.Failed, done), nil
	}
	return "", "", nil
}

func (e *Engine) runOne(ctx context.Context, c *store.Campaign, now time.Time) error {
	counts, err := e.store.CampaignCounts(ctx, c.ID)
	if err != nil {
		return err
	}
	reason, msg, err := e.autoPause(ctx, c, counts)
	if err != nil {
		return err
	}
	if reason != "" {
		if err := e.store.SetCampaignStatus(ctx, c.ID, []store.CampaignStatus{store.CampaignRunning}, store.CampaignPaused, reason,
			store.ActorSystem, store.AuditCampaignAutoPause, now); err != nil {
			return err
		}
		e.log.Warn("campaign: paused automatically", "campaign", c.ID, "reason", reason)
		return e.store.RaiseAlarm(ctx, alarmKey(c.ID), msg)
	}
	if counts.Pending == 0 {
		return e.store.SetCampaignStatus(ctx, c.ID, []store.CampaignStatus{store.CampaignRunning}, store.CampaignDone, "",
			store.ActorSystem, store.AuditCampaignDone, now)
	}
	if quiet, _ := e.Quiet(now); quiet {
		return nil
	}
	n := e.take(c.PhoneNumberID, now)
	// Keep the outbox's share small, so that a pause, a cancel or a STOP
	// takes effect within about two seconds of sending.
	inflight, err := e.store.CampaignInFlight(ctx, c.ID)
	if err != nil {
		return err
	}
	n = min(n, max(int(2*e.cfg.Rate), 50)-inflight, 1000)
	if limit := e.tierLimit(ctx, c.PhoneNumberID); limit > 0 {
		used, err := e.store.CampaignSendsSince(ctx, c.PhoneNumberID, now.Add(-24*time.Hour))
		if err != nil {
			return err
		}
		n = min(n, limit-used)
	}
	if n <= 0 {
		return nil
	}
	targets, err := e.store.PendingRecipients(ctx, c.ID, n)
	if err != nil {
		return err
	}
	sends := make([]store.CampaignSend, 0, len(targets))
	for _, t := range targets {
		body, ok := Render(c, t)
		if !ok {
			if err := e.store.SkipRecipient(ctx, t.RecipientID, store.ReasonMissingParameters); err != nil {
				return err
			}
			continue
		}
		o, err := e.sender.Prepare(ctx, outbox.Request{PhoneNumberID: c.PhoneNumberID, Body: body, Actor: store.Actor("campaign:" + strconv.FormatInt(c.ID, 10)),
			IdempotencyKey: fmt.Sprintf("campaign:%d:%d", c.ID, t.RecipientID)})
		if err != nil {
			return err
		}
		sends = append(sends, store.CampaignSend{RecipientID: t.RecipientID, Send: o})
	}
	e.refund(c.PhoneNumberID, n-len(sends))
	if len(sends) == 0 {
		return nil
	}
	queued, stopped, err := e.store.EnqueueCampaign(ctx, c.ID, sends, e.cfg.Now())
	if err != nil {
		return err
	}
	if stopped > 0 {
		e.log.Info("campaign: recipients withdrew consent before their turn", "campaign", c.ID, "count", stopped)
	}
	e.sender.Queued(queued)
	return nil
}

// take returns how many messages the number's campaign budget allows now.
func (e *Engine) take(pnid string, now time.Time) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.budget[pnid]
	if a == nil {
		a = &allowance{tokens: e.cfg.Rate, at: now}
		e.budget[pnid] = a
	}
	a.tokens = math.Min(e.cfg.Rate, a.tokens+now.Sub(a.at).Seconds()*e.cfg.Rate)
	a.at = now
	n := int(a.tokens)
	a.tokens -= float64(n)
	return n
}

func (e *Engine) refund(pnid string, n int) {
	if n <= 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if a := e.budget[pnid]; a != nil {
		a.tokens = math.Min(e.cfg.Rate, a.tokens+float64(n))
	}
}

// tierLimit is the configured messaging limit, else the one Meta last
// reported for the number, else none.
func (e *Engine) tierLimit(ctx context.Context, pnid string) int {
	if e.cfg.TierLimit > 0 {
		return e.cfg.TierLimit
	}
	_, _, limit, err := e.store.LatestQuality(ctx, pnid)
	if err != nil {
		return 0
	}
	return TierSize(limit)
}

// TierSize translates Meta's tier names; 0 for unlimited or unknown.
func TierSize(tier string) int {
	switch strings.ToUpper(tier) {
	case "TIER_50":
		return 50
	case "TIER_250":
		return 250
	case "TIER_1K":
		return 1000
	case "TIER_2K":
		return 2000
	case "TIER_10K":
		return 10000
	case "TIER_100K":
		return 100000
	}
	return 0
}

// Render builds one recipient's Meta request body; ok is false when a
// parameter would be empty (the recipient is skipped, never sent half-filled).
func Render(c *store.Campaign, t store.CampaignTarget) ([]byte, bool) {
	params := make([]map[string]string, 0, len(c.Parameters))
	for _, p := range c.Parameters {
		v, ok := fill(p, t)
		if !ok {
			return nil, false
		}
		params = append(params, map[string]string{"type": "text", "text": v})
	}
	var comps []any
	if len(params) > 0 {
		comps = append(comps, map[string]any{"type": "body", "parameters": params})
	}
	if c.UnsubscribeButton >= 0 {
		comps = append(comps, map[string]any{"type": "button", "sub_type": "quick_reply", "index": strconv.Itoa(c.UnsubscribeButton),
			"parameters": []map[string]string{{"type": "payload", "payload": store.UnsubscribePayload + strconv.FormatInt(c.ID, 10)}}})
	}
	tpl := map[string]any{"name": c.TemplateName, "language": map[string]string{"code": c.TemplateLanguage}}
	if len(comps) > 0 {
		tpl["components"] = comps
	}
	msg := map[string]any{"messaging_product": "whatsapp", "type": "template", "template": tpl,
		"biz_opaque_callback_data": "campaign:" + strconv.FormatInt(c.ID, 10)}
	if t.WaID != "" {
		msg["to"] = t.WaID
	} else {
		msg["recipient"] = t.UserID
	}
	b, _ := json.Marshal(msg)
	return b, true
}

// fill resolves one parameter: {{name}} is the contact's profile name,
// {{field:key}} the contact's custom field, {{1}}..{{n}} the recipient's
// own values (API or CSV), anything else literal text.
func fill(p string, t store.CampaignTarget) (string, bool) {
	k, isVar := placeholder(p)
	if !isVar {
		return p, strings.TrimSpace(p) != ""
	}
	if k == "name" {
		return t.Name, strings.TrimSpace(t.Name) != ""
	}
	if key, ok := strings.CutPrefix(k, fieldPrefix); ok {
		v := t.Fields[key]
		return v, strings.TrimSpace(v) != ""
	}
	i, _ := strconv.Atoi(k)
	if i < 1 || i > len(t.Params) || strings.TrimSpace(t.Params[i-1]) == "" {
		return "", false
	}
	return t.Params[i-1], true
}

func placeholder(p string) (string, bool) {
	p = strings.TrimSpace(p)
	if !strings.HasPrefix(p, "{{") || !strings.HasSuffix(p, "}}") {
		return "", false
	}
	k := strings.TrimSpace(p[2 : len(p)-2])
	if k == "name" {
		return k, true
	}
	if key, ok := strings.CutPrefix(k, fieldPrefix); ok && key != "" {
		return fieldPrefix + strings.TrimSpace(key), true
	}
	if i, err := strconv.Atoi(k); err == nil && i >= 1 && i <= 100 {
		return k, true
	}
	return "", false
}

// fieldPrefix binds a parameter to a custom field: {{field:vorname}}.
const fieldPrefix = "field:"

// Needs says which per-recipient values parameters use: the highest
// {{n}}, whether {{name}} is used, and the custom fields bound.
func Needs(params []string) (columns int, name bool, fields []string) { return needs(params) }

// needs says which per-recipient values the parameters use.
func needs(params []string) (columns int, name bool, fields []string) {
	for _, p := range params {
		if k, ok := placeholder(p); ok {
			if k == "name" {
				name = true
			} else if key, ok := strings.CutPrefix(k, fieldPrefix); ok {
				fields = append(fields, key)
			} else if i, _ := strconv.Atoi(k); i > columns {
				columns = i
			}
		}
	}
	return columns, name, fields
}
