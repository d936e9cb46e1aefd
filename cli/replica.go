package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/replica"
	"github.com/pforte/pforte/store"
)

// replicaConfig is the off-site replication part of serve's settings.
type replicaConfig struct {
	URL            string
	KeyFile        string
	Unencrypted    bool
	Retention      time.Duration
	SyncInterval   time.Duration
	MediaInterval  time.Duration
	RetentionCheck time.Duration
	MaxLag         time.Duration
	Lease          bool
	LeaseTTL       time.Duration

	// given names the flags set on the command line or in the
	// environment: they win over the settings page.
	given map[string]bool
	// clearStopMark: the child clears the bucket's stop mark itself (the
	// parent has no credentials for a replica set in the panel).
	clearStopMark bool
	// sftpPassword is the settings page's SFTP password, which only the
	// child's environment carries; checks in serve's process use it.
	sftpPassword string
}

func (c *replicaConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.URL, "replica-url", "", "off-site replica: s3://bucket/path?endpoint=https://…&region=… (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), sftp://user@host:port/path?host_key=…&key_file=… (or PFORTE_REPLICA_SFTP_PASSWORD) or file:///path; empty: no replication")
	fs.StringVar(&c.KeyFile, "replica-key-file", "", "age identity file; everything is encrypted with it before it leaves (create with \"pforte replica keygen\")")
	fs.BoolVar(&c.Unencrypted, "replica-unencrypted", false, "allow replicating without encryption (the storage provider then reads everything)")
	fs.DurationVar(&c.Retention, "replica-retention", replica.DefaultRetention, "point-in-time history kept in the bucket; also the bound after which erased data is gone there")
	fs.DurationVar(&c.SyncInterval, "replica-sync-interval", time.Second, "how often new database pages are shipped")
	fs.DurationVar(&c.MediaInterval, "replica-media-interval", 30*time.Second, "how often media files are compared with the bucket")
	fs.DurationVar(&c.RetentionCheck, "replica-retention-check", 0, "how often expired history is deleted (default: a quarter of the retention, at most 1h)")
	fs.DurationVar(&c.MaxLag, "replica-max-lag", 5*time.Minute, "replica behind longer than this raises an alarm")
	fs.BoolVar(&c.Lease, "replica-lease", false, "hold a lease in the bucket (s3 only): serve refuses to start while another instance holds it, and stops if it loses it")
	fs.DurationVar(&c.LeaseTTL, "replica-lease-ttl", 2*time.Minute, "how long the lease lasts without renewal; a bucket unreachable this long stops serve")
}

func (c *replicaConfig) enabled() bool { return c.URL != "" }

func (c *replicaConfig) lib() replica.Config {
	return replica.Config{URL: c.URL, KeyFile: c.KeyFile, Unencrypted: c.Unencrypted, Retention: c.Retention,
		SyncInterval: c.SyncInterval, MediaInterval: c.MediaInterval, RetentionCheck: c.RetentionCheck, SFTPPassword: c.sftpPassword}
}

func (c *replicaConfig) validate() error {
	if !c.enabled() {
		return nil
	}
	cfg := c.lib()
	if err := cfg.Validate(); err != nil {
		var se *replica.SettingError
		if errors.As(err, &se) {
			return settingError(se.Name, "…", se.Msg)
		}
		return err
	}
	if c.Lease && c.LeaseTTL < 3*time.Second {
		return settingError("replica-lease-ttl", c.LeaseTTL.String(), "want at least 3s")
	}
	if c.MaxLag < time.Second {
		return settingError("replica-max-lag", c.MaxLag.String(), "want at least 1s")
	}
	return nil
}

