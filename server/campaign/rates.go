package campaign

// RateTable prices one message by the recipient's country calling code and
// Meta's pricing category. Meta's pricing objects say whether a message
// was billable and in which category, never the amount: that comes from
// Meta's rate card, which the company enters (or keeps the example).
type RateTable struct {
	Currency string
	// ByCountry maps a calling code ("49") to rates by category
	// ("marketing", "utility", "authentication", "service").
	ByCountry map[string]map[string]float64
	// Default applies to countries the table does not name.
	Default map[string]float64
}

// DefaultRates is an example table in EUR; the company should check it
// against Meta's current rate card before relying on the preview.
func DefaultRates() RateTable {
	return RateTable{
		Currency: "EUR",
		ByCountry: map[string]map[string]float64{
			"49": {"marketing": 0.1131, "utility": 0.0456, "authentication": 0.0636, "service": 0},
			"43": {"marketing": 0.1131, "utility": 0.0456, "authentication": 0.0636, "service": 0},
			"41": {"marketing": 0.1131, "utility": 0.0456, "authentication": 0.0636, "service": 0},
		},
		Default: map[string]float64{"marketing": 0.0592, "utility": 0.0320, "authentication": 0.0320, "service": 0},
	}
}

// Rate is the price of one billable message.
func (t RateTable) Rate(country, category string) float64 {
	if category == "" {
		category = "marketing"
	}
	if r, ok := t.ByCountry[country]; ok {
		if v, ok := r[category]; ok {
			return v
		}
	}
	return t.Default[category]
}
