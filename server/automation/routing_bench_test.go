package automation_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pforte/pforte/server/automation"
)

// BenchmarkRoutingRules evaluates 100 rules per delivery — keywords,
// labels, language and a contact field — where only the last one holds:
// the worst case, every rule looked at.
func BenchmarkRoutingRules(b *testing.B) {
	n := automation.Names{Teams: map[string]int64{"support": 1}, Labels: map[string]int64{}, Agents: map[string]int64{}, Fields: map[string]int64{"kundentyp": 1}}
	var rules []string
	for i := range 100 {
		label := fmt.Sprintf("l%d", i)
		n.Labels[label] = int64(i + 1)
		switch i % 4 {
		case 0:
			rules = append(rules, fmt.Sprintf(`{"if": {"keywords": ["wort%d", "zwei worte %d"]}, "then": {"team": "support"}}`, i, i))
		case 1:
			rules = append(rules, fmt.Sprintf(`{"if": {"labels": [%q]}, "then": {"team": "support", "labels": [%q]}}`, label, label))
		case 2:
			rules = append(rules, fmt.Sprintf(`{"if": {"language": "en", "keywords": ["word%d"]}, "then": {"team": "support"}}`, i))
		default:
			rules = append(rules, fmt.Sprintf(`{"if": {"field": {"key": "kundentyp", "equals": "v%d"}}, "then": {"team": "support", "priority": "high"}}`, i))
		}
	}
	rules[99] = `{"if": {"keywords": ["rechnung"], "field": {"key": "kundentyp", "equals": "gewerbe"}}, "then": {"team": "support"}}`
	rt, _, err := automation.ParseRouting([]byte(`{"rules": [`+strings.Join(rules, ",")+`]}`), n)
	if err != nil {
		b.Fatal(err)
	}
	f := automation.Facts{
		Text:   "Guten Tag, ich habe eine Frage zu meiner Rechnung vom 3. Mai und zur Lieferung. Viele Grüße, Anna Schmidt",
		WaID:   "4915112345678",
		Labels: []string{"x", "y"},
		Fields: map[string]string{"kundentyp": "gewerbe", "stadt": "München"},
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if rt.Match(&f) == nil {
			b.Fatal("no rule held")
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "µs/delivery")
}
