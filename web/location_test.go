package web

import (
	_ "time/tzdata" // the zone database, so the test needs none on the machine

	"context"
	"testing"
	"time"
)

// TestTimesInConfiguredLocation: the panel shows times in the zone its
// context carries, and in Berlin when none is set.
func TestTimesInConfiguredLocation(t *testing.T) {
	at := time.Date(2025, 3, 1, 23, 30, 0, 0, time.UTC)
	if got := dateTime(context.Background(), at); got != "02.03.2025, 00:30:00" {
		t.Errorf("default: %q, want Berlin time", got)
	}
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal("no zoneinfo:", err)
	}
	if got := dateTime(WithLocation(context.Background(), ny), at); got != "01.03.2025, 18:30:00" {
		t.Errorf("New York: %q", got)
	}
	if got := Location(WithLocation(context.Background(), nil)); got.String() != "Europe/Berlin" {
		t.Errorf("nil location: %v", got)
	}
}
