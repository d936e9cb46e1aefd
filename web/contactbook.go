package web

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The address book's view models: the list with filters, the contact
// form, custom fields, the import steps.

// AddressBookVM is the contacts list with its filters.
type AddressBookVM struct {
	Query      string
	LabelID    int64
	FieldKey   string
	FieldValue string
	Labels     []LabelVM
	Fields     []ContactFieldVM
	Items      []AddressRowVM
	NextPage   int
	NextURL    string
	CanEdit    bool // new contact (agents, admins)
	CanAdmin   bool // import, export, fields
	Error      string
}

// AddressRowVM is one contact in the list.
type AddressRowVM struct {
	Contact       ContactVM
	Email         string
	Company       string
	Labels        []LabelVM
	Conversations int
	LastAt        time.Time
	Restricted    bool
}

// ContactFieldVM is a custom field: its definition, and in forms its value
// and error.
type ContactFieldVM struct {
	ID      int64
	Key     string
	Label   string
	Kind    string // text, number, date, choice
	Choices []string
	Value   string
	Error   string
}

// ContactFormVM is the form to create (ID 0) or edit a contact.
type ContactFormVM struct {
	ID      int64
	Phone   string
	UserID  string
	Name    string
	Email   string
	Company string
	Note    string
	Fields  []ContactFieldVM
	Labels  []LabelVM // On: set
	Errors  map[string]string
	Error   string
}

// ContactBookVM is the address book part of a contact's page.
type ContactBookVM struct {
	Email          string
	Company        string
	Note           string
	Fields         []ContactFieldVM
	Labels         []LabelVM
	CanEdit        bool
	CanMerge       bool
	CanRequestInfo bool     // only a business-scoped user id is known
	Numbers        []string // business numbers the person wrote to (phone_number_id), for the request
	MergeError     string
}

// ContactFieldsVM is the admin page of custom fields.
type ContactFieldsVM struct {
	Fields []ContactFieldVM
	Form   ContactFieldVM
	Errors map[string]string
}

// ImportTargetVM is an option of the column mapping.
type ImportTargetVM struct {
	Value string
	Label string
}

// ImportVM is the CSV import: upload, then mapping with preview, then
// the result of a dry run or the import.
type ImportVM struct {
	Error     string
	Token     string
	FileName  string
	Encoding  string
	Separator string
	Header    []string
	Mapping   []string
	Targets   []ImportTargetVM
	Preview   [][]string
	Result    *ImportResultVM
}

// ImportResultVM reports a dry run or an import.
type ImportResultVM struct {
	DryRun   bool
	Imported bool
	Rows     int
	Created  int
	Updated  int
	Consents int
	Labels   int
	Refused  int
	Errors   []ImportRowErrorVM
}

// ImportRowErrorVM is one refused row.
type ImportRowErrorVM struct {
	Line    int
	Field   string
	Message string
}

// FieldKindLabel names a custom field kind.
func FieldKindLabel(ctx context.Context, kind string) string {
	switch kind {
	case "text":
		return T(ctx, "Text")
	case "number":
		return T(ctx, "Zahl")
	case "date":
		return T(ctx, "Datum")
	case "choice":
		return T(ctx, "Auswahl")
	}
	return kind
}

// ReasonText is the German sentence for refused input (store.Reason).
func ReasonText(ctx context.Context, reason string) string {
	switch reason {
	case "required":
		return T(ctx, "Bitte ausfüllen.")
	case "too_long":
		return T(ctx, "Zu lang.")
	case "invalid_phone":
		return T(ctx, "Keine gültige Telefonnummer. Bitte mit Ländervorwahl (+49 151 …) oder als deutsche Nummer (0151 …) angeben.")
	case "invalid_email":
		return T(ctx, "Keine gültige E-Mail-Adresse.")
	case "invalid_number":
		return T(ctx, "Keine Zahl (z. B. 1234,50).")
	case "invalid_date":
		return T(ctx, "Kein gültiges Datum (TT.MM.JJJJ).")
	case "invalid_choice":
		return T(ctx, "Dieser Wert steht nicht zur Auswahl.")
	case "invalid_key":
		return T(ctx, "Ungültig: nur Kleinbuchstaben, Ziffern und _, am Anfang ein Buchstabe.")
	case "invalid_kind":
		return T(ctx, "Unbekannte Art.")
	case "unknown_field":
		return T(ctx, "Dieses Feld gibt es nicht.")
	case "unknown_label":
		return T(ctx, "Dieses Label gibt es nicht.")
	case "duplicate":
		return T(ctx, "Schon vergeben: Ein anderer Kontakt hat diesen Wert.")
	case "no_identifier":
		return T(ctx, "Die Zeile hat keine Telefonnummer.")
	case "conflict":
		return T(ctx, "Passt nicht zusammen: Nummer und Kennung gehören zu zwei verschiedenen Kontakten.")
	case "invalid_consent":
		return T(ctx, "Einwilligung nicht lesbar: bitte ja/nein (oder leer).")
	}
	return T(ctx, "Ungültige Eingabe.")
}

// ImportTargetLabel names a built-in import target: the form's fields,
// plus the targets only an import has.
func ImportTargetLabel(ctx context.Context, target string) string {
	switch target {
	case "":
		return T(ctx, "– nicht importieren –")
	case "first_name":
		return T(ctx, "Vorname")
	case "last_name":
		return T(ctx, "Nachname")
	}
	return FieldLabel(ctx, target)
}

// FieldLabel names a contact form field in error lists.
func FieldLabel(ctx context.Context, field string) string {
	switch field {
	case "phone":
		return T(ctx, "Telefonnummer")
	case "user_id":
		return T(ctx, "Unternehmensbezogene WhatsApp-ID (BSUID)")
	case "name":
		return T(ctx, "Name")
	case "email":
		return T(ctx, "E-Mail-Adresse")
	case "company":
		return T(ctx, "Firma")
	case "note":
		return T(ctx, "Notiz")
	case "labels":
		return T(ctx, "Labels")
	case "consent_marketing":
		return T(ctx, "Einwilligung Werbung")
	case "consent_service":
		return T(ctx, "Einwilligung Kundenservice")
	case "consent_date":
		return T(ctx, "Datum der Einwilligung")
	}
	return field
}

// FilterQuery is the list's filter as a URL query (for paging and the
// export link).
func FilterQuery(q string, label int64, field, value string) string {
	v := url.Values{}
	if q != "" {
		v.Set("q", q)
	}
	if label > 0 {
		v.Set("label", strconv.FormatInt(label, 10))
	}
	if field != "" {
		v.Set("field", field)
		v.Set("value", value)
	}
	return v.Encode()
}

func joinComma(s []string) string { return strings.Join(s, ", ") }

func joinLines(s []string) string { return strings.Join(s, "\n") }
