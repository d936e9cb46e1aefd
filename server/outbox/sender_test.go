package outbox_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte/pforte/server/cloudapi"

	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

const pnid = "106540352242922"

func template(to string, tag int) []byte {
	return []byte(fmt.Sprintf(`{"messaging_product":"whatsapp","to":"+%s","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}},"biz_opaque_callback_data":"m%d"}`, to, tag))
}

func enqueue(t *testing.T, g *testenv.SendingGateway, body []byte) *store.Outbound {
	t.Helper()
	return enqueueTB(t, g, body)
}

func enqueueTB(t testing.TB, g *testenv.SendingGateway, body []byte) *store.Outbound {
	t.Helper()
	o, err := g.Sender.Enqueue(context.Background(), outbox.Request{PhoneNumberID: pnid, Body: body, Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func waitState(t *testing.T, g *testenv.SendingGateway, msgID int64, states ...store.OutboxState) *store.Outbound {
	t.Helper()
	var o *store.Outbound
	testenv.Eventually(t, 15*time.Second, fmt.Sprintf("message %d to reach %v", msgID, states), func() bool {
		var err error
		o, err = g.Store.Outbound(context.Background(), msgID)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if o.State == s {
				return true
			}
		}
		return false
	})
	return o
}

// byTag counts the simulator's accepted sends per biz_opaque_callback_data.
func byTag(reqs []simulator.Request) map[string]int {
	out := map[string]int{}
	for _, r := range reqs {
		var b struct {
			Tag string `json:"biz_opaque_callback_data"`
		}
		json.Unmarshal(r.Body, &b)
		out[b.Tag]++
	}
	return out
}

// The outbox sends at the configured rate per business number: measured
// over 75 messages it is within 10 % of it.
func TestRatePacing(t *testing.T) {
	const rate, n = 25.0, 75
	g := testenv.NewSending(t, testenv.SendingOptions{Sender: outbox.Config{Rate: rate, PairBurst: 100}, Sim: simulator.Options{StatusDelay: -1},
		Paused: true})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			enqueue(t, g, template(fmt.Sprintf("447700%06d", i), i))
		}()
	}
	wg.Wait()
	g.Start() // the outbox is full: what follows is the pace alone
	testenv.Eventually(t, 20*time.Second, "all messages accepted", func() bool { return len(g.Sim.Accepted()) == n })
	acc := g.Sim.Accepted()
	overall := float64(n-1) / acc[n-1].At.Sub(acc[0].At).Seconds()
	// The pace is the typical gap between sends: a stall of the (shared,
	// loaded) test machine delays a few arrivals but says nothing about it.
	gaps := make([]time.Duration, 0, n-1)
	for i := 1; i < n; i++ {
		gaps = append(gaps, acc[i].At.Sub(acc[i-1].At))
	}
	slices.Sort(gaps)
	paced := 1 / gaps[len(gaps)/2].Seconds()
	t.Logf("configured %.0f/s; measured %.2f/s from the median gap, %.2f/s overall, over %d messages", rate, paced, overall, n)
	if paced < rate*0.9 || paced > rate*1.1 {
		t.Fatalf("measured pace %.2f/s is not within 10%% of %.0f/s", paced, rate)
	}
	if overall > rate*1.1 {
		t.Fatalf("overall rate %.2f/s exceeds the configured %.0f/s", overall, rate)
	}
}

// Messages to one customer keep their order and, after the allowed burst,
// leave one per pair interval.
func TestPairPacingAndOrder(t *testing.T) {
	const interval = 500 * time.Millisecond
	g := testenv.NewSending(t, testenv.SendingOptions{Sender: outbox.Config{PairInterval: interval, PairBurst: 2}, Sim: simulator.Options{StatusDelay: -1}})
	for i := range 5 {
		enqueue(t, g, template("447700900100", i))
	}
	testenv.Eventually(t, 10*time.Second, "5 accepted", func() bool { return len(g.Sim.Accepted()) == 5 })
	acc := g.Sim.Accepted()
	for i, r := range acc {
		if !strings.Contains(string(r.Body), fmt.Sprintf(`"m%d"`, i)) {
			t.Fatalf("message %d out of order: %s", i, r.Body)
		}
	}
	// Without the burst the second message would wait a whole interval.
	if gap := acc[1].At.Sub(acc[0].At); gap > interval*8/10 {
		t.Errorf("burst of 2 not allowed: gap %s", gap)
	}
	// After the burst one per interval: the fifth message needs three more
	// tokens than the first two had, so it cannot leave before 3 intervals.
	if span := acc[4].At.Sub(acc[0].At); span < 3*interval*9/10 {
		t.Errorf("5 messages took %s; the pair pace allows no less than %s", span, 3*interval)
	}
}

