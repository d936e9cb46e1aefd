package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// EraseRequest says who asks for an erasure and why; it goes into the
// audit trail, so it must not contain personal data either.
type EraseRequest struct {
	Actor  Actor
	Reason string
	IP     string
	Now    time.Time // zero: time.Now()
}

// EraseResult tells what an erasure removed.
type EraseResult struct {
	RequestID     int64
	State         ErasureState // ErasureErased, or ErasureRestricted when a legal hold keeps the data
	Subject       string       // keyed hash of the first identifier, the tombstone
	Holds         []LegalHold
	Conversations int
	Messages      int
	MediaFiles    int // files unlinked from the media folder
	Deliveries    int
	Statuses      int
	Events        int
	// MetaMediaIDs are files Pforte uploaded to Meta for this customer;
	// the caller deletes them there (DELETE /{media-id}).
	MetaMediaIDs []string
	// Recipients are the company's own systems that deliveries are
	// forwarded to (fan-out subscriptions): they may hold copies, and
	// Art. 19 asks that they be told of the erasure.
	Recipients []string
	Scrub      ScrubResult
}

// eraseChunk bounds one writer turn of an erasure, so that webhooks keep
// being acknowledged while a customer with many messages is erased.
const eraseChunk = 500

// EraseContact erases a customer (Art. 17) found by wa_id or user id: every
// message, status, raw delivery and event that mentions them, their media
// files no other message uses, consent records, holds and links. The audit
// trail keeps a tombstone (keyed hash, who, when, why). A customer under a
// legal hold is restricted instead and erased when the hold ends.
func (s *Store) EraseContact(ctx context.Context, key string, req EraseRequest) (*EraseResult, error) {
	if req.Now.IsZero() {
		req.Now = time.Now()
	}
	if req.Actor == "" {
		return nil, fmt.Errorf("%w: an erasure needs an actor", ErrInvalid)
	}
	c, err := s.ContactByKey(ctx, key)
	if err != nil {
		return nil, err
	}
	res, err := s.eraseContact(ctx, c, 0, req)
	if err != nil {
		return nil, err
	}
	// The same person may be on record twice (once by phone number, once by
	// user id, before Meta linked them).
	for range 2 {
		other, err := s.ContactByKey(ctx, key)
		if errors.Is(err, ErrNotFound) || res.State != ErasureErased {
			break
		}
		if err != nil {
			return nil, err
		}
		more, err := s.eraseContact(ctx, other, 0, req)
		if err != nil {
			return nil, err
		}
		res.add(more)
	}
	return res, nil
}

func (r *EraseResult) add(o *EraseResult) {
	r.Conversations += o.Conversations
	r.Messages += o.Messages
	r.MediaFiles += o.MediaFiles
	r.Deliveries += o.Deliveries
	r.Statuses += o.Statuses
	r.Events += o.Events
	r.MetaMediaIDs = append(r.MetaMediaIDs, o.MetaMediaIDs...)
	r.Scrub = o.Scrub
}

