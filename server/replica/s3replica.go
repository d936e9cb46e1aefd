package replica

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// ltxTimestampMeta is the object metadata in which Litestream's S3 client
// keeps an LTX file's creation time (x-amz-meta-litestream-timestamp); a
// point-in-time restore reads it, and so does the stock litestream CLI.
const ltxTimestampMeta = "litestream-timestamp"

// s3Replica is Litestream's replica client over s3Client, with Litestream's
// own key layout (<path>/<level as %04x>/<min>-<max>.ltx), so an
// unencrypted replica stays restorable with the stock litestream command.
type s3Replica struct {
	c    *s3Client
	path string // key prefix, without slashes at either end
	log  *slog.Logger
	// headConcurrency bounds the HEAD requests of a metadata listing.
	headConcurrency int
}

var _ litestream.ReplicaClient = (*s3Replica)(nil)

func (r *s3Replica) Type() string               { return "s3" }
func (r *s3Replica) Init(context.Context) error { return nil }
func (r *s3Replica) SetLogger(l *slog.Logger)   { r.log = l.WithGroup("s3") }
func (r *s3Replica) levelDir(level int) string  { return fmt.Sprintf("%s/%04x/", r.path, level) }
func (r *s3Replica) ltxKey(level int, lo, hi ltx.TXID) string {
	return r.levelDir(level) + ltx.FormatFilename(lo, hi)
}

func (r *s3Replica) WriteLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, rd io.Reader) (*ltx.FileInfo, error) {
	// The write time becomes the object's metadata.
	ts, rd, err := ltxWriteTime(rd)
	if err != nil {
		return nil, fmt.Errorf("s3: %w", err)
	}
	key := r.ltxKey(level, minTXID, maxTXID)
	_, size, err := r.c.Put(ctx, key, rd, putOptions{
		Meta: map[string]string{ltxTimestampMeta: ts.Format(time.RFC3339Nano)},
	})
	if err != nil {
		return nil, err
	}
	return &ltx.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID, Size: size, CreatedAt: ts}, nil
}

func (r *s3Replica) OpenLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, offset, size int64) (io.ReadCloser, error) {
	rc, _, err := r.c.Get(ctx, r.ltxKey(level, minTXID, maxTXID), offset, size)
	if isNotFound(err) {
		return nil, os.ErrNotExist
	}
	return rc, err
}

func (r *s3Replica) DeleteLTXFiles(ctx context.Context, a []*ltx.FileInfo) error {
	keys := make([]string, 0, len(a))
	for _, info := range a {
		keys = append(keys, r.ltxKey(info.Level, info.MinTXID, info.MaxTXID))
	}
	return r.c.DeleteMany(ctx, keys)
}

// DeleteAll removes everything under the replica's path, as Litestream's
// client does (Pforte's media and small files included).
func (r *s3Replica) DeleteAll(ctx context.Context) error {
	var keys []string
	if err := r.c.List(ctx, r.path+"/", func(o listObject) error {
		keys = append(keys, o.Key)
		return nil
	}); err != nil {
		return err
	}
	return r.c.DeleteMany(ctx, keys)
}

func (r *s3Replica) LTXFiles(ctx context.Context, level int, seek ltx.TXID, useMetadata bool) (ltx.FileIterator, error) {
	return &s3LTXIter{ctx: ctx, r: r, level: level, seek: seek, useMeta: useMetadata}, nil
}

// s3LTXIter lists one level page by page; with useMeta each page's
// creation times come from the objects' metadata (HEAD requests in
// parallel), else from LastModified.
type s3LTXIter struct {
	ctx     context.Context
	r       *s3Replica
	level   int
	seek    ltx.TXID
	useMeta bool

	page    []*ltx.FileInfo
	token   string
	started bool
	done    bool
	cur     *ltx.FileInfo
	err     error
}

func (it *s3LTXIter) Next() bool {
	for len(it.page) == 0 {
		if it.err != nil || it.done {
			return false
		}
		it.err = it.fetch()
	}
	it.cur, it.page = it.page[0], it.page[1:]
	return true
}

func (it *s3LTXIter) fetch() error {
	if it.started && it.token == "" {
		it.done = true
		return nil
	}
	it.started = true
	p, err := it.r.c.ListPage(it.ctx, it.r.levelDir(it.level), it.token)
	if err != nil {
		return err
	}
	it.token = ""
	if p.IsTruncated {
		it.token = p.NextContinuationToken
	}
	var keys []string
	for _, o := range p.Contents {
		lo, hi, err := ltx.ParseFilename(path.Base(o.Key))
		if err != nil || lo < it.seek {
			continue // not an LTX file, or before the seek position
		}
		it.page = append(it.page, &ltx.FileInfo{Level: it.level, MinTXID: lo, MaxTXID: hi, Size: o.Size, CreatedAt: o.LastModified.UTC()})
		keys = append(keys, o.Key)
	}
	if it.useMeta {
		it.r.metadataTimes(it.ctx, keys, it.page)
	}
	return nil
}

// metadataTimes replaces CreatedAt by the timestamp in each object's
// metadata where there is one (a missing one keeps LastModified).
func (r *s3Replica) metadataTimes(ctx context.Context, keys []string, infos []*ltx.FileInfo) {
	n := r.headConcurrency
	if n <= 0 {
		n = 16
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, k := range keys {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			oi, err := r.c.Head(ctx, k)
			if err != nil {
				return
			}
			if t, err := time.Parse(time.RFC3339Nano, oi.Meta[ltxTimestampMeta]); err == nil {
				infos[i].CreatedAt = t.UTC()
			}
		})
	}
	wg.Wait()
}

func (it *s3LTXIter) Item() *ltx.FileInfo { return it.cur }
func (it *s3LTXIter) Err() error          { return it.err }
func (it *s3LTXIter) Close() error {
	it.done = true
	return it.err
}

// ltxWriteTime reads an LTX file's header, which says when the transaction
// was written (in the clear also when encrypted, see cryptClient), and
// returns that time with a reader of the whole file again.
func ltxWriteTime(rd io.Reader) (time.Time, io.Reader, error) {
	hdrBuf := make([]byte, ltx.HeaderSize)
	if _, err := io.ReadFull(rd, hdrBuf); err != nil {
		return time.Time{}, nil, fmt.Errorf("read ltx header: %w", err)
	}
	var hdr ltx.Header
	if err := hdr.UnmarshalBinary(hdrBuf); err != nil {
		return time.Time{}, nil, fmt.Errorf("ltx header: %w", err)
	}
	return time.UnixMilli(hdr.Timestamp).UTC(), io.MultiReader(bytes.NewReader(hdrBuf), rd), nil
}
