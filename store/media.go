package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// MediaDirName is the media folder inside the data directory. Files are
// named by the hex SHA-256 of their content, so a file that arrives twice
// is stored once.
const MediaDirName = "media"

// MediaDir returns the absolute media folder.
func (s *Store) MediaDir() string { return filepath.Join(s.dir, MediaDirName) }

// MediaTemp is a file being written into the media folder. Its digest is
// computed while writing; Commit moves it to its content-hash name.
type MediaTemp struct {
	f    *os.File
	h    hash.Hash
	n    int64
	dir  string
	done bool
}

// NewMediaTemp creates a temporary file inside media/.tmp (same file
// system, so the final rename is atomic).
func (s *Store) NewMediaTemp() (*MediaTemp, error) {
	tmpDir := filepath.Join(s.MediaDir(), ".tmp")
	if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		return nil, fmt.Errorf("store: media dir: %w", err)
	}
	f, err := os.CreateTemp(tmpDir, "part-*")
	if err != nil {
		return nil, fmt.Errorf("store: media temp: %w", err)
	}
	return &MediaTemp{f: f, h: sha256.New(), dir: s.MediaDir()}, nil
}

func (t *MediaTemp) Write(p []byte) (int, error) {
	n, err := t.f.Write(p)
	t.h.Write(p[:n])
	t.n += int64(n)
	return n, err
}

// Size is the number of bytes written so far.
func (t *MediaTemp) Size() int64 { return t.n }

// Sum is the SHA-256 of what was written.
func (t *MediaTemp) Sum() []byte { return t.h.Sum(nil) }

// Reset empties the file for another attempt.
func (t *MediaTemp) Reset() error {
	t.h.Reset()
	t.n = 0
	if err := t.f.Truncate(0); err != nil {
		return err
	}
	_, err := t.f.Seek(0, io.SeekStart)
	return err
}

// Discard removes the temporary file; safe after Commit.
func (t *MediaTemp) Discard() {
	if t.done {
		return
	}
	t.done = true
	t.f.Close()
	os.Remove(t.f.Name())
}

// Commit makes the file durable under its content-hash name and returns
// that name (relative to the media folder). An identical file already
// there is kept and the new copy dropped.
func (t *MediaTemp) Commit() (string, error) {
	defer t.Discard()
	name := hex.EncodeToString(t.Sum())
	final := filepath.Join(t.dir, name)
	if _, err := os.Stat(final); err == nil {
		return name, nil
	}
	if err := t.f.Sync(); err != nil {
		return "", fmt.Errorf("store: media sync: %w", err)
	}
	if err := t.f.Close(); err != nil {
		return "", fmt.Errorf("store: media close: %w", err)
	}
	if err := os.Rename(t.f.Name(), final); err != nil {
		return "", fmt.Errorf("store: media rename: %w", err)
	}
	t.done = true
	if d, err := os.Open(t.dir); err == nil {
		d.Sync() // the new name must survive a power loss too
		d.Close()
	}
	return name, nil
}

// SpoolDirName is the folder inside the data directory where request
// bodies are spooled while they are read (the panel's attachments). It is
// beside the database rather than in os.TempDir, which the container image
// does not have and systemd's PrivateTmp keeps small.
const SpoolDirName = "tmp"

// spoolMaxAge is how old a spooled file must be before Open removes it as
// left over from a crash; a request never takes that long.
const spoolMaxAge = 24 * time.Hour

// NewSpoolFile creates an empty file (0600) in the spool folder; the caller
// removes it when the request is done.
func (s *Store) NewSpoolFile() (*os.File, error) {
	dir := filepath.Join(s.dir, SpoolDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: spool dir: %w", err)
	}
	f, err := os.CreateTemp(dir, "upload-*")
	if err != nil {
		return nil, fmt.Errorf("store: spool file: %w", err)
	}
	return f, nil
}

// sweepSpool removes spooled files a crash left behind.
func sweepSpool(dir string, now time.Time) {
	entries, err := os.ReadDir(filepath.Join(dir, SpoolDirName))
	if err != nil {
		return
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > spoolMaxAge {
			os.Remove(filepath.Join(dir, SpoolDirName, e.Name()))
		}
	}
}