// Transient failures (throughput 130429, an HTML 502, 131000 as 500,
// 131016 as 503) are retried until accepted, and each message reaches
// Meta exactly once.
func TestTransientErrorsRetriedWithoutDuplicates(t *testing.T) {
	g := testenv.NewSending(t, testenv.SendingOptions{Sender: outbox.Config{BaseBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond},
		Sim: simulator.Options{StatusDelay: -1}})
	faults := map[string]simulator.Fault{
		"447700900201": {Code: cloudapi.CodeThroughputReached, Times: 2},
		"447700900202": {Code: 502, HTTPStatus: 502, Raw: "<html><body>Bad Gateway</body></html>"},
		"447700900203": {Code: cloudapi.CodeSomethingWentWrong},
		"447700900204": {Code: cloudapi.CodeServiceUnavailable, Times: 3},
	}
	var ids []int64
	i := 0
	for to, f := range faults {
		f.To = to
		g.Sim.Inject(f)
		ids = append(ids, enqueue(t, g, template(to, i)).MessageID)
		i++
	}
	for _, id := range ids {
		o := waitState(t, g, id, store.OutboxAccepted, store.OutboxFailed, store.OutboxUnknown)
		if o.State != store.OutboxAccepted {
			t.Fatalf("message %d ended %s: %s", id, o.State, o.LastError)
		}
	}
	for tag, n := range byTag(g.Sim.Accepted()) {
		if n != 1 {
			t.Errorf("%s reached Meta %d times", tag, n)
		}
	}
	if got, want := len(g.Sim.Requests()), 4+2+1+1+3; got != want {
		t.Errorf("%d requests, want %d (4 successes and 7 refused attempts)", got, want)
	}
}

