package gateway

import (
	"errors"
	"net/http"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/outbox"
)

// refusal is how the gateway answers a message or file the outbox refused
// before Meta was called: the Graph error Meta would have given (the
// proxy's answer, and graph_error on /api/v1), and /api/v1's own status
// and code.
type refusal struct {
	graph     *cloudapi.Error
	apiStatus int
	apiCode   string
	details   string
}

// refusalOf is the one mapping of the outbox's refusals to Meta's error
// codes; ok is false for any other error. method names the request for
// Meta's wording of an unknown object.
func refusalOf(method string, err error) (refusal, bool) {
	var ref *outbox.Refusal
	if !errors.As(err, &ref) {
		return refusal{}, false
	}
	r := refusal{apiStatus: http.StatusUnprocessableEntity, details: ref.Details}
	switch {
	case errors.Is(err, outbox.ErrWindowClosed):
		r.apiCode = "window_closed"
		r.graph = cloudapi.NewError(http.StatusBadRequest, cloudapi.CodeReEngagement, "Re-engagement message", ref.Details)
	case errors.Is(err, outbox.ErrNoConsent):
		r.apiCode = "no_marketing_consent"
		r.graph = cloudapi.NewError(http.StatusBadRequest, cloudapi.CodeMarketingOptOut,
			"Unable to deliver the message. This recipient has chosen to stop receiving marketing messages on WhatsApp from your business", ref.Details)
	case errors.Is(err, outbox.ErrRestricted):
		// Undeliverable, so that clients treat it as permanent.
		r.apiCode = "contact_restricted"
		r.graph = cloudapi.NewError(http.StatusBadRequest, cloudapi.CodeUndeliverable, "Message Undeliverable", ref.Details)
	case errors.Is(err, outbox.ErrUnknownNumber):
		// Meta's answer for an object the token may not touch.
		r.apiStatus, r.apiCode = http.StatusBadRequest, "unknown_phone_number_id"
		r.graph = unsupportedObject(method, ref.PhoneNumberID)
	case errors.Is(err, outbox.ErrTooLarge):
		r.apiStatus, r.apiCode = http.StatusRequestEntityTooLarge, "too_large"
		r.graph = cloudapi.NewError(http.StatusBadRequest, cloudapi.CodeMediaUpload, "Media upload error", ref.Details)
	case errors.Is(err, outbox.ErrTemplateParams):
		// Meta's own code for the mismatch (132000, 132012, 132001).
		r.apiStatus, r.apiCode = http.StatusBadRequest, "invalid_template_parameters"
		title := "Number of parameters does not match the expected number of params"
		switch ref.Param.Code {
		case cloudapi.CodeTemplateParamFormat:
			title = "Parameter format does not match format in the created template"
		case cloudapi.CodeTemplateNotFound:
			title = "Template name does not exist in the translation"
		}
		r.graph = cloudapi.NewError(http.StatusBadRequest, ref.Param.Code, title, ref.Details)
	default: // outbox.ErrInvalid
		r.apiStatus, r.apiCode = http.StatusBadRequest, "invalid_message"
		r.graph = cloudapi.NewError(http.StatusBadRequest, cloudapi.CodeInvalidParameter, "Invalid parameter", ref.Details)
	}
	return r, true
}
