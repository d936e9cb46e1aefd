package store

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Pricing is what Meta said a message costs, from the pricing object of
// its status webhooks (one of sent/delivered/read carries it).
type Pricing struct {
	Category     string `json:"category"`      // marketing, utility, authentication, service, …
	Type         string `json:"type"`          // regular (charged), free_customer_service, free_entry_point, …
	PricingModel string `json:"pricing_model"` // PMP; CBP in old payloads
	Billable     bool   `json:"billable"`      // deprecated by Meta; Type decides
	// KnownCategory is false for a category Pforte has no rate for yet; the
	// message is still counted, under its own name.
	KnownCategory bool `json:"known_category"`
}

// PricingCategories are the categories Meta documents (cloudapi.md §3.6).
var PricingCategories = []string{"marketing", "marketing_lite", "utility", "authentication", "authentication_international",
	"service", "referral_conversion", "group_marketing", "group_utility", "group_service"}

// NormaliseCategory maps Meta's spellings to one: authentication-international
// (hyphen, seen in pricing) and authentication_international are the same.
func NormaliseCategory(c string) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimSpace(c)), "-", "_")
}

// ParsePricing reads a stored pricing object; ok is false for none.
func ParsePricing(raw []byte) (p Pricing, ok bool) {
	if len(raw) == 0 {
		return Pricing{}, false
	}
	var w struct {
		Category     string `json:"category"`
		Type         string `json:"type"`
		PricingModel string `json:"pricing_model"`
		Billable     *bool  `json:"billable"`
	}
	if json.Unmarshal(raw, &w) != nil {
		return Pricing{}, false
	}
	p = Pricing{Category: NormaliseCategory(w.Category), Type: w.Type, PricingModel: w.PricingModel}
	if p.Category == "" {
		p.Category = "unknown"
	}
	switch {
	case w.Type != "":
		p.Billable = w.Type == "regular"
	case w.Billable != nil:
		p.Billable = *w.Billable
	}
	for _, c := range PricingCategories {
		if c == p.Category {
			p.KnownCategory = true
		}
	}
	return p, true
}

