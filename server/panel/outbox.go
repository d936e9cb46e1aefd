package panel

import (
	"context"
	"fmt"

	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
)

// outboxSender is the composer's way out: an attachment goes through the
// outbox's one upload path (kept locally, size checked, uploaded to Meta),
// then the message goes into the outbox like any queued send, so pacing,
// retries and receipts are the same as for the API. The outbox's refusals
// come back as they are; sendRefusal words them for people.
type outboxSender struct{ s *Server }

func (o outboxSender) PanelSend(ctx context.Context, m Message) error {
	snd := o.s.cfg.Outbox
	mediaID := ""
	if m.File != nil {
		id, _, err := snd.UploadFile(ctx, m.PhoneNumberID, m.File.Name, m.File.Mime, m.File.Content)
		if err != nil {
			return fmt.Errorf("upload to Meta: %w", err)
		}
		mediaID = id
	}
	body, err := sendBody(m, mediaID)
	if err != nil {
		return err
	}
	_, err = snd.Enqueue(ctx, outbox.Request{PhoneNumberID: m.PhoneNumberID, Body: body, Actor: store.UserActor(m.AgentID)})
	return err
}
