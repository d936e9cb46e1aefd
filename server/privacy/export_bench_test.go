package privacy

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pforte/pforte/store"
)

// BenchmarkExportLargeCustomer exports one customer of two sizes and prints
// the process's peak RSS during each export (VmHWM, reset before it), to
// show that memory does not grow with the customer. Sizes: 10 000 messages
// with 20 MB of media, and PFORTE_BENCH_EXPORT_MESSAGES (default 100 000)
// with PFORTE_BENCH_EXPORT_MEDIA_MB (default 512) of media.
//
//	go test -tags '...' -run '^$' -bench ExportLargeCustomer -benchtime 1x ./server/privacy/
func BenchmarkExportLargeCustomer(b *testing.B) {
	msgs, mediaMB := 100_000, 512
	if v, err := strconv.Atoi(os.Getenv("PFORTE_BENCH_EXPORT_MESSAGES")); err == nil && v > 0 {
		msgs = v
	}
	if v, err := strconv.Atoi(os.Getenv("PFORTE_BENCH_EXPORT_MEDIA_MB")); err == nil && v > 0 {
		mediaMB = v
	}
	type row struct {
		msgs, mediaMB              int
		zipBytes                   int64
		took                       time.Duration
		peakRSS, baseRSS, peakHeap uint64
	}
	var rows []row
	for _, size := range []struct{ msgs, mediaMB int }{{10_000, 20}, {msgs, mediaMB}} {
		b.Run(fmt.Sprintf("messages=%d/media=%dMB", size.msgs, size.mediaMB), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				s := openStore(b)
				seedLargeCustomer(b, s, size.msgs, size.mediaMB)
				c, err := s.ContactByKey(context.Background(), "4915100000000")
				if err != nil {
					b.Fatal(err)
				}
				resetPeakRSS(b)
				base := rss(b, "VmRSS")
				stop := make(chan struct{})
				var peakHeap atomic.Uint64
				var wg sync.WaitGroup
				wg.Go(func() { sampleHeap(stop, &peakHeap) })
				var out countingWriter
				b.StartTimer()
				t0 := time.Now()
				stats, err := ExportContact(context.Background(), s, c, &out, ExportOptions{Actor: "bench"})
				took := time.Since(t0)
				b.StopTimer()
				close(stop)
				wg.Wait()
				if err != nil {
					b.Fatal(err)
				}
				if stats.Messages != size.msgs || stats.MediaMismatches != 0 {
					b.Fatalf("stats: %+v", stats)
				}
				r := row{size.msgs, size.mediaMB, out.n, took, rss(b, "VmHWM"), base, peakHeap.Load()}
				rows = append(rows, r)
				b.ReportMetric(float64(r.peakRSS)/(1<<20), "peak-RSS-MB")
				b.ReportMetric(float64(r.peakHeap)/(1<<20), "peak-heap-MB")
				b.ReportMetric(float64(size.msgs)/took.Seconds(), "messages/s")
				b.ReportMetric(0, "ns/op")
			}
		})
	}
	fmt.Printf("\nexport of one customer (ZIP streamed to a counting writer)\n")
	fmt.Printf("%10s %10s %10s %9s %14s %14s %14s\n", "messages", "media MB", "zip MB", "took s", "RSS before MB", "peak RSS MB", "peak heap MB")
	for _, r := range rows {
		fmt.Printf("%10d %10d %10.0f %9.1f %14.1f %14.1f %14.1f\n", r.msgs, r.mediaMB, float64(r.zipBytes)/(1<<20), r.took.Seconds(),
			float64(r.baseRSS)/(1<<20), float64(r.peakRSS)/(1<<20), float64(r.peakHeap)/(1<<20))
	}
	fmt.Println()
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// seedLargeCustomer gives one customer msgs messages, one in every
// msgs/files of them a document of 1 MB of random bytes.
func seedLargeCustomer(tb testing.TB, s *store.Store, msgs, mediaMB int) {
	tb.Helper()
	ctx := context.Background()
	now := time.Now().Unix()
	err := s.Write(ctx, func(tx *store.Tx) error {
		for _, q := range []string{
			`INSERT INTO business_numbers(id, phone_number_id, created_at) VALUES (1, '100', ?1)`,
			`INSERT INTO contacts(id, wa_id, name, created_at, updated_at) VALUES (1, '4915100000000', 'Großkunde', ?1, ?1)`,
			`INSERT INTO conversations(id, business_number_id, contact_id, last_message_at, created_at, updated_at) VALUES (1, 1, 1, ?1, ?1, ?1)`,
		} {
			if _, err := tx.Exec(q, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	for from := 1; from <= msgs; from += 50_000 {
		to := min(from+50_000-1, msgs)
		if err := s.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(`WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
				INSERT INTO messages(wamid, conversation_id, direction, type, text, payload, ts, created_at)
				SELECT 'wamid.big.' || i, 1, CASE i % 3 WHEN 0 THEN 'outbound' ELSE 'inbound' END, 'text',
					'Nachricht ' || i || ': Guten Tag, wann kommt meine Bestellung? Vielen Dank und freundliche Grüße',
					'{"body":"Nachricht ' || i || '"}', ?3 + i, ?3 FROM n`, from, to, now-int64(msgs))
			return err
		}); err != nil {
			tb.Fatal(err)
		}
	}
	dir := s.MediaDir()
	os.MkdirAll(dir, 0o700)
	files := mediaMB
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 1<<20)
	step := max(1, msgs/max(1, files))
	var sb strings.Builder
	for f := range files {
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		sum := sha256.Sum256(buf)
		rel := hex.EncodeToString(sum[:])
		if err := os.WriteFile(filepath.Join(dir, rel), buf, 0o600); err != nil {
			tb.Fatal(err)
		}
		fmt.Fprintf(&sb, "(%d, 'application/pdf', '%s', 'beleg-%d.pdf', %d, '%s', 'stored'),",
			1+f*step, base64.StdEncoding.EncodeToString(sum[:]), f, len(buf), rel)
	}
	if files > 0 {
		q := "INSERT INTO media(message_id, mime_type, sha256, filename, size, path, state) VALUES " + strings.TrimSuffix(sb.String(), ",")
		if err := s.Write(ctx, func(tx *store.Tx) error { _, err := tx.Exec(q); return err }); err != nil {
			tb.Fatal(err)
		}
	}
}

// resetPeakRSS starts a new VmHWM measurement (Linux: clear_refs 5).
func resetPeakRSS(tb testing.TB) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		tb.Fatalf("cannot reset the peak RSS: %v", err)
	}
}

// rss reads a size field of /proc/self/status in bytes.
func rss(tb testing.TB, field string) uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	tb.Fatalf("%s not in /proc/self/status", field)
	return 0
}

func sampleHeap(stop chan struct{}, peak *atomic.Uint64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		metrics.Read(s)
		if v := s[0].Value.Uint64(); v > peak.Load() {
			peak.Store(v)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}
