// Package gateway is Pforte's machine face: Meta's webhooks and the
// customers' secure-link pages on the public listener, and on the internal
// one the /api/v1 API, the Graph-compatible proxy and the metrics. It is
// the only place that speaks Meta's error codes to clients; the panel, the
// human face, is mounted beside it by the command package.
package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/pforte/pforte/server/automation"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pforte/pforte/jobs"
	"github.com/pforte/pforte/server/campaign"
	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/server/templates"
	"github.com/pforte/pforte/store"
)

// DefaultMaxBody is the webhook body limit. Meta sends up to 3 MB.
const DefaultMaxBody = 4 << 20

// Config is what the handlers need to know.
type Config struct {
	// AppSecrets verify X-Hub-Signature-256. Several are accepted so that a
	// rotated secret does not lose deliveries in flight.
	AppSecrets [][]byte
	// VerifyToken answers Meta's subscription handshake.
	VerifyToken string
	// MaxBody caps a webhook body; larger ones get 413.
	MaxBody int64
	// Secrets, if set, is the app-secret holder shared with the panel;
	// New makes one from AppSecrets otherwise.
	Secrets *cloudapi.AppSecrets
	// PublicURL is how customers reach the public listener, for secure
	// links (e.g. https://chat.example.de); empty disables them.
	PublicURL string
	// Location is the company's time zone (legal hold presets end on 31 Dec there).
	Location *time.Location
	// DeleteMetaMedia deletes a file Pforte uploaded to Meta (DELETE
	// /{media-id}); used after an erasure. Nil, or cloudapi.ErrNoToken, skips it.
	DeleteMetaMedia func(ctx context.Context, mediaID string) error
	// Processing fills in the record of processing activities.
	Processing store.ProcessingContext
	// Jobs shows and starts the scheduled jobs (retention, backup,
	// maintenance); nil without a scheduler.
	Jobs jobs.Runner
	// Sender delivers outbound messages (proxy, queued send API); nil
	// answers those routes with 503.
	Sender *outbox.Sender
	// OnIngest, if set, is called after every delivery that was stored
	// (acknowledged): the one hook through which the panel's live events,
	// the media fetcher and the stop replier learn of new data.
	OnIngest func(*store.Delivery, store.IngestResult)
	// Campaigns runs campaigns and the double opt-in; nil answers the
	// campaign routes with 503.
	Campaigns *campaign.Engine
	// Automations reads and saves business hours and automatic replies;
	// New makes one on the store when nil.
	Automations *automation.Settings
	// Templates syncs and manages message templates at Meta; nil answers
	// the managing routes with 503 (the list still works).
	Templates *templates.Manager
}

// Server serves the machine face of both listeners.
type Server struct {
	cfg     Config
	store   *store.Store
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time
	secrets *cloudapi.AppSecrets
}

// New builds a Server. m receives the Prometheus collectors.
func New(cfg Config, st *store.Store, log *slog.Logger, m *Metrics) *Server {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if m == nil {
		m = NewMetrics(prometheus.NewRegistry())
	}
	if cfg.Secrets == nil {
		cfg.Secrets = cloudapi.NewAppSecrets(cfg.AppSecrets)
	}
	if cfg.Automations == nil {
		cfg.Automations = automation.NewSettings(st, nil)
	}
	return &Server{cfg: cfg, store: st, log: log, metrics: m, now: time.Now, secrets: cfg.Secrets}
}

// PublicHandler serves the listener Meta and people reach: the webhook,
// health and secure links, and every other path through human (the panel).
func (s *Server) PublicHandler(human http.Handler) http.Handler {
	return s.recoverPanics(s.logRequests(s.publicRoutes(human)))
}

// InternalHandler serves the API for the company's own systems.
func (s *Server) InternalHandler() http.Handler {
	return s.recoverPanics(s.logRequests(s.internalRoutes()))
}
