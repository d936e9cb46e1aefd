package gateway

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/pforte/pforte/store"
)

// addPricing fills in what Meta reported each outbound message costs.
func (s *Server) addPricing(ctx context.Context, msgs []*MessageJSON) error {
	var ids []string
	for _, m := range msgs {
		if m.Direction == "outbound" && m.ID != "" {
			ids = append(ids, m.ID)
		}
	}
	prices, err := s.store.PricingByWAMID(ctx, ids)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if p, ok := prices[m.ID]; ok {
			m.Pricing = &p
		}
	}
	return nil
}

// CostRowJSON is one cell of the cost report.
type CostRowJSON struct {
	Month         string            `json:"month"`
	PhoneNumberID string            `json:"phone_number_id"`
	Category      string            `json:"category"`
	KnownCategory bool              `json:"known_category"`
	CountryCode   string            `json:"country_code"`
	Attribution   map[string]string `json:"attribution"`
	Messages      int               `json:"messages"`
	Billable      int               `json:"billable"`
	Cost          *string           `json:"cost"` // decimal; null when no rate is known
	Currency      string            `json:"currency"`
}

// apiCosts is GET /api/v1/costs?from=YYYY-MM&to=YYYY-MM[&format=csv]:
// priced messages per month × number × category × country × agent (and
// whatever store.CostDimensions adds), with the rate table's cost.
func (s *Server) apiCosts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	now := s.now().UTC()
	from, to := q.Get("from"), q.Get("to")
	if to == "" {
		to = now.Format("2006-01")
	}
	if from == "" {
		from = to
	}
	for name, v := range map[string]string{"from": from, "to": to} {
		if _, err := time.Parse("2006-01", v); err != nil {
			writeAPIError(w, http.StatusBadRequest, "invalid_parameter", name+" must be a month, YYYY-MM")
			return
		}
	}
	rows, err := s.store.CostReport(r.Context(), from, to)
	if errors.Is(err, store.ErrInvalid) {
		writeAPIError(w, http.StatusBadRequest, "invalid_parameter", "to must not be before from")
		return
	}
	if err != nil {
		s.apiStoreError(w, err, "costs")
		return
	}
	if q.Get("format") == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="pforte-kosten-`+from+`-`+to+`.csv"`)
		store.WriteCostCSV(w, rows)
		return
	}
	out := struct {
		Data []CostRowJSON `json:"data"`
	}{Data: []CostRowJSON{}}
	for _, c := range rows {
		j := CostRowJSON{Month: c.Month, PhoneNumberID: c.PhoneNumberID, Category: c.Category, CountryCode: c.CountryCode,
			Attribution: map[string]string{}, Messages: c.Messages, Billable: c.Billable, Currency: c.Currency}
		for _, k := range store.PricingCategories {
			j.KnownCategory = j.KnownCategory || k == c.Category
		}
		for i, d := range store.CostDimensions {
			j.Attribution[d.Name] = c.Dims[i]
		}
		if c.RateKnown {
			v := store.FormatMicros(c.CostMicros)
			j.Cost = &v
		}
		out.Data = append(out.Data, j)
	}
	writeJSON(w, http.StatusOK, out)
}

// countPricing counts the pricing objects of a newly stored delivery.
func (m *Metrics) countPricing(d *store.Delivery) {
	for i := range d.Statuses {
		if p, ok := store.ParsePricing(d.Statuses[i].Pricing); ok {
			m.priced.WithLabelValues(p.Category, p.Type, strconv.FormatBool(p.Billable)).Inc()
		}
	}
}
