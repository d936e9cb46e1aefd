package cloudapi

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Meta's limits for what the composer sends (cloudapi.md §4.2; counted in
// characters, as Meta counts them).
const (
	MaxButtons          = 3
	MaxButtonTitle      = 20
	MaxButtonID         = 256
	MaxInteractiveBody  = 1024
	MaxListBody         = 4096
	MaxHeaderText       = 60
	MaxFooterText       = 60
	MaxListButton       = 20
	MaxListSections     = 10
	MaxListRows         = 10 // in all sections together
	MaxRowTitle         = 24
	MaxSectionTitle     = 24
	MaxRowDescription   = 72
	MaxRowID            = 200
	MaxCTADisplayText   = 20
	MaxLocationRequest  = 1024
	MaxContactNameChars = 512
)

// LimitError is a message that breaks one of Meta's rules, found before
// sending. Field names the part (e.g. "buttons[1].title"); Rule is one of
// the Limit* values; Max is the limit that applies.
type LimitError struct {
	Field string
	Rule  LimitRule
	Max   int
}

// LimitRule says which kind of rule a LimitError broke.
type LimitRule string

// The rules.
const (
	LimitTooLong  LimitRule = "too_long"  // more than Max characters
	LimitTooMany  LimitRule = "too_many"  // more than Max items
	LimitRequired LimitRule = "required"  // missing
	LimitUnique   LimitRule = "unique"    // repeats another item
	LimitInvalid  LimitRule = "invalid"   // not a valid value (URL, coordinate, emoji)
	LimitNotEmpty LimitRule = "not_empty" // no items at all
)

func (e *LimitError) Error() string {
	switch e.Rule {
	case LimitTooLong:
		return fmt.Sprintf("cloudapi: %s is longer than %d characters", e.Field, e.Max)
	case LimitTooMany:
		return fmt.Sprintf("cloudapi: more than %d %s", e.Max, e.Field)
	}
	return fmt.Sprintf("cloudapi: %s: %s", e.Field, e.Rule)
}

func checkLen(field, v string, max int, required bool) error {
	if required && strings.TrimSpace(v) == "" {
		return &LimitError{Field: field, Rule: LimitRequired}
	}
	if utf8.RuneCountInString(v) > max {
		return &LimitError{Field: field, Rule: LimitTooLong, Max: max}
	}
	return nil
}

// OutInteractive is an interactive message's object.
type OutInteractive struct {
	Action OutAction  `json:"action"`
	Body   *OutBody   `json:"body,omitempty"`
	Footer *OutBody   `json:"footer,omitempty"`
	Header *OutHeader `json:"header,omitempty"`
	Type   string     `json:"type"`
}

// OutBody is an interactive body or footer.
type OutBody struct {
	Text string `json:"text"`
}

// OutHeader is a text header.
type OutHeader struct {
	Text string `json:"text"`
	Type string `json:"type"`
}

// OutAction is an interactive message's action: buttons, a list, a URL
// button or a named action.
type OutAction struct {
	Button     string         `json:"button,omitempty"`
	Buttons    []OutButton    `json:"buttons,omitempty"`
	Name       string         `json:"name,omitempty"`
	Parameters *OutParameters `json:"parameters,omitempty"`
	Sections   []OutSection   `json:"sections,omitempty"`
}

// OutButton is a reply button.
type OutButton struct {
	Reply OutReply `json:"reply"`
	Type  string   `json:"type"`
}

// OutReply is a reply button's id and title.
type OutReply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// OutParameters are a CTA URL button's text and link.
type OutParameters struct {
	DisplayText string `json:"display_text"`
	URL         string `json:"url"`
}

// OutSection is a list section.
type OutSection struct {
	Rows  []OutRow `json:"rows"`
	Title string   `json:"title,omitempty"`
}

// OutRow is a list row.
type OutRow struct {
	Description string `json:"description,omitempty"`
	ID          string `json:"id"`
	Title       string `json:"title"`
}

// OutLocation is a location message's object.
type OutLocation struct {
	Address   string  `json:"address,omitempty"`
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
}

// OutReaction reacts to a message; an empty emoji removes the reaction.
type OutReaction struct {
	Emoji     string `json:"emoji"`
	MessageID string `json:"message_id"`
}

// OutContact is one contact card.
type OutContact struct {
	Name   OutContactName    `json:"name"`
	Phones []OutContactPhone `json:"phones,omitempty"`
}

