// Package mediafetch keeps a local copy of every inbound media file: it
// asks Meta for the short-lived URL, downloads with the token, checks the
// SHA-256 from the webhook and stores the file by content hash. It works
// from a queue in the database, so webhook acknowledgement never waits
// for it and a restart loses nothing.
package mediafetch

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// Config tunes the fetcher; zero values take defaults.
type Config struct {
	Workers     int           // parallel downloads (default 4)
	MaxAttempts int           // before a file is marked failed (default 10)
	BaseBackoff time.Duration // first retry delay, doubled per attempt (default 15 s)
	MaxBackoff  time.Duration // default 1 h
	Lease       time.Duration // a claimed job is retried after this if Pforte dies (default 10 min)
	Poll        time.Duration // how often the queue is checked without a kick (default 2 s)
	// MaxAge: Meta keeps webhook media ids for 7 days; older jobs fail.
	MaxAge time.Duration
}

func (c *Config) defaults() {
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 10
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = 15 * time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Hour
	}
	if c.Lease <= 0 {
		c.Lease = 10 * time.Minute
	}
	if c.Poll <= 0 {
		c.Poll = 2 * time.Second
	}
	if c.MaxAge <= 0 {
		c.MaxAge = 7 * 24 * time.Hour
	}
}

// Fetcher downloads queued media.
type Fetcher struct {
	cfg    Config
	store  *store.Store
	client *cloudapi.Client
	log    *slog.Logger
	kick   chan struct{}

	stored, failed, retried prometheus.Counter
	bytes                   prometheus.Counter
}

// New builds a fetcher; reg receives its metrics (nil for none).
func New(cfg Config, st *store.Store, client *cloudapi.Client, log *slog.Logger, reg prometheus.Registerer) *Fetcher {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Fetcher{cfg: cfg, store: st, client: client, log: log, kick: make(chan struct{}, 1),
		stored:  prometheus.NewCounter(prometheus.CounterOpts{Name: "pforte_media_stored_total", Help: "Media files downloaded, verified and stored."}),
		failed:  prometheus.NewCounter(prometheus.CounterOpts{Name: "pforte_media_failed_total", Help: "Media files given up on (the message is kept and shows the failure)."}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{Name: "pforte_media_retries_total", Help: "Media download attempts that failed and were scheduled again."}),
		bytes:   prometheus.NewCounter(prometheus.CounterOpts{Name: "pforte_media_bytes_total", Help: "Bytes of media downloaded."}),
	}
	if reg != nil {
		reg.MustRegister(f.stored, f.failed, f.retried, f.bytes)
	}
	return f
}

