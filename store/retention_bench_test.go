package store

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// seedExpiredMessages writes rows messages dated at, across 100 conversations.
func seedExpiredMessages(tb testing.TB, s *Store, rows int, at time.Time) {
	tb.Helper()
	ctx := context.Background()
	err := s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(`INSERT INTO business_numbers(id, phone_number_id, created_at) VALUES (1, '100', ?)`, at.Unix()); err != nil {
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
	for from := 1; from <= rows; from += 50_000 {
		to := min(from+50_000-1, rows)
		if err := s.Write(ctx, func(tx *Tx) error {
			_, err := tx.Exec(`WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
				INSERT INTO messages(wamid, conversation_id, direction, type, text, payload, ts, created_at)
				SELECT 'wamid.expired.' || i, 1 + i % 100, 'inbound', 'text',
					'Alte Nachricht ' || i || ': ist meine Bestellung schon unterwegs?',
					'{"body":"Alte Nachricht ' || i || '"}', ?3 + i % 86400, ?3 FROM n`, from, to, at.Unix())
			return err
		}); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkRetentionPurge measures the purge alone (no concurrent load).
func BenchmarkRetentionPurge(b *testing.B) {
	rows := 100_000
	if v, err := strconv.Atoi(os.Getenv("PFORTE_BENCH_PURGE_ROWS")); err == nil && v > 0 {
		rows = v
	}
	for _, batch := range []int{500, 2000} {
		b.Run("batch="+strconv.Itoa(batch), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				s := openDP(b, nil)
				now := time.Now()
				seedExpiredMessages(b, s, rows, now.Add(-200*24*time.Hour))
				b.StartTimer()
				t0 := time.Now()
				rep, err := s.RunRetention(context.Background(), RetentionOptions{Now: now, Batch: batch})
				if err != nil {
					b.Fatal(err)
				}
				took := time.Since(t0)
				if rep.RowsPerClass[RetainMessages] != int64(rows) {
					b.Fatalf("purged %d", rep.RowsPerClass[RetainMessages])
				}
				b.ReportMetric(float64(rows)/took.Seconds(), "rows/s")
				b.ReportMetric(0, "ns/op")
			}
		})
	}
}
