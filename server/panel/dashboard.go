package panel

import (
	"context"
	"net/http"
	"sync"
	"syscall"
	"time"

	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// alarms are the standing problems Pforte raised (an expired token, ...).
func (s *Server) alarms(ctx context.Context) ([]web.AlarmVM, error) {
	list, err := s.store.Alarms(ctx)
	if err != nil {
		return nil, err
	}
	var out []web.AlarmVM
	for _, a := range list {
		out = append(out, web.AlarmVM{Message: a.Message, Since: time.Unix(a.RaisedAt, 0), Count: a.Count})
	}
	return out, nil
}

// dashCache keeps the dashboard's aggregate figures for a short while:
// they scan weeks of messages, and a summary half a minute old is fresh
// enough ("Aktualisieren" recomputes at once).
type dashCache struct {
	mu   sync.Mutex
	at   time.Time
	days []store.DayCount
	ov   *store.Overview
}

const dashTTL = 30 * time.Second

func (s *Server) dashFigures(ctx context.Context, fresh bool) ([]store.DayCount, *store.Overview, time.Time, error) {
	c := &s.panel.dash
	c.mu.Lock()
	defer c.mu.Unlock()
	now := s.now()
	if !fresh && c.ov != nil && now.Sub(c.at) < dashTTL {
		return c.days, c.ov, c.at, nil
	}
	days, err := s.store.MessagesPerDay(ctx, 14, now, web.Location(ctx))
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	o, err := s.store.Overview(ctx, now)
	if err != nil {
		return nil, nil, time.Time{}, err
	}
	c.days, c.ov, c.at = days, o, now
	return days, o, now, nil
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	days, o, _, err := s.dashFigures(ctx, r.URL.Query().Get("fresh") == "1")
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	vm := web.DashboardVM{
		Open: o.OpenConversations, Unassigned: o.UnassignedOpen, FailedSends: o.FailedSends7d,
		ResponseMedian: time.Duration(o.ResponseMedianSecs) * time.Second, ResponseP90: time.Duration(o.ResponseP90Secs) * time.Second,
		ResponseSamples: o.ResponseSamples, MediaPending: o.MediaPending, MediaFailed: o.MediaFailed,
		Deliveries24h: o.Deliveries24h, ParseErrors24h: o.ParseErrors24h, DBBytes: o.DBBytes, MediaBytes: o.MediaBytes,
	}
	if o.LastWebhookAt > 0 {
		vm.LastWebhook = time.Unix(o.LastWebhookAt, 0)
	}
	for _, d := range days {
		vm.Days = append(vm.Days, web.DayVM{Day: d.Day, In: d.Inbound, Out: d.Outbound})
		vm.MaxPerDay = max(vm.MaxPerDay, d.Inbound, d.Outbound)
		vm.TotalIn += d.Inbound
		vm.TotalOut += d.Outbound
	}
	var q Queues
	if st := s.panel.cfg.Status; st != nil {
		vm.CertExpiry, vm.DiskFree = st.CertExpiry(), st.DiskFree()
		q, err = st.Queues(ctx)
	} else {
		q, err = StoreQueues(ctx, s.store)
	}
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	if vm.DiskFree == 0 {
		vm.DiskFree = diskFree(s.store.Dir())
	}
	if s.tls != nil {
		for _, c := range s.tls.Status() {
			if !c.NotAfter.IsZero() && (vm.CertExpiry.IsZero() || c.NotAfter.Before(vm.CertExpiry)) {
				vm.CertExpiry = c.NotAfter
			}
			if c.LastError != "" {
				vm.CertError = c.LastError
			}
		}
	}
	vm.Queues = append(vm.Queues,
		web.QueueVM{Name: web.T(ctx, "Ausgang: wartend"), Depth: q.OutboxWaiting},
		web.QueueVM{Name: web.T(ctx, "Ausgang: Zustellung unklar"), Depth: q.OutboxUnknown, Note: web.T(ctx, "nach einem Abbruch; nicht automatisch wiederholt")})
	for _, sub := range q.Subscriptions {
		vm.Queues = append(vm.Queues, web.QueueVM{Name: web.Tf(ctx, "Weiterleitung %s", sub.Name), Depth: int(sub.Pending),
			Note: web.Tf(ctx, "%s aufgegeben", web.Num(ctx, sub.Dead))})
	}
	if vm.Alarms, err = s.alarms(ctx); err != nil {
		s.storeFail(w, r, err)
		return
	}
	costs, err := s.store.AutomationCosts(ctx, s.now().Add(-30*24*time.Hour))
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	for _, c := range costs {
		vm.Automations = append(vm.Automations, web.AutomationCostVM{Rule: ruleLabel(ctx, c.Rule), Sent: c.Sent, Billable: c.Billable})
	}
	perAgent, perNumber, err := s.store.SurveyResults(ctx, s.now().Add(-30*24*time.Hour))
	if err != nil {
		s.storeFail(w, r, err)
		return
	}
	for _, a := range perAgent {
		who := a.Key
		if who == "" {
			who = web.T(ctx, "niemand zugewiesen")
		}
		vm.Satisfaction = append(vm.Satisfaction, web.SatisfactionVM{Who: web.Tf(ctx, "Mitarbeiter/in %s", who), Answered: a.Answered, Percent: int(a.Percent + 0.5)})
	}
	for _, n := range perNumber {
		vm.Satisfaction = append(vm.Satisfaction, web.SatisfactionVM{Who: web.Tf(ctx, "Rufnummer %s", n.Key), Answered: n.Answered, Percent: int(n.Percent + 0.5)})
	}
	s.page(w, r, http.StatusOK, web.Chrome{Title: web.T(ctx, "Übersicht"), Nav: "dashboard"}, web.Dashboard(vm))
}

// diskFree is the space left for the data directory (0 when unknown).
func diskFree(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return int64(st.Bavail) * int64(st.Bsize)
}
