package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The address book: contact details, admin-defined custom fields, labels
// on contacts, filters, merging. Tables: schema430AddressBook.

// FieldKind is the type of a custom field.
type FieldKind string

// Custom field kinds.
const (
	FieldText   FieldKind = "text"
	FieldNumber FieldKind = "number"
	FieldDate   FieldKind = "date"
	FieldChoice FieldKind = "choice"
)

// FieldKinds lists the kinds, for forms and validation.
var FieldKinds = []FieldKind{FieldText, FieldNumber, FieldDate, FieldChoice}

// Valid reports whether k is a known kind.
func (k FieldKind) Valid() bool { return slices.Contains(FieldKinds, k) }

// ContactField is a custom field an admin defined.
type ContactField struct {
	ID      int64
	Key     string // lower case a-z, 0-9, _; the API's and CSV's name
	Label   string
	Kind    FieldKind
	Choices []string // kind choice only
}

// Reason says what is wrong with one input field; the panel turns it into
// a German sentence, the API hands it on with the field's name.
type Reason string

// Reasons for refused input.
const (
	ReasonRequired       Reason = "required"
	ReasonTooLong        Reason = "too_long"
	ReasonInvalidPhone   Reason = "invalid_phone"
	ReasonInvalidEmail   Reason = "invalid_email"
	ReasonInvalidNumber  Reason = "invalid_number"
	ReasonInvalidDate    Reason = "invalid_date"
	ReasonInvalidChoice  Reason = "invalid_choice"
	ReasonInvalidKey     Reason = "invalid_key"
	ReasonInvalidKind    Reason = "invalid_kind"
	ReasonUnknownField   Reason = "unknown_field"
	ReasonUnknownLabel   Reason = "unknown_label"
	ReasonDuplicate      Reason = "duplicate"
	ReasonNoIdentifier   Reason = "no_identifier"
	ReasonConflict       Reason = "conflict"
	ReasonInvalidConsent Reason = "invalid_consent"
)

// FieldError is refused input naming the field. errors.Is(err, ErrInvalid)
// holds for it.
type FieldError struct {
	Field  string // "phone", "email", "fields.kundennummer", ...
	Reason Reason
	Detail string // English, for the API and logs
}

func (e *FieldError) Error() string {
	if e.Detail != "" {
		return fmt.Sprintf("store: %s: %s (%s)", e.Field, e.Reason, e.Detail)
	}
	return fmt.Sprintf("store: %s: %s", e.Field, e.Reason)
}

// Unwrap makes a FieldError an ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

func fieldErr(field string, r Reason, detail string) *FieldError {
	return &FieldError{Field: field, Reason: r, Detail: detail}
}

// Length limits of the address book's text fields (characters).
const (
	MaxContactName  = 200
	MaxContactEmail = 254
	MaxContactText  = 200 // company, text fields
	MaxContactNote  = 4000
)

// ParsePhoneE164 reads a phone number as people type it and returns the
// E.164 digits without "+" (Meta's wa_id form). "+49 151 …", "0049 151 …"
// and "0151 …" (a German national number: the leading 0 becomes +49) are
// accepted, with spaces, dashes, dots, slashes and brackets; a number of
// 10 or more digits without prefix is taken as already international
// (as Meta and exports write wa_ids). Letters, a second "+", and results
// outside 8–15 digits are refused.
func ParsePhoneE164(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 40 {
		return "", false
	}
	var b strings.Builder
	plus := false
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+':
			if i != 0 || plus {
				return "", false
			}
			plus = true
		case r == ' ' || r == '-' || r == '.' || r == '/' || r == '(' || r == ')' || r == '\u00a0':
		default:
			return "", false
		}
	}
	d := b.String()
	switch {
	case plus:
	case strings.HasPrefix(d, "00"):
		d = d[2:]
	case strings.HasPrefix(d, "0"):
		d = "49" + d[1:]
	case len(d) < 10:
		return "", false // too short to carry a country code
	}
	// "+49 (0) 151 …" writes the trunk zero after the country code.
	if trunk := strings.Index(s, "(0)"); trunk > 0 && strings.HasPrefix(d, "490") {
		d = "49" + d[3:]
	}
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", false
	}
	return d, true
}

var fieldKeyRe = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// NormalizeFieldValue checks a custom field value and returns its stored
// form: numbers as strconv writes them (German "1.234,5" is read too),
// dates as YYYY-MM-DD (also read from DD.MM.YYYY), choices as defined.
// An empty value means "no value".
func NormalizeFieldValue(f ContactField, v string) (string, Reason) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", ""
	}
	switch f.Kind {
	case FieldText:
		if utf8.RuneCountInString(v) > MaxContactText {
			return "", ReasonTooLong
		}
		return v, ""
	case FieldNumber:
		n, ok := parseNumber(v)
		if !ok {
			return "", ReasonInvalidNumber
		}
		return strconv.FormatFloat(n, 'f', -1, 64), ""
	case FieldDate:
		for _, layout := range []string{"2006-01-02", "02.01.2006", "2.1.2006"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t.Format("2006-01-02"), ""
			}
		}
		return "", ReasonInvalidDate
	case FieldChoice:
		for _, c := range f.Choices {
			if strings.EqualFold(c, v) {
				return c, ""
			}
		}
		return "", ReasonInvalidChoice
	}
	return "", ReasonInvalidKind
}

