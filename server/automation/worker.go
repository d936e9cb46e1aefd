package automation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
)

// Options tune the worker. Zero values take the defaults.
type Options struct {
	// Now is the clock (tests set it; time.Now otherwise).
	Now func() time.Time
	// Tick is how often the waiting replies are looked for (30 s).
	Tick time.Duration
	// LoopCap is how many automatic messages one conversation may get in
	// an hour, all rules together: the last guard against a loop with a
	// customer's own bot (3).
	LoopCap int
}

// Worker sends the automatic replies. The ingest hook only kicks it; it
// reads new inbound messages from the store after a cursor, so a slow or
// failed pass never delays a webhook's 200 and a restart misses nothing.
type Worker struct {
	st   *store.Store
	snd  *outbox.Sender
	log  *slog.Logger
	opts Options

	kick chan struct{}
	done chan struct{}

	mu      sync.Mutex
	rules   Rules
	version string
}

// New builds a worker; snd may be nil (no access token: nothing is sent).
func New(st *store.Store, snd *outbox.Sender, log *slog.Logger, opts Options) *Worker {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Tick <= 0 {
		opts.Tick = 30 * time.Second
	}
	if opts.LoopCap <= 0 {
		opts.LoopCap = 3
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{st: st, snd: snd, log: log, opts: opts, kick: make(chan struct{}, 1), done: make(chan struct{})}
}

// Start runs the worker until ctx ends.
func (w *Worker) Start(ctx context.Context) {
	go func() {
		defer close(w.done)
		for {
			if err := w.RunOnce(ctx); err != nil && ctx.Err() == nil {
				w.log.Warn("automations", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-w.kick:
			case <-time.After(w.opts.Tick):
			}
		}
	}()
}

// Kick asks for a look at new messages; it never blocks.
func (w *Worker) Kick() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Done is closed once the worker stopped after its context ended.
func (w *Worker) Done() <-chan struct{} { return w.done }

// Rules returns the current rules, reloaded when a setting changed.
func (w *Worker) Rules(ctx context.Context) (Rules, error) {
	return loadRules(ctx, w.st, &w.mu, &w.rules, &w.version, w.log)
}

func loadRules(ctx context.Context, st *store.Store, mu *sync.Mutex, rules *Rules, version *string, log *slog.Logger) (Rules, error) {
	v, err := st.AutomationsVersion(ctx)
	if err != nil {
		return nil, err
	}
	mu.Lock()
	defer mu.Unlock()
	if *rules != nil && v == *version {
		return *rules, nil
	}
	settings, err := st.Automations(ctx)
	if err != nil {
		return nil, err
	}
	r, errs := Compile(settings)
	for _, e := range errs {
		log.Warn("automation setting skipped", "err", e)
	}
	*rules, *version = r, v
	return r, nil
}

// RunOnce answers the messages that came in since the last pass, then
// sends the waiting replies that are due.
func (w *Worker) RunOnce(ctx context.Context) error {
	rules, err := w.Rules(ctx)
	if err != nil {
		return err
	}
	if err := w.inbound(ctx, rules); err != nil {
		return err
	}
	if w.snd == nil {
		return nil // routing needs no sender; replies and surveys do
	}
	if err := w.surveys(ctx, rules); err != nil {
		return err
	}
	return w.waiting(ctx, rules)
}

func (w *Worker) inbound(ctx context.Context, rules Rules) error {
	cursor, err := w.st.AutomationCursor(ctx)
	if err != nil {
		return err
	}
	for {
		cands, err := w.st.AutomationCandidates(ctx, cursor, 200)
		if err != nil || len(cands) == 0 {
			return err
		}
		routers, err := w.Routers(ctx)
		if err != nil {
			return err
		}
		for i := range cands {
			c := &cands[i]
			if err := w.route(ctx, routers[c.PhoneNumberID], c); err != nil {
				return err // the cursor stays; routing only writes while unassigned
			}
			if len(rules) > 0 && w.snd != nil {
				for _, kind := range rules.Decide(c, w.opts.Now()) {
					if err := w.reply(ctx, rules, kind, c.ConversationID, c.MessageID, recipient{c.PhoneNumberID, c.WaID, c.UserID, c.Name},
						fmt.Sprintf("auto-%s-%d", kind, c.MessageID)); err != nil {
						return err // the cursor stays: the next pass retries, the key prevents doubles
					}
				}
			}
			cursor = c.MessageID
		}
		if err := w.st.SetAutomationCursor(ctx, cursor); err != nil {
			return err
		}
	}
}

func (w *Worker) waiting(ctx context.Context, rules Rules) error {
	now := w.opts.Now()
	for pnid, nr := range rules {
		if r := nr.Replies[store.AutoNudge]; r != nil && r.Enabled {
			// Inside the window, whatever the hours: afterwards only a
			// template could reach the customer.
			list, err := w.st.NudgeCandidates(ctx, pnid, now, r.After)
			if err != nil {
				return err
			}
			for _, u := range list {
				if err := w.reply(ctx, rules, store.AutoNudge, u.ConversationID, 0, recipient{pnid, u.WaID, u.UserID, u.Name},
					fmt.Sprintf("auto-nudge-%d-%d", u.ConversationID, u.LastInboundAt)); err != nil {
					return err
				}
			}
		}
		r := nr.Replies[store.AutoWaiting]
		if r == nil || !r.Enabled || (nr.Hours != nil && !nr.Hours.Open(now)) {
			continue
		}
		// Within the customer-service window (23 h leaves room to send).
		list, err := w.st.UnansweredConversations(ctx, pnid, now.Add(-23*time.Hour).Unix(), now.Add(-r.After).Unix())
		if err != nil {
			return err
		}
		for _, u := range list {
			if nr.Hours != nil && !nr.Hours.Open(time.Unix(u.LastInboundAt, 0)) {
				continue // written outside the hours: the away reply's case
			}
			if err := w.reply(ctx, rules, store.AutoWaiting, u.ConversationID, 0, recipient{pnid, u.WaID, u.UserID, u.Name},
				fmt.Sprintf("auto-waiting-%d-%d", u.ConversationID, u.LastInboundAt)); err != nil {
				return err
			}
		}
	}
	return nil
}

type recipient struct{ pnid, waID, userID, name string }

// reply sends one automatic reply unless its rate limit or the loop guard
// holds it back. Refusals (closed window, restricted customer) are final.
func (w *Worker) reply(ctx context.Context, rules Rules, kind store.AutomationKind, convID, triggerID int64, to recipient, key string) error {
	nr := rules[to.pnid]
	r := nr.Replies[kind]
	now := w.opts.Now()
	last, recent, err := w.st.LastAutomatic(ctx, convID, kind, now.Add(-time.Hour).Unix())
	if err != nil {
		return err
	}
	if last > 0 && now.Sub(time.Unix(last, 0)) < r.MinInterval {
		return nil
	}
	if recent >= w.opts.LoopCap {
		w.log.Warn("automatic reply held back: too many in the last hour", "conversation", convID, "rule", kind)
		return nil
	}
	english := PrefersEnglish(to.waID)
	vars := map[string]string{"name": to.name, "privacy_url": r.PrivacyURL}
	if nr.Hours != nil {
		if next, ok := nr.Hours.NextOpening(now); ok {
			vars["next_opening"] = FormatOpening(next, now, nr.Hours.Location(), english)
		}
	}
	msg, err := cloudapi.TextMessage(cloudapi.Recipient{WaID: to.waID, UserID: to.userID}, r.Render(english, vars))
	if err != nil {
		return nil // no recipient (erased meanwhile): nobody to answer
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("automation: body: %w", err)
	}
	out, err := w.snd.Enqueue(ctx, outbox.Request{PhoneNumberID: to.pnid, Body: body, Actor: store.AutoActor(kind), IdempotencyKey: key})
	var ref *outbox.Refusal
	if errors.As(err, &ref) {
		w.log.Info("automatic reply refused; not retried", "conversation", convID, "rule", kind, "reason", ref.Reason)
		return nil
	}
	if err != nil {
		return err
	}
	return w.st.RecordAutomatic(ctx, convID, out.MessageID, kind, triggerID, now)
}
