package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// LockFile is held shared by every process that opens the database and
// exclusively by a restore, so a restore cannot pull the file from under a
// running gateway.
const LockFile = "pforte.lock"

// ErrInUse is returned when the data directory is in use by another process.
var ErrInUse = errors.New("store: the data directory is in use")

func lockDir(dir string, exclusive bool) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, LockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: lock: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, ErrInUse
		}
		return nil, fmt.Errorf("store: lock: %w", err)
	}
	return f, nil
}

// RestoreOptions controls a restore.
type RestoreOptions struct {
	// Unseal decrypts a sealed backup.
	Unseal func(io.Reader) (io.Reader, error)
	Logger *slog.Logger
	Actor  Actor
	Now    time.Time
}

// RestoreResult tells what a restore did.
type RestoreResult struct {
	Previous   string // where the database that was replaced now lies ("" if there was none)
	Tombstones int    // erased subjects known at restore time
	Reerased   int    // contacts in the backup that had been erased since, erased again
	Decisions  int    // holds, releases, restrictions and lifts made since the backup, made again
}

// Restore replaces the database in dir with a backup. The gateway must be
// stopped. The backup is checked before anything is replaced; the old
// database is kept beside it (pforte.db.pre-restore-*); every person
// erased since the backup was taken is erased again, and every legal hold,
// release, restriction and lift made since is made again (decisions.go),
// before the store is handed back: a restore never brings an erased person
// back nor undoes what a data protection officer decided. Ids continue
// above every id the replaced database handed out.
func Restore(ctx context.Context, dir, from string, opts RestoreOptions) (*RestoreResult, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Actor == "" {
		opts.Actor = ActorCLI
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: restore: %w", err)
	}
	lock, err := lockDir(dir, true)
	if errors.Is(err, ErrInUse) {
		return nil, fmt.Errorf("store: restore: the data directory is in use; stop pforte serve (and other pforte commands) first")
	}
	if err != nil {
		return nil, err
	}
	locked := true
	defer func() {
		if locked {
			lock.Close()
		}
	}()
	res := &RestoreResult{}
	tmp := filepath.Join(dir, ".restore-"+randomSuffix()+".db")
	defer os.Remove(tmp)
	if err := copyBackup(from, tmp, opts.Unseal); err != nil {
		return nil, err
	}
	if _, err := checkDatabaseFile(ctx, tmp); err != nil {
		return nil, fmt.Errorf("store: restore: %s is not a usable backup: %w", from, err)
	}

	// Everyone erased so far: from the list file and from the database
	// about to be replaced, which is newer than any backup.
	tombs, err := readTombstoneFile(dir)
	if err != nil {
		return nil, err
	}
	live := filepath.Join(dir, DBFile)
	seqs := map[string]int64{}
	if _, err := os.Stat(live); err == nil {
		if err := liveTombstones(ctx, live, tombs, seqs); err != nil {
			return nil, err
		}
		res.Previous = live + ".pre-restore-" + opts.Now.UTC().Format("20060102T150405Z")
		if err := os.Rename(live, res.Previous); err != nil {
			return nil, fmt.Errorf("store: restore: %w", err)
		}
		// The old WAL was folded into the file by liveTombstones' close;
		// never leave one beside a different database.
		for _, suffix := range []string{"-wal", "-shm"} {
			if err := os.Remove(live + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("store: restore: %w", err)
			}
		}
	}
	if err := os.Rename(tmp, live); err != nil {
		return nil, fmt.Errorf("store: restore: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return nil, fmt.Errorf("store: restore: %w", err)
	}
	res.Tombstones = len(tombs)
	lock.Close()
	locked = false

	s, err := Open(ctx, dir, Options{Logger: opts.Logger})
	if err != nil {
		return res, fmt.Errorf("store: restore: open restored database: %w", err)
	}
	defer s.Close()
	if err := s.raiseSequences(ctx, seqs); err != nil {
		return res, err
	}
	if res.Reerased, err = s.replayTombstones(ctx, tombs, opts.Now); err != nil {
		return res, err
	}
	if res.Decisions, err = s.replayDecisions(ctx, opts.Now); err != nil {
		return res, err
	}
	err = s.Audit(ctx, AuditEntry{TS: opts.Now.Unix(), Actor: opts.Actor, Action: AuditBackupRestore, Target: "database",
		Detail: jsonDetail(map[string]any{"backup": filepath.Base(from), "tombstones": res.Tombstones, "reerased": res.Reerased,
			"decisions": res.Decisions})})
	if err != nil {
		return res, err
	}
	return res, s.Close()
}

func copyBackup(from, to string, unseal func(io.Reader) (io.Reader, error)) error {
	sealed, err := IsSealed(from)
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	in, err := os.Open(from)
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	defer in.Close()
	var r io.Reader = in
	if sealed {
		if unseal == nil {
			return fmt.Errorf("store: restore: %s is encrypted; give the backup passphrase", from)
		}
		if r, err = unseal(in); err != nil {
			return fmt.Errorf("store: restore: decrypt: %w", err)
		}
	}
	f, err := os.OpenFile(to, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("store: restore: read backup: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("store: restore: %w", err)
	}
	return f.Close()
}

// liveTombstones reads the tombstones and the id sequences of the database
// being replaced and folds its WAL into the file, so nothing is left in a
// stray -wal.
func liveTombstones(ctx context.Context, path string, into map[string]bool, seqs map[string]int64) error {
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=rw&_busy_timeout=5000")
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE name = 'erasure_tombstones'").Scan(&n); err != nil {
		return fmt.Errorf("store: restore: the current database cannot be read: %w", err)
	}
	if n > 0 {
		rows, err := db.QueryContext(ctx, "SELECT hash FROM erasure_tombstones")
		if err != nil {
			return fmt.Errorf("store: restore: %w", err)
		}
		for rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				rows.Close()
				return fmt.Errorf("store: restore: %w", err)
			}
			into[h] = true
		}
		rows.Close()
	}
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_sequence'").Scan(&n); err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	if n > 0 {
		rows, err := db.QueryContext(ctx, "SELECT name, seq FROM sqlite_sequence")
		if err != nil {
			return fmt.Errorf("store: restore: %w", err)
		}
		for rows.Next() {
			var name string
			var seq int64
			if err := rows.Scan(&name, &seq); err != nil {
				rows.Close()
				return fmt.Errorf("store: restore: %w", err)
			}
			seqs[name] = seq
		}
		rows.Close()
	}
	if _, err := db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	return db.Close()
}

