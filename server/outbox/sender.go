// Package sender delivers the outbox: every outbound message is stored
// first, then sent to the Graph API at the pace Meta allows (per business
// number and per customer), retried only when Meta surely did not act on
// it, and reported — never repeated — when it may have.
package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// Config tunes the sender. Zero values take the defaults.
type Config struct {
	// Rate is messages per second per business number (Meta: 80 by default).
	Rate float64
	// PairInterval and PairBurst pace messages to one customer: Meta allows
	// about one per 6 seconds with bursts of up to 45.
	PairInterval time.Duration
	PairBurst    int
	// MaxAttempts caps tries of a message that keeps failing transiently.
	MaxAttempts int
	// BaseBackoff doubles per attempt up to MaxBackoff, with jitter.
	BaseBackoff time.Duration
	MaxBackoff  time.Duration
	// Concurrency caps requests to Meta in flight.
	Concurrency int
	// AttemptTimeout bounds one request to Meta.
	AttemptTimeout time.Duration
	// SyncWait is how long a caller of Send (the proxy) waits, retries
	// included, before the message fails.
	SyncWait time.Duration
}

func (c *Config) defaults() {
	if c.Rate <= 0 {
		c.Rate = 80
	}
	if c.PairInterval <= 0 {
		c.PairInterval = 6 * time.Second
	}
	if c.PairBurst <= 0 {
		c.PairBurst = 45
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 32
	}
	if c.AttemptTimeout <= 0 {
		c.AttemptTimeout = 30 * time.Second
	}
	if c.SyncWait <= 0 {
		c.SyncWait = 20 * time.Second
	}
}

// AlarmTokenExpired is the alarm key raised when Meta rejects the token (190).
const AlarmTokenExpired = "access_token_expired"

// Sender owns the outbox worker and the rate limiters.
type Sender struct {
	cfg    Config
	store  *store.Store
	client *cloudapi.Client
	log    *slog.Logger
	m      *metrics
	now    func() time.Time

	kick chan struct{}
	sem  chan struct{}
	wg   sync.WaitGroup

	mu       sync.Mutex
	numbers  map[string]*bucket
	pairs    map[string]*bucket
	inflight map[int64]bool
	waiters  map[int64][]chan Result // by local message id
	tokenBad bool
	alarmMu  sync.Mutex
}

// New builds a sender; reg receives its metrics (nil for none).
func New(cfg Config, st *store.Store, client *cloudapi.Client, log *slog.Logger, reg prometheus.Registerer) *Sender {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Sender{cfg: cfg, store: st, client: client, log: log, m: newMetrics(reg), now: time.Now,
		kick: make(chan struct{}, 1), sem: make(chan struct{}, cfg.Concurrency),
		numbers: map[string]*bucket{}, pairs: map[string]*bucket{}, inflight: map[int64]bool{}, waiters: map[int64][]chan Result{}}
}

// Config returns the effective settings.
func (s *Sender) Config() Config { return s.cfg }

// Client returns the Graph client the sender uses.
func (s *Sender) Client() *cloudapi.Client { return s.client }

// Request is one message to send: Meta's exact request body for a
// business number, and who asked (for the audit trail).
type Request struct {
	PhoneNumberID string
	Body          []byte
	// Actor is who asked: a key, a person, the stop-reply worker.
	Actor store.Actor
	// IdempotencyKey makes a repeated request return the first one's message.
	IdempotencyKey string
}

// Result is how a send ended.
type Result struct {
	MessageID int64             // local id
	State     store.OutboxState // accepted, failed, unknown (or queued while still waiting)
	WAMID     string
	// HTTPStatus and Body are Meta's answer (success or Graph error) to
	// hand on unchanged; for failures Pforte made itself, a Graph-shaped body.
	HTTPStatus int
	Body       []byte
}

// Start recovers entries a crash left mid-send (they become "unknown")
// and starts the worker. Call it before serving requests.
func (s *Sender) Start(ctx context.Context) error {
	n, err := s.store.RecoverOutbox(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		s.m.finished.WithLabelValues(string(store.OutboxUnknown)).Add(float64(n))
		s.log.Warn("outbox: messages were being sent when Pforte stopped; marked unknown, not resent", "count", n)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.run(ctx)
	}()
	return nil
}