// args hands the settings to the child process (secrets stay in files and
// the environment).
func (c *replicaConfig) args(dataDir string) []string {
	a := []string{"replicate", "--data-dir", dataDir, "--replica-url", c.URL,
		"--replica-retention", c.Retention.String(), "--replica-sync-interval", c.SyncInterval.String(),
		"--replica-media-interval", c.MediaInterval.String()}
	if c.KeyFile != "" {
		a = append(a, "--replica-key-file", c.KeyFile)
	}
	if c.Unencrypted {
		a = append(a, "--replica-unencrypted")
	}
	if c.RetentionCheck > 0 {
		a = append(a, "--replica-retention-check", c.RetentionCheck.String())
	}
	if c.clearStopMark {
		a = append(a, "--clear-stop-mark")
	}
	return a
}

// replicaLayout says which files of the data directory go off-site.
func replicaLayout() replica.Layout {
	return replica.Layout{
		DBFile:        store.DBFile,
		MediaDir:      store.MediaDirName,
		SideFiles:     []string{store.KeyFile, store.TombstoneKeyFile, store.TombstoneListFile, store.DecisionLogFile},
		TombstoneFile: store.TombstoneListFile,
	}
}

// cmdReplicate is the replicator child of "pforte serve". It runs until
// its standard input closes (the parent stopped or died), then ships what
// is left and exits: a crash of serve loses nothing that was committed.
func cmdReplicate(ctx context.Context, args []string, env envLookup, stdin io.Reader, stderr io.Writer) error {
	fs := flag.NewFlagSet("replicate", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(env), "data directory")
	var c replicaConfig
	c.flags(fs)
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	clearMark := fs.Bool("clear-stop-mark", false, "clear the bucket's stop mark first (a replica set in the panel: only this process has its credentials)")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	if err := c.validate(); err != nil {
		return err
	}
	log := newLogger(stderr, *logLevel, "text").With("part", "replica")
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	if *clearMark {
		if err := replica.ClearStopMark(ctx, c.lib()); err != nil {
			log.Error("could not clear the replica's stop mark; a promotion might then resend messages sent from here on", "err", err)
		}
	}
	r, err := replica.New(ctx, *dataDir, c.lib(), replicaLayout(), log)
	if err != nil {
		return err
	}
	go func() {
		io.Copy(io.Discard, stdin) // returns when the parent is gone
		// Only now has the writer stopped: the final sync may say so.
		r.ParentGone()
		stop()
	}()
	return r.Run(ctx)
}

// replicaSupervisor keeps the replicator child running beside serve and
// restarts it when the settings page changes the replica.
type replicaSupervisor struct {
	flags   *replicaConfig // the start parameters; what they give wins
	env     envLookup
	dataDir string
	log     *slog.Logger
	stderr  io.Writer
	st      *store.Store
	reg     *prometheus.Registry
	metrics sync.Once

	applyMu sync.Mutex // one change at a time
	mu      sync.Mutex
	cfg     *replicaConfig // in force; nil: off
	extra   []string       // the child's credentials (environment, never arguments)
	cur     *replicaProc
	cancel  context.CancelFunc // ends watch
	watched chan struct{}
	running atomic.Bool
	alarmed bool
}

// replicaProc is one run of the child.
type replicaProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	exited chan struct{} // closed when it exited; err is set then
	err    error
}

// AlarmReplica is the alarm key for a replica that fell behind.
const AlarmReplica = "replica"

func newReplicaSupervisor(n *node) *replicaSupervisor {
	return &replicaSupervisor{flags: &n.cfg.Replica, env: n.env, dataDir: n.cfg.DataDir, log: n.log.With("part", "replica"),
		stderr: n.stderr, st: n.st, reg: n.reg}
}

// Running says whether a replicator runs now (the store's scrub asks).
func (s *replicaSupervisor) Running() bool { return s != nil && s.running.Load() }

