package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Fan-out keeps a queue row per delivery and subscription: erasure and
// retention must cover it.
func TestErasureAndRetentionCoverTheFanoutQueue(t *testing.T) {
	ctx := context.Background()
	s := openDP(t, nil)
	if _, _, err := s.CreateSubscription(ctx, "user:1", SubscriptionInput{Name: "crm", URL: "https://crm.example.de/hooks/pforte?token=geheim", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	seedVictim(t, s, now)
	seedBystander(t, s, now)
	queued := count(t, s, "SELECT count(*) FROM fanout_queue")
	if queued == 0 {
		t.Fatal("nothing was queued for fan-out")
	}
	res, err := s.EraseContact(ctx, "4915112345678", EraseRequest{Actor: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM fanout_queue q WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = q.delivery_id)`); n != 0 {
		t.Fatalf("%d queue rows point at erased deliveries", n)
	}
	if left := count(t, s, "SELECT count(*) FROM fanout_queue"); left != queued-res.Deliveries {
		t.Fatalf("queue rows: %d left of %d after erasing %d deliveries", left, queued, res.Deliveries)
	}
	if len(res.Recipients) != 1 || !strings.Contains(res.Recipients[0], "crm.example.de") || strings.Contains(res.Recipients[0], "geheim") {
		t.Fatalf("recipients to notify: %q", res.Recipients)
	}
	// Dead letters past the fan-out period go; pending forwards never do.
	err = s.Write(ctx, func(tx *Tx) error {
		old := now.Add(-20 * 24 * time.Hour).UnixMilli()
		if _, err := tx.Exec(`UPDATE fanout_queue SET enqueued_at = ? WHERE delivery_id = (SELECT min(delivery_id) FROM fanout_queue)`, old); err != nil {
			return err
		}
		_, err := tx.Exec(`UPDATE fanout_queue SET state = 'dead', enqueued_at = ? WHERE delivery_id = (SELECT max(delivery_id) FROM fanout_queue)`, old)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	before := count(t, s, "SELECT count(*) FROM fanout_queue")
	rep, err := s.RunRetention(ctx, RetentionOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if rep.RowsPerClass[RetainFanout] != 1 || count(t, s, "SELECT count(*) FROM fanout_queue") != before-1 {
		t.Fatalf("fan-out retention removed %d (rows %d -> %d)", rep.RowsPerClass[RetainFanout], before, count(t, s, "SELECT count(*) FROM fanout_queue"))
	}
	if n := count(t, s, "SELECT count(*) FROM fanout_queue WHERE state = 'pending' AND enqueued_at < ?", now.Add(-14*24*time.Hour).UnixMilli()); n != 1 {
		t.Fatalf("an old pending forward was purged: %d left", n)
	}
}
