package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func openTest(t *testing.T, opts Options) *Store {
	t.Helper()
	return openTestIn(t, t.TempDir(), opts)
}

// openTestIn opens the store in dir and closes it when the test ends.
func openTestIn(t *testing.T, dir string, opts Options) *Store {
	t.Helper()
	if opts.IsStopWord == nil {
		opts.IsStopWord = testStopWord
	}
	s, err := Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestPragmas(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	var journal string
	var sync, secure, fk int
	s.Write(ctx, func(tx *Tx) error {
		tx.QueryRow("PRAGMA journal_mode").Scan(&journal)
		tx.QueryRow("PRAGMA synchronous").Scan(&sync)
		tx.QueryRow("PRAGMA secure_delete").Scan(&secure)
		return tx.QueryRow("PRAGMA foreign_keys").Scan(&fk)
	})
	// NORMAL: the writer commits without fsync and the syncer makes each
	// batch durable before its callers hear of it (TestWriteWaitsForSync).
	if journal != "wal" || sync != 1 || secure != 1 || fk != 1 {
		t.Errorf("writer: journal %s synchronous %d secure_delete %d foreign_keys %d; want wal, 1 (NORMAL), 1, 1", journal, sync, secure, fk)
	}
	var rsecure int
	s.rdb.QueryRow("PRAGMA secure_delete").Scan(&rsecure)
	if rsecure != 1 {
		t.Errorf("reader secure_delete = %d", rsecure)
	}
	if _, err := s.rdb.Exec("INSERT INTO settings(key, value, updated_at) VALUES ('x', 'y', 1)"); err == nil {
		t.Error("reader pool can write")
	}
}

// TestWriteWaitsForSync holds the WAL's fsync and checks that no durable
// write returns before it, while a WriteNoSync does.
func TestWriteWaitsForSync(t *testing.T) {
	release := make(chan struct{})
	var syncs atomic.Int64
	s := openTest(t, Options{syncHook: func() error {
		syncs.Add(1)
		<-release
		return nil
	}})
	ctx := context.Background()
	returned := make(chan error, 1)
	go func() {
		returned <- s.Write(ctx, func(tx *Tx) error {
			_, err := tx.Exec("INSERT INTO settings(key, value, updated_at) VALUES ('durable', 'y', 1)")
			return err
		})
	}()
	// The row is committed (readers see it) but not yet synced.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var n int
		s.rdb.QueryRow("SELECT count(*) FROM settings WHERE key = 'durable'").Scan(&n)
		if n == 1 && syncs.Load() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the write was never committed")
		}
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-returned:
		t.Fatalf("Write returned (%v) before its fsync finished", err)
	case <-time.After(50 * time.Millisecond):
	}
	if err := s.WriteNoSync(ctx, func(tx *Tx) error {
		_, err := tx.Exec("INSERT INTO settings(key, value, updated_at) VALUES ('nosync', 'y', 1)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-returned; err != nil {
		t.Fatal(err)
	}
}

func TestFailedSyncFailsTheWrite(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	s := openTest(t, Options{syncHook: func() error {
		if fail.Load() {
			return errors.New("disk gone")
		}
		return nil
	}})
	err := s.Write(context.Background(), func(tx *Tx) error {
		_, err := tx.Exec("INSERT INTO settings(key, value, updated_at) VALUES ('x', 'y', 1)")
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "disk gone") {
		t.Fatalf("write with a failed fsync: %v, want the sync error", err)
	}
}

func TestGroupCommitBatchesConcurrentWrites(t *testing.T) {
	var commits, writes atomic.Int64
	s := openTest(t, Options{OnCommit: func(n int, _ time.Duration, err error) {
		if err == nil {
			commits.Add(1)
			writes.Add(int64(n))
		}
	}})
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := range 400 {
		wg.Go(func() {
			err := s.Write(ctx, func(tx *Tx) error {
				_, err := tx.Exec("INSERT INTO settings(key, value, updated_at) VALUES (?, 'v', 1)", fmt.Sprint(i))
				return err
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var n int
	s.rdb.QueryRow("SELECT count(*) FROM settings").Scan(&n)
	if n != 400 || writes.Load() != 400 {
		t.Fatalf("%d rows, %d writes committed; want 400", n, writes.Load())
	}
	if commits.Load() >= 400 {
		t.Errorf("%d commits for 400 concurrent writes: nothing was grouped", commits.Load())
	}
	t.Logf("400 concurrent writes in %d commits", commits.Load())
}

func TestFailingWriteIsIsolated(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	boom := errors.New("boom")
	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Go(func() {
			errs[i] = s.Write(ctx, func(tx *Tx) error {
				if _, err := tx.Exec("INSERT INTO settings(key, value, updated_at) VALUES (?, 'v', 1)", fmt.Sprint(i)); err != nil {
					return err
				}
				if i%5 == 0 {
					return boom // after writing: the row must be undone
				}
				return nil
			})
		})
	}
	wg.Wait()
	var n int
	s.rdb.QueryRow("SELECT count(*) FROM settings").Scan(&n)
	for i, err := range errs {
		if (i%5 == 0) != errors.Is(err, boom) {
			t.Errorf("write %d: %v", i, err)
		}
	}
	if n != 40 {
		t.Errorf("%d rows, want 40 (the 10 failing writes undone, the rest kept)", n)
	}
}

func TestCloseCommitsQueuedWrites(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, Options{IsStopWord: testStopWord})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := range 200 {
		wg.Go(func() {
			if s.Write(context.Background(), func(tx *Tx) error {
				_, err := tx.Exec("INSERT INTO settings(key, value, updated_at) VALUES (?, 'v', 1)", fmt.Sprint(i))
				return err
			}) == nil {
				ok.Add(1)
			}
		})
	}
	time.Sleep(5 * time.Millisecond)
	s.Close()
	wg.Wait()
	if err := s.Write(context.Background(), func(*Tx) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
	s2, err := Open(context.Background(), dir, Options{IsStopWord: testStopWord})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var n int64
	s2.rdb.QueryRow("SELECT count(*) FROM settings").Scan(&n)
	if n != ok.Load() {
		t.Errorf("%d rows but %d writes reported success", n, ok.Load())
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, Options{IsStopWord: testStopWord})
	if err != nil {
		t.Fatal(err)
	}
	s.Write(context.Background(), func(tx *Tx) error {
		_, err := tx.Exec("INSERT INTO schema_migrations(version, name, applied_at) VALUES (9999, 'future', 1)")
		return err
	})
	s.Close()
	_, err = Open(context.Background(), dir, Options{IsStopWord: testStopWord})
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("opening a newer database: %v", err)
	}
}

func TestMigrationsAreOrderedAndUnique(t *testing.T) {
	for i := 1; i < len(migrations); i++ {
		if migrations[i].version <= migrations[i-1].version {
			t.Errorf("migration %d (%s) is not after %d", migrations[i].version, migrations[i].name, migrations[i-1].version)
		}
	}
	s := openTest(t, Options{})
	var n int
	s.rdb.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n)
	if n != len(migrations) {
		t.Errorf("%d migrations applied, %d known", n, len(migrations))
	}
}

func TestSearchIndexFollowsMessages(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	d := &Delivery{Body: []byte("b1"), ReceivedAt: time.Now()}
	for i, text := range []string{"Lieferung morgen früh", "Rechnung Nummer 4711", "Danke schön"} {
		d.Messages = append(d.Messages, InboundMessage{Number: Number{PhoneNumberID: "1"}, From: Party{WaID: "49"},
			WAMID: fmt.Sprint("w", i), Type: "text", TS: 1, Payload: []byte("{}")})
		d.Messages[i].Text.String, d.Messages[i].Text.Valid = text, true
	}
	if _, err := s.Ingest(ctx, d); err != nil {
		t.Fatal(err)
	}
	search := func(q string) int {
		var n int
		if err := s.rdb.QueryRow("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?", q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if search("rechnung") != 1 || search("fruh") != 1 {
		t.Errorf("search finds rechnung %d, fruh (diacritics folded) %d; want 1 and 1", search("rechnung"), search("fruh"))
	}
	s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("UPDATE messages SET text = 'Mahnung' WHERE wamid = 'w1'")
		return err
	})
	s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("DELETE FROM messages WHERE wamid = 'w2'")
		return err
	})
	if search("rechnung") != 0 || search("mahnung") != 1 || search("danke") != 0 {
		t.Errorf("after edit and delete: rechnung %d mahnung %d danke %d; want 0 1 0", search("rechnung"), search("mahnung"), search("danke"))
	}
	var integrity string
	s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("INSERT INTO messages_fts(messages_fts, rank) VALUES('integrity-check', 1)")
		if err != nil {
			integrity = err.Error()
		}
		return nil
	})
	if integrity != "" {
		t.Errorf("search index inconsistent: %s", integrity)
	}
}

