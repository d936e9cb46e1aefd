// Package templates keeps Pforte's message templates in step with Meta:
// it lists every configured WhatsApp Business Account's templates into
// the store (on start, on a schedule, on demand and after every template
// webhook), and submits, edits and deletes templates at Meta for the
// panel and the API. The send-time check of parameters lives in the
// outbox, which every message passes.
package templates

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// Options configure a Manager.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// PageSize is the listing's page size (0: Meta's default).
	PageSize int
	// AppID is the Meta app the Resumable Upload API is called on; empty
	// uses "app", the app of the access token.
	AppID string
	// Debounce gathers webhooks for one account into one listing (default 2 s).
	Debounce time.Duration
}

// Manager syncs and manages templates.
type Manager struct {
	st     *store.Store
	client *cloudapi.Client
	log    *slog.Logger
	opts   Options

	syncMu  sync.Mutex // one listing at a time: two would race on "deleted"
	mu      sync.Mutex
	pending map[string]*time.Timer
	wg      sync.WaitGroup
	closed  bool
}

// New returns a manager; it does nothing until asked.
func New(st *store.Store, client *cloudapi.Client, opts Options) *Manager {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 2 * time.Second
	}
	return &Manager{st: st, client: client, log: opts.Logger.With("part", "templates"), opts: opts, pending: map[string]*time.Timer{}}
}

// Sync lists every configured account's templates into the store. Every
// account is tried; the errors of those that failed are joined.
func (m *Manager) Sync(ctx context.Context, actor store.Actor) (store.SyncResult, error) {
	wabas, err := m.st.WABAs(ctx)
	if err != nil {
		return store.SyncResult{}, err
	}
	var total store.SyncResult
	var errs []error
	for _, w := range wabas {
		r, err := m.SyncAccount(ctx, w, actor)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		total.Listed += r.Listed
		total.Added += r.Added
		total.Deleted += r.Deleted
	}
	return total, errors.Join(errs...)
}

// SyncAccount lists one account's templates, page by page, and records
// the complete listing (a failed page records nothing, so no template is
// wrongly marked deleted). A person's or key's sync is audited.
func (m *Manager) SyncAccount(ctx context.Context, waba string, actor store.Actor) (store.SyncResult, error) {
	m.syncMu.Lock()
	defer m.syncMu.Unlock()
	defs, err := m.client.ListTemplates(ctx, waba, m.opts.PageSize)
	if err != nil {
		return store.SyncResult{}, fmt.Errorf("templates: listing %s at Meta: %w", waba, err)
	}
	list := make([]store.SyncedTemplate, 0, len(defs))
	for _, d := range defs {
		st := store.SyncedTemplate{ID: d.ID, Name: d.Name, Language: d.Language, Status: d.Status, Category: d.Category,
			RejectedReason: d.RejectedReason, ParameterFormat: d.ParameterFormat, Components: string(d.Components), Library: d.LibraryName}
		if st.RejectedReason == "NONE" {
			st.RejectedReason = ""
		}
		if d.QualityScore != nil {
			st.Quality = d.QualityScore.Score
		}
		list = append(list, st)
	}
	var audit []store.AuditEntry
	if actor != store.ActorSystem && actor != "" {
		audit = append(audit, store.AuditEntry{TS: m.opts.Now().Unix(), Actor: actor, Action: store.AuditTemplateSync})
	}
	res, err := m.st.SyncTemplates(ctx, waba, list, m.opts.Now(), audit...)
	if err != nil {
		return res, err
	}
	m.log.Info("templates synced", "waba", waba, "listed", res.Listed, "added", res.Added, "deleted", res.Deleted)
	return res, nil
}

// Kick lists an account's templates again soon, after a template webhook;
// webhooks arriving together lead to one listing.
func (m *Manager) Kick(waba string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed || m.pending[waba] != nil {
		return
	}
	m.wg.Add(1)
	m.pending[waba] = time.AfterFunc(m.opts.Debounce, func() {
		defer m.wg.Done()
		m.mu.Lock()
		delete(m.pending, waba)
		m.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, err := m.SyncAccount(ctx, waba, store.ActorSystem); err != nil {
			m.log.Warn("template sync after webhook failed", "waba", waba, "err", err)
		}
	})
}

