package outbox

import "time"

// bucket is a token bucket: capacity burst, refilled at rate tokens per
// second. Tokens may go negative, which queues callers behind each other
// at exactly the configured rate.
type bucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int, now time.Time) *bucket {
	if burst < 1 {
		burst = 1
	}
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

func (b *bucket) refill(now time.Time) {
	if now.After(b.last) {
		b.tokens += now.Sub(b.last).Seconds() * b.rate
		if b.tokens > b.burst {
			b.tokens = b.burst
		}
		b.last = now
	}
}

// wait returns how long until a token is available, without taking one.
func (b *bucket) wait(now time.Time) time.Duration {
	b.refill(now)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

// reserve takes a token and returns how long the caller must wait before
// using it.
func (b *bucket) reserve(now time.Time) time.Duration {
	d := b.wait(now)
	b.tokens--
	return d
}

// full reports whether the bucket has refilled completely (it can be
// forgotten without changing behaviour).
func (b *bucket) full(now time.Time) bool {
	b.refill(now)
	return b.tokens >= b.burst
}
