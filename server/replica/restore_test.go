package replica

import (
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A restore fetches every media file (several at a time) and checks each
// against its name, the content hash: one altered object fails it.
func TestRestoreFetchesEveryMediaFileAndChecksIt(t *testing.T) {
	dir, bucket := t.TempDir(), t.TempDir()
	db, err := sql.Open("sqlite", filepath.Join(dir, "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mdir := filepath.Join(dir, "media")
	if err := os.MkdirAll(mdir, 0o700); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for i := range 25 {
		data := make([]byte, 1000+i*997)
		rand.Read(data)
		sum := sha256.Sum256(data)
		name := hex.EncodeToString(sum[:])
		if err := os.WriteFile(filepath.Join(mdir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
		want[name] = true
	}
	r, ctx, cancel, _ := erasureRig(t, db, dir, bucket, "bleibt-auch")
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st, _ := ReadStatus(dir); st != nil && st.RemoteTXID > 0 && st.RemoteTXID == st.LocalTXID && st.MediaFiles == len(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replica not complete in 10s")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	cfg := Config{URL: "file://" + bucket, Unencrypted: true}
	lay := Layout{DBFile: "test.db", MediaDir: "media", SideFiles: []string{"tombs"}, TombstoneFile: "tombs"}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	fresh := filepath.Join(t.TempDir(), "fresh")
	res, err := Restore(t.Context(), fresh, cfg, lay, time.Time{}, log)
	if err != nil {
		t.Fatal(err)
	}
	if res.MediaFiles != len(want) {
		t.Fatalf("restored %d media files, want %d", res.MediaFiles, len(want))
	}
	for name := range want {
		data, err := os.ReadFile(filepath.Join(fresh, "media", name))
		sum := sha256.Sum256(data)
		if err != nil || hex.EncodeToString(sum[:]) != name {
			t.Fatalf("media %s restored wrong: %v", name, err)
		}
	}

	// Someone alters one object in the bucket: the restore refuses.
	var victim string
	for name := range want {
		victim = name
		break
	}
	if err := os.WriteFile(filepath.Join(bucket, filepath.FromSlash(mediaPrefix), victim), []byte("verändert"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Restore(t.Context(), filepath.Join(t.TempDir(), "again"), cfg, lay, time.Time{}, log)
	if err == nil || !strings.Contains(err.Error(), victim+": content does not match its name") {
		t.Fatalf("restore with an altered media object: %v", err)
	}
}
