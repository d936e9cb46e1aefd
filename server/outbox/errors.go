package outbox

import (
	"errors"
	"fmt"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// Why the outbox refuses a message or a file before Meta is called. The
// outbox speaks only these; server/gateway turns them into Meta's error
// codes for machines, the panel into sentences for people. Test with
// errors.Is; a *Refusal (errors.As) carries the details, and the store's
// typed error where there is one (*store.WindowClosedError,
// *store.NoConsentError, store.ErrRestricted).
var (
	// ErrInvalid: the request is not a message Meta would take.
	ErrInvalid = errors.New("outbox: invalid message")
	// ErrUnknownNumber: the phone number id is none of the company's
	// business numbers (seen in a webhook or added under Settings).
	ErrUnknownNumber = errors.New("outbox: not one of the company's business numbers")
	// ErrWindowClosed: a free-form message outside the 24-hour
	// customer-service window.
	ErrWindowClosed = errors.New("outbox: customer-service window closed")
	// ErrNoConsent: a marketing template (or one of unknown category) to a
	// customer without a marketing opt-in.
	ErrNoConsent = errors.New("outbox: no marketing consent")
	// ErrRestricted: processing of the customer's data is restricted
	// (Art. 18 GDPR).
	ErrRestricted = errors.New("outbox: customer restricted")
	// ErrTooLarge: a file over Meta's limit for its kind.
	ErrTooLarge = errors.New("outbox: file too large for its kind")
	// ErrTemplateParams: a template's parameters do not fit the template
	// as Pforte last listed it from Meta (missing, extra, wrong kind).
	ErrTemplateParams = errors.New("outbox: template parameters do not match the template")
)

// Refusal is a message or file the outbox refused before calling Meta.
type Refusal struct {
	Reason  error  // one of the Err… above
	Details string // an English sentence saying why, for API clients
	// PhoneNumberID is the number asked for (ErrUnknownNumber).
	PhoneNumberID string
	// Kind, Size and Max describe a file (ErrTooLarge).
	Kind      string
	Size, Max int64
	// Param says how a template's parameters differ (ErrTemplateParams):
	// Meta's code and the field.
	Param *cloudapi.ParamError
	cause error // the store's typed error, if any
}

func (r *Refusal) Error() string { return r.Reason.Error() + ": " + r.Details }

// Unwrap lets errors.Is and errors.As see both the reason and the store's
// error behind it.
func (r *Refusal) Unwrap() []error {
	if r.cause == nil {
		return []error{r.Reason}
	}
	return []error{r.Reason, r.cause}
}

func invalid(details string) *Refusal { return &Refusal{Reason: ErrInvalid, Details: details} }

func unknownNumber(pnid string) *Refusal {
	return &Refusal{Reason: ErrUnknownNumber, PhoneNumberID: pnid,
		Details: "Pforte sends only for the company's business numbers (seen in a webhook or added under Settings); " + fmt.Sprintf("%.64q", pnid) + " is not one of them."}
}

// refusalOf turns the store's refusals of a send into the outbox's; other
// errors come back unchanged.
func refusalOf(err error) error {
	var wc *store.WindowClosedError
	var nc *store.NoConsentError
	switch {
	case errors.Is(err, store.ErrRestricted):
		return &Refusal{Reason: ErrRestricted, cause: err,
			Details: "Pforte refused this message before calling Meta: processing of this customer's data is restricted (Art. 18 GDPR) while a legal hold keeps it after an erasure request."}
	case errors.As(err, &wc):
		d := "Pforte refused this message before calling Meta: the customer has never written to this business number, so only an approved template can start the conversation."
		if wc.LastInboundAt > 0 {
			d = fmt.Sprintf("Pforte refused this message before calling Meta: more than 24 hours have passed since the customer last wrote to this number (the window closed at %s). Send an approved template instead.",
				store.WindowEnds(wc.LastInboundAt).UTC().Format(time.RFC3339))
		}
		return &Refusal{Reason: ErrWindowClosed, Details: d, cause: err}
	case errors.As(err, &nc):
		// A template whose category Pforte does not know counts as marketing.
		what := fmt.Sprintf("%q is a marketing template", nc.Template)
		if nc.Unknown {
			what = fmt.Sprintf("the category of template %q is not known to Pforte (no status webhook and no entry on the templates page), so it is treated as marketing,", nc.Template)
		}
		return &Refusal{Reason: ErrNoConsent, cause: err,
			Details: "Pforte refused this message before calling Meta: " + what + " and the customer has no marketing opt-in on record (or opted out, e.g. by writing STOP)."}
	}
	return err
}
