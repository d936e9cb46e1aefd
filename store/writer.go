package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// Tx is the writer's view of the group transaction, handed to a write
// function. Statements are prepared once per connection and reused.
type Tx struct {
	ctx   context.Context
	s     *Store
	conn  *sql.Conn
	stmts map[string]*sql.Stmt

	// numbers caches business numbers across commits: every delivery
	// names one, and they are never deleted. Any rollback forgets them,
	// since it may undo an insert.
	numbers map[string]numberRow
}

type numberRow struct {
	id            int64
	waba, display string
}

func (tx *Tx) stmt(query string) (*sql.Stmt, error) {
	if st, ok := tx.stmts[query]; ok {
		return st, nil
	}
	st, err := tx.conn.PrepareContext(tx.ctx, query)
	if err != nil {
		return nil, fmt.Errorf("store: prepare: %w", err)
	}
	tx.stmts[query] = st
	return st, nil
}

// run executes a prepared, argument-free control statement.
func (tx *Tx) run(query string) error {
	st, err := tx.stmt(query)
	if err != nil {
		return err
	}
	_, err = st.ExecContext(tx.ctx)
	return err
}

// Exec runs a statement inside the group transaction.
func (tx *Tx) Exec(query string, args ...any) (sql.Result, error) {
	st, err := tx.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(tx.ctx, args...)
}

// Insert runs an INSERT and returns the new row's id. It reports
// inserted=false when the row was skipped (ON CONFLICT DO NOTHING). Prefer
// it to RETURNING on hot paths: through the driver's query path RETURNING
// measured several times slower than Exec with LastInsertId.
func (tx *Tx) Insert(query string, args ...any) (id int64, inserted bool, err error) {
	res, err := tx.Exec(query, args...)
	if err != nil {
		return 0, false, err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return 0, false, nil
	}
	id, err = res.LastInsertId()
	return id, err == nil, err
}

// QueryRow runs a query inside the group transaction.
func (tx *Tx) QueryRow(query string, args ...any) *sql.Row {
	st, err := tx.stmt(query)
	if err != nil {
		// Let the caller see the error at Scan, like database/sql does.
		return tx.conn.QueryRowContext(tx.ctx, query, args...)
	}
	return st.QueryRowContext(tx.ctx, args...)
}

