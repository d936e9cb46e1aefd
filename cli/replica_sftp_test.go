package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pforte/pforte/server/replica"
	"github.com/pforte/pforte/server/testenv/sftptest"
	"github.com/pforte/pforte/store"
)

// TestReplicaSFTPServeRestore: "pforte serve" replicates to a real SFTP
// server (password from the environment, host key pinned in the URL),
// an erasure takes its snapshot there, and "pforte restore --from-replica
// sftp://…" brings the messages and the media back onto a fresh data
// directory, newest and from before the erasure. The server holds only
// ciphertext.
func TestReplicaSFTPServeRestore(t *testing.T) {
	srv := sftptest.Start(t)
	t.Setenv(replica.SFTPPasswordEnv, srv.Password)
	dir := t.TempDir()
	key := filepath.Join(t.TempDir(), "replica.key")
	if _, err := replica.WriteNewIdentity(key); err != nil {
		t.Fatal(err)
	}
	url := srv.URL("home/pforte")
	secret := "replica-secret"
	c := startChild(t, dir, secret, "--replica-url", url, "--replica-key-file", key,
		"--replica-sync-interval", "100ms", "--replica-media-interval", "200ms")
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		c.cmd.Wait()
		if t.Failed() {
			t.Logf("serve's output:\n%s", c.stderr.String())
		}
	})

	const canary = "KANARIE-sftp-e2e-geloescht"
	const canaryWaID = "4917099990002"
	postWebhook(t, c, secret, canaryBody(canaryWaID, "wamid.sftp.canary", canary))
	postWebhook(t, c, secret, canaryBody("4917099990003", "wamid.sftp.bleibt", "KANARIE-sftp-e2e-bleibt"))
	media := []byte("KANARIE-sftp-media-" + strings.Repeat("y", 4000))
	mediaName := sha256Hex(media)
	os.MkdirAll(filepath.Join(dir, store.MediaDirName), 0o700)
	if err := os.WriteFile(filepath.Join(dir, store.MediaDirName, mediaName), media, 0o600); err != nil {
		t.Fatal(err)
	}
	waitReplica(t, dir, "first sync", func(s *replica.Status) bool {
		return s.RemoteTXID > 0 && s.LagSeconds == 0 && s.MediaFiles == 1 && s.LastError == ""
	})
	time.Sleep(300 * time.Millisecond)
	beforeErasure := time.Now().UTC()
	time.Sleep(1100 * time.Millisecond)
	out := runPforte(t, "erase", "--data-dir", dir, "--contact", canaryWaID, "--yes", "--reason", "test")
	t.Logf("erase: %s", out)
	waitReplica(t, dir, "snapshot after the erasure", func(s *replica.Status) bool { return !s.LastErasureSnapshot.IsZero() })
	postWebhook(t, c, secret, canaryBody("4917099990004", "wamid.sftp.danach", "KANARIE-sftp-e2e-danach"))
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
	waitReplica(t, dir, "final sync after SIGKILL", func(s *replica.Status) bool { return s.Stopped })

	files := srv.Files(t)
	if files["/home/pforte/pforte/media/"+mediaName] == nil {
		t.Fatalf("media not on the server under its hash: %v", keysOf(files))
	}
	for name, b := range files {
		for _, plain := range []string{canary, "KANARIE-sftp-e2e-bleibt", "KANARIE-sftp-media", "4917099990003"} {
			if bytes.Contains(b, []byte(plain)) {
				t.Fatalf("%s on the server holds plaintext %q", name, plain)
			}
		}
	}

	st, fresh, out := restoreReplica(t, url, key)
	for _, id := range []string{"wamid.sftp.bleibt", "wamid.sftp.danach"} {
		if _, err := st.MessageByWAMID(context.Background(), id); err != nil {
			t.Errorf("%s not restored: %v", id, err)
		}
	}
	if _, err := st.MessageByWAMID(context.Background(), "wamid.sftp.canary"); err == nil {
		t.Error("the restore holds the erased customer's message")
	}
	st.Close()
	if b, err := os.ReadFile(filepath.Join(fresh, store.MediaDirName, mediaName)); err != nil || !bytes.Equal(b, media) {
		t.Fatalf("media not restored: %v", err)
	}

	st, _, out = restoreReplica(t, url, key, "--timestamp", beforeErasure.Format(time.RFC3339Nano))
	if !strings.Contains(out, "1 erased customers were in it and were erased again") {
		t.Fatalf("the point-in-time restore did not erase the canary again: %s", out)
	}
	defer st.Close()
	if _, err := st.MessageByWAMID(context.Background(), "wamid.sftp.bleibt"); err != nil {
		t.Errorf("point-in-time restore lacks a message from before its time: %v", err)
	}
	if _, err := st.MessageByWAMID(context.Background(), "wamid.sftp.danach"); err == nil {
		t.Error("point-in-time restore holds a message from after its time")
	}
}
