package cloudapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// The one builder of send bodies (POST /{phone-number-id}/messages) for
// messages Pforte writes itself: the panel's composer and secure links,
// the stop-reply worker. The proxy and /api/v1 relay their caller's own
// body unchanged and never come here.
//
// Fields are declared in alphabetical order so that the bytes are the same
// as those of the map-built bodies before (stored with each message).

// Outbound is a send body.
type Outbound struct {
	Audio            *OutMedia       `json:"audio,omitempty"`
	Contacts         []OutContact    `json:"contacts,omitempty"`
	Context          *OutContext     `json:"context,omitempty"`
	Document         *OutMedia       `json:"document,omitempty"`
	Image            *OutMedia       `json:"image,omitempty"`
	Interactive      *OutInteractive `json:"interactive,omitempty"`
	Location         *OutLocation    `json:"location,omitempty"`
	MessagingProduct string          `json:"messaging_product"`
	Reaction         *OutReaction    `json:"reaction,omitempty"`
	Recipient        string          `json:"recipient,omitempty"`
	RecipientType    string          `json:"recipient_type"`
	Sticker          *OutMedia       `json:"sticker,omitempty"`
	Template         *OutTemplate    `json:"template,omitempty"`
	Text             *OutText        `json:"text,omitempty"`
	To               string          `json:"to,omitempty"`
	Type             string          `json:"type"`
	Video            *OutMedia       `json:"video,omitempty"`
}

// OutContext quotes the message replied to.
type OutContext struct {
	MessageID string `json:"message_id"`
}

// OutText is a text message's object.
type OutText struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url,omitempty"`
}

// OutMedia is the object of an image, video, audio, document or sticker
// sent by the id of an uploaded file.
type OutMedia struct {
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
	ID       string `json:"id"`
}

// OutTemplate is a template message's object.
type OutTemplate struct {
	Components []OutComponent `json:"components,omitempty"`
	Language   OutLanguage    `json:"language"`
	Name       string         `json:"name"`
	// Full, when set, replaces Components: header, body and buttons
	// (TemplateMessageFilled).
	Full []any `json:"-"`
}

// MarshalJSON writes Full as the components when it is set.
func (t OutTemplate) MarshalJSON() ([]byte, error) {
	type plain OutTemplate
	if t.Full == nil {
		return json.Marshal(plain(t))
	}
	return json.Marshal(struct {
		Components []any       `json:"components"`
		Language   OutLanguage `json:"language"`
		Name       string      `json:"name"`
	}{t.Full, t.Language, t.Name})
}

// OutLanguage names a template's language.
type OutLanguage struct {
	Code string `json:"code"`
}

// OutComponent is a template component with its parameters.
type OutComponent struct {
	Parameters []OutParameter `json:"parameters"`
	Type       string         `json:"type"`
}

// OutParameter is one text parameter; ParameterName is set for templates
// with named placeholders.
type OutParameter struct {
	ParameterName string `json:"parameter_name,omitempty"`
	Text          string `json:"text"`
	Type          string `json:"type"`
}

// Recipient is whom a message goes to: a phone number (wa_id) or, for
// customers Meta knows only by it, a business-scoped user id.
type Recipient struct {
	WaID   string
	UserID string
	// GroupID addresses a WhatsApp group (Groups API) instead.
	GroupID string
}

// TemplateParam is one filled-in placeholder: Name is its name, or its
// position ("1", "2") for positional templates.
type TemplateParam struct {
	Name  string
	Value string
}

// ErrNoRecipient: neither a phone number nor a user id to send to.
var ErrNoRecipient = errors.New("cloudapi: the message has no recipient")

// newOutbound starts a body for a recipient. "to" is written "+<digits>",
// the form Meta asks for: a number without "+" may get the business
// number's own country code put in front.
func newOutbound(to Recipient, typ string) (*Outbound, error) {
	m := &Outbound{MessagingProduct: "whatsapp", RecipientType: "individual", Type: typ}
	switch {
	case to.GroupID != "":
		m.RecipientType, m.To = "group", to.GroupID
	case to.WaID != "":
		m.To = "+" + strings.TrimPrefix(to.WaID, "+")
	case to.UserID != "":
		m.Recipient = to.UserID
	default:
		return nil, ErrNoRecipient
	}
	return m, nil
}

