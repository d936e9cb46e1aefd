package store

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// Everything Pforte writes into its data directory (database, WAL and SHM,
// backups, media, the secret key, tombstones, spooled uploads) is private
// to its user even when the process runs with umask 0. Not parallel: the
// umask belongs to the whole process.
func TestDataDirIsPrivateWhateverTheUmask(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "data")
	s := openTestIn(t, dir, Options{})
	if err := s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO contacts(wa_id, name, created_at, updated_at) VALUES ('4917000000001', 'Modus', 0, 0)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Seal([]byte("totp seed"), "test"); err != nil {
		t.Fatal(err)
	}
	tmp, err := s.NewMediaTemp()
	if err != nil {
		t.Fatal(err)
	}
	tmp.Write([]byte("ein Bild"))
	if _, err := tmp.Commit(); err != nil {
		t.Fatal(err)
	}
	spool, err := s.NewSpoolFile()
	if err != nil {
		t.Fatal(err)
	}
	spool.Close()
	if err := appendTombstones(dir, []string{"abc"}, 1); err != nil {
		t.Fatal(err)
	}
	backups := filepath.Join(dir, "backups")
	if _, err := s.Backup(ctx, filepath.Join(backups, "plain.db"), BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	seal := func(w io.Writer) (io.WriteCloser, error) { return nopWriteCloser{w}, nil }
	if _, err := s.Backup(ctx, filepath.Join(backups, "sealed.db.age"), BackupOptions{Seal: seal}); err != nil {
		t.Fatal(err)
	}

	var seen []string
	check := func() {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			fi, err := d.Info()
			if err != nil {
				return nil // removed while walking
			}
			want := fs.FileMode(0o600)
			if d.IsDir() {
				want = 0o700
			}
			if fi.Mode().Perm() != want {
				t.Errorf("%s: mode %v, want %v", strings.TrimPrefix(path, dir), fi.Mode().Perm(), want)
			}
			seen = append(seen, strings.TrimPrefix(path, dir))
			return nil
		})
	}
	check()
	for _, f := range []string{DBFile, DBFile + "-wal", DBFile + "-shm", KeyFile, "backups/plain.db", "backups/sealed.db.age"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("%s was not written: %v", f, err)
		}
	}
	t.Logf("checked: %v", seen)
}

// A data directory an older version left with wider modes is narrowed
// when the store opens it.
func TestOpenNarrowsAnOldDataDir(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(context.Background(), dir, Options{IsStopWord: testStopWord})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, p := range []string{dir, filepath.Join(dir, DBFile)} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	openTestIn(t, dir, Options{})
	for p, want := range map[string]fs.FileMode{dir: 0o700, filepath.Join(dir, DBFile): 0o600} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v %v, want %v", p, fi.Mode().Perm(), err, want)
		}
	}
}
