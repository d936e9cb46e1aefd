package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// A listing replaces what Meta says about each template, keeps a
// hand-recorded text, and marks templates it lacks deleted; a later
// listing that has them again brings them back.
func TestSyncTemplatesMarksMissingDeleted(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), Options{IsStopWord: testStopWord})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Unix(1790000000, 0)
	list := []SyncedTemplate{
		{ID: "1", Name: "a", Language: "de", Status: "APPROVED", Category: "UTILITY", Quality: "GREEN", Components: `[{"type":"BODY","text":"A {{1}}"}]`},
		{ID: "2", Name: "b", Language: "de", Status: "REJECTED", Category: "MARKETING", RejectedReason: "INVALID_FORMAT"},
	}
	if err := s.SaveTemplateText(ctx, "a", "de", "A {{1}} von Hand"); err != nil {
		t.Fatal(err)
	}
	res, err := s.SyncTemplates(ctx, "w1", list, now)
	if err != nil || res.Added != 2 || res.Deleted != 0 {
		t.Fatalf("first sync: %+v %v", res, err)
	}
	res, err = s.SyncTemplates(ctx, "w1", list[:1], now.Add(time.Hour))
	if err != nil || res.Deleted != 1 || res.Added != 0 {
		t.Fatalf("second sync: %+v %v", res, err)
	}
	b, err := s.TemplateOf(ctx, "w1", "b", "de")
	if err != nil || b.DeletedAt != now.Add(time.Hour).Unix() || b.Usable() || b.Reason != "INVALID_FORMAT" {
		t.Fatalf("b: %+v %v", b, err)
	}
	// Another account's listing leaves w1 alone.
	if _, err := s.SyncTemplates(ctx, "w2", nil, now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	a, err := s.TemplateOf(ctx, "w1", "a", "de")
	if err != nil || !a.Usable() || a.Quality != "GREEN" || a.SyncedAt != now.Add(time.Hour).Unix() {
		t.Fatalf("a: %+v %v", a, err)
	}
	if _, err := s.SyncTemplates(ctx, "w1", list, now.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.TemplateOf(ctx, "w1", "b", "de"); b.DeletedAt != 0 {
		t.Fatalf("b listed again but still deleted: %+v", b)
	}
	all, err := s.Templates(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range all {
		if tp.Name == "a" && tp.Body != "A {{1}} von Hand" {
			t.Fatalf("hand-recorded text lost: %+v", tp)
		}
	}
	if _, err := s.SyncTemplates(ctx, "", list, now); err == nil {
		t.Fatal("a sync without an account was accepted")
	}
}

// BenchmarkSyncTemplates records a listing of 1000 templates (an account
// with a verified portfolio may have 6000), all present, as the hourly
// job does.
func BenchmarkSyncTemplates(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, b.TempDir(), Options{IsStopWord: testStopWord})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	list := make([]SyncedTemplate, 1000)
	for i := range list {
		list[i] = SyncedTemplate{ID: fmt.Sprint(i), Name: fmt.Sprintf("vorlage_%04d", i), Language: "de", Status: "APPROVED", Category: "UTILITY",
			Components: `[{"type":"HEADER","format":"TEXT","text":"Kopf"},{"type":"BODY","text":"Hallo {{1}}, Bestellung {{2}}","example":{"body_text":[["a","b"]]}},{"type":"FOOTER","text":"Fuß"}]`}
	}
	now := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.SyncTemplates(ctx, "w1", list, now.Add(time.Duration(i)*time.Second)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(list)*b.N)/b.Elapsed().Seconds(), "templates/s")
}