// OpenMedia opens a stored file by its name relative to the media folder.
func (s *Store) OpenMedia(rel string) (*os.File, error) {
	if rel == "" || strings.ContainsAny(rel, `/\`) || strings.HasPrefix(rel, ".") {
		return nil, fmt.Errorf("store: bad media path %q", rel)
	}
	f, err := os.Open(filepath.Join(s.MediaDir(), rel))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotFound
	}
	return f, err
}

// MediaJob is an inbound (or sent-by-id) file waiting to be downloaded.
type MediaJob struct {
	ID            int64 // media row id
	MessageID     int64
	MessageType   string
	PhoneNumberID string
	MediaID       string
	MimeType      string
	SHA256        string // base64, as in the webhook; may be empty
	Filename      string
	Attempts      int
	ReceivedAt    int64 // when the message was stored (unix seconds)
}

// ClaimMedia returns due downloads and pushes their next attempt time
// lease into the future, so a crash mid-download only delays a retry.
func (s *Store) ClaimMedia(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]MediaJob, error) {
	var jobs []MediaJob
	err := s.Write(ctx, func(tx *Tx) error {
		jobs = jobs[:0]
		rows, err := tx.Query(`SELECT md.id, md.message_id, m.type, n.phone_number_id, md.media_id, md.mime_type, md.sha256, md.filename, md.attempts, m.created_at
			FROM media md JOIN messages m ON m.id = md.message_id
			JOIN conversations cv ON cv.id = m.conversation_id JOIN business_numbers n ON n.id = cv.business_number_id
			WHERE md.state = 'pending' AND md.next_attempt_at <= ? AND md.media_id <> ''
			ORDER BY md.next_attempt_at, md.id LIMIT ?`, now.Unix(), limit)
		if err != nil {
			return fmt.Errorf("store: claim media: %w", err)
		}
		for rows.Next() {
			var j MediaJob
			if err := rows.Scan(&j.ID, &j.MessageID, &j.MessageType, &j.PhoneNumberID, &j.MediaID, &j.MimeType, &j.SHA256, &j.Filename, &j.Attempts, &j.ReceivedAt); err != nil {
				rows.Close()
				return fmt.Errorf("store: claim media: %w", err)
			}
			jobs = append(jobs, j)
		}
		rows.Close()
		for i := range jobs {
			jobs[i].Attempts++
			if _, err := tx.Exec("UPDATE media SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?", now.Add(lease).Unix(), jobs[i].ID); err != nil {
				return fmt.Errorf("store: claim media: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		// A cancelled caller may return before fn ran; never read jobs then.
		return nil, err
	}
	return jobs, nil
}

// StoredMedia is what a finished download recorded.
type StoredMedia struct {
	Path     string // name in the media folder
	Size     int64
	MimeType string
	SHA256   string // base64 of the digest
	Filename string
}

// MediaStored marks a download done.
func (s *Store) MediaStored(ctx context.Context, id int64, m StoredMedia) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`UPDATE media SET state = 'stored', path = ?, size = ?, mime_type = coalesce(nullif(?, ''), mime_type),
			sha256 = coalesce(nullif(?, ''), sha256), filename = ?, last_error = NULL WHERE id = ?`,
			m.Path, m.Size, m.MimeType, m.SHA256, m.Filename, id)
		if err != nil {
			return fmt.Errorf("store: media stored: %w", err)
		}
		return nil
	})
}

// MediaRetry records a failed attempt and when to try again.
func (s *Store) MediaRetry(ctx context.Context, id int64, why string, next time.Time) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("UPDATE media SET last_error = ?, next_attempt_at = ? WHERE id = ? AND state = 'pending'", why, next.Unix(), id)
		return err
	})
}

// MediaFailed gives up on a download; the message itself stays, and the
// failure is visible on it.
func (s *Store) MediaFailed(ctx context.Context, id int64, why string) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("UPDATE media SET state = 'failed', last_error = ? WHERE id = ? AND state = 'pending'", why, id)
		return err
	})
}

// Upload is a file sent to Meta through Pforte.
type Upload struct {
	MediaID       string
	PhoneNumberID string
	MimeType      string
	SHA256        string
	Size          int64
	Filename      string
	Path          string
	DeletedAt     int64
}

// RecordUpload remembers an uploaded file and its local copy.
func (s *Store) RecordUpload(ctx context.Context, u Upload) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO uploads(media_id, phone_number_id, mime_type, sha256, size, filename, path, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(media_id) DO NOTHING`,
			u.MediaID, u.PhoneNumberID, u.MimeType, u.SHA256, u.Size, u.Filename, u.Path, time.Now().Unix())
		if err != nil {
			return fmt.Errorf("store: upload: %w", err)
		}
		return nil
	})
}

// UploadByMediaID finds an uploaded file.
func (s *Store) UploadByMediaID(ctx context.Context, mediaID string) (*Upload, error) {
	var u Upload
	var del sql.NullInt64
	err := s.rdb.QueryRowContext(ctx, `SELECT media_id, phone_number_id, mime_type, sha256, size, filename, path, deleted_at FROM uploads WHERE media_id = ?`, mediaID).
		Scan(&u.MediaID, &u.PhoneNumberID, &u.MimeType, &u.SHA256, &u.Size, &u.Filename, &u.Path, &del)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: upload: %w", err)
	}
	u.DeletedAt = del.Int64
	return &u, nil
}

// MarkUploadDeleted records that the file was deleted at Meta; the local
// copy stays for the messages that used it.
func (s *Store) MarkUploadDeleted(ctx context.Context, mediaID string) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("UPDATE uploads SET deleted_at = ? WHERE media_id = ? AND deleted_at IS NULL", time.Now().Unix(), mediaID)
		return err
	})
}

// StoredMediaByMediaID finds a local copy of a Meta media id, from an
// upload or a finished download, for serving it without asking Meta.
func (s *Store) StoredMediaByMediaID(ctx context.Context, mediaID string) (*Media, error) {
	var m Media
	err := s.rdb.QueryRowContext(ctx, `SELECT media_id, mime_type, sha256, filename, size, path FROM uploads WHERE media_id = ?1
		UNION ALL SELECT media_id, mime_type, sha256, filename, coalesce(size, 0), path FROM media WHERE media_id = ?1 AND state = 'stored'
		LIMIT 1`, mediaID).Scan(&m.MediaID, &m.MimeType, &m.SHA256, &m.Filename, &m.Size, &m.Path)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: media: %w", err)
	}
	m.State = MediaStored
	return &m, nil
}
