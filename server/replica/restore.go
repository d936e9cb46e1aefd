package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/litestream"
	"golang.org/x/sync/errgroup"
)

// RestoreResult tells what came back from the bucket.
type RestoreResult struct {
	DBPath     string // restored database, to be handed to the store's restore (tombstones, decisions)
	SideFiles  int
	MediaFiles int
	Took       time.Duration
}

// ErrNotEmpty refuses a restore onto a data directory in use.
var ErrNotEmpty = errors.New("replica: the data directory is not empty; restore onto a new, empty one")

// Restore fetches the newest state (or the state at ts) into the empty
// directory dir: the small files first (keys, tombstones, decisions), then
// the database into a temporary file DBPath, then the media. The caller
// must re-apply the tombstones and decisions before anything runs on dir.
func Restore(ctx context.Context, dir string, cfg Config, lay Layout, ts time.Time, log *slog.Logger) (*RestoreResult, error) {
	t0 := time.Now()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, ErrNotEmpty
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	client, b, s, err := open(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	defer closeBlobs(b)
	client.SetLogger(log)
	if err := client.Init(ctx); err != nil {
		return nil, fmt.Errorf("replica: connect: %w", err)
	}
	res := &RestoreResult{}
	for _, name := range lay.SideFiles {
		ok, err := getFile(ctx, b, s, path.Join(filesPrefix, name), filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		if ok {
			res.SideFiles++
		}
	}
	res.DBPath = filepath.Join(dir, ".replica-restore.db")
	rep := litestream.NewReplicaWithClient(nil, client)
	opt := litestream.NewRestoreOptions()
	opt.OutputPath = res.DBPath
	opt.Timestamp = ts
	opt.IntegrityCheck = litestream.IntegrityCheckQuick
	if err := rep.Restore(ctx, opt); err != nil {
		if errors.Is(err, litestream.ErrTxNotAvailable) || errors.Is(err, litestream.ErrNoSnapshots) {
			return nil, fmt.Errorf("replica: nothing to restore at %s for that time: %w", redact(cfg.URL), err)
		}
		return nil, fmt.Errorf("replica: restore database: %w", err)
	}
	keys, err := b.List(ctx, mediaPrefix)
	if err != nil {
		return nil, err
	}
	mdir := filepath.Join(dir, lay.MediaDir)
	if err := os.MkdirAll(mdir, 0o700); err != nil {
		return nil, err
	}
	// Media files are fetched several at a time: one stream (download,
	// decryption, fsync, hash check) keeps only one core busy.
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(mediaFetchers)
	var fetched atomic.Int64
	for _, k := range keys {
		name := path.Base(k)
		if !isHash(name) {
			continue
		}
		g.Go(func() error {
			dst := filepath.Join(mdir, name)
			if _, err := getFile(gctx, b, s, k, dst); err != nil {
				return err
			}
			if err := checkHash(dst); err != nil {
				return fmt.Errorf("replica: media: %w", err)
			}
			fetched.Add(1)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	res.MediaFiles = int(fetched.Load())
	res.Took = time.Since(t0)
	return res, nil
}

// mediaFetchers is how many media files a restore fetches at once: enough
// to keep a few cores and a remote bucket's latency busy, few enough not
// to swamp a small provider.
const mediaFetchers = 4

// getFile downloads (and decrypts) one object to dst; false if there is
// no such object.
func getFile(ctx context.Context, b blobs, s *sealer, key, dst string) (bool, error) {
	rc, err := b.Get(ctx, key)
	if errors.Is(err, errNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer rc.Close()
	var r io.Reader = rc
	if s != nil {
		if r, err = s.open(rc); err != nil {
			return false, fmt.Errorf("replica: decrypt %s (wrong --replica-key-file?): %w", key, err)
		}
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return false, err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		os.Remove(dst)
		return false, fmt.Errorf("replica: download %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return false, err
	}
	return true, f.Close()
}
