package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Retention classes: each is kept for its own number of days.
const (
	RetainMessages            = "messages"
	RetainMedia               = "media"
	RetainDeliveries          = "deliveries"
	RetainClosedConversations = "closed_conversations"
	RetainAudit               = "audit"
	RetainOutbox              = "outbox"
	RetainFanout              = "fanout"
	RetainSecureLinks         = "secure_links"
	RetainCampaigns           = "campaigns"
)

// RetentionClasses lists the classes in the order a run purges them.
var RetentionClasses = []string{RetainClosedConversations, RetainMessages, RetainMedia, RetainDeliveries,
	RetainOutbox, RetainFanout, RetainSecureLinks, RetainCampaigns, RetainAudit}

// perNumberClasses may have an override per business number.
var perNumberClasses = []string{RetainMessages, RetainMedia, RetainClosedConversations}

// RetentionPolicy is how long one class of data is kept. A zero
// BusinessNumberID is the default; Days 0 keeps forever.
type RetentionPolicy struct {
	Class            string
	BusinessNumberID int64
	PhoneNumberID    string
	Days             int
	UpdatedAt        int64
	UpdatedBy        string
}

// RetentionPolicies returns every policy: defaults first, then overrides.
func (s *Store) RetentionPolicies(ctx context.Context) ([]RetentionPolicy, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT p.class, coalesce(p.business_number_id, 0), coalesce(n.phone_number_id, ''),
		p.days, p.updated_at, p.updated_by
		FROM retention_policies p LEFT JOIN business_numbers n ON n.id = p.business_number_id
		ORDER BY p.business_number_id IS NOT NULL, n.phone_number_id, p.class`)
	if err != nil {
		return nil, fmt.Errorf("store: retention policies: %w", err)
	}
	defer rows.Close()
	var out []RetentionPolicy
	for rows.Next() {
		var p RetentionPolicy
		if err := rows.Scan(&p.Class, &p.BusinessNumberID, &p.PhoneNumberID, &p.Days, &p.UpdatedAt, &p.UpdatedBy); err != nil {
			return nil, fmt.Errorf("store: retention policies: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// SetRetentionPolicy changes how long a class is kept, for all numbers
// (PhoneNumberID "") or one. Days < 0 removes a number's override.
func (s *Store) SetRetentionPolicy(ctx context.Context, p RetentionPolicy, actor Actor, now time.Time) error {
	if !slices.Contains(RetentionClasses, p.Class) {
		return fmt.Errorf("%w: unknown retention class %q", ErrInvalid, p.Class)
	}
	if p.PhoneNumberID != "" && !slices.Contains(perNumberClasses, p.Class) {
		return fmt.Errorf("%w: %s is kept for all numbers alike", ErrInvalid, p.Class)
	}
	if p.Days > 36500 || (p.Days < 0 && p.PhoneNumberID == "") {
		return fmt.Errorf("%w: days must be between 0 (keep forever) and 36500", ErrInvalid)
	}
	return s.Write(ctx, func(tx *Tx) error {
		var bn sql.NullInt64
		if p.PhoneNumberID != "" {
			if err := tx.QueryRow("SELECT id FROM business_numbers WHERE phone_number_id = ?", p.PhoneNumberID).Scan(&bn); err != nil {
				if errors.Is(err, sql.ErrNoRows) {
					return fmt.Errorf("%w: unknown business number %q", ErrInvalid, p.PhoneNumberID)
				}
				return err
			}
		}
		if p.Days < 0 {
			if _, err := tx.Exec("DELETE FROM retention_policies WHERE class = ? AND business_number_id = ?", p.Class, bn); err != nil {
				return fmt.Errorf("store: retention policy: %w", err)
			}
		} else if _, err := tx.Exec(`INSERT INTO retention_policies(class, business_number_id, days, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT(class, coalesce(business_number_id, 0)) DO UPDATE SET days = excluded.days,
				updated_at = excluded.updated_at, updated_by = excluded.updated_by`, p.Class, bn, p.Days, now.Unix(), actor); err != nil {
			return fmt.Errorf("store: retention policy: %w", err)
		}
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: actor, Action: AuditRetentionPolicy, Target: "retention:" + p.Class,
			Detail: jsonDetail(map[string]any{"class": p.Class, "phone_number_id": p.PhoneNumberID, "days": p.Days})})
	})
}

// RetentionOptions controls one run.
type RetentionOptions struct {
	Now    time.Time // the run's clock; tests move it
	DryRun bool      // count what would go, change nothing
	Batch  int       // most rows per writer turn (default 500); fewer when turns get slow
	Actor  Actor     // ActorSystem for the scheduler, ActorCLI for the command
	// OrphanGrace spares unreferenced media files younger than this, which
	// a download in progress may be about to claim (default 1 h).
	OrphanGrace time.Duration
}

// RetentionItem is what a run removed (or would) for one class and number.
type RetentionItem struct {
	Class         string
	PhoneNumberID string // "" for all numbers
	Days          int
	Cutoff        time.Time
	Rows          int64
}

// RetentionReport sums up a run; it is also written to the audit trail
// (counts only).
type RetentionReport struct {
	Now          time.Time
	DryRun       bool
	Items        []RetentionItem
	MediaFiles   int // files unlinked (or that would be)
	OrphanFiles  int // unreferenced files swept from the media folder
	Erasures     int // restricted erasures carried out after their hold ended
	Scrub        ScrubResult
	Took         time.Duration
	Interrupted  bool
	RowsPerClass map[string]int64
	// LongestTurn is the longest time one purge step held the writer,
	// which webhooks arriving then had to wait for.
	LongestTurn time.Duration
	// IndexMergeSteps counts the search index merge steps before and
	// during a large purge (see mergeIndexFirst and indexWear).
	IndexMergeSteps int
}

// policyFor resolves the days of a class for one business number.
type policySet struct {
	def  map[string]int
	over map[string]map[int64]int
}

func (s *Store) policySet(ctx context.Context) (*policySet, error) {
	ps, err := s.RetentionPolicies(ctx)
	if err != nil {
		return nil, err
	}
	set := &policySet{def: map[string]int{}, over: map[string]map[int64]int{}}
	for _, p := range ps {
		if p.BusinessNumberID == 0 {
			set.def[p.Class] = p.Days
			continue
		}
		if set.over[p.Class] == nil {
			set.over[p.Class] = map[int64]int{}
		}
		set.over[p.Class][p.BusinessNumberID] = p.Days
	}
	return set, nil
}

func (p *policySet) days(class string, number int64) int {
	if d, ok := p.over[class][number]; ok {
		return d
	}
	return p.def[class]
}

// cutoff is the instant before which data of a class is past its policy.
func cutoff(now time.Time, days int) time.Time { return now.Add(-time.Duration(days) * 24 * time.Hour) }

// RunRetention applies every policy at opts.Now: it deletes in small
// batches (ingest is never blocked for long), skips anything on legal hold,
// unlinks media files nobody references, makes the deleted data physically
// gone and audits the counts.
func (s *Store) RunRetention(ctx context.Context, opts RetentionOptions) (*RetentionReport, error) {
	start := time.Now()
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Batch <= 0 {
		opts.Batch = 500
	}
	if opts.Actor == "" {
		opts.Actor = ActorSystem
	}
	if opts.OrphanGrace == 0 {
		opts.OrphanGrace = time.Hour
	}
	rep := &RetentionReport{Now: opts.Now, DryRun: opts.DryRun, RowsPerClass: map[string]int64{}}
	ps, err := s.policySet(ctx)
	if err != nil {
		return nil, err
	}
	numbers, err := s.businessNumbers(ctx)
	if err != nil {
		return nil, err
	}
	r := &purger{s: s, opts: opts, rep: rep}
	if !opts.DryRun {
		if err := r.mergeIndexFirst(ctx, ps); err != nil {
			return rep, err
		}
	}
	for _, class := range RetentionClasses {
		targets := []businessNumber{{}}
		if slices.Contains(perNumberClasses, class) {
			targets = numbers
		}
		for _, n := range targets {
			days := ps.days(class, n.id)
			if days == 0 {
				continue
			}
			item := RetentionItem{Class: class, PhoneNumberID: n.phoneNumberID, Days: days, Cutoff: cutoff(opts.Now, days)}
			item.Rows, err = r.purge(ctx, class, n.id, item.Cutoff)
			if err != nil {
				rep.Interrupted = true
				return rep, fmt.Errorf("store: retention %s: %w", class, err)
			}
			rep.Items = append(rep.Items, item)
			rep.RowsPerClass[class] += item.Rows
		}
		// Rows that lost their parent are not per number: the default cutoff applies.
		if o, ok := orphanSpecs[class]; ok && ps.def[class] > 0 {
			item := RetentionItem{Class: class + ".orphans", Days: ps.def[class], Cutoff: cutoff(opts.Now, ps.def[class])}
			if item.Rows, err = r.run(ctx, o, 0, item.Cutoff); err != nil {
				rep.Interrupted = true
				return rep, fmt.Errorf("store: retention %s: %w", item.Class, err)
			}
			rep.Items = append(rep.Items, item)
			rep.RowsPerClass[class] += item.Rows
		}
	}
	if err := r.unlink(ctx); err != nil {
		return rep, err
	}
	rep.OrphanFiles, err = s.sweepOrphanMedia(ctx, opts.Now.Add(-opts.OrphanGrace), opts.DryRun)
	if err != nil {
		return rep, err
	}
	if !opts.DryRun {
		if rep.Erasures, err = s.ResumeErasures(ctx, opts.Now); err != nil {
			return rep, err
		}
		if rep.Scrub, err = s.Scrub(ctx); err != nil {
			return rep, err
		}
		detail := map[string]any{"media_files": rep.MediaFiles, "orphan_files": rep.OrphanFiles, "erasures": rep.Erasures}
		for c, n := range rep.RowsPerClass {
			detail[c] = n
		}
		if err := s.Audit(ctx, AuditEntry{TS: opts.Now.Unix(), Actor: opts.Actor, Action: AuditRetentionRun, Target: "retention",
			Detail: jsonDetail(detail)}); err != nil {
			return rep, err
		}
	}
	rep.Took = time.Since(start)
	return rep, nil
}

type businessNumber struct {
	id            int64
	phoneNumberID string
}

func (s *Store) businessNumbers(ctx context.Context) ([]businessNumber, error) {
	rows, err := s.rdb.QueryContext(ctx, "SELECT id, phone_number_id FROM business_numbers ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("store: business numbers: %w", err)
	}
	defer rows.Close()
	var out []businessNumber
	for rows.Next() {
		var n businessNumber
		if err := rows.Scan(&n.id, &n.phoneNumberID); err != nil {
			return nil, fmt.Errorf("store: business numbers: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

type purger struct {
	s     *Store
	opts  RetentionOptions
	rep   *RetentionReport
	paths []string // media files whose rows went; unlinked at the end
}

// purgeSpec describes one class: a reader query that pages candidates and
// a writer step that deletes one page after checking again.
//
// Parameters of candidates: ?1 now, ?2 cutoff, ?3 business number id (0 for
// all), ?4 and ?5 the keyset (k, id) to continue after, ?6 the page size.
// It returns (k, id) in keyset order. remove gets ?1 now, ?2 cutoff and ?3
// the page as a JSON array of ids, and must re-check every condition, since
// a hold may have been set between the read and the write.
type purgeSpec struct {
	// upper, if set, is a reader query (?1 now, ?2 cutoff, ?3 number) run
	// once before paging; its single result is passed to candidates as ?7,
	// e.g. the highest id worth scanning for.
	upper      string
	candidates string
	remove     []string
	count      int    // index of the statement in remove whose rows are counted
	mediaPaths string // optional: paths of media files the page frees (?3 the page)
	index      bool   // deleting its rows removes search index entries (see indexWear)
}

var purgeSpecs = map[string]purgeSpec{
	RetainMessages: {
		// In id order, not by age: neighbouring ids share their pages in the
		// table, its indexes and every token's doclist in the search index
		// (measured 10–15 % less work a row than in age order when ages and
		// ids disagree). upper stops the scan at the newest expired id; the
		// unary + keeps the planner on the rowid instead of the ts index.
		upper: `SELECT coalesce(max(id), 0) FROM messages WHERE ts < ?2 AND ?1 = ?1 AND ?3 = ?3`,
		candidates: `SELECT m.id, m.id FROM messages m JOIN conversations cv ON cv.id = m.conversation_id
			WHERE m.id > ?5 AND m.id <= ?7 AND +m.ts < ?2 AND ?4 = ?4 AND (?3 = 0 OR cv.business_number_id = ?3) AND NOT ` + heldSQL + `
			ORDER BY m.id LIMIT ?6`,
		mediaPaths: `SELECT path FROM media WHERE ?1 = ?1 AND ?2 = ?2 AND path IS NOT NULL AND message_id IN (SELECT value FROM json_each(?3))`,
		count:      1,
		index:      true,
		remove: []string{
			`DELETE FROM message_statuses WHERE ?1 = ?1 AND wamid IN (SELECT m.wamid FROM messages m JOIN conversations cv ON cv.id = m.conversation_id
				WHERE m.id IN (SELECT value FROM json_each(?3)) AND m.ts < ?2 AND NOT ` + heldSQL + `)`,
			`DELETE FROM messages WHERE id IN (SELECT m.id FROM messages m JOIN conversations cv ON cv.id = m.conversation_id
				WHERE m.id IN (SELECT value FROM json_each(?3)) AND m.ts < ?2 AND NOT ` + heldSQL + `)`,
		},
	},
	RetainMedia: {
		candidates: `SELECT m.ts, md.id FROM media md JOIN messages m ON m.id = md.message_id JOIN conversations cv ON cv.id = m.conversation_id
			WHERE m.ts < ?2 AND (m.ts, md.id) > (?4, ?5) AND (?3 = 0 OR cv.business_number_id = ?3) AND NOT ` + heldSQL + `
			ORDER BY m.ts, md.id LIMIT ?6`,
		mediaPaths: `SELECT path FROM media WHERE ?1 = ?1 AND ?2 = ?2 AND path IS NOT NULL AND id IN (SELECT value FROM json_each(?3))`,
		remove: []string{
			`DELETE FROM media WHERE id IN (SELECT md.id FROM media md JOIN messages m ON m.id = md.message_id
				JOIN conversations cv ON cv.id = m.conversation_id
				WHERE md.id IN (SELECT value FROM json_each(?3)) AND m.ts < ?2 AND NOT ` + heldSQL + `)`,
		},
	},
	RetainClosedConversations: {
		// Conversations go whole; their messages first, in pages of their own.
		candidates: `SELECT cv.last_message_at, cv.id FROM conversations cv
			WHERE cv.status = 'closed' AND cv.last_message_at < ?2 AND (cv.last_message_at, cv.id) > (?4, ?5)
			AND (?3 = 0 OR cv.business_number_id = ?3) AND NOT ` + heldSQL + `
			ORDER BY cv.last_message_at, cv.id LIMIT ?6`,
		remove: []string{
			`DELETE FROM conversations WHERE id IN (SELECT cv.id FROM conversations cv
				WHERE cv.id IN (SELECT value FROM json_each(?3)) AND cv.status = 'closed' AND cv.last_message_at < ?2 AND NOT ` + heldSQL + `)`,
			// Customers with nothing left, no consent on record and no hold go too.
			`DELETE FROM contacts WHERE updated_at < ?2 AND ?3 = ?3
				AND NOT EXISTS (SELECT 1 FROM conversations cv WHERE cv.contact_id = contacts.id)
				AND NOT EXISTS (SELECT 1 FROM consent_records r WHERE r.contact_id = contacts.id)
				AND NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.contact_id = contacts.id AND h.released_at IS NULL AND (h.until IS NULL OR h.until > ?1))`,
		},
	},
	// A delivery whose history chunk still waits for the import stays: the
	// chunk is kept only there (migration 500).
	// Template webhooks go with their deliveries, but what they taught
	// (status, category, quality, components) stays in templates, which no
	// policy purges: it holds no personal data, and the consent check must
	// keep knowing a MARKETING template long after its approval.
	RetainDeliveries: {
		candidates: `SELECT d.received_at, d.id FROM deliveries d
			WHERE d.received_at < ?2 AND (d.received_at, d.id) > (?4, ?5) AND ?3 = ?3
			AND NOT EXISTS (SELECT 1 FROM messages m JOIN conversations cv ON cv.id = m.conversation_id
				WHERE m.delivery_id = d.id AND ` + heldSQL + `)
			AND NOT EXISTS (SELECT 1 FROM history_chunks h WHERE h.delivery_id = d.id AND h.state = 'pending')
			ORDER BY d.received_at, d.id LIMIT ?6`,
		count: 1,
		remove: []string{
			`DELETE FROM events WHERE ?1 = ?1 AND ?2 = ?2 AND delivery_id IN (SELECT value FROM json_each(?3))`,
			`DELETE FROM deliveries WHERE id IN (SELECT d.id FROM deliveries d WHERE d.id IN (SELECT value FROM json_each(?3))
				AND d.received_at < ?2 AND NOT EXISTS (SELECT 1 FROM messages m JOIN conversations cv ON cv.id = m.conversation_id
				WHERE m.delivery_id = d.id AND ` + heldSQL + `)
				AND NOT EXISTS (SELECT 1 FROM history_chunks h WHERE h.delivery_id = d.id AND h.state = 'pending'))`,
		},
	},
	RetainSecureLinks: {
		candidates: `SELECT l.expires_at, l.id FROM secure_links l
			WHERE l.expires_at < ?2 AND (l.expires_at, l.id) > (?4, ?5) AND ?3 = ?3 AND ?1 = ?1
			ORDER BY l.expires_at, l.id LIMIT ?6`,
		remove: []string{`DELETE FROM secure_links WHERE ?1 = ?1 AND expires_at < ?2 AND id IN (SELECT value FROM json_each(?3))`},
	},
	RetainAudit: {
		candidates: `SELECT a.ts, a.id FROM audit_log a WHERE a.ts < ?2 AND (a.ts, a.id) > (?4, ?5) AND ?3 = ?3 AND ?1 = ?1
			ORDER BY a.ts, a.id LIMIT ?6`,
		remove: []string{`DELETE FROM audit_log WHERE ?1 = ?1 AND ts < ?2 AND id IN (SELECT value FROM json_each(?3))`},
	},
}

// orphanSpecs purge rows that lost their parent and are past a class's cutoff.
var orphanSpecs = map[string]purgeSpec{
	RetainMessages: {
		// Receipts of messages that are gone (or were never stored).
		candidates: `SELECT s.ts, s.id FROM message_statuses s WHERE s.ts < ?2 AND (s.ts, s.id) > (?4, ?5) AND ?3 = ?3 AND ?1 = ?1
			AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.wamid = s.wamid) ORDER BY s.ts, s.id LIMIT ?6`,
		remove: []string{`DELETE FROM message_statuses WHERE ?1 = ?1 AND ts < ?2 AND id IN (SELECT value FROM json_each(?3))
			AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.wamid = message_statuses.wamid)`},
	},
	RetainDeliveries: {
		// Events whose delivery went earlier, or that never had one.
		candidates: `SELECT e.received_at, e.id FROM events e WHERE e.received_at < ?2 AND (e.received_at, e.id) > (?4, ?5)
			AND ?3 = ?3 AND ?1 = ?1 AND e.delivery_id IS NULL ORDER BY e.received_at, e.id LIMIT ?6`,
		remove: []string{`DELETE FROM events WHERE ?1 = ?1 AND received_at < ?2 AND delivery_id IS NULL AND id IN (SELECT value FROM json_each(?3))`},
	},
}

// Secure-delete looks each deleted row's tokens up in every segment of the
// search index, so a row costs about as many lookups as there are
// segments (measured: 0.10 ms a row with one segment, 0.17 with five,
// 0.23 with eleven). Before a large purge the index is therefore merged
// down to a few segments first, in the same short background turns as
// the clean-up; a small daily run is not worth rewriting the index for.
const (
	mergeFirstRows     = 20_000 // expired messages that make a purge large
	mergeFirstSegments = 4      // merge until at most this many segments
)

func (r *purger) mergeIndexFirst(ctx context.Context, ps *policySet) error {
	days := ps.def[RetainMessages]
	if days == 0 {
		return nil
	}
	segments, err := r.s.ftsSegments(ctx)
	if err != nil {
		return err
	}
	if segments <= mergeFirstSegments {
		return nil
	}
	var expired int64
	if err := r.s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM (SELECT 1 FROM messages WHERE ts < ? LIMIT ?)",
		cutoff(r.opts.Now, days).Unix(), mergeFirstRows).Scan(&expired); err != nil {
		return fmt.Errorf("store: retention: %w", err)
	}
	if expired < mergeFirstRows {
		return nil
	}
	steps, _, err := r.s.mergeFTS(ctx, r.s.opts.ScrubWait, mergeFirstSegments)
	r.rep.IndexMergeSteps = steps
	return err
}

func (r *purger) purge(ctx context.Context, class string, number int64, cut time.Time) (int64, error) {
	spec, ok := purgeSpecs[class]
	if !ok {
		spec, ok = retentionExtensions[class]
	}
	if !ok {
		return 0, nil // the class's tables are not part of this build
	}
	var total int64
	if class == RetainClosedConversations {
		n, err := r.purgeClosedConversationMessages(ctx, number, cut)
		if err != nil {
			return 0, err
		}
		total += n
	}
	n, err := r.run(ctx, spec, number, cut)
	if err != nil {
		return 0, err
	}
	return total + n, nil
}

// purgeClosedConversationMessages empties the closed conversations due for
// deletion page by page, so that deleting a conversation is one small step.
func (r *purger) purgeClosedConversationMessages(ctx context.Context, number int64, cut time.Time) (int64, error) {
	spec := purgeSpec{
		candidates: `SELECT m.conversation_id, m.id FROM messages m JOIN conversations cv ON cv.id = m.conversation_id
			WHERE cv.status = 'closed' AND cv.last_message_at < ?2 AND (m.conversation_id, m.id) > (?4, ?5)
			AND (?3 = 0 OR cv.business_number_id = ?3) AND NOT ` + heldSQL + `
			ORDER BY m.conversation_id, m.id LIMIT ?6`,
		mediaPaths: purgeSpecs[RetainMessages].mediaPaths,
		count:      1,
		index:      true,
		remove: []string{
			`DELETE FROM message_statuses WHERE wamid IN (SELECT m.wamid FROM messages m JOIN conversations cv ON cv.id = m.conversation_id
				WHERE m.id IN (SELECT value FROM json_each(?3)) AND cv.status = 'closed' AND cv.last_message_at < ?2 AND NOT ` + heldSQL + `)`,
			`DELETE FROM messages WHERE id IN (SELECT m.id FROM messages m JOIN conversations cv ON cv.id = m.conversation_id
				WHERE m.id IN (SELECT value FROM json_each(?3)) AND cv.status = 'closed' AND cv.last_message_at < ?2 AND NOT ` + heldSQL + `)`,
		},
	}
	return r.run(ctx, spec, number, cut)
}

// run pages through a spec's candidates on a reader and deletes each page
// in its own writer turn. In a dry run it only counts.
func (r *purger) run(ctx context.Context, spec purgeSpec, number int64, cut time.Time) (int64, error) {
	now, cu := r.opts.Now.Unix(), cut.Unix()
	var upper []any
	if spec.upper != "" {
		var u int64
		if err := r.s.rdb.QueryRowContext(ctx, spec.upper, now, cu, number).Scan(&u); err != nil {
			return 0, err
		}
		upper = []any{u}
	}
	if r.opts.DryRun {
		var n int64
		err := r.s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM ("+spec.candidates+")",
			append([]any{now, cu, number, math.MinInt64, 0, -1}, upper...)...).Scan(&n)
		if err != nil {
			return 0, err
		}
		if spec.mediaPaths != "" {
			r.rep.MediaFiles += int(n) // an upper bound: shared files stay
		}
		return n, nil
	}
	var total int64
	var wear indexWear
	lastK, lastID := int64(math.MinInt64), int64(0)
	batch := min(r.opts.Batch, 20)
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		rows, err := r.s.rdb.QueryContext(ctx, spec.candidates, append([]any{now, cu, number, lastK, lastID, batch}, upper...)...)
		if err != nil {
			return total, err
		}
		var ids []any
		for rows.Next() {
			if err := rows.Scan(&lastK, &lastID); err != nil {
				rows.Close()
				return total, err
			}
			ids = append(ids, lastID)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, err
		}
		if len(ids) == 0 {
			return total, nil
		}
		page := jsonArray(ids)
		var n int64
		var paths []string
		var t0 time.Time
		// A background turn: committed on its own, between webhook commits.
		err = r.s.writeLow(ctx, func(tx *Tx) error {
			t0 = time.Now()
			n, paths = 0, paths[:0]
			if spec.mediaPaths != "" {
				rows, err := tx.Query(spec.mediaPaths, now, cu, page)
				if err != nil {
					return err
				}
				for rows.Next() {
					var p string
					if err := rows.Scan(&p); err != nil {
						rows.Close()
						return err
					}
					paths = append(paths, p)
				}
				rows.Close()
			}
			for i, q := range spec.remove {
				res, err := tx.Exec(q, now, cu, page)
				if err != nil {
					return err
				}
				if i == spec.count {
					n, _ = res.RowsAffected()
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		// The turn as webhooks saw it: the deletes and the commit, where
		// FTS5 does the secure-delete work (it flushes its pending changes
		// then), which is most of the cost.
		took := time.Since(t0)
		total += n
		r.paths = append(r.paths, paths...)
		r.rep.LongestTurn = max(r.rep.LongestTurn, took)
		if len(ids) < batch {
			return total, nil
		}
		if spec.index && wear.note(took, n) {
			steps, err := r.s.rewriteFTS(ctx)
			r.rep.IndexMergeSteps += steps
			if err != nil {
				return total, err
			}
			wear = indexWear{}
		}
		batch = scaleToTurn(batch, took, minBatch, r.opts.Batch)
		// Rest for a quarter of the turn: deleting with secure-delete is
		// CPU-bound, and on a small machine webhooks need the other core.
		// (The writer already puts other commits between two turns.)
		if err := rest(ctx, took/4); err != nil {
			return total, err
		}
	}
}

// purgeTurn is how long one purge turn should hold the writer, commit
// included. Deleting a message costs far more with FTS5's secure-delete
// than without: the commit flushes the index, and for every token of
// every deleted row it looks the row up in each segment and rewrites its
// page (measured 0.1–0.35 ms a row alone, 0.4–0.7 ms under load; fewer
// segments and larger pages cost less a row). So the page size follows
// the measured time instead of a fixed count. Secure-delete stays on
// anyway: it removes a row's index entries at once, so nothing depends on
// a later merge that continuous ingest could keep from finishing.
const purgeTurn = 10 * time.Millisecond

// scaleToTurn scales a background step's size n towards purgeTurn, given
// how long the last step took: at most halving or growing by half per
// step, so that one slow turn (a checkpoint, another process) does not
// swing it, and within [least, most].
func scaleToTurn(n int, took time.Duration, least, most int) int {
	next := n + n/2 + 1
	if took > 0 {
		next = min(next, int(float64(n)*float64(purgeTurn)/float64(took)))
	}
	return min(most, max(least, n/2, next))
}

// indexWear tells a purge when to rewrite the search index. FTS5's
// secure-delete leaves the pages it empties in place, and finding a row's
// entries walks each doclist from its start through them; so deleting in
// id order, each row costs more than the one before (measured alone: 46 µs
// a row at first, 336 µs after 200 000). A full merge drops the empty
// pages and costs about one pass over the index, so it pays once a row
// costs twice what it did after the last one.
type indexWear struct {
	best, avg float64 // µs a row: lowest moving average, and the current one
	rows      int64   // rows deleted since the last merge
}

// wearMinRows is the least a purge deletes between two index merges.
const wearMinRows = 5000

// note records a turn that deleted n rows in took and reports whether the
// index should be merged now.
func (w *indexWear) note(took time.Duration, n int64) bool {
	if n <= 0 {
		return false
	}
	c := float64(took.Microseconds()) / float64(n)
	if w.rows == 0 {
		w.avg = c
	}
	w.avg += (c - w.avg) / 8
	if w.best == 0 || w.avg < w.best {
		w.best = w.avg
	}
	w.rows += n
	return w.rows >= wearMinRows && w.avg > 2*w.best
}

// minBatch is the smallest page: below it the commit's fixed cost dominates.
const minBatch = 5

func (r *purger) unlink(ctx context.Context) error {
	if r.opts.DryRun {
		return nil
	}
	n, err := r.s.unlinkUnreferenced(ctx, r.paths)
	r.rep.MediaFiles += n
	r.paths = nil
	return err
}

// sweepOrphanMedia removes files in the media folder that no media row
// references and that are older than notAfter: left behind by a crash
// between a commit and an unlink, or by an abandoned download.
func (s *Store) sweepOrphanMedia(ctx context.Context, notAfter time.Time, dryRun bool) (int, error) {
	root := s.MediaDir()
	n := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() || ctx.Err() != nil {
			return ctx.Err()
		}
		info, err := d.Info()
		if err != nil || info.ModTime().After(notAfter) {
			return nil
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return nil
		}
		var one int
		err = s.rdb.QueryRowContext(ctx, mediaReferencedSQL, filepath.ToSlash(rel)).Scan(&one)
		if err == nil {
			return nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		n++
		if dryRun {
			return nil
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("store: media sweep: %w", err)
	}
	return n, nil
}
