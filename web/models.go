// Package web renders Pforte's admin panel: templ components, the view
// models they take, translations and the embedded static assets. It knows
// nothing of the database or HTTP handlers; the server package maps its
// data into these plain structs.
package web

import "time"

// Chrome is what every page around its content needs.
type Chrome struct {
	Title  string
	Nav    string // active navigation item: inbox, contacts, templates, dashboard, settings, users, audit, account
	User   *UserVM
	Unread int // open conversations with unread messages, for the badge
	Flash  string
	Error  string
	// Query is the search box's text.
	Query string
}

// UserVM is the logged-in person.
type UserVM struct {
	ID     int64
	Name   string
	Email  string
	Role   string
	Notify bool
}

// Can reports whether the user's role may use a part of the panel.
func (u *UserVM) Can(area string) bool {
	if u == nil {
		return false
	}
	switch area {
	case "inbox", "templates":
		return u.Role == "admin" || u.Role == "agent"
	case "contacts": // auditors read consent records and restrictions
		return u.Role == "admin" || u.Role == "agent" || u.Role == "auditor"
	case "audit":
		return u.Role == "admin" || u.Role == "auditor"
	case "dashboard", "settings", "users":
		return u.Role == "admin"
	}
	return false
}

// Initials are shown in the avatar.
func (u *UserVM) Initials() string { return initials(u.Name) }

// AuthForm is the login, setup, 2FA and invite forms' state.
type AuthForm struct {
	Email   string
	Name    string
	Error   string
	Info    string
	Token   string // invite token
	Invitee string
	// Retention lists the retention periods a fresh install applies,
	// shown read-only on the first-run page.
	Retention []RetentionVM
	// Sign-in without a password (sso.templ): the company's provider,
	// passkeys, and a passkey as the second factor.
	SSO         bool
	SSOLabel    string
	PasswordOff bool
	Passkey     bool
	Passkey2FA  bool
	TOTP        bool // the account has an authenticator app (second-factor page)
}

// InboxFilter is the inbox's current selection, kept in links.
type InboxFilter struct {
	Assigned string // mine, unassigned, all
	Status   string // open, closed, all
	NumberID int64
	LabelID  int64
	TeamID   int64
}

// InboxVM is the inbox page.
type InboxVM struct {
	Filter    InboxFilter
	Counts    InboxCounts
	List      []ConvRowVM
	Next      string // cursor of the next page
	Numbers   []NumberVM
	Labels    []LabelVM
	Selected  *ConversationVM // nil on the list-only page
	Hours     []HoursStateVM  // numbers outside their business hours now
	Reminders []ReminderVM    // the viewer's conversations whose window closes soon
	Teams     []TeamVM        // for the team filter
}

// TeamVM is a team of agents.
type TeamVM struct {
	ID   int64
	Name string
}

// InboxCounts are the badges beside the filters.
type InboxCounts struct{ Mine, Unassigned, All int }

// NumberVM is a business number.
type NumberVM struct {
	ID            int64
	PhoneNumberID string
	Display       string
	WABAID        string
	// Settings page only: what customers see (read receipts, typing) and
	// the coexistence history import.
	ReadReceipts bool
	Typing       bool
	History      *HistoryVM
}

// HistoryVM is how far a number's chat history import is.
type HistoryVM struct {
	Chunks, Pending   int
	Progress          int
	Imported, Skipped int
	Declined          bool
}

// LabelVM is a label.
type LabelVM struct {
	ID    int64
	Name  string
	Color string
	On    bool // set on the conversation shown
}

// ConvRowVM is one line of the conversation list.
type ConvRowVM struct {
	ID           int64
	Name         string
	Handle       string // phone number or username
	Preview      string
	PreviewIcon  string // type of a non-text last message
	Outbound     bool
	Failed       bool // the last message could not be delivered
	LastAt       time.Time
	WaitingSince time.Time // customer's last message, zero if none
	Unread       int
	Status       string
	Assignee     string
	Labels       []LabelVM
	Active       bool
	Restricted   bool // Art. 18: shown to admins only, with a badge
	Number       string
}

