package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// ScrubResult tells how the physical clean-up after a deletion went.
type ScrubResult struct {
	FTSMergeSteps      int           // incremental merge steps of the search index
	LongestTurn        time.Duration // the longest single step that held the writer
	FTSOptimized       bool          // the index reached a single segment (what 'optimize' gives)
	CheckpointAttempts int           // wal_checkpoint(TRUNCATE) calls until no reader blocked it
	WALBusy            bool          // true if readers still blocked the checkpoint at the deadline
	FreedPages         int64         // pages given back to the file system by incremental_vacuum
}

// ScrubTimeout bounds how long Scrub waits for readers to let go of the WAL.
var ScrubTimeout = 30 * time.Second

// Scrub makes deleted rows physically gone: secure_delete (always on) has
// zeroed them in the pages, but copies remain in the FTS segments until an
// optimize and in the -wal file until a TRUNCATE checkpoint, and freed
// pages stay in the file until vacuumed. Each step runs as its own short
// writer turn so that webhook ingest keeps flowing in between.
func (s *Store) Scrub(ctx context.Context) (res ScrubResult, err error) {
	s.longestTurn.Store(0)
	defer func() { res.LongestTurn = time.Duration(s.longestTurn.Load()) }()
	if res.FTSMergeSteps, res.FTSOptimized, err = s.optimizeFTS(ctx, ScrubTimeout); err != nil {
		return res, err
	}
	// Give back free pages a slice at a time; each slice is a short write.
	for {
		var before, after int64
		var took time.Duration
		err := s.Exclusive(ctx, func(ctx context.Context, c *sql.Conn) error {
			t0 := time.Now()
			defer func() { took = time.Since(t0) }()
			if err := c.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&before); err != nil {
				return err
			}
			if before == 0 {
				return nil
			}
			if _, err := c.ExecContext(ctx, "PRAGMA incremental_vacuum(2000)"); err != nil {
				return err
			}
			return c.QueryRowContext(ctx, "PRAGMA freelist_count").Scan(&after)
		})
		if err != nil {
			return res, fmt.Errorf("store: incremental vacuum: %w", err)
		}
		s.noteTurn(took)
		if before == 0 || after >= before {
			break
		}
		res.FreedPages += before - after
	}
	busy, attempts, err := s.checkpointTruncate(ctx, ScrubTimeout)
	res.CheckpointAttempts, res.WALBusy = attempts, busy
	if err != nil {
		return res, err
	}
	return res, nil
}

// ftsMaxSegments stops a step-wise optimize while the index has this many
// segments; automerge brings them down again between commits.
const ftsMaxSegments = 200

// optimizeFTS does what FTS5's 'optimize' does, in small steps: a 'merge'
// with a negative page count, repeated until it changes nothing (SQLite's
// documented equivalent). One 'optimize' rewrites the whole index in one
// transaction, which would hold up webhook ingest for seconds on a large
// index; each step here writes at most 64 pages. New messages indexed in
// between restart the merge, so under constant load it may stop at the
// deadline (or the segment guard) before reaching a single segment;
// secure-delete has removed the deleted rows' entries from the index
// already either way, so this only tidies.
func (s *Store) optimizeFTS(ctx context.Context, wait time.Duration) (steps int, done bool, err error) {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		var before, after int64
		var took time.Duration
		// A merge in progress takes every new segment (one per commit that
		// indexed messages) into its level and starts over; under heavy
		// ingest segments could pile up towards FTS5's limit of 2000, after
		// which indexing fails ("database or disk is full", seen in the
		// purge benchmark). Stop well before that; counted on a reader.
		var segments int
		if err := s.rdb.QueryRowContext(ctx, "SELECT count(DISTINCT segid) FROM messages_fts_idx").Scan(&segments); err != nil {
			return steps, false, fmt.Errorf("store: fts segments: %w", err)
		}
		if segments > ftsMaxSegments {
			s.log.Warn("search index merge stopped: new segments arrive faster than it merges; the next run goes on", "segments", segments)
			return steps, false, nil
		}
		err := s.Write(ctx, func(tx *Tx) error {
			t0 := time.Now()
			defer func() { took = time.Since(t0) }()
			if err := tx.QueryRow("SELECT total_changes()").Scan(&before); err != nil {
				return err
			}
			if _, err := tx.Exec("INSERT INTO messages_fts(messages_fts, rank) VALUES ('merge', -64)"); err != nil {
				return err
			}
			return tx.QueryRow("SELECT total_changes()").Scan(&after)
		})
		if err != nil {
			return steps, false, fmt.Errorf("store: fts merge: %w", err)
		}
		s.noteTurn(took)
		steps++
		if after-before < 2 {
			return steps, true, nil
		}
	}
	return steps, false, nil
}

// Checkpoint copies the WAL into the database file and truncates it,
// retrying while readers block it, up to wait.
func (s *Store) Checkpoint(ctx context.Context, wait time.Duration) (busy bool, err error) {
	busy, _, err = s.checkpointTruncate(ctx, wait)
	return busy, err
}

func (s *Store) checkpointTruncate(ctx context.Context, wait time.Duration) (busy bool, attempts int, err error) {
	deadline := time.Now().Add(wait)
	delay := 5 * time.Millisecond
	for {
		attempts++
		var b, logPages, done int
		err := s.Exclusive(ctx, func(ctx context.Context, c *sql.Conn) error {
			t0 := time.Now()
			defer func() { s.noteTurn(time.Since(t0)) }()
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
