package fanout_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pforte/pforte/server/fanout"
	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// fastOptions retry quickly so that tests never wait out real backoffs.
func fastOptions() fanout.Options {
	return fanout.Options{RetryBase: 2 * time.Millisecond, RetryMax: 20 * time.Millisecond, Poll: 10 * time.Millisecond, Timeout: 5 * time.Second}
}

func startWorker(t *testing.T, g *testenv.Gateway, o fanout.Options) *fanout.Worker {
	t.Helper()
	w := fanout.New(g.Store, o)
	w.Start(context.Background())
	t.Cleanup(func() { w.Stop(context.Background()) })
	return w
}

// subscribe creates a subscription through the internal API.
func subscribe(t *testing.T, g *testenv.Gateway, rc *receiver, events ...string) gateway.SubscriptionJSON {
	t.Helper()
	return subscribeURL(t, g, rc.srv.URL+"/hook", rc.secret, events...)
}

func subscribeURL(t testing.TB, g *testenv.Gateway, url, secret string, events ...string) gateway.SubscriptionJSON {
	t.Helper()
	req := map[string]any{"url": url, "secret": secret, "name": strings.Join(events, "+")}
	if len(events) > 0 {
		req["events"] = events
	}
	b, _ := json.Marshal(req)
	code, body := g.API(t, http.MethodPost, "/api/v1/subscriptions", bytes.NewReader(b))
	if code != http.StatusCreated {
		t.Fatalf("create subscription: %d %s", code, body)
	}
	var s gateway.SubscriptionJSON
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	if s.Secret != "" {
		t.Fatal("a secret given by the caller was echoed back")
	}
	return s
}

func getSub(t *testing.T, g *testenv.Gateway, id int64) gateway.SubscriptionJSON {
	t.Helper()
	code, body := g.API(t, http.MethodGet, fmt.Sprintf("/api/v1/subscriptions/%d", id), nil)
	if code != http.StatusOK {
		t.Fatalf("get subscription: %d %s", code, body)
	}
	var s gateway.SubscriptionJSON
	json.Unmarshal(body, &s)
	return s
}

func post(t *testing.T, g *testenv.Gateway, body []byte) {
	t.Helper()
	if resp := g.PostWebhook(t, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook answered %d", resp.StatusCode)
	}
}

func digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// textBody is a distinct inbound text message delivery.
func textBody(n int) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"contacts":[{"profile":{"name":"Kunde %d"},"wa_id":"4915112345%03d"}],"messages":[{"from":"4915112345%03d","id":"wamid.TEST%06d","timestamp":"%d","type":"text","text":{"body":"Nachricht %d"}}]},"field":"messages"}]}]}`,
		n, n%1000, n%1000, n, 1790000000+n, n))
}

// errorsBody is a delivery holding only value.errors.
const errorsBody = `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"errors":[{"code":131000,"title":"Something went wrong","message":"Something went wrong","error_data":{"details":"test"}}]},"field":"messages"}]}]}`

func TestForwardsByteForByteWithMetaSignature(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	a := newReceiver(t, "receiver-a-secret-0123456789")
	b := newReceiver(t, "receiver-b-secret-9876543210")
	subscribe(t, g, a)
	subscribe(t, g, b)
	startWorker(t, g, fastOptions())

	names, bodies := testenv.Examples(t, "webhooks")
	var sent [][]byte
	for _, n := range names {
		sent = append(sent, bodies[n])
	}
	// Bytes a re-serialising forwarder would change: escapes, spacing, key
	// order, a trailing newline.
	sent = append(sent, []byte("{ \"entry\" : [ {\"changes\":[{\"field\":\"x_unknown\",\"value\":{\"t\":\"\\u00fc\\u00df \\/ \\u003c\"}}],\"id\":\"1\"}],\n  \"object\":\"whatsapp_business_account\" }\n"))
	for _, body := range sent {
		post(t, g, body)
	}
	for _, rc := range []*receiver{a, b} {
		// Examples with a ban or a restriction raise alarms; their events
		// (object "pforte") reach every subscription too, in the same
		// sequence, and are checked in TestAlarmRaisedAndResolvedFanOutOnce.
		fromMeta := func() (got []received) {
			for _, r := range rc.all() {
				if !bytes.Contains(r.Body, []byte(`"object":"pforte"`)) {
					got = append(got, r)
				}
			}
			return got
		}
		waitFor(t, "every delivery at every receiver", func() bool { return len(fromMeta()) >= len(sent) })
		got := fromMeta()
		lastSeq := int64(0)
		if len(got) != len(sent) {
			t.Errorf("receiver got %d requests for %d deliveries", len(got), len(sent))
		}
		for i, r := range got {
			if !r.Signature {
				t.Errorf("request %d: X-Hub-Signature-256 does not verify with the subscription's secret", i)
			}
			if i >= len(sent) {
				continue
			}
			// In delivery order, byte for byte.
			if !bytes.Equal(r.Body, sent[i]) {
				t.Errorf("request %d: body differs from what Meta sent:\n got %q\nwant %q", i, r.Body, sent[i])
			}
			if r.Delivery != digest(sent[i]) {
				t.Errorf("request %d: X-Pforte-Delivery %q, want the body's SHA-256", i, r.Delivery)
			}
			if r.Sequence <= lastSeq || r.Attempt != 1 {
				t.Errorf("request %d: sequence %d (after %d) attempt %d", i, r.Sequence, lastSeq, r.Attempt)
			}
			lastSeq = r.Sequence
		}
	}
	// A receiver checking with another secret rejects, as it should.
	if validSignature("wrong-secret-0123456789", sent[0], "sha256="+hex.EncodeToString(make([]byte, 32))) {
		t.Fatal("the consumer's check accepts anything")
	}
	waitFor(t, "queues drained", func() bool {
		return getSub(t, g, 1).Queue.Pending == 0 && getSub(t, g, 2).Queue.Pending == 0
	})
	s := getSub(t, g, 1)
	if s.Queue.Delivered < int64(len(sent)) || s.Queue.LastSuccessAt == nil || s.Queue.LastError != nil {
		t.Errorf("queue state after success: %+v", s.Queue)
	}
}

func TestFiltersByEventClass(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	_, ex := testenv.Examples(t, "webhooks")
	classes := map[string][]byte{
		"messages": ex["text"],
		"statuses": ex["status_read"],
		"errors":   []byte(errorsBody),
		"other":    ex["template_status_update_approved"],
	}
	rcs := map[string]*receiver{}
	for _, c := range []string{"messages", "statuses", "errors", "other"} {
		rcs[c] = newReceiver(t, "secret-for-"+c+"-0123456789")
		subscribe(t, g, rcs[c], c)
	}
	both := newReceiver(t, "secret-for-both-0123456789")
	subscribe(t, g, both, "messages", "other")
	startWorker(t, g, fastOptions())

	order := []string{"other", "messages", "errors", "statuses", "messages", "messages"}
	for i, c := range order {
		body := classes[c]
		switch i {
		case 4:
			body = textBody(1) // a second, different message delivery
		case 5:
			// A message Pforte cannot read (no id) still counts as a message.
			body = []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"1"},"messages":[{"type":"text","text":{"body":"?"}}]}}]}]}`)
		}
		post(t, g, body)
	}
	// A last delivery every class matches: once a receiver has it, it has
	// had everything before it (one lane, in order).
	marker := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"account_update","value":{"event":"X"}},{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"phone_number_id":"1"},"messages":[{"from":"49151","id":"wamid.MARK","timestamp":"1","type":"text","text":{"body":"m"}}],"statuses":[{"id":"wamid.S","status":"sent","timestamp":"1","recipient_id":"49151"}],"errors":[{"code":1}]}}]}]}`)
	post(t, g, marker)
	want := map[*receiver]int{rcs["messages"]: 4, rcs["statuses"]: 2, rcs["errors"]: 2, rcs["other"]: 2, both: 5}
	for rc, n := range want {
		waitFor(t, "the marker", func() bool {
			got := rc.accepted()
			return len(got) > 0 && bytes.Equal(got[len(got)-1].Body, marker)
		})
		if got := rc.accepted(); len(got) != n {
			t.Errorf("%s receiver got %d deliveries, want %d", rc.secret, len(got), n)
		}
	}
	if got := rcs["errors"].accepted(); !bytes.Equal(got[0].Body, []byte(errorsBody)) {
		t.Errorf("errors receiver got %s first", got[0].Body)
	}
	if got := rcs["statuses"].accepted(); !bytes.Equal(got[0].Body, ex["status_read"]) {
		t.Errorf("statuses receiver got %s first", got[0].Body)
	}
}

func TestOrderedAtLeastOnceWithRetries(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	rc := newReceiver(t, "ordering-secret-0123456789")
	// Every third delivery fails twice before it is accepted.
	rc.setAnswer(func(r received) int {
		if r.Sequence%3 == 0 && r.Attempt < 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	subscribe(t, g, rc)
	startWorker(t, g, fastOptions())
	const n = 30
	for i := range n {
		post(t, g, textBody(i))
	}
	waitFor(t, "all accepted", func() bool { return len(rc.accepted()) >= n })
	var last int64
	for i, r := range rc.all() {
		// One in flight, in order: a retry repeats the same delivery, and
		// nothing newer arrives before the older one was accepted.
		if r.Sequence < last {
			t.Fatalf("request %d: sequence %d after %d", i, r.Sequence, last)
		}
		if r.Sequence == last && r.Attempt < 2 {
			t.Fatalf("request %d: repeat of %d without a higher attempt number", i, r.Sequence)
		}
		last = r.Sequence
	}
	acc := rc.accepted()
	for i, r := range acc {
		if r.Sequence != int64(i+1) {
			t.Fatalf("accepted #%d has sequence %d", i, r.Sequence)
		}
		want := 1
		if r.Sequence%3 == 0 {
			want = 3
		}
		if r.Attempt != want {
			t.Errorf("sequence %d accepted at attempt %d, want %d", r.Sequence, r.Attempt, want)
		}
	}
	if total := len(rc.all()); total != n+2*(n/3) {
		t.Errorf("%d requests, want %d", total, n+2*(n/3))
	}
	waitFor(t, "state recorded", func() bool { return getSub(t, g, 1).Queue.Delivered == n })
	if s := getSub(t, g, 1); s.Queue.FailedAttempts != 2*(n/3) || s.Queue.Pending != 0 {
		t.Errorf("queue state %+v", s.Queue)
	}
}

func TestSlowReceiverDelaysOnlyItself(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	release := make(chan struct{})
	var once sync.Once
	slow := newReceiver(t, "slow-receiver-secret-0123")
	slow.setAnswer(func(received) int { <-release; return http.StatusOK })
	fast := newReceiver(t, "fast-receiver-secret-0123")
	subscribe(t, g, slow)
	subscribe(t, g, fast)
	o := fastOptions()
	o.Timeout = time.Minute
	startWorker(t, g, o)
	// Registered last, so it runs first: the hanging handler returns before
	// the worker and the receiver are shut down.
	t.Cleanup(func() { once.Do(func() { close(release) }) })

	const n = 40
	for i := range n {
		post(t, g, textBody(i)) // every one acknowledged while slow hangs
	}
	waitFor(t, "fast receiver has everything", func() bool { return len(fast.accepted()) == n })
	waitFor(t, "the slow receiver's first request", func() bool { return slow.begun.Load() >= 1 })
	if got := slow.begun.Load(); got != 1 {
		t.Fatalf("slow receiver got %d requests while the first hangs; want exactly one in flight", got)
	}
	if s := getSub(t, g, 1); s.Queue.Pending != n {
		t.Fatalf("slow queue depth %d, want %d", s.Queue.Pending, n)
	}
	once.Do(func() { close(release) })
	waitFor(t, "slow receiver catches up", func() bool { return len(slow.accepted()) == n })
	for i, r := range slow.accepted() {
		if r.Sequence != int64(i+1) {
			t.Fatalf("slow receiver: #%d has sequence %d", i, r.Sequence)
		}
	}
}

// clock is a time source that tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestBackoffDeadLetterAndReplay(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	rc := newReceiver(t, "dead-letter-secret-0123456")
	rc.setAnswer(func(received) int { return http.StatusInternalServerError })
	sub := subscribe(t, g, rc)
	clk := &clock{now: time.Now()}
	reg := prometheus.NewRegistry()
	w := startWorker(t, g, fanout.Options{Now: clk.Now, RetryBase: time.Minute, RetryMax: time.Hour, Poll: 5 * time.Millisecond,
		Jitter: func() float64 { return 0.999 }})
	reg.MustRegister(w.Collector())

	body := textBody(7)
	post(t, g, body)
	waitFor(t, "first attempt", func() bool { return len(rc.all()) == 1 })
	waitFor(t, "first failure recorded", func() bool { return getSub(t, g, sub.ID).Queue.FailedAttempts == 1 })
	// With the clock standing still the delivery is not due again.
	head, err := g.Store.FanoutHead(context.Background(), sub.ID, clk.Now())
	if err != nil || head.Body != nil || head.Attempts != 1 {
		t.Fatalf("after one failure the head is %+v (%v); want it waiting", head, err)
	}
	wait := time.UnixMilli(head.NextAttemptAt).Sub(clk.Now())
	if wait < 30*time.Second || wait > time.Minute {
		t.Fatalf("first backoff %s, want within [30s, 1m]", wait)
	}
	clk.Add(time.Minute)
	waitFor(t, "second attempt", func() bool { return len(rc.all()) == 2 })
	waitFor(t, "second failure recorded", func() bool { return getSub(t, g, sub.ID).Queue.FailedAttempts == 2 })
	head, _ = g.Store.FanoutHead(context.Background(), sub.ID, clk.Now())
	if wait2 := time.UnixMilli(head.NextAttemptAt).Sub(clk.Now()); wait2 < wait+30*time.Second {
		t.Fatalf("second backoff %s did not grow from %s", wait2, wait)
	}
	if got := rc.all()[1]; got.Attempt != 2 || !bytes.Equal(got.Body, body) {
		t.Fatalf("retry: attempt %d", got.Attempt)
	}

	// Past seven days the next failure gives up.
	clk.Add(8 * 24 * time.Hour)
	waitFor(t, "dead letter", func() bool { return getSub(t, g, sub.ID).Queue.Dead == 1 })
	s := getSub(t, g, sub.ID)
	if s.Queue.Pending != 0 || s.Queue.DeadLettered != 1 || s.Queue.LastError == nil || *s.Queue.LastError != "HTTP 500" || *s.Queue.LastStatus != 500 {
		t.Fatalf("after giving up: %+v", s.Queue)
	}
	if v := metricValue(t, reg, "pforte_fanout_dead_letters"); v != 1 {
		t.Errorf("metric dead letters = %v", v)
	}
	attempts := len(rc.all())
	code, dlBody := g.API(t, http.MethodGet, fmt.Sprintf("/api/v1/subscriptions/%d/dead-letters", sub.ID), nil)
	var dl struct{ Data []gateway.DeadLetterJSON }
	if json.Unmarshal(dlBody, &dl); code != http.StatusOK || len(dl.Data) != 1 || dl.Data[0].Sequence != 1 ||
		dl.Data[0].Attempts != attempts || dl.Data[0].LastError != "HTTP 500" {
		t.Fatalf("dead letters: %d %s", code, dlBody)
	}

	// Bad replay requests are refused and change nothing.
	for _, bad := range []string{`{}`, `{"dead_letter":true,"from":"2026-01-01T00:00:00Z"}`, `{"from":"yesterday"}`, `{"dead_letters":true}`} {
		if code, b := g.API(t, http.MethodPost, fmt.Sprintf("/api/v1/subscriptions/%d/replay", sub.ID), strings.NewReader(bad)); code != http.StatusBadRequest {
			t.Errorf("replay %s: %d %s", bad, code, b)
		}
	}
	if s := getSub(t, g, sub.ID); s.Queue.Dead != 1 || s.Queue.Pending != 0 {
		t.Fatalf("refused replay changed the queue: %+v", s.Queue)
	}

	rc.setAnswer(nil)
	code, b := g.API(t, http.MethodPost, fmt.Sprintf("/api/v1/subscriptions/%d/replay", sub.ID), strings.NewReader(`{"dead_letter":true}`))
	if code != http.StatusAccepted || !strings.Contains(string(b), `"queued":1`) {
		t.Fatalf("replay dead letters: %d %s", code, b)
	}
	waitFor(t, "replayed delivery", func() bool { return len(rc.accepted()) == 1 })
	got := rc.accepted()[0]
	if !bytes.Equal(got.Body, body) || got.Attempt != 1 || got.Delivery != digest(body) || len(rc.all()) != attempts+1 {
		t.Fatalf("replayed: attempt %d delivery %s", got.Attempt, got.Delivery)
	}

	// A time-range replay sends it once more, with the same delivery id.
	// (Deliveries still waiting or in flight are not queued twice.)
	waitFor(t, "replay recorded", func() bool { return getSub(t, g, sub.ID).Queue.Pending == 0 })
	from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	code, b = g.API(t, http.MethodPost, fmt.Sprintf("/api/v1/subscriptions/%d/replay", sub.ID), strings.NewReader(`{"from":"`+from+`"}`))
	if code != http.StatusAccepted || !strings.Contains(string(b), `"queued":1`) {
		t.Fatalf("replay range: %d %s", code, b)
	}
	waitFor(t, "range replay", func() bool { return len(rc.accepted()) == 2 })
	if again := rc.accepted()[1]; again.Delivery != got.Delivery || !bytes.Equal(again.Body, body) {
		t.Fatal("range replay sent something else")
	}
	waitFor(t, "empty queue", func() bool { return getSub(t, g, sub.ID).Queue.Pending == 0 })
	if v := metricValue(t, reg, "pforte_fanout_dead_letters"); v != 0 {
		t.Errorf("metric dead letters after replay = %v", v)
	}
	if v := metricValue(t, reg, "pforte_fanout_delivered_total"); v != 2 {
		t.Errorf("metric delivered = %v", v)
	}
}

// metricValue sums a metric family's samples from reg.
func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	v := 0.0
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				v += m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
		}
	}
	return v
}

func TestTimeoutsRedirectsAndDisabled(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	hang := make(chan struct{})
	slow := newReceiver(t, "timeout-secret-0123456789")
	slow.setAnswer(func(received) int { <-hang; return 200 })
	target := newReceiver(t, "redirect-target-secret-01")
	redir := newReceiver(t, "redirect-secret-012345678")
	redir.srv.Config.Handler = http.RedirectHandler(target.srv.URL, http.StatusFound)
	off := newReceiver(t, "disabled-secret-012345678")
	s1 := subscribe(t, g, slow)
	s2 := subscribe(t, g, redir)
	s3 := subscribe(t, g, off)
	if code, b := g.API(t, http.MethodPatch, fmt.Sprintf("/api/v1/subscriptions/%d", s3.ID), strings.NewReader(`{"enabled":false}`)); code != 200 {
		t.Fatalf("disable: %d %s", code, b)
	}
	o := fastOptions()
	o.Timeout = 50 * time.Millisecond
	o.RetryBase = time.Hour // one attempt each is enough here
	startWorker(t, g, o)
	t.Cleanup(func() { close(hang) })
	post(t, g, textBody(1))
	waitFor(t, "timeout recorded", func() bool { return getSub(t, g, s1.ID).Queue.LastError != nil })
	if e := *getSub(t, g, s1.ID).Queue.LastError; !strings.Contains(e, "no answer within 50ms") {
		t.Errorf("timeout reason %q", e)
	}
	waitFor(t, "redirect recorded", func() bool { return getSub(t, g, s2.ID).Queue.LastError != nil })
	s := getSub(t, g, s2.ID)
	if e := *s.Queue.LastError; !strings.Contains(e, "redirects are not followed") || *s.Queue.LastStatus != 302 {
		t.Errorf("redirect reason %q status %v", e, s.Queue.LastStatus)
	}
	if strings.Contains(*s.Queue.LastError, "127.0.0.1") {
		t.Errorf("reason names the receiver's address: %q", *s.Queue.LastError)
	}
	if n := len(target.all()); n != 0 {
		t.Errorf("redirect was followed: target got %d requests", n)
	}
	// Disabled: nothing queued, nothing sent.
	if s := getSub(t, g, s3.ID); s.Queue.Pending != 0 || len(off.all()) != 0 {
		t.Errorf("disabled subscription: pending %d, requests %d", s.Queue.Pending, len(off.all()))
	}
	// Fixing the URL makes the waiting delivery due at once, despite the
	// hour of backoff.
	good := newReceiver(t, "redirect-secret-012345678")
	patch, _ := json.Marshal(map[string]string{"url": good.srv.URL})
	if code, b := g.API(t, http.MethodPatch, fmt.Sprintf("/api/v1/subscriptions/%d", s2.ID), bytes.NewReader(patch)); code != 200 {
		t.Fatalf("patch url: %d %s", code, b)
	}
	waitFor(t, "delivery after URL fix", func() bool { return len(good.accepted()) == 1 })
}

func TestStopLeavesUnfinishedDeliveriesQueued(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	hang := make(chan struct{})
	var once sync.Once
	rc := newReceiver(t, "stop-secret-0123456789ab")
	t.Cleanup(func() { once.Do(func() { close(hang) }) })
	rc.setAnswer(func(received) int { <-hang; return 200 })
	sub := subscribe(t, g, rc)
	o := fastOptions()
	o.Timeout = time.Minute
	w := fanout.New(g.Store, o)
	w.Start(context.Background())
	post(t, g, textBody(1))
	waitFor(t, "request in flight", func() bool { return inFlight(rc) })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := w.Stop(ctx); err == nil {
		t.Fatal("Stop did not report the aborted request")
	}
	once.Do(func() { close(hang) })
	s := getSub(t, g, sub.ID)
	if s.Queue.Pending != 1 || s.Queue.FailedAttempts != 0 {
		t.Fatalf("after an aborted request: %+v; want it queued with no attempt counted", s.Queue)
	}
	// The next worker delivers it (at least once).
	rc.setAnswer(nil)
	startWorker(t, g, fastOptions())
	waitFor(t, "delivery after restart", func() bool { return len(rc.accepted()) >= 1 })
	if got := rc.accepted()[0]; got.Attempt != 1 || got.Sequence != 1 {
		t.Fatalf("after restart: attempt %d sequence %d", got.Attempt, got.Sequence)
	}
}

// inFlight reports whether the receiver's handler has started a request.
func inFlight(rc *receiver) bool {
	select {
	case <-rc.started:
		return true
	default:
		return false
	}
}

func TestBackoffSchedule(t *testing.T) {
	base, most := 2*time.Second, time.Hour
	prev := time.Duration(0)
	for attempt := 1; attempt <= 20; attempt++ {
		lo, hi := fanout.Backoff(attempt, base, most, 0), fanout.Backoff(attempt, base, most, 0.999999)
		if lo < prev/2 || hi > most || lo > hi || hi < lo+lo*9/10 {
			t.Fatalf("attempt %d: range [%s, %s]", attempt, lo, hi)
		}
		if attempt <= 11 && lo != base<<(attempt-1)/2 {
			t.Fatalf("attempt %d: lower bound %s, want %s", attempt, lo, base<<(attempt-1)/2)
		}
		prev = hi
	}
	if got := fanout.Backoff(50, base, most, 0); got != most/2 {
		t.Fatalf("capped lower bound %s", got)
	}
	// Seven days of capped retries is a bounded number of attempts.
	total, n := time.Duration(0), 0
	for total < 7*24*time.Hour {
		n++
		total += fanout.Backoff(n, base, most, 0.5)
	}
	if n > 250 {
		t.Fatalf("%d attempts in seven days", n)
	}
}

// Subscriptions need the admin scope.
func TestSubscriptionsNeedAdminScope(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	key, _, err := g.Store.CreateAPIKey(context.Background(), "reader", store.Scopes{store.ScopeRead, store.ScopeSend})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, g.Internal.URL+"/api/v1/subscriptions", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("read key listed subscriptions: %d", resp.StatusCode)
	}
}
