package cli

import (
	"context"
	"syscall"
	"time"

	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/tlsmgr"
	"github.com/pforte/pforte/store"
)

// serverStatus gives the panel's dashboard the running server's figures:
// certificates from the TLS manager, free space of the data directory,
// and the outbox's and fan-out's backlogs.
type serverStatus struct {
	tls     *tlsmgr.Manager // nil without HTTPS
	st      *store.Store
	dataDir string
}

var _ panel.Status = (*serverStatus)(nil)

// CertExpiry is the earliest expiry of the certificates in use.
func (s *serverStatus) CertExpiry() time.Time {
	var first time.Time
	if s.tls == nil {
		return first
	}
	for _, c := range s.tls.Status() {
		if !c.NotAfter.IsZero() && (first.IsZero() || c.NotAfter.Before(first)) {
			first = c.NotAfter
		}
	}
	return first
}

// DiskFree is what an unprivileged process may still write to the data
// directory's file system (0 when it cannot be measured).
func (s *serverStatus) DiskFree() int64 {
	var fs syscall.Statfs_t
	if err := syscall.Statfs(s.dataDir, &fs); err != nil {
		return 0
	}
	return int64(fs.Bavail) * int64(fs.Bsize)
}

// Queues reads the backlogs from the store.
func (s *serverStatus) Queues(ctx context.Context) (panel.Queues, error) {
	return panel.StoreQueues(ctx, s.st)
}
