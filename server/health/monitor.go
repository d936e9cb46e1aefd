// Package health watches the business numbers' standing at Meta and the
// appliance itself (disk, certificates, backups, webhook traffic), turns
// what it finds into alarms, and mails each alarm once and its end once.
package health

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// Options configure a Monitor. Zero values are the defaults.
type Options struct {
	Logger *slog.Logger
	// Now is the clock; tests move it.
	Now func() time.Time
	// Interval between Graph reads and local checks (default 15 minutes).
	Interval time.Duration
	// MailInterval between passes over the mail queue (default 30 s).
	MailInterval time.Duration
	// RetryBase is the first wait after a failed mail; it doubles up to an hour.
	RetryBase time.Duration
	// DataDir is checked for free space.
	DataDir string
	// DiskMinFree is the fraction of the disk that must stay free (default 0.1).
	DiskMinFree float64
	// CertError and BackupError report the last certificate renewal and
	// backup failure (nil error: fine); nil functions are not checked.
	CertError   func() error
	BackupError func() error
	// SMTPTLS, if set, is the TLS configuration for the mail server (tests
	// pass their own root); the server name is always the configured host.
	SMTPTLS *tls.Config
	// Site names this appliance in mail subjects (default "pforte").
	Site string
}

// Monitor runs the checks and the mailer.
type Monitor struct {
	st     *store.Store
	client *cloudapi.Client
	opts   Options
	log    *slog.Logger
	m      *metrics

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
	kick   chan struct{}
}

// New creates a monitor; client may be nil (no Graph reads, e.g. without a token).
func New(st *store.Store, client *cloudapi.Client, opts Options) *Monitor {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Interval <= 0 {
		opts.Interval = 15 * time.Minute
	}
	if opts.MailInterval <= 0 {
		opts.MailInterval = 30 * time.Second
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = time.Minute
	}
	if opts.DiskMinFree <= 0 {
		opts.DiskMinFree = 0.1
	}
	if opts.Site == "" {
		opts.Site = "pforte"
	}
	return &Monitor{st: st, client: client, opts: opts, log: opts.Logger, m: newMetrics(st), kick: make(chan struct{}, 1)}
}

// Start runs the checks and the mailer until Stop.
func (mo *Monitor) Start(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	mo.mu.Lock()
	mo.cancel, mo.done = cancel, make(chan struct{})
	mo.mu.Unlock()
	go func() {
		defer close(mo.done)
		check := time.NewTicker(mo.opts.Interval)
		mailT := time.NewTicker(mo.opts.MailInterval)
		defer check.Stop()
		defer mailT.Stop()
		mo.Check(ctx)
		mo.SendMail(ctx)
		for {
			select {
			case <-ctx.Done():
				return
			case <-check.C:
				mo.Check(ctx)
				mo.SendMail(ctx)
			case <-mailT.C:
				mo.SendMail(ctx)
			case <-mo.kick:
				mo.SendMail(ctx)
			}
		}
	}()
}

