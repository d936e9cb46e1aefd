// Package store owns Pforte's SQLite database: opening it with the right
// pragmas, migrations, the single writer with group commit, and every query.
//
// All writes go through one connection (SQLite has one writer anyway) driven
// by one goroutine that commits many callers' work in one transaction and one
// fsync. Reads use a separate read-only pool and never wait for the writer.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/mattn/go-sqlite3"
)

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("store: not found")

// ErrClosed is returned for writes submitted after Close.
var ErrClosed = errors.New("store: closed")

// DBFile is the database's file name inside the data directory.
const DBFile = "pforte.db"

// Options tunes a Store. The zero value is usable.
type Options struct {
	Logger *slog.Logger
	// MaxBatch caps how many writes share one commit.
	MaxBatch int
	// OnCommit, if set, is called after every group commit with the number
	// of writes it carried, how long it took and its error.
	OnCommit func(writes int, took time.Duration, err error)
	// ReadOnly opens only the reader pool (for tools that must not migrate).
	ReadOnly bool
	// BusyTimeout is how long a write waits for another process's lock
	// before failing; default 10 s.
	BusyTimeout time.Duration
	// IsStopWord is the stop-word rule (outbox.IsStopWord) that Ingest
	// applies to every text message in the message's own transaction, so
	// that the opt-out is as durable as the message. words is the
	// configured list, nil when none is configured. Without it Ingest
	// refuses text messages (ErrNoStopWordRule) rather than drop opt-outs.
	IsStopWord func(text string, words []string) bool
	// ScrubWait bounds how long a scrub after a deletion merges the search
	// index and waits for readers to let go of the WAL; default
	// DefaultScrubWait.
	ScrubWait time.Duration
	// ReplicaRunning, asked at each scrub, says whether a replicator
	// (Litestream) runs beside this store now (the settings page switches
	// it while serve runs). It holds a read transaction on purpose and
	// truncates the WAL itself once it has shipped an erasure, so a scrub
	// does not wait the whole ScrubWait for it: it tries for
	// WALWaitWithReplica and reports ScrubResult.WALLeftToReplica. Nil: none.
	ReplicaRunning func() bool

	syncHook func() error // replaces the WAL fsync in tests
}

// Store is the handle on one Pforte database.
type Store struct {
	dir  string
	log  *slog.Logger
	opts Options

	wdb *sql.DB // exactly one connection, used only by the writer goroutine
	rdb *sql.DB // read-only pool
	cdb *sql.DB // the checkpointer's connection

	walDirty      chan struct{}            // a commit since the last background checkpoint
	stopWordCache atomic.Pointer[[]string] // see Tx.stopWords
	ckptStop      chan struct{}            // stops the checkpointer
	ckptDone      chan struct{}

	lock *os.File // shared lock on the data directory; see LockFile

	longestTurn atomic.Int64 // see noteTurn
	indexHold   atomic.Int32 // while > 0 the writer leaves the search index behind; see holdIndex

	mu     sync.RWMutex // guards closed against concurrent submits
	closed bool
	reqs   chan *writeReq
	done   chan struct{}

	// Owned by the writer goroutine: when the search index was last
	// brought up to date, and whether commits since have skipped it.
	indexedAt   time.Time
	indexBehind bool

	seal sealer // encrypts secrets at rest (seal.go)

	fanoutOnce sync.Once     // makes fanoutCh, see FanoutSignal
	fanoutCh   chan struct{} // wakes the fan-out worker
}

