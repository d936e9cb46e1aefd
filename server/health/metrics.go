package health

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pforte/pforte/store"
)

// metrics are the alerts-ready gauges: one series per alarm kind that is
// 1 while any alarm of that kind stands, read from the store at scrape
// time so that they never disagree with the panel.
type metrics struct {
	st       *store.Store
	active   *prometheus.Desc
	quality  *prometheus.Desc
	pending  *prometheus.Desc
	failing  *prometheus.Desc
	mails    *prometheus.CounterVec
	diskFree prometheus.Gauge
}

// alarmKinds are reported even when 0, so alert rules see the series.
var alarmKinds = []string{store.AlarmQuality, store.AlarmTier, store.AlarmAccountBan, store.AlarmRestriction,
	store.AlarmTemplate, store.AlarmPermissions, store.AlarmWebhooks, store.AlarmDisk, store.AlarmCertificate,
	store.AlarmBackup, store.AlarmTokenExpired}

func newMetrics(st *store.Store) *metrics {
	return &metrics{st: st,
		active: prometheus.NewDesc("pforte_alarm_active", "Standing alarms by kind (quality, tier, account_ban, restriction, template, permissions, webhooks, disk, certificate, backup, access_token_expired).",
			[]string{"kind"}, nil),
		quality: prometheus.NewDesc("pforte_number_quality", "1 for the quality rating Meta last reported per business number.",
			[]string{"phone_number_id", "rating"}, nil),
		pending: prometheus.NewDesc("pforte_alarm_mails_pending", "Alarm e-mails waiting to be sent.", nil, nil),
		failing: prometheus.NewDesc("pforte_alarm_mail_failing", "1 while the newest attempt to send an alarm e-mail failed.", nil, nil),
		mails: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pforte_alarm_mails_total",
			Help: "Alarm e-mail attempts by result (sent, failed)."}, []string{"result"}),
		diskFree: prometheus.NewGauge(prometheus.GaugeOpts{Name: "pforte_data_disk_free_ratio",
			Help: "Free fraction of the data directory's file system at the last check."}),
	}
}

func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.active
	ch <- m.quality
	ch <- m.pending
	ch <- m.failing
	m.mails.Describe(ch)
	m.diskFree.Describe(ch)
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts := map[string]int{}
	if alarms, err := m.st.Alarms(ctx); err == nil {
		for _, a := range alarms {
			counts[store.AlarmKind(a.Key)]++
		}
	}
	for _, k := range alarmKinds {
		ch <- prometheus.MustNewConstMetric(m.active, prometheus.GaugeValue, float64(counts[k]), k)
	}
	if hs, err := m.st.NumberHealths(ctx); err == nil {
		for _, h := range hs {
			if h.QualityRating != "" {
				ch <- prometheus.MustNewConstMetric(m.quality, prometheus.GaugeValue, 1, h.PhoneNumberID, h.QualityRating)
			}
		}
	}
	if s, err := m.st.AlarmMailStatus(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(m.pending, prometheus.GaugeValue, float64(s.Pending))
		f := 0.0
		if s.Failing {
			f = 1
		}
		ch <- prometheus.MustNewConstMetric(m.failing, prometheus.GaugeValue, f)
	}
	m.mails.Collect(ch)
	m.diskFree.Collect(ch)
}