// current is the configuration in force; nil when off.
func (s *replicaSupervisor) current() *replicaConfig {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

func (n *node) startReplica(ctx context.Context) error {
	s := newReplicaSupervisor(n)
	n.replica = s
	// Stopped before the store closes (registered after it): the child
	// ships the last commits while the database is still open.
	n.onStop(func(context.Context) { s.shutdown() })
	if !n.cfg.Replica.enabled() {
		// Perhaps set up in the panel; a broken saved setting must not
		// keep serve from starting: it is an alarm.
		if err := s.Apply(ctx); err != nil {
			s.log.Error("off-site replica from the settings page not started", "err", err)
			if aerr := n.st.RaiseAlarm(ctx, AlarmReplica, "Off-site-Replikation: "+err.Error()); aerr != nil {
				s.log.Warn("raise alarm", "err", aerr)
			}
		}
		return nil
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	if n.cfg.Replica.Lease {
		// Before the outbox starts: only the lease holder may send.
		host, _ := os.Hostname()
		owner := fmt.Sprintf("%s:%d", host, os.Getpid())
		le, err := replica.AcquireLease(ctx, n.cfg.Replica.lib(), owner, n.cfg.Replica.LeaseTTL, n.log)
		if err != nil {
			cancel()
			if errors.Is(err, replica.ErrLeaseHeld) {
				return fmt.Errorf("%w; it may still be sending: stop it first, or wait until its lease expires", err)
			}
			return err
		}
		n.log.Info("holding the replica lease", "owner", owner, "ttl", n.cfg.Replica.LeaseTTL)
		leaseDone := make(chan struct{})
		go func() {
			defer close(leaseDone)
			le.Keep(runCtx, func(err error) {
				// Another instance may take over now: stop before it sends.
				n.log.Error("lost the replica lease; stopping so that two instances never send", "err", err)
				syscall.Kill(os.Getpid(), syscall.SIGTERM)
			})
		}()
		n.onStop(func(context.Context) { cancel(); <-leaseDone })
	} else {
		n.onStop(func(context.Context) { cancel() })
	}
	// Before the outbox may send: a stop mark left by an earlier run would
	// let a promotion take the copy for complete while this one sends.
	if err := replica.ClearStopMark(ctx, n.cfg.Replica.lib()); err != nil {
		if n.cfg.Replica.Lease {
			return err
		}
		n.log.Error("could not clear the replica's stop mark; a promotion might then resend messages sent from here on", "err", err)
	}
	if err := s.Apply(ctx); err != nil {
		return fmt.Errorf("replica: start: %w", err)
	}
	return nil
}

// effective merges the start parameters with what the settings page saved:
// a parameter given wins, field by field. Nil: replication is off.
func (s *replicaSupervisor) effective(set *store.ReplicaSettings) (*replicaConfig, []string, error) {
	f := s.flags
	c := *f
	c.given, c.clearStopMark, c.sftpPassword = nil, false, ""
	var extra []string
	if !f.enabled() {
		if !set.Enabled {
			return nil, nil, nil
		}
		// The lease is taken before the outbox starts: flags only.
		c.URL, c.Lease, c.clearStopMark = set.URL, false, true
		if !f.given["replica-key-file"] && !f.given["replica-unencrypted"] {
			c.KeyFile, c.Unencrypted = "", set.Unencrypted
			if !set.Unencrypted {
				if set.KeyFile == "" {
					return nil, nil, errors.New("no confirmed key: create one on the settings page or choose no encryption")
				}
				c.KeyFile = set.KeyFile
			}
		}
	}
	if !f.given["replica-retention"] && set.Retention > 0 {
		c.Retention = set.Retention
	}
	if !s3KeysInEnv(s.env) && set.AccessKeyID != "" && set.SecretKey != nil {
		extra = append(extra, "AWS_ACCESS_KEY_ID="+set.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+string(set.SecretKey))
	}
	if _, ok := s.env(replica.SFTPPasswordEnv); !ok && set.SFTPPassword != nil {
		extra = append(extra, replica.SFTPPasswordEnv+"="+string(set.SFTPPassword))
		c.sftpPassword = string(set.SFTPPassword)
	}
	if len(extra) > 0 {
		// Only the child has these credentials: it clears the stop mark.
		c.clearStopMark = true
	}
	if err := c.validate(); err != nil {
		return nil, nil, err
	}
	return &c, extra, nil
}

// s3KeysInEnv: the environment gives the S3 keys (the names the replica's
// S3 client reads), so the settings page's do not count.
func s3KeysInEnv(env envLookup) bool {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "LITESTREAM_ACCESS_KEY_ID"} {
		if v, ok := env(k); ok && v != "" {
			return true
		}
	}
	return false
}

// panelFixed tells the settings page what the start parameters give.
func (s *replicaSupervisor) panelFixed() panel.ReplicaFixed {
	f := s.flags
	fx := panel.ReplicaFixed{URL: f.URL, Lease: f.Lease && f.enabled(), S3Keys: s3KeysInEnv(s.env)}
	if _, ok := s.env(replica.SFTPPasswordEnv); ok {
		fx.SFTPPassword = true
	}
	if f.enabled() || f.given["replica-key-file"] || f.given["replica-unencrypted"] {
		fx.Encryption, fx.Encrypted = true, f.KeyFile != ""
	}
	if f.given["replica-retention"] {
		fx.Retention = f.Retention
	}
	return fx
}

// Apply reads the saved settings and makes them take effect: the running
// child stops (shipping what is left) and one with the new settings
// starts, or none. Unchanged settings leave the child alone.
func (s *replicaSupervisor) Apply(ctx context.Context) error {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	set, err := s.st.ReplicaSettings(ctx)
	if err != nil {
		return err
	}
	c, extra, err := s.effective(set)
	if err != nil {
		return err
	}
	s.mu.Lock()
	old, oldExtra := s.cfg, s.extra
	s.mu.Unlock()
	if sameReplica(old, c, oldExtra, extra, s.dataDir) && (c == nil || s.running.Load()) {
		return nil
	}
	s.stopChild()
	s.mu.Lock()
	s.cfg, s.extra = c, extra
	s.mu.Unlock()
	if c == nil {
		s.log.Info("off-site replication switched off")
		if err := s.st.ClearAlarm(ctx, AlarmReplica); err != nil {
			s.log.Warn("clear alarm", "err", err)
		}
		s.setAlarmed(false)
		return nil
	}
	if err := s.spawn(); err != nil {
		return err
	}
	s.metrics.Do(func() { registerReplicaMetrics(s.reg, s.dataDir) })
	runCtx, cancel := context.WithCancel(context.Background())
	watched := make(chan struct{})
	s.mu.Lock()
	s.cancel, s.watched = cancel, watched
	s.mu.Unlock()
	go func() {
		defer close(watched)
		s.watch(runCtx)
	}()
	return nil
}

func sameReplica(a, b *replicaConfig, ea, eb []string, dataDir string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return slices.Equal(a.args(dataDir), b.args(dataDir)) && slices.Equal(ea, eb) && a.MaxLag == b.MaxLag
}

func (s *replicaSupervisor) spawn() error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	s.mu.Lock()
	c, extra := s.cfg, s.extra
	s.mu.Unlock()
	cmd := exec.Command(exe, c.args(s.dataDir)...)
	// Secrets go through the environment, never the command line.
	cmd.Env = append(os.Environ(), extra...)
	cmd.Stdout = s.stderr
	cmd.Stderr = s.stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &replicaProc{cmd: cmd, stdin: in, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	s.mu.Lock()
	s.cur = p
	s.mu.Unlock()
	s.running.Store(true)
	s.log.Info("replicating off-site", "target", redactURL(c.URL), "pid", cmd.Process.Pid, "encrypted", c.KeyFile != "")
	return nil
}

// watch restarts a replicator that died and turns its status into the
// replica alarm.
func (s *replicaSupervisor) watch(ctx context.Context) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		s.mu.Lock()
		p := s.cur
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-p.exited:
			s.log.Error("replicator exited; restarting in 5s", "err", p.err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(5 * time.Second):
			}
			if err := s.spawn(); err != nil {
				s.log.Error("replicator restart", "err", err)
				// keep the exited one as cur: the next turn retries
			}
		case <-t.C:
			s.checkAlarm(ctx)
		}
	}
}

