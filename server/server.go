// Package server holds Pforte's HTTP side: the public listener (Meta's
// webhooks, health, the panel) and the internal one (the API, metrics),
// their middleware and handlers.
package server

import (
	"context"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pforte/pforte/server/outbox"
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
	// Panel configures the admin panel (panel.go).
	Panel PanelConfig

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
	Jobs Jobs
	// Sender delivers outbound messages (proxy, queued send API); nil
	// answers those routes with 503.
	Sender *outbox.Sender
	// OnIngest, if set, is called after a delivery with new messages was
	// stored (it wakes the media fetcher).
	OnIngest func(store.IngestResult)
}

// Server serves both listeners from one set of dependencies.
type Server struct {
	cfg     Config
	store   *store.Store
	log     *slog.Logger
	metrics *Metrics
	now     func() time.Time
	panel   *panelState
	secrets atomic.Pointer[[][]byte] // app secrets changed in the panel (secrets.go)
	tls     *TLSManager              // nil unless Pforte terminates TLS (see UseTLS)
}

// New builds a Server. reg receives the Prometheus collectors.
func New(cfg Config, st *store.Store, log *slog.Logger, m *Metrics) *Server {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if m == nil {
		m = NewMetrics(prometheus.NewRegistry())
	}
	s := &Server{cfg: cfg, store: st, log: log, metrics: m, now: time.Now}
	s.panel = newPanelState(cfg.Panel)
	s.panel.throttled = newThrottledAudit(s.writeAudit)
	if s.panel.cfg.Sender == nil && cfg.Sender != nil {
		s.panel.cfg.Sender = outboxSender{s}
	}
	return s
}

// PublicHandler serves the listener Meta and the panel's users reach.
func (s *Server) PublicHandler() http.Handler {
	return s.recoverPanics(s.logRequests(s.publicRoutes()))
}

// InternalHandler serves the API for the company's own systems.
func (s *Server) InternalHandler() http.Handler {
	return s.recoverPanics(s.logRequests(s.internalRoutes()))
}
