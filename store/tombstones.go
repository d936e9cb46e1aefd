package store

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Files in the data directory that outlive a restore: the key of the
// tombstone hashes and the append-only list of erased subjects.
const (
	TombstoneKeyFile  = "erasure.key"
	TombstoneListFile = "tombstones.txt"
)

// tombstoneKey loads the installation's erasure key, creating it on first
// use. Hashes are keyed so that a tombstone cannot be reversed by trying
// every phone number, which plain SHA-256 of a number would allow.
func tombstoneKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, TombstoneKeyFile)
	b, err := os.ReadFile(path)
	if err == nil {
		k, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("store: %s is damaged; restore it from a backup of the data directory", path)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("store: erasure key: %w", err)
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("store: erasure key: %w", err)
	}
	if err := writeFileSync(path, []byte(hex.EncodeToString(k)+"\n")); err != nil {
		return nil, fmt.Errorf("store: erasure key: %w", err)
	}
	return k, nil
}

// subjectHashes are the keyed hashes of every identifier of a contact.
func subjectHashes(key []byte, c *Contact) []string {
	var out []string
	for _, id := range []struct{ kind, v string }{{"wa_id", c.WaID}, {"user_id", c.UserID}} {
		if id.v == "" {
			continue
		}
		m := hmac.New(sha256.New, key)
		m.Write([]byte(id.kind + ":" + id.v))
		out = append(out, hex.EncodeToString(m.Sum(nil)))
	}
	return out
}

// appendTombstones adds hashes to the list file and syncs it, so that the
// list survives even the loss of the database itself.
func appendTombstones(dir string, hashes []string, at int64) error {
	var b strings.Builder
	for _, h := range hashes {
		fmt.Fprintf(&b, "%s %d\n", h, at)
	}
	if err := appendSync(dir, TombstoneListFile, []byte(b.String())); err != nil {
		return fmt.Errorf("store: tombstones: %w", err)
	}
	return nil
}

// appendSync appends b to a file in dir and makes it durable: the file's
// data, and its name when it was just created.
func appendSync(dir, name string, b []byte) error {
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(dir)
}

// readTombstoneFile returns the hashes listed in the data directory.
func readTombstoneFile(dir string) (map[string]bool, error) {
	out := map[string]bool{}
	f, err := os.Open(filepath.Join(dir, TombstoneListFile))
	if errors.Is(err, os.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: tombstones: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if h, _, _ := strings.Cut(sc.Text(), " "); len(h) == 64 {
			out[h] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("store: tombstones: %w", err)
	}
	return out, nil
}

// Tombstones returns every erased subject hash known to this database and
// to the list file.
func (s *Store) Tombstones(ctx context.Context) (map[string]bool, error) {
	out, err := readTombstoneFile(s.dir)
	if err != nil {
		return nil, err
	}
	rows, err := s.rdb.QueryContext(ctx, "SELECT hash FROM erasure_tombstones")
	if err != nil {
		return nil, fmt.Errorf("store: tombstones: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, fmt.Errorf("store: tombstones: %w", err)
		}
		out[h] = true
	}
	return out, rows.Err()
}

func writeFileSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a created, renamed or removed name durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
