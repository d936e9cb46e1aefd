package replica

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
	_ "github.com/benbjohnson/litestream/file" // registers file://
)

// Layout is where things lie in the data directory; cli fills it from the
// store's constants so this package needs no import of store.
type Layout struct {
	DBFile    string   // "pforte.db"
	MediaDir  string   // "media"
	SideFiles []string // keys, tombstones, decisions: what a restore needs besides the database
	// TombstoneFile changes on every erasure; a change makes the
	// replicator take a fresh snapshot so that retention can drop the
	// history that still holds the erased rows.
	TombstoneFile string
}

// Keys of the objects beside Litestream's ltx/ tree.
const (
	mediaPrefix = "pforte/media"
	filesPrefix = "pforte/files"
	leaseKey    = "pforte/lock.json" // Litestream's lease file name, where earlier versions kept it
)

// open builds the Litestream client (encrypting unless told not to) and
// the blob store for one target.
func open(ctx context.Context, cfg *Config) (litestream.ReplicaClient, blobs, *sealer, error) {
	t, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, nil, nil, &SettingError{Name: "replica-url", Msg: err.Error()}
	}
	b, err := newBlobs(ctx, t)
	if err != nil {
		return nil, nil, nil, err
	}
	var client litestream.ReplicaClient
	if sb, ok := b.(*s3Blobs); ok {
		// One S3 client for Litestream's files and Pforte's own.
		client = &s3Replica{c: sb.cl, path: t.Path, log: slog.Default()}
	} else if fb, ok := b.(*sftpBlobs); ok {
		// One SSH connection for Litestream's files and Pforte's own.
		client = &sftpReplica{conn: fb.conn, path: t.Path, log: slog.Default()}
	} else if client, err = litestream.NewReplicaClientFromURL(cfg.URL); err != nil {
		return nil, nil, nil, fmt.Errorf("replica: %w", err)
	}
	var s *sealer
	if cfg.KeyFile != "" {
		id, err := LoadIdentity(cfg.KeyFile)
		if err != nil {
			return nil, nil, nil, &SettingError{Name: "replica-key-file", Msg: err.Error()}
		}
		if s, err = newSealer(id); err != nil {
			return nil, nil, nil, err
		}
		client = &cryptClient{inner: client, s: s}
	} else if !cfg.Unencrypted {
		return nil, nil, nil, &SettingError{Name: "replica-key-file", Msg: "missing"}
	}
	return client, b, s, nil
}

// Replicator ships one data directory to one target until stopped.
type Replicator struct {
	cfg    Config
	lay    Layout
	dir    string
	log    *slog.Logger
	errLog *lastError

	client litestream.ReplicaClient
	blobs  blobs
	seal   *sealer
	db     *litestream.DB
	ls     *litestream.Store

	mu        sync.Mutex
	st        Status
	sideSeen  map[string]string // name → "size/mtime" last uploaded
	sideRetry time.Time         // no uploads of small files before this (bucket away)
	sidesInit bool              // the first look is done: a tombstone change from here on is an erasure
	pending   []seenTX          // local transactions not yet in the bucket, oldest first
	// parentGone: the writer ended; the final sync may mark the replica complete.
	parentGone bool
	// followUp: a second snapshot after an erasure, see followUpErasure.
	followUp followUp
}

