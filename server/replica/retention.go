package replica

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// compactionLevels are Litestream's usual levels (30 s, 5 min, 1 h), but
// none slower than a fraction of the retention. Every level keeps its
// newest file; a level that has not compacted since an erasure therefore
// keeps pre-erasure pages, and with a short retention (the tests use 3 s)
// that outlived the bound (level 1 base file, shown by
// TestReplicaErasureBoundCoversFirstSnapshot). With 1/8 + 1/4 + 1/2 of the
// retention all three levels have taken the erasure in before it ends.
func compactionLevels(retention time.Duration) litestream.CompactionLevels {
	return litestream.CompactionLevels{
		{Level: 0},
		{Level: 1, Interval: min(30*time.Second, retention/8)},
		{Level: 2, Interval: min(5*time.Minute, retention/4)},
		{Level: 3, Interval: min(time.Hour, retention/2)},
	}
}

// topLevel is the highest compaction level of compactionLevels.
const topLevel = 3

// enforceRetention lets Litestream delete the snapshots older than the
// retention and, on every level, the files below the newest snapshot it
// deleted; then pruneBelowOldSnapshot closes the gap Litestream leaves.
func (r *Replicator) enforceRetention(ctx context.Context) {
	if err := r.ls.EnforceSnapshotRetention(ctx, r.db); err != nil {
		if ctx.Err() == nil {
			r.log.Error("replica: retention", "err", err)
		}
		return
	}
	if err := r.pruneBelowOldSnapshot(ctx, time.Now().Add(-r.cfg.Retention)); err != nil && ctx.Err() == nil {
		r.log.Error("replica: retention below the oldest snapshot", "err", err)
	}
}

// pruneBelowOldSnapshot: Litestream never deletes the newest snapshot, and
// prunes the levels only up to the newest snapshot it deleted. When the
// newest snapshot is itself older than the retention (nothing changed
// since, as after an erasure with no traffic) the levels keep every file
// back to the snapshot before it, and those hold the erased rows beyond
// the bound. That snapshot is the base of every restore the retention
// still allows (newest state, any time after cutoff), so files ending
// below it serve only history older than the retention: delete them on
// every level. A level gives up only what the level above has taken in,
// so compaction upward never misses a transaction.
func (r *Replicator) pruneBelowOldSnapshot(ctx context.Context, cutoff time.Time) error {
	itr, err := r.client.LTXFiles(ctx, litestream.SnapshotLevel, 0, false)
	if err != nil {
		return err
	}
	var floor ltx.TXID
	for itr.Next() {
		if info := itr.Item(); info.CreatedAt.Before(cutoff) && info.MaxTXID > floor {
			floor = info.MaxTXID
		}
	}
	if err := itr.Close(); err != nil {
		return err
	}
	if floor == 0 {
		return nil
	}
	for lvl := topLevel; lvl >= 0; lvl-- {
		below := floor
		if lvl < topLevel {
			above, err := r.db.MaxLTXFileInfo(ctx, lvl+1)
			if err != nil {
				return err
			}
			below = min(below, above.MaxTXID+1)
		}
		// Deletes files with MaxTXID < below, keeping the level's newest;
		// the local copies (level 0) go with them.
		if err := r.db.EnforceRetentionByTXID(ctx, lvl, below); err != nil {
			return fmt.Errorf("level %d: %w", lvl, err)
		}
	}
	return nil
}

// erasureFollowUp is how long after an erasure's snapshot the second one
// is taken. The tombstone list is written first, before the erasure's last
// transaction, and the store's scrub (search index merge, vacuum; each step
// bounded by store.DefaultScrubWait, 30 s) follows it; the first snapshot can
// therefore still hold the person's rows or index words. Retention counts
// from the snapshot that no longer holds them, so the bound is retention
// plus this delay plus one check.
const erasureFollowUp = 2 * time.Minute

// followUp remembers the pending second snapshot of an erasure.
type followUp struct {
	after time.Duration // 0: erasureFollowUp
	at    time.Time     // zero: none pending
	txid  ltx.TXID      // position of the erasure's first snapshot
	// walPending: the WAL still holds frames from before the erasure;
	// truncateWAL is tried again at every look.
	walPending bool
}

func (f *followUp) arm(txid ltx.TXID) {
	d := f.after
	if d == 0 {
		d = erasureFollowUp
	}
	f.at, f.txid = time.Now().Add(d), txid
}

// followUpErasure takes the erasure's second snapshot once its time has
// come, if anything was written since the first (the scrub writes).
func (r *Replicator) followUpErasure(ctx context.Context) {
	f := &r.followUp
	if f.at.IsZero() || time.Now().Before(f.at) {
		return
	}
	if err := r.db.SyncAndWait(ctx); err != nil {
		r.log.Error("replica: sync before the erasure's second snapshot", "err", err)
		return
	}
	pos, err := r.db.Pos()
	if err != nil {
		r.log.Error("replica: position", "err", err)
		return
	}
	f.at = time.Time{}
	r.truncateWAL(ctx) // the scrub's WAL too
	if pos.TXID <= f.txid {
		return // nothing written since: the first snapshot is final
	}
	if _, err := r.db.Snapshot(ctx); err != nil {
		r.log.Error("replica: second snapshot after erasure", "err", err)
		f.at = time.Now() // again at the next look
		return
	}
	r.set(func(s *Status) { s.LastErasureSnapshot = time.Now().UTC() })
}

// truncateWAL folds the WAL into the database and empties it, so that the
// frames from before an erasure leave the primary's disk. Litestream's
// checkpoint does not report SQLite's "busy" (a reader, e.g. the erase
// command's scrub, kept the WAL), and a WAL that merely restarted keeps its
// old frames beyond the new ones; so success is read from the file: it
// shrank (TRUNCATE empties it; new commits may follow at once). Otherwise
// it is tried again at the next look.
func (r *Replicator) truncateWAL(ctx context.Context) {
	wal := filepath.Join(r.dir, r.lay.DBFile+"-wal")
	before := fileSize(wal)
	if err := r.db.Checkpoint(ctx, litestream.CheckpointModeTruncate); err != nil {
		r.log.Warn("replica: checkpoint after erasure", "err", err)
	}
	after := fileSize(wal)
	r.followUp.walPending = after > 0 && after >= before
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}
