// Package jobs runs Pforte's scheduled work with robfig/cron: retention,
// backups, and WAL checkpoint plus planner statistics. The cron library is
// kept behind this small API so that it can be replaced.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/pforte/pforte/store"
)

// Job names.
const (
	Retention   = "retention"
	Backup      = "backup"
	Maintenance = "maintenance"
	Templates   = "templates"
)

// Config is the scheduler's settings. Specs are standard 5-field cron
// lines ("30 3 * * *"); "off" disables a job.
type Config struct {
	Location        *time.Location // the time zone the specs are read in (default Europe/Berlin)
	RetentionSpec   string         // default "30 3 * * *"
	BackupSpec      string         // default "0 2 * * *"
	MaintenanceSpec string         // default "15 4 * * *"
	BackupDir       string         // default <data-dir>/backups
	BackupKeep      int            // newest backups kept (default 7)
	BackupMaxAge    time.Duration  // older backups are deleted (default 30 days)
	// Passphrase, if set, encrypts every backup with age (scrypt).
	Passphrase string
	JobTimeout time.Duration // a job's context ends after this (default 2 h)
	// TemplateSync lists the message templates of every account from
	// Meta; nil leaves the job out (no access token, no Meta to ask).
	TemplateSync     func(context.Context) (string, error)
	TemplateSyncSpec string // default "7 * * * *", hourly
	// Now is the jobs' clock; tests move it.
	Now    func() time.Time
	Logger *slog.Logger
	// scryptWorkFactor lowers age's key stretching in tests.
	scryptWorkFactor int
}

// Result is how a job's last run went.
type Result struct {
	Started  time.Time
	Took     time.Duration
	Err      error
	Summary  string
	Skipped  bool
	Finished bool
}

// Scheduler owns the cron instance and the jobs' base context.
type Scheduler struct {
	cron   *cron.Cron
	chain  cron.Chain
	st     *store.Store
	cfg    Config
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	jobs   map[string]func(context.Context) (string, error)
	ids    map[string]cron.EntryID
	adhoc  map[string]cron.Job // wrapped jobs that are not scheduled ("off")

	mu   sync.Mutex
	last map[string]Result
}

// New builds a scheduler for st; nothing runs until Start.
func New(st *store.Store, cfg Config) (*Scheduler, error) {
	if cfg.Location == nil {
		loc, err := time.LoadLocation("Europe/Berlin")
		if err != nil {
			return nil, fmt.Errorf("jobs: time zone: %w", err)
		}
		cfg.Location = loc
	}
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&cfg.RetentionSpec, "30 3 * * *")
	def(&cfg.BackupSpec, "0 2 * * *")
	def(&cfg.MaintenanceSpec, "15 4 * * *")
	def(&cfg.TemplateSyncSpec, "7 * * * *")
	if cfg.BackupDir == "" {
		cfg.BackupDir = filepath.Join(st.Dir(), "backups")
	}
	if cfg.BackupKeep == 0 {
		cfg.BackupKeep = 7
	}
	if cfg.BackupMaxAge == 0 {
		cfg.BackupMaxAge = 30 * 24 * time.Hour
	}
	if cfg.JobTimeout == 0 {
		cfg.JobTimeout = 2 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Passphrase != "" && len(cfg.Passphrase) < 12 {
		return nil, errors.New("jobs: the backup passphrase must have at least 12 characters")
	}
	log := cfg.Logger.With("component", "jobs")
	cl := cronLogger{log}
	// SkipIfStillRunning must be outside Recover: in cron v3.0.1 it only
	// hands its token back when the inner job returns normally, so with the
	// other order one panic would stop the job for good.
	wrappers := []cron.JobWrapper{cron.SkipIfStillRunning(cl), cron.Recover(cl)}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Scheduler{st: st, cfg: cfg, log: log, ctx: ctx, cancel: cancel, chain: cron.NewChain(wrappers...),
		ids: map[string]cron.EntryID{}, adhoc: map[string]cron.Job{}, last: map[string]Result{}}
	s.cron = cron.New(cron.WithLocation(cfg.Location), cron.WithChain(wrappers...), cron.WithLogger(cl))
	s.jobs = map[string]func(context.Context) (string, error){
		Retention:   s.retention,
		Backup:      s.backup,
		Maintenance: s.maintenance,
	}
	specs := []struct{ name, spec, setting string }{
		{Retention, cfg.RetentionSpec, "retention-schedule"},
		{Backup, cfg.BackupSpec, "backup-schedule"},
		{Maintenance, cfg.MaintenanceSpec, "maintenance-schedule"},
	}
	if cfg.TemplateSync != nil {
		s.jobs[Templates] = cfg.TemplateSync
		specs = append(specs, struct{ name, spec, setting string }{Templates, cfg.TemplateSyncSpec, "template-sync-schedule"})
	}
	for _, j := range specs {
		if j.spec == "off" {
			s.adhoc[j.name] = s.chain.Then(s.job(j.name))
			continue
		}
		id, err := s.cron.AddJob(j.spec, s.job(j.name))
		if err != nil {
			cancel()
			return nil, fmt.Errorf("jobs: invalid --%s %q: %w", j.setting, j.spec, err)
		}
		s.ids[j.name] = id
	}
	return s, nil
}

