package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/pforte/pforte/store"
)

// After a promotion from a copy that may end before the lost primary did,
// nothing queued or sending is sent again without a person: all of it
// becomes unknown (and can be requeued), what Meta accepted stays.
func TestUnconfirmOutboxAfterPromotion(t *testing.T) {
	st := open(t)
	ctx := context.Background()
	now := time.Now()
	queued, _ := st.EnqueueSend(ctx, send("447700900011", "template", now))
	sending, _ := st.EnqueueSend(ctx, send("447700900012", "template", now))
	accepted, _ := st.EnqueueSend(ctx, send("447700900013", "template", now))
	for _, o := range []*store.Outbound{sending, accepted} {
		if err := st.ClaimOutbound(ctx, o.ID, now); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.AcceptOutbound(ctx, accepted.ID, "wamid.acc", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	n, err := st.UnconfirmOutbox(ctx, now)
	if err != nil || n != 2 {
		t.Fatalf("unconfirmed %d, %v; want 2", n, err)
	}
	for _, c := range []struct {
		o    *store.Outbound
		want store.OutboxState
	}{{queued, store.OutboxUnknown}, {sending, store.OutboxUnknown}, {accepted, store.OutboxAccepted}} {
		got, err := st.Outbound(ctx, c.o.MessageID)
		if err != nil || got.State != c.want {
			t.Errorf("message %d: %v %v, want %s", c.o.MessageID, got, err, c.want)
		}
	}
	if due, _ := st.DueOutbox(ctx, now.Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("due after promotion: %d entries", len(due))
	}
	// A person's decision sends one again.
	if err := st.RequeueOutbound(ctx, queued.MessageID); err != nil {
		t.Fatal(err)
	}
	if due, _ := st.DueOutbox(ctx, now.Add(time.Hour), 10); len(due) != 1 || due[0].ID != queued.ID {
		t.Fatalf("requeued: %+v", due)
	}
}
