package cloudapi

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Notification is the envelope of every webhook delivery.
type Notification struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry groups the changes of one WhatsApp Business Account.
type Entry struct {
	ID      FlexString `json:"id"`
	Time    FlexString `json:"time"`
	Changes []Change   `json:"changes"`
}

// Change is one subscribed field's update; Value depends on Field.
type Change struct {
	Field string          `json:"field"`
	Value json.RawMessage `json:"value"`
}

// MessagesValue is the value of a change with field "messages". Messages
// and statuses stay raw, to be decoded one by one (DecodeMessage,
// DecodeStatus): one malformed item must not hide the others.
type MessagesValue struct {
	MessagingProduct string            `json:"messaging_product"`
	Metadata         Metadata          `json:"metadata"`
	Contacts         []Contact         `json:"contacts"`
	Messages         []json.RawMessage `json:"messages"`
	Statuses         []json.RawMessage `json:"statuses"`
	Errors           json.RawMessage   `json:"errors"`
	// Unreadable holds the parts that could not be read, kept raw.
	Unreadable []Unreadable `json:"-"`
}

// Unreadable is a part of a change that could not be decoded.
type Unreadable struct {
	Kind ItemKind
	Raw  json.RawMessage
	Err  error
}

// ItemKind names the parts of a messages change that are read one by one.
type ItemKind string

// The item kinds.
const (
	ItemMessage  ItemKind = "message"
	ItemStatus   ItemKind = "status"
	ItemContact  ItemKind = "contact"
	ItemMessages ItemKind = "messages" // the whole list is not a list
	ItemStatuses ItemKind = "statuses"
	ItemContacts ItemKind = "contacts"
	ItemProduct  ItemKind = "messaging_product"
)

// Metadata names the business phone number a change belongs to.
type Metadata struct {
	DisplayPhoneNumber FlexString `json:"display_phone_number"`
	PhoneNumberID      FlexString `json:"phone_number_id"`
}

// Contact is a customer as Meta describes them next to messages and statuses.
// Since 2026 either WaID or UserID (the business-scoped user id) may be absent.
type Contact struct {
	Profile struct {
		Name     string `json:"name"`
		Username string `json:"username"`
	} `json:"profile"`
	WaID            FlexString `json:"wa_id"`
	UserID          string     `json:"user_id"`
	ParentUserID    string     `json:"parent_user_id"`
	IdentityKeyHash string     `json:"identity_key_hash"`
}

// Message is one inbound message. Payload is the object named like Type,
// exactly as Meta sent it; Extra holds top-level properties this version of
// Pforte does not know, so that nothing is dropped.
type Message struct {
	From             FlexString      `json:"from"`
	FromUserID       string          `json:"from_user_id"`
	FromParentUserID string          `json:"from_parent_user_id"`
	ID               string          `json:"id"`
	Timestamp        FlexString      `json:"timestamp"`
	Type             string          `json:"type"`
	GroupID          string          `json:"group_id"`
	Context          json.RawMessage `json:"context"`
	Referral         json.RawMessage `json:"referral"`
	Errors           json.RawMessage `json:"errors"`

	Payload json.RawMessage `json:"-"`
	Extra   json.RawMessage `json:"-"`
}

// DecodeMessage decodes one raw message object in a single pass, keeping
// its type payload and any properties this version does not know.
func DecodeMessage(raw json.RawMessage) (Message, error) {
	if m, ok := decodeMessageFast(raw); ok {
		return m, nil
	}
	return decodeMessage(raw)
}

func decodeMessage(raw json.RawMessage) (Message, error) {
	var m Message
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		return m, fmt.Errorf("meta: message: %w", err)
	}
	var extra map[string]json.RawMessage
	for k, v := range all {
		var err error
		switch k {
		case "from":
			err = m.From.UnmarshalJSON(v)
		case "from_user_id":
			m.FromUserID, err = unquoteField(v)
		case "from_parent_user_id":
			m.FromParentUserID, err = unquoteField(v)
		case "id":
			m.ID, err = unquoteField(v)
		case "timestamp":
			err = m.Timestamp.UnmarshalJSON(v)
		case "type":
			m.Type, err = unquoteField(v)
		case "group_id":
			m.GroupID, err = unquoteField(v)
		case "context":
			m.Context = v
		case "referral":
			m.Referral = v
		case "errors":
			m.Errors = v
		default:
			if extra == nil {
				extra = map[string]json.RawMessage{}
			}
			extra[k] = v
		}
		if err != nil {
			return m, fmt.Errorf("meta: message %s: %w", k, err)
		}
	}
	m.takePayload(extra)
	return m, nil
}

