package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/pforte/pforte/server/meta"
	"github.com/pforte/pforte/server/sender"
	"github.com/pforte/pforte/store"
)

// stopReplier answers a customer who wrote a stop word, once: the store
// marks the opt-out "pending" in the ingest transaction, this queues the
// confirmation through the outbox and marks it sent.
type stopReplier struct {
	st   *store.Store
	snd  *sender.Sender
	log  *slog.Logger
	kick chan struct{}
	done chan struct{}
}

func startStopReplier(ctx context.Context, st *store.Store, snd *sender.Sender, log *slog.Logger) *stopReplier {
	r := &stopReplier{st: st, snd: snd, log: log, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go r.run(ctx)
	return r
}

// Kick asks for a look at pending replies (after a delivery with messages).
func (r *stopReplier) Kick() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

func (r *stopReplier) run(ctx context.Context) {
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

func (r *stopReplier) once(ctx context.Context) {
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

func (r *stopReplier) reply(ctx context.Context, rec store.ConsentRecord) error {
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
	msg := map[string]any{"messaging_product": "whatsapp", "type": "text", "text": map[string]any{"body": text}}
	if waID != "" {
		msg["to"] = waID
	} else {
		msg["recipient"] = userID
	}
	body, _ := json.Marshal(msg)
	// The key makes a retry after a crash between queueing and marking
	// find the first message instead of sending a second one.
	_, err = r.snd.Enqueue(ctx, sender.Request{PhoneNumberID: pnid, Body: body, Actor: "system:stop-reply",
		IdempotencyKey: fmt.Sprintf("stop-reply-%d", rec.ID)})
	var gerr *meta.Error
	if errors.As(err, &gerr) {
		// Refused before Meta (e.g. the window closed meanwhile): answering
		// later would be a second message nobody asked for.
		r.log.Info("stop reply refused; not retried", "record", rec.ID, "code", gerr.Code)
	} else if err != nil {
		return err
	}
	return r.st.MarkStopReplied(ctx, rec.ID)
}
