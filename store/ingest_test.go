package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"
)

func textDelivery(body string, wamids ...string) *Delivery {
	d := &Delivery{Body: []byte(body), ReceivedAt: time.Unix(1790000000, 0)}
	for _, w := range wamids {
		d.Messages = append(d.Messages, InboundMessage{
			Number: Number{PhoneNumberID: "412095873361844"},
			From:   Party{WaID: "4915112345678"},
			WAMID:  w, Type: "text", TS: 1790000000,
			Text: sql.NullString{String: "Hallo " + w, Valid: true},
		})
	}
	return d
}

func statusDelivery(body, wamid, status string) *Delivery {
	return &Delivery{Body: []byte(body), ReceivedAt: time.Unix(1790000000, 0),
		Statuses: []StatusUpdate{{WAMID: wamid, Status: status, TS: 1790000001, Recipient: Party{WaID: "4915112345678"}}}}
}

func eventDelivery(body string) *Delivery {
	return &Delivery{Body: []byte(body), ReceivedAt: time.Unix(1790000000, 0),
		Events: []Event{{WABAID: "1", Field: "account_update", TS: 1790000000, Value: []byte(`{"event":"x"}`)}}}
}

// TestRedeliveryIsRecognised covers each way a delivery is found again:
// by its first message, by its first receipt, by its hash (no message or
// receipt, or a first message that came in another body).
func TestRedeliveryIsRecognised(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	count := func(q string, args ...any) int {
		t.Helper()
		var n int
		if err := s.rdb.QueryRow(q, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	cases := []struct {
		name   string
		make   func() *Delivery
		byHash int
	}{
		{"message", func() *Delivery { return textDelivery(`{"m":1}`, "wamid.A", "wamid.B") }, 0},
		{"status", func() *Delivery { return statusDelivery(`{"s":1}`, "wamid.OUT", "delivered") }, 0},
		{"event", func() *Delivery { return eventDelivery(`{"e":1}`) }, 1},
		// Another body whose first message is already stored: kept, and
		// found again by its hash.
		{"overlap", func() *Delivery { return textDelivery(`{"m":2}`, "wamid.A", "wamid.C") }, 1},
		{"status overlap", func() *Delivery { return statusDelivery(`{"s":2}`, "wamid.OUT", "delivered") }, 1},
	}
	for _, c := range cases {
		res, err := s.Ingest(ctx, c.make())
		if err != nil {
			t.Fatal(c.name, err)
		}
		if res.Duplicate {
			t.Fatalf("%s: first delivery reported as a duplicate", c.name)
		}
		body := string(c.make().Body)
		if got := count("SELECT by_hash FROM deliveries WHERE body = ?", []byte(body)); got != c.byHash {
			t.Errorf("%s: by_hash = %d, want %d", c.name, got, c.byHash)
		}
		for i := range 3 {
			res, err := s.Ingest(ctx, c.make())
			if err != nil {
				t.Fatal(c.name, err)
			}
			if !res.Duplicate || res.Messages+res.Statuses+res.Events != 0 {
				t.Errorf("%s: redelivery %d = %+v, want a duplicate that adds nothing", c.name, i+1, res)
			}
		}
		if n := count("SELECT count(*) FROM deliveries WHERE body = ?", []byte(body)); n != 1 {
			t.Errorf("%s: body stored %d times", c.name, n)
		}
	}
	if n := count("SELECT count(*) FROM messages WHERE wamid IN ('wamid.A', 'wamid.B', 'wamid.C')"); n != 3 {
		t.Errorf("%d messages, want 3", n)
	}

	// A message whose delivery was purged no longer finds it: the body is
	// kept again, once, and then found by its hash.
	if err := s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`DELETE FROM deliveries WHERE body = CAST('{"m":1}' AS BLOB)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		res, err := s.Ingest(ctx, textDelivery(`{"m":1}`, "wamid.A", "wamid.B"))
		if err != nil {
			t.Fatal(err)
		}
		if res.Duplicate != (i > 0) || res.Messages != 0 {
			t.Errorf("after purge, delivery %d = %+v", i, res)
		}
	}
	if n := count(`SELECT count(*) FROM deliveries WHERE body = CAST('{"m":1}' AS BLOB) AND by_hash = 1`); n != 1 {
		t.Errorf("purged body stored %d times again", n)
	}
}

// TestRedeliveryInOneCommit sends the same new body many times at once, so
// that copies share a group commit: exactly one is stored.
func TestRedeliveryInOneCommit(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	errs := make(chan error, 20)
	dups := make(chan bool, 20)
	for range 20 {
		go func() {
			res, err := s.Ingest(ctx, textDelivery(`{"same":1}`, "wamid.SAME"))
			errs <- err
			dups <- res.Duplicate
		}()
	}
	stored := 0
	for range 20 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		if !<-dups {
			stored++
		}
	}
	var n int
	s.rdb.QueryRow("SELECT count(*) FROM deliveries").Scan(&n)
	if stored != 1 || n != 1 {
		t.Fatalf("%d reported stored, %d rows; want 1", stored, n)
	}
}

// TestDeliveriesRebuildKeepsData opens a database made by the steps before
// the deliveries rebuild, with rows that refer to a delivery, and checks
// that the rebuild keeps every row and reference.
func TestDeliveriesRebuildKeepsData(t *testing.T) {
	dir := t.TempDir()
	all := migrations
	var before []migration
	for _, m := range all {
		if m.version < 160 {
			before = append(before, m)
		}
	}
	migrations = before
	s, err := Open(context.Background(), dir, Options{IsStopWord: testStopWord})
	if err != nil {
		migrations = all
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range 5 {
		// Rows as the code before the rebuild wrote them.
		body := fmt.Sprintf(`{"old":%d}`, i)
		sum := sha256.Sum256([]byte(body))
		if err := s.Write(ctx, func(tx *Tx) error {
			id, _, err := tx.Insert(`INSERT INTO deliveries(sha256, body, received_at) VALUES (?, ?, 1)`, sum[:], body)
			if err != nil {
				return err
			}
			_, err = tx.Exec(`INSERT INTO events(delivery_id, waba_id, field, phone_number_id, ts, value, received_at) VALUES (?, '1', 'x', '', 1, '{}', 1)`, id)
			return err
		}); err != nil {
			migrations = all
			t.Fatal(err)
		}
	}
	s.Close()
	migrations = all

	s = openTestIn(t, dir, Options{})
	var deliveries, linked, byHash int
	s.rdb.QueryRow("SELECT count(*), sum(by_hash) FROM deliveries").Scan(&deliveries, &byHash)
	s.rdb.QueryRow("SELECT count(*) FROM events e JOIN deliveries d ON d.id = e.delivery_id").Scan(&linked)
	if deliveries != 5 || linked != 5 || byHash != 5 {
		t.Fatalf("after the rebuild: %d deliveries, %d events linked, %d by hash; want 5, 5, 5", deliveries, linked, byHash)
	}
	var fk int
	s.rdb.QueryRow("SELECT count(*) FROM pragma_foreign_key_check").Scan(&fk)
	var fkOn int
	s.Write(ctx, func(tx *Tx) error { return tx.QueryRow("PRAGMA foreign_keys").Scan(&fkOn) })
	if fk != 0 || fkOn != 1 {
		t.Fatalf("foreign key problems %d, foreign_keys %d", fk, fkOn)
	}
	// An old delivery is still found by its hash.
	res, err := s.Ingest(ctx, eventDelivery(`{"old":3}`))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Duplicate {
		t.Error("a delivery stored before the rebuild is not recognised")
	}
}

// TestNumberCacheForgetsRollback makes a write insert a business number and
// then fail: the cached id must go with the rollback, or the next delivery
// to that number would refer to a row that does not exist.
func TestNumberCacheForgetsRollback(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.Write(ctx, func(tx *Tx) error {
		if _, err := upsertNumber(tx, Number{PhoneNumberID: "999"}, 1); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("write: %v", err)
	}
	d := textDelivery(`{"n":999}`, "wamid.N999")
	d.Messages[0].Number = Number{PhoneNumberID: "999"}
	if _, err := s.Ingest(ctx, d); err != nil {
		t.Fatalf("ingest after the rollback: %v", err)
	}
	var n int
	var display string
	s.rdb.QueryRow("SELECT count(*) FROM business_numbers WHERE phone_number_id = '999'").Scan(&n)
	if n != 1 {
		t.Fatalf("%d rows for the number", n)
	}
	// A later delivery naming a new display number updates the cached row.
	d = textDelivery(`{"n":1000}`, "wamid.N1000")
	d.Messages[0].Number = Number{PhoneNumberID: "999", DisplayPhoneNumber: "49302"}
	if _, err := s.Ingest(ctx, d); err != nil {
		t.Fatal(err)
	}
	s.rdb.QueryRow("SELECT display_phone_number FROM business_numbers WHERE phone_number_id = '999'").Scan(&display)
	if display != "49302" {
		t.Fatalf("display %q after a change", display)
	}
}