func (s *replicaSupervisor) checkAlarm(ctx context.Context) {
	c := s.current()
	if c == nil {
		return
	}
	st, err := replica.ReadStatus(s.dataDir)
	if err != nil {
		s.log.Warn("replica status", "err", err)
	}
	ok, why := st.Healthy(time.Now(), c.MaxLag)
	s.mu.Lock()
	alarmed := s.alarmed
	s.mu.Unlock()
	switch {
	case !ok && !alarmed:
		s.setAlarmed(true)
		s.log.Error("off-site replica is behind; local operation continues and the replica catches up when the bucket is reachable", "why", why)
		if err := s.st.RaiseAlarm(ctx, AlarmReplica, "Off-site-Replikation: "+why); err != nil {
			s.log.Warn("raise alarm", "err", err)
		}
	case ok && alarmed:
		s.setAlarmed(false)
		s.log.Info("off-site replica caught up")
		if err := s.st.ClearAlarm(ctx, AlarmReplica); err != nil {
			s.log.Warn("clear alarm", "err", err)
		}
	}
}

func (s *replicaSupervisor) setAlarmed(on bool) {
	s.mu.Lock()
	s.alarmed = on
	s.mu.Unlock()
}

// stopChild ends the watcher, closes the child's stdin, lets it ship the
// rest (up to 40s) and kills it after that.
func (s *replicaSupervisor) stopChild() {
	s.mu.Lock()
	p, cancel, watched := s.cur, s.cancel, s.watched
	s.cur, s.cancel, s.watched = nil, nil, nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-watched
	}
	defer s.running.Store(false)
	if p == nil {
		return
	}
	p.stdin.Close()
	select {
	case <-p.exited:
	case <-time.After(40 * time.Second):
		s.log.Error("replicator did not finish its last sync in 40s; killing it")
		p.cmd.Process.Kill()
		<-p.exited
	}
}