// parseNumber reads 1234.5, 1234,5 and 1.234,5 (German) but not 1,234.5
// mixed with a German decimal comma.
func parseNumber(v string) (float64, bool) {
	v = strings.ReplaceAll(v, " ", "")
	if strings.Contains(v, ",") {
		if strings.Count(v, ",") > 1 {
			return 0, false
		}
		v = strings.ReplaceAll(v, ".", "")
		v = strings.Replace(v, ",", ".", 1)
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n != n || n > 1e15 || n < -1e15 {
		return 0, false
	}
	return n, true
}

// ValidateField checks a custom field definition.
func ValidateField(f *ContactField) error {
	f.Key, f.Label = strings.TrimSpace(f.Key), strings.TrimSpace(f.Label)
	if !fieldKeyRe.MatchString(f.Key) {
		return fieldErr("key", ReasonInvalidKey, "lower case letters, digits and _; starting with a letter; at most 40")
	}
	if f.Label == "" {
		return fieldErr("label", ReasonRequired, "")
	}
	if utf8.RuneCountInString(f.Label) > 60 {
		return fieldErr("label", ReasonTooLong, "at most 60 characters")
	}
	if !f.Kind.Valid() {
		return fieldErr("kind", ReasonInvalidKind, "text, number, date or choice")
	}
	var choices []string
	for _, c := range f.Choices {
		if c = strings.TrimSpace(c); c != "" && !slices.Contains(choices, c) {
			if utf8.RuneCountInString(c) > 60 {
				return fieldErr("choices", ReasonTooLong, "a choice has at most 60 characters")
			}
			choices = append(choices, c)
		}
	}
	f.Choices = nil
	if f.Kind == FieldChoice {
		if len(choices) == 0 || len(choices) > 100 {
			return fieldErr("choices", ReasonRequired, "a choice field needs 1 to 100 choices")
		}
		f.Choices = choices
	}
	return nil
}

// ContactFields lists the custom fields by label.
func (s *Store) ContactFields(ctx context.Context) ([]ContactField, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT id, key, label, kind, choices FROM contact_fields ORDER BY label COLLATE NOCASE, id")
	if err != nil {
		return nil, fmt.Errorf("store: contact fields: %w", err)
	}
	defer rows.Close()
	var out []ContactField
	for rows.Next() {
		var f ContactField
		var choices string
		if err := rows.Scan(&f.ID, &f.Key, &f.Label, &f.Kind, &choices); err != nil {
			return nil, fmt.Errorf("store: contact fields: %w", err)
		}
		_ = json.Unmarshal([]byte(choices), &f.Choices)
		out = append(out, f)
	}
	return out, rows.Err()
}

// SaveContactField creates (ID 0) or changes a custom field, audited. The
// key and kind of an existing field stay: values were checked against them.
func (s *Store) SaveContactField(ctx context.Context, f ContactField, actor Actor, now time.Time) (*ContactField, error) {
	if err := ValidateField(&f); err != nil {
		return nil, err
	}
	choices, _ := json.Marshal(f.Choices)
	if f.Choices == nil {
		choices = []byte("[]")
	}
	err := s.Write(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow("SELECT count(*) FROM contact_fields WHERE key = ? AND id != ?", f.Key, f.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fieldErr("key", ReasonDuplicate, "a field with this key exists")
		}
		action := AuditContactFieldCreate
		if f.ID == 0 {
			if err := tx.QueryRow(`INSERT INTO contact_fields(key, label, kind, choices, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
				RETURNING id`, f.Key, f.Label, f.Kind, string(choices), now.Unix(), now.Unix()).Scan(&f.ID); err != nil {
				return err
			}
		} else {
			action = AuditContactFieldUpdate
			var kind FieldKind
			var key string
			err := tx.QueryRow("SELECT key, kind FROM contact_fields WHERE id = ?", f.ID).Scan(&key, &kind)
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			} else if err != nil {
				return err
			}
			f.Key, f.Kind = key, kind
			if kind != FieldChoice {
				choices, f.Choices = []byte("[]"), nil
			}
			if _, err := tx.Exec("UPDATE contact_fields SET label = ?, choices = ?, updated_at = ? WHERE id = ?",
				f.Label, string(choices), now.Unix(), f.ID); err != nil {
				return err
			}
		}
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: actor, Action: action, Target: fmt.Sprintf("contact_field:%d", f.ID),
			Detail: jsonDetail(map[string]any{"key": f.Key, "label": f.Label, "kind": f.Kind, "choices": f.Choices})})
	})
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) || errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return nil, fmt.Errorf("store: save contact field: %w", err)
	}
	return &f, nil
}

// DeleteContactField removes a field and every contact's value of it.
func (s *Store) DeleteContactField(ctx context.Context, id int64, actor Actor, now time.Time) error {
	err := s.Write(ctx, func(tx *Tx) error {
		var key string
		if err := tx.QueryRow("DELETE FROM contact_fields WHERE id = ? RETURNING key", id).Scan(&key); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: actor, Action: AuditContactFieldDelete, Target: fmt.Sprintf("contact_field:%d", id),
			Detail: jsonDetail(map[string]any{"key": key})})
	})
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: delete contact field: %w", err)
	}
	return err
}

