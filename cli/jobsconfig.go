package cli

import (
	"context"
	"flag"
	"log/slog"
	"net/url"
	"strings"
	"time"
	_ "time/tzdata" // schedules need zone data, also in a scratch container

	"github.com/pforte/pforte/jobs"
	"github.com/pforte/pforte/store"
)

// jobsConfig is the scheduler's part of "pforte serve".
type jobsConfig struct {
	TimeZone        string
	RetentionSpec   string
	BackupSpec      string
	MaintenanceSpec string
	BackupDir       string
	BackupKeep      int
	BackupMaxAge    time.Duration
	Passphrase      string
	PassphraseFile  string
	PublicURL       string
	TemplateSpec    string

	location     *time.Location
	templateSync func(context.Context) (string, error)
}

func (c *jobsConfig) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.TimeZone, "timezone", "Europe/Berlin", "time zone of the schedules and of legal hold presets (IANA name)")
	fs.StringVar(&c.RetentionSpec, "retention-schedule", "30 3 * * *", `when retention runs (cron: minute hour day month weekday; "off" disables)`)
	fs.StringVar(&c.BackupSpec, "backup-schedule", "0 2 * * *", `when a backup is taken (cron; "off" disables)`)
	fs.StringVar(&c.MaintenanceSpec, "maintenance-schedule", "15 4 * * *", `when the WAL is checkpointed and statistics refreshed (cron; "off" disables)`)
	fs.StringVar(&c.BackupDir, "backup-dir", "", "where scheduled backups go (default <data-dir>/backups)")
	fs.IntVar(&c.BackupKeep, "backup-keep", 7, "how many scheduled backups are kept")
	fs.DurationVar(&c.BackupMaxAge, "backup-max-age", 30*24*time.Hour, "older scheduled backups are deleted")
	fs.StringVar(&c.Passphrase, "backup-passphrase", "", "encrypt backups with this passphrase (age); prefer the variable or a file")
	fs.StringVar(&c.PassphraseFile, "backup-passphrase-file", "", "read the backup passphrase from this file")
	fs.StringVar(&c.TemplateSpec, "template-sync-schedule", "7 * * * *", `when message templates are listed from Meta (cron; "off" disables)`)
	fs.StringVar(&c.PublicURL, "public-url", "", "how customers reach the public listener, for secure links (default https://<first --domain>)")
}

func (c *jobsConfig) validate() error {
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" || u.RawQuery != "" {
			return settingError("public-url", c.PublicURL, "want an absolute URL such as https://chat.example.de")
		}
	}
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil || c.TimeZone == "" {
		return settingError("timezone", c.TimeZone, "want an IANA time zone such as Europe/Berlin")
	}
	c.location = loc
	if c.BackupKeep < 1 {
		return settingError("backup-keep", "", "keep at least one backup")
	}
	if c.BackupMaxAge < 24*time.Hour {
		return settingError("backup-max-age", c.BackupMaxAge.String(), "at least 24h")
	}
	p, err := readPassphrase(c.Passphrase, c.PassphraseFile)
	if err != nil {
		return err
	}
	if p != "" && len(p) < 12 {
		return settingError("backup-passphrase", "…", "use at least 12 characters")
	}
	c.Passphrase = p
	return nil
}

func (c *jobsConfig) scheduler(st *store.Store, dataDir string, log *slog.Logger) (*jobs.Scheduler, error) {
	dir := c.BackupDir
	if dir == "" {
		dir = backupDirOf(dataDir)
	}
	return jobs.New(st, jobs.Config{Location: c.location, RetentionSpec: c.RetentionSpec, BackupSpec: c.BackupSpec,
		MaintenanceSpec: c.MaintenanceSpec, BackupDir: dir, BackupKeep: c.BackupKeep, BackupMaxAge: c.BackupMaxAge,
		Passphrase: c.Passphrase, Logger: log, TemplateSync: c.templateSync, TemplateSyncSpec: c.TemplateSpec})
}

func (c *jobsConfig) processing(domain string) store.ProcessingContext {
	return store.ProcessingContext{Host: domain, BackupKeep: c.BackupKeep, BackupMaxAge: c.BackupMaxAge}
}

// publicURL is where customers reach the public listener (secure links):
// --public-url, else the first --domain, else, in demo mode, the local
// address. Without any, secure links are off: a link to 127.0.0.1 would
// reach no customer.
func publicURL(c *serveConfig) string {
	switch {
	case c.Jobs.PublicURL != "":
		return strings.TrimRight(c.Jobs.PublicURL, "/")
	case c.Domain != "":
		host, _, _ := strings.Cut(c.Domain, ",")
		return "https://" + strings.TrimSpace(host)
	case c.Demo:
		return "http://" + c.HTTPAddr
	}
	return ""
}
