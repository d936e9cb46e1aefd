package panel_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// fixedStatus reports figures no real disk or queue would have.
type fixedStatus struct{}

func (fixedStatus) CertExpiry() time.Time { return time.Date(2031, 7, 4, 12, 0, 0, 0, time.UTC) }
func (fixedStatus) DiskFree() int64       { return 3 << 40 / 2 } // 1,5 TiB
func (fixedStatus) Queues(context.Context) (panel.Queues, error) {
	return panel.Queues{OutboxWaiting: 4711, Subscriptions: []panel.SubscriptionQueue{{Name: "Warenwirtschaft", Pending: 17, Dead: 2}}}, nil
}

// TestDashboardShowsStatus: with a Status the dashboard shows its free
// disk space, certificate expiry and queues instead of its own figures.
func TestDashboardShowsStatus(t *testing.T) {
	g := testenv.New(t, testenv.Options{Panel: panel.Config{Status: fixedStatus{}}})
	admin := addUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	b := sessionFor(t, g, admin)
	p := b.get("/dashboard")
	if p.status != http.StatusOK {
		t.Fatalf("dashboard: %d", p.status)
	}
	for _, want := range []string{"1,5 TiB", "04.07.2031", "4.711", "Weiterleitung Warenwirtschaft"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("dashboard lacks %q", want)
		}
	}
}
