package gateway_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// historyBody is a history webhook of one chunk: per customer, n
// messages with wamids prefix.0 … prefix.n-1 spread over the customers.
func historyBody(sim *simulator.Simulator, order, progress, n int, prefix string, customers ...string) []byte {
	at := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	threads := make([]simulator.HistoryThread, len(customers))
	for i, c := range customers {
		threads[i].WaID = c
	}
	for k := 0; k < n; k++ {
		th := &threads[k%len(customers)]
		th.Messages = append(th.Messages, simulator.HistoryLine{FromBusiness: k%4 == 0, Text: fmt.Sprintf("alt %d", k),
			At: at.Add(time.Duration(k) * time.Minute), WAMID: fmt.Sprintf("%s.%d", prefix, k)})
	}
	return sim.HistoryChunk(1, order, progress, threads)
}

// A history chunk is stored once (the raw delivery; the chunk's row only
// points to it). An import interrupted half-way by a restart resumes
// where it stopped and imports every message exactly once; the chunk sent
// again, as the same bytes or in another delivery, before and after the
// import finished, imports nothing twice.
func TestHistoryChunkStoredOnceResumesAfterRestartExactlyOnce(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	sim := simulator.New(simulator.Options{})
	body := historyBody(sim, 1, 100, 40, "wamid.resume", "4915112349001", "4915112349002", "4915112349003")
	postOK(t, g, body)

	db := openRO(t, g)
	if got := one[string](t, db, `SELECT (value IS NULL) || '/' || (delivery_id = (SELECT max(id) FROM deliveries)) FROM history_chunks`); got != "1/1" {
		t.Fatalf("chunk row value-null/points-to-delivery = %s, want 1/1: the chunk is stored twice", got)
	}
	if n := one[int](t, db, `SELECT count(*) FROM deliveries WHERE instr(body, 'wamid.resume.39') > 0`); n != 1 {
		t.Fatalf("%d raw deliveries hold the chunk, want 1", n)
	}

	// Three steps of 7, then the gateway stops.
	imp := &gateway.HistoryImporter{Store: g.Store, Step: 7}
	for range 3 {
		if _, err := imp.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := one[int](t, db, "SELECT count(*) FROM messages WHERE origin = 'history'"); n != 21 {
		t.Fatalf("%d messages after three steps of 7, want 21", n)
	}
	db.Close()
	g.Close()

	g = testenv.New(t, testenv.Options{Dir: g.Dir})
	db = openRO(t, g)
	// The same bytes again, and the same chunk in another delivery.
	postOK(t, g, body)
	postOK(t, g, append([]byte(" "), body...))
	if n := one[int](t, db, "SELECT count(*) FROM history_chunks"); n != 1 {
		t.Fatalf("%d chunk rows after repeats, want 1", n)
	}
	importAll(t, &gateway.HistoryImporter{Store: g.Store})
	postOK(t, g, append([]byte("  "), body...))
	importAll(t, &gateway.HistoryImporter{Store: g.Store})

	if n := one[int](t, db, "SELECT count(*) FROM deliveries WHERE parse_error IS NULL AND instr(body, 'wamid.resume.39') > 0"); n != 3 {
		t.Errorf("%d readable deliveries carry the chunk, want 3 (the repeats must be read, not kept raw)", n)
	}
	if n := one[int](t, db, "SELECT count(*) FROM messages WHERE origin = 'history'"); n != 40 {
		t.Errorf("%d history messages, want 40", n)
	}
	if n := one[int](t, db, "SELECT count(DISTINCT wamid) FROM messages WHERE wamid LIKE 'wamid.resume.%'"); n != 40 {
		t.Errorf("%d distinct imported wamids, want 40", n)
	}
	prog, err := g.Store.HistoryImports(ctx)
	if err != nil || len(prog) != 1 {
		t.Fatalf("progress %v %v", prog, err)
	}
	// Imported counts what each step added: a step applied twice would
	// count its messages twice.
	if p := prog[0]; p.Chunks != 1 || p.Pending != 0 || p.Imported != 40 || p.Skipped != 0 {
		t.Errorf("progress %+v, want 1 chunk, 40 imported", p)
	}
	if got := one[string](t, db, "SELECT state || '/' || done FROM history_chunks"); got != "imported/40" {
		t.Errorf("chunk %s, want imported/40", got)
	}
	// Quiet: closed, nothing unread, no window.
	if got := one[string](t, db, `SELECT group_concat(DISTINCT c.status || '/' || c.unread || '/' || coalesce(c.last_inbound_at, 0)) FROM conversations c
		JOIN contacts k ON k.id = c.contact_id WHERE k.wa_id LIKE '491511234900_'`); got != "closed/0/0" {
		t.Errorf("imported conversations %q, want closed/0/0", got)
	}
}

// Retention keeps a raw delivery while its history chunk waits (the chunk
// is kept only there) and purges it as usual once the chunk is imported;
// erasing someone the waiting chunk mentions drops the chunk with the
// delivery, and the importer then has nothing of theirs to import.
func TestHistoryChunkInDeliveryRetentionAndErasure(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	sim := simulator.New(simulator.Options{})
	postOK(t, g, historyBody(sim, 1, 50, 10, "wamid.keep", "4915112349011"))
	later := time.Now().Add(40 * 24 * time.Hour) // past the 30-day default for raw deliveries
	if _, err := g.Store.RunRetention(ctx, store.RetentionOptions{Now: later, OrphanGrace: -1}); err != nil {
		t.Fatal(err)
	}
	db := openRO(t, g)
	if n := one[int](t, db, "SELECT count(*) FROM deliveries WHERE instr(body, 'wamid.keep.9') > 0"); n != 1 {
		t.Fatal("retention purged the raw delivery of a chunk that still waits")
	}
	importAll(t, &gateway.HistoryImporter{Store: g.Store})
	if n := one[int](t, db, "SELECT count(*) FROM messages WHERE wamid LIKE 'wamid.keep.%'"); n != 10 {
		t.Fatalf("%d messages imported, want 10", n)
	}
	if _, err := g.Store.RunRetention(ctx, store.RetentionOptions{Now: later, OrphanGrace: -1}); err != nil {
		t.Fatal(err)
	}
	if n := one[int](t, db, "SELECT count(*) FROM deliveries WHERE instr(body, 'wamid.keep.9') > 0"); n != 0 {
		t.Error("the raw delivery of an imported chunk outlived its retention")
	}

	// A waiting chunk that mentions someone who is then erased.
	inbound(t, g, "4915112349021", "wamid.live.erase", "Hallo", time.Now().Unix())
	postOK(t, g, historyBody(sim, 2, 100, 6, "wamid.gone", "4915112349021", "4915112349022"))
	if _, err := g.Store.EraseContact(ctx, "4915112349021", store.EraseRequest{Actor: store.UserActor(1), Reason: "Art. 17"}); err != nil {
		t.Fatal(err)
	}
	if n := one[int](t, db, "SELECT count(*) FROM history_chunks WHERE state = 'pending'"); n != 0 {
		t.Error("a waiting chunk survived the erasure of its raw delivery")
	}
	importAll(t, &gateway.HistoryImporter{Store: g.Store})
	if n := one[int](t, db, "SELECT count(*) FROM messages WHERE wamid LIKE 'wamid.gone.%'"); n != 0 {
		t.Errorf("%d messages of an erased chunk imported", n)
	}
	if n := one[int](t, db, "SELECT count(*) FROM contacts WHERE wa_id = '4915112349021'"); n != 0 {
		t.Error("an erased person came back with the history")
	}
}

func postOK(t *testing.T, g *testenv.Gateway, body []byte) {
	t.Helper()
	if resp := g.PostWebhook(t, body); resp.StatusCode != 200 {
		t.Fatalf("webhook %.60s: status %d", bytes.TrimSpace(body), resp.StatusCode)
	}
}

// The adaptive step grows by half at most while steps are quick, shrinks
// to what fits the target when they are slow, and stays within its
// bounds, so a busy machine gets short import turns.
func TestHistoryStepAdapts(t *testing.T) {
	ms := time.Millisecond
	for _, c := range []struct {
		step   int
		took   time.Duration
		target time.Duration
		want   int
	}{
		{50, ms, 4 * ms, 75},        // quick: grow by half, not fourfold
		{100, 8 * ms, 4 * ms, 50},   // twice too slow: halve
		{100, 200 * ms, 4 * ms, 10}, // a stall: the floor
		{400, ms, 4 * ms, 400},      // the ceiling
		{40, 0, 0, 60},              // default target, unmeasurable step
	} {
		if got := gateway.NextStep(c.step, c.took, c.target); got != c.want {
			t.Errorf("NextStep(%d, %v, %v) = %d, want %d", c.step, c.took, c.target, got, c.want)
		}
	}
}

// A chunk queued before migration 500 holds its messages in value, not
// in a raw delivery: it is still imported, once.
func TestHistoryChunkQueuedWithValueStillImports(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	sim := simulator.New(simulator.Options{})
	d := gateway.ParseDelivery(historyBody(sim, 1, 100, 12, "wamid.old", "4915112349041", "4915112349042"), time.Now())
	if len(d.History) != 1 || !d.History[0].InBody {
		t.Fatalf("parsed history %+v", d.History)
	}
	h := d.History[0]
	err := g.Store.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(`INSERT INTO history_chunks(chunk_key, phone_number_id, waba_id, display_number, phase, chunk_order, progress, value, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)`, h.Key, h.Number.PhoneNumberID, h.Number.WABAID, h.Number.DisplayPhoneNumber, h.Phase, h.Order, h.Progress, string(h.Value))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	importAll(t, &gateway.HistoryImporter{Store: g.Store, Step: 5})
	db := openRO(t, g)
	if n := one[int](t, db, "SELECT count(*) FROM messages WHERE wamid LIKE 'wamid.old.%'"); n != 12 {
		t.Errorf("%d messages imported, want 12", n)
	}
	if got := one[string](t, db, "SELECT state || '/' || imported || '/' || (value IS NULL) FROM history_chunks"); got != "imported/12/1" {
		t.Errorf("chunk %s, want imported/12/1", got)
	}
}
