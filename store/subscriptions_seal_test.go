package store

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fileHas reports whether any of the named files in dir holds needle.
func fileHas(t *testing.T, needle string, paths ...string) string {
	t.Helper()
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(needle)) {
			return p
		}
	}
	return ""
}

// Subscription secrets are sealed like the other secrets: neither the
// database file, its WAL nor a backup holds them in plain text, and the
// fan-out worker still gets the right one to sign with.
func TestSubscriptionSecretsSealedAtRest(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	const first, second = "zqcanary-subscription-secret-1", "zqcanary-subscription-secret-2"
	sub, _, err := s.CreateSubscription(ctx, "test", SubscriptionInput{URL: "http://127.0.0.1:9/hook", Secret: first, Events: EventsAll, Enabled: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := s.Ingest(ctx, delivery(1, now, EventMessages)); err != nil {
		t.Fatal(err)
	}
	it, err := s.FanoutHead(ctx, sub.ID, now)
	if err != nil || string(it.Secret) != first {
		t.Fatalf("secret to sign with: %q %v", it.Secret, err)
	}
	secret := second
	if _, err := s.UpdateSubscription(ctx, "test", sub.ID, SubscriptionPatch{Secret: &secret}); err != nil {
		t.Fatal(err)
	}
	if it, err = s.FanoutHead(ctx, sub.ID, now); err != nil || string(it.Secret) != second {
		t.Fatalf("secret after the change: %q %v", it.Secret, err)
	}
	backup := filepath.Join(t.TempDir(), "b.db")
	if _, err := s.Backup(ctx, backup, BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(s.Dir(), DBFile)
	for _, c := range []string{first, second} {
		if p := fileHas(t, c, db, db+"-wal", backup); p != "" {
			t.Fatalf("secret in plain text in %s", p)
		}
	}
	s.Close()
	if p := fileHas(t, second, db, db+"-wal"); p != "" {
		t.Fatalf("secret in plain text in %s after close", p)
	}
}

// A database written before secrets were sealed is sealed when it opens.
func TestLegacySubscriptionSecretsSealedOnOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, Options{IsStopWord: testStopWord})
	if err != nil {
		t.Fatal(err)
	}
	const legacy = "zqcanary-legacy-plaintext-secret"
	err = s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec(`INSERT INTO subscriptions(id, name, url, secret, events, enabled, created_at, updated_at)
			VALUES (7, 'crm', 'http://127.0.0.1:9/hook', ?, 15, 1, 0, 0)`, legacy)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if _, err := s.Ingest(ctx, delivery(1, now, EventMessages)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db := filepath.Join(dir, DBFile)
	if fileHas(t, legacy, db) == "" {
		t.Fatal("the legacy secret is not in the file: the test sees nothing")
	}
	if s, err = Open(ctx, dir, Options{IsStopWord: testStopWord}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if p := fileHas(t, legacy, db, db+"-wal"); p != "" {
		t.Fatalf("legacy secret still in plain text in %s", p)
	}
	it, err := s.FanoutHead(ctx, 7, now)
	if err != nil || string(it.Secret) != legacy {
		t.Fatalf("secret to sign with: %q %v", it.Secret, err)
	}
}
