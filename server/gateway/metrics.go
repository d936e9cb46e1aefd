package gateway

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are Pforte's Prometheus collectors, registered on one registry
// that main owns; nothing is registered globally.
type Metrics struct {
	reg           *prometheus.Registry
	deliveries    *prometheus.CounterVec
	verifications *prometheus.CounterVec
	duplicates    prometheus.Counter
	parseErrors   prometheus.Counter
	unreadable    *prometheus.CounterVec
	messages      prometheus.Counter
	statuses      prometheus.Counter
	events        prometheus.Counter
	ackLatency    prometheus.Histogram
	commitBatch   prometheus.Histogram
	commitLatency prometheus.Histogram
	commitErrors  prometheus.Counter
	priced        *prometheus.CounterVec
}

// NewMetrics creates and registers the collectors on reg.
func NewMetrics(reg *prometheus.Registry) *Metrics {
	m := &Metrics{
		reg: reg,
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pforte_webhook_deliveries_total",
			Help: "Webhook POSTs by outcome: accepted, bad_signature, too_large, unavailable, unconfigured, read_error.",
		}, []string{"result"}),
		verifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pforte_webhook_verifications_total",
			Help: "Meta subscription handshakes by outcome.",
		}, []string{"result"}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pforte_webhook_duplicate_deliveries_total",
			Help: "Accepted deliveries whose exact body had been stored before.",
		}),
		parseErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pforte_webhook_parse_errors_total",
			Help: "Authentic deliveries that could not be fully parsed and were stored raw.",
		}),
		unreadable: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pforte_webhook_unreadable_items_total",
			Help: "Items of a delivery (message, status, contact, ...) that could not be read and were kept raw; the rest of the delivery was stored.",
		}, []string{"kind"}),
		messages: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pforte_messages_stored_total", Help: "New inbound messages stored.",
		}),
		statuses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pforte_statuses_stored_total", Help: "New delivery receipts stored.",
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pforte_events_stored_total", Help: "Other webhook events (errors, template and account updates) stored.",
		}),
		ackLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pforte_webhook_ack_seconds", Help: "Time from request start to durable acknowledgement.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}),
		commitBatch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pforte_store_commit_batch_size", Help: "Writes carried by one group commit.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 11),
		}),
		commitLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "pforte_store_commit_seconds", Help: "Duration of one group commit including fsync.",
			Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14),
		}),
		commitErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "pforte_store_commit_errors_total", Help: "Group commits that failed and were rolled back.",
		}),
	}
	reg.MustRegister(m.deliveries, m.verifications, m.duplicates, m.parseErrors, m.unreadable, m.messages, m.statuses, m.events,
		m.ackLatency, m.commitBatch, m.commitLatency, m.commitErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.priced = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pforte_priced_messages_total",
		Help: "Pricing objects Meta reported on status webhooks, by category (as Meta names it), pricing type and billable.",
	}, []string{"category", "type", "billable"})
	reg.MustRegister(m.priced)
	return m
}

// ObserveCommit records one group commit; it is the store's OnCommit hook.
func (m *Metrics) ObserveCommit(writes int, took time.Duration, err error) {
	if err != nil {
		m.commitErrors.Inc()
		return
	}
	m.commitBatch.Observe(float64(writes))
	m.commitLatency.Observe(took.Seconds())
}

// Handler serves the registry in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}
