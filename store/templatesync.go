package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Templates as Meta lists them: the sync writes what the listing says, a
// template missing from a complete listing is marked deleted (its row
// stays: sent messages still name it), and Pforte's own submissions are
// recorded at once as PENDING.

const templateCols = `waba_id, name, language, category, category_by, status, reason, detail, quality,
	coalesce(components, ''), status_at, updated_at, template_id, parameter_format, library_name, synced_at, deleted_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanTemplate(r rowScanner) (*Template, int64, error) {
	t := &Template{}
	var statusAt int64
	err := r.Scan(&t.WABAID, &t.Name, &t.Language, &t.Category, &t.CategoryBy, &t.Status, &t.Reason, &t.Detail, &t.Quality,
		&t.Components, &statusAt, &t.UpdatedAt, &t.TemplateID, &t.ParameterFormat, &t.Library, &t.SyncedAt, &t.DeletedAt)
	if err != nil {
		return nil, 0, err
	}
	if statusAt > 0 {
		t.UpdatedAt = statusAt
	}
	return t, statusAt, nil
}

// SyncedTemplate is one template of Meta's listing.
type SyncedTemplate struct {
	ID              string
	Name            string
	Language        string
	Status          string
	Category        string
	RejectedReason  string
	Quality         string
	ParameterFormat string
	Components      string // Meta's components JSON, as listed
	Library         string
}

// SyncResult counts what a sync changed.
type SyncResult struct {
	Listed, Added, Deleted int
}

// SyncTemplates records a complete listing of one account's templates at
// now: every listed template is written as Meta says, and the account's
// templates the listing lacks are marked deleted. Hand-entered texts and
// categories of templates Meta never reported are left alone.
func (s *Store) SyncTemplates(ctx context.Context, waba string, list []SyncedTemplate, now time.Time, audit ...AuditEntry) (SyncResult, error) {
	res := SyncResult{Listed: len(list)}
	if waba == "" {
		return res, fmt.Errorf("%w: a sync needs the account id", ErrInvalid)
	}
	ts := now.Unix()
	err := s.Write(ctx, func(tx *Tx) error {
		res.Added, res.Deleted = 0, 0
		// What the account has now (not deleted), to count additions and
		// find what the listing lacks without a query per template.
		live := map[[2]string]bool{}
		rows, err := tx.Query("SELECT name, language FROM templates WHERE waba_id = ? AND deleted_at = 0", waba)
		if err != nil {
			return err
		}
		for rows.Next() {
			var k [2]string
			if err := rows.Scan(&k[0], &k[1]); err != nil {
				rows.Close()
				return err
			}
			live[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, t := range list {
			name, lang := strings.TrimSpace(t.Name), strings.TrimSpace(t.Language)
			if name == "" || lang == "" {
				continue
			}
			k := [2]string{name, lang}
			if !live[k] {
				res.Added++
			}
			delete(live, k)
			cat := strings.ToUpper(strings.TrimSpace(t.Category))
			_, err := tx.Exec(`INSERT INTO templates(waba_id, name, language, template_id, status, reason, detail, status_at,
					category, category_by, category_at, quality, quality_at, components, components_at, updated_at,
					parameter_format, library_name, synced_at, deleted_at)
				VALUES (?1, ?2, ?3, ?4, ?5, ?6, '', ?7, ?8, CASE WHEN ?8 = '' THEN '' ELSE 'meta' END, ?7, ?9, ?7, nullif(?10, ''), ?7, ?7, ?11, ?12, ?7, 0)
				ON CONFLICT(waba_id, name, language) DO UPDATE SET
					template_id = coalesce(nullif(?4, ''), template_id),
					status = ?5,
					reason = ?6,
					detail = CASE WHEN ?5 = status THEN detail ELSE '' END,
					status_at = max(status_at, ?7),
					category = CASE WHEN ?8 <> '' THEN ?8 ELSE category END,
					category_by = CASE WHEN ?8 <> '' THEN 'meta' ELSE category_by END,
					category_at = CASE WHEN ?8 <> '' THEN max(category_at, ?7) ELSE category_at END,
					quality = CASE WHEN ?9 <> '' THEN ?9 ELSE quality END,
					quality_at = CASE WHEN ?9 <> '' THEN max(quality_at, ?7) ELSE quality_at END,
					components = coalesce(nullif(?10, ''), components),
					components_at = max(components_at, ?7),
					parameter_format = ?11,
					library_name = ?12,
					synced_at = ?7,
					deleted_at = 0,
					updated_at = max(updated_at, ?7)`,
				waba, name, lang, t.ID, strings.ToUpper(t.Status), t.RejectedReason, ts, cat, strings.ToUpper(t.Quality),
				t.Components, strings.ToUpper(t.ParameterFormat), t.Library)
			if err != nil {
				return err
			}
		}
		// Whatever the complete listing lacks is gone at Meta.
		for k := range live {
			if _, err := tx.Exec(`UPDATE templates SET deleted_at = ?1, status = 'DELETED', status_at = max(status_at, ?1), updated_at = max(updated_at, ?1)
				WHERE waba_id = ?2 AND name = ?3 AND language = ?4 AND deleted_at = 0`, ts, waba, k[0], k[1]); err != nil {
				return err
			}
			res.Deleted++
		}
		for i := range audit {
			audit[i].Detail = jsonDetail(map[string]any{"listed": res.Listed, "added": res.Added, "deleted": res.Deleted})
		}
		return auditAll(tx, audit, "templates:"+waba)
	})
	if err != nil {
		return res, fmt.Errorf("store: template sync: %w", err)
	}
	return res, nil
}

// templateNameRe is Meta's rule for template names.
var templateNameRe = regexp.MustCompile(`^[a-z0-9_]{1,512}$`)

// ValidTemplateName reports whether Meta would take name.
func ValidTemplateName(name string) bool { return templateNameRe.MatchString(name) }

// RecordTemplateSubmission stores a template Pforte just submitted to Meta
// (PENDING, or what Meta answered), so that it is listed before the next
// sync; the review's webhook and the sync update it.
func (s *Store) RecordTemplateSubmission(ctx context.Context, waba string, t SyncedTemplate, now time.Time, audit ...AuditEntry) error {
	ts := now.Unix()
	err := s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO templates(waba_id, name, language, template_id, status, status_at, category, category_by, category_at,
				components, components_at, updated_at, parameter_format, library_name)
			VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, CASE WHEN ?7 = '' THEN '' ELSE 'meta' END, ?6, nullif(?8, ''), ?6, ?6, ?9, ?10)
			ON CONFLICT(waba_id, name, language) DO UPDATE SET template_id = coalesce(nullif(?4, ''), template_id), status = ?5,
				reason = '', detail = '', status_at = max(status_at, ?6),
				category = CASE WHEN ?7 <> '' THEN ?7 ELSE category END,
				category_by = CASE WHEN ?7 <> '' THEN 'meta' ELSE category_by END,
				components = coalesce(nullif(?8, ''), components), components_at = max(components_at, ?6),
				parameter_format = CASE WHEN ?9 <> '' THEN ?9 ELSE parameter_format END,
				library_name = CASE WHEN ?10 <> '' THEN ?10 ELSE library_name END,
				deleted_at = 0, updated_at = max(updated_at, ?6)`,
			waba, t.Name, t.Language, t.ID, strings.ToUpper(t.Status), ts, strings.ToUpper(t.Category), t.Components,
			strings.ToUpper(t.ParameterFormat), t.Library)
		if err != nil {
			return err
		}
		return auditAll(tx, audit, "template:"+t.Name+"/"+t.Language)
	})
	if err != nil {
		return fmt.Errorf("store: template submission: %w", err)
	}
	return nil
}