// ContactInput is a contact as a form, the API or an import row gives it.
// A nil pointer leaves the stored value alone (PATCH); on create nil is
// empty.
type ContactInput struct {
	Phone    *string // as typed; normalised with ParsePhoneE164
	UserID   *string // business-scoped user id (import of known BSUIDs)
	Name     *string
	Email    *string
	Company  *string
	Note     *string
	Fields   map[string]string // by field key; "" removes the value
	LabelIDs *[]int64          // replaces the contact's labels
}

// contactRow is validated input in stored form.
type contactRow struct {
	waID, userID               *string
	name, email, company, note *string
	fields                     map[int64]string // "" deletes
	labels                     *[]int64
}

// CheckContactInput validates input against the field definitions without
// touching the database: forms, the API and the import's dry run share it.
// The first problem is returned.
func CheckContactInput(in ContactInput, defs []ContactField) error {
	_, err := checkContact(in, defs)
	return err
}

func checkContact(in ContactInput, defs []ContactField) (*contactRow, error) {
	var r contactRow
	if in.Phone != nil {
		v := strings.TrimSpace(*in.Phone)
		if v != "" {
			d, ok := ParsePhoneE164(v)
			if !ok {
				return nil, fieldErr("phone", ReasonInvalidPhone, "not a phone number in E.164 (+49 151 …) or German (0151 …) form")
			}
			v = d
		}
		r.waID = &v
	}
	if in.UserID != nil {
		v := strings.TrimSpace(*in.UserID)
		if len(v) > 100 || strings.ContainsAny(v, " \t\r\n") {
			return nil, fieldErr("user_id", ReasonInvalidKey, "not a business-scoped user id")
		}
		r.userID = &v
	}
	text := func(name string, p *string, max int) (*string, error) {
		if p == nil {
			return nil, nil
		}
		v := strings.TrimSpace(*p)
		if utf8.RuneCountInString(v) > max {
			return nil, fieldErr(name, ReasonTooLong, fmt.Sprintf("at most %d characters", max))
		}
		if !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return nil, fieldErr(name, ReasonInvalidKey, "not valid text")
		}
		return &v, nil
	}
	var err error
	if r.name, err = text("name", in.Name, MaxContactName); err != nil {
		return nil, err
	}
	if r.email, err = text("email", in.Email, MaxContactEmail); err != nil {
		return nil, err
	}
	if r.email != nil && *r.email != "" {
		a, perr := mail.ParseAddress(*r.email)
		if perr != nil || a.Address != *r.email || !strings.Contains(a.Address[strings.LastIndexByte(a.Address, '@'):], ".") {
			return nil, fieldErr("email", ReasonInvalidEmail, "not an e-mail address")
		}
	}
	if r.company, err = text("company", in.Company, MaxContactText); err != nil {
		return nil, err
	}
	if r.note, err = text("note", in.Note, MaxContactNote); err != nil {
		return nil, err
	}
	if len(in.Fields) > 0 {
		r.fields = make(map[int64]string, len(in.Fields))
		// Sorted keys: the same input always reports the same first error.
		keys := make([]string, 0, len(in.Fields))
		for k := range in.Fields {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			i := slices.IndexFunc(defs, func(f ContactField) bool { return f.Key == k })
			if i < 0 {
				return nil, fieldErr("fields."+k, ReasonUnknownField, "no custom field has this key")
			}
			v, reason := NormalizeFieldValue(defs[i], in.Fields[k])
			if reason != "" {
				return nil, fieldErr("fields."+k, reason, "")
			}
			r.fields[defs[i].ID] = v
		}
	}
	r.labels = in.LabelIDs
	return &r, nil
}

// ContactDetails is what the address book keeps beyond identifiers.
type ContactDetails struct {
	Email, Company, Note string
	Fields               map[string]string // by key, stored form
	Labels               []Label
}

// ContactDetails reads a contact's address book entry.
func (s *Store) ContactDetails(ctx context.Context, id int64) (*ContactDetails, error) {
	d := ContactDetails{Fields: map[string]string{}}
	err := s.rdb.QueryRowContext(ctx, "SELECT email, company, note FROM contacts WHERE id = ?", id).Scan(&d.Email, &d.Company, &d.Note)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: contact details: %w", err)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT f.key, v.value FROM contact_field_values v JOIN contact_fields f ON f.id = v.field_id
		WHERE v.contact_id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("store: contact details: %w", err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: contact details: %w", err)
		}
		d.Fields[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: contact details: %w", err)
	}
	if d.Labels, err = s.ContactLabels(ctx, id); err != nil {
		return nil, err
	}
	return &d, nil
}

