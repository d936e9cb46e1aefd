package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Template is a message template as Meta's status webhooks describe it,
// plus the text an admin recorded for it.
type Template struct {
	WABAID     string
	Name       string
	Language   string
	Category   string // MARKETING, UTILITY, AUTHENTICATION; "" unknown, which sends treat as MARKETING
	CategoryBy string // "meta" or "admin"
	Quality    string
	Components string // JSON of Meta's newest components update, if any
	Status     string // Meta's latest event: APPROVED, REJECTED, PAUSED, ...; "" if none seen
	Reason     string
	Detail     string // Meta's explanation of a rejection or pause
	UpdatedAt  int64
	Body       string   // recorded text with {{1}} or {{name}} placeholders
	Params     []string // placeholders in Body, in order of first use
	// From the sync with Meta (migration 420).
	TemplateID      string // Meta's id
	ParameterFormat string // POSITIONAL or NAMED
	Library         string // Meta's library template it was made from
	SyncedAt        int64  // unix seconds of the last listing that had it; 0 never listed
	DeletedAt       int64  // unix seconds it was found gone at Meta; 0 while it exists
}

// Usable reports whether Meta lets the template be sent.
func (t *Template) Usable() bool {
	return t.DeletedAt == 0 && (t.Status == "APPROVED" || t.Status == "REINSTATED" || t.Status == "UNPAUSED")
}

var placeholderRe = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

// TemplateParams lists a template body's placeholders in order of first use.
func TemplateParams(body string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range placeholderRe.FindAllStringSubmatch(body, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			out = append(out, m[1])
		}
	}
	return out
}

// FillTemplate replaces placeholders with values; missing ones stay visible.
func FillTemplate(body string, values map[string]string) string {
	return placeholderRe.ReplaceAllStringFunc(body, func(m string) string {
		k := placeholderRe.FindStringSubmatch(m)[1]
		if v, ok := values[k]; ok && v != "" {
			return v
		}
		return m
	})
}

// Template categories as Meta names them.
const (
	CategoryMarketing      = "MARKETING"
	CategoryUtility        = "UTILITY"
	CategoryAuthentication = "AUTHENTICATION"
)

// TemplateCategories lists the categories an admin may record by hand.
func TemplateCategories() []string {
	return []string{CategoryMarketing, CategoryUtility, CategoryAuthentication}
}

// Who told Pforte a template's category.
const (
	categoryByMeta  = "meta"
	categoryByAdmin = "admin"
)