// OutContactName is a contact card's name.
type OutContactName struct {
	FirstName     string `json:"first_name,omitempty"`
	FormattedName string `json:"formatted_name"`
}

// OutContactPhone is a contact card's phone number.
type OutContactPhone struct {
	Phone string `json:"phone"`
	Type  string `json:"type,omitempty"`
}

// Frame is the text around an interactive message: the body (required)
// and an optional text header and footer.
type Frame struct {
	Header, Body, Footer string
}

func (f Frame) apply(it *OutInteractive, bodyMax int) error {
	if err := checkLen("body", f.Body, bodyMax, true); err != nil {
		return err
	}
	if err := checkLen("header", f.Header, MaxHeaderText, false); err != nil {
		return err
	}
	if err := checkLen("footer", f.Footer, MaxFooterText, false); err != nil {
		return err
	}
	it.Body = &OutBody{Text: f.Body}
	if strings.TrimSpace(f.Header) != "" {
		it.Header = &OutHeader{Type: "text", Text: f.Header}
	}
	if strings.TrimSpace(f.Footer) != "" {
		it.Footer = &OutBody{Text: f.Footer}
	}
	return nil
}

// ReplyButtons builds a message with up to three reply buttons. Button ids
// are generated from their position when empty.
func ReplyButtons(to Recipient, f Frame, buttons []OutReply) (*Outbound, error) {
	if len(buttons) == 0 {
		return nil, &LimitError{Field: "buttons", Rule: LimitNotEmpty}
	}
	if len(buttons) > MaxButtons {
		return nil, &LimitError{Field: "buttons", Rule: LimitTooMany, Max: MaxButtons}
	}
	it := &OutInteractive{Type: "button"}
	if err := f.apply(it, MaxInteractiveBody); err != nil {
		return nil, err
	}
	seenTitle, seenID := map[string]bool{}, map[string]bool{}
	for i, b := range buttons {
		field := fmt.Sprintf("buttons[%d]", i)
		if b.ID == "" {
			b.ID = fmt.Sprintf("btn_%d", i+1)
		}
		if err := checkLen(field+".title", b.Title, MaxButtonTitle, true); err != nil {
			return nil, err
		}
		if err := checkLen(field+".id", b.ID, MaxButtonID, true); err != nil {
			return nil, err
		}
		if seenTitle[b.Title] {
			return nil, &LimitError{Field: field + ".title", Rule: LimitUnique}
		}
		if seenID[b.ID] {
			return nil, &LimitError{Field: field + ".id", Rule: LimitUnique}
		}
		seenTitle[b.Title], seenID[b.ID] = true, true
		it.Action.Buttons = append(it.Action.Buttons, OutButton{Type: "reply", Reply: b})
	}
	return interactive(to, it)
}

// ListMessage builds a list: a button that opens sections of rows, at
// most ten rows in all. Row ids are generated when empty; a section title
// is required when there is more than one section.
func ListMessage(to Recipient, f Frame, button string, sections []OutSection) (*Outbound, error) {
	it := &OutInteractive{Type: "list"}
	if err := f.apply(it, MaxListBody); err != nil {
		return nil, err
	}
	if err := checkLen("button", button, MaxListButton, true); err != nil {
		return nil, err
	}
	it.Action.Button = button
	if len(sections) == 0 {
		return nil, &LimitError{Field: "sections", Rule: LimitNotEmpty}
	}
	if len(sections) > MaxListSections {
		return nil, &LimitError{Field: "sections", Rule: LimitTooMany, Max: MaxListSections}
	}
	rows, seenID, seenTitle := 0, map[string]bool{}, map[string]bool{}
	for i, s := range sections {
		field := fmt.Sprintf("sections[%d]", i)
		if err := checkLen(field+".title", s.Title, MaxSectionTitle, len(sections) > 1); err != nil {
			return nil, err
		}
		if len(s.Rows) == 0 {
			return nil, &LimitError{Field: field + ".rows", Rule: LimitNotEmpty}
		}
		for j := range s.Rows {
			r := &s.Rows[j]
			rows++
			if rows > MaxListRows {
				return nil, &LimitError{Field: "rows", Rule: LimitTooMany, Max: MaxListRows}
			}
			rf := fmt.Sprintf("%s.rows[%d]", field, j)
			if r.ID == "" {
				r.ID = fmt.Sprintf("row_%d", rows)
			}
			if err := checkLen(rf+".title", r.Title, MaxRowTitle, true); err != nil {
				return nil, err
			}
			if err := checkLen(rf+".description", r.Description, MaxRowDescription, false); err != nil {
				return nil, err
			}
			if err := checkLen(rf+".id", r.ID, MaxRowID, true); err != nil {
				return nil, err
			}
			if seenID[r.ID] {
				return nil, &LimitError{Field: rf + ".id", Rule: LimitUnique}
			}
			if seenTitle[r.Title] {
				return nil, &LimitError{Field: rf + ".title", Rule: LimitUnique}
			}
			seenID[r.ID], seenTitle[r.Title] = true, true
		}
		it.Action.Sections = append(it.Action.Sections, s)
	}
	return interactive(to, it)
}