// Start begins running the jobs on their schedules.
func (s *Scheduler) Start() {
	s.cron.Start()
	for _, e := range s.Entries() {
		s.log.Info("job scheduled", "job", e.Name, "next", e.Next.Format(time.RFC3339))
	}
}

// Stop ends the schedule, cancels the context of running jobs and waits
// for them to return, at most until ctx ends.
func (s *Scheduler) Stop(ctx context.Context) error {
	s.cancel()
	done := s.cron.Stop()
	select {
	case <-done.Done():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("jobs: still running at shutdown: %w", ctx.Err())
	}
}

// Runner shows and starts the scheduled jobs: the API and the panel take
// one (a *Scheduler, or a fake in tests).
type Runner interface {
	Entries() []Entry
	// StartJob runs a job now in the background; false if there is none.
	StartJob(name string) bool
}

// Entry is a scheduled job.
type Entry struct {
	Name string
	Next time.Time
	Prev time.Time
	Last Result
}

// Entries lists the scheduled jobs by name.
func (s *Scheduler) Entries() []Entry {
	var out []Entry
	for name, id := range s.ids {
		e := s.cron.Entry(id)
		out = append(out, Entry{Name: name, Next: e.Next, Prev: e.Prev, Last: s.Last(name)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Last returns how a job's last run went.
func (s *Scheduler) Last(name string) Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[name]
}

// RunNow runs a job at once, through the same chain as the schedule, and
// returns its result. A job already running is skipped, not run twice.
func (s *Scheduler) RunNow(name string) (Result, error) {
	if _, ok := s.jobs[name]; !ok {
		return Result{}, fmt.Errorf("jobs: no job %q", name)
	}
	s.mu.Lock()
	delete(s.last, name)
	s.mu.Unlock()
	// The scheduled entry's own wrapped job, so that a run now and a
	// scheduled run share SkipIfStillRunning's token.
	if id, ok := s.ids[name]; ok {
		s.cron.Entry(id).WrappedJob.Run()
	} else {
		s.adhoc[name].Run()
	}
	r := s.Last(name)
	if !r.Finished {
		r.Skipped = true
	}
	return r, r.Err
}

// job wraps a job function with its base context, timeout and log line.
func (s *Scheduler) job(name string) cron.Job {
	fn := s.jobs[name]
	return cron.FuncJob(func() {
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.JobTimeout)
		defer cancel()
		start := time.Now()
		r := Result{Started: s.cfg.Now()}
		defer func() {
			if v := recover(); v != nil {
				r.Err = fmt.Errorf("jobs: %s panicked: %v", name, v)
				s.finish(name, r, start)
				panic(v) // let cron's Recover log it with the stack
			}
		}()
		r.Summary, r.Err = fn(ctx)
		s.finish(name, r, start)
	})
}

func (s *Scheduler) finish(name string, r Result, start time.Time) {
	r.Took, r.Finished = time.Since(start), true
	s.mu.Lock()
	s.last[name] = r
	s.mu.Unlock()
	if r.Err != nil {
		s.log.Error("job failed", "job", name, "took", r.Took, "err", r.Err)
		return
	}
	s.log.Info("job done", "job", name, "took", r.Took, "result", r.Summary)
}

func (s *Scheduler) retention(ctx context.Context) (string, error) {
	rep, err := s.st.RunRetention(ctx, store.RetentionOptions{Now: s.cfg.Now(), Actor: store.ActorSystem})
	if err != nil {
		return "", err
	}
	var total int64
	for _, n := range rep.RowsPerClass {
		total += n
	}
	return fmt.Sprintf("%d rows, %d media files, %d erasures completed, wal busy %v", total, rep.MediaFiles, rep.Erasures, rep.Scrub.WALBusy), nil
}

func (s *Scheduler) backup(ctx context.Context) (string, error) {
	now := s.cfg.Now()
	opts := store.BackupOptions{}
	if s.cfg.Passphrase != "" {
		opts.Seal = SealWithPassphrase(s.cfg.Passphrase, s.cfg.scryptWorkFactor)
	}
	info, err := s.st.Backup(ctx, filepath.Join(s.cfg.BackupDir, store.BackupName(now, opts.Seal != nil)), opts)
	if err != nil {
		return "", err
	}
	removed, err := store.RotateBackups(s.cfg.BackupDir, s.cfg.BackupKeep, s.cfg.BackupMaxAge, now)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s, %d bytes, integrity %s, %d old backups removed", filepath.Base(info.Path), info.Size, info.Integrity, len(removed)), nil
}

func (s *Scheduler) maintenance(ctx context.Context) (string, error) {
	busy, err := s.st.Checkpoint(ctx, time.Minute)
	if err != nil {
		return "", err
	}
	if err := s.st.Optimize(ctx); err != nil {
		return "", err
	}
	return fmt.Sprintf("checkpoint busy %v", busy), nil
}

// cronLogger hands cron's log lines to slog.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append([]any{"err", err}, kv...)...)
}

// StartJob runs a job in the background through the same chain as the
// schedule (an overlapping run is skipped); false if there is no such job.
func (s *Scheduler) StartJob(name string) bool {
	if _, ok := s.jobs[name]; !ok {
		return false
	}
	go s.RunNow(name)
	return true
}
