package cloudapi

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// Meta's request_contact_info interactive message: a button with a label
// WhatsApp fixes, which lets a customer known only by a business-scoped
// user id share their phone number. It is a service message (the
// customer-service window must be open). The action was called
// contact_request until 2026-05-28; Meta accepts both.
const (
	InteractiveRequestContactInfo = "request_contact_info"
	legacyContactRequest          = "contact_request"
	maxInteractiveBody            = 1024
)

// The interactive object's types (OutInteractive, OutAction, OutBody) are
// in interactive.go.

// InteractiveOutbound is the send body of an interactive message.
type InteractiveOutbound struct {
	Interactive      OutInteractive `json:"interactive"`
	MessagingProduct string         `json:"messaging_product"`
	Recipient        string         `json:"recipient,omitempty"`
	RecipientType    string         `json:"recipient_type"`
	To               string         `json:"to,omitempty"`
	Type             string         `json:"type"`
}

// RequestContactInfo builds the request for a customer's phone number.
func RequestContactInfo(to Recipient, body string) (*InteractiveOutbound, error) {
	m, err := newOutbound(to, "interactive")
	if err != nil {
		return nil, err
	}
	return &InteractiveOutbound{MessagingProduct: m.MessagingProduct, Recipient: m.Recipient, RecipientType: m.RecipientType, To: m.To,
		Type: m.Type, Interactive: OutInteractive{Type: InteractiveRequestContactInfo, Body: &OutBody{Text: body},
			Action: OutAction{Name: InteractiveRequestContactInfo}}}, nil
}

// CheckRequestContactInfo checks an interactive object of type
// request_contact_info the way Meta does: a body text of 1 to 1024
// characters and the action's name. Other interactive types pass.
func CheckRequestContactInfo(payload []byte) *Error {
	var in struct {
		Type string `json:"type"`
		Body *struct {
			Text string `json:"text"`
		} `json:"body"`
		Action *struct {
			Name string `json:"name"`
		} `json:"action"`
	}
	if err := json.Unmarshal(payload, &in); err != nil {
		return invalidParam("The parameter interactive must be an object.")
	}
	if in.Type != InteractiveRequestContactInfo && in.Type != legacyContactRequest {
		return nil
	}
	if in.Body == nil || strings.TrimSpace(in.Body.Text) == "" {
		return invalidParam("The parameter interactive['body']['text'] is required.")
	}
	if utf8.RuneCountInString(in.Body.Text) > maxInteractiveBody {
		return invalidParam("The parameter interactive['body']['text'] must be at most 1024 characters long.")
	}
	if in.Action == nil || (in.Action.Name != InteractiveRequestContactInfo && in.Action.Name != legacyContactRequest) {
		return invalidParam(`The parameter interactive['action']['name'] must be "request_contact_info".`)
	}
	return nil
}

// InvalidParameter is Meta's error 100 with a sentence saying what is wrong.
func InvalidParameter(details string) *Error { return invalidParam(details) }
