package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/mediafetch"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
)

// sendingConfig holds the outbox and media settings of "pforte serve".
type sendingConfig struct {
	Rate         float64
	PairInterval time.Duration
	PairBurst    int
	Concurrency  int
	MaxAttempts  int
	MediaWorkers int
}

func (c *sendingConfig) flags(fs *flag.FlagSet) {
	fs.Float64Var(&c.Rate, "send-rate", 80, "messages per second per business number (Meta's throughput; 20 for Coexistence numbers)")
	fs.DurationVar(&c.PairInterval, "pair-interval", 6*time.Second, "pace of messages to one customer (Meta: about one per 6 s)")
	fs.IntVar(&c.PairBurst, "pair-burst", 45, "messages to one customer that may go out at once before the pace applies")
	fs.IntVar(&c.Concurrency, "send-concurrency", 32, "requests to Meta's send endpoint in flight")
	fs.IntVar(&c.MaxAttempts, "send-attempts", 8, "tries of a message that keeps failing transiently before it fails")
	fs.IntVar(&c.MediaWorkers, "media-workers", 4, "parallel downloads of inbound media")
}

func (c *sendingConfig) validate() error {
	switch {
	case c.Rate <= 0 || c.Rate > 1000:
		return settingError("send-rate", fmt.Sprint(c.Rate), "want 1 to 1000 messages per second (Meta allows 80, or 1000 after an upgrade)")
	case c.PairInterval < 0:
		return settingError("pair-interval", c.PairInterval.String(), "must not be negative")
	case c.PairBurst < 1:
		return settingError("pair-burst", fmt.Sprint(c.PairBurst), "want at least 1")
	case c.Concurrency < 1 || c.Concurrency > 1024:
		return settingError("send-concurrency", fmt.Sprint(c.Concurrency), "want 1 to 1024")
	case c.MaxAttempts < 1:
		return settingError("send-attempts", fmt.Sprint(c.MaxAttempts), "want at least 1")
	case c.MediaWorkers < 1 || c.MediaWorkers > 64:
		return settingError("media-workers", fmt.Sprint(c.MediaWorkers), "want 1 to 64")
	}
	return nil
}

// sending is the running outbox worker and media fetcher.
type sending struct {
	sender   *outbox.Sender
	fetcher  *mediafetch.Fetcher
	cancel   context.CancelFunc
	done     chan struct{}
	onIngest func(store.IngestResult)
}

// startSending starts the outbox worker and the media fetcher on the
// process's one Meta client. Without an access token at start there is
// nothing to send with: both stay off and the send routes answer 503
// saying so.
func startSending(cfg *serveConfig, st *store.Store, client *cloudapi.Client, tokenSet bool, log *slog.Logger, reg prometheus.Registerer) (*sending, error) {
	s := &sending{done: make(chan struct{})}
	if !tokenSet {
		log.Warn("no Meta access token: sending and media downloads are off until --access-token (PFORTE_ACCESS_TOKEN) is given")
		close(s.done)
		s.cancel = func() {}
		return s, nil
	}
	sc := cfg.Sending
	s.sender = outbox.New(outbox.Config{Rate: sc.Rate, PairInterval: sc.PairInterval, PairBurst: sc.PairBurst,
		Concurrency: sc.Concurrency, MaxAttempts: sc.MaxAttempts}, st, client, log.With("part", "outbox"), reg)
	s.fetcher = mediafetch.New(mediafetch.Config{Workers: sc.MediaWorkers}, st, client, log.With("part", "media"), reg)
	// The workers get their own context: on shutdown the listeners stop
	// first, then the workers finish the attempts they started.
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	if err := s.sender.Start(ctx); err != nil {
		cancel()
		return nil, err
	}
	go func() {
		defer close(s.done)
		s.fetcher.Run(ctx)
		s.sender.Wait()
	}()
	s.onIngest = func(store.IngestResult) { s.fetcher.Kick() }
	return s, nil
}

// stop ends the workers after their attempts in flight; safe to call twice.
func (s *sending) stop() {
	s.cancel()
	<-s.done
}
