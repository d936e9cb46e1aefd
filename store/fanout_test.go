package store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// delivery builds a parsed delivery holding the given classes; the body is
// unique per call so that it is never a duplicate.
func delivery(n int, at time.Time, classes Events) *Delivery {
	d := &Delivery{Body: []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","n":%d,"c":%d}`, n, classes)), ReceivedAt: at}
	num := Number{PhoneNumberID: "1065"}
	if classes&EventMessages != 0 {
		d.Messages = append(d.Messages, InboundMessage{Number: num, From: Party{WaID: "4915100000000"}, WAMID: fmt.Sprintf("wamid.m%d", n), Type: "text", TS: at.Unix()})
	}
	if classes&EventStatuses != 0 {
		d.Statuses = append(d.Statuses, StatusUpdate{WAMID: fmt.Sprintf("wamid.s%d", n), Status: "sent", TS: at.Unix()})
	}
	if classes&EventErrors != 0 {
		d.Events = append(d.Events, Event{Field: "messages.errors", Value: []byte(`[{"code":131000}]`), TS: at.Unix()})
	}
	if classes&EventOther != 0 {
		d.Events = append(d.Events, Event{Field: "message_template_status_update", Value: []byte(`{}`), TS: at.Unix()})
	}
	return d
}

func mustSub(t *testing.T, st *Store, events Events, enabled bool) *Subscription {
	t.Helper()
	sub, secret, err := st.CreateSubscription(context.Background(), "test", SubscriptionInput{
		Name: events.String(), URL: "http://127.0.0.1:9/" + events.String(), Events: events, Enabled: enabled})
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) < MinSecretLen {
		t.Fatalf("generated secret %q too short", secret)
	}
	return sub
}

func queued(t *testing.T, st *Store, subID int64) []int64 {
	t.Helper()
	rows, err := st.rdb.Query("SELECT delivery_id FROM fanout_queue WHERE subscription_id = ? AND state = 'pending' ORDER BY delivery_id", subID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		ids = append(ids, id)
	}
	return ids
}