func TestAuditChainDetectsTampering(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	for i := range 5 {
		if err := s.Audit(ctx, AuditEntry{Actor: "user:1", Action: "login", Target: fmt.Sprint(i), IP: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
	}
	if bad, err := s.VerifyAuditChain(ctx); bad != 0 || err != nil {
		t.Fatalf("intact chain reported bad row %d (%v)", bad, err)
	}
	s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("UPDATE audit_log SET actor = 'user:2' WHERE id = 3")
		return err
	})
	if bad, _ := s.VerifyAuditChain(ctx); bad != 3 {
		t.Errorf("edited row 3: verification says %d", bad)
	}
}

// TestSearchIndexCatchesUp checks the deferred indexing: a message stored
// between index runs is found by SearchMessages at once (it catches up
// first), and an idle writer indexes it on its own.
func TestSearchIndexCatchesUp(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	ingestText := func(wamid, text string) {
		d := &Delivery{Body: []byte(wamid), ReceivedAt: time.Now(), Messages: []InboundMessage{{
			Number: Number{PhoneNumberID: "1"}, From: Party{WaID: "49"}, WAMID: wamid, Type: "text", TS: 1, Payload: []byte("{}")}}}
		d.Messages[0].Text.String, d.Messages[0].Text.Valid = text, true
		if _, err := s.Ingest(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	direct := func(q string) int {
		var n int
		s.rdb.QueryRow("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH ?", q).Scan(&n)
		return n
	}
	ingestText("w1", "Anfrage Lieferzeit")
	ingestText("w2", "Zahlungserinnerung")
	hits, err := s.SearchMessages(ctx, "Zahlungserinnerung", 10)
	if err != nil || len(hits) != 1 {
		t.Fatalf("search right after storing: %d hits (%v), want 1", len(hits), err)
	}
	ingestText("w3", "Rückrufbitte")
	deadline := time.Now().Add(10 * time.Second)
	for direct("ruckrufbitte") != 1 {
		if time.Now().After(deadline) {
			t.Fatal("an idle writer never indexed the last message")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCheckpointerCopiesTheLog writes a little and checks that the rows
// reach the database file itself soon after, without the writer's own
// (much later) automatic checkpoint: reading the file with immutable=1
// ignores the write-ahead log.
func TestCheckpointerCopiesTheLog(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	for i := range 20 {
		if err := s.Write(ctx, func(tx *Tx) error {
			_, err := tx.Exec("INSERT INTO settings(key, value, updated_at) VALUES (?, 'v', 1)", fmt.Sprint("ckpt.", i))
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	// immutable=1 also caches what it read, so each look opens anew.
	inFile := func() (n int) {
		db, err := sql.Open("sqlite3", "file:"+s.Path()+"?mode=ro&immutable=1")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		db.QueryRow("SELECT count(*) FROM settings WHERE key LIKE 'ckpt.%'").Scan(&n)
		return n
	}
	var n int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if n = inFile(); n == 20 {
			return
		}
	}
	t.Fatalf("%d of 20 rows in the database file; the log was not checkpointed", n)
}

// TestIndexHoldDefersIndexing checks the hold an index merge takes: while
// it lasts, commits leave new messages out of the search index (so no
// segment joins the merge), a search still finds them, and after release
// an idle writer indexes the rest in steps of indexStep messages.
func TestIndexHoldDefersIndexing(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	watermark := func() (w int64) {
		if err := s.rdb.QueryRow("SELECT watermark FROM fts_state").Scan(&w); err != nil {
			t.Fatal(err)
		}
		return w
	}
	insert := func(from, n int) { seedTexts(t, s, from, n, "'Nachricht ' || i") }
	release := s.holdIndex()
	insert(1, 10)
	time.Sleep(2 * indexEvery) // the writer would have indexed by now
	insert(11, 2*indexStep+10)
	if w := watermark(); w != 0 {
		t.Fatalf("held index moved to %d", w)
	}
	if _, err := s.SearchMessages(ctx, "Nachricht", 1); err != nil {
		t.Fatal(err)
	}
	var found int
	if err := s.rdb.QueryRow("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'nachricht'").Scan(&found); err != nil || found != 2*indexStep+20 {
		t.Fatalf("a search during the hold indexed %d messages (%v), want all %d", found, err, 2*indexStep+20)
	}
	insert(5000, 3*indexStep)
	release()
	var last int64
	if err := s.rdb.QueryRow("SELECT max(id) FROM messages").Scan(&last); err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for w := watermark(); w < last; w = watermark() {
		seen[w] = true
		if time.Now().After(deadline) {
			t.Fatalf("after the hold the index stayed at %d", w)
		}
		time.Sleep(time.Millisecond)
	}
	if len(seen) < 2 {
		t.Errorf("caught up in %d step(s), want several of at most %d messages", len(seen), indexStep)
	}
}

func TestIndexWearAsksForAMergeWhenRowsCostTwice(t *testing.T) {
	var w indexWear
	for i := range 100 {
		if w.note(5*time.Millisecond, 100) {
			t.Fatalf("steady cost asked for a merge at turn %d", i)
		}
	}
	w = indexWear{}
	merged := -1
	for i := range 200 {
		// The cost a row grows by 2 % a turn.
		if w.note(time.Duration(float64(time.Millisecond)*math.Pow(1.02, float64(i))), 100) {
			merged = i
			break
		}
	}
	// Twice the cost after 35 turns; the moving average lags a few.
	if merged < 35 || merged > 50 {
		t.Errorf("merge asked at turn %d, want soon after the cost doubled (turn 35)", merged)
	}
	w = indexWear{}
	for range 10 {
		w.note(time.Millisecond, 100)
	}
	if w.note(100*time.Millisecond, 100) {
		t.Error("asked for a merge before wearMinRows rows")
	}
}

// TestRewriteFTSDropsEmptiedPages checks the index rewrite a purge asks
// for: secure-delete leaves the pages it empties inside the one segment,
// which FTS5 would never merge on its own; rewriteFTS gives the index back
// those pages, and every remaining message is still found.
func TestRewriteFTSDropsEmptiedPages(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	const n = 6000
	seedTexts(t, s, 1, n, "'Nachricht ' || i || ' zur Bestellung ' || (i * 7919 % 100003)")
	if err := s.FlushSearchIndex(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.optimizeFTS(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	index := func() (segments, pages int) {
		t.Helper()
		if err := s.rdb.QueryRow("SELECT count(DISTINCT segid) FROM messages_fts_idx").Scan(&segments); err != nil {
			t.Fatal(err)
		}
		if err := s.rdb.QueryRow("SELECT count(*) FROM messages_fts_data").Scan(&pages); err != nil {
			t.Fatal(err)
		}
		return segments, pages
	}
	if err := s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("DELETE FROM messages WHERE id <= ?", n*2/3)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	segments, before := index()
	if segments != 1 {
		t.Fatalf("%d segments before the rewrite, want the one a purge leaves", segments)
	}
	if _, err := s.rewriteFTS(ctx); err != nil {
		t.Fatal(err)
	}
	segments, after := index()
	if segments != 1 || after >= before*2/3 {
		t.Errorf("rewrite left %d segments and %d of %d pages; want one segment and the emptied pages gone", segments, after, before)
	}
	var found int
	if err := s.rdb.QueryRow("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'nachricht'").Scan(&found); err != nil || found != n-n*2/3 {
		t.Errorf("search finds %d messages (%v), want %d", found, err, n-n*2/3)
	}
	if err := s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("INSERT INTO messages_fts(messages_fts, rank) VALUES('integrity-check', 1)")
		return err
	}); err != nil {
		t.Errorf("search index inconsistent after the rewrite: %v", err)
	}
}

// TestEmptyStoreCountsAsIndexed guards the idle writer: an index that is
// "behind" is caught up every indexEvery, so an empty store (no message,
// no max(id)) must count as caught up, or it would commit for nothing five
// times a second.
func TestEmptyStoreCountsAsIndexed(t *testing.T) {
	s := openTest(t, Options{})
	var up bool
	if err := s.Write(context.Background(), func(tx *Tx) error {
		up = caughtUp(tx)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !up {
		t.Error("an empty store counts as behind the search index")
	}
}

// seedTexts stores n text messages numbered from "from" on, in one
// conversation made on first use; textSQL is the text as an SQL
// expression of i.
func seedTexts(t *testing.T, s *Store, from, n int, textSQL string) {
	t.Helper()
	err := s.Write(context.Background(), func(tx *Tx) error {
		for _, q := range []string{
			`INSERT OR IGNORE INTO business_numbers(id, phone_number_id, created_at) VALUES (1, '1', 1)`,
			`INSERT OR IGNORE INTO contacts(id, wa_id, name, created_at, updated_at) VALUES (1, '49', 'Kundin', 1, 1)`,
			`INSERT OR IGNORE INTO conversations(id, business_number_id, contact_id, last_message_at, created_at, updated_at) VALUES (1, 1, 1, 1, 1, 1)`,
		} {
			if _, err := tx.Exec(q); err != nil {
				return err
			}
		}
		_, err := tx.Exec(`WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 + ?2 - 1)
			INSERT INTO messages(wamid, conversation_id, direction, type, text, ts, created_at)
			SELECT 'w' || i, 1, 'inbound', 'text', `+textSQL+`, 1, 1 FROM n`, from, n)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
