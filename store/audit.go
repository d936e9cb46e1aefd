package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// AuditEntry is one line of the audit trail. Detail holds JSON with ids
// and counts; it must never hold message contents.
type AuditEntry struct {
	ID     int64
	TS     int64
	Actor  Actor
	Action AuditAction
	Target string
	Detail string
	IP     string
}

// Audit appends an entry in its own durable commit.
func (s *Store) Audit(ctx context.Context, e AuditEntry) error {
	return s.Write(ctx, func(tx *Tx) error { return AuditTx(tx, e) })
}

// AuditTx appends an entry inside a write, so that an action and its audit
// line commit together or not at all.
func AuditTx(tx *Tx, e AuditEntry) error {
	if e.TS == 0 {
		e.TS = time.Now().Unix()
	}
	prev := make([]byte, sha256.Size)
	err := tx.QueryRow("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").Scan(&prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: audit: %w", err)
	}
	h := auditHash(prev, e)
	if _, err := tx.Exec(`INSERT INTO audit_log(ts, actor, action, target, detail, ip, prev, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		e.TS, e.Actor, e.Action, e.Target, e.Detail, e.IP, prev, h); err != nil {
		return fmt.Errorf("store: audit: %w", err)
	}
	return nil
}

func auditHash(prev []byte, e AuditEntry) []byte {
	h := sha256.New()
	h.Write(prev)
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(e.TS))
	h.Write(ts[:])
	for _, f := range []string{string(e.Actor), string(e.Action), e.Target, e.Detail, e.IP} {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(f)))
		h.Write(n[:])
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// AuditLog lists entries newest first; before is the id to page from (0: newest).
func (s *Store) AuditLog(ctx context.Context, before int64, limit int) ([]AuditEntry, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, ts, actor, action, target, detail, ip FROM audit_log
		WHERE id < ? ORDER BY id DESC LIMIT ?`, before, Page{Limit: limit}.limit())
	if err != nil {
		return nil, fmt.Errorf("store: audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		if err := rows.Scan(&e.ID, &e.TS, &e.Actor, &e.Action, &e.Target, &e.Detail, &e.IP); err != nil {
			return nil, fmt.Errorf("store: audit log: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// VerifyAuditChain recomputes every row's hash and returns the id of the
// first row that does not match, or 0 when the chain is intact.
func (s *Store) VerifyAuditChain(ctx context.Context) (int64, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, ts, actor, action, target, detail, ip, prev, hash FROM audit_log ORDER BY id`)
	if err != nil {
		return 0, fmt.Errorf("store: audit chain: %w", err)
	}
	defer rows.Close()
	// Retention deletes the oldest rows, so the chain starts at whatever
	// row is first now.
	var want []byte
	for rows.Next() {
		var e AuditEntry
		var prev, hash []byte
		if err := rows.Scan(&e.ID, &e.TS, &e.Actor, &e.Action, &e.Target, &e.Detail, &e.IP, &prev, &hash); err != nil {
			return 0, fmt.Errorf("store: audit chain: %w", err)
		}
		if (want != nil && string(prev) != string(want)) || string(auditHash(prev, e)) != string(hash) {
			return e.ID, nil
		}
		want = hash
	}
	return 0, rows.Err()
}