// ContactLabels lists the labels on a contact by name.
func (s *Store) ContactLabels(ctx context.Context, id int64) ([]Label, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT l.id, l.name, l.color FROM contact_labels cl JOIN labels l ON l.id = cl.label_id
		WHERE cl.contact_id = ? ORDER BY l.name`, id)
	if err != nil {
		return nil, fmt.Errorf("store: contact labels: %w", err)
	}
	defer rows.Close()
	var out []Label
	for rows.Next() {
		var l Label
		if err := rows.Scan(&l.ID, &l.Name, &l.Color); err != nil {
			return nil, fmt.Errorf("store: contact labels: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// CreateContact adds an address book entry. It needs a phone number or a
// user id; ErrExists-like conflicts come back as a FieldError on phone.
func (s *Store) CreateContact(ctx context.Context, in ContactInput, actor Actor, now time.Time) (*Contact, error) {
	defs, err := s.ContactFields(ctx)
	if err != nil {
		return nil, err
	}
	r, err := checkContact(in, defs)
	if err != nil {
		return nil, err
	}
	if (r.waID == nil || *r.waID == "") && (r.userID == nil || *r.userID == "") {
		return nil, fieldErr("phone", ReasonRequired, "a contact needs a phone number")
	}
	var id int64
	err = s.Write(ctx, func(tx *Tx) error {
		var err error
		id, err = insertContactTx(tx, r, now)
		if err != nil {
			return err
		}
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: actor, Action: AuditContactCreate, Target: fmt.Sprintf("contact:%d", id),
			Detail: jsonDetail(r.auditFields())})
	})
	if err != nil {
		return nil, wrapContactErr("create contact", err)
	}
	return s.ContactByID(ctx, id)
}

func wrapContactErr(what string, err error) error {
	if err == nil {
		return nil
	}
	var fe *FieldError
	if errors.As(err, &fe) || errors.Is(err, ErrNotFound) {
		return err
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

// auditFields names what changed, never the values: the audit trail
// outlives an erasure and must not keep a person's details.
func (r *contactRow) auditFields() map[string]any {
	var changed []string
	for _, f := range []struct {
		n string
		p *string
	}{{"phone", r.waID}, {"user_id", r.userID}, {"name", r.name}, {"email", r.email}, {"company", r.company}, {"note", r.note}} {
		if f.p != nil {
			changed = append(changed, f.n)
		}
	}
	if len(r.fields) > 0 {
		changed = append(changed, "fields")
	}
	if r.labels != nil {
		changed = append(changed, "labels")
	}
	return map[string]any{"changed": changed}
}

func nullIfEmpty(p *string) any {
	if p == nil || *p == "" {
		return nil
	}
	return *p
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func insertContactTx(tx *Tx, r *contactRow, now time.Time) (int64, error) {
	if err := identifierFree(tx, r, 0); err != nil {
		return 0, err
	}
	id, _, err := tx.Insert(`INSERT INTO contacts(wa_id, user_id, name, email, company, note, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, nullIfEmpty(r.waID), nullIfEmpty(r.userID), str(r.name), str(r.email), str(r.company), str(r.note),
		now.Unix(), now.Unix())
	if err != nil {
		return 0, err
	}
	return id, writeContactExtras(tx, id, r)
}

