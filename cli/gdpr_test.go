package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte/pforte/jobs"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
)

// seedDir fills a data directory with one customer's messages.
func seedDir(t *testing.T, dir, waID string, n int, at time.Time) {
	t.Helper()
	st, err := store.Open(context.Background(), dir, store.Options{IsStopWord: outbox.IsStopWord})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := range n {
		wamid := fmt.Sprintf("wamid.%s.%d", waID, i)
		body := fmt.Appendf(nil, `{"object":"whatsapp_business_account","entry":[{"id":"w","changes":[{"field":"messages","value":{"contacts":[{"wa_id":%q}],"messages":[{"id":%q,"from":%q,"type":"text","text":{"body":"zqclitext"}}]}}]}]}`, waID, wamid, waID)
		_, err := st.Ingest(context.Background(), &store.Delivery{Body: body, ReceivedAt: at, Messages: []store.InboundMessage{{
			Number: store.Number{PhoneNumberID: "100"}, From: store.Party{WaID: waID}, WAMID: wamid, Type: "text",
			Text: sql.NullString{String: "zqclitext", Valid: true}, TS: at.Unix() + int64(i)}}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, nil, &out, &errb)
	return code, out.String(), errb.String()
}

func TestExportAndEraseCommands(t *testing.T) {
	dir := t.TempDir()
	seedDir(t, dir, "4915111111111", 30, time.Now())
	seedDir(t, dir, "4915122222222", 2, time.Now())
	zipPath := filepath.Join(t.TempDir(), "auskunft.zip")

	if code, _, errs := runCmd(t, "export", "--data-dir", dir, "--contact", "4915111111111"); code != 1 || !strings.Contains(errs, "--out") {
		t.Fatalf("export without --out: %d %q", code, errs)
	}
	if code, _, errs := runCmd(t, "export", "--data-dir", dir, "--contact", "4919999999999", "--out", zipPath); code != 1 || !strings.Contains(errs, "no customer") {
		t.Fatalf("unknown customer: %d %q", code, errs)
	}
	if _, err := os.Stat(zipPath); err == nil {
		t.Fatal("a failed export left a file")
	}
	code, out, _ := runCmd(t, "export", "--data-dir", dir, "--contact", "+49 151 11111111", "--out", zipPath)
	if code != 0 || !strings.Contains(out, "30 messages") {
		t.Fatalf("export: %d %q", code, out)
	}
	zr, err := zip.OpenReader(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
	}
	zr.Close()
	for _, want := range []string{"data.json", "messages.csv", "schema.json", "zusammenfassung.html", "manifest.json"} {
		if !names[want] {
			t.Errorf("export lacks %s", want)
		}
	}
	if code, _, _ := runCmd(t, "export", "--data-dir", dir, "--contact", "4915111111111", "--out", zipPath); code != 1 {
		t.Fatal("export overwrote an existing file")
	}

	// Erasing needs --yes and changes nothing without it.
	if code, _, errs := runCmd(t, "erase", "--data-dir", dir, "--contact", "4915111111111"); code != 1 || !strings.Contains(errs, "--yes") {
		t.Fatalf("erase without --yes: %d %q", code, errs)
	}
	code, out, _ = runCmd(t, "erase", "--data-dir", dir, "--contact", "4915111111111", "--yes", "--reason", "Antrag 2026-11-27")
	if code != 0 || !strings.Contains(out, "erased: 30 messages") {
		t.Fatalf("erase: %d %q", code, out)
	}
	if code, _, errs := runCmd(t, "erase", "--data-dir", dir, "--contact", "4915111111111", "--yes"); code != 1 || !strings.Contains(errs, "no customer") {
		t.Fatalf("second erase: %d %q", code, errs)
	}
	if code, out, _ := runCmd(t, "export", "--data-dir", dir, "--contact", "4915122222222", "--out", zipPath+"2", "--quiet"); code != 0 || !strings.Contains(out, "2 messages") {
		t.Fatalf("bystander export: %d %q", code, out)
	}
}

func TestRetentionCommand(t *testing.T) {
	dir := t.TempDir()
	seedDir(t, dir, "4915111111111", 5, time.Now().Add(-400*24*time.Hour))
	seedDir(t, dir, "4915122222222", 3, time.Now())
	code, out, _ := runCmd(t, "retention", "run", "--dry-run", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "WOULD DELETE") || !strings.Contains(out, "messages") {
		t.Fatalf("dry run: %d %q", code, out)
	}
	code, out, _ = runCmd(t, "retention", "run", "--data-dir", dir)
	if code != 0 || !strings.Contains(out, "DELETED") {
		t.Fatalf("run: %d %q", code, out)
	}
	st, err := store.Open(context.Background(), dir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.MessageByWAMID(context.Background(), "wamid.4915111111111.0"); err == nil {
		t.Fatal("a 400-day-old message survived retention")
	}
	if _, err := st.MessageByWAMID(context.Background(), "wamid.4915122222222.0"); err != nil {
		t.Fatalf("a new message was purged: %v", err)
	}
	if code, _, _ := runCmd(t, "retention", "--data-dir", dir); code != 2 {
		t.Fatal("retention without run")
	}
}

func TestBackupRestoreCommands(t *testing.T) {
	dir := t.TempDir()
	seedDir(t, dir, "4915111111111", 3, time.Now())
	seedDir(t, dir, "4915122222222", 3, time.Now())
	passFile := filepath.Join(t.TempDir(), "pass")
	os.WriteFile(passFile, []byte("a long enough passphrase\n"), 0o600)
	out := filepath.Join(t.TempDir(), "b.db.age")
	code, stdout, errs := runCmd(t, "backup", "--data-dir", dir, "--out", out, "--backup-passphrase-file", passFile)
	if code != 0 || !strings.Contains(stdout, "encrypted") || !strings.Contains(stdout, "integrity ok") {
		t.Fatalf("backup: %d %q %q", code, stdout, errs)
	}
	if code, _, _ := runCmd(t, "erase", "--data-dir", dir, "--contact", "4915111111111", "--yes"); code != 0 {
		t.Fatal("erase")
	}
	// Refused while another process has the data directory open.
	st, err := store.Open(context.Background(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCmd(t, "restore", "--data-dir", dir, "--from", out, "--backup-passphrase-file", passFile); code != 1 || !strings.Contains(errs, "in use") {
		t.Fatalf("restore while open: %d %q", code, errs)
	}
	st.Close()
	if code, _, errs := runCmd(t, "restore", "--data-dir", dir, "--from", out); code != 1 || !strings.Contains(errs, "passphrase") {
		t.Fatalf("restore without passphrase: %d %q", code, errs)
	}
	code, stdout, errs = runCmd(t, "restore", "--data-dir", dir, "--from", out, "--backup-passphrase-file", passFile)
	if code != 0 || !strings.Contains(stdout, "1 erased customers were in the backup") {
		t.Fatalf("restore: %d %q %q", code, stdout, errs)
	}
	st, err = store.Open(context.Background(), dir, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.ContactByKey(context.Background(), "4915111111111"); err == nil {
		t.Fatal("the restore brought an erased customer back")
	}
	if _, err := st.ContactByKey(context.Background(), "4915122222222"); err != nil {
		t.Fatalf("bystander: %v", err)
	}
}

func TestRecordsCommand(t *testing.T) {
	dir := t.TempDir()
	code, out, _ := runCmd(t, "records", "--data-dir", dir, "--controller", "Muster GmbH, Berlin")
	if code != 0 || !strings.Contains(out, "# Verzeichnis von Verarbeitungstätigkeiten") || !strings.Contains(out, "Muster GmbH") {
		t.Fatalf("records: %d %q", code, out)
	}
	code, out, _ = runCmd(t, "records", "--data-dir", dir, "--format", "json")
	var v map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["activities"] == nil {
		t.Fatalf("records json: %d %q", code, out)
	}
}

func TestServeRejectsBadJobSettings(t *testing.T) {
	for _, args := range [][]string{{"--timezone", "Mars/Olympus"}, {"--backup-keep", "0"}, {"--backup-passphrase", "short"}, {"--public-url", "chat.example.de"}} {
		code, _, errs := runCmd(t, append([]string{"serve", "--data-dir", t.TempDir()}, args...)...)
		if code != 1 || !strings.Contains(errs, args[0]) {
			t.Errorf("%v: %d %q", args, code, errs)
		}
	}
	code, _, errs := runCmd(t, "serve", "--data-dir", t.TempDir(), "--retention-schedule", "sometimes")
	if code != 1 || !strings.Contains(errs, "retention-schedule") {
		t.Errorf("bad schedule: %d %q", code, errs)
	}
}

// syncBuf is a log sink shared between the serving goroutine and the test.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestServeRunsAndStopsTheScheduler(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &syncBuf{}
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve", "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--internal-addr", "127.0.0.1:0",
			"--timezone", "Asia/Tokyo", "--backup-schedule", "off"}, nil, &bytes.Buffer{}, logs)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(logs.String(), "pforte ready") {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
	out := logs.String()
	for _, want := range []string{"job scheduled", "job=retention", "job=maintenance", "stopped cleanly"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "job=backup") {
		t.Error("a backup was scheduled although --backup-schedule off")
	}
	if !strings.Contains(out, "+09:00") {
		t.Errorf("schedules are not in the configured time zone:\n%s", out)
	}
}

func TestJobsAPIAdapterShowsAndStartsJobs(t *testing.T) {
	st, err := store.Open(context.Background(), t.TempDir(), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := jobsConfig{TimeZone: "Europe/Berlin", RetentionSpec: "30 3 * * *", BackupSpec: "off", MaintenanceSpec: "off", BackupKeep: 7, BackupMaxAge: 30 * 24 * time.Hour}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	sched, err := cfg.scheduler(st, st.Dir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sched.Start()
	defer sched.Stop(context.Background())
	if !sched.StartJob("retention") || sched.StartJob("nope") {
		t.Fatal("start")
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ret *jobs.Entry
		for _, e := range sched.Entries() {
			if e.Name == "retention" {
				ret = &e
			}
		}
		if ret == nil || ret.Next.IsZero() {
			t.Fatalf("retention not listed with a next run: %+v", sched.Entries())
		}
		if ret.Last.Finished {
			if ret.Last.Err != nil || !strings.Contains(ret.Last.Summary, "rows") {
				t.Fatalf("last run: %+v", ret)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the started job never finished")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
