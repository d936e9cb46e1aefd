package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ScrubResult tells how the physical clean-up after a deletion went.
type ScrubResult struct {
	FTSMergeSteps      int           // incremental merge steps of the search index
	LongestTurn        time.Duration // the longest single step that held the writer
	FTSOptimized       bool          // the index reached a single segment (what 'optimize' gives)
	CheckpointAttempts int           // wal_checkpoint(TRUNCATE) calls until no reader blocked it
	WALBusy            bool          // true if readers still blocked the checkpoint at the deadline
	WALLeftToReplica   bool          // WALBusy, and the replicator truncates the WAL once the erasure is shipped
	FreedPages         int64         // pages given back to the file system by incremental_vacuum
}

// DefaultScrubWait bounds how long Scrub waits for readers to let go of
// the WAL, and how long it merges the search index (Options.ScrubWait).
const DefaultScrubWait = 30 * time.Second

// WALWaitWithReplica is how long Scrub waits for the WAL when a replicator
// holds it (Options.ReplicaRunning): long enough for the usual
// readers, not for the replicator's own read transaction.
const WALWaitWithReplica = 2 * time.Second

// Scrub makes deleted rows physically gone: secure_delete (always on) has
// zeroed them in the pages, but copies remain in the FTS segments until an
// optimize and in the -wal file until a TRUNCATE checkpoint, and freed
// pages stay in the file until vacuumed. Each step is a background writer
// turn (see writeLow) sized to about purgeTurn, followed by a rest as long
// as the step, so that webhook ingest keeps flowing in between.
func (s *Store) Scrub(ctx context.Context) (res ScrubResult, err error) {
	s.longestTurn.Store(0)
	defer func() { res.LongestTurn = time.Duration(s.longestTurn.Load()) }()
	if res.FTSMergeSteps, res.FTSOptimized, err = s.optimizeFTS(ctx, s.opts.ScrubWait); err != nil {
		return res, err
	}
	if res.FreedPages, err = s.vacuum(ctx); err != nil {
		return res, err
	}
	walWait := s.opts.ScrubWait
	replicating := s.opts.ReplicaRunning != nil && s.opts.ReplicaRunning()
	if replicating {
		walWait = min(walWait, WALWaitWithReplica)
	}
	busy, attempts, err := s.checkpointTruncate(ctx, walWait)
	res.CheckpointAttempts, res.WALBusy = attempts, busy
	res.WALLeftToReplica = busy && replicating
	if err != nil {
		return res, err
	}
	return res, nil
}

// vacuum gives free pages back to the file system a slice at a time; each
// slice moves pages from the end of the file and commits, so its size
// follows the measured time.
func (s *Store) vacuum(ctx context.Context) (freed int64, err error) {
	pages := 256
	for {
		var before, after int64
		var took time.Duration
		err := s.exclusiveLow(ctx, func(ctx context.Context, c *sql.Conn) error {
			t0 := time.Now()
			defer func() { took = time.Since(t0) }()
			if err := c.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&before); err != nil {
				return err
			}
			if before == 0 {
				return nil
			}
			// The pragma frees one page per result row: read them all.
			rows, err := c.QueryContext(ctx, "PRAGMA incremental_vacuum("+strconv.Itoa(pages)+")")
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			return c.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&after)
		})
		if err != nil {
			return freed, fmt.Errorf("store: incremental vacuum: %w", err)
		}
		s.noteTurn(took)
		if before == 0 || after >= before {
			return freed, nil
		}
		freed += before - after
		pages = scaleToTurn(pages, took, 32, 1<<16)
		if err := rest(ctx, took); err != nil {
			return freed, err
		}
	}
}

// ftsMaxSegments stops a step-wise optimize while the index has this many
// segments; automerge brings them down again between commits.
const ftsMaxSegments = 200

