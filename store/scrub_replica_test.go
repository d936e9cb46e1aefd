package store

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// Beside a replicator, whose read transaction holds the WAL on purpose,
// a scrub does not wait out ScrubWait: it leaves the truncation to the
// replicator and says so. Without one, a blocked WAL is a plain WALBusy.
func TestScrubLeavesTheWALToTheReplicator(t *testing.T) {
	ctx := context.Background()
	for _, replicating := range []bool{true, false} {
		s := openTest(t, Options{ReplicaRunning: func() bool { return replicating }, ScrubWait: time.Second})
		now := time.Now()
		seedVictim(t, s, now)
		// A reader that keeps its snapshot, as Litestream does.
		db, err := sql.Open("sqlite3", "file:"+filepath.Join(s.Dir(), DBFile)+"?mode=ro")
		if err != nil {
			t.Fatal(err)
		}
		tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := tx.QueryRow("SELECT count(*) FROM messages").Scan(&n); err != nil || n == 0 {
			t.Fatalf("reader sees %d messages: %v", n, err)
		}
		seedBystander(t, s, now) // frames after the reader's snapshot
		res, err := s.Scrub(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !res.WALBusy || res.WALLeftToReplica != replicating {
			t.Fatalf("replicating %v: busy %v, left to replica %v", replicating, res.WALBusy, res.WALLeftToReplica)
		}
		// Once the reader lets go (the replicator after shipping), the
		// WAL is truncated and nothing is left to anyone.
		tx.Rollback()
		db.Close()
		if res, err = s.Scrub(ctx); err != nil || res.WALBusy || res.WALLeftToReplica {
			t.Fatalf("after the reader let go: %+v %v", res, err)
		}
	}
}

// A replicator switched on or off while the store is open (the settings
// page): the scrub asks Options.ReplicaRunning at each run.
func TestScrubAsksWhetherAReplicatorRunsNow(t *testing.T) {
	ctx := context.Background()
	var running atomic.Bool
	s := openTest(t, Options{ReplicaRunning: running.Load, ScrubWait: time.Second})
	now := time.Now()
	seedVictim(t, s, now)
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(s.Dir(), DBFile)+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM messages").Scan(&n); err != nil || n == 0 {
		t.Fatalf("reader sees %d messages: %v", n, err)
	}
	seedBystander(t, s, now)
	for _, on := range []bool{false, true, false} {
		running.Store(on)
		res, err := s.Scrub(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !res.WALBusy || res.WALLeftToReplica != on {
			t.Fatalf("replicator running %v: busy %v, left to replica %v", on, res.WALBusy, res.WALLeftToReplica)
		}
	}
}
