package web

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Chart geometry: the plot spans x 44..700 and y 10..210.
const (
	chartLeft, chartRight = 44.0, 700.0
	chartTop, chartBottom = 10.0, 210.0
)

type gridLine struct {
	Y     float64
	Value int
}

// niceMax is the chart's top: four grid steps of 1, 2 or 5 × 10^n, so
// every grid line has a round label.
func niceMax(v int) int {
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if 4*m*p >= v {
				return 4 * m * p
			}
		}
	}
}

func gridLines(max int) []gridLine {
	top := niceMax(max)
	var out []gridLine
	for i := 0; i <= 4; i++ {
		v := top * i / 4
		out = append(out, gridLine{Y: chartBottom - float64(v)/float64(top)*(chartBottom-chartTop), Value: v})
	}
	return out
}

func barW(n int) float64 {
	if n == 0 {
		return 0
	}
	return (chartRight - chartLeft) / float64(n) * 0.36
}

func barX(i, n, series int) float64 {
	slot := (chartRight - chartLeft) / float64(n)
	return chartLeft + slot*float64(i) + slot*0.12 + float64(series)*barW(n)
}

func barH(v, max int) float64 {
	return float64(v) / float64(niceMax(max)) * (chartBottom - chartTop)
}

func barY(v, max int) float64 { return chartBottom - barH(v, max) }

func f1(f float64) string { return fmt.Sprintf("%.1f", f) }

func warnIf(b bool) string {
	if b {
		return "warn"
	}
	return ""
}

func stale(t time.Time) bool { return time.Since(t) > 24*time.Hour }

func secretPlaceholder(ctx context.Context, set bool) string {
	if set {
		return T(ctx, "gesetzt – zum Ändern neu eingeben")
	}
	return T(ctx, "noch nicht gesetzt")
}

// qrPath draws all dark modules as one path of unit squares.
func qrPath(q QRVM) string {
	var b strings.Builder
	for _, c := range q.Cells {
		fmt.Fprintf(&b, "M%d %dh1v1h-1z", c[0], c[1])
	}
	return b.String()
}
