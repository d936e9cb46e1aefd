package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/benbjohnson/litestream"
)

// StandbyDB is the followed database inside a standby's data directory.
// It is not named pforte.db, so nothing can start on it before promotion
// has re-applied erasures and decisions.
const StandbyDB = "standby.db"

// Standby keeps dir a current copy of the replica until ctx ends: the
// database through Litestream's follow mode, the small files and the media
// every interval. Interrupted, it resumes where it stopped.
func Standby(ctx context.Context, dir string, cfg Config, lay Layout, every time.Duration, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, lay.DBFile)); err == nil {
		return fmt.Errorf("replica: %s already holds a promoted database; a standby needs its own directory", dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, lay.MediaDir), 0o700); err != nil {
		return err
	}
	client, b, s, err := open(ctx, &cfg)
	if err != nil {
		return err
	}
	defer closeBlobs(b)
	client.SetLogger(log)
	if err := client.Init(ctx); err != nil {
		return fmt.Errorf("replica: connect: %w", err)
	}
	refresh := func() {
		if err := refreshFiles(ctx, b, s, dir, lay); err != nil && ctx.Err() == nil {
			log.Error("standby: files", "err", err)
		}
	}
	refresh()
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				refresh()
			}
		}
	}()
	rep := litestream.NewReplicaWithClient(nil, client)
	opt := litestream.NewRestoreOptions()
	opt.OutputPath = filepath.Join(dir, StandbyDB)
	opt.Follow = true
	opt.FollowInterval = min(every, time.Second)
	for {
		err = rep.Restore(ctx, opt)
		if ctx.Err() != nil {
			return nil
		}
		// A primary that has not shipped its first snapshot yet: wait.
		if !errors.Is(err, litestream.ErrNoSnapshots) && !errors.Is(err, litestream.ErrTxNotAvailable) {
			return err
		}
		log.Info("standby: nothing in the replica yet; waiting", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(every):
		}
	}
}

// refreshFiles overwrites the small files and makes the media folder equal
// to the bucket's.
func refreshFiles(ctx context.Context, b blobs, s *sealer, dir string, lay Layout) error {
	for _, name := range lay.SideFiles {
		tmp := filepath.Join(dir, "."+name+".new")
		os.Remove(tmp)
		ok, err := getFile(ctx, b, s, path.Join(filesPrefix, name), tmp)
		if err != nil {
			return err
		}
		if ok {
			if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
				return err
			}
		}
	}
	keys, err := b.List(ctx, mediaPrefix)
	if err != nil {
		return err
	}
	mdir := filepath.Join(dir, lay.MediaDir)
	remote := map[string]bool{}
	for _, k := range keys {
		name := path.Base(k)
		if !isHash(name) {
			continue
		}
		remote[name] = true
		dst := filepath.Join(mdir, name)
		if _, err := os.Stat(dst); err == nil {
			continue
		}
		tmp := filepath.Join(mdir, ".standby-"+name)
		os.Remove(tmp)
		if _, err := getFile(ctx, b, s, k, tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, dst); err != nil {
			return err
		}
		if err := checkHash(dst); err != nil {
			os.Remove(dst)
			return err
		}
	}
	entries, err := os.ReadDir(mdir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if isHash(e.Name()) && !remote[e.Name()] {
			os.Remove(filepath.Join(mdir, e.Name())) // erased or expired at the primary
		}
	}
	return nil
}
