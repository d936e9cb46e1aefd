package fanout_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// A subscription's secret is sealed at rest: the database file, its WAL
// and a fresh backup do not hold it, and forwarded deliveries still carry
// a signature that verifies with it.
func TestSubscriptionSecretNotOnDisk(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	const secret = "zqcanary-fanout-secret-0123456789"
	rc := newReceiver(t, secret)
	subscribe(t, g, rc)
	startWorker(t, g, fastOptions())
	post(t, g, textBody(1))
	waitFor(t, "the delivery forwarded", func() bool { return len(rc.accepted()) == 1 })
	if got := rc.all(); len(got) != 1 || !got[0].Signature {
		t.Fatalf("forwarded: %+v", got)
	}
	backup := filepath.Join(t.TempDir(), "backup.db")
	if _, err := g.Store.Backup(context.Background(), backup, store.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(g.Dir, store.DBFile)
	for _, p := range []string{db, db + "-wal", backup} {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(secret)) {
			t.Fatalf("subscription secret in plain text in %s", p)
		}
	}
}
