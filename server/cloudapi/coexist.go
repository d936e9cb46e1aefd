package cloudapi

import (
	"encoding/json"
	"fmt"
)

// The webhook fields of coexistence (a number used by the WhatsApp
// Business app and the Cloud API at once) and of the Groups API.
const (
	FieldEchoes      = "smb_message_echoes"
	FieldHistory     = "history"
	FieldStateSync   = "smb_app_state_sync"
	FieldGroupLife   = "group_lifecycle_update"
	FieldGroupPeople = "group_participants_update"
	FieldGroupConfig = "group_settings_update"
	FieldGroupStatus = "group_status_update"
)

// IsGroupField reports whether a change field is one of the Groups API's.
func IsGroupField(f string) bool {
	switch f {
	case FieldGroupLife, FieldGroupPeople, FieldGroupConfig, FieldGroupStatus:
		return true
	}
	return false
}

// EchoesValue is the value of an smb_message_echoes change: messages the
// owner sent from the Business app. Each echo stays raw, to be decoded on
// its own (DecodeEcho).
type EchoesValue struct {
	Metadata Metadata          `json:"metadata"`
	Echoes   []json.RawMessage `json:"message_echoes"`
}

// Echo is a message the business sent from the app (or, in a history
// chunk, any message): a Message with its recipient.
type Echo struct {
	Message
	To FlexString
	// HistoryStatus is history_context.status of a history message
	// (SENT, DELIVERED, READ, PLAYED, PENDING, ERROR).
	HistoryStatus string
}

// DecodeEcho decodes one echo or history message. "to" and
// "history_context" are taken out of the properties Pforte keeps as Extra.
func DecodeEcho(raw json.RawMessage) (Echo, error) {
	m, err := decodeMessage(raw)
	if err != nil {
		return Echo{}, err
	}
	e := Echo{Message: m}
	if len(m.Extra) == 0 {
		return e, nil
	}
	var extra map[string]json.RawMessage
	if err := json.Unmarshal(m.Extra, &extra); err != nil {
		return Echo{}, fmt.Errorf("meta: echo: %w", err)
	}
	if v, ok := extra["to"]; ok {
		if err := e.To.UnmarshalJSON(v); err != nil {
			return Echo{}, fmt.Errorf("meta: echo to: %w", err)
		}
		delete(extra, "to")
	}
	if v, ok := extra["history_context"]; ok {
		var hc struct {
			Status string `json:"status"`
		}
		if err := json.Unmarshal(v, &hc); err != nil {
			return Echo{}, fmt.Errorf("meta: history_context: %w", err)
		}
		e.HistoryStatus = hc.Status
		delete(extra, "history_context")
	}
	e.Extra = nil
	if len(extra) > 0 {
		e.Extra, _ = json.Marshal(extra)
	}
	return e, nil
}

// DecodeEchoesValue decodes the value of an smb_message_echoes change.
func DecodeEchoesValue(raw json.RawMessage) (*EchoesValue, error) {
	var v EchoesValue
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("meta: echoes value: %w", err)
	}
	return &v, nil
}

// HistoryValue is the value of a history change: chunks of earlier chats,
// or (for media of the last 14 days) plain messages.
type HistoryValue struct {
	Metadata Metadata          `json:"metadata"`
	History  []json.RawMessage `json:"history"`
	Messages []json.RawMessage `json:"messages"`
}

// HistoryChunk is one element of a history change. Chunks arrive in any
// order (and may repeat); ChunkOrder sorts them and Progress (0–100) says
// how far the whole sync is. Errors is set when the owner declined sharing.
type HistoryChunk struct {
	Metadata struct {
		Phase      FlexString `json:"phase"`
		ChunkOrder FlexString `json:"chunk_order"`
		Progress   FlexString `json:"progress"`
	} `json:"metadata"`
	Threads []HistoryThread `json:"threads"`
	Errors  json.RawMessage `json:"errors"`
}

// HistoryThread is the history of one chat; ID is the customer's number.
type HistoryThread struct {
	ID       FlexString        `json:"id"`
	Messages []json.RawMessage `json:"messages"`
}

// DecodeHistoryValue decodes the value of a history change; the chunks
// stay raw (they are imported later, DecodeHistoryChunk).
func DecodeHistoryValue(raw json.RawMessage) (*HistoryValue, error) {
	var v HistoryValue
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("meta: history value: %w", err)
	}
	return &v, nil
}

// DecodeHistoryChunk decodes one chunk; its messages stay raw (DecodeEcho).
func DecodeHistoryChunk(raw json.RawMessage) (*HistoryChunk, error) {
	var c HistoryChunk
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("meta: history chunk: %w", err)
	}
	return &c, nil
}

// StateSyncValue is the value of an smb_app_state_sync change: the
// Business app's address book, entry by entry.
type StateSyncValue struct {
	Metadata  Metadata        `json:"metadata"`
	StateSync []StateSyncItem `json:"state_sync"`
}

// StateSyncItem is one address-book change; Action is add (added or
// edited) or remove (names omitted).
type StateSyncItem struct {
	Type    string `json:"type"`
	Action  string `json:"action"`
	Contact struct {
		FullName    string     `json:"full_name"`
		FirstName   string     `json:"first_name"`
		PhoneNumber FlexString `json:"phone_number"`
	} `json:"contact"`
	Metadata struct {
		Timestamp FlexString `json:"timestamp"`
	} `json:"metadata"`
}

// DecodeStateSyncValue decodes the value of an smb_app_state_sync change.
func DecodeStateSyncValue(raw json.RawMessage) (*StateSyncValue, error) {
	var v StateSyncValue
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("meta: state sync value: %w", err)
	}
	return &v, nil
}

// GroupsValue is the value of the Groups API's webhook fields.
type GroupsValue struct {
	Metadata Metadata          `json:"metadata"`
	Groups   []json.RawMessage `json:"groups"`
}

// GroupUpdate is one lifecycle, participant, settings or status update of
// a group. Raw is the element as Meta sent it.
type GroupUpdate struct {
	Timestamp        FlexString    `json:"timestamp"`
	GroupID          string        `json:"group_id"`
	Type             string        `json:"type"`
	RequestID        string        `json:"request_id"`
	Subject          string        `json:"subject"`
	Description      string        `json:"description"`
	InviteLink       string        `json:"invite_link"`
	JoinApprovalMode string        `json:"join_approval_mode"`
	Reason           string        `json:"reason"`
	InitiatedBy      string        `json:"initiated_by"`
	Added            []GroupMember `json:"added_participants"`
	Removed          []GroupMember `json:"removed_participants"`
	GroupSubject     *struct {
		Text string `json:"text"`
	} `json:"group_subject"`
	Errors json.RawMessage `json:"errors"`

	Raw json.RawMessage `json:"-"`
}

// GroupMember is a participant named in a group update.
type GroupMember struct {
	WaID   FlexString `json:"wa_id"`
	UserID string     `json:"user_id"`
	Input  string     `json:"input"`
}

// DecodeGroupsValue decodes the value of a group change.
func DecodeGroupsValue(raw json.RawMessage) (*GroupsValue, error) {
	var v GroupsValue
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("meta: groups value: %w", err)
	}
	return &v, nil
}

// DecodeGroupUpdate decodes one element of a group change.
func DecodeGroupUpdate(raw json.RawMessage) (GroupUpdate, error) {
	var g GroupUpdate
	if err := json.Unmarshal(raw, &g); err != nil {
		return GroupUpdate{}, fmt.Errorf("meta: group update: %w", err)
	}
	g.Raw = raw
	return g, nil
}