// backfillTemplates fills the new table from the template webhooks still
// stored, oldest first, as ingest would have.
func backfillTemplates(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT waba_id, field, ts, value FROM events
		WHERE field IN ('message_template_status_update', 'message_template_quality_update',
			'message_template_components_update', 'template_category_update') ORDER BY ts, id`)
	if err != nil {
		return err
	}
	var evs []Event
	for rows.Next() {
		var e Event
		var v string
		if err := rows.Scan(&e.WABAID, &e.Field, &e.TS, &v); err != nil {
			rows.Close()
			return err
		}
		e.Value = []byte(v)
		evs = append(evs, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for i := range evs {
		if err := learnTemplate(txExecer{ctx, tx}, &evs[i]); err != nil {
			return err
		}
	}
	return nil
}

type txExecer struct {
	ctx context.Context
	tx  *sql.Tx
}

func (t txExecer) Exec(q string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(t.ctx, q, args...)
}

type execer interface {
	Exec(query string, args ...any) (sql.Result, error)
}

// isTemplateField tells whether a change may be about a template. Meta's
// own example of a quality update is labelled as a status update, so the
// value's keys decide what it says (see learnTemplate).
func isTemplateField(field string) bool {
	return strings.HasPrefix(field, "message_template_") || field == "template_category_update"
}

type templateReport struct {
	Event    string                   `json:"event"`
	ID       json.RawMessage          `json:"message_template_id"`
	Name     string                   `json:"message_template_name"`
	Language string                   `json:"message_template_language"`
	Category string                   `json:"message_template_category"`
	Reason   *string                  `json:"reason"`
	Reject   *struct{ Reason string } `json:"rejection_info"`
	Other    *struct {
		Title       string `json:"title"`
		Description string `json:"description"`
	} `json:"other_info"`
	NewQuality  string          `json:"new_quality_score"`
	NewCategory string          `json:"new_category"`
	Element     json.RawMessage `json:"message_template_element"`
	Title       json.RawMessage `json:"message_template_title"`
	Footer      json.RawMessage `json:"message_template_footer"`
	Buttons     json.RawMessage `json:"message_template_buttons"`
}

// learnTemplate records what a template webhook says. Each attribute
// (status, category, quality, components) keeps the newest report by
// Meta's time, whatever order the deliveries came in; a report that cannot
// be read is left to the raw events.
func learnTemplate(x execer, e *Event) error {
	var ev templateReport
	if json.Unmarshal(e.Value, &ev) != nil || strings.TrimSpace(ev.Name) == "" {
		return nil
	}
	var status, reason, detail, category, quality string
	var components []byte
	var statusAt, categoryAt, qualityAt, componentsAt int64
	if ev.Event != "" && ev.NewQuality == "" {
		status, statusAt = strings.ToUpper(ev.Event), e.TS
		if ev.Reason != nil && *ev.Reason != "NONE" {
			reason = *ev.Reason
		}
		if ev.Reject != nil {
			detail = ev.Reject.Reason
		} else if ev.Other != nil {
			detail = ev.Other.Description
		}
	}
	// new_category is the current category, in an impending change too.
	if c := strings.ToUpper(strings.TrimSpace(cmp.Or(ev.NewCategory, ev.Category))); c != "" {
		category, categoryAt = c, e.TS
	}
	if ev.NewQuality != "" {
		quality, qualityAt = strings.ToUpper(ev.NewQuality), e.TS
	}
	if e.Field == "message_template_components_update" || len(ev.Element) > 0 {
		c := map[string]json.RawMessage{}
		for k, v := range map[string]json.RawMessage{"body": ev.Element, "header": ev.Title, "footer": ev.Footer, "buttons": ev.Buttons} {
			if len(v) > 0 && string(v) != "null" {
				c[k] = v
			}
		}
		components, _ = json.Marshal(c)
		componentsAt = e.TS
	}
	id := strings.Trim(string(ev.ID), `"`)
	_, err := x.Exec(`INSERT INTO templates(waba_id, name, language, template_id, status, reason, detail, status_at,
			category, category_by, category_at, quality, quality_at, components, components_at, updated_at)
		VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, CASE WHEN ?9 = '' THEN '' ELSE ?16 END, ?10, ?11, ?12, ?13, ?14, ?15)
		ON CONFLICT(waba_id, name, language) DO UPDATE SET
			template_id = coalesce(nullif(?4, ''), template_id),
			status = CASE WHEN ?5 <> '' AND ?8 >= status_at THEN ?5 ELSE status END,
			reason = CASE WHEN ?5 <> '' AND ?8 >= status_at THEN ?6 ELSE reason END,
			detail = CASE WHEN ?5 <> '' AND ?8 >= status_at THEN ?7 ELSE detail END,
			status_at = CASE WHEN ?5 <> '' AND ?8 >= status_at THEN ?8 ELSE status_at END,
			category = CASE WHEN ?9 <> '' AND (category_by <> ?16 OR ?10 >= category_at) THEN ?9 ELSE category END,
			category_by = CASE WHEN ?9 <> '' AND (category_by <> ?16 OR ?10 >= category_at) THEN ?16 ELSE category_by END,
			category_at = CASE WHEN ?9 <> '' AND (category_by <> ?16 OR ?10 >= category_at) THEN ?10 ELSE category_at END,
			quality = CASE WHEN ?11 <> '' AND ?12 >= quality_at THEN ?11 ELSE quality END,
			quality_at = CASE WHEN ?11 <> '' AND ?12 >= quality_at THEN ?12 ELSE quality_at END,
			components = CASE WHEN ?13 IS NOT NULL AND ?14 >= components_at THEN ?13 ELSE components END,
			components_at = CASE WHEN ?13 IS NOT NULL AND ?14 >= components_at THEN ?14 ELSE components_at END,
			updated_at = max(updated_at, ?15)`,
		e.WABAID, strings.TrimSpace(ev.Name), strings.TrimSpace(ev.Language), id, status, reason, detail, statusAt,
		category, categoryAt, quality, qualityAt, nullJSON(components), componentsAt, e.TS, categoryByMeta)
	if err != nil {
		return fmt.Errorf("store: template: %w", err)
	}
	return nil
}

// sameLanguage compares language codes the way Meta mixes them: en-US in
// webhooks, en_US in sends.
func sameLanguage(a, b string) bool {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(s)), "-", "_") }
	return norm(a) == norm(b)
}

// templateCategoryTx returns the category to apply to a send of the named
// template from a number of the given account: MARKETING when any report
// Pforte trusts says so, "" when nothing is known. Reports for the sending
// number's own account win over others when there are any.
func templateCategoryTx(tx *Tx, waba, name, lang string) (string, error) {
	rows, err := tx.Query("SELECT waba_id, language, category FROM templates WHERE name = ? AND category <> ''", name)
	if err != nil {
		return "", fmt.Errorf("store: template category: %w", err)
	}
	defer rows.Close()
	type known struct{ waba, cat string }
	var all []known
	for rows.Next() {
		var k known
		var l string
		if err := rows.Scan(&k.waba, &l, &k.cat); err != nil {
			return "", fmt.Errorf("store: template category: %w", err)
		}
		if lang == "" || sameLanguage(l, lang) {
			all = append(all, k)
		}
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("store: template category: %w", err)
	}
	if waba != "" && slices.ContainsFunc(all, func(k known) bool { return k.waba == waba }) {
		all = slices.DeleteFunc(all, func(k known) bool { return k.waba != waba })
	}
	if len(all) == 0 {
		return "", nil
	}
	for _, k := range all {
		if k.cat == CategoryMarketing {
			return CategoryMarketing, nil
		}
	}
	return all[0].cat, nil
}

