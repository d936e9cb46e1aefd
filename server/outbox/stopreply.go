package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// StopReplier answers a customer who wrote a stop word, once: the store
// marks the opt-out "pending" in the ingest transaction, this queues the
// confirmation through the outbox and marks it sent.
type StopReplier struct {
	st   *store.Store
	snd  *Sender
	log  *slog.Logger
	kick chan struct{}
	done chan struct{}
}

// StartStopReplier runs a StopReplier until ctx ends.
func StartStopReplier(ctx context.Context, st *store.Store, snd *Sender, log *slog.Logger) *StopReplier {
	r := &StopReplier{st: st, snd: snd, log: log, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go r.run(ctx)
	return r
}

// Kick asks for a look at pending replies (after a delivery with messages).
func (r *StopReplier) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// Done is closed once the replier has stopped after its context ended.
func (r *StopReplier) Done() <-chan struct{} { return r.done }

func (r *StopReplier) run(ctx context.Context) {
	defer close(r.done)
	for {
		r.once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-r.kick:
		case <-time.After(time.Minute):
		}
	}
}

func (r *StopReplier) once(ctx context.Context) {
	recs, err := r.st.PendingStopReplies(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("stop replies", "err", err)
		}
		return
	}
	for _, rec := range recs {
		if err := r.reply(ctx, rec); err != nil && ctx.Err() == nil {
			r.log.Warn("stop reply not queued; retried in a minute", "record", rec.ID, "err", err)
		}
	}
}

func (r *StopReplier) reply(ctx context.Context, rec store.ConsentRecord) error {
	pnid, waID, userID, err := r.st.StopReplyTarget(ctx, rec.ID)
	if errors.Is(err, store.ErrNotFound) {
		return r.st.MarkStopReplied(ctx, rec.ID) // the message is gone (erased): nobody to answer
	}
	if err != nil {
		return err
	}
	text, err := r.st.StopReply(ctx)
	if err != nil {
		return err
	}
	msg, err := cloudapi.TextMessage(cloudapi.Recipient{WaID: waID, UserID: userID}, text)
	if err != nil {
		r.log.Warn("stop reply has no recipient; not sent", "record", rec.ID)
		return r.st.MarkStopReplied(ctx, rec.ID)
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return fmt.Errorf("outbox: stop reply body: %w", err)
	}
	// The key makes a retry after a crash between queueing and marking
	// find the first message instead of sending a second one.
	_, err = r.snd.Enqueue(ctx, Request{PhoneNumberID: pnid, Body: body, Actor: store.ActorStopReply,
		IdempotencyKey: fmt.Sprintf("stop-reply-%d", rec.ID)})
	var ref *Refusal
	if errors.As(err, &ref) {
		// Refused before Meta (e.g. the window closed meanwhile): answering
		// later would be a second message nobody asked for.
		r.log.Info("stop reply refused; not retried", "record", rec.ID, "reason", ref.Reason)
	} else if err != nil {
		return err
	}
	return r.st.MarkStopReplied(ctx, rec.ID)
}