// Permanent errors fail at once with Meta's error kept on the message;
// an expired token (190) also raises the alarm, which the next success clears.
func TestPermanentErrorsNotRetried(t *testing.T) {
	g := testenv.NewSending(t, testenv.SendingOptions{Sender: outbox.Config{BaseBackoff: 10 * time.Millisecond}, Sim: simulator.Options{StatusDelay: -1}})
	codes := []cloudapi.ErrorCode{cloudapi.CodeInvalidParameter, cloudapi.CodeUndeliverable, cloudapi.CodeTemplateNotFound,
		cloudapi.CodeNumberNotRegistered, cloudapi.CodePolicyBlocked, cloudapi.CodeAccessTokenExpired}
	var ids []int64
	for i, code := range codes {
		to := fmt.Sprintf("4477009003%02d", i)
		g.Sim.Inject(simulator.Fault{Code: code, To: to})
		ids = append(ids, enqueue(t, g, template(to, i)).MessageID)
	}
	for i, id := range ids {
		waitState(t, g, id, store.OutboxFailed, store.OutboxAccepted)
		m, err := g.Store.MessageByID(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		var errs []struct {
			Code cloudapi.ErrorCode `json:"code"`
		}
		json.Unmarshal(m.Errors, &errs)
		if m.Status != "failed" || len(errs) != 1 || errs[0].Code != codes[i] {
			t.Errorf("code %d: status %s errors %s", codes[i], m.Status, m.Errors)
		}
	}
	time.Sleep(100 * time.Millisecond) // a retry would have happened by now
	if n := len(g.Sim.Requests()); n != len(codes) {
		t.Fatalf("%d requests for %d messages: permanent errors were retried", n, len(codes))
	}
	alarms, _ := g.Store.Alarms(context.Background())
	if len(alarms) != 1 || alarms[0].Key != outbox.AlarmTokenExpired {
		t.Fatalf("alarms after 190: %+v", alarms)
	}
	waitState(t, g, enqueue(t, g, template("447700900399", 99)).MessageID, store.OutboxAccepted)
	if alarms, _ := g.Store.Alarms(context.Background()); len(alarms) != 0 {
		t.Fatalf("alarm not cleared by a working token: %+v", alarms)
	}
}

// A send whose answer never came may have reached Meta: it is marked
// unknown and not repeated.
func TestUncertainSendNotRepeated(t *testing.T) {
	g := testenv.NewSending(t, testenv.SendingOptions{Sender: outbox.Config{BaseBackoff: 10 * time.Millisecond}, Sim: simulator.Options{StatusDelay: -1}})
	g.Sim.Inject(simulator.Fault{Hang: true, To: "447700900400"})
	o := enqueue(t, g, template("447700900400", 1))
	waitState(t, g, o.MessageID, store.OutboxUnknown, store.OutboxAccepted, store.OutboxFailed)
	time.Sleep(150 * time.Millisecond)
	if n := len(g.Sim.Requests()); n != 1 {
		t.Fatalf("uncertain send was repeated: %d requests", n)
	}
	m, _ := g.Store.MessageByID(context.Background(), o.MessageID)
	if m.Status != "unknown" || !strings.Contains(string(m.Errors), "may have been carried out") {
		t.Fatalf("message: %s %s", m.Status, m.Errors)
	}
	// A person may decide to send it again.
	if err := g.Store.RequeueOutbound(context.Background(), o.MessageID); err != nil {
		t.Fatal(err)
	}
	g.Sender.Kick()
	waitState(t, g, o.MessageID, store.OutboxAccepted)
}

// Enqueue refuses free-form messages outside the window before anything
// reaches Meta (the gateway answers it with Meta's error 131047).
func TestEnqueueWindowRefusal(t *testing.T) {
	g := testenv.NewSending(t, testenv.SendingOptions{Sim: simulator.Options{StatusDelay: -1}})
	_, err := g.Sender.Enqueue(context.Background(), outbox.Request{PhoneNumberID: pnid,
		Body: []byte(`{"messaging_product":"whatsapp","to":"+447700900500","type":"text","text":{"body":"Hallo"}}`)})
	var wc *store.WindowClosedError
	if !errors.Is(err, outbox.ErrWindowClosed) || !errors.As(err, &wc) {
		t.Fatalf("want outbox.ErrWindowClosed wrapping the store's error, got %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(g.Sim.Requests()); n != 0 {
		t.Fatalf("Meta was called %d times", n)
	}
	c := simulator.Customer{WaID: "447700900500", Name: "Anna"}
	if _, st, err := g.Sim.Write(context.Background(), c, "text"); err != nil || st != 200 {
		t.Fatal(st, err)
	}
	o, err := g.Sender.Enqueue(context.Background(), outbox.Request{PhoneNumberID: g.Sim.Options().PhoneNumberID,
		Body: []byte(`{"messaging_product":"whatsapp","to":"+447700900500","type":"text","text":{"body":"Hallo"}}`)})
	if err != nil {
		t.Fatal(err)
	}
	waitState(t, g, o.MessageID, store.OutboxAccepted)
}

// A proxied send that the customer's pace would hold past the caller's
// wait fails at once with Meta's pair-rate error and is not sent later.
func TestSyncSendPairPaceDeadline(t *testing.T) {
	g := testenv.NewSending(t, testenv.SendingOptions{Sender: outbox.Config{PairInterval: time.Hour, PairBurst: 1, SyncWait: 300 * time.Millisecond},
		Sim: simulator.Options{StatusDelay: -1}})
	ctx := context.Background()
	first, err := g.Sender.Send(ctx, outbox.Request{PhoneNumberID: pnid, Body: template("447700900600", 1)})
	if err != nil || first.State != store.OutboxAccepted {
		t.Fatalf("first: %+v %v", first, err)
	}
	second, err := g.Sender.Send(ctx, outbox.Request{PhoneNumberID: pnid, Body: template("447700900600", 2)})
	if err != nil || second.State != store.OutboxFailed || second.HTTPStatus != 429 || !strings.Contains(string(second.Body), fmt.Sprintf(`"code":%d`, cloudapi.CodePairRateLimit)) {
		t.Fatalf("second: %+v %s %v", second, second.Body, err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := len(g.Sim.Requests()); n != 1 {
		t.Fatalf("%d requests reached Meta", n)
	}
}
