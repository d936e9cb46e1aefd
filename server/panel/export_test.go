package panel

import (
	"strings"
	"time"
)

// Internals the black-box tests need.
var (
	TOTPCode     = totpCode
	TOTPStep     = int64(totpStep)
	RecoveryHash = recoveryHash
)

// SendBody builds Meta's request body for a composer message.
var SendBody = sendBody

// SetClock replaces the server's clock; call it before the first request.
func (s *Server) SetClock(now func() time.Time) { s.now = now }

// ArgonCalls counts the argon2 hashes the server's handlers computed.
func (s *Server) ArgonCalls() int64 { return s.panel.argon.n.Load() }

// Throttle figures for the tests.
const (
	PairLimit        = int(pairLimit)
	IPLimit          = int(ipLimit)
	AccountLimit     = int(accountLimit)
	PairMax          = pairMax
	AccountMax       = accountMax
	KnownGoodMaxLock = knownGoodMaxLock
	AuditWindow      = throttledAuditWindow
)

// PagePaths lists the paths of the panel's GET routes, as the route table
// declares them, without the live event stream (not a page).
func (s *Server) PagePaths() []string {
	var out []string
	for _, rt := range s.routeTable() {
		if path, ok := strings.CutPrefix(rt.pattern, "GET "); ok && path != eventsPath {
			out = append(out, path)
		}
	}
	return out
}
