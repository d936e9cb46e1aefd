package fanout

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pforte/pforte/store"
)

// Queues returns every subscription with its queue state (depth, oldest
// waiting delivery, dead letters, last error), for the panel and the API.
func (w *Worker) Queues(ctx context.Context) ([]*store.Subscription, error) {
	return w.st.Subscriptions(ctx)
}

var (
	descPending = prometheus.NewDesc("pforte_fanout_queue_depth",
		"Deliveries waiting to be forwarded, per subscription.", []string{"subscription"}, nil)
	descDead = prometheus.NewDesc("pforte_fanout_dead_letters",
		"Deliveries given up on after the retry period, per subscription; replay them with pforte fanout replay.", []string{"subscription"}, nil)
	descOldest = prometheus.NewDesc("pforte_fanout_oldest_pending_age_seconds",
		"Age of the oldest waiting delivery, per subscription; 0 when none waits.", []string{"subscription"}, nil)
	descDelivered = prometheus.NewDesc("pforte_fanout_delivered_total",
		"Deliveries a subscription's receiver accepted.", []string{"subscription"}, nil)
	descFailed = prometheus.NewDesc("pforte_fanout_failed_attempts_total",
		"Attempts a subscription's receiver did not accept.", []string{"subscription"}, nil)
	descLastSuccess = prometheus.NewDesc("pforte_fanout_last_success_timestamp_seconds",
		"When a subscription's receiver last accepted a delivery; 0 if never.", []string{"subscription"}, nil)
	descEnabled = prometheus.NewDesc("pforte_fanout_subscription_enabled",
		"1 if the subscription is enabled.", []string{"subscription"}, nil)
)

// Collector returns a Prometheus collector that reads the queue state from
// the database on each scrape, so the numbers are right across restarts and
// include work queued by other processes.
func (w *Worker) Collector() prometheus.Collector { return collector{w} }

type collector struct{ w *Worker }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPending, descDead, descOldest, descDelivered, descFailed, descLastSuccess, descEnabled} {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	subs, err := c.w.st.Subscriptions(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descPending, err)
		return
	}
	now := c.w.o.Now()
	for _, s := range subs {
		id := strconv.FormatInt(s.ID, 10)
		q := s.Queue
		enabled := 0.0
		if s.Enabled {
			enabled = 1
		}
		lastSuccess := 0.0
		if q.LastSuccessAt > 0 {
			lastSuccess = float64(q.LastSuccessAt) / 1000
		}
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(q.Pending), id)
		ch <- prometheus.MustNewConstMetric(descDead, prometheus.GaugeValue, float64(q.Dead), id)
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, q.OldestAge(now).Seconds(), id)
		ch <- prometheus.MustNewConstMetric(descDelivered, prometheus.CounterValue, float64(q.Delivered), id)
		ch <- prometheus.MustNewConstMetric(descFailed, prometheus.CounterValue, float64(q.FailedAttempts), id)
		ch <- prometheus.MustNewConstMetric(descLastSuccess, prometheus.GaugeValue, lastSuccess, id)
		ch <- prometheus.MustNewConstMetric(descEnabled, prometheus.GaugeValue, enabled, id)
	}
}
