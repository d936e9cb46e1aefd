package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// ImportSource is the consent records' source for imported consent.
const ImportSource = "import"

// ImportRow is one contact of an import file, as the CSV reader mapped it.
type ImportRow struct {
	Line       int // the file's line, for error messages
	Input      ContactInput
	LabelNames []string // added to the contact; missing labels are created
	Consents   []ImportConsent
	// Err is a problem the reader found in the row (a consent cell it
	// could not read); the row then counts as refused.
	Err *FieldError
}

// ImportConsent is a consent column's value.
type ImportConsent struct {
	Purpose string
	Action  ConsentAction
	TS      int64 // when it was given; 0 = the import's time
}

// RowError is why one row of an import was refused.
type RowError struct {
	Line int
	*FieldError
}

// ImportOptions describe an import.
type ImportOptions struct {
	FileName string // kept as the consent records' evidence
	Actor    Actor
	Now      time.Time
	DryRun   bool // check and count only; nothing is written
}

// ImportResult reports an import or its dry run.
type ImportResult struct {
	Rows     int
	Created  int
	Updated  int
	Consents int
	Labels   int        // labels the import creates
	Errors   []RowError // the first MaxImportErrors problems
	Refused  int        // rows with a problem
	Imported bool       // rows were written (never with errors or in a dry run)
}

// Import limits.
const (
	MaxImportRows   = 200_000
	MaxImportErrors = 1000
	importBatch     = 2000
)

// ErrImportEmpty is returned for a file without data rows.
var ErrImportEmpty = fmt.Errorf("%w: the file has no data rows", ErrInvalid)

// ErrImportTooLarge is returned for more than MaxImportRows rows.
var ErrImportTooLarge = fmt.Errorf("%w: the file has more than %d rows", ErrInvalid, MaxImportRows)