// Open opens (creating if needed) the database in dir, runs pending
// migrations and starts the writer.
func Open(ctx context.Context, dir string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 512
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 10 * time.Second
	}
	if opts.ScrubWait <= 0 {
		opts.ScrubWait = DefaultScrubWait
	}
	busy := strconv.FormatInt(opts.BusyTimeout.Milliseconds(), 10)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: data dir: %w", err)
	}
	s := &Store{dir: dir, log: opts.Logger, opts: opts, reqs: make(chan *writeReq, 4096), done: make(chan struct{})}
	path := filepath.Join(dir, DBFile)
	lock, err := lockDir(dir, false)
	if errors.Is(err, ErrInUse) {
		return nil, fmt.Errorf("store: a restore is running in %s; try again when it has finished", dir)
	}
	if err != nil {
		return nil, err
	}
	s.lock = lock
	opened := false
	defer func() {
		if !opened && s.lock != nil {
			s.lock.Close()
		}
	}()

	if !opts.ReadOnly {
		if err := privateFiles(dir, opts.Logger); err != nil {
			return nil, err
		}
		// The writer opens first: it sets WAL mode, which the readers rely on.
		writer := url.Values{
			"mode":                {"rwc"},
			"_journal_mode":       {"WAL"},
			"_synchronous":        {"FULL"},
			"_busy_timeout":       {busy},
			"_foreign_keys":       {"on"},
			"_secure_delete":      {"on"},
			"_txlock":             {"immediate"},
			"_cache_size":         {"-16000"},
			"_auto_vacuum":        {"incremental"},
			"_journal_size_limit": {"67108864"},
		}
		w, err := sql.Open("sqlite3", dsn(path, writer))
		if err != nil {
			return nil, fmt.Errorf("store: open writer: %w", err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		s.wdb = w
		if err := checkSQLite(ctx, w); err != nil {
			w.Close()
			return nil, err
		}
		if err := migrate(ctx, w, s.log); err != nil {
			w.Close()
			return nil, err
		}
		if err := s.sealLegacySecrets(ctx); err != nil {
			w.Close()
			return nil, err
		}
		c, err := sql.Open("sqlite3", dsn(path, writer))
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("store: open checkpointer: %w", err)
		}
		c.SetMaxOpenConns(1)
		s.cdb = c
	}
	r, err := sql.Open("sqlite3", dsn(path, url.Values{
		"mode":           {"ro"},
		"_busy_timeout":  {busy},
		"_foreign_keys":  {"on"},
		"_secure_delete": {"on"},
	}))
	if err != nil {
		s.closeDBs()
		return nil, fmt.Errorf("store: open readers: %w", err)
	}
	r.SetMaxOpenConns(max(4, runtime.NumCPU()*2))
	s.rdb = r
	if opts.ReadOnly {
		if err := checkSQLite(ctx, r); err != nil {
			s.closeDBs()
			return nil, err
		}
		if err := checkVersion(ctx, r); err != nil {
			s.closeDBs()
			return nil, err
		}
		close(s.done)
		s.closed = true
		opened = true
		return s, nil
	}
	sweepSpool(dir, time.Now())
	s.ckptStop, s.ckptDone, s.walDirty = make(chan struct{}), make(chan struct{}), make(chan struct{}, 1)
	go s.checkpointer(s.ckptStop, s.ckptDone)
	go s.writer()
	opened = true
	return s, nil
}

// privateFiles makes the data directory and the database files readable by
// this user only, whatever the umask. SQLite creates a new database 0644
// (less the umask) and gives -wal and -shm the database's mode, so the
// database is created 0600 before SQLite opens it; files an older version
// created are narrowed too.
func privateFiles(dir string, log *slog.Logger) error {
	if err := os.Chmod(dir, 0o700); err != nil {
		// E.g. a directory owned by someone else: it still works.
		log.Warn("store: data directory not narrowed to 0700", "dir", dir, "err", err)
	}
	path := filepath.Join(dir, DBFile)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return fmt.Errorf("store: database file: %w", err)
	}
	f.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("store: database file mode: %w", err)
		}
	}
	return nil
}

func dsn(path string, v url.Values) string {
	return "file:" + path + "?" + v.Encode()
}

// checkSQLite makes sure the driver is real: a binary built without cgo
// gets a stub driver whose every query fails.
func checkSQLite(ctx context.Context, db *sql.DB) error {
	var v string
	if err := db.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&v); err != nil {
		return fmt.Errorf("store: sqlite unavailable (was the binary built with CGO_ENABLED=1?): %w", err)
	}
	return nil
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Path returns the database file's path.
func (s *Store) Path() string { return filepath.Join(s.dir, DBFile) }

// Close stops the writer after it has committed every write already
// submitted, then closes the database.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return s.closeDBs()
	}
	s.closed = true
	close(s.reqs)
	s.mu.Unlock()
	<-s.done
	if s.ckptStop != nil {
		close(s.ckptStop)
		<-s.ckptDone
	}
	return s.closeDBs()
}

func (s *Store) closeDBs() error {
	var errs []error
	defer func() {
		if s.lock != nil {
			s.lock.Close()
			s.lock = nil
		}
	}()
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
		s.rdb = nil
	}
	if s.cdb != nil {
		errs = append(errs, s.cdb.Close())
		s.cdb = nil
	}
	if s.wdb != nil {
		// A last TRUNCATE checkpoint leaves a clean single file behind.
		if _, err := s.wdb.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			s.log.Warn("final checkpoint", "err", err)
		}
		errs = append(errs, s.wdb.Close())
		s.wdb = nil
	}
	return errors.Join(errs...)
}

// IntegrityCheck runs PRAGMA integrity_check and returns nil when SQLite says ok.
func (s *Store) IntegrityCheck(ctx context.Context) error {
	rows, err := s.rdb.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("store: integrity check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("store: integrity check: %w", err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: integrity check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("store: integrity check failed: %v", problems)
	}
	return nil
}
