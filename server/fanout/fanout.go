// Package fanout forwards every verified webhook delivery to the company's
// own systems (subscriptions), byte for byte as Meta sent it and signed the
// way Meta signs, so that an existing webhook consumer works unchanged.
//
// The queue lives in SQLite and is filled in the same transaction that
// stores a delivery (see store.Ingest), so nothing acknowledged to Meta can
// miss its fan-out. The worker delivers at least once: one request in flight
// per subscription, in delivery order, with exponential backoff and jitter,
// and gives up on a delivery (dead letter, replayable) after MaxAge.
// Subscriptions are independent: a slow or dead receiver delays only itself,
// and ingest never waits for any of them.
package fanout

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// Headers sent with every forwarded delivery besides Meta's signature.
const (
	// HeaderDelivery identifies the delivery for deduplication: the hex
	// SHA-256 of the body, the same for every retry and replay.
	HeaderDelivery = "X-Pforte-Delivery"
	// HeaderSequence is Pforte's number for the delivery, increasing in the
	// order Pforte received them.
	HeaderSequence = "X-Pforte-Sequence"
	// HeaderAttempt counts attempts at this delivery, from 1.
	HeaderAttempt = "X-Pforte-Attempt"
)

// Options tunes a Worker. Zero values take the defaults in brackets.
type Options struct {
	Logger *slog.Logger
	// Timeout bounds one attempt, connect to response headers and body
	// [10s]. A receiver that takes longer counts as failed.
	Timeout time.Duration
	// RetryBase is the first backoff; it doubles per failed attempt up to
	// RetryMax, and each wait is jittered into [d/2, d] [2s, 1h].
	RetryBase time.Duration
	RetryMax  time.Duration
	// MaxAge is how long a delivery is retried before it goes to the dead
	// letters [7 days, like Meta's own retries].
	MaxAge time.Duration
	// Poll is how often the worker looks for work that other processes
	// queued (the CLI's replays) and rechecks waiting receivers [1s].
	Poll time.Duration
	// MaxInFlight caps concurrent requests across all subscriptions [16].
	MaxInFlight int
	// Client sends the requests; the default follows no redirects.
	Client *http.Client
	// Now is the clock; tests move it forward [time.Now].
	Now func() time.Time
	// Jitter returns a number in [0, 1) [math/rand/v2.Float64].
	Jitter    func() float64
	UserAgent string
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.RetryBase <= 0 {
		o.RetryBase = 2 * time.Second
	}
	if o.RetryMax <= 0 {
		o.RetryMax = time.Hour
	}
	o.RetryMax = max(o.RetryMax, o.RetryBase)
	if o.MaxAge <= 0 {
		o.MaxAge = 7 * 24 * time.Hour
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.MaxInFlight <= 0 {
		o.MaxInFlight = 16
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	if o.UserAgent == "" {
		o.UserAgent = "Pforte-Fanout/1"
	}
	if o.Client == nil {
		o.Client = &http.Client{
			Transport: &http.Transport{
				Proxy:                 http.ProxyFromEnvironment,
				DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
				TLSHandshakeTimeout:   5 * time.Second,
				ResponseHeaderTimeout: o.Timeout,
				MaxIdleConnsPerHost:   4,
				IdleConnTimeout:       90 * time.Second,
				ForceAttemptHTTP2:     true,
			},
			// A receiver that redirects is misconfigured; following would
			// send signed data somewhere nobody configured.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
}

// Worker forwards queued deliveries. Start it after the store opens and
// Stop it before the store closes.
type Worker struct {
	st   *store.Store
	o    Options
	log  *slog.Logger
	sem  chan struct{}
	stop context.CancelFunc // stops picking up work
	kill context.CancelFunc // aborts requests in flight
	done chan struct{}
}

// New makes a worker for st.
func New(st *store.Store, o Options) *Worker {
	o.defaults()
	return &Worker{st: st, o: o, log: o.Logger, sem: make(chan struct{}, o.MaxInFlight)}
}

// Start runs the worker until ctx ends or Stop is called.
func (w *Worker) Start(ctx context.Context) {
	if w.done != nil {
		return
	}
	// Requests in flight outlive the stop signal until Stop's deadline, so
	// that a clean shutdown does not cut off a receiver mid-answer.
	reqCtx, kill := context.WithCancel(context.WithoutCancel(ctx))
	runCtx, stop := context.WithCancel(ctx)
	w.stop, w.kill, w.done = stop, kill, make(chan struct{})
	go w.supervise(runCtx, reqCtx)
}

// Stop stops taking new work, waits for requests in flight until ctx ends,
// then aborts them. Aborted deliveries stay queued and are sent again on
// the next start (receivers deduplicate by X-Pforte-Delivery).
func (w *Worker) Stop(ctx context.Context) error {
	if w.done == nil {
		return nil
	}
	w.stop()
	defer w.kill()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		w.kill()
		<-w.done
		return fmt.Errorf("fanout: stop: requests in flight aborted: %w", ctx.Err())
	}
}

// supervise starts one lane per subscription that has work and restarts
// lanes when new work arrives after they went idle.
func (w *Worker) supervise(ctx, reqCtx context.Context) {
	defer close(w.done)
	running := map[int64]bool{}
	exited := make(chan int64)
	var wg sync.WaitGroup
	tick := time.NewTicker(w.o.Poll)
	defer tick.Stop()
	signal := w.st.FanoutSignal()
	for {
		ids, err := w.st.FanoutLanes(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.Error("fan-out: looking for work failed", "err", err)
		}
		for _, id := range ids {
			if !running[id] {
				running[id] = true
				wg.Add(1)
				go func() {
					defer wg.Done()
					w.lane(ctx, reqCtx, id)
					exited <- id
				}()
			}
		}
		select {
		case <-ctx.Done():
			// Lanes finish their request in flight, then report.
			go func() { wg.Wait(); close(exited) }()
			for range exited {
			}
			return
		case id := <-exited:
			delete(running, id)
		case <-signal:
		case <-tick.C:
		}
	}
}

// Each lane reads its queue in batches: fewer reads, and one commit records
// a whole batch of accepted deliveries. A crash before that commit means
// the batch is sent again, which at-least-once allows.
const (
	batchItems = 32
	batchBytes = 1 << 20
)

// lane forwards one subscription's deliveries, one at a time, in order,
// until none is waiting.
func (w *Worker) lane(ctx, reqCtx context.Context, subID int64) {
	for ctx.Err() == nil {
		now := w.o.Now()
		items, err := w.st.FanoutNext(ctx, subID, now, batchItems, batchBytes)
		if errors.Is(err, store.ErrNotFound) {
			return
		}
		if err != nil {
			if ctx.Err() == nil {
				w.log.Error("fan-out: reading queue failed", "subscription", subID, "err", err)
				sleep(ctx, w.o.Poll)
			}
			continue
		}
		if items[0].Body == nil {
			// Backing off. Wake up at the poll interval at the latest so that
			// replays, edits and clock changes are noticed.
			sleep(ctx, min(time.UnixMilli(items[0].NextAttemptAt).Sub(now), w.o.Poll))
			continue
		}
		var accepted []*store.FanoutItem
		lastStatus := 0
		for _, it := range items {
			select {
			case w.sem <- struct{}{}:
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break // stopping: what was accepted is recorded below
			}
			status, sendErr := w.send(reqCtx, it)
			<-w.sem
			if reqCtx.Err() != nil {
				// Aborted by shutdown: not the receiver's fault, so no attempt
				// is counted; the delivery stays queued.
				break
			}
			if sendErr != nil {
				w.recordDelivered(accepted, lastStatus)
				accepted = nil
				w.recordFailed(it, status, sendErr)
				break
			}
			accepted, lastStatus = append(accepted, it), status
		}
		w.recordDelivered(accepted, lastStatus)
	}
}

// recordDelivered and recordFailed store outcomes with their own context,
// so that a stop right after a response still records it.
func (w *Worker) recordDelivered(items []*store.FanoutItem, status int) {
	if len(items) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.st.FanoutDelivered(ctx, items, status, w.o.Now()); err != nil {
		// The receiver has them; it will get them again (at least once).
		w.log.Error("fan-out: recording deliveries failed", "subscription", items[0].SubscriptionID, "err", err)
	}
}

func (w *Worker) recordFailed(it *store.FanoutItem, status int, sendErr error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := w.o.Now()
	f := store.FanoutFailure{
		At:         now,
		RetryAt:    now.Add(Backoff(it.Attempts+1, w.o.RetryBase, w.o.RetryMax, w.o.Jitter())),
		DeadBefore: now.Add(-w.o.MaxAge),
		Status:     status,
		Reason:     sendErr.Error(),
	}
	dead, err := w.st.FanoutFailed(ctx, it, f)
	if err != nil {
		w.log.Error("fan-out: recording a failed attempt failed", "subscription", it.SubscriptionID, "err", err)
		return
	}
	switch {
	case dead > 0:
		w.log.Error("fan-out: gave up; deliveries moved to the dead letters (replay them when the receiver works again)",
			"subscription", it.SubscriptionID, "dead_letters", dead, "reason", f.Reason)
	case it.Attempts == 0:
		w.log.Warn("fan-out: receiver failed; retrying with backoff", "subscription", it.SubscriptionID,
			"delivery", it.DeliveryID, "reason", f.Reason)
	default:
		w.log.Debug("fan-out: retry failed", "subscription", it.SubscriptionID, "delivery", it.DeliveryID,
			"attempt", it.Attempts+1, "reason", f.Reason, "next", f.RetryAt)
	}
}

// send makes one attempt. A nil error means the receiver answered 2xx.
func (w *Worker) send(ctx context.Context, it *store.FanoutItem) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, it.URL, bytes.NewReader(it.Body))
	if err != nil {
		return 0, errors.New("invalid subscription URL")
	}
	sum := sha256.Sum256(it.Body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.o.UserAgent)
	req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign(it.Secret, it.Body))
	req.Header.Set(HeaderDelivery, hex.EncodeToString(sum[:]))
	req.Header.Set(HeaderSequence, strconv.FormatInt(it.DeliveryID, 10))
	req.Header.Set(HeaderAttempt, strconv.Itoa(it.Attempts+1))
	resp, err := w.o.Client.Do(req)
	if err != nil {
		return 0, describe(err, ctx, w.o.Timeout)
	}
	// Read a little so the connection can be reused; the answer's content
	// does not matter.
	_, rerr := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return resp.StatusCode, fmt.Errorf("HTTP %d: redirects are not followed; configure the final URL", resp.StatusCode)
	case resp.StatusCode < 200 || resp.StatusCode >= 300:
		return resp.StatusCode, fmt.Errorf("HTTP %d", resp.StatusCode)
	case rerr != nil && ctx.Err() != nil:
		return resp.StatusCode, describe(rerr, ctx, w.o.Timeout)
	}
	return resp.StatusCode, nil
}

// describe turns a transport error into a short reason without the URL,
// which may carry a token of the receiver's.
func describe(err error, ctx context.Context, timeout time.Duration) error {
	// The transport's own header timeout can fire a moment before the
	// context's: both mean the receiver did not answer in time.
	var ne net.Error
	if errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("no answer within %s", timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err
}

// Backoff is the wait before attempt number attempt+1 after attempt failed
// (attempt counts from 1): base doubling per attempt, capped at most, then
// jittered into [d/2, d] with j in [0, 1) so that receivers coming back are
// not hit by every sender at once.
func Backoff(attempt int, base, most time.Duration, j float64) time.Duration {
	d := base
	for i := 1; i < attempt && d < most; i++ {
		d *= 2
	}
	d = min(d, most)
	return d/2 + time.Duration(j*float64(d/2))
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
