package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"

	"github.com/pforte/pforte/server/replica"
	"github.com/pforte/pforte/store"
)

// TestReplicaErasureBoundCoversFirstSnapshot: a customer who was already
// in the database when replication was switched on (so their rows sit in
// the replica's first full copy and in the base file of every compaction
// level) and who wrote again later is erased; after the retention plus the
// check interval and a small margin no object in the bucket (any level,
// snapshots, media, side files; read with the key) and no file in the
// local Litestream directory holds any of their bytes, the newest restore
// works without them, and a point-in-time restore to before the erasure
// is refused: that history is past the bound. Nothing is written after the
// erasure, so the erasure snapshot stays the newest one (the case in
// which Litestream alone keeps the older lower-level files).
func TestReplicaErasureBoundCoversFirstSnapshot(t *testing.T) {
	s3 := startS3(t, "pforte")
	dir := t.TempDir()
	key := filepath.Join(t.TempDir(), "replica.key")
	if _, err := replica.WriteNewIdentity(key); err != nil {
		t.Fatal(err)
	}
	const (
		secret     = "replica-secret"
		canaryWaID = "4917099990004"
		early      = "KANARIE-vor-der-replik-91c2e0"
		late       = "KANARIE-nach-der-replik-5d7a13"
		earlyMedia = "KANARIE-medien-vor-der-replik-"
		retention  = 3 * time.Second
		check      = 250 * time.Millisecond
	)

	// Before replication: the customer writes, a second customer too.
	c := startChild(t, dir, secret)
	postWebhook(t, c, secret, canaryBody(canaryWaID, "wamid.canary.4a", early))
	postWebhook(t, c, secret, batchBody([]string{"wamid.keep.1"}))
	media := []byte(earlyMedia + strings.Repeat("z", 4000))
	mediaName := sha256Hex(media)
	os.MkdirAll(filepath.Join(dir, store.MediaDirName), 0o700)
	if err := os.WriteFile(filepath.Join(dir, store.MediaDirName, mediaName), media, 0o600); err != nil {
		t.Fatal(err)
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.cmd.Wait()

	// Replication is switched on; the first copy holds the early text.
	url := "s3://pforte/bound?endpoint=" + s3.url + "&region=eu-central-1"
	c = startChild(t, dir, secret, "--replica-url", url, "--replica-key-file", key,
		"--replica-sync-interval", "100ms", "--replica-media-interval", "200ms",
		"--replica-retention", retention.String(), "--replica-retention-check", check.String())
	t.Cleanup(func() {
		c.cmd.Process.Signal(syscall.SIGTERM)
		c.cmd.Wait()
		if t.Failed() {
			t.Logf("serve's output:\n%s", c.stderr.String())
		}
	})
	waitReplica(t, dir, "first sync", func(s *replica.Status) bool {
		return s.RemoteTXID > 0 && s.LagSeconds == 0 && s.MediaFiles == 1
	})
	postWebhook(t, c, secret, canaryBody(canaryWaID, "wamid.canary.4b", late))
	waitReplica(t, dir, "the later message synced", func(s *replica.Status) bool {
		return s.LagSeconds == 0 && s.RemoteTXID == s.LocalTXID
	})
	// Let the compaction levels take the rows in, as they do in a
	// running gateway before anyone is erased.
	time.Sleep(2 * time.Second)
	// The search index keeps words, not texts: its segments hold the
	// unique last words until they are merged away.
	erased := []string{early, late, earlyMedia, "91c2e0", "5d7a13"}
	objs := decodedBucket(t, s3, "pforte", key)
	for _, s := range []string{early, late, "91c2e0"} {
		if len(holding(objs, s)) == 0 {
			t.Fatalf("control: no replicated page holds %q before the erasure; the scan proves nothing", s)
		}
	}
	t.Logf("before the erasure: %s", describeHolders(objs, erased))
	if len(holdingLocal(t, dir, early)) == 0 {
		t.Fatal("control: the local Litestream directory does not hold the early text before the erasure; the local scan proves nothing")
	}

	beforeErasure := time.Now().UTC()
	time.Sleep(1100 * time.Millisecond) // RFC 3339 to the second in --timestamp
	os.Remove(filepath.Join(dir, store.MediaDirName, mediaName))
	// The erase command also scrubs (search index, vacuum, WAL), which
	// can take its 30 s timeout while Litestream holds its read
	// transaction; the replicator snapshots on the tombstone change, so
	// the bound is counted from that snapshot, while erase still runs.
	eraseDone := startErase(t, dir, canaryWaID)
	snap := waitReplica(t, dir, "snapshot after the erasure", func(s *replica.Status) bool { return !s.LastErasureSnapshot.IsZero() })
	erasedAt := snap.LastErasureSnapshot
	t.Logf("right after the erasure snapshot: %s", describeHolders(decodedBucket(t, s3, "pforte", key), erased))

	// The bound: retention plus one check, plus a margin for the sync.
	bound := retention + check
	deadline := erasedAt.Add(bound + 3*time.Second)
	for {
		objs = decodedBucket(t, s3, "pforte", key)
		left := describeHolders(objs, erased)
		local := holdingLocal(t, dir, erased...)
		if left == "" && len(local) == 0 {
			t.Logf("no erased byte left in the bucket or the local Litestream directory %s after the erasure snapshot (retention %s, check %s); bucket: %v",
				time.Since(erasedAt).Round(100*time.Millisecond), retention, check, ltxKeys(objs))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after the erasure snapshot (retention %s, check %s) erased bytes remain: bucket %s; local %v; bucket holds %v",
				time.Since(erasedAt).Round(100*time.Millisecond), retention, check, left, local, ltxKeys(objs))
		}
		time.Sleep(200 * time.Millisecond)
	}
	eraseDone()
	t.Logf("erase returned %s after the erasure snapshot", time.Since(erasedAt).Round(100*time.Millisecond))
	// On the primary's disk: the database and its WAL (the local
	// Litestream directory was checked above). The texts go with the
	// replicator's TRUNCATE checkpoint, retried while readers keep the WAL;
	// the search index's words with the second snapshot's checkpoint.
	walDeadline := time.Now().Add(10 * time.Second)
	for {
		var left []string
		for _, name := range []string{store.DBFile, store.DBFile + "-wal"} {
			b, _ := os.ReadFile(filepath.Join(dir, name))
			for _, s := range []string{early, late} {
				if bytes.Contains(b, []byte(s)) {
					left = append(left, name+": "+s)
				}
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(walDeadline) {
			t.Fatalf("10 s after the erase returned the primary's files still hold %v", left)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// The newest state restores, with the other customer and without the
	// erased one.
	st, fresh, _ := restoreReplica(t, url, key)
	if _, err := st.MessageByWAMID(context.Background(), "wamid.keep.1"); err != nil {
		t.Errorf("the newest restore lost the other customer's message: %v", err)
	}
	for _, id := range []string{"wamid.canary.4a", "wamid.canary.4b"} {
		if _, err := st.MessageByWAMID(context.Background(), id); err == nil {
			t.Errorf("the newest restore holds the erased customer's %s", id)
		}
	}
	st.Close()
	if got := holdingFiles(t, fresh, erased...); len(got) > 0 {
		t.Errorf("the restored directory holds erased bytes in %v", got)
	}

	// Past the bound the history before the erasure is gone: a restore to
	// that time must be refused, not answered from leftover files.
	pit := filepath.Join(t.TempDir(), "pit")
	out, err := runPforteErr("restore", "--from-replica", url, "--replica-key-file", key, "--data-dir", pit,
		"--timestamp", beforeErasure.Format(time.RFC3339))
	if err == nil {
		t.Fatalf("a point-in-time restore to before the erasure worked after the bound: %s", out)
	}
	if !strings.Contains(out, "nothing to restore") {
		t.Fatalf("point-in-time restore to before the erasure failed for another reason: %v\n%s", err, out)
	}
	if got := holdingFiles(t, pit, erased...); len(got) > 0 {
		t.Errorf("the refused point-in-time restore left erased bytes in %v", got)
	}
}

// startErase starts "pforte erase" for the contact and returns a function
// that waits for it and fails the test if it failed.
func startErase(t *testing.T, dir, waID string) (wait func()) {
	t.Helper()
	cmd, out, done := startPforte(t, "erase", "--data-dir", dir, "--contact", waID, "--yes", "--reason", "test")
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return func() {
		t.Helper()
		if err := <-done; err != nil {
			t.Fatalf("erase: %v\n%s", err, out.String())
		}
		done <- nil // for the cleanup
	}
}

// startPforte starts one pforte command as a child with its output
// collected; done delivers its exit once. Stopping it is the caller's.
func startPforte(t *testing.T, args ...string) (cmd *exec.Cmd, out *bytes.Buffer, done chan error) {
	t.Helper()
	cmd = exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PFORTE_TEST_MAIN=1")
	out = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done = make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, out, done
}

// runPforteErr runs one pforte command and returns its output and error.
func runPforteErr(args ...string) (string, error) {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PFORTE_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// describeHolders names each object holding one of the strings with its
// level and transaction range, e.g. "ltx/1/…01-…05 (L1 TX 1–5): KANARIE-…".
func describeHolders(objs map[string][]byte, strs []string) string {
	var parts []string
	for _, s := range strs {
		for _, k := range holding(objs, s) {
			parts = append(parts, fmt.Sprintf("%s [%s]: %s", k, ltxRange(k), s))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, "; ")
}

func ltxRange(key string) string {
	if !strings.HasSuffix(key, ".ltx") {
		return "object"
	}
	minTX, maxTX, err := ltx.ParseFilename(path.Base(key))
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("level %s, TX %d-%d", path.Base(path.Dir(key)), minTX, maxTX)
}

func ltxKeys(objs map[string][]byte) []string {
	var out []string
	for k := range objs {
		if strings.HasSuffix(k, ".ltx") {
			out = append(out, strings.TrimPrefix(k, "bound/"))
		}
	}
	sort.Strings(out)
	return out
}

// holdingLocal lists the files in the database's local Litestream
// directory holding any of the strings, LTX files read page by page.
func holdingLocal(t *testing.T, dir string, strs ...string) []string {
	t.Helper()
	return holdingFiles(t, filepath.Join(dir, "."+store.DBFile+litestream.MetaDirSuffix), strs...)
}

// holdingFiles walks root and lists files holding any of the strings in
// their bytes or, for LTX files, in their decoded pages.
func holdingFiles(t *testing.T, root string, strs ...string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return nil // removed meanwhile
		}
		if strings.HasSuffix(p, ".ltx") {
			if pages, err := ltxPages(b); err == nil {
				b = append(b, pages...)
			}
		}
		for _, s := range strs {
			if bytes.Contains(b, []byte(s)) {
				rel, _ := filepath.Rel(root, p)
				out = append(out, rel+": "+s)
			}
		}
		return nil
	})
	return out
}

func ltxPages(b []byte) ([]byte, error) {
	dec := ltx.NewDecoder(bytes.NewReader(b))
	if err := dec.DecodeHeader(); err != nil {
		return nil, err
	}
	var pages bytes.Buffer
	data := make([]byte, dec.Header().PageSize)
	for {
		var ph ltx.PageHeader
		if err := dec.DecodePage(&ph, data); err == io.EOF {
			return pages.Bytes(), nil
		} else if err != nil {
			return pages.Bytes(), err
		}
		pages.Write(data)
	}
}