// Close stops pending listings and waits for those running.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	for w, t := range m.pending {
		if t.Stop() {
			m.wg.Done()
		}
		delete(m.pending, w)
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// ---- managing templates at Meta ----

// Definition is a template to create: Meta's create body.
type Definition struct {
	Name            string          `json:"name"`
	Language        string          `json:"language"`
	Category        string          `json:"category"`
	ParameterFormat string          `json:"parameter_format,omitempty"`
	Components      json.RawMessage `json:"components,omitempty"`
	// Creation from Meta's template library.
	LibraryName    string          `json:"library_template_name,omitempty"`
	LibraryButtons json.RawMessage `json:"library_template_button_inputs,omitempty"`
	LibraryBody    json.RawMessage `json:"library_template_body_inputs,omitempty"`
}

// FieldError is a definition Pforte refuses before Meta is asked: Field
// names the part (API clients get it in the 400), German is the
// sentence for the panel, English the one for the API.
type FieldError struct {
	Field   string
	German  string
	English string
}

func (e *FieldError) Error() string { return "templates: " + e.Field + ": " + e.English }

// MetaError is Meta's refusal of a submission, with its explanation.
type MetaError struct {
	Graph  *cloudapi.Error
	Reason string // Meta's error_user_title/_msg, or its message
}

func (e *MetaError) Error() string { return "templates: Meta refused: " + e.Reason }
func (e *MetaError) Unwrap() error { return e.Graph }

func fieldErr(field, de, en string) *FieldError {
	return &FieldError{Field: field, German: de, English: en}
}

