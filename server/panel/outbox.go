package panel

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
)

// outboxSender is the composer's way out: attachments are kept locally and
// uploaded to Meta, then the message goes into the outbox like any queued
// send, so pacing, retries and receipts are the same as for the API.
type outboxSender struct{ s *Server }

func (o outboxSender) PanelSend(ctx context.Context, m Message) error {
	snd := o.s.cfg.Outbox
	mediaID := ""
	if m.File != nil {
		id, err := o.upload(ctx, m)
		if err != nil {
			return err
		}
		mediaID = id
	}
	body, err := sendBody(m, mediaID)
	if err != nil {
		return err
	}
	_, err = snd.Enqueue(ctx, outbox.Request{PhoneNumberID: m.PhoneNumberID, Body: body, Actor: store.UserActor(m.AgentID)})
	var gerr *cloudapi.Error
	if errors.As(err, &gerr) {
		if gerr.Code == 131047 {
			return ErrWindowClosed
		}
		if gerr.Code == 131050 {
			// Refused by Pforte before Meta was called: no marketing opt-in.
			return store.ErrNoConsent
		}
		var data struct {
			Details string `json:"details"`
		}
		json.Unmarshal(gerr.ErrorData, &data)
		if data.Details != "" {
			return errors.New(data.Details)
		}
		return errors.New(gerr.Message)
	}
	return err
}

// upload stores the file beside the database (so it shows in the thread
// and in exports) and hands it to Meta for a media id.
func (o outboxSender) upload(ctx context.Context, m Message) (string, error) {
	st := o.s.store
	tmp, err := st.NewMediaTemp()
	if err != nil {
		return "", err
	}
	defer tmp.Discard()
	if _, err := io.Copy(tmp, m.File.Content); err != nil {
		return "", err
	}
	sum, size := base64.StdEncoding.EncodeToString(tmp.Sum()), tmp.Size()
	rel, err := tmp.Commit()
	if err != nil {
		return "", err
	}
	f, err := st.OpenMedia(rel)
	if err != nil {
		return "", err
	}
	defer f.Close()
	name := cloudapi.SanitizeFilename(m.File.Name)
	if name == "" {
		name = cloudapi.Filename("", cloudapi.KindOfMIME(m.File.Mime), m.File.Mime, 0)
	}
	id, _, err := o.s.cfg.Outbox.Client().Upload(ctx, m.PhoneNumberID, name, m.File.Mime, f)
	if err != nil {
		return "", fmt.Errorf("upload to Meta: %w", err)
	}
	if err := st.RecordUpload(ctx, store.Upload{MediaID: id, PhoneNumberID: m.PhoneNumberID, MimeType: m.File.Mime, SHA256: sum, Size: size,
		Filename: name, Path: rel}); err != nil {
		return "", err
	}
	return id, nil
}
