package store

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Template is a message template as Meta's status webhooks describe it,
// plus the text an admin recorded for it.
type Template struct {
	Name      string
	Language  string
	Category  string
	Status    string // Meta's latest event: APPROVED, REJECTED, PAUSED, ...; "" if none seen
	Reason    string
	Detail    string // Meta's explanation of a rejection or pause
	UpdatedAt int64
	Body      string   // recorded text with {{1}} or {{name}} placeholders
	Params    []string // placeholders in Body, in order of first use
}

// Usable reports whether Meta lets the template be sent.
func (t *Template) Usable() bool {
	return t.Status == "APPROVED" || t.Status == "REINSTATED" || t.Status == "UNPAUSED"
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

type templateStatusEvent struct {
	Event    string                   `json:"event"`
	Name     string                   `json:"message_template_name"`
	Language string                   `json:"message_template_language"`
	Category string                   `json:"message_template_category"`
	Reason   *string                  `json:"reason"`
	Reject   *struct{ Reason string } `json:"rejection_info"`
	Other    *struct {
		Title       string `json:"title"`
		Description string `json:"description"`
	} `json:"other_info"`
	Raw json.RawMessage `json:"-"`
}

// Templates derives every template's current status from the stored
// message_template_status_update events (oldest to newest, so the newest
// wins whatever order Meta delivered them in) and adds recorded texts.
func (s *Store) Templates(ctx context.Context) ([]*Template, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT ts, value FROM events WHERE field = 'message_template_status_update' ORDER BY ts, id`)
	if err != nil {
		return nil, fmt.Errorf("store: templates: %w", err)
	}
	defer rows.Close()
	byKey := map[string]*Template{}
	for rows.Next() {
		var ts int64
		var value string
		if err := rows.Scan(&ts, &value); err != nil {
			return nil, fmt.Errorf("store: templates: %w", err)
		}
		var ev templateStatusEvent
		if json.Unmarshal([]byte(value), &ev) != nil || ev.Name == "" {
			continue // kept raw in events; nothing to show
		}
		k := ev.Name + "\x00" + ev.Language
		t := byKey[k]
		if t == nil {
			t = &Template{Name: ev.Name, Language: ev.Language}
			byKey[k] = t
		}
		t.Status, t.UpdatedAt = strings.ToUpper(ev.Event), ts
		if ev.Category != "" {
			t.Category = ev.Category
		}
		t.Reason, t.Detail = "", ""
		if ev.Reason != nil && *ev.Reason != "NONE" {
			t.Reason = *ev.Reason
		}
		if ev.Reject != nil {
			t.Detail = ev.Reject.Reason
		} else if ev.Other != nil {
			t.Detail = ev.Other.Description
		}
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