// optimizeFTS does what FTS5's 'optimize' does, in small steps: a 'merge'
// with a negative page count, repeated until it changes nothing (SQLite's
// documented equivalent). One 'optimize' rewrites the whole index in one
// transaction, which would hold up webhook ingest for seconds on a large
// index; each step here writes as many pages as fit in about purgeTurn.
// The writer holds back its own indexing meanwhile (see holdIndex); a
// search or another process may still add a segment and restart the
// merge, so it may stop at the deadline (or the segment guard) before
// reaching a single segment. Secure-delete has removed the deleted rows'
// entries already either way, so this only drops emptied pages.
func (s *Store) optimizeFTS(ctx context.Context, wait time.Duration) (steps int, done bool, err error) {
	return s.mergeFTS(ctx, wait, 0)
}

// rewriteFTS merges the whole search index into one new segment, which
// leaves out the pages secure-delete has emptied (see indexWear). FTS5
// does not merge a lone segment, so then it first indexes the newest
// indexed message again: the same entry, now in a second segment, which
// the merge takes along.
func (s *Store) rewriteFTS(ctx context.Context) (steps int, err error) {
	segments, err := s.ftsSegments(ctx)
	if err != nil {
		return 0, err
	}
	if segments == 1 {
		err := s.writeLow(ctx, func(tx *Tx) error {
			var id int64
			var text string
			err := tx.QueryRow(`SELECT id, text FROM messages WHERE id <= (SELECT watermark FROM fts_state) AND text IS NOT NULL
				ORDER BY id DESC LIMIT 1`).Scan(&id, &text)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			if _, err := tx.Exec("INSERT INTO messages_fts(messages_fts, rowid, text) VALUES ('delete', ?, ?)", id, text); err != nil {
				return err
			}
			_, err = tx.Exec("INSERT INTO messages_fts(rowid, text) VALUES (?, ?)", id, text)
			return err
		})
		if err != nil {
			return 0, fmt.Errorf("store: fts rewrite: %w", err)
		}
	}
	steps, _, err = s.optimizeFTS(ctx, s.opts.ScrubWait)
	return steps, err
}

// mergeFTS is optimizeFTS that, with until > 0, stops as soon as the index
// has at most that many segments.
func (s *Store) mergeFTS(ctx context.Context, wait time.Duration, until int) (steps int, done bool, err error) {
	defer s.holdIndex()()
	deadline := time.Now().Add(wait)
	pages := 64
	for time.Now().Before(deadline) {
		var before, after int64
		var t0 time.Time
		// A merge in progress takes every new segment into its level and
		// starts over (see holdIndex). The writer holds back, but searches
		// and other processes still add segments, which must never pile
		// up towards FTS5's limit of 2000: then indexing fails ("database
		// or disk is full", seen in the purge benchmark before the hold).
		// Stop well before that; counted on a reader.
		segments, err := s.ftsSegments(ctx)
		if err != nil {
			return steps, false, err
		}
		if until > 0 && segments <= until {
			return steps, false, nil
		}
		if segments > ftsMaxSegments {
			s.log.Warn("search index merge stopped: new segments arrive faster than it merges; the next run goes on", "segments", segments)
			return steps, false, nil
		}
		err = s.writeLow(ctx, func(tx *Tx) error {
			t0 = time.Now()
			if err := tx.QueryRow("SELECT total_changes()").Scan(&before); err != nil {
				return err
			}
			if _, err := tx.Exec("INSERT INTO messages_fts(messages_fts, rank) VALUES ('merge', ?)", -pages); err != nil {
				return err
			}
			return tx.QueryRow("SELECT total_changes()").Scan(&after)
		})
		if err != nil {
			return steps, false, fmt.Errorf("store: fts merge: %w", err)
		}
		took := time.Since(t0) // with the commit
		s.noteTurn(took)
		steps++
		if after-before < 2 {
			return steps, true, nil
		}
		// Not below 64 pages: each step first positions on every segment,
		// which costs the same however little it then merges.
		pages = scaleToTurn(pages, took, 64, 4096)
		if err := rest(ctx, took); err != nil {
			return steps, false, err
		}
	}
	return steps, false, nil
}

