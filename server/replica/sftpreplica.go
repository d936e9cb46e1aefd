package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
	"golang.org/x/sync/errgroup"
)

// sftpReplica is Litestream's replica client over Pforte's SFTP
// connection. It keeps Litestream's own layout (<path>/ltx/<level>/
// <min>-<max>.ltx, the creation time as mtime), so an unencrypted replica
// stays restorable with the stock litestream command. Pforte does not use
// litestream/sftp itself: that client accepts any host key when none is
// given, and offers no way to pin the negotiated key type, so a pinned
// Ed25519 key fails against a server that also has an ECDSA key.
type sftpReplica struct {
	conn *sftpConn
	path string
	log  *slog.Logger
}

var _ litestream.ReplicaClient = (*sftpReplica)(nil)

func (r *sftpReplica) Type() string             { return "sftp" }
func (r *sftpReplica) SetLogger(l *slog.Logger) { r.log = l.WithGroup("sftp") }
func (r *sftpReplica) Init(ctx context.Context) error {
	_, err := r.conn.client(ctx)
	return err
}

func (r *sftpReplica) WriteLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, rd io.Reader) (*ltx.FileInfo, error) {
	// The write time becomes the file's mtime.
	ts, rd, err := ltxWriteTime(rd)
	if err != nil {
		return nil, fmt.Errorf("sftp: %w", err)
	}
	n, err := r.conn.put(ctx, litestream.LTXFilePath(r.path, level, minTXID, maxTXID), rd, ts)
	if err != nil {
		return nil, err
	}
	return &ltx.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID, Size: n, CreatedAt: ts}, nil
}

func (r *sftpReplica) OpenLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, offset, size int64) (io.ReadCloser, error) {
	rc, err := r.conn.open(ctx, litestream.LTXFilePath(r.path, level, minTXID, maxTXID), offset)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, os.ErrNotExist
	}
	if err != nil {
		return nil, err
	}
	if size > 0 {
		return readCloser{Reader: io.LimitReader(rc, size), Closer: rc}, nil
	}
	return rc, nil
}

func (r *sftpReplica) DeleteLTXFiles(ctx context.Context, a []*ltx.FileInfo) error {
	for _, info := range a {
		if err := r.conn.remove(ctx, litestream.LTXFilePath(r.path, info.Level, info.MinTXID, info.MaxTXID)); err != nil {
			return err
		}
	}
	return nil
}

// DeleteAll removes everything under the replica's path, as Litestream's
// clients do (Pforte's media and small files included).
func (r *sftpReplica) DeleteAll(ctx context.Context) error {
	var files []string
	// Temporary files of interrupted uploads too, or the directories
	// would not be empty.
	dirs, err := r.conn.walk(ctx, r.path, true, func(p string, _ fs.FileInfo) error {
		files = append(files, p)
		return nil
	})
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := r.conn.remove(ctx, f); err != nil {
			return err
		}
	}
	c, err := r.conn.client(ctx)
	if err != nil {
		return err
	}
	for _, d := range slices.Backward(dirs) {
		if err := c.RemoveDirectory(d); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return r.conn.check(c, fmt.Errorf("sftp: delete %s: %w", d, err))
		}
	}
	return nil
}

// LTXFiles lists one level. The mtime has whole seconds only (SFTP v3);
// with useMetadata (a point-in-time restore) each file's header gives the
// millisecond, as the S3 client's metadata does.
func (r *sftpReplica) LTXFiles(ctx context.Context, level int, seek ltx.TXID, useMetadata bool) (ltx.FileIterator, error) {
	c, err := r.conn.client(ctx)
	if err != nil {
		return nil, err
	}
	dir := litestream.LTXLevelDir(r.path, level)
	fis, err := c.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return ltx.NewFileInfoSliceIterator(nil), nil
	}
	if err != nil {
		return nil, r.conn.check(c, fmt.Errorf("sftp: list %s: %w", dir, err))
	}
	infos := make([]*ltx.FileInfo, 0, len(fis))
	for _, fi := range fis {
		lo, hi, err := ltx.ParseFilename(fi.Name())
		if err != nil || lo < seek || !fi.Mode().IsRegular() {
			continue
		}
		infos = append(infos, &ltx.FileInfo{Level: level, MinTXID: lo, MaxTXID: hi, Size: fi.Size(), CreatedAt: fi.ModTime().UTC()})
	}
	if useMetadata {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(8)
		for _, info := range infos {
			g.Go(func() error { return r.headerTime(gctx, info) })
		}
		if err := g.Wait(); err != nil {
			return nil, err
		}
	}
	return ltx.NewFileInfoSliceIterator(infos), nil
}

func (r *sftpReplica) headerTime(ctx context.Context, info *ltx.FileInfo) error {
	rc, err := r.conn.open(ctx, litestream.LTXFilePath(r.path, info.Level, info.MinTXID, info.MaxTXID), 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // deleted by compaction meanwhile
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	buf := make([]byte, ltx.HeaderSize)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return fmt.Errorf("sftp: read ltx header: %w", err)
	}
	var hdr ltx.Header
	if err := hdr.UnmarshalBinary(buf); err != nil {
		return fmt.Errorf("sftp: ltx header: %w", err)
	}
	info.CreatedAt = time.UnixMilli(hdr.Timestamp).UTC()
	return nil
}
