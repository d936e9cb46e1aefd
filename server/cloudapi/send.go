package cloudapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// SendRequest is the part of a POST /{phone-number-id}/messages body that
// Pforte reads. The body itself is relayed unchanged, so every field Meta
// knows (including ones added after this version) reaches Meta.
type SendRequest struct {
	MessagingProduct      string          `json:"messaging_product"`
	RecipientType         string          `json:"recipient_type"`
	To                    string          `json:"to"`
	Recipient             string          `json:"recipient"`
	Type                  string          `json:"type"`
	Context               json.RawMessage `json:"context"`
	BizOpaqueCallbackData string          `json:"biz_opaque_callback_data"`
	// Status and MessageID make a read receipt (optionally with a typing
	// indicator) instead of a message.
	Status          string          `json:"status"`
	MessageID       string          `json:"message_id"`
	TypingIndicator json.RawMessage `json:"typing_indicator"`

	// Payload is the object named like Type, as the caller wrote it.
	Payload json.RawMessage `json:"-"`
}

// IsReadReceipt reports whether the body marks a message read (and maybe
// shows the typing indicator) rather than sending one.
func (r *SendRequest) IsReadReceipt() bool { return r.Status != "" }

// IsTemplate reports whether the message is a template, the only kind
// Meta delivers outside the customer-service window.
func (r *SendRequest) IsTemplate() bool { return r.Type == "template" }

// Text returns the human text of the message: a text body, a media
// caption or an interactive message's body; ok is false for other kinds.
func (r *SendRequest) Text() (string, bool) {
	if r.Type == "interactive" {
		// The text the customer reads, so a reply quoting it shows it.
		var it struct {
			Body struct {
				Text string `json:"text"`
			} `json:"body"`
		}
		if json.Unmarshal(r.Payload, &it) == nil && it.Body.Text != "" {
			return it.Body.Text, true
		}
		return "", false
	}
	var p struct {
		Body    *string `json:"body"`
		Caption *string `json:"caption"`
	}
	if json.Unmarshal(r.Payload, &p) != nil {
		return "", false
	}
	switch {
	case r.Type == "text" && p.Body != nil:
		return *p.Body, true
	case IsMediaType(r.Type) && p.Caption != nil && *p.Caption != "":
		return *p.Caption, true
	}
	return "", false
}

// MediaRef returns the media id or link of a media message.
func (r *SendRequest) MediaRef() (id, link string) {
	if !IsMediaType(r.Type) {
		return "", ""
	}
	var p struct {
		ID   FlexString `json:"id"`
		Link string     `json:"link"`
	}
	json.Unmarshal(r.Payload, &p)
	return string(p.ID), p.Link
}

// Filename returns the filename of a document message.
func (r *SendRequest) Filename() string {
	var p struct {
		Filename string `json:"filename"`
	}
	json.Unmarshal(r.Payload, &p)
	return p.Filename
}

func invalidParam(details string) *Error {
	return NewError(http.StatusBadRequest, CodeInvalidParameter, "Invalid parameter", details)
}

// ParseSend reads and checks a send body the way Meta would refuse it:
// every problem is a Graph error 100 with a sentence saying what is wrong.
func ParseSend(body []byte) (*SendRequest, *Error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, invalidParam("The request body must be a JSON object.")
	}
	var r SendRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, invalidParam("The request body is not valid JSON: " + err.Error())
	}
	if r.MessagingProduct != "whatsapp" {
		return nil, invalidParam(`The parameter messaging_product is required and must be "whatsapp".`)
	}
	if r.IsReadReceipt() {
		if r.Status != "read" {
			return nil, invalidParam(`The parameter status must be "read".`)
		}
		if r.MessageID == "" {
			return nil, invalidParam("The parameter message_id is required.")
		}
		return &r, nil
	}
	if r.To == "" && r.Recipient == "" {
		return nil, invalidParam("The parameter to (or recipient) is required.")
	}
	if r.Type == "" {
		r.Type = "text" // Meta's default
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(body, &all); err != nil {
		return nil, invalidParam("The request body is not valid JSON: " + err.Error())
	}
	r.Payload = all[r.Type]
	if p := bytes.TrimSpace(r.Payload); len(p) == 0 || bytes.Equal(p, []byte("null")) {
		return nil, invalidParam(fmt.Sprintf("The parameter %s is required for messages of type %s.", r.Type, r.Type))
	}
	if r.Type == "text" {
		if t, ok := r.Text(); !ok || t == "" {
			return nil, invalidParam("The parameter text['body'] is required.")
		} else if utf8.RuneCountInString(t) > 4096 {
			return nil, invalidParam("The parameter text['body'] must be at most 4096 characters long.")
		}
	}
	if r.Context != nil {
		var c struct {
			MessageID string `json:"message_id"`
		}
		if json.Unmarshal(r.Context, &c) != nil || c.MessageID == "" {
			return nil, invalidParam("The parameter context['message_id'] is required when context is given.")
		}
	}
	return &r, nil
}

