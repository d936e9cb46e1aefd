package panel

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// Every refusal of the outbox has its German sentence, with an English
// translation, and the status the composer answers with.
func TestSendRefusalWords(t *testing.T) {
	ref := func(reason error, cause error) error {
		r := &outbox.Refusal{Reason: reason, Details: "details for clients", Kind: "image", Size: 6 << 20, Max: 5 << 20}
		if cause != nil {
			return errors.Join(r, cause)
		}
		return r
	}
	for _, c := range []struct {
		name   string
		err    error
		status int
		de     string
	}{
		{"window", ref(outbox.ErrWindowClosed, nil), http.StatusConflict, windowClosedNoSend},
		{"no consent", ref(outbox.ErrNoConsent, &store.NoConsentError{Template: "angebot"}), http.StatusConflict, noConsentNoSend},
		{"unknown category", ref(outbox.ErrNoConsent, &store.NoConsentError{Template: "neu", Unknown: true}), http.StatusConflict, unknownCategoryNoSend},
		{"restricted", ref(outbox.ErrRestricted, store.ErrRestricted), http.StatusConflict, restrictedNoSend},
		{"unknown number", ref(outbox.ErrUnknownNumber, nil), http.StatusConflict, unknownNumberNoSend},
		{"too large", ref(outbox.ErrTooLarge, nil), http.StatusRequestEntityTooLarge, "Bilder dürfen höchstens 5 MB groß sein."},
		{"invalid", ref(outbox.ErrInvalid, nil), http.StatusUnprocessableEntity, "Nicht gesendet: Meta würde diese Nachricht nicht annehmen (details for clients)."},
		{"other", errors.New("upload to Meta: timeout"), http.StatusBadGateway, "Nicht gesendet: upload to Meta: timeout"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, de := sendRefusal(context.Background(), c.err)
			if status != c.status || de != c.de {
				t.Errorf("got %d %q, want %d %q", status, de, c.status, c.de)
			}
			_, en := sendRefusal(web.WithMarkedMisses(web.WithLang(context.Background(), "en")), c.err)
			if strings.Contains(en, "⟦") || en == de {
				t.Errorf("no English for %q: %q", de, en)
			}
		})
	}
}
