package gateway_test

import (
	"testing"
	"time"

	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/testenv"
)

// BenchmarkParseDelivery measures turning a verified body into store rows.
func BenchmarkParseDelivery(b *testing.B) {
	_, bodies := testenv.Examples(b, "webhooks")
	body := bodies["image"]
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		gateway.ParseDelivery(body, time.Unix(1790000000, 0))
	}
}
