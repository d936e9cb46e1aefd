package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
)

// releasedSchema is the newest step shipped in a release, and
// releasedSchemaSHA256 the hash of every step's SQL up to it. Databases
// out there ran exactly this SQL and record only the version, so a change
// to it would never reach them: add a step instead. Raise both when a
// release ships new steps (the test prints the new hash).
const (
	releasedSchema       = 410
	releasedSchemaSHA256 = "dad252ee964a6206a3e890621775a6fb24a48ba263a73b99b8da2435a85b9568"
)

func TestReleasedSchemaStepsUnchanged(t *testing.T) {
	h := sha256.New()
	for _, m := range migrations {
		if m.version > releasedSchema {
			break
		}
		fmt.Fprintf(h, "%d\x00%s\x00", m.version, m.sql)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != releasedSchemaSHA256 {
		t.Fatalf("the SQL of released schema steps (up to %d) changed: sha256 %s, want %s; "+
			"a released step must never change, add a new one", releasedSchema, got, releasedSchemaSHA256)
	}
}