// Validate checks a definition as Meta's rules say (cloudapi-2026.md
// §1.2), so that obvious mistakes get a clear answer without a round trip.
func Validate(d *Definition) error {
	d.Name, d.Language = strings.TrimSpace(d.Name), strings.TrimSpace(d.Language)
	d.Category = strings.ToUpper(strings.TrimSpace(d.Category))
	switch {
	case !store.ValidTemplateName(d.Name):
		return fieldErr("name", "Der Name darf nur Kleinbuchstaben, Ziffern und Unterstriche enthalten (höchstens 512 Zeichen), z. B. versand_info.",
			"the name may contain only lowercase letters, digits and underscores (at most 512), e.g. shipping_info")
	case d.Language == "" || len(d.Language) > 10 || strings.ContainsAny(d.Language, " /?&"):
		return fieldErr("language", "Bitte eine Sprache angeben, z. B. de oder en_US.", "give a language code such as de or en_US")
	case !slices.Contains(store.TemplateCategories(), d.Category):
		return fieldErr("category", "Bitte eine Kategorie wählen: Marketing, Service (Utility) oder Authentifizierung.",
			"category must be MARKETING, UTILITY or AUTHENTICATION")
	}
	if d.LibraryName != "" {
		return nil
	}
	cs, err := cloudapi.ParseComponents(d.Components)
	if err != nil {
		return fieldErr("components", "Die Bestandteile der Vorlage sind nicht lesbar.", "components are not Meta's component list: "+err.Error())
	}
	sl := cloudapi.SlotsOf(cs)
	if strings.TrimSpace(sl.Body) == "" {
		return fieldErr("components[BODY].text", "Der Text der Vorlage fehlt.", "a BODY component with text is required")
	}
	if utf8.RuneCountInString(sl.Body) > 1024 {
		return fieldErr("components[BODY].text", "Der Text darf höchstens 1024 Zeichen haben.", "the body may have at most 1024 characters")
	}
	named := d.ParameterFormat == "NAMED"
	for _, p := range sl.BodyParams {
		if isDigits(p) == named {
			if named {
				return fieldErr("components[BODY].text", fmt.Sprintf("Die Platzhalter müssen Namen haben (z. B. {{vorname}}), nicht {{%s}}.", p),
					fmt.Sprintf("parameter_format NAMED wants named placeholders, not {{%s}}", p))
			}
			return fieldErr("components[BODY].text", fmt.Sprintf("Die Platzhalter müssen nummeriert sein ({{1}}, {{2}} …), nicht {{%s}}; oder wählen Sie benannte Platzhalter.", p),
				fmt.Sprintf("positional templates number their placeholders {{1}}, {{2}}, …, not {{%s}}", p))
		}
	}
	if !named {
		for i, p := range sl.BodyParams {
			if p != fmt.Sprint(i+1) {
				return fieldErr("components[BODY].text", "Die Platzhalter müssen der Reihe nach nummeriert sein: {{1}}, {{2}}, …",
					"positional placeholders must be numbered {{1}}, {{2}}, … in order")
			}
		}
	}
	for _, c := range cs {
		switch c.Type {
		case "BODY":
			n := len(sl.BodyParams)
			if n == 0 {
				continue
			}
			ok := c.Example != nil && (named && len(c.Example.BodyTextNamed) == n || !named && len(c.Example.BodyText) == 1 && len(c.Example.BodyText[0]) == n)
			if !ok {
				return fieldErr("components[BODY].example", "Für jeden Platzhalter braucht Meta einen Beispielwert.",
					fmt.Sprintf("the body has %d placeholders: give one example for each", n))
			}
			if named {
				for _, e := range c.Example.BodyTextNamed {
					if !slices.Contains(sl.BodyParams, e.ParamName) || strings.TrimSpace(e.Example) == "" {
						return fieldErr("components[BODY].example", fmt.Sprintf("Der Beispielwert für {{%s}} fehlt oder passt zu keinem Platzhalter.", e.ParamName),
							fmt.Sprintf("example for %q names no placeholder or is empty", e.ParamName))
					}
				}
			}
		case "HEADER":
			switch c.Format {
			case cloudapi.HeaderText, "":
				if utf8.RuneCountInString(c.Text) > 60 {
					return fieldErr("components[HEADER].text", "Die Kopfzeile darf höchstens 60 Zeichen haben.", "the header may have at most 60 characters")
				}
				if len(sl.HeaderParams) > 1 {
					return fieldErr("components[HEADER].text", "Die Kopfzeile darf höchstens einen Platzhalter haben.", "a text header takes at most one placeholder")
				}
			case cloudapi.HeaderImage, cloudapi.HeaderVideo, cloudapi.HeaderDocument, cloudapi.HeaderGIF:
				if c.Example == nil || len(c.Example.HeaderHandle) == 0 {
					return fieldErr("components[HEADER].example.header_handle", "Für eine Kopfzeile mit Bild, Video oder Dokument braucht Meta eine Beispieldatei.",
						"a media header needs example.header_handle from the Resumable Upload API (POST /api/v1/templates/samples)")
				}
			case cloudapi.HeaderLocation:
			default:
				return fieldErr("components[HEADER].format", "Unbekanntes Format der Kopfzeile.", "header format must be TEXT, IMAGE, VIDEO, GIF, DOCUMENT or LOCATION")
			}
		case "FOOTER":
			if utf8.RuneCountInString(c.Text) > 60 || len(cloudapi.Placeholders(c.Text)) > 0 {
				return fieldErr("components[FOOTER].text", "Die Fußzeile darf höchstens 60 Zeichen und keine Platzhalter haben.", "the footer has at most 60 characters and no placeholders")
			}
		case "BUTTONS":
			if err := validateButtons(c.Buttons); err != nil {
				return err
			}
		}
	}
	return nil
}

