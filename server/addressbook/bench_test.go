package addressbook

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pforte/pforte/store"
)

// writeBigCSV writes n contacts as German Excel would (Windows-1252, ;),
// with a custom field, labels and a consent column.
func writeBigCSV(tb testing.TB, n int) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "gross.csv")
	f, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	w.WriteString("Vorname;Nachname;Handy;E-Mail;Firma;Kundennummer;Tarif;Labels;Werbeeinwilligung\r\n")
	for i := range n {
		tarif := "Basis"
		if i%10 == 0 {
			tarif = "Premium"
		}
		label := "Newsletter"
		if i%100 == 0 {
			label = "VIP, Newsletter"
		}
		consent := ""
		if i%3 == 0 {
			consent = "ja"
		}
		// \xfc is ü in Windows-1252.
		fmt.Fprintf(w, "J\xfcrgen%d;M\xfcller%d;0151 %08d;k%d@example.de;Firma %d GmbH;K-%d;%s;%s;%s\r\n", i, i, i, i, i%5000, i, tarif, label, consent)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	return p
}

// cpuSeconds is the process's user and system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// rssMB reads the process's resident set from /proc (Linux).
func rssMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

// importBig imports the file into st and returns the result.
func importBig(tb testing.TB, st *store.Store, path string) *store.ImportResult {
	tb.Helper()
	src, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer src.Close()
	f, err := Open(filepath.Base(path), src)
	if err != nil {
		tb.Fatal(err)
	}
	defs, _ := st.ContactFields(context.Background())
	m := GuessMapping(f.Header, defs)
	res, err := st.ImportContacts(context.Background(), f.Scan(m), store.ImportOptions{FileName: "gross.csv", Actor: "user:1", Now: testNow})
	if err != nil {
		tb.Fatal(err)
	}
	if !res.Imported {
		tb.Fatalf("not imported: %+v", res.Errors[:min(3, len(res.Errors))])
	}
	return res
}

// BenchmarkImport100k imports 100 000 rows (Windows-1252, ;) into an
// empty store per iteration: rows/s, and how far the resident set grew
// over the import (flat: the file is streamed twice, never held).
func BenchmarkImport100k(b *testing.B) {
	const n = 100_000
	path := writeBigCSV(b, n)
	var grow, cpu float64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		st := openStore(b)
		addFields(b, st)
		start := rssMB()
		peak := start
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-done:
					return
				case <-t.C:
					peak = max(peak, rssMB())
				}
			}
		}()
		cpu0 := cpuSeconds()
		b.StartTimer()
		res := importBig(b, st, path)
		b.StopTimer()
		cpu += cpuSeconds() - cpu0
		close(done)
		wg.Wait()
		grow = max(grow, peak-start)
		if res.Created != n {
			b.Fatalf("created %d", res.Created)
		}
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(grow, "rss-growth-MB")
	// Rows per second of the process's own CPU time: comparable on a
	// shared, loaded machine, where wall-clock rows/s is not.
	b.ReportMetric(float64(n*b.N)/cpu, "rows/cpu-s")
	b.ReportMetric(0, "ns/op")
}

var bigStore struct {
	once sync.Once
	st   *store.Store
	vip  int64

	newsletter int64
}

// seeded100k is a store with 100 000 imported contacts, shared by the
// list benchmarks.
func seeded100k(b *testing.B) (*store.Store, int64) {
	bigStore.once.Do(func() {
		dir, err := os.MkdirTemp("", "pforte-contacts-bench")
		if err != nil {
			b.Fatal(err)
		}
		st, err := store.Open(context.Background(), dir, store.Options{IsStopWord: noStopWord})
		if err != nil {
			b.Fatal(err)
		}
		addFields(b, st)
		importBig(b, st, writeBigCSV(b, 100_000))
		labels, _ := st.Labels(context.Background())
		for _, l := range labels {
			switch l.Name {
			case "VIP":
				bigStore.vip = l.ID
			case "Newsletter":
				bigStore.newsletter = l.ID
			}
		}
		bigStore.st = st
	})
	return bigStore.st, bigStore.vip
}

// BenchmarkContactList100k measures one page (50 rows, as the panel and
// the API show) of the address book at 100 000 contacts, server side.
func BenchmarkContactList100k(b *testing.B) {
	st, vip := seeded100k(b)
	newsletter := bigStore.newsletter
	ctx := context.Background()
	for _, c := range []struct {
		name string
		f    store.ContactFilter
	}{
		{"all", store.ContactFilter{}},
		{"search-name", store.ContactFilter{Query: "Müller99123"}},
		{"search-rare-miss", store.ContactFilter{Query: "Zzyzx"}},
		{"search-common", store.ContactFilter{Query: "müller"}},
		{"search-two-words", store.ContactFilter{Query: "Jürgen12 Müller12"}},
		{"search-short", store.ContactFilter{Query: "k9"}},
		{"search-number", store.ContactFilter{Query: "0151 00099123"}},
		{"search-company", store.ContactFilter{Query: "Firma 4321 GmbH"}},
		{"label-vip", store.ContactFilter{LabelIDs: []int64{vip}}},
		{"label-common", store.ContactFilter{LabelIDs: []int64{newsletter}}},
		{"field-premium+label", store.ContactFilter{LabelIDs: []int64{vip}, Fields: []store.FieldMatch{{Key: "tarif", Value: "Premium"}}}},
		{"field-kundennummer", store.ContactFilter{Fields: []store.FieldMatch{{Key: "kundennummer", Value: "K-77777"}}}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var rows int
			for range b.N {
				list, err := st.ListContacts(ctx, c.f, 51, 0, 0)
				if err != nil {
					b.Fatal(err)
				}
				rows = len(list)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/op")
			b.ReportMetric(float64(rows), "rows")
		})
	}
}
