package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestRecordsOfProcessingNameTheReplica: with an off-site replica the
// Art. 30 record names its storage provider as a processor and states the
// erasure bound; without one it says nothing about it.
func TestRecordsOfProcessingNameTheReplica(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	r, err := s.RecordsOfProcessing(ctx, ProcessingContext{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.Join(r.Measures, "|"), "Off-site") {
		t.Fatal("record mentions a replica that is not configured")
	}
	r, err = s.RecordsOfProcessing(ctx, ProcessingContext{Replica: "s3://bucket/pforte", ReplicaRetention: 72 * time.Hour, ReplicaEncrypted: true})
	if err != nil {
		t.Fatal(err)
	}
	measures := strings.Join(r.Measures, "|")
	if !strings.Contains(measures, "spätestens nach 72 h + 1 h") || !strings.Contains(measures, "Chiffretext") {
		t.Fatalf("measures: %s", measures)
	}
	if last := r.Processors[len(r.Processors)-1]; !strings.Contains(last.Name, "s3://bucket/pforte") {
		t.Fatalf("processors: %+v", r.Processors)
	}
}
