package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3afero"
	"github.com/spf13/afero"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/replica"
	"github.com/pforte/pforte/store"
)

// BenchmarkRestore1GB replicates a large data directory (a pforte.db of
// RESTORE_BENCH_DB_MB, default 1024, and RESTORE_BENCH_MEDIA_GB, default
// 10, of media files of 50 KB to 5 MB) encrypted to an S3 server on
// loopback and measures "pforte restore" of the newest state onto a fresh
// directory: total, database and media time, MB/s and the restore
// process's peak RSS. The S3 server is gofakes3 with its file backend
// (s3afero), so the bucket lies on disk, not in RAM; it runs in the
// benchmark process and shares the cores with the restore. Needs about
// 2.4 times the data size on disk at the peak (source, bucket with the
// database's compaction levels, restore); the source is deleted before
// the restore.
//
//	RESTORE_BENCH_DB_MB=64 RESTORE_BENCH_MEDIA_GB=0.5 go test -tags '...' -run '^$' -bench Restore1GB -benchtime 1x ./cli
func BenchmarkRestore1GB(b *testing.B) {
	dbMB := envFloat(b, "RESTORE_BENCH_DB_MB", 1024)
	mediaGB := envFloat(b, "RESTORE_BENCH_MEDIA_GB", 10)
	root := b.TempDir()
	bucketDir := filepath.Join(root, "bucket")
	if err := os.MkdirAll(bucketDir, 0o700); err != nil {
		b.Fatal(err)
	}
	backend, err := s3afero.MultiBucket(afero.NewBasePathFs(afero.NewOsFs(), bucketDir))
	if err != nil {
		b.Fatal(err)
	}
	if err := backend.CreateBucket("pforte"); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	defer srv.Close()
	b.Setenv("AWS_ACCESS_KEY_ID", "k")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	b.Setenv("AWS_CA_BUNDLE", "")
	key := filepath.Join(root, "replica.key")
	if _, err := replica.WriteNewIdentity(key); err != nil {
		b.Fatal(err)
	}
	url := "s3://pforte/big?endpoint=" + srv.URL + "&region=eu-central-1"

	for range b.N {
		src := filepath.Join(root, "src")
		t0 := time.Now()
		dbBytes := buildBenchDB(b, src, int64(dbMB*(1<<20)))
		tDB := time.Since(t0)
		t0 = time.Now()
		nMedia, mediaBytes := writeBenchMedia(b, filepath.Join(src, store.MediaDirName), int64(mediaGB*(1<<30)))
		tMedia := time.Since(t0)
		b.Logf("source: database %s in %s, %d media files %s in %s", humanBytes(dbBytes), tDB.Round(time.Second), nMedia, humanBytes(mediaBytes), tMedia.Round(time.Second))

		t0 = time.Now()
		replicateOnce(b, src, url, key, nMedia)
		tRepl := time.Since(t0)
		bucketBytes := dirSize(bucketDir)
		b.Logf("replicated in %s; bucket holds %s", tRepl.Round(time.Second), humanBytes(bucketBytes))
		if err := os.RemoveAll(src); err != nil { // disk space: the restore needs as much again
			b.Fatal(err)
		}

		fresh := filepath.Join(root, "restored")
		cmd := exec.Command(os.Args[0], "restore", "--from-replica", url, "--replica-key-file", key, "--data-dir", fresh)
		cmd.Env = append(os.Environ(), "PFORTE_TEST_MAIN=1")
		out, err := os.CreateTemp(root, "restore-out")
		if err != nil {
			b.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = out, out
		var self0, self1 syscall.Rusage // this process: the S3 server's share of the CPU
		syscall.Getrusage(syscall.RUSAGE_SELF, &self0)
		b.ResetTimer()
		start := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		// Restore fetches the database first and creates the media folder
		// only after it, then fetches the media; then the store re-applies
		// the erasures. The folder's appearance and its file count split
		// the phases without instrumenting the command.
		var dbDone, mediaDone time.Duration
		var rss [3]int64 // peak resident KB seen per phase: database, media, re-apply
		// The process's own high-water mark; getrusage's ru_maxrss is not
		// used: on Linux it carries the parent's RSS from before the exec.
		var peak int64
		var werr error
	wait:
		for tick := 0; ; tick++ {
			select {
			case werr = <-done:
				break wait
			case <-time.After(10 * time.Millisecond):
			}
			phase := 0
			if mediaDone != 0 {
				phase = 2
			} else if dbDone != 0 {
				phase = 1
			}
			cur, hwm := residentKB(cmd.Process.Pid)
			rss[phase] = max(rss[phase], cur)
			peak = max(peak, hwm)
			if dbDone == 0 {
				if _, err := os.Stat(filepath.Join(fresh, store.MediaDirName)); err == nil {
					dbDone = time.Since(start)
				}
			}
			if dbDone != 0 && mediaDone == 0 && tick%10 == 0 {
				if ents, err := os.ReadDir(filepath.Join(fresh, store.MediaDirName)); err == nil && len(ents) >= nMedia {
					mediaDone = time.Since(start)
				}
			}
		}
		total := time.Since(start)
		b.StopTimer()
		syscall.Getrusage(syscall.RUSAGE_SELF, &self1)
		if werr != nil {
			out.Seek(0, io.SeekStart)
			msg, _ := io.ReadAll(out)
			b.Fatalf("restore: %v\n%s", werr, msg)
		}
		out.Close()
		if mediaDone == 0 {
			mediaDone = total
		}
		ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		restored := dirSize(fresh)
		mb := float64(dbBytes+mediaBytes) / (1 << 20)
		b.ReportMetric(total.Seconds(), "restore-s")
		b.ReportMetric(dbDone.Seconds(), "db-s")
		b.ReportMetric((mediaDone - dbDone).Seconds(), "media-s")
		b.ReportMetric((total - mediaDone).Seconds(), "reapply-s")
		b.ReportMetric(mb/total.Seconds(), "MB/s")
		b.ReportMetric(float64(dbBytes)/(1<<20)/dbDone.Seconds(), "db-MB/s")
		b.ReportMetric(float64(mediaBytes)/(1<<20)/(mediaDone-dbDone).Seconds(), "media-MB/s")
		b.ReportMetric(float64(peak)/1024, "peak-rss-MB")
		cpu := func(r *syscall.Rusage) float64 {
			return float64(r.Utime.Sec+r.Stime.Sec) + float64(r.Utime.Usec+r.Stime.Usec)/1e6
		}
		b.ReportMetric(cpu(&self1)-cpu(&self0), "s3-server-cpu-s")
		if ru != nil {
			b.ReportMetric(float64(ru.Utime.Sec)+float64(ru.Utime.Usec)/1e6+float64(ru.Stime.Sec)+float64(ru.Stime.Usec)/1e6, "restore-cpu-s")
		}
		b.ReportMetric(float64(rss[0])/1024, "rss-db-MB")
		b.ReportMetric(float64(rss[1])/1024, "rss-media-MB")
		b.ReportMetric(float64(rss[2])/1024, "rss-reapply-MB")
		b.ReportMetric(float64(dbBytes)/(1<<20), "db-MB")
		b.ReportMetric(float64(mediaBytes)/(1<<30), "media-GB")
		b.ReportMetric(float64(nMedia), "media-files")
		b.ReportMetric(float64(bucketBytes)/(1<<30), "bucket-GB")
		b.ReportMetric(tRepl.Seconds(), "replicate-s")
		b.ReportMetric(0, "ns/op")
		if restored < dbBytes+mediaBytes {
			b.Fatalf("restored %s, want at least %s", humanBytes(restored), humanBytes(dbBytes+mediaBytes))
		}
		os.RemoveAll(fresh)
	}
}

func envFloat(b *testing.B, name string, def float64) float64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 {
		b.Fatalf("%s=%q: want a number", name, v)
	}
	return f
}

