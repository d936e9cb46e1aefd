package gateway_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// BenchmarkPurgeWhileIngesting purges a million expired messages (with
// their search index entries) while signed webhooks arrive at 1000/s over
// loopback, and reports the purge rate and the webhooks' latency during the
// purge next to a baseline without it. PFORTE_BENCH_PURGE_ROWS changes the
// size.
//
//	go test -tags '...' -run '^$' -bench PurgeWhileIngesting -benchtime 1x ./server/
func BenchmarkPurgeWhileIngesting(b *testing.B) {
	rows := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("PFORTE_BENCH_PURGE_ROWS")); err == nil && v > 0 {
		rows = v
	}
	const rate = 1000 // deliveries per second
	for range b.N {
		g := testenv.New(b, testenv.Options{})
		ctx := context.Background()
		now := time.Now()
		seedStart := time.Now()
		seedExpired(b, g.Store, rows, now.Add(-200*24*time.Hour))
		b.Logf("seeded %d expired messages in %s", rows, time.Since(seedStart).Round(time.Second))

		// Baseline: the same load without a purge.
		base := ingestAtRate(b, g, rate, "base", func() bool { return false }, 5*time.Second, nil)

		var purgeDone atomic.Bool
		var rep *store.RetentionReport
		var perr error
		var purgeTook time.Duration
		go func() {
			t0 := time.Now()
			rep, perr = g.Store.RunRetention(ctx, store.RetentionOptions{Now: now, OrphanGrace: time.Hour})
			purgeTook = time.Since(t0)
			purgeDone.Store(true)
		}()
		// A long purge reports every 30 s, so a run stopped early still says
		// how it went.
		left := expiredCounter(b, g.Store.Path(), now.Add(-100*24*time.Hour))
		lastLeft, lastAt := rows, time.Now()
		progress := func(window []time.Duration) {
			n := left()
			slices.Sort(window)
			var p99 time.Duration
			if len(window) > 0 {
				p99 = window[len(window)*99/100]
			}
			fmt.Printf("  %5.0f s: %8d rows purged, %6.0f rows/s in the last interval, ingest p99 %7.2f ms over %d deliveries\n",
				time.Since(lastAt).Seconds(), rows-n, float64(lastLeft-n)/time.Since(lastAt).Seconds(), ms(p99), len(window))
			lastLeft, lastAt = n, time.Now()
		}
		during := ingestAtRate(b, g, rate, "during", purgeDone.Load, 90*time.Minute, progress)
		if !purgeDone.Load() {
			b.Fatalf("the purge did not finish within 90 minutes (see the progress lines)")
		}
		if perr != nil {
			b.Fatal(perr)
		}
		purged := rep.RowsPerClass[store.RetainMessages]
		if purged != int64(rows) {
			b.Fatalf("purged %d of %d", purged, rows)
		}
		fmt.Printf("\npurge of %d expired messages while ingesting %d deliveries/s\n", rows, rate)
		fmt.Printf("%-22s %12s %10s %9s %9s %9s %10s\n", "phase", "deliveries", "per s", "p50 ms", "p99 ms", "max ms", "not sent")
		for _, r := range []struct {
			name string
			l    rateResult
		}{{"ingest only", base}, {"ingest during purge", during}} {
			fmt.Printf("%-22s %12d %10.0f %9.2f %9.2f %9.2f %10d\n", r.name, r.l.sent, r.l.perSec, ms(r.l.p50), ms(r.l.p99), ms(r.l.max), r.l.missed)
		}
		fmt.Printf("purge: %d rows in %s = %.0f rows/s (incl. FTS optimize, incremental vacuum, WAL truncate; index optimized %v, wal busy %v)\n",
			purged, purgeTook.Round(time.Millisecond), float64(purged)/purgeTook.Seconds(), rep.Scrub.FTSOptimized, rep.Scrub.WALBusy)
		fmt.Printf("longest writer turn: purge step %s, clean-up step %s (%d index merge steps before and during, %d after the purge)\n",
			rep.LongestTurn.Round(time.Millisecond), rep.Scrub.LongestTurn.Round(time.Millisecond), rep.IndexMergeSteps, rep.Scrub.FTSMergeSteps)
		// The machine is shared: say how busy it was.
		if la, err := os.ReadFile("/proc/loadavg"); err == nil {
			fmt.Printf("load average at the end: %s\n", bytes.TrimSpace(la))
		}
		if during.failed > during.missed || base.failed > base.missed {
			b.Fatalf("deliveries answered with an error: %d during, %d baseline", during.failed-during.missed, base.failed-base.missed)
		}
		b.ReportMetric(float64(purged)/purgeTook.Seconds(), "purged-rows/s")
		b.ReportMetric(ms(during.p99), "ingest-p99-ms")
		b.ReportMetric(ms(base.p99), "baseline-p99-ms")
		b.ReportMetric(0, "ns/op")
		g.Close()
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// progressEvery is how often a long purge benchmark reports.
const progressEvery = 30 * time.Second

// expiredCounter counts the messages older than cut on a connection of its
// own (the test's reader pool is the store's).
func expiredCounter(tb testing.TB, path string, cut time.Time) func() int {
	tb.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return func() int {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM messages WHERE ts < ?", cut.Unix()).Scan(&n); err != nil {
			tb.Log(err)
		}
		return n
	}
}