func validateButtons(bs []cloudapi.Button) error {
	if len(bs) > 10 {
		return fieldErr("components[BUTTONS]", "Höchstens 10 Schaltflächen.", "at most 10 buttons")
	}
	count := map[string]int{}
	for i, b := range bs {
		f := fmt.Sprintf("components[BUTTONS].buttons[%d]", i)
		count[b.Type]++
		if strings.TrimSpace(b.Text) == "" && b.Type != cloudapi.ButtonCopyCode || utf8.RuneCountInString(b.Text) > 25 {
			return fieldErr(f+".text", "Jede Schaltfläche braucht eine Beschriftung mit höchstens 25 Zeichen.", "each button needs a text of at most 25 characters")
		}
		switch b.Type {
		case cloudapi.ButtonQuickReply:
		case cloudapi.ButtonURL:
			ps := cloudapi.Placeholders(b.URL)
			if !strings.HasPrefix(b.URL, "https://") && !strings.HasPrefix(b.URL, "http://") || len(b.URL) > 2000 {
				return fieldErr(f+".url", "Die Adresse einer Link-Schaltfläche muss mit https:// beginnen.", "a URL button needs an http(s) url")
			}
			if len(ps) > 1 || len(ps) == 1 && !strings.HasSuffix(b.URL, "{{1}}") {
				return fieldErr(f+".url", "Eine Link-Adresse darf nur einen Platzhalter {{1}} haben, und nur am Ende.", "a URL takes one {{1}}, at its end")
			}
			if len(ps) == 1 && (len(b.Example) == 0 || string(b.Example) == "null") {
				return fieldErr(f+".example", "Für den Platzhalter in der Link-Adresse braucht Meta einen Beispielwert.", "a URL with {{1}} needs an example")
			}
		case cloudapi.ButtonPhone:
			if d := cloudapi.PhoneDigits(b.PhoneNumber); d == "" || len(b.PhoneNumber) > 20 {
				return fieldErr(f+".phone_number", "Bitte eine gültige Telefonnummer für die Anruf-Schaltfläche angeben.", "phone_number must be a phone number")
			}
		case cloudapi.ButtonCopyCode:
			var ex string
			if json.Unmarshal(b.Example, &ex) != nil || ex == "" || len(ex) > 15 {
				return fieldErr(f+".example", "Der Beispielcode zum Kopieren fehlt (höchstens 15 Zeichen).", "a COPY_CODE button needs an example code of at most 15 characters")
			}
		default:
			// Flows, OTP and others are passed on for Meta to judge.
		}
	}
	switch {
	case count[cloudapi.ButtonURL] > 2:
		return fieldErr("components[BUTTONS]", "Höchstens zwei Link-Schaltflächen.", "at most 2 URL buttons")
	case count[cloudapi.ButtonPhone] > 1:
		return fieldErr("components[BUTTONS]", "Höchstens eine Anruf-Schaltfläche.", "at most 1 PHONE_NUMBER button")
	case count[cloudapi.ButtonCopyCode] > 1:
		return fieldErr("components[BUTTONS]", "Höchstens eine Schaltfläche zum Kopieren.", "at most 1 COPY_CODE button")
	}
	return nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

func metaErr(err error) error {
	var g *cloudapi.Error
	if errors.As(err, &g) {
		return &MetaError{Graph: g, Reason: cloudapi.UserMessage(g)}
	}
	return err
}

// Create validates a definition and submits it to Meta for the account,
// then records it (PENDING, or as Meta answered) so it is listed at once.
func (m *Manager) Create(ctx context.Context, waba string, d Definition, actor store.Actor) (*store.Template, error) {
	if err := Validate(&d); err != nil {
		return nil, err
	}
	if waba == "" {
		return nil, fieldErr("waba_id", "Es ist noch kein WhatsApp-Konto (WABA) eingerichtet.", "no WhatsApp Business Account is configured")
	}
	if t, err := m.st.TemplateOf(ctx, waba, d.Name, d.Language); err == nil && t.DeletedAt == 0 {
		return nil, fieldErr("name", "Eine Vorlage mit diesem Namen gibt es in dieser Sprache schon.", "a template with this name and language exists")
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	body, err := json.Marshal(d)
	if err != nil {
		return nil, err
	}
	created, err := m.client.CreateTemplate(ctx, waba, body)
	if err != nil {
		return nil, metaErr(err)
	}
	status := created.Status
	if status == "" {
		status = "PENDING"
	}
	cat := created.Category
	if cat == "" {
		cat = d.Category
	}
	now := m.opts.Now()
	rec := store.SyncedTemplate{ID: created.ID, Name: d.Name, Language: d.Language, Status: status, Category: cat,
		ParameterFormat: d.ParameterFormat, Components: string(d.Components), Library: d.LibraryName}
	if err := m.st.RecordTemplateSubmission(ctx, waba, rec, now,
		store.AuditEntry{TS: now.Unix(), Actor: actor, Action: store.AuditTemplateCreate}); err != nil {
		return nil, err
	}
	return m.st.TemplateOf(ctx, waba, d.Name, d.Language)
}

// Edit replaces an approved, rejected or paused template's components;
// Meta reviews it again.
func (m *Manager) Edit(ctx context.Context, waba, name, lang string, components json.RawMessage, actor store.Actor) error {
	t, err := m.st.TemplateOf(ctx, waba, name, lang)
	if err != nil {
		return err
	}
	if t.DeletedAt != 0 || t.TemplateID == "" {
		return fieldErr("name", "Diese Vorlage gibt es bei Meta nicht (mehr).", "the template does not exist at Meta")
	}
	if !slices.Contains([]string{"APPROVED", "REJECTED", "PAUSED"}, t.Status) {
		return fieldErr("status", "Meta erlaubt Änderungen nur an genehmigten, abgelehnten oder pausierten Vorlagen.",
			"Meta allows edits only of APPROVED, REJECTED or PAUSED templates")
	}
	d := Definition{Name: t.Name, Language: t.Language, Category: t.Category, ParameterFormat: t.ParameterFormat, Components: components}
	if d.Category == "" {
		d.Category = store.CategoryUtility
	}
	if err := Validate(&d); err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]any{"components": components})
	if err := m.client.EditTemplate(ctx, t.TemplateID, body); err != nil {
		return metaErr(err)
	}
	now := m.opts.Now()
	return m.st.RecordTemplateSubmission(ctx, waba, store.SyncedTemplate{ID: t.TemplateID, Name: t.Name, Language: t.Language,
		Status: "PENDING", Components: string(components)}, now, store.AuditEntry{TS: now.Unix(), Actor: actor, Action: store.AuditTemplateEdit})
}