// CTAURL builds a message with one button that opens a web page.
func CTAURL(to Recipient, f Frame, displayText, link string) (*Outbound, error) {
	it := &OutInteractive{Type: "cta_url"}
	if err := f.apply(it, MaxInteractiveBody); err != nil {
		return nil, err
	}
	if err := checkLen("display_text", displayText, MaxCTADisplayText, true); err != nil {
		return nil, err
	}
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, &LimitError{Field: "url", Rule: LimitInvalid}
	}
	it.Action.Name = "cta_url"
	it.Action.Parameters = &OutParameters{DisplayText: displayText, URL: link}
	return interactive(to, it)
}

// LocationRequest asks the customer to share their location; WhatsApp
// adds the "Send location" button itself. Body only.
func LocationRequest(to Recipient, body string) (*Outbound, error) {
	if err := checkLen("body", body, MaxLocationRequest, true); err != nil {
		return nil, err
	}
	it := &OutInteractive{Type: "location_request_message", Body: &OutBody{Text: body}}
	it.Action.Name = "send_location"
	return interactive(to, it)
}

func interactive(to Recipient, it *OutInteractive) (*Outbound, error) {
	m, err := newOutbound(to, "interactive")
	if err != nil {
		return nil, err
	}
	m.Interactive = it
	return m, nil
}

// LocationMessage sends a place.
func LocationMessage(to Recipient, lat, lng float64, name, address string) (*Outbound, error) {
	if lat < -90 || lat > 90 || (lat == 0 && lng == 0) {
		return nil, &LimitError{Field: "latitude", Rule: LimitInvalid}
	}
	if lng < -180 || lng > 180 {
		return nil, &LimitError{Field: "longitude", Rule: LimitInvalid}
	}
	if err := checkLen("name", name, 1000, false); err != nil {
		return nil, err
	}
	if err := checkLen("address", address, 1000, false); err != nil {
		return nil, err
	}
	m, err := newOutbound(to, "location")
	if err != nil {
		return nil, err
	}
	m.Location = &OutLocation{Latitude: lat, Longitude: lng, Name: name, Address: address}
	return m, nil
}

// ContactsMessage sends a contact card with one phone number.
func ContactsMessage(to Recipient, name, phone string) (*Outbound, error) {
	if err := checkLen("name", name, MaxContactNameChars, true); err != nil {
		return nil, err
	}
	digits := PhoneDigits(phone)
	if len(digits) < 6 || len(digits) > 15 {
		return nil, &LimitError{Field: "phone", Rule: LimitInvalid}
	}
	m, err := newOutbound(to, "contacts")
	if err != nil {
		return nil, err
	}
	first, _, _ := strings.Cut(strings.TrimSpace(name), " ")
	m.Contacts = []OutContact{{Name: OutContactName{FormattedName: name, FirstName: first},
		Phones: []OutContactPhone{{Phone: "+" + digits, Type: "WORK"}}}}
	return m, nil
}

// ReactionMessage reacts to a message with one emoji ("" removes it).
func ReactionMessage(to Recipient, messageID, emoji string) (*Outbound, error) {
	if messageID == "" {
		return nil, &LimitError{Field: "message_id", Rule: LimitRequired}
	}
	if utf8.RuneCountInString(emoji) > 8 || strings.ContainsAny(emoji, " \t\n<>") {
		// One emoji may be several code points (skin tone, ZWJ sequences).
		return nil, &LimitError{Field: "emoji", Rule: LimitInvalid}
	}
	m, err := newOutbound(to, "reaction")
	if err != nil {
		return nil, err
	}
	m.Reaction = &OutReaction{MessageID: messageID, Emoji: emoji}
	return m, nil
}