// takePayload moves the payload out of a message's unknown properties and
// keeps the rest as Extra. The payload is the property named like the
// type; older versions called unsupported messages "unknown" but kept the
// "unsupported" key.
func (m *Message) takePayload(extra map[string]json.RawMessage) {
	for _, key := range []string{m.Type, "unsupported"} {
		if p, ok := extra[key]; ok && (key == m.Type || m.Type == "unknown") {
			m.Payload = p
			delete(extra, key)
			break
		}
	}
	if len(extra) > 0 {
		m.Extra, _ = json.Marshal(extra)
	}
}

// unquoteField decodes a string property of a message; null is "".
func unquoteField(v json.RawMessage) (string, error) {
	if string(v) == "null" {
		return "", nil
	}
	return unquote(v)
}

// Media is the common shape of image, audio, video, document and sticker payloads.
type Media struct {
	ID       FlexString `json:"id"`
	MimeType string     `json:"mime_type"`
	SHA256   string     `json:"sha256"`
	Caption  string     `json:"caption"`
	Filename string     `json:"filename"`
	URL      string     `json:"url"`
}

// IsMediaType reports whether messages of type t carry a downloadable file.
func IsMediaType(t string) bool {
	switch t {
	case "image", "audio", "video", "document", "sticker":
		return true
	}
	return false
}

// Content is what Pforte reads out of a payload: the text of a text
// message, or the file and caption of a media message.
type Content struct {
	Text    string
	HasText bool
	Media   *Media
}

// Content decodes the payload once for its text and file.
func (m Message) Content() Content {
	if c, ok := m.contentFast(); ok {
		return c
	}
	return m.content()
}

func (m Message) content() Content {
	var c Content
	switch {
	case m.Type == "text":
		var t struct {
			Body string `json:"body"`
		}
		if json.Unmarshal(m.Payload, &t) == nil {
			c.Text, c.HasText = t.Body, true
		}
	case IsMediaType(m.Type):
		var med Media
		if json.Unmarshal(m.Payload, &med) == nil {
			c.Media = &med
			// Audio and stickers have no caption.
			if med.Caption != "" && m.Type != "audio" && m.Type != "sticker" {
				c.Text, c.HasText = med.Caption, true
			}
		}
	}
	return c
}

// Status is a delivery receipt for a message the business sent.
type Status struct {
	ID                     string          `json:"id"`
	Status                 string          `json:"status"`
	Timestamp              FlexString      `json:"timestamp"`
	RecipientID            FlexString      `json:"recipient_id"`
	RecipientUserID        string          `json:"recipient_user_id"`
	RecipientParentUserID  string          `json:"recipient_parent_user_id"`
	RecipientType          string          `json:"recipient_type"`
	BizOpaqueCallbackData  string          `json:"biz_opaque_callback_data"`
	Conversation           json.RawMessage `json:"conversation"`
	Pricing                json.RawMessage `json:"pricing"`
	Errors                 json.RawMessage `json:"errors"`
	RecipientParticipantID FlexString      `json:"recipient_participant_id"`
}

// ErrNotWhatsApp is returned for a body that is JSON but not a WhatsApp
// Business Account notification.
var ErrNotWhatsApp = errors.New("meta: not a whatsapp_business_account notification")

// ParseNotification decodes a delivery body. Unknown fields and values are
// kept raw in each Change; only a body that is not a JSON object with an
// entry list is an error.
func ParseNotification(body []byte) (*Notification, error) {
	n, ok := parseNotificationFast(body)
	if !ok {
		var err error
		if n, err = parseNotification(body); err != nil {
			return nil, err
		}
	}
	if n.Entry == nil {
		return nil, ErrNotWhatsApp
	}
	return n, nil
}

