package store

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// A restore must never revive anything a data protection officer decided
// after the backup was taken. Erasures already outlive a restore as
// tombstones (tombstones.go); the other decisions, legal holds, their
// release, restrictions (an erasure request waiting for a hold) and their
// lifting, go to an append-only journal beside the database, synced before
// the decision is acknowledged, and are replayed in order after a restore.
// The journal keeps ids, times, actors and the keyed hashes of a
// customer's identifiers; free text (a hold's reason) is sealed with the
// data directory's key. tombstones.txt keeps its own format, so an older
// binary still reads it.

// DecisionLogFile is the journal's name in the data directory.
const DecisionLogFile = "decisions.jsonl"

// DecisionKind names a recorded decision.
type DecisionKind string

// The decisions the journal records.
const (
	DecisionHoldSet           DecisionKind = "hold.set"
	DecisionHoldRelease       DecisionKind = "hold.release"
	DecisionErasureRestricted DecisionKind = "erasure.restricted"
	DecisionRestrictionLift   DecisionKind = "restriction.lift"
)

// decisionReasonLabel binds a sealed reason to the journal.
const decisionReasonLabel = "decision-journal-reason"

// decision is one journal line. Rows keep the ids they had, so a replay
// gives the API's and the panel's ids back; the customer is found again
// by the keyed hashes of their identifiers, never by id alone.
type decision struct {
	Kind           DecisionKind `json:"kind"`
	At             int64        `json:"at"`
	Actor          Actor        `json:"actor,omitempty"`
	Subjects       []string     `json:"subjects,omitempty"`
	ConversationID int64        `json:"conversation_id,omitempty"`
	HoldID         int64        `json:"hold_id,omitempty"`
	RequestID      int64        `json:"request_id,omitempty"`
	Subject        string       `json:"subject,omitempty"` // erasure_requests.subject
	Preset         string       `json:"preset,omitempty"`
	Until          int64        `json:"until,omitempty"`
	CreatedAt      int64        `json:"created_at,omitempty"`
	Reason         []byte       `json:"reason,omitempty"` // sealed
}

// recordDecision appends d to the journal and syncs it. Callers record
// after their transaction committed and before they report success: a
// crash in between leaves a decision that was never acknowledged.
func (s *Store) recordDecision(d decision, reason string) error {
	if reason != "" {
		sealed, err := s.Seal([]byte(reason), decisionReasonLabel)
		if err != nil {
			return fmt.Errorf("store: decision journal: %w", err)
		}
		d.Reason = sealed
	}
	line, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("store: decision journal: %w", err)
	}
	if err := appendSync(s.dir, DecisionLogFile, append(line, '\n')); err != nil {
		return fmt.Errorf("store: decision journal: %w", err)
	}
	return nil
}

// contactSubjects are the keyed hashes of a contact's identifiers.
func (s *Store) contactSubjects(ctx context.Context, contactID int64) ([]string, error) {
	c, err := s.contactByID(ctx, contactID)
	if err != nil {
		return nil, err
	}
	key, err := tombstoneKey(s.dir)
	if err != nil {
		return nil, err
	}
	return subjectHashes(key, c), nil
}