// identifierFree refuses a phone number or user id another contact has.
func identifierFree(tx *Tx, r *contactRow, self int64) error {
	if r.waID != nil && *r.waID != "" {
		var other int64
		if err := tx.QueryRow("SELECT id FROM contacts WHERE wa_id = ? AND id != ?", *r.waID, self).Scan(&other); err == nil {
			return fieldErr("phone", ReasonDuplicate, fmt.Sprintf("contact %d has this number", other))
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	if r.userID != nil && *r.userID != "" {
		var other int64
		if err := tx.QueryRow("SELECT id FROM contacts WHERE user_id = ? AND id != ?", *r.userID, self).Scan(&other); err == nil {
			return fieldErr("user_id", ReasonDuplicate, fmt.Sprintf("contact %d has this user id", other))
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	return nil
}

func writeContactExtras(tx *Tx, id int64, r *contactRow) error {
	for fid, v := range r.fields {
		if v == "" {
			if _, err := tx.Exec("DELETE FROM contact_field_values WHERE contact_id = ? AND field_id = ?", id, fid); err != nil {
				return err
			}
			continue
		}
		if _, err := tx.Exec(`INSERT INTO contact_field_values(contact_id, field_id, value) VALUES (?, ?, ?)
			ON CONFLICT (contact_id, field_id) DO UPDATE SET value = excluded.value`, id, fid, v); err != nil {
			return err
		}
	}
	if r.labels != nil {
		if _, err := tx.Exec("DELETE FROM contact_labels WHERE contact_id = ?", id); err != nil {
			return err
		}
		for _, l := range *r.labels {
			res, err := tx.Exec("INSERT INTO contact_labels(contact_id, label_id) SELECT ?, id FROM labels WHERE id = ? ON CONFLICT DO NOTHING", id, l)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n == 0 {
				var one int
				if err := tx.QueryRow("SELECT 1 FROM labels WHERE id = ?", l).Scan(&one); errors.Is(err, sql.ErrNoRows) {
					return fieldErr("labels", ReasonUnknownLabel, fmt.Sprintf("label %d does not exist", l))
				}
			}
		}
	}
	return nil
}

// UpdateContact changes the given parts of a contact, audited. A phone
// number or user id already set stays unless changed explicitly, and a
// contact never loses its last identifier.
func (s *Store) UpdateContact(ctx context.Context, id int64, in ContactInput, actor Actor, now time.Time) error {
	defs, err := s.ContactFields(ctx)
	if err != nil {
		return err
	}
	r, err := checkContact(in, defs)
	if err != nil {
		return err
	}
	err = s.Write(ctx, func(tx *Tx) error {
		var wa, uid sql.NullString
		if err := tx.QueryRow("SELECT wa_id, user_id FROM contacts WHERE id = ?", id).Scan(&wa, &uid); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		newWa, newUID := wa.String, uid.String
		if r.waID != nil {
			newWa = *r.waID
		}
		if r.userID != nil {
			newUID = *r.userID
		}
		if newWa == "" && newUID == "" {
			return fieldErr("phone", ReasonRequired, "a contact needs a phone number or a user id")
		}
		if err := identifierFree(tx, r, id); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE contacts SET wa_id = ?, user_id = ?, name = coalesce(?, name), email = coalesce(?, email),
			company = coalesce(?, company), note = coalesce(?, note), updated_at = ? WHERE id = ?`,
			nullIfEmpty(&newWa), nullIfEmpty(&newUID), ptrOrNil(r.name), ptrOrNil(r.email), ptrOrNil(r.company), ptrOrNil(r.note),
			now.Unix(), id); err != nil {
			return err
		}
		if err := writeContactExtras(tx, id, r); err != nil {
			return err
		}
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: actor, Action: AuditContactUpdate, Target: fmt.Sprintf("contact:%d", id),
			Detail: jsonDetail(r.auditFields())})
	})
	return wrapContactErr("update contact", err)
}

func ptrOrNil(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}

// ContactFilter selects contacts: every set condition must hold. Campaign
// audiences use the same filter (ContactIDsMatching).
type ContactFilter struct {
	Query         string       // name, number, e-mail, company, user id or username contains
	LabelIDs      []int64      // has every one of these labels
	Fields        []FieldMatch // custom field equals
	PhoneNumberID string       // has a conversation with this business number
	// LastContactBefore/After bound the newest message of any of the
	// contact's conversations (unix seconds; 0 = no bound). A contact
	// without messages has no last contact and matches neither.
	LastContactBefore, LastContactAfter int64
	HideRestricted                      bool
}

// FieldMatch is "custom field Key equals Value" (Value in any form
// NormalizeFieldValue accepts).
type FieldMatch struct {
	Key   string
	Value string
}

// selective is how many rows a condition may match and still drive the
// query (c.id IN (…), then sorted); a condition matching more is checked
// row by row while contacts are read newest first, which finds a page
// quickly because matches are dense. Either way a page costs a few
// milliseconds at 100 000 contacts (BenchmarkContactList100k).
const selective = 2000

// contactFTSQuery quotes a word as a trigram phrase: a substring.
func contactFTSQuery(w string) string { return `"` + strings.ReplaceAll(w, `"`, `""`) + `"` }

func int64sToAny(ids []int64) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

// where builds the filter's conditions on contacts c.
func (s *Store) where(ctx context.Context, f ContactFilter, defs []ContactField) (string, []any, error) {
	var conds []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "?" + strconv.Itoa(len(args))
	}
	// in adds "c.id IN (sub)" when sub is selective, else rowwise. Both
	// are written with placeholders ?1§, ?2§, … for the sub-query's
	// arguments, numbered here; the estimate numbers them ?1, ?2, ….
	plain := func(q string) string {
		for i := 9; i >= 1; i-- {
			q = strings.ReplaceAll(q, "?"+strconv.Itoa(i)+"§", "?"+strconv.Itoa(i))
		}
		return q
	}
	in := func(sub, rowwise string, subArgs ...any) error {
		rows, err := s.rdb.QueryContext(ctx, plain(sub)+" LIMIT ?"+strconv.Itoa(len(subArgs)+1), append(subArgs, selective+1)...)
		if err != nil {
			return fmt.Errorf("store: contact filter: %w", err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("store: contact filter: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("store: contact filter: %w", err)
		}
		if len(ids) <= selective {
			// The ids found drive the query: the sub-query runs once.
			conds = append(conds, "c.id IN (SELECT value FROM json_each("+arg(jsonArray(int64sToAny(ids)))+"))")
			return nil
		}
		cond := rowwise
		for i, a := range subArgs {
			if p := "?" + strconv.Itoa(i+1) + "§"; strings.Contains(cond, p) {
				cond = strings.ReplaceAll(cond, p, arg(a))
			}
		}
		conds = append(conds, cond)
		return nil
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		// A query without letters is a phone number (typed in any form);
		// otherwise every word must appear in one of the text columns.
		if digits := normalizePhone(q); digits != "" || !strings.ContainsFunc(q, unicode.IsLetter) {
			if d, ok := ParsePhoneE164(q); ok {
				digits = d
			}
			if len(digits) < 3 {
				conds = append(conds, "c.wa_id LIKE "+arg("%"+digits+"%"))
			} else if err := in("SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?1§", "c.wa_id LIKE '%' || ?2§ || '%'",
				"wa_id : "+contactFTSQuery(digits), digits); err != nil {
				return "", nil, err
			}
		} else {
			likeWord := func(w string) string {
				like := arg("%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(w) + "%")
				return fmt.Sprintf(`(c.name LIKE %[1]s ESCAPE '\' OR c.email LIKE %[1]s ESCAPE '\' OR c.company LIKE %[1]s ESCAPE '\'
					OR c.user_id LIKE %[1]s ESCAPE '\' OR c.username LIKE %[1]s ESCAPE '\')`, like)
			}
			var long []string
			for _, w := range strings.Fields(q) {
				if utf8.RuneCountInString(w) >= 3 {
					long = append(long, w)
				} else {
					conds = append(conds, likeWord(w))
				}
			}
			if len(long) > 0 {
				var match []string
				for _, w := range long {
					match = append(match, contactFTSQuery(w))
				}
				// With too many matches to drive the page, contacts are read
				// newest first and each is compared: matches are dense then.
				n := len(conds)
				if err := in("SELECT rowid FROM contacts_fts WHERE contacts_fts MATCH ?1§", "§words", strings.Join(match, " AND ")); err != nil {
					return "", nil, err
				}
				if conds[n] == "§words" {
					conds = conds[:n]
					for _, w := range long {
						conds = append(conds, likeWord(w))
					}
				}
			}
		}
	}
	for _, l := range f.LabelIDs {
		if err := in("SELECT contact_id FROM contact_labels WHERE label_id = ?1§",
			"EXISTS (SELECT 1 FROM contact_labels cl WHERE cl.contact_id = c.id AND cl.label_id = ?1§)", l); err != nil {
			return "", nil, err
		}
	}
	for _, m := range f.Fields {
		i := slices.IndexFunc(defs, func(d ContactField) bool { return d.Key == m.Key })
		if i < 0 {
			return "", nil, fieldErr("fields."+m.Key, ReasonUnknownField, "no custom field has this key")
		}
		v, reason := NormalizeFieldValue(defs[i], m.Value)
		if reason != "" {
			return "", nil, fieldErr("fields."+m.Key, reason, "")
		}
		if v == "" {
			conds = append(conds, "NOT EXISTS (SELECT 1 FROM contact_field_values v WHERE v.contact_id = c.id AND v.field_id = "+arg(defs[i].ID)+")")
			continue
		}
		if err := in("SELECT contact_id FROM contact_field_values WHERE field_id = ?1§ AND value = ?2§",
			"EXISTS (SELECT 1 FROM contact_field_values v WHERE v.contact_id = c.id AND v.field_id = ?1§ AND v.value = ?2§)", defs[i].ID, v); err != nil {
			return "", nil, err
		}
	}
	if f.PhoneNumberID != "" {
		conds = append(conds, `EXISTS (SELECT 1 FROM conversations cv JOIN business_numbers n ON n.id = cv.business_number_id
			WHERE cv.contact_id = c.id AND n.phone_number_id = `+arg(f.PhoneNumberID)+")")
	}
	if f.LastContactBefore > 0 {
		conds = append(conds, "(SELECT max(last_message_at) FROM conversations WHERE contact_id = c.id) < "+arg(f.LastContactBefore))
	}
	if f.LastContactAfter > 0 {
		conds = append(conds, "(SELECT max(last_message_at) FROM conversations WHERE contact_id = c.id) >= "+arg(f.LastContactAfter))
	}
	if f.HideRestricted {
		conds = append(conds, "NOT "+cRestrictedSQL)
	}
	// A group's stand-in contact carries its conversation, but it is not
	// a person: the address book, its exports and campaign audiences
	// list people only.
	conds = append(conds, "c.group_id IS NULL")
	return "WHERE " + strings.Join(conds, " AND "), args, nil
}

// ContactEntry is a list row of the address book.
type ContactEntry struct {
	ContactListItem
	Email, Company string
	Labels         []Label
}

// ListContacts returns contacts matching f, newest first. afterID > 0
// continues below that id (keyset paging: constant cost on every page);
// offset is for the panel's page numbers.
func (s *Store) ListContacts(ctx context.Context, f ContactFilter, limit int, afterID int64, offset int) ([]ContactEntry, error) {
	defs, err := s.ContactFields(ctx)
	if err != nil {
		return nil, err
	}
	where, args, err := s.where(ctx, f, defs)
	if err != nil {
		return nil, err
	}
	if afterID > 0 {
		args = append(args, afterID)
		cond := "c.id < ?" + strconv.Itoa(len(args))
		if where == "" {
			where = "WHERE " + cond
		} else {
			where += " AND " + cond
		}
	}
	n := len(args)
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+contactColumns+`, c.email, c.company,
		(SELECT count(*) FROM conversations WHERE contact_id = c.id),
		coalesce((SELECT max(last_message_at) FROM conversations WHERE contact_id = c.id), 0), `+cRestrictedSQL+`,
		coalesce((SELECT json_group_array(json_array(l.id, l.name, l.color)) FROM contact_labels cl JOIN labels l ON l.id = cl.label_id
			WHERE cl.contact_id = c.id), '[]')
		FROM contacts c `+where+fmt.Sprintf(` ORDER BY c.id DESC LIMIT ?%d OFFSET ?%d`, n+1, n+2),
		append(args, Page{Limit: limit}.limit(), max(offset, 0))...)
	if err != nil {
		return nil, fmt.Errorf("store: list contacts: %w", err)
	}
	defer rows.Close()
	var out []ContactEntry
	for rows.Next() {
		var e ContactEntry
		var labels string
		dst := append(e.Contact.scanDest(), &e.Email, &e.Company, &e.Conversations, &e.LastMessageAt, &e.Restricted, &labels)
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("store: list contacts: %w", err)
		}
		e.Contact.fromNull()
		var raw [][]any
		_ = json.Unmarshal([]byte(labels), &raw)
		for _, l := range raw {
			if len(l) == 3 {
				id, _ := l[0].(float64)
				name, _ := l[1].(string)
				color, _ := l[2].(string)
				e.Labels = append(e.Labels, Label{ID: int64(id), Name: name, Color: color})
			}
		}
		slices.SortFunc(e.Labels, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
		out = append(out, e)
	}
	return out, rows.Err()
}

// ContactIDsMatching streams the ids of every contact matching f in id
// order, without holding them all: campaign audiences are built from it.
// fn returning an error stops the scan with that error.
func (s *Store) ContactIDsMatching(ctx context.Context, f ContactFilter, fn func(id int64) error) error {
	defs, err := s.ContactFields(ctx)
	if err != nil {
		return err
	}
	where, args, err := s.where(ctx, f, defs)
	if err != nil {
		return err
	}
	rows, err := s.rdb.QueryContext(ctx, "SELECT c.id FROM contacts c "+where+" ORDER BY c.id", args...)
	if err != nil {
		return fmt.Errorf("store: matching contacts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return fmt.Errorf("store: matching contacts: %w", err)
		}
		if err := fn(id); err != nil {
			return err
		}
	}
	return rows.Err()
}

// MergeResult says what a merge moved.
type MergeResult struct {
	Survivor, Merged int64
	Conversations    int // conversations moved over
	Joined           int // conversations joined into one of the survivor's (same business number)
	Consents         int
}

// MergeContacts makes one contact of two that are the same person (a
// phone-number contact and a username/BSUID-only one): the survivor keeps
// its own values and takes the other's identifiers and whatever it lacks
// (name, details, custom field values, labels); every row that refers to
// the other contact or its conversations moves to the survivor. Two
// conversations with the same business number become one. Audited; one
// transaction, so a failure changes nothing.
func (s *Store) MergeContacts(ctx context.Context, survivor, other int64, actor Actor, now time.Time) (*MergeResult, error) {
	if survivor == other {
		return nil, fieldErr("merge", ReasonConflict, "a contact cannot be merged with itself")
	}
	res := &MergeResult{Survivor: survivor, Merged: other}
	err := s.Write(ctx, func(tx *Tx) error {
		*res = MergeResult{Survivor: survivor, Merged: other}
		load := func(id int64) (*Contact, error) {
			var c Contact
			err := tx.QueryRow("SELECT "+contactColumns+" FROM contacts c WHERE c.id = ?", id).Scan(c.scanDest()...)
			if errors.Is(err, sql.ErrNoRows) {
				return nil, ErrNotFound
			}
			c.fromNull()
			return &c, err
		}
		a, err := load(survivor)
		if err != nil {
			return err
		}
		b, err := load(other)
		if err != nil {
			return err
		}
		if a.WaID != "" && b.WaID != "" && a.WaID != b.WaID {
			return fieldErr("merge", ReasonConflict, "both contacts have a phone number; they are different people to WhatsApp")
		}
		if a.UserID != "" && b.UserID != "" && a.UserID != b.UserID {
			return fieldErr("merge", ReasonConflict, "both contacts have a business-scoped user id")
		}
		// Conversations on the same business number are joined first: the
		// pair (business number, contact) is unique.
		rows, err := tx.Query(`SELECT o.id, k.id FROM conversations o JOIN conversations k
			ON k.business_number_id = o.business_number_id AND k.contact_id = ?1 WHERE o.contact_id = ?2`, survivor, other)
		if err != nil {
			return err
		}
		var pairs [][2]int64
		for rows.Next() {
			var p [2]int64
			if err := rows.Scan(&p[0], &p[1]); err != nil {
				rows.Close()
				return err
			}
			pairs = append(pairs, p)
		}
		rows.Close()
		convRefs, err := referencesTo(tx, "conversations")
		if err != nil {
			return err
		}
		for _, p := range pairs {
			if err := repoint(tx, convRefs, p[0], p[1]); err != nil {
				return err
			}
			if _, err := tx.Exec(`UPDATE conversations SET
				last_inbound_at = max(coalesce(last_inbound_at, 0), coalesce((SELECT last_inbound_at FROM conversations WHERE id = ?1), 0)),
				last_message_at = max(last_message_at, (SELECT last_message_at FROM conversations WHERE id = ?1)),
				unread = unread + (SELECT unread FROM conversations WHERE id = ?1),
				status = CASE WHEN (SELECT status FROM conversations WHERE id = ?1) = 'open' THEN 'open' ELSE status END,
				updated_at = ?3 WHERE id = ?2`, p[0], p[1], now.Unix()); err != nil {
				return err
			}
			if _, err := tx.Exec("UPDATE conversations SET last_inbound_at = NULL WHERE id = ? AND last_inbound_at = 0", p[1]); err != nil {
				return err
			}
			if _, err := tx.Exec("DELETE FROM conversations WHERE id = ?", p[0]); err != nil {
				return err
			}
			res.Joined++
		}
		if err := tx.QueryRow("SELECT count(*) FROM conversations WHERE contact_id = ?", other).Scan(&res.Conversations); err != nil {
			return err
		}
		if err := tx.QueryRow("SELECT count(*) FROM consent_records WHERE contact_id = ?", other).Scan(&res.Consents); err != nil {
			return err
		}
		// The identifiers are unique: free them on the other row first.
		if _, err := tx.Exec("UPDATE contacts SET wa_id = NULL, user_id = NULL WHERE id = ?", other); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE contacts SET
			wa_id = coalesce(wa_id, ?2), user_id = coalesce(user_id, ?3), parent_user_id = coalesce(parent_user_id, ?4),
			username = coalesce(username, ?5), name = CASE WHEN name = '' THEN ?6 ELSE name END,
			email = CASE WHEN email = '' THEN (SELECT email FROM contacts WHERE id = ?7) ELSE email END,
			company = CASE WHEN company = '' THEN (SELECT company FROM contacts WHERE id = ?7) ELSE company END,
			note = CASE WHEN note = '' THEN (SELECT note FROM contacts WHERE id = ?7)
				WHEN (SELECT note FROM contacts WHERE id = ?7) = '' THEN note
				ELSE note || char(10) || (SELECT note FROM contacts WHERE id = ?7) END,
			created_at = min(created_at, (SELECT created_at FROM contacts WHERE id = ?7)), updated_at = ?8
			WHERE id = ?1`, survivor, nullIfEmpty(&b.WaID), nullIfEmpty(&b.UserID), nullIfEmpty(&b.ParentUserID),
			nullIfEmpty(&b.Username), b.Name, other, now.Unix()); err != nil {
			return err
		}
		contactRefs, err := referencesTo(tx, "contacts")
		if err != nil {
			return err
		}
		if err := repoint(tx, contactRefs, other, survivor); err != nil {
			return err
		}
		if _, err := tx.Exec("DELETE FROM contacts WHERE id = ?", other); err != nil {
			return err
		}
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: actor, Action: AuditContactMerge, Target: fmt.Sprintf("contact:%d", survivor),
			Detail: jsonDetail(map[string]any{"survivor": survivor, "merged": other, "conversations": res.Conversations,
				"joined": res.Joined, "consents": res.Consents})})
	})
	if err != nil {
		return nil, wrapContactErr("merge contacts", err)
	}
	return res, nil
}

type fkRef struct{ table, column string }

// referencesTo lists every column that refers to table by foreign key,
// read from the live schema so that tables other parts add are moved too.
func referencesTo(tx *Tx, table string) ([]fkRef, error) {
	rows, err := tx.Query(`SELECT m.name, f."from" FROM sqlite_schema m, pragma_foreign_key_list(m.name) f
		WHERE m.type = 'table' AND f."table" = ? ORDER BY m.name, f."from"`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []fkRef
	for rows.Next() {
		var r fkRef
		if err := rows.Scan(&r.table, &r.column); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// repoint moves rows from one parent to another. A row that would repeat
// one the new parent has (a label both had) is dropped: the survivor's wins.
func repoint(tx *Tx, refs []fkRef, from, to int64) error {
	for _, r := range refs {
		t, c := `"`+strings.ReplaceAll(r.table, `"`, `""`)+`"`, `"`+strings.ReplaceAll(r.column, `"`, `""`)+`"`
		if _, err := tx.Exec("UPDATE OR IGNORE "+t+" SET "+c+" = ? WHERE "+c+" = ?", to, from); err != nil {
			return fmt.Errorf("move %s.%s: %w", r.table, r.column, err)
		}
		if _, err := tx.Exec("DELETE FROM "+t+" WHERE "+c+" = ?", from); err != nil {
			return fmt.Errorf("move %s.%s: %w", r.table, r.column, err)
		}
	}
	return nil
}

// ContactRecord is a full address book entry, for the CSV export.
type ContactRecord struct {
	Contact
	Email, Company, Note string
	Fields               map[string]string // by key
	Labels               []string          // names
	Marketing            ConsentAction     // newest marketing decision; "" none
	MarketingAt          int64
}

// EachContact streams every contact matching f in id order with its
// details, fields, labels and newest marketing consent.
func (s *Store) EachContact(ctx context.Context, f ContactFilter, fn func(*ContactRecord) error) error {
	defs, err := s.ContactFields(ctx)
	if err != nil {
		return err
	}
	where, args, err := s.where(ctx, f, defs)
	if err != nil {
		return err
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+contactColumns+`, c.email, c.company, c.note,
		coalesce((SELECT json_group_object(cf.key, v.value) FROM contact_field_values v JOIN contact_fields cf ON cf.id = v.field_id
			WHERE v.contact_id = c.id), '{}'),
		coalesce((SELECT json_group_array(l.name) FROM contact_labels cl JOIN labels l ON l.id = cl.label_id WHERE cl.contact_id = c.id), '[]'),
		coalesce((SELECT action || ' ' || ts FROM consent_records r WHERE r.contact_id = c.id AND r.purpose = 'marketing'
			ORDER BY ts DESC, id DESC LIMIT 1), '')
		FROM contacts c `+where+` ORDER BY c.id`, args...)
	if err != nil {
		return fmt.Errorf("store: each contact: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r ContactRecord
		var fields, labels, consent string
		if err := rows.Scan(append(r.Contact.scanDest(), &r.Email, &r.Company, &r.Note, &fields, &labels, &consent)...); err != nil {
			return fmt.Errorf("store: each contact: %w", err)
		}
		r.Contact.fromNull()
		_ = json.Unmarshal([]byte(fields), &r.Fields)
		_ = json.Unmarshal([]byte(labels), &r.Labels)
		slices.Sort(r.Labels)
		if a, ts, ok := strings.Cut(consent, " "); ok {
			r.Marketing = ConsentAction(a)
			r.MarketingAt, _ = strconv.ParseInt(ts, 10, 64)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return rows.Err()
}