// Wait blocks until the worker and every attempt in flight have ended
// (after the Start context was cancelled).
func (s *Sender) Wait() { s.wg.Wait() }

// Kick wakes the worker, e.g. after a message was queued elsewhere.
func (s *Sender) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// prepare parses a body into what the store keeps. Bad input is an
// ErrInvalid refusal and changes nothing.
func prepare(req Request, now time.Time) (*cloudapi.SendRequest, store.OutboundSend, error) {
	var o store.OutboundSend
	if req.PhoneNumberID == "" || cloudapi.PhoneDigits(req.PhoneNumberID) != req.PhoneNumberID {
		return nil, o, invalid("The phone number id must be Meta's numeric id of the business number.")
	}
	sr, gerr := cloudapi.ParseSend(req.Body)
	if gerr != nil {
		return nil, o, invalid(gerr.Details())
	}
	if sr.IsReadReceipt() {
		return sr, o, nil
	}
	if sr.RecipientType == "group" {
		return prepareGroup(req, sr, now)
	}
	o = store.OutboundSend{PhoneNumberID: req.PhoneNumberID, Type: sr.Type, Payload: sr.Payload, Context: sr.Context,
		Body: req.Body, CheckWindow: !sr.IsTemplate(), Actor: req.Actor, IdempotencyKey: req.IdempotencyKey, Now: now}
	if sr.To != "" {
		o.WaID = cloudapi.PhoneDigits(sr.To)
		if o.WaID == "" {
			return nil, o, invalid("The parameter to must be a phone number; use recipient for a business-scoped user id.")
		}
	} else {
		o.UserID = sr.Recipient
	}
	o.PairKey = req.PhoneNumberID + ":" + sr.PairKey()
	if t, ok := sr.Text(); ok {
		o.Text = &t
	}
	o.MediaID, _ = sr.MediaRef()
	o.Filename = sr.Filename()
	return sr, o, nil
}

// prepareGroup reads a message to a WhatsApp group: Meta's Groups API
// takes text, media and templates only, addressed by the group's id.
func prepareGroup(req Request, sr *cloudapi.SendRequest, now time.Time) (*cloudapi.SendRequest, store.OutboundSend, error) {
	var o store.OutboundSend
	switch sr.Type {
	case "text", "image", "video", "audio", "document", "template":
	default:
		return nil, o, invalid(fmt.Sprintf("Messages of type %s cannot be sent to a group; groups take text, media and templates.", sr.Type))
	}
	if sr.To == "" {
		return nil, o, invalid("The parameter to must be the group's id when recipient_type is group.")
	}
	o = store.OutboundSend{PhoneNumberID: req.PhoneNumberID, GroupID: sr.To, Type: sr.Type, Payload: sr.Payload, Context: sr.Context,
		Body: req.Body, CheckWindow: !sr.IsTemplate(), Actor: req.Actor, IdempotencyKey: req.IdempotencyKey, Now: now,
		PairKey: req.PhoneNumberID + ":group:" + sr.To}
	if t, ok := sr.Text(); ok {
		o.Text = &t
	}
	o.MediaID, _ = sr.MediaRef()
	o.Filename = sr.Filename()
	return sr, o, nil
}

// CheckNumber refuses (ErrUnknownNumber) a phone number id that is none
// of the company's business numbers: Pforte's token reaches far more at
// Meta than a caller should. Every send and upload passes here; the proxy
// also asks before it reads an upload's body.
func (s *Sender) CheckNumber(ctx context.Context, pnid string) error {
	ok, err := s.store.IsBusinessNumber(ctx, pnid)
	if err != nil {
		return fmt.Errorf("outbox: business number lookup: %w", err)
	}
	if !ok {
		return unknownNumber(pnid)
	}
	return nil
}

