package gateway

import (
	"errors"
	"net/http"
	"testing"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
)

// Each refusal of the outbox becomes the Graph error Meta would give and
// /api/v1's own status and code, in one mapping.
func TestRefusalToGraphCode(t *testing.T) {
	for _, c := range []struct {
		reason    error
		cause     error
		code      cloudapi.ErrorCode
		subcode   int
		apiStatus int
		apiCode   string
	}{
		{outbox.ErrWindowClosed, &store.WindowClosedError{}, cloudapi.CodeReEngagement, 0, http.StatusUnprocessableEntity, "window_closed"},
		{outbox.ErrNoConsent, &store.NoConsentError{Template: "t"}, cloudapi.CodeMarketingOptOut, 0, http.StatusUnprocessableEntity, "no_marketing_consent"},
		{outbox.ErrRestricted, store.ErrRestricted, cloudapi.CodeUndeliverable, 0, http.StatusUnprocessableEntity, "contact_restricted"},
		{outbox.ErrUnknownNumber, nil, cloudapi.CodeInvalidParameter, cloudapi.SubcodeUnsupportedObject, http.StatusBadRequest, "unknown_phone_number_id"},
		{outbox.ErrTooLarge, nil, cloudapi.CodeMediaUpload, 0, http.StatusRequestEntityTooLarge, "too_large"},
		{outbox.ErrInvalid, nil, cloudapi.CodeInvalidParameter, 0, http.StatusBadRequest, "invalid_message"},
	} {
		var err error = &outbox.Refusal{Reason: c.reason, Details: "why", PhoneNumberID: "999"}
		if c.cause != nil {
			err = errors.Join(err, c.cause)
		}
		r, ok := refusalOf(http.MethodPost, err)
		if !ok || r.graph.Code != c.code || r.graph.Subcode != c.subcode || r.apiStatus != c.apiStatus || r.apiCode != c.apiCode {
			t.Errorf("%v: got %+v, ok %v", c.reason, r, ok)
			continue
		}
		if c.reason != outbox.ErrUnknownNumber && r.graph.Details() != "why" {
			t.Errorf("%v: details %q", c.reason, r.graph.Details())
		}
	}
	if _, ok := refusalOf(http.MethodPost, errors.New("disk full")); ok {
		t.Error("a storage error was taken for a refusal")
	}
}