// Stop ends the loops and waits for a running pass.
func (mo *Monitor) Stop(ctx context.Context) error {
	mo.mu.Lock()
	cancel, done := mo.cancel, mo.done
	mo.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Kick asks the mailer to look at the queue now (after an alarm).
func (mo *Monitor) Kick() {
	select {
	case mo.kick <- struct{}{}:
	default:
	}
}

// Check runs one round: Graph reads of every number, then the local checks.
func (mo *Monitor) Check(ctx context.Context) {
	now := mo.opts.Now()
	if mo.client != nil {
		nums, err := mo.st.NumberHealths(ctx)
		if err != nil {
			mo.log.Error("health: numbers", "err", err)
		}
		allowed := true
		for _, n := range nums {
			if err := mo.readNumber(ctx, n.PhoneNumberID, now); err != nil {
				var pe *permissionError
				allowed = allowed && !errors.As(err, &pe)
				mo.log.Warn("health: graph read", "phone_number_id", n.PhoneNumberID, "err", err)
			}
		}
		if allowed && len(nums) > 0 {
			if err := mo.st.PermissionsOK(ctx, now); err != nil {
				mo.log.Error("health: permissions alarm", "err", err)
			}
		}
	}
	mo.checkWebhooks(ctx, now)
	mo.checkDisk(ctx, now)
	mo.checkFunc(ctx, now, store.AlarmCertificate, mo.opts.CertError,
		"Die Erneuerung des TLS-Zertifikats schlägt fehl: ", "Das TLS-Zertifikat wurde erneuert.")
	mo.checkFunc(ctx, now, store.AlarmBackup, mo.opts.BackupError,
		"Die Datensicherung schlägt fehl: ", "Die Datensicherung läuft wieder.")
}

type permissionError struct{ msg string }

func (e *permissionError) Error() string { return e.msg }

// phoneFields are read from GET /{phone_number_id}.
const phoneFields = "quality_rating,messaging_limit_tier,whatsapp_business_manager_messaging_limit,throughput,name_status,verified_name,display_phone_number"

// NumberFields is Meta's answer to GET /{phone_number_id}?fields=phoneFields.
type NumberFields struct {
	QualityRating  string `json:"quality_rating"`
	Tier           string `json:"messaging_limit_tier"`
	PortfolioLimit string `json:"whatsapp_business_manager_messaging_limit"`
	Throughput     struct {
		Level string `json:"level"`
	} `json:"throughput"`
	NameStatus   string `json:"name_status"`
	VerifiedName string `json:"verified_name"`
}

// StorageConfiguration is Meta's answer to GET /{phone_number_id}/settings
// (only the part about Cloud API local storage).
type StorageConfiguration struct {
	Status string `json:"status"`
	Region string `json:"data_localization_region"`
}

// On says whether local storage is enabled; Meta's docs write the status
// in capitals, its OpenAPI description in lower case.
func (s StorageConfiguration) On() bool {
	return s.Status == "IN_COUNTRY_STORAGE_ENABLED" || s.Status == "in_country_storage_enabled"
}

// ReadStorage asks Meta for a number's storage configuration.
func ReadStorage(ctx context.Context, client *cloudapi.Client, pnid string) (StorageConfiguration, error) {
	var out struct {
		SC StorageConfiguration `json:"storage_configuration"`
	}
	err := graphGet(ctx, client, "/"+url.PathEscape(pnid)+"/settings", &out)
	return out.SC, err
}

func graphGet(ctx context.Context, client *cloudapi.Client, path string, out any) error {
	resp, err := client.Do(ctx, http.MethodGet, path, "", nil)
	if err != nil {
		return err
	}
	if resp.Status != http.StatusOK {
		e := cloudapi.ParseError(resp.Status, resp.Body)
		if e.Code == cloudapi.CodePermissionDenied || e.Code == 200 {
			return &permissionError{msg: e.Message}
		}
		return e
	}
	return json.Unmarshal(resp.Body, out)
}

func (mo *Monitor) readNumber(ctx context.Context, pnid string, now time.Time) error {
	var f NumberFields
	err := graphGet(ctx, mo.client, "/"+url.PathEscape(pnid)+"?fields="+phoneFields, &f)
	if err != nil {
		var pe *permissionError
		if serr := mo.st.GraphHealthFailed(ctx, pnid, err.Error(), errors.As(err, &pe), now); serr != nil {
			return serr
		}
		return err
	}
	tier := f.PortfolioLimit
	if tier == "" {
		tier = f.Tier // before v24
	}
	g := store.GraphHealth{QualityRating: f.QualityRating, MessagingLimitTier: tier, Throughput: f.Throughput.Level,
		NameStatus: f.NameStatus, VerifiedName: f.VerifiedName}
	if sc, err := ReadStorage(ctx, mo.client, pnid); err == nil {
		g.StorageStatus, g.StorageRegion = sc.Status, sc.Region
	}
	if err := mo.st.ApplyGraphHealth(ctx, pnid, g, now); err != nil {
		return err
	}
	mo.Kick()
	return nil
}

// checkWebhooks raises the silence alarm when no delivery came for four
// times the week's average gap, and at least six hours: a quiet night is
// usual, a quiet day for a busy number is not. A new appliance that
// never heard from Meta raises nothing.
func (mo *Monitor) checkWebhooks(ctx context.Context, now time.Time) {
	last, week, err := mo.st.WebhookActivity(ctx, now)
	if err != nil || last == 0 {
		return
	}
	limit := 6 * time.Hour
	if week > 0 {
		if gap := 4 * 7 * 24 * time.Hour / time.Duration(week); gap > limit {
			limit = gap
		}
	}
	silent := now.Sub(time.Unix(last, 0))
	if silent > limit {
		mo.alarm(ctx, store.AlarmWebhooks, fmt.Sprintf("Seit %s kam kein Webhook von Meta (üblich: höchstens %s).",
			silent.Round(time.Minute), limit.Round(time.Minute)), now)
		return
	}
	mo.clear(ctx, store.AlarmWebhooks, "Webhooks von Meta kommen wieder an.", now)
}

func (mo *Monitor) checkDisk(ctx context.Context, now time.Time) {
	if mo.opts.DataDir == "" {
		return
	}
	var fs syscall.Statfs_t
	if err := syscall.Statfs(mo.opts.DataDir, &fs); err != nil || fs.Blocks == 0 {
		return
	}
	free := float64(fs.Bavail) / float64(fs.Blocks)
	mo.m.diskFree.Set(free)
	if free < mo.opts.DiskMinFree {
		mo.alarm(ctx, store.AlarmDisk, fmt.Sprintf("Die Festplatte des Datenverzeichnisses ist fast voll: %.1f %% frei.", free*100), now)
		return
	}
	mo.clear(ctx, store.AlarmDisk, "Auf der Festplatte des Datenverzeichnisses ist wieder genug Platz.", now)
}

func (mo *Monitor) checkFunc(ctx context.Context, now time.Time, key string, f func() error, raised, cleared string) {
	if f == nil {
		return
	}
	if err := f(); err != nil {
		mo.alarm(ctx, key, raised+err.Error(), now)
		return
	}
	mo.clear(ctx, key, cleared, now)
}

func (mo *Monitor) alarm(ctx context.Context, key, msg string, now time.Time) {
	if err := mo.st.RaiseAlarmAt(ctx, key, msg, now); err != nil {
		mo.log.Error("health: alarm", "key", key, "err", err)
	}
}

func (mo *Monitor) clear(ctx context.Context, key, msg string, now time.Time) {
	if err := mo.st.ClearAlarmAt(ctx, key, msg, now); err != nil {
		mo.log.Error("health: alarm", "key", key, "err", err)
	}
}

// SendMail sends what the queue holds; a failed mail waits (1 min, 2, 4,
// … at most an hour) and the panel shows the SMTP server's answer.
func (mo *Monitor) SendMail(ctx context.Context) {
	now := mo.opts.Now()
	due, err := mo.st.DueAlarmMails(ctx, now, 50)
	if err != nil || len(due) == 0 {
		return
	}
	cfg, err := LoadSMTP(ctx, mo.st)
	if err != nil {
		for _, m := range due {
			mo.failed(ctx, m, err, now)
		}
		return
	}
	for _, m := range due {
		msg, err := alarmMessage(cfg, m, mo.opts.Site)
		if err == nil {
			err = send(ctx, cfg, mo.opts.SMTPTLS, msg)
		}
		if err != nil {
			mo.failed(ctx, m, err, now)
			continue
		}
		mo.m.mails.WithLabelValues("sent").Inc()
		if err := mo.st.AlarmMailSent(ctx, m.ID, now); err != nil {
			mo.log.Error("health: mail sent", "err", err)
		}
	}
}

func (mo *Monitor) failed(ctx context.Context, m store.AlarmMail, err error, now time.Time) {
	mo.m.mails.WithLabelValues("failed").Inc()
	wait := mo.opts.RetryBase << min(m.Attempts, 6)
	if wait > time.Hour {
		wait = time.Hour
	}
	mo.log.Warn("health: alarm mail not sent", "alarm", m.AlarmKey, "attempt", m.Attempts+1, "retry_in", wait, "err", err)
	if serr := mo.st.AlarmMailFailed(ctx, m.ID, err.Error(), now.Add(wait)); serr != nil {
		mo.log.Error("health: mail failed", "err", serr)
	}
}

// Collector exposes the alarm gauges and mail counters.
func (mo *Monitor) Collector() prometheus.Collector { return mo.m }