// ConversationVM is the open conversation.
type ConversationVM struct {
	ID            int64
	Contact       ContactVM
	Number        NumberVM
	Status        string
	AssigneeID    int64
	Assignee      string
	Agents        []AgentVM
	Labels        []LabelVM
	Notes         []NoteVM
	Thread        ThreadVM
	WindowExpires time.Time // zero: the customer never wrote
	WindowOpen    bool
	Composer      ComposerVM
	Restricted    bool // Art. 18: nothing may be sent
	SecureLinks   SecureLinksVM
	// Participants of a group conversation (nil for a 1:1 conversation).
	Participants []string
	BotActive    bool   // an external bot answers; automations rest
	Hours        string // "Außerhalb der Geschäftszeiten, öffnet Mo 08:00."
}

// AgentVM is someone a conversation can be assigned to.
type AgentVM struct {
	ID   int64
	Name string
}

// ThreadVM is the message list of a conversation.
type ThreadVM struct {
	ConversationID int64
	Messages       []MessageVM
	OlderCursor    int64 // id to load older messages before; 0 when none
}

// NoteVM is an internal note.
type NoteVM struct {
	Author string
	Body   string
	At     time.Time
}

// ContactVM is a customer.
type ContactVM struct {
	ID       int64
	Name     string
	WaID     string
	UserID   string
	Username string
	Since    time.Time
}

// Display is the best name to show for a customer.
func (c ContactVM) Display() string {
	switch {
	case c.Name != "":
		return c.Name
	case c.WaID != "":
		return "+" + c.WaID
	case c.Username != "":
		return "@" + c.Username
	}
	return c.UserID
}

// Handle is the customer's number or username under the name.
func (c ContactVM) Handle() string {
	switch {
	case c.WaID != "":
		return "+" + c.WaID
	case c.Username != "":
		return "@" + c.Username
	}
	return c.UserID
}

// ComposerVM drives the reply box.
type ComposerVM struct {
	Enabled   bool   // sending is wired up
	Disabled  string // why free-form sending is off (window closed), empty when allowed
	Canned    []CannedVM
	Templates []TemplateVM
	Error     string
	Blocked   string // why nothing at all may be sent (restricted contact)
}

// CannedVM is a prepared answer.
type CannedVM struct {
	ID    int64
	Title string
	Body  string
}

// TemplateVM is a message template.
type TemplateVM struct {
	Name       string
	Language   string
	Category   string // "" unknown: sends treat it as MARKETING
	CategoryBy string // "meta" or "admin"
	Status     string
	Reason     string
	Detail     string
	Body       string
	Params     []string
	Usable     bool
	UpdatedAt  time.Time
	// From Meta's components (templates synced or created from Pforte).
	WABAID       string
	HeaderFormat string // "", TEXT, IMAGE, VIDEO, GIF, DOCUMENT, LOCATION
	HeaderText   string
	HeaderParams []string
	Footer       string
	Buttons      []TemplateButtonVM
	Quality      string
	Library      string
	SyncedAt     time.Time
	Deleted      bool
	Editable     bool // Meta allows edits in this status
	// The edit form's prefill, in the create form's notation.
	EditExamples string // one example a line, header first
	EditButtons  string // "Antwort: …", "Link: … | … | …", …
}

// TemplateButtonVM is one button of a template.
type TemplateButtonVM struct {
	Index    int
	Type     string // QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE, …
	Text     string
	URL      string
	Phone    string
	Param    bool // takes a value at send time (URL suffix, coupon code)
	CopyCode bool
}

// HeaderMedia is the media kind of a media header ("image", "video",
// "document"), "" otherwise.
func (t TemplateVM) HeaderMedia() string {
	switch t.HeaderFormat {
	case "IMAGE":
		return "image"
	case "VIDEO", "GIF":
		return "video"
	case "DOCUMENT":
		return "document"
	}
	return ""
}

// headerAccept is the file chooser's filter for a media header.
func headerAccept(kind string) (accept string) {
	switch kind {
	case "image":
		accept = "image/jpeg,image/png"
	case "video":
		accept = "video/mp4"
	default:
		accept = "application/pdf"
	}
	return accept
}

// Key identifies a template in forms.
func (t TemplateVM) Key() string { return t.Name + "|" + t.Language }

