package store

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A caller that stops waiting gets its variables back: Write returns only
// once a running fn has finished, and a queued fn never runs afterwards.
func TestWriteCancelledCallerOwnsItsVariables(t *testing.T) {
	s := openTest(t, Options{})

	// Cancelled while fn runs: Write returns after fn, not during it.
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	started := make(chan struct{})
	go func() { <-started; cancel() }()
	finished := false
	err := s.Write(ctx, func(tx *Tx) error {
		once.Do(func() { close(started) })
		time.Sleep(50 * time.Millisecond) // the caller gives up meanwhile
		finished = true
		return nil
	})
	if !errors.Is(err, context.Canceled) || !finished {
		t.Fatalf("Write returned %v with fn finished %v", err, finished)
	}

	// Cancelled while queued behind a long turn: fn never runs.
	hold, holding := make(chan struct{}), make(chan struct{})
	go s.Exclusive(context.Background(), func(ctx context.Context, c *sql.Conn) error {
		close(holding)
		<-hold
		return nil
	})
	<-holding
	ctx, cancel = context.WithCancel(context.Background())
	var ran atomic.Bool
	done := make(chan error)
	go func() { done <- s.Write(ctx, func(tx *Tx) error { ran.Store(true); return nil }) }()
	time.Sleep(20 * time.Millisecond) // let it queue
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("queued write: %v", err)
	}
	close(hold)
	if err := s.Write(context.Background(), func(tx *Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if ran.Load() {
		t.Fatal("a write ran after its caller had given up on it")
	}
}