// ImportContacts imports rows all-or-nothing: scan is called once to
// check every row (duplicates within the file, numbers, custom fields,
// consent), and, only if no row was refused and this is no dry run, once
// more to write them. A contact found by its number (or user id) is
// updated with the row's non-empty cells; labels are added; consent
// columns become consent records with source "import" and the file's
// name as evidence. The writes go in batches of a few hundred rows, each
// a short turn of the writer so that webhooks are not held up; a failure
// of the disk between batches leaves the batches before it (the error
// says so; Imported stays false).
func (s *Store) ImportContacts(ctx context.Context, scan func(fn func(ImportRow) error) error, opts ImportOptions) (*ImportResult, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	defs, err := s.ContactFields(ctx)
	if err != nil {
		return nil, err
	}
	res := &ImportResult{}
	seen := map[string]int{}             // identifier -> first line
	newLabels := map[string]bool{}       // lower case
	newLabelNames := map[string]string{} // lower case -> as written first
	refuse := func(line int, fe *FieldError) {
		res.Refused++
		if len(res.Errors) < MaxImportErrors {
			res.Errors = append(res.Errors, RowError{Line: line, FieldError: fe})
		}
	}
	err = scan(func(row ImportRow) error {
		res.Rows++
		if res.Rows > MaxImportRows {
			return ErrImportTooLarge
		}
		if row.Err != nil {
			refuse(row.Line, row.Err)
			return nil
		}
		r, err := checkContact(row.Input, defs)
		if err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				refuse(row.Line, fe)
				return nil
			}
			return err
		}
		wa, uid := str(r.waID), str(r.userID)
		if wa == "" && uid == "" {
			refuse(row.Line, fieldErr("phone", ReasonNoIdentifier, "a row needs a phone number (or a user id)"))
			return nil
		}
		for _, k := range []string{"p:" + wa, "u:" + uid} {
			if len(k) == 2 {
				continue
			}
			if first, dup := seen[k]; dup {
				refuse(row.Line, fieldErr(map[bool]string{true: "phone", false: "user_id"}[k[0] == 'p'], ReasonDuplicate,
					fmt.Sprintf("the same as line %d", first)))
				return nil
			}
			seen[k] = row.Line
		}
		for _, n := range row.LabelNames {
			if n = strings.TrimSpace(n); utf8.RuneCountInString(n) > 40 {
				refuse(row.Line, fieldErr("labels", ReasonTooLong, "a label has at most 40 characters"))
				return nil
			}
		}
		existing, conflict, err := s.importTarget(ctx, wa, uid)
		if err != nil {
			return err
		}
		if conflict {
			refuse(row.Line, fieldErr("phone", ReasonConflict, "the number and the user id belong to two different contacts"))
			return nil
		}
		if existing > 0 {
			res.Updated++
		} else {
			res.Created++
		}
		res.Consents += len(row.Consents)
		for _, n := range row.LabelNames {
			if n = strings.TrimSpace(n); n != "" && !newLabels[strings.ToLower(n)] {
				var one int
				err := s.rdb.QueryRowContext(ctx, "SELECT 1 FROM labels WHERE name = ?", n).Scan(&one)
				if errors.Is(err, sql.ErrNoRows) {
					newLabels[strings.ToLower(n)] = true
					newLabelNames[strings.ToLower(n)] = n
					res.Labels++
				} else if err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if res.Rows == 0 {
		return nil, ErrImportEmpty
	}
	if res.Refused > 0 || opts.DryRun {
		return res, nil
	}
	// Write pass. Labels first, so that rows refer to them by id; the
	// counts are taken again from what the writes find.
	labelIDs := map[string]int64{}
	if err := s.Write(ctx, func(tx *Tx) error {
		for n := range newLabels {
			if _, err := tx.Exec("INSERT INTO labels(name, color, created_at) VALUES (?, 'slate', ?) ON CONFLICT (name) DO NOTHING",
				newLabelNames[n], opts.Now.Unix()); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("store: import labels: %w", err)
	}
	labels, err := s.Labels(ctx)
	if err != nil {
		return nil, err
	}
	for _, l := range labels {
		labelIDs[strings.ToLower(l.Name)] = l.ID
	}
	seen, newLabels = nil, nil
	var created, updated, consents, written int
	batch := make([]ImportRow, 0, importBatch)
	flush := func(last bool) error {
		var c, u, n int
		err := s.Write(ctx, func(tx *Tx) error {
			c, u, n = 0, 0, 0
			for i := range batch {
				isNew, k, err := importRowTx(tx, defs, labelIDs, &batch[i], opts)
				if err != nil {
					return fmt.Errorf("line %d: %w", batch[i].Line, err)
				}
				if isNew {
					c++
				} else {
					u++
				}
				n += k
			}
			if !last {
				return nil
			}
			return AuditTx(tx, AuditEntry{TS: opts.Now.Unix(), Actor: opts.Actor, Action: AuditContactImport, Target: "contacts",
				Detail: jsonDetail(map[string]any{"file": opts.FileName, "rows": res.Rows, "created": created + c,
					"updated": updated + u, "consents": consents + n})})
		})
		if err != nil {
			return err
		}
		created, updated, consents, written = created+c, updated+u, consents+n, written+len(batch)
		batch = batch[:0]
		return nil
	}
	rows := 0
	err = scan(func(row ImportRow) error {
		rows++
		batch = append(batch, row)
		if len(batch) == importBatch && rows < res.Rows {
			return flush(false)
		}
		return nil
	})
	if err == nil {
		err = flush(true)
	}
	if err != nil {
		return nil, fmt.Errorf("store: import stopped after %d of %d rows were written: %w", written, res.Rows, err)
	}
	res.Created, res.Updated, res.Consents, res.Imported = created, updated, consents, true
	return res, nil
}

// importTarget finds the contact a row updates (0 for a new one), and
// whether its number and user id point at two different contacts.
func (s *Store) importTarget(ctx context.Context, wa, uid string) (int64, bool, error) {
	var byWa, byUID int64
	if wa != "" {
		if err := s.rdb.QueryRowContext(ctx, "SELECT id FROM contacts WHERE wa_id = ?", wa).Scan(&byWa); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, false, fmt.Errorf("store: import: %w", err)
		}
	}
	if uid != "" {
		if err := s.rdb.QueryRowContext(ctx, "SELECT id FROM contacts WHERE user_id = ?", uid).Scan(&byUID); err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, false, fmt.Errorf("store: import: %w", err)
		}
	}
	if byWa > 0 && byUID > 0 && byWa != byUID {
		return 0, true, nil
	}
	return max(byWa, byUID), false, nil
}

// importRowTx writes one checked row: insert or fill in, labels, consent.
func importRowTx(tx *Tx, defs []ContactField, labelIDs map[string]int64, row *ImportRow, opts ImportOptions) (bool, int, error) {
	r, err := checkContact(row.Input, defs)
	if err != nil {
		return false, 0, err
	}
	// Empty cells leave stored values alone.
	for _, p := range []**string{&r.name, &r.email, &r.company, &r.note, &r.waID, &r.userID} {
		if *p != nil && **p == "" {
			*p = nil
		}
	}
	for k, v := range r.fields {
		if v == "" {
			delete(r.fields, k)
		}
	}
	var id int64
	q := "SELECT id FROM contacts WHERE wa_id = ?"
	key := str(r.waID)
	if key == "" {
		q, key = "SELECT id FROM contacts WHERE user_id = ?", str(r.userID)
	}
	err = tx.QueryRow(q, key).Scan(&id)
	isNew := errors.Is(err, sql.ErrNoRows)
	if err != nil && !isNew {
		return false, 0, err
	}
	if isNew {
		// The check pass found the identifiers free; a contact a webhook
		// created since then fails the unique index and stops the import.
		if id, _, err = tx.Insert(`INSERT INTO contacts(wa_id, user_id, name, email, company, note, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, nullIfEmpty(r.waID), nullIfEmpty(r.userID), str(r.name), str(r.email), str(r.company),
			str(r.note), opts.Now.Unix(), opts.Now.Unix()); err != nil {
			return false, 0, err
		}
		if err := writeContactExtras(tx, id, r); err != nil {
			return false, 0, err
		}
	} else {
		if err := identifierFree(tx, r, id); err != nil {
			return false, 0, err
		}
		if _, err := tx.Exec(`UPDATE contacts SET wa_id = coalesce(?, wa_id), user_id = coalesce(?, user_id), name = coalesce(?, name),
			email = coalesce(?, email), company = coalesce(?, company), note = coalesce(?, note), updated_at = ? WHERE id = ?`,
			ptrOrNil(r.waID), ptrOrNil(r.userID), ptrOrNil(r.name), ptrOrNil(r.email), ptrOrNil(r.company), ptrOrNil(r.note),
			opts.Now.Unix(), id); err != nil {
			return false, 0, err
		}
		if err := writeContactExtras(tx, id, r); err != nil {
			return false, 0, err
		}
	}
	for _, n := range row.LabelNames {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		lid, ok := labelIDs[strings.ToLower(n)]
		if !ok {
			return false, 0, fmt.Errorf("label %q vanished during the import", n)
		}
		if _, err := tx.Exec("INSERT INTO contact_labels(contact_id, label_id) VALUES (?, ?) ON CONFLICT DO NOTHING", id, lid); err != nil {
			return false, 0, err
		}
	}
	for _, c := range row.Consents {
		ts := c.TS
		if ts == 0 {
			ts = opts.Now.Unix()
		}
		// One audit entry covers the import's consent records (it names
		// the file and their number); each record names file and line.
		if _, err := tx.Exec(`INSERT INTO consent_records(contact_id, purpose, action, source, evidence, actor, ts)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, id, c.Purpose, c.Action, ImportSource, fmt.Sprintf("%s, Zeile %d", opts.FileName, row.Line),
			opts.Actor, ts); err != nil {
			return false, 0, err
		}
	}
	return isNew, len(row.Consents), nil
}