// New prepares a replicator; Run starts it.
func New(ctx context.Context, dir string, cfg Config, lay Layout, log *slog.Logger) (*Replicator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	errLog := &lastError{}
	log = slog.New(&errorTap{Handler: log.Handler(), last: errLog})
	client, b, s, err := open(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	client.SetLogger(log)
	return &Replicator{cfg: cfg, lay: lay, dir: dir, log: log, errLog: errLog, client: client, blobs: b, seal: s,
		sideSeen: map[string]string{}}, nil
}

// Run replicates until ctx ends, then makes a last sync (bounded) so that
// what was committed before the stop is off-site too.
func (r *Replicator) Run(ctx context.Context) error {
	r.db = litestream.NewDB(filepath.Join(r.dir, r.lay.DBFile))
	r.db.MonitorInterval = r.cfg.SyncInterval
	r.db.Logger = r.log
	rep := litestream.NewReplicaWithClient(r.db, r.client)
	rep.SyncInterval = r.cfg.SyncInterval
	r.db.Replica = rep
	r.ls = litestream.NewStore([]*litestream.DB{r.db}, compactionLevels(r.cfg.Retention))
	r.ls.Logger = r.log
	r.ls.SnapshotInterval = min(24*time.Hour, r.cfg.Retention/2)
	r.ls.SnapshotRetention = r.cfg.Retention
	r.ls.L0Retention = min(litestream.DefaultL0Retention, r.cfg.Retention)
	r.ls.L0RetentionCheckInterval = min(litestream.DefaultL0RetentionCheckInterval, r.cfg.RetentionCheck)
	r.db.L0Retention = r.ls.L0Retention
	if err := r.ls.Open(ctx); err != nil {
		return fmt.Errorf("replica: start litestream: %w", err)
	}
	r.set(func(s *Status) {
		s.PID = os.Getpid()
		s.Target = redact(r.cfg.URL)
		s.Encrypted = r.seal != nil
		s.Started = time.Now().UTC()
	})
	r.writeStatus()

	var wg sync.WaitGroup
	wg.Go(func() { r.loop(ctx, max(r.cfg.SyncInterval/4, 50*time.Millisecond), r.observe) })
	wg.Go(func() { r.loop(ctx, r.cfg.MediaInterval, r.syncFiles) })
	wg.Go(func() { r.loop(ctx, r.cfg.RetentionCheck, r.enforceRetention) })
	// Small files and erasures are looked at often: they are cheap.
	wg.Go(func() { r.loop(ctx, r.cfg.SyncInterval, r.syncSideFiles) })
	<-ctx.Done()
	wg.Wait()

	// The last word: ship what was committed, then close.
	fin, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := r.db.SyncAndWait(fin)
	r.syncSideFiles(fin)
	r.syncFiles(fin)
	r.observe(fin)
	if err == nil {
		if merr := r.markStopped(fin); merr != nil {
			r.log.Warn("replica: stop mark", "err", merr)
		}
	}
	if cerr := r.ls.Close(fin); err == nil {
		err = cerr
	}
	closeBlobs(r.blobs)
	r.set(func(s *Status) { s.Stopped = true })
	r.writeStatus()
	if err != nil {
		return fmt.Errorf("replica: final sync: %w", err)
	}
	return nil
}

func (r *Replicator) loop(ctx context.Context, every time.Duration, f func(context.Context)) {
	t := time.NewTicker(every)
	defer t.Stop()
	f(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			f(ctx)
		}
	}
}

func (r *Replicator) set(f func(*Status)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.st)
}

// observe records how far the replica is behind: the lag is the age of
// the oldest local transaction the bucket does not hold yet.
func (r *Replicator) observe(context.Context) {
	now := time.Now().UTC()
	local, err := r.db.Pos()
	remote := r.db.Replica.Pos()
	r.set(func(s *Status) {
		s.Updated = now
		s.LocalTXID, s.RemoteTXID = uint64(local.TXID), uint64(remote.TXID)
		if err == nil && local.TXID > 0 && (len(r.pending) == 0 || r.pending[len(r.pending)-1].txid < uint64(local.TXID)) {
			r.pending = append(r.pending, seenTX{uint64(local.TXID), now})
		}
		for len(r.pending) > 0 && r.pending[0].txid <= uint64(remote.TXID) {
			r.pending = r.pending[1:]
		}
		// Synced only when the bucket confirmed a position: before the
		// first successful sync both positions are 0.
		synced := err == nil && remote.TXID > 0 && remote.TXID >= local.TXID
		switch {
		case synced:
			s.LastSync, s.LagSeconds = now, 0
		case len(r.pending) > 0:
			s.LagSeconds = now.Sub(r.pending[0].at).Seconds()
		default:
			since := s.Started
			if s.LastSync.After(since) {
				since = s.LastSync
			}
			s.LagSeconds = now.Sub(since).Seconds()
		}
		s.LastError, s.LastErrorAt = r.errLog.get()
	})
	r.writeStatus()
}

// seenTX is when a local transaction id was first observed.
type seenTX struct {
	txid uint64
	at   time.Time
}

// syncSideFiles uploads the small files when they changed; a changed
// tombstone list means an erasure: take a snapshot at once, so that the
// history before it can expire after the retention bound.
func (r *Replicator) syncSideFiles(ctx context.Context) {
	if time.Now().Before(r.sideRetry) {
		return
	}
	erased := false
	for _, name := range r.lay.SideFiles {
		fi, err := os.Stat(filepath.Join(r.dir, name))
		if err != nil {
			continue
		}
		sig := fmt.Sprintf("%d/%d", fi.Size(), fi.ModTime().UnixNano())
		if r.sideSeen[name] == sig {
			continue
		}
		if err := r.putFile(ctx, path.Join(filesPrefix, name), filepath.Join(r.dir, name)); err != nil {
			r.log.Error("replica: upload", "file", name, "err", err)
			r.sideRetry = time.Now().Add(5 * time.Second) // the bucket is away; do not hammer it
			return
		}
		r.sideSeen[name] = sig
		if name == r.lay.TombstoneFile && r.sidesInit {
			erased = true
		}
	}
	r.sidesInit = true
	if erased {
		r.afterErasure(ctx)
	}
	if r.followUp.walPending {
		r.truncateWAL(ctx)
	}
	r.followUpErasure(ctx)
}