// MessageVM is one message, already interpreted for display.
type MessageVM struct {
	ID         int64
	WAMID      string
	Outbound   bool
	Type       string
	At         time.Time
	Text       string // text body or media caption
	Status     string // outbound: accepted, sent, delivered, read, played, failed
	FailReason string // Meta's reason in plain words
	Author     string // agent who sent it, if known

	Media       *MediaVM
	Location    *LocationVM
	Contacts    []ContactCardVM
	Choice      *ChoiceVM // a button or list reply
	Order       *OrderVM
	Reaction    *ReactionVM // a reaction shown on its own (its message is not on screen)
	Reactions   []ReactionVM
	Quote       *QuoteVM
	Referral    *ReferralVM
	Forwarded   string // "", "forwarded", "frequently"
	Unsupported string // explanation of what could not be shown
	System      string
	Template    string // outbound template name

	// Coexistence, groups and the interactive composer (issue 17).
	FromPhone   bool   // sent from the WhatsApp Business app on the phone
	History     bool   // imported from the app's earlier chats
	Edited      bool   // changed after it was sent
	Revoked     bool   // deleted for everyone by who wrote it
	Sender      string // the member who wrote a group message
	Interactive *InteractiveVM
	Pricing     *PricingVM // what Meta said an outbound message costs
}

// PricingVM is Meta's pricing of an outbound message. Agents see the
// category and whether it is charged; admins (Full) also the pricing type
// and model and the rate table's price for the recipient's country.
type PricingVM struct {
	Category string // Meta's category, normalised (marketing, utility, …)
	Type     string // regular, free_customer_service, free_entry_point, …
	Model    string // PMP; CBP in old payloads
	Billable bool
	Full     bool
	Rate     string // e.g. "0.1131 EUR"; "" when the table has no price
	Country  string // calling code the rate is for
	RateFrom string // the rate card's date
}

// InteractiveVM is what an outbound interactive message offered.
type InteractiveVM struct {
	Kind     string // button, list, cta_url, location_request_message
	Header   string
	Footer   string
	Buttons  []string // reply button titles, or the list's button
	Sections []ListSectionVM
	URL      string // cta_url
}

// ListSectionVM is one section of a list message.
type ListSectionVM struct {
	Title string
	Rows  []string
}

// MediaVM is an attached file.
type MediaVM struct {
	URL      string // empty until the file is stored
	Mime     string
	Filename string
	Size     int64
	State    string // pending, stored, failed
	Voice    bool
}

// LocationVM is a shared place.
type LocationVM struct {
	Lat, Lng      float64
	Name, Address string
	MapURL        string
}

// ContactCardVM is a shared contact card.
type ContactCardVM struct {
	Name   string
	Org    string
	Phones []string
	Emails []string
}

// ChoiceVM is a tapped button or list row.
type ChoiceVM struct {
	Kind        string // button, list, flow, template_button
	Title       string
	Description string
	Payload     string
}

// OrderVM is a catalogue order.
type OrderVM struct {
	Text  string
	Items []OrderItemVM
	Total string
}

// OrderItemVM is one order line.
type OrderItemVM struct {
	Product  string
	Quantity string
	Price    string
}

// ReactionVM is an emoji reaction.
type ReactionVM struct {
	Emoji    string // empty: the reaction was removed
	Outbound bool
	Target   string // text of the message reacted to, when shown alone
}

// QuoteVM is the message a reply refers to.
type QuoteVM struct {
	WAMID    string
	Text     string
	Outbound bool
	Missing  bool
}

// ReferralVM is click-to-WhatsApp ad attribution.
type ReferralVM struct {
	Headline  string
	Body      string
	SourceURL string
}

// ContactsVM is the contacts list.
type ContactsVM struct {
	Query    string
	Items    []ContactRowVM
	NextPage int
}

// ContactRowVM is one line of the contacts list.
type ContactRowVM struct {
	Contact       ContactVM
	Conversations int
	LastAt        time.Time
	Restricted    bool
}

// ContactDetailVM is a customer's page.
type ContactDetailVM struct {
	Contact       ContactVM
	Conversations []ConvRowVM
	Notes         []NoteVM
	Labels        []LabelVM
	Windows       []WindowVM
	Consents      []ConsentVM
	Holds         []HoldVM
	CanExport     bool
	CanErase      bool
	Restricted    bool        // Art. 18 restriction: erasure waits for a legal hold
	ShowContent   bool        // conversation previews and notes (not for auditors)
	Consent       ConsentForm // the form to record one; nil-able by CanRecord

	// Book is the address book entry (details, fields, labels).
	Book *ContactBookVM
}

