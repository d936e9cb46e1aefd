package cli

import (
	"context"
	"testing"

	"github.com/pforte/pforte/store"
)

// TestServerStatus: the dashboard's figures come from the data directory
// and the store; without HTTPS there is no certificate to report.
func TestServerStatus(t *testing.T) {
	dir := t.TempDir()
	st, err := store.Open(context.Background(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := &serverStatus{st: st, dataDir: dir}
	if s.DiskFree() <= 0 {
		t.Errorf("disk free of %s: %d", dir, s.DiskFree())
	}
	if !s.CertExpiry().IsZero() {
		t.Errorf("cert expiry without TLS: %v", s.CertExpiry())
	}
	q, err := s.Queues(context.Background())
	if err != nil || q.OutboxWaiting != 0 || len(q.Subscriptions) != 0 {
		t.Errorf("queues of an empty store: %+v, %v", q, err)
	}
}