// PairKey names the customer of a send for pair-rate pacing and ordering:
// the phone digits of "to" (which wins over "recipient", as at Meta) or
// the business-scoped user id.
func (r *SendRequest) PairKey() string {
	if r.To != "" {
		if d := PhoneDigits(r.To); d != "" {
			return d
		}
		return r.To
	}
	return r.Recipient
}

// PhoneDigits keeps the digits of a phone number as Meta writes wa_ids;
// a value with letters (a user or group id) gives "".
func PhoneDigits(s string) string {
	if strings.IndexFunc(s, func(c rune) bool { return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' }) >= 0 {
		return ""
	}
	var b strings.Builder
	for _, c := range s {
		if c >= '0' && c <= '9' {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// SendResponse is Meta's answer to a send or a read receipt.
type SendResponse struct {
	MessagingProduct string `json:"messaging_product,omitempty"`
	Contacts         []struct {
		Input  string     `json:"input"`
		WaID   FlexString `json:"wa_id,omitempty"`
		UserID string     `json:"user_id,omitempty"`
	} `json:"contacts,omitempty"`
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status,omitempty"`
		GroupID       string `json:"group_id,omitempty"`
	} `json:"messages,omitempty"`
	Success bool `json:"success,omitempty"`
}

// WAMID returns the id of the sent message, or "".
func (r *SendResponse) WAMID() string {
	if len(r.Messages) == 0 {
		return ""
	}
	return r.Messages[0].ID
}

// MediaInfo is Meta's answer to GET /{media-id}.
type MediaInfo struct {
	MessagingProduct string     `json:"messaging_product"`
	URL              string     `json:"url"`
	MimeType         string     `json:"mime_type"`
	SHA256           string     `json:"sha256"`
	FileSize         FlexString `json:"file_size"`
	ID               FlexString `json:"id"`
}

// Media size limits per kind, from Meta's supported-media table. Inbound
// files are accepted up to Meta's 100 MB inbound cap.
const (
	MaxImage    = 5 << 20
	MaxAudio    = 16 << 20
	MaxVideo    = 16 << 20
	MaxDocument = 100 << 20
	MaxSticker  = 500 << 10
	MaxInbound  = 100 << 20
)

// MaxSize returns the largest file Meta allows for a media kind (message
// type); unknown kinds get the inbound cap.
func MaxSize(kind string) int64 {
	switch kind {
	case "image":
		return MaxImage
	case "audio":
		return MaxAudio
	case "video":
		return MaxVideo
	case "sticker":
		return MaxSticker
	case "document":
		return MaxDocument
	}
	return MaxInbound
}

// KindOfMIME maps a MIME type to Meta's media kind for size limits.
func KindOfMIME(mime string) string {
	mime = strings.ToLower(strings.TrimSpace(strings.SplitN(mime, ";", 2)[0]))
	switch {
	case mime == "image/webp":
		return "sticker"
	case strings.HasPrefix(mime, "image/"):
		return "image"
	case strings.HasPrefix(mime, "audio/"):
		return "audio"
	case strings.HasPrefix(mime, "video/"):
		return "video"
	}
	return "document"
}
