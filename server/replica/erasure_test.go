package replica

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// TestErasureSecondSnapshotAfterScrub: the store writes the tombstone list
// before the erasure's last transaction and scrubs afterwards, so the
// snapshot taken on the tombstone change can still hold the person. The
// replicator takes a second snapshot after the follow-up delay; it holds
// the writes made after the first and not the erased text, while the
// first still does (the control).
func TestErasureSecondSnapshotAfterScrub(t *testing.T) {
	dir, bucket := t.TempDir(), t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const canary = "KANARIE-zweiter-snapshot-6e1f"
	r, ctx, cancel, tombs := erasureRig(t, db, dir, bucket, canary)
	const after = 700 * time.Millisecond
	r.followUp.after = after
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	wait := func(what string, ok func(*Status) bool) *Status {
		t.Helper()
		return waitStatus(t, dir, what, ok)
	}
	wait("first sync", func(s *Status) bool { return s.RemoteTXID > 0 && s.RemoteTXID == s.LocalTXID })
	// Litestream's own first snapshot, at the same transaction: two writers
	// of one file:// snapshot would collide.
	for deadline := time.Now().Add(10 * time.Second); !hasSnapshot(r); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no first snapshot in 10s")
		}
	}

	// The erasure as the store does it: tombstone first, then the rows.
	// Written by rename: a look between truncate and write would count as
	// a second erasure.
	if err := os.WriteFile(tombs+".new", []byte("x\ny\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tombs+".new", tombs); err != nil {
		t.Fatal(err)
	}
	first := wait("the erasure's snapshot", func(s *Status) bool { return !s.LastErasureSnapshot.IsZero() })
	pre := newestSnapshot(t, r)
	if _, err := db.Exec("DELETE FROM t WHERE x = ?", canary); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("INSERT INTO t VALUES ('scrub')"); err != nil {
		t.Fatal(err)
	}
	second := wait("the second snapshot", func(s *Status) bool { return s.LastErasureSnapshot.After(first.LastErasureSnapshot) })
	if d := second.LastErasureSnapshot.Sub(first.LastErasureSnapshot); d < after {
		t.Errorf("second snapshot %s after the first, before the follow-up delay %s", d, after)
	}
	post := newestSnapshot(t, r)
	if post.MaxTXID <= pre.MaxTXID {
		t.Fatalf("the second snapshot (TX %d) is not past the first (TX %d)", post.MaxTXID, pre.MaxTXID)
	}
	if !bytes.Contains(snapshotPages(t, r, pre), []byte(canary)) {
		t.Fatal("control: the erasure's first snapshot does not hold the text; the test proves nothing")
	}
	pages := snapshotPages(t, r, post)
	if bytes.Contains(pages, []byte(canary)) {
		t.Error("the second snapshot still holds the erased text")
	}
	if !bytes.Contains(pages, []byte("scrub")) {
		t.Error("the second snapshot lacks the scrub's write")
	}
}

func hasSnapshot(r *Replicator) bool {
	itr, err := r.client.LTXFiles(context.Background(), litestream.SnapshotLevel, 0, false)
	if err != nil {
		return false
	}
	defer itr.Close()
	return itr.Next()
}

func newestSnapshot(t *testing.T, r *Replicator) *ltx.FileInfo {
	t.Helper()
	itr, err := r.client.LTXFiles(context.Background(), litestream.SnapshotLevel, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer itr.Close()
	var out ltx.FileInfo
	for itr.Next() {
		if info := itr.Item(); info.MaxTXID > out.MaxTXID {
			out = *info
		}
	}
	if out.MaxTXID == 0 {
		t.Fatal("no snapshot")
	}
	return &out
}

// snapshotPages returns the database pages of one snapshot, decompressed.
func snapshotPages(t *testing.T, r *Replicator, info *ltx.FileInfo) []byte {
	t.Helper()
	rc, err := r.client.OpenLTXFile(context.Background(), litestream.SnapshotLevel, info.MinTXID, info.MaxTXID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	dec := ltx.NewDecoder(rc)
	if err := dec.DecodeHeader(); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, dec.Header().PageSize)
	var pages bytes.Buffer
	for {
		var ph ltx.PageHeader
		if err := dec.DecodePage(&ph, data); err == io.EOF {
			return pages.Bytes()
		} else if err != nil {
			t.Fatal(err)
		}
		pages.Write(data)
	}
}

// TestErasureTruncatesWALOnceReadersLetGo: while another reader keeps the
// WAL (as the erase command's scrub does), the checkpoint after the
// erasure cannot empty it and the deleted row's old frames stay on the
// primary's disk; the replicator tries again until it can, and once the
// reader is gone neither the WAL nor the database file holds the text.
func TestErasureTruncatesWALOnceReadersLetGo(t *testing.T) {
	dir, bucket := t.TempDir(), t.TempDir()
	dbPath := filepath.Join(dir, "test.db")
	w, err := sql.Open("sqlite", dbPath+"?_pragma=secure_delete(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.SetMaxOpenConns(1)
	const canary = "KANARIE-wal-des-primaers-0b9d"
	r, ctx, cancel, tombs := erasureRig(t, w, dir, bucket, canary)
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not happen in 10s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("first sync", func() bool { st, _ := ReadStatus(dir); return st != nil && st.RemoteTXID > 0 })
	// Litestream's own first snapshot, at the same transaction: two writers
	// of one file:// snapshot would collide.
	waitFor("the first snapshot", func() bool { return hasSnapshot(r) })

	// Another reader holds the WAL across the erasure.
	rd, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	tx, err := rd.Begin()
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := tx.QueryRow("SELECT count(*) FROM t").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Exec("DELETE FROM t WHERE x = ?", canary); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tombs+".new", []byte("x\ny\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tombs+".new", tombs); err != nil {
		t.Fatal(err)
	}
	waitFor("the erasure's snapshot", func() bool { st, _ := ReadStatus(dir); return st != nil && !st.LastErasureSnapshot.IsZero() })
	holds := func() bool {
		for _, name := range []string{"test.db", "test.db-wal"} {
			if b, _ := os.ReadFile(filepath.Join(dir, name)); bytes.Contains(b, []byte(canary)) {
				return true
			}
		}
		return false
	}
	time.Sleep(300 * time.Millisecond)
	if !holds() {
		t.Fatal("control: with a reader holding the WAL the old frames are already gone; the test proves nothing")
	}
	tx.Rollback()
	waitFor("the erased text leaving the WAL and the database file", func() bool { return !holds() })
}

// erasureRig fills test.db with a canary row beside one that stays,
// writes the tombstone list and makes a replicator to a file:// bucket;
// the caller tunes it and runs it.
func erasureRig(t *testing.T, db *sql.DB, dir, bucket, canary string) (*Replicator, context.Context, context.CancelFunc, string) {
	t.Helper()
	for _, q := range []string{"PRAGMA journal_mode=WAL", "CREATE TABLE t(x TEXT)",
		"INSERT INTO t VALUES ('" + canary + "'), ('bleibt')"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	tombs := filepath.Join(dir, "tombs")
	if err := os.WriteFile(tombs, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{URL: "file://" + bucket, Unencrypted: true, SyncInterval: 50 * time.Millisecond,
		MediaInterval: 200 * time.Millisecond, Retention: time.Hour, RetentionCheck: time.Minute}
	lay := Layout{DBFile: "test.db", MediaDir: "media", SideFiles: []string{"tombs"}, TombstoneFile: "tombs"}
	ctx, cancel := context.WithCancel(context.Background())
	r, err := New(ctx, dir, cfg, lay, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	return r, ctx, cancel, tombs
}