// ConsentVM is one recorded consent decision.
type ConsentVM struct {
	Purpose  string
	OptIn    bool
	Source   string
	Evidence string
	Actor    string // who recorded it, as a name
	At       time.Time
}

// HoldVM is a legal hold that keeps a customer's data.
type HoldVM struct {
	ID     int64
	Reason string
	Until  time.Time // zero: until released
	Active bool
}

// WindowVM is a customer-service window with one number.
type WindowVM struct {
	Number  string
	Expires time.Time
	Open    bool
}

// TemplatesVM is the templates page.
type TemplatesVM struct {
	Templates []TemplateVM
	CanEdit   bool
	// CanManage: sending is set up, so templates can be synced with and
	// submitted to Meta.
	CanManage bool
	Error     string // why the last action failed (German, with Meta's reason)
	Notice    string
	Library   []LibraryVM
	Accounts  []string // WABA ids of the configured numbers
}

// LibraryVM is a template of Meta's library.
type LibraryVM struct {
	Name     string
	Language string
	Category string
	Body     string
}

// NewConversationVM is the "Neue Unterhaltung" page.
type NewConversationVM struct {
	Numbers   []NumberOptionVM
	Contacts  []ContactOptionVM
	Templates []TemplateVM // usable ones, with their WABAID
	Error     string
	// What was typed, shown again after an error.
	Phone, ContactKey, NumberID, TemplateKey string
}

// NumberOptionVM is a business number to send from.
type NumberOptionVM struct {
	PhoneNumberID string
	Display       string
	WABAID        string
}

// ContactOptionVM is an existing contact to write to.
type ContactOptionVM struct {
	Key   string // wa_id
	Label string
}

// SearchVM is the search results page.
type SearchVM struct {
	Query    string
	Messages []SearchHitVM
	Contacts []ContactRowVM
}

// SearchHitVM is a matching message.
type SearchHitVM struct {
	ConversationID int64
	MessageID      int64
	Contact        ContactVM
	Outbound       bool
	At             time.Time
	Snippet        []SnippetPart
}

// SnippetPart is a piece of a search snippet; Match parts are highlighted.
type SnippetPart struct {
	Text  string
	Match bool
}

// DashboardVM is the dashboard.
type DashboardVM struct {
	Days              []DayVM
	MaxPerDay         int
	TotalIn, TotalOut int
	Open, Unassigned  int
	FailedSends       int
	ResponseMedian    time.Duration
	ResponseP90       time.Duration
	ResponseSamples   int
	MediaPending      int
	MediaFailed       int
	Queues            []QueueVM
	LastWebhook       time.Time
	Deliveries24h     int
	ParseErrors24h    int
	DBBytes           int64
	MediaBytes        int64
	DiskFree          int64
	CertExpiry        time.Time
	CertError         string
	Alarms            []AlarmVM
	Automations       []AutomationCostVM // automatic messages in the last 30 days, per rule
	Satisfaction      []SatisfactionVM   // answered surveys in the last 30 days, per agent and number
}

// SatisfactionVM is one line of survey results.
type SatisfactionVM struct {
	Who      string // "Agentin Lea" or "Rufnummer +49 30 …"
	Answered int
	Percent  int
}

// AutomationCostVM is what one automatic reply sent and Meta billed.
type AutomationCostVM struct {
	Rule           string
	Sent, Billable int
}

// AlarmVM is a standing problem Pforte raised (e.g. an expired token).
type AlarmVM struct {
	Message string
	Since   time.Time
	Count   int
}

// DayVM is one bar pair of the chart.
type DayVM struct {
	Day     time.Time
	In, Out int
}

// QueueVM is a background queue's depth.
type QueueVM struct {
	Name  string
	Depth int
	Note  string
}

// SettingsVM is the settings page.
type SettingsVM struct {
	WebhookURL       string
	VerifyToken      string
	AppSecretSet     bool
	AccessTokenSet   bool
	GraphVersion     string
	LastWebhook      time.Time
	Deliveries       []DeliveryVM
	Numbers          []NumberVM
	APIKeys          []APIKeyVM
	NewAPIKey        string // shown once after creation
	Require2FA       bool
	Canned           []CannedVM
	Labels           []LabelVM
	LabelColors      []string
	Subscriptions    []SubscriptionVM
	SubscriptionNote string
	Alarms           []AlarmVM
	SendingOff       bool // no access token when Pforte started
	// Storage says per phone number id whether Meta's Local Storage is on,
	// as the health monitor last read it from GET /{id}/settings.
	Storage map[string]NumberHealthVM
	// Replica is the off-site replication's state, read-only; nil: off.
	Replica *ReplicaVM
	// ReplicaForm sets the off-site replication up; nil: not offered.
	ReplicaForm *ReplicaFormVM
}