// afterErasure ships the erasure, folds the WAL into the database file
// (so the erased rows leave the local WAL too) and writes a fresh
// snapshot: from here on restores start from a state without them.
func (r *Replicator) afterErasure(ctx context.Context) {
	if err := r.db.SyncAndWait(ctx); err != nil {
		r.log.Error("replica: sync after erasure", "err", err)
		return
	}
	r.truncateWAL(ctx)
	info, err := r.db.Snapshot(ctx)
	if err != nil {
		r.log.Error("replica: snapshot after erasure", "err", err)
		r.followUp.arm(0) // the second snapshot is then the first
		return
	}
	r.followUp.arm(info.MaxTXID)
	r.set(func(s *Status) { s.LastErasureSnapshot = time.Now().UTC() })
	r.syncFiles(ctx)
}

// syncFiles makes the bucket's media folder equal to the local one: new
// files are uploaded under their hash, files Pforte deleted (retention,
// erasure) are deleted there.
func (r *Replicator) syncFiles(ctx context.Context) {
	local := map[string]bool{}
	root := filepath.Join(r.dir, r.lay.MediaDir)
	entries, err := os.ReadDir(root)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		r.log.Error("replica: read media", "err", err)
		return
	}
	for _, e := range entries {
		if e.Type().IsRegular() && isHash(e.Name()) {
			local[e.Name()] = true
		}
	}
	remoteKeys, err := r.blobs.List(ctx, mediaPrefix)
	if err != nil {
		r.log.Error("replica: list media", "err", err)
		return
	}
	remote := map[string]bool{}
	for _, k := range remoteKeys {
		remote[path.Base(k)] = true
	}
	up, del := 0, 0
	for name := range local {
		if remote[name] {
			continue
		}
		if err := r.putFile(ctx, path.Join(mediaPrefix, name), filepath.Join(root, name)); err != nil {
			if !errors.Is(err, fs.ErrNotExist) { // deleted meanwhile
				r.log.Error("replica: upload media", "file", name, "err", err)
			}
			continue
		}
		up++
	}
	for name := range remote {
		if local[name] {
			continue
		}
		if err := r.blobs.Delete(ctx, path.Join(mediaPrefix, name)); err != nil {
			r.log.Error("replica: delete media", "file", name, "err", err)
			continue
		}
		del++
	}
	r.set(func(s *Status) {
		s.MediaFiles = len(local)
		s.MediaSynced = time.Now().UTC()
		s.MediaUploaded += up
		s.MediaDeleted += del
	})
}

func (r *Replicator) putFile(ctx context.Context, key, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	var body io.Reader = f
	if r.seal != nil {
		sealed := r.seal.seal(f)
		defer sealed.Close()
		body = sealed
	}
	return r.blobs.Put(ctx, key, body)
}

func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// checkHash reports whether file's SHA-256 is its name.
func checkHash(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if hex.EncodeToString(h.Sum(nil)) != filepath.Base(file) {
		return fmt.Errorf("%s: content does not match its name", filepath.Base(file))
	}
	return nil
}

// lastError keeps the newest error Litestream or the replicator logged.
type lastError struct {
	mu  sync.Mutex
	msg string
	at  time.Time
}

func (l *lastError) get() (string, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msg, l.at
}

type errorTap struct {
	slog.Handler
	last *lastError
}

func (h *errorTap) Handle(ctx context.Context, rec slog.Record) error {
	if rec.Level >= slog.LevelError {
		msg := rec.Message
		rec.Attrs(func(a slog.Attr) bool {
			if a.Key == "err" || a.Key == "error" {
				msg += ": " + a.Value.String()
			}
			return true
		})
		h.last.mu.Lock()
		h.last.msg, h.last.at = msg, rec.Time.UTC()
		h.last.mu.Unlock()
	}
	return h.Handler.Handle(ctx, rec)
}

func (h *errorTap) WithAttrs(as []slog.Attr) slog.Handler {
	return &errorTap{Handler: h.Handler.WithAttrs(as), last: h.last}
}

func (h *errorTap) WithGroup(name string) slog.Handler {
	return &errorTap{Handler: h.Handler.WithGroup(name), last: h.last}
}
