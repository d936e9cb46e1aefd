package panel

import "github.com/pforte/pforte/server/tlsmgr"

// UseTLS tells the handlers (the panel) which certificates are served, so
// that they can show CertStatus.
func (s *Server) UseTLS(m *tlsmgr.Manager) { s.tls = m }

// CertStatus is the state of the served certificates, or nil when Pforte
// does not terminate TLS itself (plain HTTP or behind a proxy).
func (s *Server) CertStatus() []tlsmgr.CertStatus {
	if s.tls == nil {
		return nil
	}
	return s.tls.Status()
}
