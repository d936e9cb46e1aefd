package jobs

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pforte/pforte/store"
)

// noStopWords is the stop-word rule of these tests, which are not about
// opt-outs (the rule lives in outbox, which jobs does not import).
func noStopWords(string, []string) bool { return false }

func openStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), t.TempDir(), store.Options{IsStopWord: noStopWords})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func ingestText(t *testing.T, st *store.Store, wamid string, at time.Time) {
	t.Helper()
	body := []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"w","changes":[{"field":"messages","value":{"messages":[{"id":%q,"from":"4915100000001","type":"text","text":{"body":"hallo"}}]}}]}]}`, wamid))
	_, err := st.Ingest(context.Background(), &store.Delivery{Body: body, ReceivedAt: at, Messages: []store.InboundMessage{{
		Number: store.Number{PhoneNumberID: "100"}, From: store.Party{WaID: "4915100000001"}, WAMID: wamid, Type: "text",
		Text: sql.NullString{String: "hallo", Valid: true}, TS: at.Unix()}}})
	if err != nil {
		t.Fatal(err)
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// countMessages counts the one test customer's messages.
func countMessages(t *testing.T, st *store.Store) int {
	t.Helper()
	msgs, _, err := st.ContactMessages(context.Background(), 1, store.Page{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	return len(msgs)
}

func TestChainOrderSurvivesPanicsAndSkipsOverlaps(t *testing.T) {
	st := openStore(t)
	var logs bytes.Buffer
	s, err := New(st, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	release := make(chan struct{})
	started := make(chan struct{}, 4)
	s.jobs["flaky"] = func(ctx context.Context) (string, error) {
		n := runs.Add(1)
		if n == 1 {
			panic("first run fails")
		}
		if n == 2 {
			started <- struct{}{}
			<-release
		}
		return "ok", nil
	}
	s.adhoc["flaky"] = s.chain.Then(s.job("flaky"))
	// A panic is recovered and does not disable the job (cron v3.0.1 would
	// with Recover outside SkipIfStillRunning).
	if _, err := s.RunNow("flaky"); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("first run: %v", err)
	}
	if !strings.Contains(logs.String(), "first run fails") {
		t.Fatal("the panic was not logged")
	}
	done := make(chan Result)
	go func() { r, _ := s.RunNow("flaky"); done <- r }()
	<-started
	// While run 2 is going, another start is skipped, not queued.
	r, err := s.RunNow("flaky")
	if err != nil || !r.Skipped {
		t.Fatalf("overlapping run: %+v %v", r, err)
	}
	close(release)
	if r := <-done; r.Err != nil || r.Summary != "ok" {
		t.Fatalf("second run: %+v", r)
	}
	if n := runs.Load(); n != 2 {
		t.Fatalf("runs: %d, want 2", n)
	}
	if _, err := s.RunNow("flaky"); err != nil || runs.Load() != 3 {
		t.Fatalf("third run after the overlap: %v, runs %d", err, runs.Load())
	}
}

func TestRetentionJobUsesTheJobClock(t *testing.T) {
	st := openStore(t)
	start := time.Date(2026, 1, 10, 12, 0, 0, 0, time.UTC)
	clk := &clock{t: start}
	for i := range 10 {
		ingestText(t, st, fmt.Sprintf("wamid.%d", i), start.Add(-time.Duration(i)*24*time.Hour))
	}
	if err := st.SetRetentionPolicy(context.Background(), store.RetentionPolicy{Class: store.RetainMessages, Days: 5}, "test", start); err != nil {
		t.Fatal(err)
	}
	s, err := New(st, Config{Now: clk.Now, RetentionSpec: "off"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.RunNow(Retention); err != nil {
		t.Fatal(err)
	}
	// Days 0..4 are younger than five days (day 5 is exactly at the cutoff and stays).
	if n := countMessages(t, st); n != 6 {
		t.Fatalf("after the first run: %d messages, want 6", n)
	}
	clk.Add(3 * 24 * time.Hour)
	r, err := s.RunNow(Retention)
	if err != nil {
		t.Fatal(err)
	}
	if n := countMessages(t, st); n != 3 {
		t.Fatalf("three days later: %d messages, want 3 (%s)", n, r.Summary)
	}
}

func TestStopCancelsRunningJobs(t *testing.T) {
	st := openStore(t)
	s, err := New(st, Config{RetentionSpec: "@every 1s", BackupSpec: "off", MaintenanceSpec: "off"})
	if err != nil {
		t.Fatal(err)
	}
	entered := make(chan struct{}, 1)
	var sawCancel atomic.Bool
	s.jobs[Retention] = func(ctx context.Context) (string, error) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-ctx.Done()
		sawCancel.Store(true)
		return "", ctx.Err()
	}
	// Re-register so the schedule runs the replacement.
	s.cron.Remove(s.ids[Retention])
	id, err := s.cron.AddJob("@every 1s", s.job(Retention))
	if err != nil {
		t.Fatal(err)
	}
	s.ids[Retention] = id
	s.Start()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the scheduled job never started")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if !sawCancel.Load() {
		t.Fatal("Stop returned before the job saw its context end")
	}
}

func TestSchedulesReadInTheConfiguredTimeZone(t *testing.T) {
	st := openStore(t)
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(st, Config{Location: tokyo, RetentionSpec: "30 3 * * *"})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Stop(context.Background())
	for _, e := range s.Entries() {
		if e.Name == Retention {
			if n := e.Next.In(tokyo); n.Hour() != 3 || n.Minute() != 30 {
				t.Fatalf("next retention run %v is not 03:30 in Tokyo", n)
			}
			return
		}
	}
	t.Fatal("retention not scheduled")
}

func TestInvalidSettingsAreNamed(t *testing.T) {
	st := openStore(t)
	if _, err := New(st, Config{BackupSpec: "every day"}); err == nil || !strings.Contains(err.Error(), "backup-schedule") {
		t.Fatalf("bad spec: %v", err)
	}
	if _, err := New(st, Config{Passphrase: "short"}); err == nil {
		t.Fatal("short passphrase accepted")
	}
}

func TestScheduledBackupsAreSealedCheckedAndRotated(t *testing.T) {
	st := openStore(t)
	clk := &clock{t: time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)}
	ingestText(t, st, "wamid.backup", clk.Now())
	dir := t.TempDir()
	s, err := New(st, Config{Now: clk.Now, BackupDir: dir, BackupKeep: 2, BackupMaxAge: 10 * 24 * time.Hour,
		Passphrase: "correct horse battery staple", scryptWorkFactor: 10})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.RunNow(Backup); err != nil {
			t.Fatal(err)
		}
		clk.Add(24 * time.Hour)
	}
	files, err := store.ListBackups(dir)
	if err != nil || len(files) != 2 {
		t.Fatalf("after rotation: %v %v", files, err)
	}
	raw, err := os.ReadFile(files[0].Path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("hallo")) || bytes.Contains(raw, []byte("SQLite format")) {
		t.Fatal("the backup is not encrypted")
	}
	// It restores with the passphrase, not without or with a wrong one.
	target := t.TempDir()
	if _, err := store.Restore(context.Background(), target, files[0].Path, store.RestoreOptions{}); err == nil {
		t.Fatal("restored an encrypted backup without the passphrase")
	}
	if _, err := store.Restore(context.Background(), target, files[0].Path, store.RestoreOptions{Unseal: UnsealWithPassphrase("wrong horse battery staple")}); err == nil {
		t.Fatal("restored with a wrong passphrase")
	}
	if entries, _ := os.ReadDir(target); len(entries) > 1 {
		t.Fatalf("a refused restore left files: %v", entries)
	}
	if _, err := store.Restore(context.Background(), target, files[0].Path, store.RestoreOptions{Unseal: UnsealWithPassphrase("correct horse battery staple")}); err != nil {
		t.Fatal(err)
	}
	restored, err := store.Open(context.Background(), target, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	if _, err := restored.MessageByWAMID(context.Background(), "wamid.backup"); err != nil {
		t.Fatalf("restored database lacks the message: %v", err)
	}
	// An age-old backup goes even if within the count.
	clk.Add(20 * 24 * time.Hour)
	if _, err := s.RunNow(Backup); err != nil {
		t.Fatal(err)
	}
	if files, _ := store.ListBackups(dir); len(files) != 1 {
		t.Fatalf("age rotation: %v", files)
	}
}