// enqueue stores a prepared message; the store's refusals (window,
// consent, restriction) come back as the outbox's.
func (s *Sender) enqueue(ctx context.Context, o store.OutboundSend) (*store.Outbound, error) {
	// Not cancellable: a write abandoned half way might still commit,
	// leaving a message nobody tracks.
	out, err := s.store.EnqueueSend(context.WithoutCancel(ctx), o)
	if err != nil {
		if r := refusalOf(err); r != err {
			s.m.refused.Inc()
			return nil, r
		}
		return nil, err
	}
	return out, nil
}

// Prepare checks a request as Enqueue does (known number, Meta's body)
// and returns what the store keeps, for a caller that queues many
// messages in one commit through store.EnqueueCampaign (the campaign
// engine); the store's enqueue applies the same window, consent and
// restriction checks, and the claim checks consent again.
func (s *Sender) Prepare(ctx context.Context, req Request) (store.OutboundSend, error) {
	if err := s.CheckNumber(ctx, req.PhoneNumberID); err != nil {
		return store.OutboundSend{}, err
	}
	sr, o, err := prepare(req, s.now())
	if err != nil {
		return o, err
	}
	if sr.IsReadReceipt() {
		return o, invalid("Read receipts cannot be queued.")
	}
	return o, nil
}

// Queued tells the sender that messages were queued elsewhere (by
// store.EnqueueCampaign) and wakes the worker.
func (s *Sender) Queued(n int) {
	s.m.queued.Add(float64(n))
	s.Kick()
}

// Enqueue stores a message for delivery and returns at once (the queued
// send API, the panel's composer and the stop-reply worker use it). A
// *Refusal says why a message was refused before Meta was called.
func (s *Sender) Enqueue(ctx context.Context, req Request) (*store.Outbound, error) {
	if err := s.CheckNumber(ctx, req.PhoneNumberID); err != nil {
		return nil, err
	}
	sr, o, err := prepare(req, s.now())
	if err != nil {
		return nil, err
	}
	if sr.IsReadReceipt() {
		return nil, invalid("Read receipts are sent at once through the Graph-compatible endpoint, not queued.")
	}
	if err := s.checkTemplate(ctx, req.PhoneNumberID, sr); err != nil {
		return nil, err
	}
	out, err := s.enqueue(ctx, o)
	if err != nil {
		return nil, err
	}
	if !out.Existing {
		s.m.queued.Inc()
	}
	s.Kick()
	return out, nil
}

// Send stores a message and delivers it before returning, for callers that
// need Meta's answer (the Graph-compatible proxy). It waits at most
// SyncWait (or until ctx ends) including retries; afterwards the message
// fails rather than surprising the caller with a late delivery. A
// *Refusal says why a message was refused before anything was stored;
// the Result carries Meta's answer (or a Graph error for what happened
// on the way) otherwise.
func (s *Sender) Send(ctx context.Context, req Request) (*Result, error) {
	if err := s.CheckNumber(ctx, req.PhoneNumberID); err != nil {
		return nil, err
	}
	now := s.now()
	sr, o, err := prepare(req, now)
	if err != nil {
		return nil, err
	}
	if sr.IsReadReceipt() {
		return s.readReceipt(ctx, req)
	}
	if err := s.checkTemplate(ctx, req.PhoneNumberID, sr); err != nil {
		return nil, err
	}
	o.StartSending = true
	// The caller hears nothing before Meta's answer is stored durably, and
	// that commit carries this one to disk; a kill -9 cannot lose it.
	o.NoSync = true
	o.Deadline = now.Add(s.cfg.SyncWait)
	if dl, ok := ctx.Deadline(); ok && dl.Before(o.Deadline) {
		o.Deadline = dl
	}
	out, err := s.enqueue(ctx, o)
	if err != nil {
		return nil, err
	}
	if out.Existing {
		return s.wait(ctx, out.MessageID)
	}
	s.m.queued.Inc()
	if out.State == store.OutboxSending {
		// Claimed in the same commit: send now, pacing first.
		s.mu.Lock()
		s.inflight[out.ID] = true
		s.mu.Unlock()
		pctx, cancel := context.WithDeadline(ctx, o.Deadline)
		paced := s.pace(pctx, out)
		cancel()
		if !paced {
			// Nothing went out: the caller left, or the customer's pace
			// would not allow the message before the deadline.
			s.mu.Lock()
			delete(s.inflight, out.ID)
			s.mu.Unlock()
			e := cloudapi.NewError(http.StatusTooManyRequests, cloudapi.CodePairRateLimit, "(Business Account, Consumer Account) pair rate limit hit",
				"Pforte paces messages to one customer as Meta does (about one per 6 seconds after a burst); this one could not be sent in time and was not sent. Try again later or queue it with POST /api/v1/messages.")
			s.fin(context.WithoutCancel(ctx), out, store.OutboxFailed, e)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return gerrResult(out.MessageID, store.OutboxFailed, e), nil
		}
		s.sem <- struct{}{}
		res := s.attempt(context.WithoutCancel(ctx), out)
		<-s.sem
		s.mu.Lock()
		delete(s.inflight, out.ID)
		s.mu.Unlock()
		if res.State != store.OutboxQueued {
			return res, nil
		}
		s.Kick()
	} else {
		s.Kick()
	}
	return s.wait(ctx, out.MessageID)
}

