package tlsmgr

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	certNotAfterDesc = prometheus.NewDesc("pforte_tls_certificate_not_after_seconds",
		"Expiry of the certificate served for a name (Unix time); alert well before it.",
		[]string{"name", "source", "issuer"}, nil)
	certNotBeforeDesc = prometheus.NewDesc("pforte_tls_certificate_not_before_seconds",
		"Start of validity of the certificate served for a name (Unix time).",
		[]string{"name", "source", "issuer"}, nil)
	certRenewalDesc = prometheus.NewDesc("pforte_tls_certificate_last_renewal_seconds",
		"When this process last obtained, renewed or loaded the name's certificate (Unix time; 0 = not yet).",
		[]string{"name"}, nil)
	certErrorAtDesc = prometheus.NewDesc("pforte_tls_certificate_last_error_seconds",
		"When the last attempt to obtain, renew or load the certificate failed (Unix time; 0 = the last attempt succeeded).",
		[]string{"name"}, nil)
	certErrorsDesc = prometheus.NewDesc("pforte_tls_certificate_errors_total",
		"Failed attempts to obtain, renew or load the name's certificate.",
		[]string{"name"}, nil)
)

// certCollector reads the certificate state at scrape time, so the
// numbers are never stale.
type certCollector struct{ m *Manager }

func (c certCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{certNotAfterDesc, certNotBeforeDesc, certRenewalDesc, certErrorAtDesc, certErrorsDesc} {
		ch <- d
	}
}

func (c certCollector) Collect(ch chan<- prometheus.Metric) {
	for _, cs := range c.m.Status() {
		if !cs.NotAfter.IsZero() {
			ch <- prometheus.MustNewConstMetric(certNotAfterDesc, prometheus.GaugeValue, unixOrZero(cs.NotAfter), cs.Name, cs.Source, cs.Issuer)
			ch <- prometheus.MustNewConstMetric(certNotBeforeDesc, prometheus.GaugeValue, unixOrZero(cs.NotBefore), cs.Name, cs.Source, cs.Issuer)
		}
		ch <- prometheus.MustNewConstMetric(certRenewalDesc, prometheus.GaugeValue, unixOrZero(cs.LastRenewal), cs.Name)
		ch <- prometheus.MustNewConstMetric(certErrorAtDesc, prometheus.GaugeValue, unixOrZero(cs.LastErrorAt), cs.Name)
		ch <- prometheus.MustNewConstMetric(certErrorsDesc, prometheus.CounterValue, float64(cs.Errors), cs.Name)
	}
}

func unixOrZero(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.Unix())
}