// Delete deletes one language of a template at Meta (every language when
// lang is empty) and marks it deleted.
func (m *Manager) Delete(ctx context.Context, waba, name, lang string, actor store.Actor) error {
	hsm := ""
	if lang != "" {
		t, err := m.st.TemplateOf(ctx, waba, name, lang)
		if err != nil {
			return err
		}
		hsm = t.TemplateID
	}
	if err := m.client.DeleteTemplate(ctx, waba, name, hsm); err != nil {
		return metaErr(err)
	}
	now := m.opts.Now()
	return m.st.MarkTemplateDeleted(ctx, waba, name, lang, now, store.AuditEntry{TS: now.Unix(), Actor: actor, Action: store.AuditTemplateDelete})
}

// Library lists Meta's template library.
func (m *Manager) Library(ctx context.Context, search, lang string) ([]cloudapi.LibraryTemplate, error) {
	l, err := m.client.TemplateLibrary(ctx, search, lang)
	if err != nil {
		return nil, metaErr(err)
	}
	return l, nil
}

// UploadSample uploads a header sample and returns its handle.
func (m *Manager) UploadSample(ctx context.Context, filename, mimeType string, data []byte) (string, error) {
	if !slices.Contains(cloudapi.HeaderSampleTypes, mimeType) {
		return "", fieldErr("file", "Als Beispiel für die Kopfzeile nimmt Meta nur JPEG, PNG, MP4 oder PDF.",
			"Meta takes image/jpeg, image/png, video/mp4 or application/pdf as a header sample")
	}
	if len(data) == 0 {
		return "", fieldErr("file", "Die Datei ist leer.", "the file is empty")
	}
	h, err := m.client.UploadSample(ctx, m.opts.AppID, filename, mimeType, data)
	if err != nil {
		return "", metaErr(err)
	}
	return h, nil
}

// SyncSoon lists every account's templates in the background (on start);
// Close waits for it.
func (m *Manager) SyncSoon() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if _, err := m.Sync(ctx, store.ActorSystem); err != nil {
			m.log.Warn("template sync on start failed", "err", err)
		}
	}()
}