// shutdown stops the child for good (serve is stopping).
func (s *replicaSupervisor) shutdown() {
	s.applyMu.Lock()
	defer s.applyMu.Unlock()
	s.stopChild()
}

func redactURL(raw string) string {
	t, err := replica.ParseURL(raw)
	if err != nil {
		return "(invalid)"
	}
	return t.Scheme + "://" + filepath.Join(t.Bucket, t.Path)
}

// registerReplicaMetrics exposes the replicator's status on /metrics.
func registerReplicaMetrics(reg *prometheus.Registry, dataDir string) {
	read := func(f func(*replica.Status) float64) func() float64 {
		return func() float64 {
			st, err := replica.ReadStatus(dataDir)
			if err != nil || st == nil {
				return 0
			}
			return f(st)
		}
	}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pforte_replica_lag_seconds", Help: "How long the off-site replica has been behind the local database (0: current)."},
			read(func(s *replica.Status) float64 {
				if s.Stopped {
					return time.Since(s.Updated).Seconds()
				}
				return s.LagSeconds
			})),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pforte_replica_last_sync_timestamp_seconds", Help: "When the off-site replica last held everything committed locally (Unix time)."},
			read(func(s *replica.Status) float64 { return unixOrZero(s.LastSync) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pforte_replica_media_files", Help: "Media files present locally and so kept in the bucket."},
			read(func(s *replica.Status) float64 { return float64(s.MediaFiles) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "pforte_replica_last_error_timestamp_seconds", Help: "When replication last failed (Unix time; 0: never)."},
			read(func(s *replica.Status) float64 { return unixOrZero(s.LastErrorAt) })),
	)
}

func unixOrZero(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}