// MarkTemplateDeleted records that a template was deleted at Meta (every
// language when lang is empty).
func (s *Store) MarkTemplateDeleted(ctx context.Context, waba, name, lang string, now time.Time, audit ...AuditEntry) error {
	ts := now.Unix()
	err := s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`UPDATE templates SET deleted_at = ?1, status = 'DELETED', status_at = max(status_at, ?1), updated_at = max(updated_at, ?1)
			WHERE waba_id = ?2 AND name = ?3 AND (?4 = '' OR language = ?4) AND deleted_at = 0`, ts, waba, name, lang); err != nil {
			return err
		}
		return auditAll(tx, audit, "template:"+name+"/"+lang)
	})
	if err != nil {
		return fmt.Errorf("store: template delete: %w", err)
	}
	return nil
}

// AccountTemplates lists one account's templates (deleted ones too,
// marked), by name and language, without merging other accounts' reports.
func (s *Store) AccountTemplates(ctx context.Context, waba string) ([]*Template, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+templateCols+` FROM templates WHERE waba_id = ? ORDER BY name, language`, waba)
	if err != nil {
		return nil, fmt.Errorf("store: templates: %w", err)
	}
	defer rows.Close()
	var out []*Template
	for rows.Next() {
		t, _, err := scanTemplate(rows)
		if err != nil {
			return nil, fmt.Errorf("store: templates: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// TemplateOf returns an account's template by name and language (Meta's
// en_US and en-US are the same), ErrNotFound when Pforte does not know it.
func (s *Store) TemplateOf(ctx context.Context, waba, name, lang string) (*Template, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT `+templateCols+` FROM templates WHERE waba_id = ? AND name = ? ORDER BY deleted_at, id`, waba, name)
	if err != nil {
		return nil, fmt.Errorf("store: template: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t, _, err := scanTemplate(rows)
		if err != nil {
			return nil, fmt.Errorf("store: template: %w", err)
		}
		if sameLanguage(t.Language, lang) {
			return t, nil
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: template: %w", err)
	}
	return nil, ErrNotFound
}

// WABAOf returns the account of a business number ("" when not recorded).
func (s *Store) WABAOf(ctx context.Context, phoneNumberID string) (string, error) {
	var waba string
	err := s.rdb.QueryRowContext(ctx, "SELECT waba_id FROM business_numbers WHERE phone_number_id = ?", phoneNumberID).Scan(&waba)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: business number: %w", err)
	}
	return waba, nil
}

// WABAs lists the WhatsApp Business Accounts of the configured numbers.
func (s *Store) WABAs(ctx context.Context) ([]string, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT DISTINCT waba_id FROM business_numbers WHERE waba_id <> '' ORDER BY waba_id")
	if err != nil {
		return nil, fmt.Errorf("store: accounts: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var w string
		if err := rows.Scan(&w); err != nil {
			return nil, fmt.Errorf("store: accounts: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// TemplateAccounts lists the accounts a delivery carried template
// webhooks for (status, quality, components, category), so that the
// caller can list their templates again.
func TemplateAccounts(d *Delivery) []string {
	var out []string
	for i := range d.Events {
		e := &d.Events[i]
		if isTemplateField(e.Field) && e.WABAID != "" && !slicesContains(out, e.WABAID) {
			out = append(out, e.WABAID)
		}
	}
	return out
}

func slicesContains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
