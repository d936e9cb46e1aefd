package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pforte/pforte/store"
)

const pnid = "106540352242922"

func open(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir(), store.Options{IsStopWord: store.TestStopWord})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	approveHallo(t, st)
	return st
}

// approveHallo makes the template the tests send a known utility template:
// one of unknown category would need a marketing opt-in.
func approveHallo(t *testing.T, st *store.Store) {
	t.Helper()
	v := `{"event":"APPROVED","message_template_name":"hallo","message_template_language":"de","message_template_category":"UTILITY"}`
	if _, err := st.Ingest(context.Background(), &store.Delivery{Body: []byte(v), ReceivedAt: time.Now(),
		Events: []store.Event{{Field: "message_template_status_update", TS: time.Now().Unix(), Value: []byte(v)}}}); err != nil {
		t.Fatal(err)
	}
}

// inbound stores a customer message written at ts.
func inbound(t *testing.T, st *store.Store, waID string, ts time.Time, media *store.MediaRef) string {
	t.Helper()
	wamid := fmt.Sprintf("wamid.in.%s.%d", waID, ts.UnixNano())
	typ := "text"
	if media != nil {
		typ = "image"
	}
	_, err := st.Ingest(context.Background(), &store.Delivery{Body: []byte(wamid), ReceivedAt: time.Now(), Messages: []store.InboundMessage{{
		Number: store.Number{PhoneNumberID: pnid}, From: store.Party{WaID: waID, Name: "Anna"}, WAMID: wamid, Type: typ,
		Payload: []byte(`{"body":"hi"}`), TS: ts.Unix(), Media: media,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	return wamid
}

func send(waID, typ string, now time.Time) store.OutboundSend {
	text := "Hallo"
	payload := `{"body":"Hallo"}`
	if typ == "template" {
		payload = `{"name":"hallo","language":{"code":"de"}}`
	}
	return store.OutboundSend{PhoneNumberID: pnid, WaID: waID, PairKey: pnid + ":" + waID, Type: typ, Text: &text,
		Payload: []byte(payload), Body: []byte(`{"messaging_product":"whatsapp","to":"` + waID + `","type":"` + typ + `"}`),
		CheckWindow: typ != "template", Now: now}
}

func count(t *testing.T, st *store.Store, table string) int {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+st.Path()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEnqueueRefusesOutsideWindowAndStoresNothing(t *testing.T) {
	st := open(t)
	ctx := context.Background()
	now := time.Now()
	_, err := st.EnqueueSend(ctx, send("447700900001", "text", now))
	var wc *store.WindowClosedError
	if !errors.As(err, &wc) || wc.LastInboundAt != 0 {
		t.Fatalf("never wrote: want window closed, got %v", err)
	}
	for _, table := range []string{"messages", "outbox", "contacts", "conversations", "business_numbers"} {
		if n := count(t, st, table); n != 0 {
			t.Errorf("refused send left %d rows in %s", n, table)
		}
	}
	// A template may start the conversation.
	o, err := st.EnqueueSend(ctx, send("447700900001", "template", now))
	if err != nil || o.State != store.OutboxQueued || o.MessageID == 0 {
		t.Fatalf("template: %v %+v", err, o)
	}
	// 25 hours after the customer wrote, the window is closed again.
	inbound(t, st, "447700900002", now.Add(-25*time.Hour), nil)
	_, err = st.EnqueueSend(ctx, send("447700900002", "text", now))
	if !errors.As(err, &wc) || wc.LastInboundAt != now.Add(-25*time.Hour).Unix() {
		t.Fatalf("expired window: got %v", err)
	}
	inbound(t, st, "447700900002", now.Add(-time.Hour), nil)
	if _, err = st.EnqueueSend(ctx, send("447700900002", "text", now)); err != nil {
		t.Fatalf("open window: %v", err)
	}
}

func TestEnqueueIdempotencyKey(t *testing.T) {
	st := open(t)
	ctx := context.Background()
	s := send("447700900003", "template", time.Now())
	s.IdempotencyKey = "k1"
	a, err := st.EnqueueSend(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.EnqueueSend(ctx, s)
	if err != nil || !b.Existing || b.MessageID != a.MessageID {
		t.Fatalf("repeat: %v %+v", err, b)
	}
	if n := count(t, st, "outbox"); n != 1 {
		t.Fatalf("%d outbox rows", n)
	}
}

// One customer's messages leave in order: only the oldest unfinished one
// is due, while other customers are not held up.
func TestDueOutboxKeepsOrderPerCustomer(t *testing.T) {
	st := open(t)
	ctx := context.Background()
	now := time.Now()
	var ids []int64
	for range 3 {
		o, err := st.EnqueueSend(ctx, send("447700900004", "template", now))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	other, _ := st.EnqueueSend(ctx, send("447700900005", "template", now))
	due, err := st.DueOutbox(ctx, now, 10)
	if err != nil || len(due) != 2 || due[0].ID != ids[0] || due[1].ID != other.ID {
		t.Fatalf("due = %+v, %v", due, err)
	}
	if err := st.ClaimOutbound(ctx, ids[0], now); err != nil {
		t.Fatal(err)
	}
	if err := st.ClaimOutbound(ctx, ids[0], now); !errors.Is(err, store.ErrNotQueued) {
		t.Fatalf("double claim: %v", err)
	}
	due, _ = st.DueOutbox(ctx, now, 10)
	if len(due) != 1 || due[0].ID != other.ID {
		t.Fatalf("while the first is sending, its successors wait: %+v", due)
	}
	// A retry in the future keeps the successors waiting too.
	if failed, err := st.RetryOutbound(ctx, ids[0], []byte(`{"code":130429}`), now.Add(time.Minute)); err != nil || failed {
		t.Fatal(err, failed)
	}
	due, _ = st.DueOutbox(ctx, now, 10)
	if len(due) != 1 || due[0].ID != other.ID {
		t.Fatalf("during backoff: %+v", due)
	}
	due, _ = st.DueOutbox(ctx, now.Add(2*time.Minute), 10)
	if len(due) != 2 || due[0].ID != ids[0] || due[0].Attempts != 1 || string(due[0].LastError) != `{"code":130429}` {
		t.Fatalf("after backoff: %+v", due)
	}
}

// Receipts can arrive before Meta's answer is recorded: they are applied
// the moment the message gets its wamid.
func TestReceiptBeforeAcceptance(t *testing.T) {
	st := open(t)
	ctx := context.Background()
	o, _ := st.EnqueueSend(ctx, send("447700900006", "template", time.Now()))
	st.ClaimOutbound(ctx, o.ID, time.Now())
	wamid := "wamid.out.1"
	_, err := st.Ingest(ctx, &store.Delivery{Body: []byte("r1"), ReceivedAt: time.Now(), Statuses: []store.StatusUpdate{
		{WAMID: wamid, Status: "delivered", TS: time.Now().Unix()}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AcceptOutbound(ctx, o.ID, wamid, []byte(`{"messages":[{"id":"wamid.out.1"}]}`)); err != nil {
		t.Fatal(err)
	}
	m, err := st.MessageByWAMID(ctx, wamid)
	if err != nil || m.Status != "delivered" || m.ID != o.MessageID || m.Direction != "outbound" {
		t.Fatalf("%v %+v", err, m)
	}
	got, _ := st.Outbound(ctx, o.MessageID)
	if got.State != store.OutboxAccepted || len(got.Body) != 0 || got.WAMID != wamid {
		t.Fatalf("outbox after acceptance: %+v", got)
	}
}

// A crash mid-send leaves "sending"; at the next start it becomes
// "unknown" and is not due again until a person requeues it.
func TestRecoverOutboxMarksUnknown(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, dir, store.Options{IsStopWord: store.TestStopWord})
	if err != nil {
		t.Fatal(err)
	}
	approveHallo(t, st)
	o, _ := st.EnqueueSend(ctx, send("447700900007", "template", time.Now()))
	if err := st.ClaimOutbound(ctx, o.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = store.Open(ctx, dir, store.Options{IsStopWord: store.TestStopWord})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if n, err := st.RecoverOutbox(ctx); err != nil || n != 1 {
		t.Fatalf("recovered %d, %v", n, err)
	}
	m, _ := st.MessageByID(ctx, o.MessageID)
	if m.Status != "unknown" || len(m.Errors) == 0 {
		t.Fatalf("message after recovery: %+v", m)
	}
	if due, _ := st.DueOutbox(ctx, time.Now().Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("unknown message is due again: %+v", due)
	}
	if err := st.RequeueOutbound(ctx, o.MessageID); err != nil {
		t.Fatal(err)
	}
	if due, _ := st.DueOutbox(ctx, time.Now(), 10); len(due) != 1 {
		t.Fatalf("requeued message not due")
	}
	if err := st.RequeueOutbound(ctx, o.MessageID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("requeue of a queued message: %v", err)
	}
}

func TestRetryPastDeadlineFails(t *testing.T) {
	st := open(t)
	ctx := context.Background()
	s := send("447700900008", "template", time.Now())
	s.Deadline = time.Now().Add(time.Second)
	o, _ := st.EnqueueSend(ctx, s)
	st.ClaimOutbound(ctx, o.ID, time.Now())
	failed, err := st.RetryOutbound(ctx, o.ID, []byte(`{"code":131000}`), time.Now().Add(time.Minute))
	if err != nil || !failed {
		t.Fatalf("want failed, got %v %v", failed, err)
	}
	m, _ := st.MessageByID(ctx, o.MessageID)
	if m.Status != "failed" || string(m.Errors) != `[{"code":131000}]` {
		t.Fatalf("%+v", m)
	}
}

func TestMediaQueueLeaseAndDedupe(t *testing.T) {
	st := open(t)
	ctx := context.Background()
	now := time.Now()
	inbound(t, st, "447700900009", now, &store.MediaRef{MediaID: "111", MimeType: "image/jpeg", SHA256: "x"})
	jobs, err := st.ClaimMedia(ctx, now, time.Minute, 10)
	if err != nil || len(jobs) != 1 || jobs[0].MediaID != "111" || jobs[0].PhoneNumberID != pnid || jobs[0].Attempts != 1 || jobs[0].MessageType != "image" {
		t.Fatalf("claim: %+v %v", jobs, err)
	}
	if again, _ := st.ClaimMedia(ctx, now, time.Minute, 10); len(again) != 0 {
		t.Fatalf("claimed twice within the lease")
	}
	if later, _ := st.ClaimMedia(ctx, now.Add(2*time.Minute), time.Minute, 10); len(later) != 1 || later[0].Attempts != 2 {
		t.Fatalf("after the lease: %+v", later)
	}
	var names []string
	for range 2 {
		tmp, err := st.NewMediaTemp()
		if err != nil {
			t.Fatal(err)
		}
		tmp.Write([]byte("same bytes"))
		name, err := tmp.Commit()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, name)
	}
	files, _ := filepath.Glob(filepath.Join(st.MediaDir(), "[0-9a-f]*"))
	if names[0] != names[1] || len(files) != 1 || filepath.Base(files[0]) != names[0] {
		t.Fatalf("dedupe: %v %v", names, files)
	}
	if left, _ := os.ReadDir(filepath.Join(st.MediaDir(), ".tmp")); len(left) != 0 {
		t.Fatalf("temporary files left: %d", len(left))
	}
	if err := st.MediaStored(ctx, jobs[0].ID, store.StoredMedia{Path: names[0], Size: 10, Filename: "a.jpg"}); err != nil {
		t.Fatal(err)
	}
	m, err := st.StoredMediaByMediaID(ctx, "111")
	if err != nil || m.Path != names[0] || m.MimeType != "image/jpeg" {
		t.Fatalf("%+v %v", m, err)
	}
	if _, err := st.OpenMedia("../pforte.db"); err == nil {
		t.Fatal("path outside the media folder opened")
	}
}

func TestAlarms(t *testing.T) {
	st := open(t)
	ctx := context.Background()
	st.RaiseAlarm(ctx, "access_token_expired", "190")
	st.RaiseAlarm(ctx, "access_token_expired", "190 again")
	a, err := st.Alarms(ctx)
	if err != nil || len(a) != 1 || a[0].Count != 2 || a[0].Message != "190 again" {
		t.Fatalf("%+v %v", a, err)
	}
	st.ClearAlarm(ctx, "access_token_expired")
	if a, _ := st.Alarms(ctx); len(a) != 0 {
		t.Fatalf("not cleared: %+v", a)
	}
}

// WriteNoSync changes are committed and visible like any other, and a
// durable write after them leaves both on disk.
func TestWriteNoSync(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := store.Open(ctx, dir, store.Options{IsStopWord: store.TestStopWord})
	if err != nil {
		t.Fatal(err)
	}
	approveHallo(t, st)
	s := send("447700900010", "template", time.Now())
	s.NoSync = true
	a, err := st.EnqueueSend(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Outbound(ctx, a.MessageID); err != nil {
		t.Fatalf("not visible: %v", err)
	}
	b, err := st.EnqueueSend(ctx, send("447700900011", "template", time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = store.Open(ctx, dir, store.Options{IsStopWord: store.TestStopWord})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range []int64{a.MessageID, b.MessageID} {
		if _, err := st.Outbound(ctx, id); err != nil {
			t.Fatalf("message %d lost: %v", id, err)
		}
	}
}