// Kick wakes the fetcher (after a webhook brought media).
func (f *Fetcher) Kick() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Run works the queue until ctx ends, then waits for downloads in flight.
func (f *Fetcher) Run(ctx context.Context) {
	jobs := make(chan store.MediaJob)
	var wg sync.WaitGroup
	for range f.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				f.handle(ctx, j)
			}
		}()
	}
	defer func() {
		close(jobs)
		wg.Wait()
	}()
	for ctx.Err() == nil {
		batch, err := f.store.ClaimMedia(ctx, time.Now(), f.cfg.Lease, f.cfg.Workers*4)
		if err != nil && ctx.Err() == nil {
			f.log.Error("media: reading queue", "err", err)
		}
		for _, j := range batch {
			select {
			case jobs <- j:
			case <-ctx.Done():
				return
			}
		}
		if len(batch) > 0 {
			continue
		}
		t := time.NewTimer(f.cfg.Poll)
		select {
		case <-f.kick:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
}

// permanentError marks failures that retrying cannot fix.
type permanentError struct{ msg string }

func (e *permanentError) Error() string { return e.msg }

func (f *Fetcher) handle(ctx context.Context, j store.MediaJob) {
	// A download that started finishes and is recorded even during shutdown.
	ctx = context.WithoutCancel(ctx)
	dctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	err := f.fetch(dctx, j)
	if err == nil {
		f.stored.Inc()
		return
	}
	var perm *permanentError
	switch {
	case errors.As(err, &perm) || j.Attempts >= f.cfg.MaxAttempts:
		f.failed.Inc()
		f.log.Warn("media: giving up", "message_id", j.MessageID, "attempts", j.Attempts, "err", err)
		if e := f.store.MediaFailed(ctx, j.ID, err.Error()); e != nil {
			f.log.Error("media: failure not recorded", "err", e)
		}
	default:
		f.retried.Inc()
		d := f.cfg.BaseBackoff << min(j.Attempts-1, 20)
		if d > f.cfg.MaxBackoff || d <= 0 {
			d = f.cfg.MaxBackoff
		}
		d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
		f.log.Info("media: download failed; will retry", "message_id", j.MessageID, "attempt", j.Attempts, "in", d.Round(time.Second), "err", err)
		if e := f.store.MediaRetry(ctx, j.ID, err.Error(), time.Now().Add(d)); e != nil {
			f.log.Error("media: retry not recorded", "err", e)
		}
	}
}

func (f *Fetcher) fetch(ctx context.Context, j store.MediaJob) error {
	if time.Since(time.Unix(j.ReceivedAt, 0)) > f.cfg.MaxAge {
		return &permanentError{"Meta keeps media of incoming messages for 7 days; this one is older"}
	}
	limit := limitFor(j.MessageType, j.MimeType)
	tmp, err := f.store.NewMediaTemp()
	if err != nil {
		return err
	}
	defer tmp.Discard()
	var info *cloudapi.MediaInfo
	var contentType string
	// The URL lives five minutes: when a download says it expired, ask for
	// a fresh one and go again at once.
	for try := 0; ; try++ {
		info, err = f.client.MediaInfo(ctx, j.MediaID, j.PhoneNumberID)
		if err != nil {
			var gerr *cloudapi.Error
			if errors.As(err, &gerr) && (gerr.Code == cloudapi.CodeInvalidParameter || gerr.Code == cloudapi.CodeMediaDownload || gerr.Code == cloudapi.CodeMediaUpload) {
				return &permanentError{fmt.Sprintf("Meta cannot provide the file (error %d): %s", gerr.Code, gerr.Message)}
			}
			return fmt.Errorf("media url: %w", err)
		}
		if n, ok := info.FileSize.Int64(); ok && n > limit {
			return &permanentError{fmt.Sprintf("file of %d bytes is larger than the %d allowed for %s", n, limit, j.MessageType)}
		}
		if err := tmp.Reset(); err != nil {
			return err
		}
		_, contentType, err = f.client.Download(ctx, info.URL, tmp, limit)
		var gerr *cloudapi.Error
		if errors.As(err, &gerr) && (gerr.HTTPStatus == http.StatusNotFound || gerr.HTTPStatus == http.StatusUnauthorized || gerr.HTTPStatus == http.StatusForbidden) && try < 2 {
			continue
		}
		if errors.Is(err, cloudapi.ErrTooLarge) {
			return &permanentError{fmt.Sprintf("file is larger than the %d bytes allowed for %s", limit, j.MessageType)}
		}
		if err != nil {
			return fmt.Errorf("download: %w", err)
		}
		break
	}
	want := j.SHA256
	if want == "" {
		want = info.SHA256
	}
	got := base64.StdEncoding.EncodeToString(tmp.Sum())
	if want == "" || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(want)), []byte(got)) != 1 {
		// Corrupted or tampered in transit; a fresh download may be fine.
		return fmt.Errorf("sha256 mismatch: Meta said %q, the download has %q", want, got)
	}
	rel, err := tmp.Commit()
	if err != nil {
		return err
	}
	f.bytes.Add(float64(tmp.Size()))
	mt := j.MimeType
	if mt == "" {
		mt = info.MimeType
	}
	if mt == "" {
		mt = contentType
	}
	return f.store.MediaStored(ctx, j.ID, store.StoredMedia{Path: rel, Size: tmp.Size(), MimeType: mt, SHA256: got,
		Filename: cloudapi.Filename(j.Filename, j.MessageType, mt, j.MessageID)})
}

// limitFor is the size allowed for an inbound file of a message type.
func limitFor(msgType, mimeType string) int64 {
	if cloudapi.IsMediaType(msgType) {
		if msgType == "sticker" {
			return cloudapi.MaxSticker
		}
		return max(cloudapi.MaxSize(msgType), cloudapi.MaxSize(cloudapi.KindOfMIME(mimeType)))
	}
	return cloudapi.MaxInbound
}