// buildBenchDB creates a data directory with the real schema and fills
// messages (with their search index) until the file has size bytes: a few
// conversations made through the store's own ingest path by "pforte
// serve", then bulk rows in the shape of inbound text messages.
func buildBenchDB(b *testing.B, dir string, size int64) int64 {
	c := startChildTB(b, dir, "bench-secret")
	for i := range 20 {
		postWebhookTB(b, c, "bench-secret", canaryBody(fmt.Sprintf("4915200%06d", i), fmt.Sprintf("wamid.seed.%d", i), "Guten Tag, ich habe eine Frage zu meiner Bestellung."))
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.cmd.Wait()

	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, store.DBFile)+"?_journal_mode=WAL&_busy_timeout=5000")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	const batch = 20000
	for n := 0; ; n++ {
		var pages, pageSize int64
		if err := db.QueryRow("PRAGMA page_count").Scan(&pages); err != nil {
			b.Fatal(err)
		}
		if err := db.QueryRow("PRAGMA page_size").Scan(&pageSize); err != nil {
			b.Fatal(err)
		}
		if pages*pageSize >= size {
			break
		}
		// Texts of varied words, so that the search index grows as with
		// real messages; the payload is Meta's message object.
		_, err := db.Exec(`
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM seq WHERE i < ?),
words(w) AS (SELECT value FROM json_each('["Bestellung","Lieferung","Rechnung","Termin","morgen","bitte","danke","Frage","Paket","Rückgabe","Größe","Farbe","wann","kommt","heute","Kundennummer","Adresse","geändert","Zahlung","erhalten"]'))
INSERT INTO messages(wamid, conversation_id, direction, type, text, payload, ts, created_at)
SELECT 'wamid.bulk.' || ? || '.' || i,
	coalesce((SELECT min(id) FROM conversations WHERE id >= (SELECT min(id) FROM conversations) + i % 20), (SELECT min(id) FROM conversations)),
	'inbound', 'text', t,
	json_object('from', '4915200' || printf('%06d', i % 20), 'id', 'wamid.bulk.' || ? || '.' || i, 'timestamp', CAST(1790000000 + i AS TEXT), 'type', 'text', 'text', json_object('body', t)),
	1790000000 + i, 1790000000 + i
FROM (SELECT i, (SELECT group_concat(w, ' ') FROM words WHERE (abs(random()) + i) % 3 = 0) || ' ' || hex(randomblob(6)) AS t FROM seq)`,
			batch, n, n)
		if err != nil {
			b.Fatal(err)
		}
	}
	if _, err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, store.DBFile))
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