// pace waits for the business number's and the customer's rate.
func (s *Sender) pace(ctx context.Context, o *store.Outbound) bool {
	for {
		s.mu.Lock()
		now := s.now()
		pb := s.pairBucket(o.PairKey, now)
		if w := pb.wait(now); w > 0 {
			s.mu.Unlock()
			if !sleep(ctx, w) {
				return false
			}
			continue
		}
		pb.reserve(now)
		d := s.numberBucket(o.PhoneNumberID, now).reserve(now)
		s.mu.Unlock()
		return sleep(ctx, d)
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// wait blocks until message id reaches a final state or the caller gives up.
func (s *Sender) wait(ctx context.Context, msgID int64) (*Result, error) {
	ch := make(chan Result, 1)
	s.mu.Lock()
	s.waiters[msgID] = append(s.waiters[msgID], ch)
	s.mu.Unlock()
	defer s.unwait(msgID, ch)
	// The worker may have finished before we registered.
	if r, err := s.final(ctx, msgID); err != nil || r != nil {
		return r, err
	}
	o, err := s.store.Outbound(ctx, msgID)
	if err != nil {
		return nil, err
	}
	timeout := time.Until(time.UnixMilli(o.Deadline))
	if o.Deadline == 0 {
		timeout = s.cfg.SyncWait
	}
	t := time.NewTimer(max(timeout, 0))
	defer t.Stop()
	select {
	case r := <-ch:
		return &r, nil
	case <-ctx.Done():
	case <-t.C:
	}
	// Out of time: fail it unless an attempt is already under way.
	o, err = s.store.Outbound(context.WithoutCancel(ctx), msgID)
	if err != nil {
		return nil, err
	}
	if o.State == store.OutboxQueued {
		errObj := o.LastError
		if len(errObj) == 0 {
			errObj = cloudapi.NewError(http.StatusServiceUnavailable, cloudapi.CodeServiceUnavailable, "Service temporarily unavailable", "The message could not be sent in time; it was not sent.").Object()
		}
		if err := s.store.ExpireOutbound(context.WithoutCancel(ctx), o.ID, errObj); err == nil {
			s.m.finished.WithLabelValues(string(store.OutboxFailed)).Inc()
			return s.final(context.WithoutCancel(ctx), msgID)
		}
	}
	// An attempt is in flight; it ends within the attempt timeout.
	t2 := time.NewTimer(s.cfg.AttemptTimeout + time.Second)
	defer t2.Stop()
	select {
	case r := <-ch:
		return &r, nil
	case <-t2.C:
		return s.final(context.WithoutCancel(ctx), msgID)
	}
}

func (s *Sender) unwait(msgID int64, ch chan Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := s.waiters[msgID]
	for i, c := range list {
		if c == ch {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(s.waiters, msgID)
	} else {
		s.waiters[msgID] = list
	}
}

// final returns the stored outcome of a finished message, or nil.
func (s *Sender) final(ctx context.Context, msgID int64) (*Result, error) {
	o, err := s.store.Outbound(ctx, msgID)
	if err != nil {
		return nil, err
	}
	switch o.State {
	case store.OutboxAccepted:
		return &Result{MessageID: msgID, State: o.State, WAMID: o.WAMID, HTTPStatus: http.StatusOK, Body: o.Response}, nil
	case store.OutboxFailed, store.OutboxUnknown:
		return errObjResult(msgID, o.State, o.LastError), nil
	}
	return nil, nil
}

func (s *Sender) notify(r Result) {
	s.mu.Lock()
	list := s.waiters[r.MessageID]
	s.mu.Unlock()
	for _, ch := range list {
		select {
		case ch <- r:
		default:
		}
	}
}

func gerrResult(msgID int64, state store.OutboxState, e *cloudapi.Error) *Result {
	st := e.HTTPStatus
	if st == 0 {
		st = http.StatusBadRequest
	}
	return &Result{MessageID: msgID, State: state, HTTPStatus: st, Body: e.JSON()}
}

// errObjResult rebuilds a Graph error body from a stored error object.
func errObjResult(msgID int64, state store.OutboxState, obj []byte) *Result {
	var e cloudapi.Error
	json.Unmarshal(obj, &e)
	st := http.StatusBadRequest
	var probe struct {
		HTTPStatus int `json:"pforte_http_status"`
	}
	json.Unmarshal(obj, &probe)
	switch {
	case probe.HTTPStatus != 0:
		st = probe.HTTPStatus
	case e.TokenExpired():
		st = http.StatusUnauthorized
	case e.Transient():
		st = http.StatusServiceUnavailable
	}
	if state == store.OutboxUnknown {
		st = http.StatusBadGateway
	}
	body, _ := json.Marshal(map[string]json.RawMessage{"error": obj})
	if len(obj) == 0 {
		body = cloudapi.NewError(st, cloudapi.CodeSomethingWentWrong, "Something went wrong", "").JSON()
	}
	return &Result{MessageID: msgID, State: state, HTTPStatus: st, Body: body}
}

// readReceipt relays a mark-as-read (and typing indicator) at once; it is
// not a message, so nothing is stored.
func (s *Sender) readReceipt(ctx context.Context, req Request) (*Result, error) {
	s.mu.Lock()
	d := s.numberBucket(req.PhoneNumberID, s.now()).reserve(s.now())
	s.mu.Unlock()
	if !sleep(ctx, d) {
		return nil, ctx.Err()
	}
	actx, cancel := context.WithTimeout(ctx, s.cfg.AttemptTimeout)
	defer cancel()
	_, resp, err := s.client.Send(actx, req.PhoneNumberID, req.Body)
	var gerr *cloudapi.Error
	switch {
	case errors.As(err, &gerr) && resp != nil:
		s.checkToken(ctx, gerr)
		return &Result{State: store.OutboxFailed, HTTPStatus: resp.Status, Body: resp.Body}, nil
	case err != nil && resp != nil:
		return &Result{State: store.OutboxAccepted, HTTPStatus: resp.Status, Body: resp.Body}, nil
	case err != nil:
		return gerrResult(0, store.OutboxFailed, unreachable(err)), nil
	}
	s.checkToken(ctx, nil)
	return &Result{State: store.OutboxAccepted, HTTPStatus: resp.Status, Body: resp.Body}, nil
}

func unreachable(err error) *cloudapi.Error {
	if cloudapi.IsUncertain(err) {
		return cloudapi.NewError(http.StatusBadGateway, cloudapi.CodeSomethingWentWrong, "Something went wrong",
			"Pforte sent the request to Meta but got no answer, so it may have been carried out. It was not repeated; check before sending again.")
	}
	return cloudapi.NewError(http.StatusServiceUnavailable, cloudapi.CodeServiceUnavailable, "Service temporarily unavailable",
		"Pforte could not reach the Graph API: "+err.Error())
}

// attempt sends one claimed entry and records the outcome.
func (s *Sender) attempt(ctx context.Context, o *store.Outbound) *Result {
	actx, cancel := context.WithTimeout(ctx, s.cfg.AttemptTimeout)
	start := time.Now()
	sr, resp, err := s.client.Send(actx, o.PhoneNumberID, o.Body)
	cancel()
	s.m.latency.Observe(time.Since(start).Seconds())
	res := s.record(ctx, o, sr, resp, err)
	s.notify(*res)
	return res
}

func (s *Sender) record(ctx context.Context, o *store.Outbound, sr *cloudapi.SendResponse, resp *cloudapi.Response, err error) *Result {
	attempts := o.Attempts
	if attempts < 1 {
		attempts = 1
	}
	var gerr *cloudapi.Error
	switch {
	case err == nil && sr.WAMID() != "":
		s.m.attempts.WithLabelValues("accepted").Inc()
		s.checkToken(ctx, nil) // before the record, so whoever sees "accepted" sees the alarm gone
		if werr := s.store.AcceptOutbound(ctx, o.ID, sr.WAMID(), resp.Body); werr != nil {
			// Meta has it; the record will say "sending" and turn "unknown"
			// at the next start, which is the truth we can prove.
			s.log.Error("outbox: accepted by Meta but not recorded", "message_id", o.MessageID, "err", werr)
		}
		s.m.finished.WithLabelValues(string(store.OutboxAccepted)).Inc()
		return &Result{MessageID: o.MessageID, State: store.OutboxAccepted, WAMID: sr.WAMID(), HTTPStatus: resp.Status, Body: resp.Body}
	case err == nil, cloudapi.IsUncertain(err):
		// 200 without an id, or no answer after the request was written.
		s.m.attempts.WithLabelValues("unknown").Inc()
		ue := unreachable(fmt.Errorf("%w", cloudapi.ErrUncertain))
		if err != nil {
			s.log.Warn("outbox: send outcome unknown; not repeated", "message_id", o.MessageID, "err", err)
		}
		s.fin(ctx, o, store.OutboxUnknown, ue)
		return gerrResult(o.MessageID, store.OutboxUnknown, ue)
	case errors.As(err, &gerr):
		s.checkToken(ctx, gerr)
		if !gerr.Transient() {
			s.m.attempts.WithLabelValues("permanent").Inc()
			s.log.Info("outbox: Meta refused message", "message_id", o.MessageID, "code", gerr.Code, "fbtrace_id", gerr.FBTraceID)
			s.fin(ctx, o, store.OutboxFailed, gerr)
			return gerrResult(o.MessageID, store.OutboxFailed, gerr)
		}
		s.m.attempts.WithLabelValues("transient").Inc()
		return s.retry(ctx, o, attempts, gerr)
	default:
		// Not written, so Meta never saw it: safe to try again.
		s.m.attempts.WithLabelValues("network").Inc()
		return s.retry(ctx, o, attempts, unreachable(err))
	}
}

func (s *Sender) fin(ctx context.Context, o *store.Outbound, state store.OutboxState, e *cloudapi.Error) {
	var err error
	if state == store.OutboxUnknown {
		err = s.store.UnknownOutbound(ctx, o.ID, e.Object())
	} else {
		err = s.store.FailOutbound(ctx, o.ID, e.Object())
	}
	if err != nil {
		s.log.Error("outbox: outcome not recorded", "message_id", o.MessageID, "state", state, "err", err)
	}
	s.m.finished.WithLabelValues(string(state)).Inc()
}

func (s *Sender) retry(ctx context.Context, o *store.Outbound, attempts int, e *cloudapi.Error) *Result {
	if attempts >= s.cfg.MaxAttempts {
		s.log.Warn("outbox: giving up after transient errors", "message_id", o.MessageID, "attempts", attempts, "code", e.Code)
		s.fin(ctx, o, store.OutboxFailed, e)
		return gerrResult(o.MessageID, store.OutboxFailed, e)
	}
	d := s.backoff(attempts, e)
	failed, err := s.store.RetryOutbound(ctx, o.ID, e.Object(), s.now().Add(d))
	if err != nil {
		s.log.Error("outbox: retry not recorded", "message_id", o.MessageID, "err", err)
	}
	if failed {
		s.m.finished.WithLabelValues(string(store.OutboxFailed)).Inc()
		return gerrResult(o.MessageID, store.OutboxFailed, e)
	}
	s.m.retries.Inc()
	return &Result{MessageID: o.MessageID, State: store.OutboxQueued}
}

// backoff is exponential with "equal jitter": half fixed, half random, so
// that retries of many messages spread out but never come too early.
func (s *Sender) backoff(attempt int, e *cloudapi.Error) time.Duration {
	d := s.cfg.BaseBackoff << min(attempt-1, 20)
	if d > s.cfg.MaxBackoff || d <= 0 {
		d = s.cfg.MaxBackoff
	}
	d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	if e != nil && e.Code == cloudapi.CodePairRateLimit && d < s.cfg.PairInterval {
		d = s.cfg.PairInterval // the customer's pace, not ours, is the limit
	}
	return d
}

// checkToken raises the expired-token alarm on 190 and clears it once a
// request succeeds again (e == nil). Other errors say nothing either way.
// alarmMu keeps the stored alarm in step with tokenBad when attempts
// finish concurrently.
func (s *Sender) checkToken(ctx context.Context, e *cloudapi.Error) {
	bad := e != nil && e.TokenExpired()
	if e != nil && !bad {
		return
	}
	s.alarmMu.Lock()
	defer s.alarmMu.Unlock()
	s.mu.Lock()
	changed := bad != s.tokenBad
	s.tokenBad = bad
	s.mu.Unlock()
	if !changed {
		return
	}
	if bad {
		s.m.tokenExpired.Set(1)
		s.log.Error("Meta rejected the access token (190): sends fail until a new token is set", "fbtrace_id", e.FBTraceID)
		if err := s.store.RaiseAlarm(context.WithoutCancel(ctx), AlarmTokenExpired, "Meta rejected the access token (error 190): "+e.Message); err != nil {
			s.log.Error("alarm not stored", "err", err)
		}
		return
	}
	s.m.tokenExpired.Set(0)
	s.log.Info("access token works again")
	if err := s.store.ClearAlarm(context.WithoutCancel(ctx), AlarmTokenExpired); err != nil {
		s.log.Error("alarm not cleared", "err", err)
	}
}

func (s *Sender) pairBucket(key string, now time.Time) *bucket {
	b := s.pairs[key]
	if b == nil {
		b = newBucket(1/s.cfg.PairInterval.Seconds(), s.cfg.PairBurst, now)
		s.pairs[key] = b
	}
	return b
}

func (s *Sender) numberBucket(pnid string, now time.Time) *bucket {
	b := s.numbers[pnid]
	if b == nil {
		// A burst of 5 % of a second lets the worker catch up after a
		// hiccup without ever exceeding the rate by more than that.
		b = newBucket(s.cfg.Rate, int(s.cfg.Rate/20), now)
		s.numbers[pnid] = b
	}
	return b
}

// run is the worker: it takes due entries oldest first, paces them and
// hands each to an attempt goroutine.
func (s *Sender) run(ctx context.Context) {
	const batch = 256
	lastSweep := time.Now()
	for ctx.Err() == nil {
		now := s.now()
		due, err := s.store.DueOutbox(ctx, now, batch)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("outbox: reading due messages", "err", err)
			}
			sleep(ctx, time.Second)
			continue
		}
		wake := time.Second
		for _, o := range due {
			s.mu.Lock()
			busy := s.inflight[o.ID]
			s.mu.Unlock()
			if busy {
				continue
			}
			if o.Deadline > 0 && now.UnixMilli() > o.Deadline {
				errObj := o.LastError
				if len(errObj) == 0 {
					errObj = cloudapi.NewError(http.StatusServiceUnavailable, cloudapi.CodeServiceUnavailable, "Service temporarily unavailable", "The message could not be sent in time; it was not sent.").Object()
				}
				if err := s.store.ExpireOutbound(ctx, o.ID, errObj); err == nil {
					s.m.finished.WithLabelValues(string(store.OutboxFailed)).Inc()
					if r, _ := s.final(ctx, o.MessageID); r != nil {
						s.notify(*r)
					}
				}
				continue
			}
			s.mu.Lock()
			now = s.now()
			pb := s.pairBucket(o.PairKey, now)
			if w := pb.wait(now); w > 0 {
				s.mu.Unlock()
				wake = min(wake, w)
				continue
			}
			pb.reserve(now)
			d := s.numberBucket(o.PhoneNumberID, now).reserve(now)
			s.inflight[o.ID] = true
			s.mu.Unlock()
			if !sleep(ctx, d) {
				return
			}
			select {
			case s.sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			s.wg.Add(1)
			go func(o *store.Outbound) {
				defer s.wg.Done()
				defer func() {
					<-s.sem
					s.mu.Lock()
					delete(s.inflight, o.ID)
					s.mu.Unlock()
					s.Kick()
				}()
				// Not cancellable: a claim abandoned half way could commit
				// later and leave the message "sending" until the next start.
				if err := s.store.ClaimOutbound(context.WithoutCancel(ctx), o.ID, s.now()); err != nil {
					var refused *store.ClaimRefusedError
					if errors.As(err, &refused) {
						s.m.refused.Inc()
						s.m.finished.WithLabelValues(string(store.OutboxFailed)).Inc()
						s.log.Info("outbox: not sent, consent withdrawn or processing restricted since it was queued", "message_id", o.MessageID)
						if r, _ := s.final(context.WithoutCancel(ctx), o.MessageID); r != nil {
							s.notify(*r)
						}
						return
					}
					if !errors.Is(err, store.ErrNotQueued) && ctx.Err() == nil {
						s.log.Error("outbox: claim", "err", err)
					}
					return
				}
				o.Attempts++
				// Once claimed the attempt runs to its end even during
				// shutdown, so that its outcome is recorded.
				s.attempt(context.WithoutCancel(ctx), o)
			}(o)
		}
		if len(due) == batch {
			continue
		}
		if next, ok, err := s.nextDue(ctx, now); err == nil && ok {
			wake = min(wake, max(next.Sub(s.now()), time.Millisecond))
		}
		if time.Since(lastSweep) > time.Minute {
			s.sweep()
			lastSweep = time.Now()
		}
		t := time.NewTimer(wake)
		select {
		case <-s.kick:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

func (s *Sender) nextDue(ctx context.Context, now time.Time) (time.Time, bool, error) {
	next, ok, err := s.store.NextOutboxAttempt(ctx)
	if err != nil || !ok || !next.After(now) {
		return time.Time{}, false, err
	}
	return next, true, nil
}

// sweep forgets customers whose pace bucket is full again.
func (s *Sender) sweep() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for k, b := range s.pairs {
		if b.full(now) {
			delete(s.pairs, k)
		}
	}
}

type metrics struct {
	queued       prometheus.Counter
	refused      prometheus.Counter
	retries      prometheus.Counter
	attempts     *prometheus.CounterVec
	finished     *prometheus.CounterVec
	latency      prometheus.Histogram
	tokenExpired prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		queued:  prometheus.NewCounter(prometheus.CounterOpts{Name: "pforte_outbox_queued_total", Help: "Outbound messages stored for delivery."}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{Name: "pforte_outbox_window_refused_total", Help: "Free-form messages refused locally because the 24-hour window was closed."}),
		retries: prometheus.NewCounter(prometheus.CounterOpts{Name: "pforte_outbox_retries_total", Help: "Attempts scheduled again after a transient error."}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pforte_send_attempts_total",
			Help: "Requests to Meta's send endpoint by outcome: accepted, permanent, transient, network, unknown."}, []string{"result"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pforte_outbox_finished_total",
			Help: "Outbound messages that reached a final state: accepted, failed, unknown."}, []string{"state"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pforte_send_seconds", Help: "Duration of one request to Meta's send endpoint.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 15)}),
		tokenExpired: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pforte_access_token_expired",
			Help: "1 while Meta rejects the access token (error 190); sends fail until it is replaced."}),
	}
	if reg != nil {
		reg.MustRegister(m.queued, m.refused, m.retries, m.attempts, m.finished, m.latency, m.tokenExpired)
	}
	return m
}