// eraseContact runs one erasure; reqID continues an earlier request.
func (s *Store) eraseContact(ctx context.Context, c *Contact, reqID int64, req EraseRequest) (*EraseResult, error) {
	key, err := tombstoneKey(s.dir)
	if err != nil {
		return nil, err
	}
	hashes := subjectHashes(key, c)
	res := &EraseResult{RequestID: reqID, State: ErasureErased}
	if len(hashes) > 0 {
		res.Subject = hashes[0]
	}
	now := req.Now.Unix()

	holds, err := s.activeHolds(ctx, c.ID, req.Now)
	if err != nil {
		return nil, err
	}
	if len(holds) > 0 {
		res.State, res.Holds = ErasureRestricted, holds
		if reqID != 0 {
			return res, nil // a waiting request, looked at again by retention: nothing new to record
		}
		var created bool
		err := s.Write(ctx, func(tx *Tx) error {
			created = false
			err := tx.QueryRow("SELECT id FROM erasure_requests WHERE contact_id = ? AND state = 'restricted'", c.ID).Scan(&res.RequestID)
			if err == nil {
				return nil // already waiting for the hold to end
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			if err := tx.QueryRow(`INSERT INTO erasure_requests(contact_id, subject, state, actor, reason, requested_at)
				VALUES (?, ?, 'restricted', ?, ?, ?) RETURNING id`, c.ID, res.Subject, req.Actor, req.Reason, now).Scan(&res.RequestID); err != nil {
				return err
			}
			created = true
			return AuditTx(tx, AuditEntry{TS: now, Actor: req.Actor, Action: AuditContactEraseRefused, IP: req.IP,
				Target: fmt.Sprintf("erasure:%d", res.RequestID),
				Detail: jsonDetail(map[string]any{"subject": res.Subject, "holds": len(holds), "reason": req.Reason})})
		})
		if err != nil {
			return nil, fmt.Errorf("store: erase: %w", err)
		}
		if created {
			// A restore must not forget the request (decisions.go).
			if err := s.recordDecision(decision{Kind: DecisionErasureRestricted, At: now, Actor: req.Actor, Subjects: hashes,
				RequestID: res.RequestID, Subject: res.Subject}, req.Reason); err != nil {
				return nil, err
			}
		}
		return res, nil
	}

	if reqID == 0 {
		if err := s.Write(ctx, func(tx *Tx) error {
			// A restricted request for this contact becomes this one.
			err := tx.QueryRow(`UPDATE erasure_requests SET state = 'running' WHERE contact_id = ? AND state IN ('restricted', 'running')
				RETURNING id`, c.ID).Scan(&res.RequestID)
			if err == nil || !errors.Is(err, sql.ErrNoRows) {
				return err
			}
			return tx.QueryRow(`INSERT INTO erasure_requests(contact_id, subject, state, actor, reason, requested_at)
				VALUES (?, ?, 'running', ?, ?, ?) RETURNING id`, c.ID, res.Subject, req.Actor, req.Reason, now).Scan(&res.RequestID)
		}); err != nil {
			return nil, fmt.Errorf("store: erase: %w", err)
		}
	}

	// The raw deliveries are JSON; a customer appears in them by their
	// identifiers as quoted strings. Scanning them is slow, so it runs on a
	// reader; the final write rescans only what arrived since.
	needles := quotedIDs(c)
	deliveries := map[int64]bool{}
	scannedUpTo, err := s.scanDeliveries(ctx, needles, 0, deliveries)
	if err != nil {
		return nil, err
	}

	// Messages go in chunks. Their deliveries and media are remembered.
	var paths []string
	for {
		// A write function may run twice (the writer replays a batch when
		// another write in it fails), so it fills these afresh each time and
		// they are added up only once the commit is durable.
		var n, ns int
		var chunkPaths, metaIDs []string
		var chunkDeliveries []int64
		err := s.Write(ctx, func(tx *Tx) error {
			n, ns = 0, 0
			chunkPaths, metaIDs, chunkDeliveries = nil, nil, nil
			var ids, wamids []any
			rows, err := tx.Query(`SELECT m.id, coalesce(m.wamid, ''), coalesce(m.delivery_id, 0), m.direction,
				coalesce(md.path, ''), coalesce(md.media_id, '')
				FROM messages m JOIN conversations cv ON cv.id = m.conversation_id LEFT JOIN media md ON md.message_id = m.id
				WHERE cv.contact_id = ? LIMIT ?`, c.ID, eraseChunk)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id, did int64
				var wamid, dir, path, mediaID string
				if err := rows.Scan(&id, &wamid, &did, &dir, &path, &mediaID); err != nil {
					rows.Close()
					return err
				}
				ids = append(ids, id)
				if wamid != "" {
					wamids = append(wamids, wamid)
				}
				if did != 0 {
					chunkDeliveries = append(chunkDeliveries, did)
				}
				if path != "" {
					chunkPaths = append(chunkPaths, path)
				}
				if dir == "outbound" && mediaID != "" {
					metaIDs = append(metaIDs, mediaID)
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if len(ids) == 0 {
				return nil
			}
			wj, idj := jsonArray(wamids), jsonArray(ids)
			srows, err := tx.Query(`SELECT DISTINCT delivery_id FROM message_statuses WHERE delivery_id IS NOT NULL
				AND wamid IN (SELECT value FROM json_each(?))`, wj)
			if err != nil {
				return err
			}
			for srows.Next() {
				var did int64
				if err := srows.Scan(&did); err != nil {
					srows.Close()
					return err
				}
				chunkDeliveries = append(chunkDeliveries, did)
			}
			srows.Close()
			r, err := tx.Exec("DELETE FROM message_statuses WHERE wamid IN (SELECT value FROM json_each(?))", wj)
			if err != nil {
				return err
			}
			affected, _ := r.RowsAffected()
			if _, err := tx.Exec("DELETE FROM messages WHERE id IN (SELECT value FROM json_each(?))", idj); err != nil {
				return err
			}
			n, ns = len(ids), int(affected)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("store: erase messages: %w", err)
		}
		if n == 0 {
			break
		}
		res.Messages += n
		res.Statuses += ns
		paths = append(paths, chunkPaths...)
		res.MetaMediaIDs = append(res.MetaMediaIDs, metaIDs...)
		for _, d := range chunkDeliveries {
			deliveries[d] = true
		}
	}

	// Everything else in one transaction with the tombstone: if it fails,
	// nothing of this step is applied and the request stays "running".
	if err := appendTombstones(s.dir, hashes, now); err != nil {
		return nil, err
	}
	base := *res
	var finalUploadPaths []string
	err = s.Write(ctx, func(tx *Tx) error {
		final := base // afresh on every run of this function
		late := map[int64]bool{}
		if err := scanDeliveriesTx(tx, needles, scannedUpTo, late); err != nil {
			return err
		}
		all := make([]any, 0, len(deliveries)+len(late))
		for d := range deliveries {
			all = append(all, d)
		}
		for d := range late {
			if !deliveries[d] {
				all = append(all, d)
			}
		}
		dj := jsonArray(all)
		// Statuses and events derived from those deliveries, and any
		// that name the customer directly.
		r, err := tx.Exec(`DELETE FROM message_statuses WHERE delivery_id IN (SELECT value FROM json_each(?1))
			OR (?2 <> '' AND recipient_wa_id = ?2) OR (?3 <> '' AND recipient_user_id = ?3)`, dj, c.WaID, c.UserID)
		if err != nil {
			return err
		}
		n, _ := r.RowsAffected()
		final.Statuses += int(n)
		r, err = tx.Exec("DELETE FROM events WHERE delivery_id IN (SELECT value FROM json_each(?))", dj)
		if err != nil {
			return err
		}
		n, _ = r.RowsAffected()
		final.Events += int(n)
		for _, nd := range needles {
			r, err := tx.Exec("DELETE FROM events WHERE instr(CAST(value AS BLOB), ?) > 0", nd)
			if err != nil {
				return err
			}
			n, _ := r.RowsAffected()
			final.Events += int(n)
		}
		r, err = tx.Exec("DELETE FROM deliveries WHERE id IN (SELECT value FROM json_each(?))", dj)
		if err != nil {
			return err
		}
		n, _ = r.RowsAffected()
		final.Deliveries += int(n)
		// Messages that arrived during the chunks go with their conversations.
		r, err = tx.Exec("DELETE FROM conversations WHERE contact_id = ?", c.ID)
		if err != nil {
			return err
		}
		n, _ = r.RowsAffected()
		final.Conversations += int(n)
		if err := eraseExtensions(tx, c); err != nil {
			return err
		}
		// Files uploaded to Meta for this customer alone: their upload
		// records go here, the copies at Meta through the caller.
		var metaIDs []any
		for _, id := range base.MetaMediaIDs {
			metaIDs = append(metaIDs, id)
		}
		rows, err := tx.Query(`SELECT value FROM json_each(?) WHERE NOT EXISTS (SELECT 1 FROM media WHERE media_id = value)`, jsonArray(metaIDs))
		if err != nil {
			return err
		}
		final.MetaMediaIDs = nil
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			final.MetaMediaIDs = append(final.MetaMediaIDs, id)
		}
		rows.Close()
		var uploadPaths []string
		for _, id := range final.MetaMediaIDs {
			var p string
			err := tx.QueryRow("DELETE FROM uploads WHERE media_id = ? RETURNING path", id).Scan(&p)
			if err == nil {
				uploadPaths = append(uploadPaths, p)
			} else if !errors.Is(err, sql.ErrNoRows) {
				return err
			}
		}
		finalUploadPaths = uploadPaths
		if _, err := tx.Exec("DELETE FROM contacts WHERE id = ?", c.ID); err != nil {
			return err
		}
		for _, h := range hashes {
			if _, err := tx.Exec("INSERT INTO erasure_tombstones(hash, erased_at) VALUES (?, ?) ON CONFLICT DO NOTHING", h, now); err != nil {
				return err
			}
		}
		if _, err := tx.Exec("UPDATE erasure_requests SET state = 'done', completed_at = ? WHERE id = ?", now, res.RequestID); err != nil {
			return err
		}
		detail := map[string]any{"subject": res.Subject, "identifiers": len(hashes), "reason": req.Reason,
			"messages": final.Messages, "statuses": final.Statuses, "deliveries": final.Deliveries,
			"events": final.Events, "conversations": final.Conversations, "media_files": len(paths)}
		if err := AuditTx(tx, AuditEntry{TS: now, Actor: req.Actor, Action: AuditContactErase, IP: req.IP,
			Target: fmt.Sprintf("erasure:%d", res.RequestID), Detail: jsonDetail(detail)}); err != nil {
			return err
		}
		*res = final
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: erase: %w", err)
	}
	if res.Recipients, err = s.forwardRecipients(ctx); err != nil {
		return nil, err
	}
	res.MediaFiles, err = s.unlinkUnreferenced(ctx, append(paths, finalUploadPaths...))
	if err != nil {
		return nil, err
	}
	res.Scrub, err = s.Scrub(ctx)
	if err != nil {
		return nil, err
	}
	s.log.Info("contact erased", "request", res.RequestID, "messages", res.Messages, "deliveries", res.Deliveries,
		"media_files", res.MediaFiles, "wal_busy", res.Scrub.WALBusy)
	return res, nil
}

// eraseExtensions removes what other parts of Pforte keep about a contact
// in their own tables (see the table list in erasure_extensions.go).
func eraseExtensions(tx *Tx, c *Contact) error {
	for _, e := range erasureExtensions {
		if _, err := tx.Exec(e, c.ID); err != nil {
			return fmt.Errorf("store: erase %q: %w", e, err)
		}
	}
	return nil
}

// quotedIDs are a contact's identifiers as they appear in webhook JSON.
func quotedIDs(c *Contact) [][]byte {
	var out [][]byte
	for _, v := range []string{c.WaID, c.UserID} {
		if v != "" {
			b, _ := json.Marshal(v)
			out = append(out, b)
		}
	}
	return out
}

// scanDeliveries adds the ids of deliveries above after that mention any
// needle and returns the highest id it looked at.
func (s *Store) scanDeliveries(ctx context.Context, needles [][]byte, after int64, found map[int64]bool) (int64, error) {
	var top int64
	if err := s.rdb.QueryRowContext(ctx, "SELECT coalesce(max(id), 0) FROM deliveries").Scan(&top); err != nil {
		return 0, fmt.Errorf("store: scan deliveries: %w", err)
	}
	for _, nd := range needles {
		rows, err := s.rdb.QueryContext(ctx, "SELECT id FROM deliveries WHERE id > ? AND id <= ? AND instr(body, ?) > 0", after, top, nd)
		if err != nil {
			return 0, fmt.Errorf("store: scan deliveries: %w", err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return 0, fmt.Errorf("store: scan deliveries: %w", err)
			}
			found[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, fmt.Errorf("store: scan deliveries: %w", err)
		}
	}
	return top, nil
}

func scanDeliveriesTx(tx *Tx, needles [][]byte, after int64, found map[int64]bool) error {
	for _, nd := range needles {
		rows, err := tx.Query("SELECT id FROM deliveries WHERE id > ? AND instr(body, ?) > 0", after, nd)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			found[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}

// unlinkUnreferenced removes media files that no media row points to any
// more. Files are named by content, so two messages can share one.
func (s *Store) unlinkUnreferenced(ctx context.Context, paths []string) (int, error) {
	n := 0
	seen := map[string]bool{}
	for _, p := range paths {
		if seen[p] {
			continue
		}
		seen[p] = true
		var one int
		err := s.rdb.QueryRowContext(ctx, mediaReferencedSQL, p).Scan(&one)
		if err == nil {
			continue
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return n, fmt.Errorf("store: media reference: %w", err)
		}
		full, ok := s.mediaFile(p)
		if !ok {
			continue
		}
		if err := os.Remove(full); err != nil && !errors.Is(err, os.ErrNotExist) {
			return n, fmt.Errorf("store: remove media file: %w", err)
		}
		n++
	}
	if n > 0 {
		syncDir(s.MediaDir())
	}
	return n, nil
}

// mediaReferencedSQL finds a row that still needs a media file: a message's
// media or a file uploaded to Meta through Pforte.
const mediaReferencedSQL = `SELECT 1 FROM media WHERE path = ?1 UNION ALL SELECT 1 FROM uploads WHERE path = ?1 LIMIT 1`

// mediaFile resolves a stored relative path inside the media folder and
// refuses anything that would point outside it.
func (s *Store) mediaFile(rel string) (string, bool) {
	if rel == "" || filepath.IsAbs(rel) || !filepath.IsLocal(rel) {
		return "", false
	}
	return filepath.Join(s.MediaDir(), rel), true
}

// jsonArray encodes values for json_each, so that one prepared statement
// serves any number of ids.
func jsonArray(v []any) string {
	if len(v) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// PendingErasures returns the requests that wait: running ones (resumed
// after a crash) and restricted ones whose holds may have ended.
func (s *Store) PendingErasures(ctx context.Context) ([]ErasureRequest, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, coalesce(contact_id, 0), subject, state, actor, reason, requested_at
		FROM erasure_requests WHERE state IN ('running', 'restricted') ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: erasure requests: %w", err)
	}
	defer rows.Close()
	var out []ErasureRequest
	for rows.Next() {
		var r ErasureRequest
		if err := rows.Scan(&r.ID, &r.ContactID, &r.Subject, &r.State, &r.Actor, &r.Reason, &r.RequestedAt); err != nil {
			return nil, fmt.Errorf("store: erasure requests: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ErasureRequest is a stored erasure request.
type ErasureRequest struct {
	ID          int64
	ContactID   int64
	Subject     string
	State       string
	Actor       Actor
	Reason      string
	RequestedAt int64
}

// ResumeErasures finishes interrupted erasures and carries out restricted
// ones whose legal holds have ended. It returns how many it completed.
func (s *Store) ResumeErasures(ctx context.Context, now time.Time) (int, error) {
	reqs, err := s.PendingErasures(ctx)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, r := range reqs {
		c, err := s.contactByID(ctx, r.ContactID)
		if errors.Is(err, ErrNotFound) {
			// Already gone: close the request.
			if err := s.Write(ctx, func(tx *Tx) error {
				_, err := tx.Exec("UPDATE erasure_requests SET state = 'done', completed_at = ? WHERE id = ?", now.Unix(), r.ID)
				return err
			}); err != nil {
				return done, err
			}
			continue
		}
		if err != nil {
			return done, err
		}
		res, err := s.eraseContact(ctx, c, r.ID, EraseRequest{Actor: r.Actor, Reason: r.Reason, Now: now})
		if err != nil {
			return done, err
		}
		if res.State == ErasureErased {
			done++
		}
	}
	return done, nil
}

func (s *Store) contactByID(ctx context.Context, id int64) (*Contact, error) {
	var c Contact
	err := s.rdb.QueryRowContext(ctx, "SELECT "+contactColumns+" FROM contacts c WHERE c.id = ?", id).Scan(c.scanDest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: contact: %w", err)
	}
	c.fromNull()
	return &c, nil
}

// forwardRecipients names the fan-out subscriptions that receive customer
// messages or receipts, to be told about an erasure (Art. 19).
func (s *Store) forwardRecipients(ctx context.Context) ([]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, name, url FROM subscriptions WHERE events & 3 <> 0 ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: recipients: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id int64
		var name, u string
		if err := rows.Scan(&id, &name, &u); err != nil {
			return nil, fmt.Errorf("store: recipients: %w", err)
		}
		host := u
		if pu, err := url.Parse(u); err == nil && pu.Host != "" {
			host = pu.Host // the path may carry a token
		}
		out = append(out, fmt.Sprintf("subscription %d %q (%s)", id, name, host))
	}
	return out, rows.Err()
}