// Templates lists every known template with its newest status and any
// recorded text. A template Meta reported for several accounts is shown
// once, as its newest report says.
func (s *Store) Templates(ctx context.Context) ([]*Template, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+templateCols+` FROM templates ORDER BY status_at, updated_at, id`)
	if err != nil {
		return nil, fmt.Errorf("store: templates: %w", err)
	}
	defer rows.Close()
	byKey := map[string]*Template{}
	for rows.Next() {
		t, statusAt, err := scanTemplate(rows)
		if err != nil {
			return nil, fmt.Errorf("store: templates: %w", err)
		}
		if statusAt > 0 {
			t.UpdatedAt = statusAt
		}
		k := t.Name + "\x00" + t.Language
		if old := byKey[k]; old != nil && (t.Category == "" || old.CategoryBy == categoryByMeta && t.CategoryBy != categoryByMeta) {
			t.Category, t.CategoryBy = old.Category, old.CategoryBy // Meta's word beats a hand entry
		}
		byKey[k] = t // newer status last
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: templates: %w", err)
	}
	trows, err := s.rdb.QueryContext(ctx, "SELECT name, language, body FROM template_texts")
	if err != nil {
		return nil, fmt.Errorf("store: template texts: %w", err)
	}
	defer trows.Close()
	for trows.Next() {
		var name, lang, body string
		if err := trows.Scan(&name, &lang, &body); err != nil {
			return nil, fmt.Errorf("store: template texts: %w", err)
		}
		k := name + "\x00" + lang
		t := byKey[k]
		if t == nil {
			t = &Template{Name: name, Language: lang}
			byKey[k] = t
		}
		t.Body, t.Params = body, TemplateParams(body)
	}
	if err := trows.Err(); err != nil {
		return nil, fmt.Errorf("store: template texts: %w", err)
	}
	out := make([]*Template, 0, len(byKey))
	for _, t := range byKey {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Language < out[j].Language
	})
	return out, nil
}

// SetTemplateCategory records by hand the category of a template Pforte
// has no report of (approved before Pforte was installed, say). A category
// Meta reported is never overridden: Meta decides what it bills and
// enforces. An empty category is refused.
func (s *Store) SetTemplateCategory(ctx context.Context, name, lang, category string, now time.Time, audit ...AuditEntry) error {
	name, lang, category = strings.TrimSpace(name), strings.TrimSpace(lang), strings.ToUpper(strings.TrimSpace(category))
	if name == "" || lang == "" {
		return fmt.Errorf("%w: a template needs a name and a language", ErrInvalid)
	}
	if !slices.Contains(TemplateCategories(), category) {
		return fmt.Errorf("%w: category must be one of %s", ErrInvalid, strings.Join(TemplateCategories(), ", "))
	}
	err := s.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec(`UPDATE templates SET category = ?1, category_by = ?5, category_at = ?2, updated_at = max(updated_at, ?2)
			WHERE name = ?3 AND language = ?4 AND category_by <> ?6`, category, now.Unix(), name, lang, categoryByAdmin, categoryByMeta)
		if err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow("SELECT EXISTS (SELECT 1 FROM templates WHERE name = ? AND language = ?)", name, lang).Scan(&exists); err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 && !exists {
			if _, err := tx.Exec(`INSERT INTO templates(name, language, category, category_by, category_at, updated_at)
				VALUES (?, ?, ?, ?, ?, ?)`, name, lang, category, categoryByAdmin, now.Unix(), now.Unix()); err != nil {
				return err
			}
		}
		for i := range audit {
			audit[i].Detail = jsonDetail(map[string]any{"category": category})
		}
		return auditAll(tx, audit, "template:"+name+"/"+lang)
	})
	if err != nil {
		return fmt.Errorf("store: template category: %w", err)
	}
	return nil
}

// SaveTemplateText records a template's text (empty body removes it).
func (s *Store) SaveTemplateText(ctx context.Context, name, lang, body string, audit ...AuditEntry) error {
	name, lang = strings.TrimSpace(name), strings.TrimSpace(lang)
	if name == "" || lang == "" {
		return fmt.Errorf("store: a template text needs a name and a language")
	}
	err := s.Write(ctx, func(tx *Tx) error {
		var err error
		if strings.TrimSpace(body) == "" {
			_, err = tx.Exec("DELETE FROM template_texts WHERE name = ? AND language = ?", name, lang)
		} else {
			_, err = tx.Exec(`INSERT INTO template_texts(name, language, body, updated_at) VALUES (?, ?, ?, ?)
				ON CONFLICT(name, language) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`, name, lang, body, time.Now().Unix())
		}
		if err != nil {
			return err
		}
		return auditAll(tx, audit, "template:"+name+"/"+lang)
	})
	if err != nil {
		return fmt.Errorf("store: template text: %w", err)
	}
	return nil
}
