package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// DayCount is one day's message counts.
type DayCount struct {
	Day      time.Time // midnight, in the location asked for
	Inbound  int
	Outbound int
}

// MessagesPerDay counts messages per calendar day for the last days days
// (today included), in loc.
func (s *Store) MessagesPerDay(ctx context.Context, days int, now time.Time, loc *time.Location) ([]DayCount, error) {
	now = now.In(loc)
	first := time.Date(now.Year(), now.Month(), now.Day()-days+1, 0, 0, 0, 0, loc)
	out := make([]DayCount, days)
	for i := range out {
		out[i].Day = first.AddDate(0, 0, i)
	}
	// Group by UTC hour in SQL (cheap on the ts index), then into local days.
	rows, err := s.rdb.QueryContext(ctx, `SELECT ts / 3600, direction, count(*) FROM messages WHERE ts >= ? GROUP BY 1, 2`, first.Unix())
	if err != nil {
		return nil, fmt.Errorf("store: messages per day: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var hour int64
		var dir string
		var n int
		if err := rows.Scan(&hour, &dir, &n); err != nil {
			return nil, fmt.Errorf("store: messages per day: %w", err)
		}
		t := time.Unix(hour*3600, 0).In(loc)
		i := int(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc).Sub(first).Hours()+12) / 24
		if i < 0 || i >= days {
			continue
		}
		if dir == "inbound" {
			out[i].Inbound += n
		} else {
			out[i].Outbound += n
		}
	}
	return out, rows.Err()
}

// Overview is the dashboard's figures.
type Overview struct {
	OpenConversations  int
	UnassignedOpen     int
	FailedSends7d      int
	MediaPending       int
	MediaFailed        int
	LastWebhookAt      int64
	Deliveries24h      int
	ParseErrors24h     int
	ResponseMedianSecs int64 // first reply after a customer message, last 7 days
	ResponseP90Secs    int64
	ResponseSamples    int
	DBBytes            int64
	MediaBytes         int64
}

// Overview gathers the dashboard's numbers.
func (s *Store) Overview(ctx context.Context, now time.Time) (*Overview, error) {
	o := &Overview{}
	week := now.Add(-7 * 24 * time.Hour).Unix()
	day := now.Add(-24 * time.Hour).Unix()
	err := s.rdb.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM conversations WHERE status = 'open'),
		(SELECT count(*) FROM conversations WHERE status = 'open' AND assignee_id IS NULL),
		(SELECT count(*) FROM messages WHERE status = 'failed' AND ts >= ?1 AND direction = 'outbound'),
		(SELECT count(*) FROM media WHERE state = 'pending'),
		(SELECT count(*) FROM media WHERE state = 'failed'),
		coalesce((SELECT max(received_at) FROM deliveries), 0),
		(SELECT count(*) FROM deliveries WHERE received_at >= ?2),
		(SELECT count(*) FROM deliveries WHERE received_at >= ?2 AND parse_error IS NOT NULL),
		coalesce((SELECT sum(size) FROM media WHERE state = 'stored'), 0)`, week, day).Scan(
		&o.OpenConversations, &o.UnassignedOpen, &o.FailedSends7d, &o.MediaPending, &o.MediaFailed,
		&o.LastWebhookAt, &o.Deliveries24h, &o.ParseErrors24h, &o.MediaBytes)
	if err != nil {
		return nil, fmt.Errorf("store: overview: %w", err)
	}
	// Response time: for the week's latest customer messages that start a
	// turn (the message before them is ours, or there is none), the time
	// until our next answer. Sampled so it stays a few index probes.
	rows, err := s.rdb.QueryContext(ctx, `SELECT
			(SELECT min(o.ts) FROM messages o WHERE o.conversation_id = i.conversation_id AND o.direction = 'outbound' AND o.ts >= i.ts) - i.ts
		FROM messages i
		WHERE i.ts >= ? AND i.direction = 'inbound'
		  AND coalesce((SELECT p.direction FROM messages p WHERE p.conversation_id = i.conversation_id
		      AND (p.ts, p.id) < (i.ts, i.id) ORDER BY p.ts DESC, p.id DESC LIMIT 1), 'outbound') = 'outbound'
		ORDER BY i.ts DESC LIMIT 200`, week)
	if err != nil {
		return nil, fmt.Errorf("store: response times: %w", err)
	}
	defer rows.Close()
	var gaps []int64
	for rows.Next() {
		var g *int64
		if err := rows.Scan(&g); err != nil {
			return nil, fmt.Errorf("store: response times: %w", err)
		}
		if g != nil && *g >= 0 {
			gaps = append(gaps, *g)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store: response times: %w", err)
	}
	if len(gaps) > 0 {
		sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
		o.ResponseSamples = len(gaps)
		o.ResponseMedianSecs = gaps[len(gaps)/2]
		o.ResponseP90Secs = gaps[len(gaps)*9/10]
	}
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if fi, err := os.Stat(filepath.Join(s.dir, DBFile+suffix)); err == nil {
			o.DBBytes += fi.Size()
		}
	}
	return o, nil
}

// DeliveryLogItem is one received webhook POST.
type DeliveryLogItem struct {
	ID         int64
	ReceivedAt int64
	Bytes      int
	ParseError string
	Messages   int
	Statuses   int
	Events     int
}

// RecentDeliveries lists the last webhook deliveries with what they held.
func (s *Store) RecentDeliveries(ctx context.Context, limit int) ([]DeliveryLogItem, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT d.id, d.received_at, length(d.body), coalesce(d.parse_error, ''),
		(SELECT count(*) FROM messages WHERE delivery_id = d.id),
		(SELECT count(*) FROM message_statuses WHERE delivery_id = d.id),
		(SELECT count(*) FROM events WHERE delivery_id = d.id)
		FROM deliveries d ORDER BY d.id DESC LIMIT ?`, Page{Limit: limit}.limit())
	if err != nil {
		return nil, fmt.Errorf("store: deliveries: %w", err)
	}
	defer rows.Close()
	var out []DeliveryLogItem
	for rows.Next() {
		var d DeliveryLogItem
		if err := rows.Scan(&d.ID, &d.ReceivedAt, &d.Bytes, &d.ParseError, &d.Messages, &d.Statuses, &d.Events); err != nil {
			return nil, fmt.Errorf("store: deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
