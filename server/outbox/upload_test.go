package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
)

// The one upload path applies Meta's limit per kind before Meta is called,
// and refuses numbers that are not the company's.
func TestUploadFileChecksSizeAndNumber(t *testing.T) {
	g := testenv.NewSending(t, testenv.SendingOptions{Sim: simulator.Options{StatusDelay: -1}})
	ctx := context.Background()
	_, _, err := g.Sender.UploadFile(ctx, pnid, "foto.jpg", "image/jpeg", bytes.NewReader(make([]byte, cloudapi.MaxImage+1)))
	var ref *outbox.Refusal
	if !errors.Is(err, outbox.ErrTooLarge) || !errors.As(err, &ref) || ref.Kind != "image" || ref.Max != cloudapi.MaxImage {
		t.Fatalf("image over 5 MB: %v", err)
	}
	if _, _, err := g.Sender.UploadFile(ctx, "999999", "a.pdf", "application/pdf", bytes.NewReader([]byte("%PDF"))); !errors.Is(err, outbox.ErrUnknownNumber) {
		t.Fatalf("unknown number: %v", err)
	}
	if n := len(g.GraphCalls()); n != 0 {
		t.Fatalf("Meta was called %d times", n)
	}
	id, _, err := g.Sender.UploadFile(ctx, pnid, "foto.jpg", "image/jpeg", bytes.NewReader(make([]byte, cloudapi.MaxImage)))
	if err != nil || id == "" {
		t.Fatalf("image of 5 MB: %q %v", id, err)
	}
}
