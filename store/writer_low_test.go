package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// laneRecorder notes which commit each write function ran in.
type laneRecorder struct {
	commits atomic.Int64 // finished commits
	mu      sync.Mutex
	seen    map[int64][]string // commit number -> writes in it
}

func (l *laneRecorder) fn(name string) func(*Tx) error {
	return func(tx *Tx) error {
		l.mu.Lock()
		n := l.commits.Load() + 1
		// A replay would run fn again in the same commit; note it once.
		if !slices.Contains(l.seen[n], name) {
			l.seen[n] = append(l.seen[n], name)
		}
		l.mu.Unlock()
		_, err := tx.Exec("INSERT INTO settings(key, value, updated_at) VALUES (?, 'v', 1)", name)
		return err
	}
}

func (l *laneRecorder) order() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var parts []string
	for n := int64(1); n <= l.commits.Load(); n++ {
		if w := l.seen[n]; len(w) > 0 {
			slices.Sort(w)
			parts = append(parts, strings.Join(w, "+"))
		}
	}
	return strings.Join(parts, " ")
}

// queueBehind holds the writer in a first write until the writes listed
// are queued, then lets it go; it returns their errors in order.
func queueBehind(t *testing.T, s *Store, rec *laneRecorder, writes []string) []error {
	t.Helper()
	ctx := context.Background()
	release := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := s.Write(ctx, func(tx *Tx) error {
			close(started)
			<-release // holds the writer; nothing else can start meanwhile
			return rec.fn("first")(tx)
		}); err != nil {
			t.Error(err)
		}
	})
	<-started
	errs := make([]error, len(writes))
	for i, name := range writes {
		wg.Go(func() {
			if strings.HasPrefix(name, "low") {
				errs[i] = s.writeLow(ctx, rec.fn(name))
			} else {
				errs[i] = s.Write(ctx, rec.fn(name))
			}
		})
		// Queue them in this order.
		for deadline := time.Now().Add(5 * time.Second); len(s.reqs) < i+1; {
			if time.Now().After(deadline) {
				t.Fatalf("write %s never queued", name)
			}
			time.Sleep(time.Millisecond)
		}
	}
	close(release)
	wg.Wait()
	return errs
}

func openLane(t *testing.T) (*Store, *laneRecorder) {
	t.Helper()
	rec := &laneRecorder{seen: map[int64][]string{}}
	s, err := Open(context.Background(), t.TempDir(), Options{IsStopWord: testStopWord, OnCommit: func(int, time.Duration, error) { rec.commits.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, rec
}

// A background turn is committed on its own, and webhooks queued behind it
// wait for that one turn only: after it, the other writes go first, all
// in one commit, before the next background turn.
func TestBackgroundTurnsCommitAloneBetweenOtherCommits(t *testing.T) {
	s, rec := openLane(t)
	errs := queueBehind(t, s, rec, []string{"low1", "low2", "a", "b", "c"})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if got, want := rec.order(), "first low1 a+b+c low2"; got != want {
		t.Errorf("commits: %q, want %q", got, want)
	}
	var n int
	if err := s.rdb.QueryRow("SELECT count(*) FROM settings WHERE key IN ('first', 'low1', 'low2', 'a', 'b', 'c')").Scan(&n); err != nil || n != 6 {
		t.Errorf("rows committed: %d %v", n, err)
	}
}

// With nothing else queued, background turns follow each other.
func TestBackgroundTurnsRunWhenIdle(t *testing.T) {
	s, rec := openLane(t)
	queueBehind(t, s, rec, []string{"low1", "low2", "low3"})
	if got, want := rec.order(), "first low1 low2 low3"; got != want {
		t.Errorf("commits: %q, want %q", got, want)
	}
}

// A failing background turn changes nothing and fails alone.
func TestFailingBackgroundTurnIsIsolated(t *testing.T) {
	s, _ := openLane(t)
	ctx := context.Background()
	err := s.writeLow(ctx, func(tx *Tx) error {
		if _, err := tx.Exec("INSERT INTO settings(key, value, updated_at) VALUES ('half', 'v', 1)"); err != nil {
			return err
		}
		return fmt.Errorf("boom")
	})
	if err == nil || err.Error() != "boom" {
		t.Fatalf("err = %v", err)
	}
	var n int
	s.rdb.QueryRow("SELECT count(*) FROM settings WHERE key = 'half'").Scan(&n)
	if n != 0 {
		t.Error("a failed background turn left its row")
	}
	if err := s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("INSERT INTO settings(key, value, updated_at) VALUES ('after', 'v', 1)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// Close commits background turns that were already queued.
func TestCloseRunsQueuedBackgroundTurns(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, Options{IsStopWord: testStopWord})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	release := make(chan struct{})
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		s.Write(ctx, func(*Tx) error {
			close(started)
			<-release
			return nil
		})
	})
	<-started
	var lowErr error
	wg.Go(func() {
		lowErr = s.writeLow(ctx, func(tx *Tx) error {
			_, err := tx.Exec("INSERT INTO settings(key, value, updated_at) VALUES ('late', 'v', 1)")
			return err
		})
	})
	for len(s.reqs) == 0 {
		time.Sleep(time.Millisecond)
	}
	closed := make(chan struct{})
	go func() { s.Close(); close(closed) }()
	time.Sleep(5 * time.Millisecond)
	close(release)
	wg.Wait()
	<-closed
	if lowErr != nil {
		t.Fatalf("queued background turn: %v", lowErr)
	}
	s2, err := Open(ctx, dir, Options{IsStopWord: testStopWord})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var n int
	s2.rdb.QueryRow("SELECT count(*) FROM settings WHERE key = 'late'").Scan(&n)
	if n != 1 {
		t.Error("the queued background turn was lost at Close")
	}
}