func parseNotification(body []byte) (*Notification, error) {
	var n Notification
	if err := json.Unmarshal(body, &n); err != nil {
		return nil, fmt.Errorf("meta: notification: %w", err)
	}
	return &n, nil
}

// MessagesValue decodes the value of a "messages" change.
func (c Change) MessagesValue() (*MessagesValue, error) {
	if v, ok := decodeMessagesValueFast(c.Value); ok {
		return v, nil
	}
	return decodeMessagesValue(c.Value)
}

// decodeMessagesValue reads each part on its own: a part that cannot be
// read is kept in Unreadable and the others are still returned. Only a
// value that is not an object, or whose metadata (which number the change
// belongs to) cannot be read, is an error.
func decodeMessagesValue(raw json.RawMessage) (*MessagesValue, error) {
	var parts struct {
		MessagingProduct json.RawMessage `json:"messaging_product"`
		Metadata         json.RawMessage `json:"metadata"`
		Contacts         json.RawMessage `json:"contacts"`
		Messages         json.RawMessage `json:"messages"`
		Statuses         json.RawMessage `json:"statuses"`
		Errors           json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(raw, &parts); err != nil {
		return nil, fmt.Errorf("meta: messages value: %w", err)
	}
	v := &MessagesValue{Errors: parts.Errors}
	if parts.Metadata != nil {
		if err := json.Unmarshal(parts.Metadata, &v.Metadata); err != nil {
			return nil, fmt.Errorf("meta: messages value metadata: %w", err)
		}
	}
	if parts.MessagingProduct != nil {
		if err := json.Unmarshal(parts.MessagingProduct, &v.MessagingProduct); err != nil {
			v.Unreadable = append(v.Unreadable, Unreadable{ItemProduct, parts.MessagingProduct, err})
		}
	}
	v.Messages = v.list(ItemMessages, parts.Messages)
	v.Statuses = v.list(ItemStatuses, parts.Statuses)
	if contacts := v.list(ItemContacts, parts.Contacts); contacts != nil {
		v.Contacts = make([]Contact, 0, len(contacts))
		for _, c := range contacts {
			var ct Contact
			if err := json.Unmarshal(c, &ct); err != nil {
				v.Unreadable = append(v.Unreadable, Unreadable{ItemContact, c, err})
				continue
			}
			v.Contacts = append(v.Contacts, ct)
		}
	}
	return v, nil
}

// list splits a JSON array into its elements; null and absent give nil, as
// encoding/json does. Anything else is unreadable as a whole.
func (v *MessagesValue) list(kind ItemKind, raw json.RawMessage) []json.RawMessage {
	if raw == nil {
		return nil
	}
	var out []json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil {
		v.Unreadable = append(v.Unreadable, Unreadable{kind, raw, err})
		return nil
	}
	return out
}

// DecodeStatus decodes one receipt of a messages change.
func DecodeStatus(raw json.RawMessage) (Status, error) {
	if st, ok := decodeStatusFast(raw); ok {
		return st, nil
	}
	return decodeStatus(raw)
}

func decodeStatus(raw json.RawMessage) (Status, error) {
	var st Status
	if err := json.Unmarshal(raw, &st); err != nil {
		return Status{}, fmt.Errorf("meta: status: %w", err)
	}
	return st, nil
}

// ContactFor finds the contact entry that describes the sender of m:
// matched by user id or phone number, or the only contact when there is one.
func (v *MessagesValue) ContactFor(waID, userID string) (Contact, bool) {
	for _, c := range v.Contacts {
		if (userID != "" && c.UserID == userID) || (waID != "" && string(c.WaID) == waID) {
			return c, true
		}
	}
	if len(v.Contacts) == 1 && (waID == "" || v.Contacts[0].WaID == "") && (userID == "" || v.Contacts[0].UserID == "") {
		return v.Contacts[0], true
	}
	return Contact{}, false
}