// cmdReplica holds the admin's replica tools.
func cmdReplica(ctx context.Context, args []string, env envLookup, stdout, stderr io.Writer) error {
	sub := "help"
	if len(args) > 0 {
		sub, args = args[0], args[1:]
	}
	switch sub {
	case "keygen":
		fs := flag.NewFlagSet("replica keygen", flag.ContinueOnError)
		out := fs.String("out", "", "file to create (mode 0600; never overwritten)")
		if err := parseFlags(fs, args, env); err != nil {
			return err
		}
		if *out == "" {
			return settingError("out", "", "give the file to create")
		}
		pub, err := replica.WriteNewIdentity(*out)
		if err != nil {
			return settingError("out", *out, err.Error())
		}
		fmt.Fprintf(stdout, "created %s (public key %s)\nKeep a copy of this file off this machine and off the bucket (password manager, printed in the safe): without it the replica cannot be read.\n", *out, pub)
		return nil
	case "status":
		fs := flag.NewFlagSet("replica status", flag.ContinueOnError)
		dataDir := fs.String("data-dir", defaultDataDir(env), "data directory")
		if err := parseFlags(fs, args, env); err != nil {
			return err
		}
		st, err := replica.ReadStatus(*dataDir)
		if err != nil {
			return err
		}
		if st == nil {
			fmt.Fprintln(stdout, "no replicator has run on this data directory")
			return nil
		}
		fmt.Fprintf(stdout, "target %s, encrypted %v, last sync %s, lag %.0fs, media files %d, stopped %v\n",
			st.Target, st.Encrypted, st.LastSync.Format(time.RFC3339), st.LagSeconds, st.MediaFiles, st.Stopped)
		if st.LastError != "" {
			fmt.Fprintf(stdout, "last error %s: %s\n", st.LastErrorAt.Format(time.RFC3339), st.LastError)
		}
		return nil
	default:
		fmt.Fprint(stdout, "Usage:\n  pforte replica keygen --out FILE   create an age key for --replica-key-file\n  pforte replica status              how the off-site replica is doing\n")
		return nil
	}
}