// PricingByWAMID returns the pricing Meta reported for each message that
// has one.
func (s *Store) PricingByWAMID(ctx context.Context, wamids []string) (map[string]Pricing, error) {
	out := map[string]Pricing{}
	if len(wamids) == 0 {
		return out, nil
	}
	ids, _ := json.Marshal(wamids)
	rows, err := s.rdb.QueryContext(ctx, `SELECT wamid, pricing FROM message_statuses
		WHERE wamid IN (SELECT value FROM json_each(?)) AND pricing IS NOT NULL ORDER BY ts`, string(ids))
	if err != nil {
		return nil, fmt.Errorf("store: pricing: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var wamid, raw string
		if err := rows.Scan(&wamid, &raw); err != nil {
			return nil, fmt.Errorf("store: pricing: %w", err)
		}
		if p, ok := ParsePricing([]byte(raw)); ok {
			out[wamid] = p // the newest report wins
		}
	}
	return out, rows.Err()
}

// Rate is the price of one message of a category to one country calling code.
type Rate struct {
	CountryCode string // calling code without +, e.g. "49"
	Category    string
	Currency    string
	RateMicros  int64  // millionths of the currency
	ValidFrom   string // YYYY-MM-DD: the rate card's date
}

// DefaultRatesDate is the date of Meta's rate card the shipped rates
// come from; see docs/costs-and-health.md for how to update them.
const DefaultRatesDate = "2025-07-01"

// defaultRates are the shipped EUR rates per delivered template message
// (marketing, utility, authentication) for Germany, Austria, Switzerland
// and the EU. Germany's are from Meta's rate card of DefaultRatesDate;
// the others use the card's regional groups ("Rest of Western Europe",
// "Rest of Central & Eastern Europe") and must be checked against
// Meta's current card before they are relied on.
var defaultRates = func() []Rate {
	type row struct {
		codes                  []string
		marketing, utility, au float64
	}
	rows := []row{
		{[]string{"49"}, 0.1131, 0.0456, 0.0456}, // Germany
		{[]string{"33"}, 0.1109, 0.0250, 0.0250}, // France
		{[]string{"39"}, 0.0535, 0.0250, 0.0250}, // Italy
		{[]string{"34"}, 0.0474, 0.0166, 0.0166}, // Spain
		{[]string{"31"}, 0.1240, 0.0415, 0.0415}, // Netherlands
		{[]string{"43", "41", "32", "45", "358", "353", "351", "46", "30", "352", "356", "357"}, // Rest of Western Europe (AT, CH, …)
			0.0473, 0.0232, 0.0232},
		{[]string{"48", "420", "421", "36", "40", "359", "385", "386", "370", "371", "372"}, // Rest of Central & Eastern Europe
			0.0664, 0.0257, 0.0257},
	}
	var out []Rate
	for _, r := range rows {
		for _, cc := range r.codes {
			for cat, v := range map[string]float64{"marketing": r.marketing, "utility": r.utility, "authentication": r.au} {
				out = append(out, Rate{CountryCode: cc, Category: cat, Currency: "EUR", RateMicros: int64(math.Round(v * 1e6)), ValidFrom: DefaultRatesDate})
			}
			out = append(out, Rate{CountryCode: cc, Category: "service", Currency: "EUR", RateMicros: 0, ValidFrom: DefaultRatesDate})
		}
	}
	return out
}()

// Rates lists the rate table; an empty table is filled with the shipped
// defaults on first read.
func (s *Store) Rates(ctx context.Context) ([]Rate, error) {
	var n int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM pricing_rates").Scan(&n); err != nil {
		return nil, fmt.Errorf("store: rates: %w", err)
	}
	if n == 0 {
		if err := s.SetRates(ctx, defaultRates, nil); err != nil {
			return nil, err
		}
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT country_code, category, currency, rate_micros, valid_from FROM pricing_rates
		ORDER BY length(country_code), country_code, category`)
	if err != nil {
		return nil, fmt.Errorf("store: rates: %w", err)
	}
	defer rows.Close()
	var out []Rate
	for rows.Next() {
		var r Rate
		if err := rows.Scan(&r.CountryCode, &r.Category, &r.Currency, &r.RateMicros, &r.ValidFrom); err != nil {
			return nil, fmt.Errorf("store: rates: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ValidateRate names the field at fault.
func ValidateRate(r Rate) error {
	if r.CountryCode == "" || len(r.CountryCode) > 4 || strings.Trim(r.CountryCode, "0123456789") != "" || r.CountryCode[0] == '0' {
		return fmt.Errorf("%w: country_code", ErrInvalid)
	}
	if NormaliseCategory(r.Category) == "" || strings.ContainsAny(r.Category, " ,;") {
		return fmt.Errorf("%w: category", ErrInvalid)
	}
	if len(r.Currency) != 3 || strings.ToUpper(r.Currency) != r.Currency {
		return fmt.Errorf("%w: currency", ErrInvalid)
	}
	if r.RateMicros < 0 || r.RateMicros > 10_000_000 {
		return fmt.Errorf("%w: rate", ErrInvalid)
	}
	if _, err := time.Parse("2006-01-02", r.ValidFrom); err != nil {
		return fmt.Errorf("%w: valid_from", ErrInvalid)
	}
	return nil
}

// SetRates replaces the whole rate table in one transaction (nothing is
// half-saved), audited when audit is given.
func (s *Store) SetRates(ctx context.Context, rates []Rate, audit *AuditEntry) error {
	for _, r := range rates {
		if err := ValidateRate(r); err != nil {
			return fmt.Errorf("%w (%s/%s)", err, r.CountryCode, r.Category)
		}
	}
	return s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec("DELETE FROM pricing_rates"); err != nil {
			return err
		}
		now := time.Now().Unix()
		for _, r := range rates {
			if _, err := tx.Exec(`INSERT INTO pricing_rates(country_code, category, currency, rate_micros, valid_from, updated_at)
				VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(country_code, category) DO UPDATE SET currency = excluded.currency,
				rate_micros = excluded.rate_micros, valid_from = excluded.valid_from, updated_at = excluded.updated_at`,
				r.CountryCode, NormaliseCategory(r.Category), r.Currency, r.RateMicros, r.ValidFrom, now); err != nil {
				return fmt.Errorf("store: rates: %w", err)
			}
		}
		if audit != nil {
			return auditAll(tx, []AuditEntry{*audit}, "pricing_rates")
		}
		return nil
	})
}

// CostDimension is one more column a cost row is attributed by: an SQL
// expression over the message m, its conversation cv and its outbox row o
// (LEFT JOINed; NULL once retention purged it). Campaigns and automations
// add theirs to CostDimensions; the cost page, the CSV and the metrics
// pick them up without further changes.
type CostDimension struct {
	Name string // column name in the CSV, e.g. "campaign"
	SQL  string
}

// CostDimensions are the attributions beyond month, number, category and
// country. The agent is who enqueued the send ("user:<id>", "apikey:<prefix>").
var CostDimensions = []CostDimension{
	{Name: "agent", SQL: "coalesce(o.actor, '')"},
}

// CostRow is one cell of the cost report.
type CostRow struct {
	Month         string // YYYY-MM (UTC)
	PhoneNumberID string
	Category      string
	CountryCode   string   // "" when no rate's code matches the recipient
	Dims          []string // values of CostDimensions, in order
	Messages      int
	Billable      int
	CostMicros    int64 // billable × rate; 0 when no rate is known
	Currency      string
	RateKnown     bool
	rate          int64 // the rate applied, per billable message
}

// CostReport attributes every message Meta priced, once, to month ×
// number × category × country × CostDimensions, from month from to month
// to (YYYY-MM, inclusive).
func (s *Store) CostReport(ctx context.Context, from, to string) ([]CostRow, error) {
	rates, err := s.Rates(ctx)
	if err != nil {
		return nil, err
	}
	start, err := time.Parse("2006-01", from)
	if err != nil {
		return nil, fmt.Errorf("%w: from", ErrInvalid)
	}
	end, err := time.Parse("2006-01", to)
	if err != nil || end.Before(start) {
		return nil, fmt.Errorf("%w: to", ErrInvalid)
	}
	end = end.AddDate(0, 1, 0)
	var dims []string
	for _, d := range CostDimensions {
		dims = append(dims, d.SQL)
	}
	q := `SELECT strftime('%Y-%m', p.ts, 'unixepoch'), n.phone_number_id, p.pricing, coalesce(p.recipient, ''), ` +
		strings.Join(append(dims, "''"), ", ") + `
		FROM (SELECT wamid, max(ts) AS ts, pricing, coalesce(recipient_wa_id, '') AS recipient FROM message_statuses
		      WHERE pricing IS NOT NULL AND ts >= ? AND ts < ? GROUP BY wamid) p
		JOIN messages m ON m.wamid = p.wamid
		JOIN conversations cv ON cv.id = m.conversation_id
		JOIN business_numbers n ON n.id = cv.business_number_id
		LEFT JOIN outbox o ON o.message_id = m.id`
	rows, err := s.rdb.QueryContext(ctx, q, start.Unix(), end.Unix())
	if err != nil {
		return nil, fmt.Errorf("store: cost report: %w", err)
	}
	defer rows.Close()
	type key struct{ month, pnid, cat, cc, dims string }
	cells := map[key]*CostRow{}
	parsed, countries := map[string]Pricing{}, map[string]string{}
	var order []key
	for rows.Next() {
		var month, pnid, raw, recipient, pad string
		dv := make([]string, len(CostDimensions))
		dst := []any{&month, &pnid, &raw, &recipient}
		for i := range dv {
			dst = append(dst, &dv[i])
		}
		dst = append(dst, &pad)
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("store: cost report: %w", err)
		}
		// Few distinct pricing objects and recipients repeat across
		// thousands of rows: parse and match each once.
		p, seen := parsed[raw]
		if !seen {
			var ok bool
			if p, ok = ParsePricing([]byte(raw)); !ok {
				p = Pricing{Category: "unknown"}
			}
			parsed[raw] = p
		}
		cc, seen := countries[recipient]
		if !seen {
			cc = countryOf(recipient, rates)
			countries[recipient] = cc
		}
		k := key{month, pnid, p.Category, cc, strings.Join(dv, "\x00")}
		c := cells[k]
		if c == nil {
			c = &CostRow{Month: month, PhoneNumberID: pnid, Category: p.Category, CountryCode: cc, Dims: dv, Currency: "EUR"}
			if r, ok := rateFor(rates, cc, p.Category); ok {
				c.RateKnown, c.Currency, c.rate = true, r.Currency, r.RateMicros
			}
			cells[k] = c
			order = append(order, k)
		}
		c.Messages++
		if p.Billable {
			c.Billable++
			c.CostMicros += c.rate
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]CostRow, 0, len(order))
	for _, k := range order {
		out = append(out, *cells[k])
	}
	sortCostRows(out)
	return out, nil
}

func sortCostRows(rows []CostRow) {
	less := func(a, b CostRow) bool {
		if a.Month != b.Month {
			return a.Month < b.Month
		}
		if a.PhoneNumberID != b.PhoneNumberID {
			return a.PhoneNumberID < b.PhoneNumberID
		}
		if a.Category != b.Category {
			return a.Category < b.Category
		}
		if a.CountryCode != b.CountryCode {
			return a.CountryCode < b.CountryCode
		}
		return strings.Join(a.Dims, "\x00") < strings.Join(b.Dims, "\x00")
	}
	for i := 1; i < len(rows); i++ {
		for j := i; j > 0 && less(rows[j], rows[j-1]); j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
}

// countryOf finds the longest calling code in the rate table that the
// recipient's number starts with.
func countryOf(recipient string, rates []Rate) string {
	best := ""
	for _, r := range rates {
		if len(r.CountryCode) > len(best) && strings.HasPrefix(recipient, r.CountryCode) {
			best = r.CountryCode
		}
	}
	return best
}

// RateOf is the rate table's price of one message of a category to a
// recipient (by the longest calling code the number starts with); ok is
// false when the table has no price for it.
func RateOf(rates []Rate, recipient, category string) (Rate, bool) {
	return rateFor(rates, countryOf(recipient, rates), category)
}

func rateFor(rates []Rate, cc, category string) (Rate, bool) {
	if cc == "" {
		return Rate{}, false
	}
	for _, r := range rates {
		if r.CountryCode == cc && r.Category == category {
			return r, true
		}
	}
	return Rate{}, false
}

// FormatMicros prints an amount in millionths as a decimal with four places.
func FormatMicros(m int64) string {
	return strconv.FormatFloat(float64(m)/1e6, 'f', 4, 64)
}

// WriteCostCSV writes the cost report as CSV: the same file from the API
// and the panel.
func WriteCostCSV(w io.Writer, rows []CostRow) error {
	cw := csv.NewWriter(w)
	head := []string{"month", "phone_number_id", "category", "country_code"}
	for _, d := range CostDimensions {
		head = append(head, d.Name)
	}
	cw.Write(append(head, "messages", "billable", "cost", "currency"))
	for _, c := range rows {
		rec := []string{c.Month, c.PhoneNumberID, c.Category, c.CountryCode}
		rec = append(rec, c.Dims...)
		cost := ""
		if c.RateKnown {
			cost = FormatMicros(c.CostMicros)
		}
		cw.Write(append(rec, strconv.Itoa(c.Messages), strconv.Itoa(c.Billable), cost, c.Currency))
	}
	cw.Flush()
	return cw.Error()
}