// replayTombstones erases every contact whose identifier hash is listed,
// regardless of holds in the backup: the erasure already happened once.
func (s *Store) replayTombstones(ctx context.Context, tombs map[string]bool, now time.Time) (int, error) {
	if len(tombs) == 0 {
		return 0, nil
	}
	key, err := tombstoneKey(s.dir)
	if err != nil {
		return 0, err
	}
	rows, err := s.rdb.QueryContext(ctx, "SELECT "+contactColumns+" FROM contacts c ORDER BY c.id")
	if err != nil {
		return 0, fmt.Errorf("store: replay tombstones: %w", err)
	}
	var hit []*Contact
	for rows.Next() {
		var c Contact
		if err := rows.Scan(c.scanDest()...); err != nil {
			rows.Close()
			return 0, fmt.Errorf("store: replay tombstones: %w", err)
		}
		c.fromNull()
		for _, h := range subjectHashes(key, &c) {
			if tombs[h] {
				hit = append(hit, &c)
				break
			}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("store: replay tombstones: %w", err)
	}
	// Holds from the backup no longer apply to someone already erased.
	if len(hit) > 0 {
		if err := s.Write(ctx, func(tx *Tx) error {
			for _, c := range hit {
				if _, err := tx.Exec(`UPDATE legal_holds SET released_at = ?, released_by = 'restore' WHERE released_at IS NULL
					AND (contact_id = ?2 OR conversation_id IN (SELECT id FROM conversations WHERE contact_id = ?2))`, now.Unix(), c.ID); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return 0, fmt.Errorf("store: replay tombstones: %w", err)
		}
	}
	for _, c := range hit {
		if _, err := s.eraseContact(ctx, c, 0, EraseRequest{Actor: ActorRestore, Reason: "erased before; re-applied after restore", Now: now}); err != nil {
			return 0, err
		}
	}
	// Keep the full list in the restored database too.
	err = s.Write(ctx, func(tx *Tx) error {
		for h := range tombs {
			if _, err := tx.Exec("INSERT INTO erasure_tombstones(hash, erased_at) VALUES (?, ?) ON CONFLICT DO NOTHING", h, now.Unix()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: replay tombstones: %w", err)
	}
	return len(hit), nil
}

// raiseSequences lets the restored database hand out ids only above those
// the replaced one had handed out: a page or an API client that still
// holds an id from after the backup must not meet a new row under it.
func (s *Store) raiseSequences(ctx context.Context, seqs map[string]int64) error {
	if len(seqs) == 0 {
		return nil
	}
	err := s.Write(ctx, func(tx *Tx) error {
		for name, seq := range seqs {
			if _, err := tx.Exec("UPDATE sqlite_sequence SET seq = ?2 WHERE name = ?1 AND seq < ?2", name, seq); err != nil {
				return err
			}
			if _, err := tx.Exec(`INSERT INTO sqlite_sequence(name, seq) SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)
				AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = ?1)`, name, seq); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: restore: id sequences: %w", err)
	}
	return nil
}
