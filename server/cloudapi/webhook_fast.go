package cloudapi

import "encoding/json"

// The fast decoders below read the webhook types in one pass with a
// scanner. Each returns ok=false for anything it leaves to encoding/json
// (see scanner); its callers then decode the slow way, so the result is
// always the same as encoding/json's. The fuzz tests hold them to that.

var (
	notificationKeys  = []string{"object", "entry"}
	entryKeys         = []string{"id", "time", "changes"}
	changeKeys        = []string{"field", "value"}
	messagesValueKeys = []string{"messaging_product", "metadata", "contacts", "messages", "statuses", "errors"}
	metadataKeys      = []string{"display_phone_number", "phone_number_id"}
	contactKeys       = []string{"profile", "wa_id", "user_id", "parent_user_id", "identity_key_hash"}
	profileKeys       = []string{"name", "username"}
	statusKeys        = []string{"id", "status", "timestamp", "recipient_id", "recipient_user_id", "recipient_parent_user_id",
		"recipient_type", "biz_opaque_callback_data", "conversation", "pricing", "errors", "recipient_participant_id"}
	messageKeys = []string{"from", "from_user_id", "from_parent_user_id", "id", "timestamp", "type", "group_id",
		"context", "referral", "errors"}
	textKeys  = []string{"body"}
	mediaKeys = []string{"id", "mime_type", "sha256", "caption", "filename", "url"}
)

func parseNotificationFast(body []byte) (*Notification, bool) {
	s := &scanner{b: body}
	n := &Notification{}
	s.object(notificationKeys, func(f int) {
		switch f {
		case 0:
			n.Object = s.text()
		case 1:
			s.list(func() { n.Entry = append(n.Entry, s.entry()) }, func() { n.Entry = []Entry{} })
		}
	})
	s.end()
	return n, !s.bad
}

// object reads an object with the given keys; null leaves it as it was.
func (s *scanner) object(keys []string, fn func(field int)) {
	if s.peek() == 'n' {
		s.literal("null")
		return
	}
	k := known{keys: keys}
	s.members(func(key []byte) {
		if f := k.field(s, key); f >= 0 {
			fn(f)
		} else {
			s.value()
		}
	})
}

func (s *scanner) entry() (e Entry) {
	s.object(entryKeys, func(f int) {
		switch f {
		case 0:
			e.ID = s.flex()
		case 1:
			e.Time = s.flex()
		case 2:
			s.list(func() { e.Changes = append(e.Changes, s.change()) }, func() { e.Changes = []Change{} })
		}
	})
	return e
}

func (s *scanner) change() (c Change) {
	s.object(changeKeys, func(f int) {
		switch f {
		case 0:
			c.Field = s.text()
		case 1:
			c.Value = s.raw()
		}
	})
	return c
}

func decodeMessagesValueFast(raw []byte) (*MessagesValue, bool) {
	s := &scanner{b: raw}
	v := &MessagesValue{}
	if s.peek() != '{' {
		return nil, false // null, or not an object: encoding/json decides
	}
	s.object(messagesValueKeys, func(f int) {
		switch f {
		case 0:
			v.MessagingProduct = s.text()
		case 1:
			s.object(metadataKeys, func(f int) {
				switch f {
				case 0:
					v.Metadata.DisplayPhoneNumber = s.flex()
				case 1:
					v.Metadata.PhoneNumberID = s.flex()
				}
			})
		case 2:
			s.list(func() { v.Contacts = append(v.Contacts, s.contact()) }, func() { v.Contacts = []Contact{} })
		case 3:
			s.list(func() { v.Messages = append(v.Messages, s.raw()) }, func() { v.Messages = []json.RawMessage{} })
		case 4:
			s.list(func() { v.Statuses = append(v.Statuses, s.raw()) }, func() { v.Statuses = []json.RawMessage{} })
		case 5:
			v.Errors = s.raw()
		}
	})
	s.end()
	return v, !s.bad
}

// list reads an array into a slice that null leaves nil and [] makes
// empty, as encoding/json does.
func (s *scanner) list(each func(), empty func()) {
	if s.peek() == 'n' {
		s.literal("null")
		return
	}
	empty()
	if s.expect('[') {
		s.sequence(']', each)
	}
}