// readDecisions returns the journal in order. A torn last line (a crash
// while appending, before anything was acknowledged) is skipped.
func readDecisions(dir string) ([]decision, error) {
	f, err := os.Open(filepath.Join(dir, DecisionLogFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: decision journal: %w", err)
	}
	defer f.Close()
	var out []decision
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var d decision
		if json.Unmarshal(sc.Bytes(), &d) == nil && d.Kind != "" {
			out = append(out, d)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("store: decision journal: %w", err)
	}
	return out, nil
}

// replayDecisions applies the journal to a restored database: every
// decision the backup does not know yet is made again, in the order it
// was made, so the restore ends in the latest state. Decisions the backup
// already holds change nothing. It returns how many it applied.
func (s *Store) replayDecisions(ctx context.Context, now time.Time) (int, error) {
	ds, err := readDecisions(s.dir)
	if err != nil || len(ds) == 0 {
		return 0, err
	}
	key, err := tombstoneKey(s.dir)
	if err != nil {
		return 0, err
	}
	// Who is who in the restored database, by identifier hash.
	bySubject := map[string]int64{}
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+contactColumns+" FROM contacts c")
	if err != nil {
		return 0, fmt.Errorf("store: replay decisions: %w", err)
	}
	for rows.Next() {
		var c Contact
		if err := rows.Scan(c.scanDest()...); err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: replay decisions: %w", err)
		}
		c.fromNull()
		for _, h := range subjectHashes(key, &c) {
			bySubject[h] = c.ID
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("store: replay decisions: %w", err)
	}
	contactOf := func(d decision) int64 {
		for _, h := range d.Subjects {
			if id := bySubject[h]; id != 0 {
				return id
			}
		}
		return 0 // not in the backup, or erased since: nothing to decide about
	}
	reasonOf := func(d decision) string {
		if len(d.Reason) == 0 {
			return ""
		}
		b, err := s.Unseal(d.Reason, decisionReasonLabel)
		if err != nil {
			// The decision counts more than its wording.
			return "(nach Wiederherstellung; Begründung nicht lesbar)"
		}
		return string(b)
	}
	var applied int
	err = s.Write(ctx, func(tx *Tx) error {
		applied = 0
		for _, d := range ds {
			n, err := applyDecision(tx, d, contactOf(d), reasonOf(d))
			if err != nil {
				return fmt.Errorf("%s at %d: %w", d.Kind, d.At, err)
			}
			applied += n
		}
		if applied > 0 {
			return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: ActorRestore, Action: AuditDecisionsReplay, Target: "database",
				Detail: jsonDetail(map[string]any{"journal": len(ds), "applied": applied})})
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: replay decisions: %w", err)
	}
	return applied, nil
}

// applyDecision makes one decision again unless the database already
// reflects it; it returns 1 when it changed something.
func applyDecision(tx *Tx, d decision, contactID int64, reason string) (int, error) {
	affected := func(res interface{ RowsAffected() (int64, error) }, err error) (int, error) {
		if err != nil {
			return 0, err
		}
		n, _ := res.RowsAffected()
		return int(n), nil
	}
	switch d.Kind {
	case DecisionHoldSet:
		if contactID == 0 {
			return 0, nil
		}
		var conv, contact any = nil, contactID
		if d.ConversationID != 0 {
			var one int
			if err := tx.QueryRow("SELECT count(*) FROM conversations WHERE id = ? AND contact_id = ?", d.ConversationID, contactID).Scan(&one); err != nil || one == 0 {
				return 0, err
			}
			conv, contact = d.ConversationID, nil
		}
		if reason == "" {
			reason = "(nach Wiederherstellung)"
		}
		return affected(tx.Exec(`INSERT INTO legal_holds(id, contact_id, conversation_id, preset, reason, until, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING`,
			d.HoldID, contact, conv, d.Preset, reason, nullID(d.Until), d.Actor, d.CreatedAt))
	case DecisionHoldRelease:
		return affected(tx.Exec("UPDATE legal_holds SET released_by = ?, released_at = ? WHERE id = ? AND released_at IS NULL", d.Actor, d.At, d.HoldID))
	case DecisionErasureRestricted:
		if contactID == 0 {
			return 0, nil
		}
		return affected(tx.Exec(`INSERT INTO erasure_requests(id, contact_id, subject, state, actor, reason, requested_at)
			SELECT ?, ?, ?, 'restricted', ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM erasure_requests WHERE id = ?1 OR (contact_id = ?2 AND state = 'restricted'))`,
			d.RequestID, contactID, d.Subject, d.Actor, reason, d.At))
	case DecisionRestrictionLift:
		return affected(tx.Exec("DELETE FROM erasure_requests WHERE id = ? AND state = 'restricted'", d.RequestID))
	}
	return 0, nil // a kind a newer Pforte wrote: it replays it itself
}