func TestFanoutEventsClassifies(t *testing.T) {
	cases := []struct {
		name string
		d    Delivery
		want Events
	}{
		{"message", Delivery{Messages: []InboundMessage{{}}}, EventMessages},
		{"status", Delivery{Statuses: []StatusUpdate{{}}}, EventStatuses},
		{"both", Delivery{Messages: []InboundMessage{{}}, Statuses: []StatusUpdate{{}}}, EventMessages | EventStatuses},
		{"value errors", Delivery{Events: []Event{{Field: "messages.errors"}}}, EventErrors},
		{"unreadable message", Delivery{Events: []Event{{Field: "messages.unreadable"}}}, EventMessages},
		{"template update", Delivery{Events: []Event{{Field: "message_template_status_update"}}}, EventOther},
		{"unknown field", Delivery{Events: []Event{{Field: "something_new"}}}, EventOther},
		{"undecodable messages value", Delivery{ParseError: "x", Events: []Event{{Field: "messages"}}}, EventMessages | EventStatuses | EventErrors},
		{"unparseable body", Delivery{ParseError: "bad json"}, EventsAll},
		{"empty envelope", Delivery{}, EventOther},
	}
	for _, c := range cases {
		if got := fanoutEvents(&c.d); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestIngestQueuesMatchingSubscriptionsInSameCommit(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, Options{})
	if SchemaVersion() < 150 {
		t.Fatalf("schema version %d lacks the fan-out step", SchemaVersion())
	}
	msgs := mustSub(t, st, EventMessages, true)
	stats := mustSub(t, st, EventStatuses, true)
	errs := mustSub(t, st, EventErrors, true)
	other := mustSub(t, st, EventOther, true)
	all := mustSub(t, st, EventsAll, true)
	off := mustSub(t, st, EventsAll, false)

	now := time.Now()
	want := map[int64][]int64{}
	for i, classes := range []Events{EventMessages, EventStatuses, EventErrors, EventOther, EventMessages | EventStatuses} {
		res, err := st.Ingest(ctx, delivery(i, now, classes))
		if err != nil {
			t.Fatal(err)
		}
		did := int64(i + 1)
		n := 1 // "all"
		for _, s := range []*Subscription{msgs, stats, errs, other} {
			if s.Events&classes != 0 {
				want[s.ID] = append(want[s.ID], did)
				n++
			}
		}
		want[all.ID] = append(want[all.ID], did)
		if res.Fanout != n {
			t.Errorf("delivery %d: Fanout = %d, want %d", did, res.Fanout, n)
		}
	}
	for _, s := range []*Subscription{msgs, stats, errs, other, all, off} {
		if got := queued(t, st, s.ID); !slices.Equal(got, want[s.ID]) {
			t.Errorf("subscription %s: queued %v, want %v", s.Name, got, want[s.ID])
		}
	}
	// A redelivered identical body is stored once and forwarded once.
	res, err := st.Ingest(ctx, delivery(0, now, EventMessages))
	if err != nil || !res.Duplicate || res.Fanout != 0 {
		t.Fatalf("duplicate: %+v, %v", res, err)
	}
	if got := queued(t, st, msgs.ID); len(got) != 2 {
		t.Errorf("duplicate was queued again: %v", got)
	}
	// The signal tells the worker there is work.
	select {
	case <-st.FanoutSignal():
	default:
		t.Error("no fan-out signal after ingest queued work")
	}
	lanes, err := st.FanoutLanes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(lanes, off.ID) || !slices.Contains(lanes, all.ID) {
		t.Errorf("lanes %v: want enabled subscriptions with work only", lanes)
	}
}

func TestFanoutHeadOrderBackoffDeadLetterAndReplay(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, Options{})
	sub := mustSub(t, st, EventsAll, true)
	t0 := time.Now().Add(-time.Hour).Truncate(time.Second)
	for i := range 3 {
		if _, err := st.Ingest(ctx, delivery(i, t0.Add(time.Duration(i)*time.Minute), EventMessages)); err != nil {
			t.Fatal(err)
		}
	}
	head, err := st.FanoutHead(ctx, sub.ID, t0)
	if err != nil {
		t.Fatal(err)
	}
	if head.DeliveryID != 1 || head.Body == nil || !strings.Contains(string(head.Body), `"n":0`) {
		t.Fatalf("head = %+v, want delivery 1 with its body", head)
	}
	if string(head.Secret) == "" || head.URL == "" {
		t.Fatal("head lacks URL or secret")
	}
	// A failed attempt pushes the head back; it is not due before RetryAt.
	at := t0.Add(time.Hour)
	dead, err := st.FanoutFailed(ctx, head, FanoutFailure{At: at, RetryAt: at.Add(time.Minute), DeadBefore: at.Add(-7 * 24 * time.Hour), Status: 503, Reason: "HTTP 503"})
	if err != nil || dead != 0 {
		t.Fatalf("failed: %d, %v", dead, err)
	}
	h2, err := st.FanoutHead(ctx, sub.ID, at.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if h2.DeliveryID != 1 || h2.Body != nil || h2.Attempts != 1 {
		t.Fatalf("during backoff head = %+v, want delivery 1 without body (not due), 1 attempt", h2)
	}
	if h3, _ := st.FanoutHead(ctx, sub.ID, at.Add(time.Minute)); h3.Body == nil {
		t.Fatal("head not due after its retry time")
	}
	s, _ := st.Subscription(ctx, sub.ID)
	if s.Queue.Pending != 3 || s.Queue.FailedAttempts != 1 || s.Queue.LastError != "HTTP 503" || s.Queue.LastStatus != 503 {
		t.Fatalf("queue state %+v", s.Queue)
	}
	if s.Queue.OldestPendingAt != t0.UnixMilli() {
		t.Errorf("oldest pending at %d, want %d", s.Queue.OldestPendingAt, t0.UnixMilli())
	}

	// Eight days later the next failure gives up on everything that old.
	late := t0.Add(8 * 24 * time.Hour)
	dead, err = st.FanoutFailed(ctx, h2, FanoutFailure{At: late, RetryAt: late.Add(time.Minute), DeadBefore: late.Add(-7 * 24 * time.Hour), Reason: "connection refused"})
	if err != nil || dead != 3 {
		t.Fatalf("dead letters: %d, %v; want 3", dead, err)
	}
	if _, err := st.FanoutHead(ctx, sub.ID, late); !errors.Is(err, ErrNotFound) {
		t.Fatalf("head after dead-lettering: %v", err)
	}
	dl, err := st.DeadLetters(ctx, sub.ID, 10)
	if err != nil || len(dl) != 3 || dl[0].DeliveryID != 1 || dl[0].Attempts != 2 {
		t.Fatalf("dead letters %+v, %v", dl, err)
	}

	// Bad replays change nothing.
	for _, bad := range []Replay{{}, {From: t0, To: t0}, {DeadLetter: true, From: t0}} {
		if _, err := st.ReplayFanout(ctx, "test", sub.ID, bad); !isInput(err) {
			t.Errorf("replay %+v: err %v, want an input error", bad, err)
		}
	}
	if _, err := st.ReplayFanout(ctx, "test", 999, Replay{DeadLetter: true}); !errors.Is(err, ErrNotFound) {
		t.Errorf("replay of a missing subscription: %v", err)
	}
	if s, _ := st.Subscription(ctx, sub.ID); s.Queue.Dead != 3 || s.Queue.Pending != 0 {
		t.Fatalf("a refused replay changed the queue: %+v", s.Queue)
	}

	n, err := st.ReplayFanout(ctx, "test", sub.ID, Replay{DeadLetter: true})
	if err != nil || n != 3 {
		t.Fatalf("dead-letter replay: %d, %v", n, err)
	}
	if got := queued(t, st, sub.ID); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Fatalf("after dead-letter replay queued %v", got)
	}
	h4, _ := st.FanoutHead(ctx, sub.ID, time.Now())
	if h4.Attempts != 0 || h4.Body == nil {
		t.Fatalf("replayed head %+v: want fresh and due", h4)
	}

	// Deliver all, then replay a time range: only deliveries received in it.
	for range 3 {
		h, err := st.FanoutHead(ctx, sub.ID, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.FanoutDelivered(ctx, []*FanoutItem{h}, 200, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if got := queued(t, st, sub.ID); len(got) != 0 {
		t.Fatalf("delivered rows still queued: %v", got)
	}
	n, err = st.ReplayFanout(ctx, "test", sub.ID, Replay{From: t0.Add(time.Minute), To: t0.Add(2*time.Minute + time.Second)})
	if err != nil || n != 2 {
		t.Fatalf("range replay: %d, %v; want 2", n, err)
	}
	if got := queued(t, st, sub.ID); !slices.Equal(got, []int64{2, 3}) {
		t.Fatalf("range replay queued %v, want [2 3]", got)
	}
	// Replaying again does not queue what is already waiting.
	if n, _ := st.ReplayFanout(ctx, "test", sub.ID, Replay{From: t0, To: t0.Add(time.Hour)}); n != 1 {
		t.Fatalf("second range replay queued %d, want only the missing one", n)
	}
	s, _ = st.Subscription(ctx, sub.ID)
	if s.Queue.Delivered != 3 || s.Queue.DeadLettered != 3 || s.Queue.LastSuccessAt == 0 {
		t.Fatalf("totals %+v", s.Queue)
	}
	// Every replay is in the audit log.
	log, _ := st.AuditLog(ctx, 0, 50)
	replays := 0
	for _, e := range log {
		if e.Action == "subscription.replay" {
			replays++
		}
	}
	if replays != 3 {
		t.Errorf("%d replay audit lines, want 3", replays)
	}
}

func TestReplayRespectsFilter(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, Options{})
	now := time.Now()
	for i, c := range []Events{EventMessages, EventStatuses, EventOther} {
		st.Ingest(ctx, delivery(i, now, c))
	}
	sub := mustSub(t, st, EventStatuses, true)
	n, err := st.ReplayFanout(ctx, "test", sub.ID, Replay{From: now.Add(-time.Minute)})
	if err != nil || n != 1 {
		t.Fatalf("replay: %d, %v", n, err)
	}
	if got := queued(t, st, sub.ID); !slices.Equal(got, []int64{2}) {
		t.Fatalf("queued %v, want only the status delivery [2]", got)
	}
}

func isInput(err error) bool {
	var ie *InputError
	return errors.As(err, &ie)
}

func TestSubscriptionValidationChangesNothing(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, Options{})
	bad := []SubscriptionInput{
		{URL: ""},
		{URL: "ftp://x.example/"},
		{URL: "/relative"},
		{URL: "https://user:pw@x.example/"},
		{URL: "https://x.example/#frag"},
		{URL: "https://x.example/", Secret: "short"},
		{URL: "https://x.example/", Name: strings.Repeat("n", 201)},
		{URL: "https://x.example/" + strings.Repeat("p", 2048)},
	}
	for _, in := range bad {
		if _, _, err := st.CreateSubscription(ctx, "test", in); !isInput(err) {
			t.Errorf("%+v: err %v, want an input error", in, err)
		}
	}
	if subs, _ := st.Subscriptions(ctx); len(subs) != 0 {
		t.Fatalf("refused input created %d subscriptions", len(subs))
	}
	sub := mustSub(t, st, EventMessages, true)
	short := "x"
	zero := Events(0)
	badURL := "mailto:a@b"
	for _, p := range []SubscriptionPatch{{Secret: &short}, {Events: &zero}, {URL: &badURL}} {
		if _, err := st.UpdateSubscription(ctx, "test", sub.ID, p); !isInput(err) {
			t.Errorf("patch %+v: %v", p, err)
		}
	}
	got, _ := st.Subscription(ctx, sub.ID)
	if got.URL != sub.URL || got.Events != sub.Events || got.UpdatedAt != sub.UpdatedAt {
		t.Fatalf("refused patch changed %+v", got)
	}
	newURL, off := "https://ok.example/hook", false
	got, err := st.UpdateSubscription(ctx, "test", sub.ID, SubscriptionPatch{URL: &newURL, Enabled: &off})
	if err != nil || got.URL != newURL || got.Enabled {
		t.Fatalf("patch: %+v, %v", got, err)
	}
	if _, err := st.UpdateSubscription(ctx, "test", 999, SubscriptionPatch{Enabled: &off}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("patch of missing: %v", err)
	}
	if err := st.DeleteSubscription(ctx, "test", sub.ID); err != nil {
		t.Fatal(err)
	}
	if err := st.DeleteSubscription(ctx, "test", sub.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func TestDeleteSubscriptionDropsItsQueue(t *testing.T) {
	ctx := context.Background()
	st := openTest(t, Options{})
	sub := mustSub(t, st, EventsAll, true)
	st.Ingest(ctx, delivery(1, time.Now(), EventMessages))
	if len(queued(t, st, sub.ID)) != 1 {
		t.Fatal("not queued")
	}
	if err := st.DeleteSubscription(ctx, "test", sub.ID); err != nil {
		t.Fatal(err)
	}
	var n int
	st.rdb.QueryRow("SELECT count(*) FROM fanout_queue").Scan(&n)
	if n != 0 {
		t.Fatalf("%d queue rows outlived their subscription", n)
	}
}

func FuzzParseEvents(f *testing.F) {
	for _, s := range []string{"messages", "messages,statuses", "ERRORS, other", "", ",", "bogus", "messages,messages"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		e, err := ParseEvents(strings.Split(list, ","))
		if err != nil {
			if e != 0 {
				t.Fatalf("error with a non-zero set %v", e)
			}
			return
		}
		if e == 0 || e&^EventsAll != 0 {
			t.Fatalf("accepted %q as %d", list, e)
		}
		// Names round-trip.
		back, err := ParseEvents(e.Names())
		if err != nil || back != e {
			t.Fatalf("round trip of %v: %v, %v", e, back, err)
		}
	})
}

func FuzzCheckSubscriptionURL(f *testing.F) {
	for _, s := range []string{"https://crm.example.com/hook", "http://10.0.0.5:8080/x?token=1", "ftp://x", "", "https://", "https://a@b/", "http://[::1]:80/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if err := CheckSubscriptionURL(raw); err != nil {
			if !isInput(err) {
				t.Fatalf("error of the wrong type: %v", err)
			}
			return
		}
		// Whatever is accepted must be something the worker can send to.
		req, err := http.NewRequest(http.MethodPost, raw, nil)
		if err != nil {
			t.Fatalf("accepted %q, but it cannot be requested: %v", raw, err)
		}
		if req.URL.Scheme != "http" && req.URL.Scheme != "https" || req.URL.Host == "" {
			t.Fatalf("accepted %q: scheme %q host %q", raw, req.URL.Scheme, req.URL.Host)
		}
	})
}