// ftsSegments counts the search index's segments, on a reader.
func (s *Store) ftsSegments(ctx context.Context) (n int, err error) {
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(DISTINCT segid) FROM messages_fts_idx").Scan(&n); err != nil {
		return 0, fmt.Errorf("store: fts segments: %w", err)
	}
	return n, nil
}

// holdIndex keeps the writer from adding segments to the search index
// until release is called. FTS5 restarts a merge that a new segment joins
// (it moves every segment onto one new level), so under steady ingest a
// merge would hardly finish and would copy its partial output again and
// again. Messages stored meanwhile are indexed afterwards, a few commits
// of indexStep each; a search indexes them first, as always.
func (s *Store) holdIndex() (release func()) {
	s.indexHold.Add(1)
	return func() { s.indexHold.Add(-1) }
}

// rest pauses a background job as long as its last turn took: the work is
// CPU-bound, and on a small machine webhooks need the other core.
func rest(ctx context.Context, took time.Duration) error {
	t := time.NewTimer(took)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Checkpoint copies the WAL into the database file and truncates it,
// retrying while readers block it, up to wait.
func (s *Store) Checkpoint(ctx context.Context, wait time.Duration) (busy bool, err error) {
	busy, _, err = s.checkpointTruncate(ctx, wait)
	return busy, err
}

// checkpointTruncate empties the WAL file. First a PASSIVE checkpoint on
// the checkpointer's connection copies the WAL into the database while the
// writer goes on committing (it waits for no one); then the TRUNCATE, on
// the writer between two commits, has only the frames since left to copy.
// The TRUNCATE does not wait for readers (busy_timeout 0 for that turn,
// else it could hold the writer up to the busy timeout): while one holds
// an old snapshot it reports busy, and it is retried after a pause.
func (s *Store) checkpointTruncate(ctx context.Context, wait time.Duration) (busy bool, attempts int, err error) {
	deadline := time.Now().Add(wait)
	delay := 5 * time.Millisecond
	if err := s.checkpointPassive(ctx); err != nil {
		// Not fatal: the TRUNCATE copies what this did not.
		s.log.Warn("passive checkpoint", "err", err)
	}
	for {
		attempts++
		var b, logPages, done int
		err := s.exclusiveLow(ctx, func(ctx context.Context, c *sql.Conn) (err error) {
			t0 := time.Now()
			defer func() { s.noteTurn(time.Since(t0)) }()
			if _, err := c.ExecContext(ctx, "PRAGMA busy_timeout = 0"); err != nil {
				return err
			}
			defer func() {
				_, rerr := c.ExecContext(context.WithoutCancel(ctx), "PRAGMA busy_timeout = "+strconv.FormatInt(s.opts.BusyTimeout.Milliseconds(), 10))
				err = errors.Join(err, rerr)
			}()
			return c.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&b, &logPages, &done)
		})
		if err != nil {
			return true, attempts, fmt.Errorf("store: checkpoint: %w", err)
		}
		if b == 0 {
			return false, attempts, nil
		}
		// A reader holds an old snapshot; it lets go when its query ends.
		if time.Now().After(deadline) {
			return true, attempts, nil
		}
		select {
		case <-ctx.Done():
			return true, attempts, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}

// checkpointPassive runs a PASSIVE checkpoint on the checkpointer's
// connection, beside the writer, so that copying a large WAL holds up no
// commit.
func (s *Store) checkpointPassive(ctx context.Context) error {
	var b, logPages, done int
	if err := s.cdb.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&b, &logPages, &done); err != nil {
		return fmt.Errorf("store: passive checkpoint: %w", err)
	}
	return nil
}

// Optimize runs PRAGMA optimize, which refreshes the planner's statistics
// where they are stale; cheap, meant for a daily job.
func (s *Store) Optimize(ctx context.Context) error {
	err := s.Exclusive(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, "PRAGMA optimize")
		return err
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("store: optimize: %w", err)
	}
	return err
}

// noteTurn remembers the longest writer turn of the current clean-up, for
// the report: it tells whether webhooks had to wait.
func (s *Store) noteTurn(d time.Duration) {
	for {
		cur := s.longestTurn.Load()
		if int64(d) <= cur || s.longestTurn.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}