// seedExpired writes rows old messages across 100 conversations in bulk.
func seedExpired(tb testing.TB, st *store.Store, rows int, at time.Time) {
	tb.Helper()
	ctx := context.Background()
	err := st.Write(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(`INSERT INTO business_numbers(id, phone_number_id, created_at) VALUES (1, '412095873361844', ?)`, at.Unix()); err != nil {
			return err
		}
		if _, err := tx.Exec(`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)
			INSERT INTO contacts(id, wa_id, name, created_at, updated_at) SELECT i, '49151000' || printf('%05d', i), 'Kunde ' || i, ?1, ?1 FROM n`, at.Unix()); err != nil {
			return err
		}
		_, err := tx.Exec(`INSERT INTO conversations(id, business_number_id, contact_id, last_inbound_at, last_message_at, created_at, updated_at)
			SELECT id, 1, id, ?1, ?1, ?1, ?1 FROM contacts`, at.Unix())
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	const chunk = 50_000
	for from := 1; from <= rows; from += chunk {
		to := min(from+chunk-1, rows)
		err := st.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(`WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
				INSERT INTO messages(wamid, conversation_id, direction, type, text, payload, ts, created_at)
				SELECT 'wamid.expired.' || i, 1 + i % 100, 'inbound', 'text',
					'Alte Nachricht ' || i || ': ist meine Bestellung schon unterwegs?',
					'{"body":"Alte Nachricht ' || i || '"}', ?3 + i % 86400, ?3 FROM n`, from, to, at.Unix())
			return err
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := st.Checkpoint(ctx, time.Minute); err != nil {
		tb.Fatal(err)
	}
}

type rateResult struct {
	sent           int
	perSec         float64
	p50, p99, max  time.Duration
	failed, missed int64
}

// ingestAtRate posts one signed delivery every 1/rate seconds (open loop:
// a slow answer does not slow the sender) until stop reports true or max
// has passed, and measures each answer's latency.
func ingestAtRate(tb testing.TB, g *testenv.Gateway, rate int, tag string, stop func() bool, max time.Duration, progress func(window []time.Duration)) rateResult {
	tb.Helper()
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := g.Public.URL + "/webhook"
	var mu sync.Mutex
	var lat []time.Duration
	var failed, missed atomic.Int64
	sem := make(chan struct{}, 512)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	start := time.Now()
	sent := 0
	windowFrom, nextReport := 0, start.Add(progressEvery)
	for !stop() && time.Since(start) < max {
		<-tick.C
		if progress != nil && time.Now().After(nextReport) {
			mu.Lock()
			window := slices.Clone(lat[windowFrom:])
			windowFrom = len(lat)
			mu.Unlock()
			progress(window)
			nextReport = nextReport.Add(progressEvery)
		}
		sent++
		body := benchBody([]string{fmt.Sprintf("wamid.live.%s.%d", tag, sent)})
		sig := cloudapi.Sign(g.AppSecret, body)
		select {
		case sem <- struct{}{}:
		default:
			missed.Add(1) // 512 requests outstanding: the machine fell behind; counted as "not sent"
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			t0 := time.Now()
			req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(cloudapi.SignatureHeader, sig)
			resp, err := client.Do(req)
			if err != nil {
				failed.Add(1)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				failed.Add(1)
				return
			}
			d := time.Since(t0)
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		})
	}
	wg.Wait()
	took := time.Since(start)
	slices.Sort(lat)
	r := rateResult{sent: sent, perSec: float64(len(lat)) / took.Seconds(), failed: failed.Load() + missed.Load(), missed: missed.Load()}
	if len(lat) > 0 {
		r.p50, r.p99, r.max = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	}
	return r
}