func postWebhookTB(tb testing.TB, c *child, secret string, body []byte) {
	tb.Helper()
	req, _ := http.NewRequest("POST", "http://"+c.public+"/webhook", bytes.NewReader(body))
	req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign([]byte(secret), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		tb.Fatalf("webhook: %d", resp.StatusCode)
	}
}

// writeBenchMedia writes content-addressed random files of 50 KB to 5 MB
// (log-uniform, as photos, voice notes and documents mix) until total
// bytes are written.
func writeBenchMedia(b *testing.B, dir string, total int64) (int, int64) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	src := rand.NewChaCha8([32]byte{7})
	rng := rand.New(src)
	buf := make([]byte, 5<<20)
	var n int
	var written int64
	for written < total {
		size := int(50e3 * math.Exp(rng.Float64()*math.Log(100)))
		size = int(min(int64(size), total-written, int64(len(buf))))
		src.Read(buf[:size])
		sum := sha256.Sum256(buf[:size])
		if err := os.WriteFile(filepath.Join(dir, hex.EncodeToString(sum[:])), buf[:size], 0o600); err != nil {
			b.Fatal(err)
		}
		n++
		written += int64(size)
	}
	return n, written
}

// replicateOnce runs the replicator on dir until the database and all
// media are in the bucket, then stops it.
func replicateOnce(b *testing.B, dir, url, key string, nMedia int) {
	cfg := replica.Config{URL: url, KeyFile: key, SyncInterval: time.Second, MediaInterval: time.Second}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := replica.New(ctx, dir, cfg, replicaLayout(), log)
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	deadline := time.Now().Add(2 * time.Hour)
	for {
		st, _ := replica.ReadStatus(dir)
		if st != nil && st.RemoteTXID > 0 && st.RemoteTXID == st.LocalTXID && st.MediaUploaded >= nMedia {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("replication did not finish: %+v", st)
		}
		time.Sleep(500 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// residentKB reads a process's resident set size and its high-water mark
// from /proc, in KB (0 if gone).
func residentKB(pid int) (cur, hwm int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	kb := func(rest string) int64 {
		n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		return n
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			cur = kb(rest)
		} else if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			hwm = kb(rest)
		}
	}
	return cur, hwm
}

func dirSize(root string) int64 {
	var n int64
	filepath.WalkDir(root, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