func (s *scanner) contact() (c Contact) {
	s.object(contactKeys, func(f int) {
		switch f {
		case 0:
			s.object(profileKeys, func(f int) {
				switch f {
				case 0:
					c.Profile.Name = s.text()
				case 1:
					c.Profile.Username = s.text()
				}
			})
		case 1:
			c.WaID = s.flex()
		case 2:
			c.UserID = s.text()
		case 3:
			c.ParentUserID = s.text()
		case 4:
			c.IdentityKeyHash = s.text()
		}
	})
	return c
}

// decodeStatusFast is DecodeStatus's fast path.
func decodeStatusFast(raw []byte) (Status, bool) {
	s := &scanner{b: raw}
	if s.peek() != '{' {
		return Status{}, false // null, or not an object: encoding/json decides
	}
	st := s.status()
	s.end()
	return st, !s.bad
}

func (s *scanner) status() (st Status) {
	s.object(statusKeys, func(f int) {
		switch f {
		case 0:
			st.ID = s.text()
		case 1:
			st.Status = s.text()
		case 2:
			st.Timestamp = s.flex()
		case 3:
			st.RecipientID = s.flex()
		case 4:
			st.RecipientUserID = s.text()
		case 5:
			st.RecipientParentUserID = s.text()
		case 6:
			st.RecipientType = s.text()
		case 7:
			st.BizOpaqueCallbackData = s.text()
		case 8:
			st.Conversation = s.raw()
		case 9:
			st.Pricing = s.raw()
		case 10:
			st.Errors = s.raw()
		case 11:
			st.RecipientParticipantID = s.flex()
		}
	})
	return st
}

// decodeMessageFast is DecodeMessage's fast path. Unknown properties are
// collected in order; the one named like the type is the payload, any
// other goes to Extra through the same json.Marshal as the slow path.
func decodeMessageFast(raw []byte) (Message, bool) {
	var m Message
	s := &scanner{b: raw}
	if s.peek() != '{' {
		return m, false
	}
	type member struct {
		key string
		raw json.RawMessage
	}
	var others []member
	k := known{keys: messageKeys}
	s.members(func(key []byte) {
		switch k.field(s, key) {
		case 0:
			m.From = s.flex()
		case 1:
			m.FromUserID = s.text()
		case 2:
			m.FromParentUserID = s.text()
		case 3:
			m.ID = s.text()
		case 4:
			m.Timestamp = s.flex()
		case 5:
			m.Type = s.text()
		case 6:
			m.GroupID = s.text()
		case 7:
			m.Context = s.raw()
		case 8:
			m.Referral = s.raw()
		case 9:
			m.Errors = s.raw()
		default:
			for _, o := range others {
				if o.key == string(key) {
					s.bad = true // repeated: a map keeps the last one
				}
			}
			others = append(others, member{string(key), s.raw()})
		}
	})
	s.end()
	if s.bad {
		return m, false
	}
	// Usually the one unknown property is the payload.
	if len(others) == 1 && others[0].key == m.Type {
		m.Payload = others[0].raw
		return m, true
	}
	var extra map[string]json.RawMessage
	if len(others) > 0 {
		extra = make(map[string]json.RawMessage, len(others))
		for _, o := range others {
			extra[o.key] = o.raw
		}
	}
	m.takePayload(extra)
	return m, true
}

// contentFast is Content's fast path for text and media payloads.
func (m Message) contentFast() (Content, bool) {
	var c Content
	s := &scanner{b: m.Payload}
	if m.Type != "text" && !IsMediaType(m.Type) {
		return c, true
	}
	if s.peek() != '{' {
		return c, false
	}
	switch {
	case m.Type == "text":
		var body string
		s.object(textKeys, func(int) { body = s.text() })
		c.Text, c.HasText = body, true
	case IsMediaType(m.Type):
		med := &Media{}
		s.object(mediaKeys, func(f int) {
			switch f {
			case 0:
				med.ID = s.flex()
			case 1:
				med.MimeType = s.text()
			case 2:
				med.SHA256 = s.text()
			case 3:
				med.Caption = s.text()
			case 4:
				med.Filename = s.text()
			case 5:
				med.URL = s.text()
			}
		})
		c.Media = med
		if med.Caption != "" && m.Type != "audio" && m.Type != "sticker" {
			c.Text, c.HasText = med.Caption, true
		}
	}
	s.end()
	return c, !s.bad
}
