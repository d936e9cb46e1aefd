package store

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// BackupOptions controls one backup.
type BackupOptions struct {
	// Seal, if set, encrypts the backup: it wraps the output file and its
	// Close must finish the encrypted stream.
	Seal func(io.Writer) (io.WriteCloser, error)
}

// BackupInfo describes a finished backup.
type BackupInfo struct {
	Path      string
	Size      int64
	Sealed    bool
	Took      time.Duration
	Integrity string // "ok" from PRAGMA integrity_check on the copy
}

// BackupName is the file name of a scheduled backup taken at t.
func BackupName(t time.Time, sealed bool) string {
	n := "pforte-" + t.UTC().Format("20060102T150405Z") + ".db"
	if sealed {
		n += ".age"
	}
	return n
}

// Backup writes a consistent snapshot of the database to out with VACUUM
// INTO (which also leaves no trace of deleted rows), makes it durable
// (SQLite does not fsync that file), checks its integrity, and only then
// gives it its name. It runs on a reader, so webhooks keep flowing.
func (s *Store) Backup(ctx context.Context, out string, opts BackupOptions) (*BackupInfo, error) {
	start := time.Now()
	if _, err := os.Stat(out); err == nil {
		return nil, fmt.Errorf("store: backup: %s exists; choose a new name", out)
	}
	outDir := filepath.Dir(out)
	if err := os.MkdirAll(outDir, 0o700); err != nil {
		return nil, fmt.Errorf("store: backup: %w", err)
	}
	// The plain copy is made in the data directory when it will be sealed,
	// so that unencrypted data never lands where the backups go.
	tmpDir := outDir
	if opts.Seal != nil {
		tmpDir = s.dir
	}
	tmp := filepath.Join(tmpDir, ".backup-"+randomSuffix()+".db")
	defer os.Remove(tmp)
	// VACUUM INTO takes an empty file and keeps its mode; one it creates
	// itself would be 0644 less the umask.
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: backup: %w", err)
	}
	f.Close()
	if _, err := s.rdb.ExecContext(ctx, "VACUUM INTO ?", tmp); err != nil {
		return nil, fmt.Errorf("store: backup: vacuum into: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		return nil, fmt.Errorf("store: backup: %w", err)
	}
	info := &BackupInfo{Path: out, Sealed: opts.Seal != nil}
	if info.Integrity, err = checkDatabaseFile(ctx, tmp); err != nil {
		return nil, fmt.Errorf("store: backup: the copy failed its check: %w", err)
	}
	if opts.Seal == nil {
		if err := os.Rename(tmp, out); err != nil {
			return nil, fmt.Errorf("store: backup: %w", err)
		}
	} else if err := sealFile(tmp, out, opts.Seal); err != nil {
		return nil, err
	}
	if err := syncDir(outDir); err != nil {
		return nil, fmt.Errorf("store: backup: %w", err)
	}
	if st, err := os.Stat(out); err == nil {
		info.Size = st.Size()
	}
	info.Took = time.Since(start)
	return info, nil
}

func sealFile(src, out string, seal func(io.Writer) (io.WriteCloser, error)) error {
	partial := out + ".partial"
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	defer in.Close()
	f, err := os.OpenFile(partial, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(partial)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	w, err := seal(bw)
	if err != nil {
		return fmt.Errorf("store: backup: seal: %w", err)
	}
	if _, err := io.Copy(w, in); err != nil {
		return fmt.Errorf("store: backup: seal: %w", err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("store: backup: seal: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	if err := os.Rename(partial, out); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	ok = true
	return nil
}

// checkDatabaseFile opens a database file read-only and runs
// integrity_check; it also refuses a schema newer than this binary.
func checkDatabaseFile(ctx context.Context, path string) (string, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return "", err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return "", fmt.Errorf("not a Pforte database: %w", err)
	}
	var lines []string
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			rows.Close()
			return "", err
		}
		lines = append(lines, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return "", err
	}
	if len(lines) != 1 || lines[0] != "ok" {
		return "", fmt.Errorf("integrity check: %s", strings.Join(lines, "; "))
	}
	if err := checkVersion(ctx, db); err != nil {
		return "", err
	}
	return "ok", nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func randomSuffix() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// BackupFile is one backup found in a folder.
type BackupFile struct {
	Path  string
	Taken time.Time
}

// ListBackups returns the scheduled backups in dir, newest first.
func ListBackups(dir string) ([]BackupFile, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: backups: %w", err)
	}
	var out []BackupFile
	for _, e := range entries {
		name := e.Name()
		stamp, ok := strings.CutPrefix(name, "pforte-")
		if !ok || e.IsDir() {
			continue
		}
		stamp, _, _ = strings.Cut(stamp, ".")
		t, err := time.Parse("20060102T150405Z", stamp)
		if err != nil || !(strings.HasSuffix(name, ".db") || strings.HasSuffix(name, ".db.age")) {
			continue
		}
		out = append(out, BackupFile{Path: filepath.Join(dir, name), Taken: t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Taken.After(out[j].Taken) })
	return out, nil
}

// RotateBackups deletes scheduled backups beyond the newest keep and those
// older than maxAge, but never the newest one. It returns what it removed.
func RotateBackups(dir string, keep int, maxAge time.Duration, now time.Time) ([]string, error) {
	files, err := ListBackups(dir)
	if err != nil {
		return nil, err
	}
	var removed []string
	for i, f := range files {
		if i == 0 {
			continue
		}
		if (keep > 0 && i >= keep) || (maxAge > 0 && now.Sub(f.Taken) > maxAge) {
			if err := os.Remove(f.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return removed, fmt.Errorf("store: rotate backups: %w", err)
			}
			removed = append(removed, f.Path)
		}
	}
	if len(removed) > 0 {
		syncDir(dir)
	}
	return removed, nil
}

// sealedMagic starts every age-encrypted file.
var sealedMagic = []byte("age-encryption.org/v1")

// IsSealed reports whether a backup file is encrypted.
func IsSealed(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	head := make([]byte, len(sealedMagic))
	if _, err := io.ReadFull(f, head); err != nil {
		return false, nil
	}
	return bytes.Equal(head, sealedMagic), nil
}