// restoreFromReplica fetches the replica into an empty data directory and
// hands the database to the store's restore, which re-applies erasures
// and data protection decisions before anything can run on it.
func restoreFromReplica(ctx context.Context, dataDir string, c *replicaConfig, at string, stdout, stderr io.Writer) error {
	var ts time.Time
	if at != "" {
		var err error
		if ts, err = time.Parse(time.RFC3339, at); err != nil {
			return settingError("timestamp", at, "want RFC 3339, e.g. 2026-12-05T09:30:00Z")
		}
	}
	if err := c.validate(); err != nil {
		return err
	}
	log := newLogger(stderr, "warn", "text")
	res, err := replica.Restore(ctx, dataDir, c.lib(), replicaLayout(), ts, log)
	if errors.Is(err, replica.ErrNotEmpty) {
		return settingError("data-dir", dataDir, "not empty; restore from a replica onto a new, empty data directory")
	}
	if err != nil {
		return err
	}
	defer os.Remove(res.DBPath)
	sres, err := store.Restore(ctx, dataDir, res.DBPath, store.RestoreOptions{Actor: store.ActorCLI})
	if err != nil {
		return fmt.Errorf("restore: re-applying erasures: %w", err)
	}
	when := "the newest state"
	if !ts.IsZero() {
		when = "the state at " + ts.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(stdout, "restored %s from %s into %s: %d media files, %d key/tombstone/decision files; %d erased customers were in it and were erased again (%d tombstones known); %d decisions re-applied; took %s\n",
		when, redactURL(c.URL), dataDir, res.MediaFiles, res.SideFiles, sres.Reerased, sres.Tombstones, sres.Decisions,
		res.Took.Round(time.Millisecond))
	return nil
}

// checkReplica reports the off-site replica's state from the running
// replicator's status file.
func (d *doctor) checkReplica() {
	c := d.cfg.Replica
	if !c.enabled() && d.panelReplica != "" {
		c.URL = d.panelReplica // set up on the settings page
	}
	if !c.enabled() {
		d.skip("no off-site replica (settings page or PFORTE_REPLICA_URL, see docs/replication.md): if this machine is lost, what came since the last copied backup is lost")
		return
	}
	st, err := replica.ReadStatus(d.cfg.DataDir)
	if err != nil {
		d.fail("delete the damaged status file; the replicator writes a new one", "replica status: %v", err)
		return
	}
	if st == nil {
		d.warn("start pforte serve with the replica settings", "off-site replica %s is configured but has not run yet", redactURL(c.URL))
		return
	}
	if ok, why := st.Healthy(d.now(), c.MaxLag); !ok {
		d.fail("check the bucket's address, credentials and reachability (pforte replica status); local operation goes on and the replica catches up",
			"off-site replica %s: %s", st.Target, why)
		return
	}
	enc := "encrypted"
	if !st.Encrypted {
		enc = "NOT encrypted"
	}
	d.ok("off-site replica %s is current (last sync %s, %s, %d media files)", st.Target, st.LastSync.Format(time.RFC3339), enc, st.MediaFiles)
}

// cmdStandby keeps a data directory a current copy of the replica until
// stopped; "pforte promote" turns it into a primary.
func cmdStandby(ctx context.Context, args []string, env envLookup, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("standby", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(env), "standby data directory (its own, empty at first)")
	var c replicaConfig
	c.flags(fs)
	from := fs.String("from-replica", "", "replica URL to follow (as the primary's --replica-url)")
	every := fs.Duration("interval", 10*time.Second, "how often keys, tombstones and media are refreshed")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	if *from != "" {
		c.URL = *from
	}
	if c.URL == "" {
		return settingError("from-replica", "", "give the primary's replica URL")
	}
	if err := c.validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		return err
	}
	lock, err := os.OpenFile(filepath.Join(*dataDir, standbyLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("a standby already runs on %s", *dataDir)
	}
	if err := os.WriteFile(filepath.Join(*dataDir, standbyPID), []byte(fmt.Sprint(os.Getpid())), 0o600); err != nil {
		return err
	}
	log := newLogger(stderr, "info", "text").With("part", "standby")
	log.Info("following the replica", "target", redactURL(c.URL), "data_dir", *dataDir)
	return replica.Standby(ctx, *dataDir, c.lib(), replicaLayout(), *every, log)
}

const (
	standbyLock = "standby.lock"
	standbyPID  = "standby.pid"
)

// cmdPromote stops the standby on a data directory and makes its copy the
// database: erasures and decisions re-applied, as after any restore. Unless
// the copy provably ends where the primary stopped writing (its stop mark
// in the bucket), every message not known to be sent becomes "unknown":
// the lost primary may have sent it after the copy ends, so it is never
// sent a second time without a person deciding so.
func cmdPromote(ctx context.Context, args []string, env envLookup, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("promote", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(env), "the standby's data directory")
	var c replicaConfig
	c.flags(fs)
	from := fs.String("from-replica", "", "the replica the standby follows (as for pforte standby): to check whether the copy is complete")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	if *from != "" {
		c.URL = *from
	}
	followed := filepath.Join(*dataDir, replica.StandbyDB)
	if _, err := os.Stat(followed); err != nil {
		return settingError("data-dir", *dataDir, "holds no standby copy (run pforte standby there first)")
	}
	// Stop the standby and wait until it let go of the directory.
	if b, err := os.ReadFile(filepath.Join(*dataDir, standbyPID)); err == nil {
		var pid int
		if _, err := fmt.Sscan(string(b), &pid); err == nil && pid > 0 {
			syscall.Kill(pid, syscall.SIGTERM)
		}
	}
	lock, err := os.OpenFile(filepath.Join(*dataDir, standbyLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		if time.Now().After(deadline) {
			lock.Close()
			return errors.New("the standby did not stop within 30s; stop it (systemctl stop pforte-standby) and run promote again")
		}
		time.Sleep(100 * time.Millisecond)
	}
	comp := replica.CheckComplete(ctx, *dataDir, c.lib(), newLogger(stderr, "warn", "text"))
	res, err := store.Restore(ctx, *dataDir, followed, store.RestoreOptions{Actor: store.ActorCLI})
	lock.Close()
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	matches, _ := filepath.Glob(followed + "*")
	for _, m := range matches {
		os.Remove(m)
	}
	os.Remove(filepath.Join(*dataDir, standbyPID))
	os.Remove(filepath.Join(*dataDir, standbyLock))
	st, err := store.Open(ctx, *dataDir, store.Options{})
	if err != nil {
		return fmt.Errorf("promote: %w", err)
	}
	var unconfirmed int
	if comp.Complete {
		// The primary stopped at the copy's end: what it claimed is
		// "sending" here and becomes unknown; queued ones were never sent.
		unconfirmed, err = st.RecoverOutbox(ctx)
	} else {
		unconfirmed, err = st.UnconfirmOutbox(ctx, time.Now())
	}
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("promote: outbox: %w", err)
	}
	fmt.Fprintf(stdout, "promoted %s: %d erased customers were erased again (%d tombstones known), %d decisions re-applied.\n",
		*dataDir, res.Reerased, res.Tombstones, res.Decisions)
	if comp.Complete {
		fmt.Fprintf(stdout, "The copy is complete (the primary stopped at transaction %d): %d messages it was sending are marked unknown; queued ones will be sent.\n", comp.MarkTXID, unconfirmed)
	} else {
		fmt.Fprintf(stdout, "The copy may end before the primary did (%s): %d queued or sending messages are marked unknown so that none is sent twice; check them in the panel and send again what did not arrive.\n", comp.Why, unconfirmed)
	}
	fmt.Fprint(stdout, "Now start pforte serve on it with --replica-lease: it starts as soon as the old primary's lease has expired, never while it may still send.\n")
	return nil
}

// replicaView feeds the settings page from the replicator's status file,
// the source "pforte replica status" and doctor read; nil when off.
func replicaView(s *replicaSupervisor, dataDir string) func() *panel.ReplicaState {
	return func() *panel.ReplicaState {
		c := s.current()
		if c == nil {
			return nil
		}
		vm := &panel.ReplicaState{Target: redactURL(c.URL), Encrypted: c.KeyFile != "", Retention: c.Retention}
		st, err := replica.ReadStatus(dataDir)
		if err != nil {
			vm.LastError = err.Error()
			return vm
		}
		if st != nil {
			vm.Reported, vm.Target, vm.Encrypted = true, st.Target, st.Encrypted
			vm.LastSync, vm.LagSeconds, vm.LastError, vm.LastErrorAt, vm.Stopped = st.LastSync, st.LagSeconds, st.LastError, st.LastErrorAt, st.Stopped
		}
		return vm
	}
}

// replicaActive is the replica in force for the record of processing.
func (s *replicaSupervisor) replicaActive() (string, time.Duration, bool) {
	c := s.current()
	if c == nil {
		return "", 0, false
	}
	return redactURL(c.URL), c.Retention, c.KeyFile != ""
}

// replicaSetup hands the settings page what it needs of package replica.
func (s *replicaSupervisor) replicaSetup() *panel.ReplicaSetup {
	return &panel.ReplicaSetup{DataDir: s.dataDir, Fixed: s.panelFixed(),
		CheckURL: func(raw string) error { _, err := replica.ParseURL(raw); return err },
		NewKey:   replica.WriteNewIdentity,
		CheckKey: func(path string) error { _, err := replica.LoadIdentity(path); return err },
		Probe: func(ctx context.Context, url, accessKeyID, secretKey, sftpPassword string) error {
			return replica.Probe(ctx, replica.Config{URL: url}, replica.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: secretKey, SFTPPassword: sftpPassword})
		},
		Apply: s.Apply,
	}
}

// givenFlags names the flags set on the command line or in the
// environment (parseFlags sets the latter without marking them).
func givenFlags(fs *flag.FlagSet, env envLookup) map[string]bool {
	m := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { m[f.Name] = true })
	fs.VisitAll(func(f *flag.Flag) {
		if _, ok := env(envName(f.Name)); ok {
			m[f.Name] = true
		}
	})
	return m
}