// Query runs a query inside the group transaction.
func (tx *Tx) Query(query string, args ...any) (*sql.Rows, error) {
	st, err := tx.stmt(query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(tx.ctx, args...)
}

type writeReq struct {
	ctx    context.Context
	fn     func(*Tx) error
	raw    func(context.Context, *sql.Conn) error // runs outside any transaction (see Exclusive)
	err    error
	done   chan struct{}
	noSync bool
	low    bool // a background turn; see writeLow
	index  bool // a background turn that brings the search index up to date too; see writeLowNoSync

	// mu is held while fn or raw runs, and gone is set under it when the
	// caller stops waiting: the functions write the caller's variables, so
	// once submit has returned they must neither be running nor run again.
	mu   sync.Mutex
	gone bool
}

// call runs fn (or raw) unless the caller has given up on the request;
// ran says whether it did.
func (r *writeReq) call(tx *Tx) (ran bool, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone {
		return false, context.Canceled
	}
	if err := r.ctx.Err(); err != nil {
		return false, err
	}
	if r.raw != nil {
		return true, r.raw(tx.ctx, tx.conn)
	}
	return true, r.fn(tx)
}

// Write runs fn in the writer's next group commit and returns once that
// commit is durable on disk (its WAL pages fsynced). If fn fails, only its own
// changes are undone. fn must not block, and it may run more than once (a
// batch is replayed when another write in it fails), so it must set its
// results rather than accumulate them.
func (s *Store) Write(ctx context.Context, fn func(*Tx) error) error {
	return s.submit(&writeReq{ctx: ctx, fn: fn, done: make(chan struct{})})
}

// Exclusive runs fn on the writer's connection between two group commits,
// outside any transaction: for statements SQLite refuses inside one
// (wal_checkpoint, incremental_vacuum). fn must be short; other writes wait.
func (s *Store) Exclusive(ctx context.Context, fn func(context.Context, *sql.Conn) error) error {
	return s.submit(&writeReq{ctx: ctx, raw: fn, done: make(chan struct{})})
}

// WriteNoSync is Write without waiting for the fsync: the change survives
// a crash of Pforte (the operating system has it) but not a power loss
// until the next durable commit, which makes it durable too. Use it only
// for records nobody has been told about yet, which a durable write
// follows (e.g. "this message is being sent" before Meta's answer).
func (s *Store) WriteNoSync(ctx context.Context, fn func(*Tx) error) error {
	return s.submit(&writeReq{ctx: ctx, fn: fn, done: make(chan struct{}), noSync: true})
}

// writeLow is Write for background work (retention, clean-up): the turn
// is committed on its own, never together with other writes, and at most
// one such turn runs between two other commits. So a webhook waits behind
// at most one background turn, and only for as long as that turn takes,
// which the caller keeps short. The turn leaves the search index
// catch-up to the next other commit, so that its length is its own work.
func (s *Store) writeLow(ctx context.Context, fn func(*Tx) error) error {
	return s.submit(&writeReq{ctx: ctx, fn: fn, done: make(chan struct{}), low: true})
}

// importTurn is writeLow for a bulk import (the coexistence history):
// the turn does not wait for its fsync (see WriteNoSync), since every turn
// is consistent on its own and simply redone if a power loss takes it
// back; the next durable commit makes it durable too. And it indexes what
// it inserted for search itself, so that the webhook commits between the
// turns do not index thousands of imported messages.
func (s *Store) importTurn(ctx context.Context, fn func(*Tx) error) error {
	return s.submit(&writeReq{ctx: ctx, fn: fn, done: make(chan struct{}), low: true, noSync: true, index: true})
}

// exclusiveLow is Exclusive as a background turn (see writeLow).
func (s *Store) exclusiveLow(ctx context.Context, fn func(context.Context, *sql.Conn) error) error {
	return s.submit(&writeReq{ctx: ctx, raw: fn, done: make(chan struct{}), low: true})
}

func (s *Store) submit(req *writeReq) error {
	ctx := req.ctx
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	select {
	case s.reqs <- req:
	case <-ctx.Done():
		s.mu.RUnlock()
		return ctx.Err()
	}
	s.mu.RUnlock()
	select {
	case <-req.done:
		return req.err
	case <-ctx.Done():
		// The write may still commit; callers treat this as "unknown".
		// But the caller's variables are its own again from here on.
		req.mu.Lock()
		req.gone = true
		req.mu.Unlock()
		return ctx.Err()
	}
}

// writer is the only goroutine that writes. Requests that queue up while a
// commit is in flight are committed together in the next one.
//
// The writer's connection commits without fsync (synchronous=NORMAL) and
// hands each committed batch to the syncer, which makes the WAL durable and
// only then answers the batch's callers. So the writer builds the next batch
// while the last one is being synced, instead of waiting for the disk.
func (s *Store) writer() {
	defer close(s.done)
	// Unbuffered: the writer commits at most one batch ahead of the disk.
	// Running further ahead would only make batches smaller, and every
	// commit writes the pages its batch shares (indexes, the conversation)
	// again.
	synced := make(chan []*writeReq)
	syncerDone := make(chan struct{})
	go s.syncer(synced, syncerDone)
	defer func() {
		close(synced)
		<-syncerDone
	}()
	ctx := context.Background()
	var tx *Tx
	batch := make([]*writeReq, 0, s.opts.MaxBatch)
	var pending *writeReq // an Exclusive request met while draining
	var lows []*writeReq  // background turns set aside until their time
	lastLow := false      // the last turn was a background one
	for {
		first, ok := s.nextTurn(tx, &lows, lastLow)
		if !ok {
			break
		}
		lastLow = first.low
		batch = append(batch[:0], first)
		if first.raw != nil {
			batch, pending = batch[:0], first
		}
	drain:
		for pending == nil && !first.low && len(batch) < s.opts.MaxBatch {
			select {
			case r, ok := <-s.reqs:
				if !ok {
					break drain
				}
				if r.low {
					lows = append(lows, r)
					continue
				}
				if r.raw != nil {
					pending = r
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		if tx == nil {
			var err error
			if tx, err = s.writerConn(ctx); err != nil {
				if pending != nil {
					batch, pending = append(batch, pending), nil
				}
				s.fail(batch, err)
				continue
			}
		}
		if len(batch) == 0 {
			s.runExclusive(tx, pending)
			pending = nil
			continue
		}
		start := time.Now()
		err := s.commit(tx, batch)
		if s.opts.OnCommit != nil {
			s.opts.OnCommit(len(batch), time.Since(start), err)
		}
		if err != nil {
			s.log.Error("group commit failed", "writes", len(batch), "err", err)
			s.fail(batch, err)
			// A broken connection is replaced on the next batch.
			for _, st := range tx.stmts {
				st.Close()
			}
			tx.conn.Close()
			tx = nil
			if pending != nil {
				s.fail([]*writeReq{pending}, err)
				pending = nil
			}
			continue
		}
		var durable []*writeReq
		for _, r := range batch {
			if r.noSync {
				close(r.done)
			} else {
				durable = append(durable, r)
			}
		}
		if len(durable) > 0 {
			synced <- durable
			// The syncer now waits in this P's run queue while the writer
			// goes on to the next batch, and only gets a CPU when the Go
			// scheduler takes the P back from the writer's cgo call. Giving
			// it the P at once starts the fsync ~0.3 ms sooner (measured:
			// 5 % more deliveries/s on two cores).
			runtime.Gosched()
		}
		select {
		case s.walDirty <- struct{}{}:
		default: // a checkpoint is already due
		}
		if pending != nil {
			s.runExclusive(tx, pending)
			pending = nil
		}
	}
	if tx != nil {
		if s.indexBehind {
			s.indexNow(tx)
		}
		for _, st := range tx.stmts {
			st.Close()
		}
		tx.conn.Close()
	}
}

// nextTurn picks what the writer does next: a background turn set aside
// in lows unless the last turn was one and other writes are queued, else
// the next write from the queue. Background turns met on the way are set
// aside; after Close they still run.
func (s *Store) nextTurn(tx *Tx, lows *[]*writeReq, lastLow bool) (*writeReq, bool) {
	for {
		if l := *lows; len(l) > 0 && (len(s.reqs) == 0 || !lastLow) {
			*lows = l[1:]
			return l[0], true
		}
		r, ok := s.next(tx)
		if ok && r.low {
			*lows = append(*lows, r)
			continue
		}
		return r, ok
	}
}

// writerConn prepares the writer's connection. Commits skip the fsync
// (the syncer does it) and leave large checkpoints to the checkpointer.
func (s *Store) writerConn(ctx context.Context) (*Tx, error) {
	conn, err := s.wdb.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: writer connection: %w", err)
	}
	for _, pragma := range []string{"PRAGMA synchronous = NORMAL", "PRAGMA wal_autocheckpoint = " + strconv.Itoa(walAutoCheckpoint)} {
		if _, err := conn.ExecContext(ctx, pragma); err != nil {
			conn.Close()
			return nil, fmt.Errorf("store: writer connection: %w", err)
		}
	}
	return &Tx{ctx: ctx, s: s, conn: conn, stmts: map[string]*sql.Stmt{}, numbers: map[string]numberRow{}}, nil
}

// syncer answers each committed batch once the WAL holding it is on disk.
func (s *Store) syncer(in <-chan []*writeReq, done chan<- struct{}) {
	defer close(done)
	for batch := range in {
		err := s.syncWAL()
		if err != nil {
			s.log.Error("fsync of the write-ahead log failed; the writes it covered are refused", "err", err)
		}
		for _, r := range batch {
			if r.err == nil {
				r.err = err
			}
			close(r.done)
		}
	}
}

// syncWAL flushes the write-ahead log to disk. It opens the file anew each
// time, so it always syncs the log SQLite is writing now, even after the
// log was removed and recreated. A log that is gone was checkpointed into
// the database file first, so then that file is synced.
func (s *Store) syncWAL() error {
	if s.opts.syncHook != nil {
		return s.opts.syncHook()
	}
	f, err := os.Open(s.Path() + "-wal")
	if errors.Is(err, fs.ErrNotExist) {
		f, err = os.Open(s.Path())
	}
	if err != nil {
		return fmt.Errorf("store: sync: %w", err)
	}
	defer f.Close()
	if err := dataSync(f); err != nil {
		return fmt.Errorf("store: sync: %w", err)
	}
	return nil
}

// walAutoCheckpoint is the WAL size in pages at which the writer checkpoints
// itself. The checkpointer normally keeps the log far below it, so the
// writer only ever finishes a checkpoint that is mostly done, which lets
// the log start over from its beginning.
const walAutoCheckpoint = 4000

// checkpointEvery is how often the checkpointer copies new WAL pages into
// the database file while there are writes.
const checkpointEvery = 100 * time.Millisecond

// checkpointer copies committed pages from the WAL into the database file
// on its own connection, in parallel with the writer (a PASSIVE checkpoint
// never blocks it), so that commits do not pay for checkpoints. It runs at
// most every checkpointEvery after a commit, and sleeps while nothing is
// written.
func (s *Store) checkpointer(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for {
		select {
		case <-stop:
			return
		case <-s.walDirty:
		}
		select {
		case <-stop:
			return
		case <-time.After(checkpointEvery):
		}
		if _, err := s.cdb.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
			s.log.Warn("background checkpoint", "err", err)
		}
	}
}

// next waits for the next write. While the search index is behind, it
// waits at most indexEvery and then brings the index up to date (unless
// it is held), so an idle gateway never leaves messages unsearchable.
func (s *Store) next(tx *Tx) (*writeReq, bool) {
	for s.indexBehind && tx != nil {
		timer := time.NewTimer(indexEvery)
		select {
		case r, ok := <-s.reqs:
			timer.Stop()
			return r, ok
		case <-timer.C:
			if s.indexHold.Load() == 0 {
				s.indexNow(tx)
			}
		}
	}
	r, ok := <-s.reqs
	return r, ok
}

// indexNow commits the search index catch-up on its own.
func (s *Store) indexNow(tx *Tx) {
	err := tx.run("BEGIN IMMEDIATE")
	if err == nil {
		if err = indexSome(tx); err == nil {
			err = tx.run("COMMIT")
		}
	}
	if err != nil {
		s.rollback(tx)
		s.log.Warn("search index catch-up failed; retrying with the next write", "err", err)
		s.indexBehind = false // the next commit sets it again
		return
	}
	s.indexedAt, s.indexBehind = time.Now(), !caughtUp(tx)
}

func (s *Store) runExclusive(tx *Tx, r *writeReq) {
	_, r.err = r.call(tx)
	close(r.done)
}

func (s *Store) fail(batch []*writeReq, err error) {
	for _, r := range batch {
		if r.err == nil {
			r.err = err
		}
		close(r.done)
	}
}

// commit applies every request in one transaction and one fsync. Requests
// run without savepoints first, because failures are rare; if one fails,
// the whole transaction is rolled back and replayed with a savepoint per
// request, so that only the failing request is refused. A failing COMMIT
// fails them all and leaves nothing behind.
func (s *Store) commit(tx *Tx, batch []*writeReq) error {
	err := s.apply(tx, batch, false)
	if err == errReplay {
		err = s.apply(tx, batch, true)
	}
	return err
}

// errReplay asks commit to replay a batch with savepoints.
var errReplay = errors.New("store: replay with savepoints")

func (s *Store) apply(tx *Tx, batch []*writeReq, savepoints bool) error {
	if err := tx.run("BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	for _, r := range batch {
		r.err = nil
		if !savepoints {
			ran, err := r.call(tx)
			if !ran {
				r.err = err
				continue
			}
			if err != nil {
				s.rollback(tx)
				if len(batch) == 1 {
					r.err = err
					return nil
				}
				return errReplay
			}
			continue
		}
		if err := tx.run("SAVEPOINT w"); err != nil {
			s.rollback(tx)
			return fmt.Errorf("store: savepoint: %w", err)
		}
		if ran, err := r.call(tx); !ran {
			r.err = err
		} else if err != nil {
			r.err = err
			clear(tx.numbers)
			if rerr := tx.run("ROLLBACK TO w"); rerr != nil {
				s.rollback(tx)
				return fmt.Errorf("store: rollback to savepoint: %w (after %v)", rerr, err)
			}
		}
		if err := tx.run("RELEASE w"); err != nil {
			s.rollback(tx)
			return fmt.Errorf("store: release savepoint: %w", err)
		}
	}
	// Indexing has a fixed cost per commit (FTS5 writes a segment), so
	// under load it runs at most every indexEvery; SearchMessages catches
	// up first, so no search ever misses a stored message.
	indexed := time.Since(s.indexedAt) >= indexEvery && (!batch[0].low || batch[0].index) && s.indexHold.Load() == 0
	if indexed {
		if err := indexSome(tx); err != nil {
			s.rollback(tx)
			return err
		}
	}
	if err := tx.run("COMMIT"); err != nil {
		s.rollback(tx)
		return fmt.Errorf("store: commit: %w", err)
	}
	if indexed {
		s.indexedAt, s.indexBehind = time.Now(), !caughtUp(tx)
	} else {
		s.indexBehind = true
	}
	return nil
}

// indexEvery bounds how often a busy writer updates the search index.
const indexEvery = 200 * time.Millisecond

// FlushSearchIndex brings the search index up to date with every stored
// message; searches call it first.
func (s *Store) FlushSearchIndex(ctx context.Context) error {
	return s.Write(ctx, indexNewMessages)
}

func (s *Store) rollback(tx *Tx) {
	clear(tx.numbers)
	// After a failed COMMIT SQLite may already have rolled back; ignore "no transaction".
	tx.run("ROLLBACK")
}

// indexNewMessages adds every message above the search watermark to the
// full-text index, whoever inserted it, in one statement.
func indexNewMessages(tx *Tx) error {
	return indexUpTo(tx, math.MaxInt64)
}

// indexStep bounds the messages one background index commit takes on, so
// that catching up after a hold (see holdIndex) is a few short commits
// rather than one long one.
const indexStep = 1000

// indexSome is indexNewMessages for at most indexStep message ids.
func indexSome(tx *Tx) error {
	var mark int64
	if err := tx.QueryRow("SELECT watermark FROM fts_state").Scan(&mark); err != nil {
		return fmt.Errorf("store: search index: %w", err)
	}
	return indexUpTo(tx, mark+indexStep)
}

func indexUpTo(tx *Tx, upTo int64) error {
	if _, err := tx.Exec(`INSERT INTO messages_fts(rowid, text)
		SELECT id, text FROM messages WHERE id > (SELECT watermark FROM fts_state) AND id <= ? AND text IS NOT NULL`, upTo); err != nil {
		return fmt.Errorf("store: search index: %w", err)
	}
	if _, err := tx.Exec(`UPDATE fts_state SET watermark = min(?, (SELECT max(id) FROM messages))
		WHERE (SELECT max(id) FROM messages) > watermark`, upTo); err != nil {
		return fmt.Errorf("store: search index: %w", err)
	}
	return nil
}

// caughtUp reports whether the search index holds every stored message.
// An error counts as behind, so the writer tries again.
func caughtUp(tx *Tx) bool {
	var behind bool
	err := tx.QueryRow("SELECT coalesce((SELECT max(id) FROM messages), 0) > watermark FROM fts_state").Scan(&behind)
	return err == nil && !behind
}