// ReplicaVM is what the replicator last reported (the status file that
// "pforte replica status" and "pforte doctor" read).
type ReplicaVM struct {
	Target      string // redacted: no credentials, no query secrets
	Encrypted   bool
	Reported    bool // the replicator has written a status at all
	LastSync    time.Time
	LagSeconds  float64
	LastError   string
	LastErrorAt time.Time
	Retention   time.Duration
	Stopped     bool
}

// DeliveryVM is a line of the webhook delivery log.
type DeliveryVM struct {
	ID       int64
	At       time.Time
	Bytes    int
	Verdict  string // ok, duplicate, parse_error
	Detail   string
	Messages int
	Statuses int
	Events   int
}

// APIKeyVM is an API key without its secret.
type APIKeyVM struct {
	ID       int64
	Name     string
	Prefix   string
	Scopes   []string
	Created  time.Time
	LastUsed time.Time
	Revoked  bool
}

// SubscriptionVM is a fan-out subscription's state.
type SubscriptionVM struct {
	ID          int64
	Name        string
	URL         string
	Enabled     bool
	Pending     int64
	Dead        int64
	OldestAge   time.Duration
	Delivered   int64
	LastSuccess time.Time
	LastError   string
	LastErrorAt time.Time
}

// UsersVM is the user management page.
type UsersVM struct {
	Users      []UserRowVM
	InviteLink string // shown once after an invite
	InviteFor  string
	SelfID     int64
}

// UserRowVM is one account.
type UserRowVM struct {
	ID        int64
	Name      string
	Email     string
	Role      string
	TwoFactor bool
	Disabled  bool
	Pending   bool // invited, no password yet
	Sessions  int
	Created   time.Time
}

// AuditVM is the audit log page.
type AuditVM struct {
	Entries  []AuditRowVM
	Next     int64
	Verified bool // the hash chain was checked for this page view
	ChainOK  bool
	BrokenAt int64
	Names    AuditNames // who and what the entries' ids are
}

// ActorKind is what kind of actor an audit entry names. The panel reads
// it from the stored store.Actor; web, a leaf, cannot import store.
type ActorKind uint8

// Actor kinds; ActorOther is shown as stored.
const (
	ActorOther ActorKind = iota
	ActorUser
	ActorAPIKey
	ActorSystem
	ActorStopReply
	ActorCLI
	ActorSetup
	ActorAnonymous
	ActorCustomer
	ActorRestore
	ActorUnknown
)

// ActorVM is who did something, parsed by the panel.
type ActorVM struct {
	Kind   ActorKind
	UserID int64  // ActorUser
	Key    string // ActorAPIKey: the key's prefix
	Raw    string // as stored, for the data attribute and ActorOther
}

// AuditRowVM is one audit entry.
type AuditRowVM struct {
	ID     int64
	At     time.Time
	Actor  ActorVM
	Action string
	Target string
	Detail string
	IP     string
}

// AccountVM is the own-account page.
type AccountVM struct {
	Email         string
	Lang          string
	Notify        bool
	TwoFactor     bool
	Require2FA    bool
	Sessions      []SessionVM
	Enrol         *EnrolVM
	RecoveryCodes []string // shown once after enrolment
	Error         string
	Info          string
	Available     bool // takes new conversations (routing)
	Routable      bool // an agent or admin: the availability switch applies
}

// SessionVM is one logged-in browser.
type SessionVM struct {
	Created  time.Time
	LastSeen time.Time
	IP       string
	Agent    string
	Current  bool
}

// EnrolVM is the TOTP enrolment step.
type EnrolVM struct {
	Secret string // base32, for typing in by hand
	QR     QRVM
}

// QRVM is a QR code as a grid of dark modules, drawn as SVG.
type QRVM struct {
	Size  int
	Cells [][2]int // dark module coordinates
}