// TextMessage builds a text message; a link in it gets a preview.
func TextMessage(to Recipient, body string) (*Outbound, error) {
	m, err := newOutbound(to, "text")
	if err != nil {
		return nil, err
	}
	m.Text = &OutText{Body: body, PreviewURL: strings.Contains(body, "https://") || strings.Contains(body, "http://")}
	return m, nil
}

// MediaMessage builds a message with an uploaded file of a kind (image,
// video, audio, document, sticker). Audio and stickers take no caption;
// only documents carry a file name.
func MediaMessage(to Recipient, kind, mediaID, caption, filename string) (*Outbound, error) {
	if mediaID == "" {
		return nil, errors.New("cloudapi: media message without a media id")
	}
	m, err := newOutbound(to, kind)
	if err != nil {
		return nil, err
	}
	obj := &OutMedia{ID: mediaID}
	if kind != "audio" && kind != "sticker" {
		obj.Caption = caption
	}
	if kind == "document" {
		obj.Filename = filename
	}
	switch kind {
	case "image":
		m.Image = obj
	case "video":
		m.Video = obj
	case "audio":
		m.Audio = obj
	case "document":
		m.Document = obj
	case "sticker":
		m.Sticker = obj
	default:
		return nil, fmt.Errorf("cloudapi: %q is not a media kind", kind)
	}
	return m, nil
}

// TemplateMessage builds a template message with body parameters in
// placeholder order.
func TemplateMessage(to Recipient, name, language string, params []TemplateParam) (*Outbound, error) {
	m, err := newOutbound(to, "template")
	if err != nil {
		return nil, err
	}
	t := &OutTemplate{Name: name, Language: OutLanguage{Code: language}}
	if len(params) > 0 {
		c := OutComponent{Type: "body"}
		for _, p := range params {
			op := OutParameter{Type: "text", Text: p.Value}
			if !isDigits(p.Name) {
				op.ParameterName = p.Name
			}
			c.Parameters = append(c.Parameters, op)
		}
		t.Components = []OutComponent{c}
	}
	m.Template = t
	return m, nil
}

// ReplyingTo quotes a message (by wamid); "" leaves the body as it is.
func (m *Outbound) ReplyingTo(wamid string) *Outbound {
	if wamid != "" {
		m.Context = &OutContext{MessageID: wamid}
	}
	return m
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// TemplateFill is what a person filled into a template: the header's
// text parameter or media link, the body's parameters, and a parameter per
// button that takes one (URL suffix, coupon code), by button index.
type TemplateFill struct {
	HeaderText   *TemplateParam
	HeaderMedia  string // "image", "video" or "document"
	HeaderLink   string // https link to the header's file
	HeaderID     string // or the id of a file uploaded to Meta (wins over the link)
	Body         []TemplateParam
	ButtonParams map[int]string
	CopyCode     map[int]bool // which of ButtonParams are coupon codes
}

// TemplateMessageFilled builds a template message with header, body and
// button parameters as Meta's send body wants them.
func TemplateMessageFilled(to Recipient, name, language string, f TemplateFill) (*Outbound, error) {
	m, err := TemplateMessage(to, name, language, f.Body)
	if err != nil {
		return nil, err
	}
	var comps []any
	if f.HeaderText != nil {
		p := map[string]string{"type": "text", "text": f.HeaderText.Value}
		if !isDigits(f.HeaderText.Name) {
			p["parameter_name"] = f.HeaderText.Name
		}
		comps = append(comps, map[string]any{"type": "header", "parameters": []any{p}})
	} else if f.HeaderMedia != "" {
		ref := map[string]string{"link": f.HeaderLink}
		if f.HeaderID != "" {
			ref = map[string]string{"id": f.HeaderID}
		}
		comps = append(comps, map[string]any{"type": "header", "parameters": []any{
			map[string]any{"type": f.HeaderMedia, f.HeaderMedia: ref}}})
	}
	for _, c := range m.Template.Components {
		comps = append(comps, c)
	}
	idx := make([]int, 0, len(f.ButtonParams))
	for i := range f.ButtonParams {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		v := f.ButtonParams[i]
		if f.CopyCode[i] {
			comps = append(comps, map[string]any{"type": "button", "sub_type": "copy_code", "index": strconv.Itoa(i),
				"parameters": []any{map[string]string{"type": "coupon_code", "coupon_code": v}}})
		} else {
			comps = append(comps, map[string]any{"type": "button", "sub_type": "url", "index": strconv.Itoa(i),
				"parameters": []any{map[string]string{"type": "text", "text": v}}})
		}
	}
	m.Template.Full = comps
	return m, nil
}
