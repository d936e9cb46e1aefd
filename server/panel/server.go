// Package panel is Pforte's human face: the inbox, contacts, templates,
// team and settings pages in German and English, with sessions, roles,
// two-factor login, throttling, a strict CSP and live events. The command
// package mounts it on the public listener beside the gateway; the two
// faces never import each other.
package panel

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/pforte/pforte/server/automation"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/tlsmgr"
	"github.com/pforte/pforte/store"
)

// Server serves the panel.
type Server struct {
	cfg   Config
	store *store.Store
	log   *slog.Logger
	now   func() time.Time
	panel *panelState
	tls   *tlsmgr.Manager // nil unless Pforte terminates TLS (see UseTLS)
}

// New builds the panel.
func New(cfg Config, st *store.Store, log *slog.Logger) *Server {
	if cfg.Secrets == nil {
		cfg.Secrets = cloudapi.NewAppSecrets(nil)
	}
	s := &Server{store: st, log: log, now: time.Now}
	if cfg.Automations == nil {
		cfg.Automations = automation.NewSettings(st, func() time.Time { return s.now() })
	}
	s.panel = newPanelState(cfg)
	s.cfg = s.panel.cfg
	s.panel.throttled = newThrottledAudit(s.writeAudit)
	if s.panel.cfg.Sender == nil && cfg.Outbox != nil {
		s.panel.cfg.Sender = outboxSender{s}
	}
	return s
}

// Handler serves every panel route; the gateway mounts it on the public
// listener for the paths that are not its own.
func (s *Server) Handler() http.Handler { return s.routes() }

// appSecrets are the Meta app secrets in force.
func (s *Server) appSecrets() [][]byte { return s.cfg.Secrets.Load() }

// setAppSecrets makes a secret saved in the settings the one in force.
func (s *Server) setAppSecrets(v [][]byte) { s.cfg.Secrets.Save(v...) }
