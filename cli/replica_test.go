package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/superfly/ltx"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/replica"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// s3Server is a real S3 HTTP server (gofakes3, in memory) on loopback.
type s3Server struct {
	backend *s3mem.Backend
	url     string
}

func startS3(t *testing.T, bucket string) *s3Server {
	t.Helper()
	b := s3mem.New()
	if err := b.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(b).Server())
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "test-access")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
	// Litestream's S3 client cannot combine its own HTTP client with a
	// CA bundle from the environment; the test server is plain HTTP.
	t.Setenv("AWS_CA_BUNDLE", "")
	return &s3Server{backend: b, url: srv.URL}
}

// objects returns every object's key and bytes in the bucket.
func (s *s3Server) objects(t *testing.T, bucket string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	list, err := s.backend.ListBucket(bucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list.Contents {
		o, err := s.backend.GetObject(bucket, c.Key, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(o.Contents)
		o.Contents.Close()
		out[c.Key] = b
	}
	return out
}

// runPforte runs one pforte command as a child process.
func runPforte(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PFORTE_TEST_MAIN=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pforte %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func waitReplica(t *testing.T, dir string, what string, ok func(*replica.Status) bool) *replica.Status {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		st, _ := replica.ReadStatus(dir)
		if st != nil && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica: %s did not happen in 60s; last status %+v", what, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func canaryBody(waID, wamid, text string) []byte {
	return fmt.Appendf(nil, `{"object":"whatsapp_business_account","entry":[{"id":"318824617705293","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"4930123456","phone_number_id":"412095873361844"},"contacts":[{"profile":{"name":"Kanarienvogel"},"wa_id":%q}],"messages":[{"from":%q,"id":%q,"timestamp":"1790000000","type":"text","text":{"body":%q}}]}}]}]}`,
		waID, waID, wamid, text)
}

func postWebhook(t *testing.T, c *child, secret string, body []byte) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+c.public+"/webhook", bytes.NewReader(body))
	req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign([]byte(secret), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}
}

// TestReplicaSurvivesSIGKILLAndErasure replicates to a real S3 server
// while many senders deliver, kills "pforte serve" with SIGKILL, and
// restores onto fresh data directories: every acknowledged message is
// there, the bucket holds no plaintext, and a point-in-time restore from
// before an erasure does not bring the erased customer back.
func TestReplicaSurvivesSIGKILLAndErasure(t *testing.T) {
	s3 := startS3(t, "pforte")
	dir := t.TempDir()
	key := filepath.Join(t.TempDir(), "replica.key")
	if _, err := replica.WriteNewIdentity(key); err != nil {
		t.Fatal(err)
	}
	url := "s3://pforte/eu-1?endpoint=" + s3.url + "&region=eu-central-1"
	secret := "replica-secret"
	c := startChild(t, dir, secret, "--replica-url", url, "--replica-key-file", key,
		"--replica-sync-interval", "100ms", "--replica-media-interval", "200ms")
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		c.cmd.Wait()
		waitReplica(t, dir, "replicator exit", func(s *replica.Status) bool { return s.Stopped })
		if t.Failed() {
			t.Logf("serve's output:\n%s", c.stderr.String())
		}
	})

	// A customer who will be erased, with an unmistakable text.
	const canary = "KANARIE-7f3a9c-erased-text"
	const canaryWaID = "4917099990001"
	postWebhook(t, c, secret, canaryBody(canaryWaID, "wamid.canary.1", canary))
	// A media file, as the media fetcher would leave it.
	media := []byte("KANARIE-media-bytes-" + strings.Repeat("x", 5000))
	mediaName := sha256Hex(media)
	os.MkdirAll(filepath.Join(dir, store.MediaDirName), 0o700)
	if err := os.WriteFile(filepath.Join(dir, store.MediaDirName, mediaName), media, 0o600); err != nil {
		t.Fatal(err)
	}
	waitReplica(t, dir, "first sync", func(s *replica.Status) bool {
		return !s.LastSync.IsZero() && s.RemoteTXID > 0 && s.LagSeconds == 0 && s.MediaFiles == 1
	})
	time.Sleep(300 * time.Millisecond)
	beforeErasure := time.Now().UTC()
	time.Sleep(1100 * time.Millisecond)

	out := runPforte(t, "erase", "--data-dir", dir, "--contact", canaryWaID, "--yes", "--reason", "test")
	t.Logf("erase: %s", out)
	waitReplica(t, dir, "snapshot after the erasure", func(s *replica.Status) bool { return !s.LastErasureSnapshot.IsZero() })

	// Load, then SIGKILL the primary in the middle of it.
	var (
		mu    sync.Mutex
		acked []string
		seq   int
	)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				ids := make([]string, 5)
				for i := range ids {
					seq++
					ids[i] = fmt.Sprintf("wamid.replica.%d", seq)
				}
				mu.Unlock()
				body := batchBody(ids)
				req, _ := http.NewRequest("POST", "http://"+c.public+"/webhook", bytes.NewReader(body))
				req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign([]byte(secret), body))
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					acked = append(acked, ids...)
					mu.Unlock()
				}
			}
		})
	}
	time.Sleep(1500 * time.Millisecond)
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
	stop()
	wg.Wait()
	// The replicator notices its parent is gone and ships the rest.
	waitReplica(t, dir, "final sync after SIGKILL", func(s *replica.Status) bool { return s.Stopped })
	if len(acked) < 50 {
		t.Fatalf("only %d messages acknowledged; the load did not reach the server", len(acked))
	}

	// Nothing in the bucket is readable without the key.
	objs := s3.objects(t, "pforte")
	if len(objs) < 3 {
		t.Fatalf("bucket holds only %d objects", len(objs))
	}
	for k, b := range objs {
		for _, plain := range []string{canary, "KANARIE-media-bytes", "Nachricht", "Crash Test", "4915112345678"} {
			if bytes.Contains(b, []byte(plain)) {
				t.Fatalf("object %s holds plaintext %q", k, plain)
			}
		}
	}
	if _, ok := objs["eu-1/pforte/media/"+mediaName]; !ok {
		t.Fatalf("media file not in the bucket under its hash; keys: %v", keysOf(objs))
	}

	// Newest state onto a fresh machine.
	st, fresh, out := restoreReplica(t, url, key)
	if err := st.IntegrityCheck(context.Background()); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for _, id := range acked {
		if _, err := st.MessageByWAMID(context.Background(), id); err != nil {
			missing++
		}
	}
	if _, err := st.MessageByWAMID(context.Background(), "wamid.canary.1"); err == nil {
		t.Error("newest restore holds the erased customer's message")
	}
	st.Close()
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged messages missing from the restore", missing, len(acked))
	}
	t.Logf("%d acknowledged messages, all restored", len(acked))
	if b, err := os.ReadFile(filepath.Join(fresh, store.MediaDirName, mediaName)); err != nil || !bytes.Equal(b, media) {
		t.Fatalf("media not restored: %v", err)
	}

	// Point in time before the erasure: the canary row is in that state,
	// and the restore must erase it again before anything can use it.
	st, _, out = restoreReplica(t, url, key, "--timestamp", beforeErasure.Format(time.RFC3339Nano))
	if !strings.Contains(out, "1 erased customers were in it and were erased again") {
		t.Fatalf("the point-in-time restore did not find and erase the canary again: %s", out)
	}
	defer st.Close()
	if _, err := st.MessageByWAMID(context.Background(), "wamid.canary.1"); err == nil {
		t.Fatal("point-in-time restore brought the erased customer's message back")
	}
	if _, err := st.MessageByWAMID(context.Background(), acked[0]); err == nil {
		t.Fatal("point-in-time restore holds a message from after its time")
	}
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// decodedBucket decrypts every object in the bucket with the replica key
// and decodes the LTX files into their database pages, so a test can look
// for content the way someone holding the key would.
func decodedBucket(t *testing.T, s3 *s3Server, bucket, keyFile string) map[string][]byte {
	t.Helper()
	id, err := replica.LoadIdentity(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for k, b := range s3.objects(t, bucket) {
		if strings.HasSuffix(k, "/lock.json") { // the sending lease, plain JSON
			continue
		}
		isLTX := strings.HasSuffix(k, ".ltx")
		body := b
		if isLTX {
			body = b[ltx.HeaderSize:]
		}
		r, err := age.Decrypt(bytes.NewReader(body), id)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		plain, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if !isLTX {
			out[k] = plain
			continue
		}
		dec := ltx.NewDecoder(bytes.NewReader(plain))
		if err := dec.DecodeHeader(); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		var pages bytes.Buffer
		data := make([]byte, dec.Header().PageSize)
		for {
			var ph ltx.PageHeader
			if err := dec.DecodePage(&ph, data); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			pages.Write(data)
		}
		out[k] = pages.Bytes()
	}
	return out
}

func holding(objs map[string][]byte, s string) []string {
	var out []string
	for k, b := range objs {
		if bytes.Contains(b, []byte(s)) {
			out = append(out, k)
		}
	}
	return out
}

// TestReplicaErasureLeavesBucketAfterRetention erases a customer and
// checks that after the replica retention (short here) no object in the
// bucket holds their text any more, read with the key; before the
// erasure the same scan finds it, so the scan itself is shown to work.
// The metrics report the sync.
func TestReplicaErasureLeavesBucketAfterRetention(t *testing.T) {
	s3 := startS3(t, "pforte")
	dir := t.TempDir()
	key := filepath.Join(t.TempDir(), "replica.key")
	if _, err := replica.WriteNewIdentity(key); err != nil {
		t.Fatal(err)
	}
	url := "s3://pforte/x?endpoint=" + s3.url + "&region=eu-central-1"
	secret := "replica-secret"
	internal := freeAddr(t)
	const retention = 3 * time.Second
	c := startChild(t, dir, secret, "--internal-addr", internal, "--replica-url", url, "--replica-key-file", key,
		"--replica-sync-interval", "100ms", "--replica-media-interval", "200ms",
		"--replica-retention", retention.String(), "--replica-retention-check", "250ms")
	t.Cleanup(func() {
		c.cmd.Process.Signal(syscall.SIGTERM)
		c.cmd.Wait()
		if t.Failed() {
			t.Logf("serve's output:\n%s", c.stderr.String())
		}
	})
	const canary = "KANARIE-retention-4b1d77"
	const canaryWaID = "4917099990002"
	// The canary arrives after the replica's first snapshot, as a live
	// customer does; rows already in the first snapshot are covered by
	// TestReplicaErasureBoundCoversFirstSnapshot.
	waitReplica(t, dir, "first snapshot", func(s *replica.Status) bool { return s.RemoteTXID > 0 })
	postWebhook(t, c, secret, canaryBody(canaryWaID, "wamid.canary.2", canary))
	media := []byte("KANARIE-media-of-the-erased-" + strings.Repeat("y", 3000))
	os.MkdirAll(filepath.Join(dir, store.MediaDirName), 0o700)
	mediaName := sha256Hex(media)
	if err := os.WriteFile(filepath.Join(dir, store.MediaDirName, mediaName), media, 0o600); err != nil {
		t.Fatal(err)
	}
	waitReplica(t, dir, "first sync", func(s *replica.Status) bool {
		return s.RemoteTXID > 0 && s.LagSeconds == 0 && s.MediaFiles == 1
	})
	// A status may predate the replicator's notice of the canary's commit
	// (it looks every sync interval), so the control waits for the bucket.
	for deadline := time.Now().Add(30 * time.Second); len(holding(decodedBucket(t, s3, "pforte", key), canary)) == 0; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("control: the replicated pages do not hold the canary before the erasure; the scan proves nothing")
		}
	}
	var metrics []byte
	testenv.Eventually(t, 10*time.Second, "the metrics to show the sync", func() bool {
		resp, err := http.Get("http://" + internal + "/metrics")
		if err != nil {
			return false
		}
		metrics, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		return bytes.Contains(metrics, []byte("pforte_replica_last_sync_timestamp_seconds 1.")) && bytes.Contains(metrics, []byte("pforte_replica_lag_seconds 0"))
	})

	// The erasure also removes the customer's media file.
	os.Remove(filepath.Join(dir, store.MediaDirName, mediaName))
	// The bound counts from the erasure's snapshot; the erase command's
	// scrub goes on meanwhile (see TestReplicaErasureBoundCoversFirstSnapshot).
	eraseDone := startErase(t, dir, canaryWaID)
	erasedAt := waitReplica(t, dir, "snapshot after the erasure", func(s *replica.Status) bool { return !s.LastErasureSnapshot.IsZero() }).LastErasureSnapshot
	// Keep writing, as a live gateway does.
	for i := range 5 {
		postWebhook(t, c, secret, batchBody([]string{fmt.Sprintf("wamid.after.%d", i)}))
		time.Sleep(200 * time.Millisecond)
	}
	// The bound: retention plus one check (250 ms), plus slack for the sync.
	deadline := erasedAt.Add(retention + 250*time.Millisecond + 3*time.Second)
	for {
		objs := decodedBucket(t, s3, "pforte", key)
		left := append(holding(objs, canary), holding(objs, "KANARIE-media-of-the-erased")...)
		if len(left) == 0 {
			t.Logf("no erased byte left in the bucket %s after the erasure snapshot (retention %s)", time.Since(erasedAt).Round(100*time.Millisecond), retention)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after the erasure snapshot (retention %s) the bucket still holds the erased customer in %v", time.Since(erasedAt).Round(100*time.Millisecond), retention, left)
		}
		time.Sleep(200 * time.Millisecond)
	}
	eraseDone()
}

// ingestLoad posts webhook batches from senders concurrent clients for d
// and returns the acknowledged messages per second and the p99 latency.
func ingestLoad(tb testing.TB, c *child, secret, prefix string, senders int, d time.Duration, tick func()) (perSec float64, p99 time.Duration, acked []string) {
	var (
		mu   sync.Mutex
		lats []time.Duration
		seq  int
	)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: senders}}
	defer client.CloseIdleConnections()
	ctx, stop := context.WithTimeout(context.Background(), d)
	defer stop()
	var wg sync.WaitGroup
	for range senders {
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				ids := make([]string, 5)
				for i := range ids {
					seq++
					ids[i] = fmt.Sprintf("%s.%d", prefix, seq)
				}
				mu.Unlock()
				body := batchBody(ids)
				req, _ := http.NewRequest("POST", "http://"+c.public+"/webhook", bytes.NewReader(body))
				req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign([]byte(secret), body))
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					lats = append(lats, time.Since(t0))
					acked = append(acked, ids...)
					mu.Unlock()
				}
			}
		})
	}
	if tick != nil {
		wg.Go(func() {
			for ctx.Err() == nil {
				tick()
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	wg.Wait()
	slices.Sort(lats)
	if len(lats) == 0 {
		tb.Fatal("nothing acknowledged")
	}
	return float64(len(acked)) / d.Seconds(), lats[len(lats)*99/100], acked
}

// BenchmarkReplicaIngest measures webhook ingest with replication off and
// on (encrypted, to an in-process S3 server) in one run, alternating,
// the replica's lag under that load, and the restore of the result.
//
//	go test -tags '...' -run '^$' -bench ReplicaIngest -benchtime 1x ./cli
func BenchmarkReplicaIngest(b *testing.B) {
	s3b := s3mem.New()
	if err := s3b.CreateBucket("pforte"); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(s3b).Server())
	defer srv.Close()
	b.Setenv("AWS_ACCESS_KEY_ID", "k")
	b.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	b.Setenv("AWS_CA_BUNDLE", "")
	key := filepath.Join(b.TempDir(), "replica.key")
	if _, err := replica.WriteNewIdentity(key); err != nil {
		b.Fatal(err)
	}
	const secret, senders, d, rounds = "bench-secret", 16, 6 * time.Second, 6
	for range b.N {
		var rate [2]float64
		var p99 [2]time.Duration
		var maxLag float64
		var url, onDir string
		var onAcked int
		for round := range rounds { // off, on, off, on, …: the machine's load drifts
			on := round%2 == 1
			dir := b.TempDir()
			var extra []string
			if on {
				url = fmt.Sprintf("s3://pforte/r%d?endpoint=%s&region=eu-central-1", round, srv.URL)
				extra = []string{"--replica-url", url, "--replica-key-file", key}
				onDir = dir
			}
			c := startChildTB(b, dir, secret, extra...)
			var tick func()
			if on {
				tick = func() {
					if st, _ := replica.ReadStatus(dir); st != nil && st.LagSeconds > maxLag {
						maxLag = st.LagSeconds
					}
				}
			}
			r, p, acked := ingestLoad(b, c, secret, fmt.Sprintf("wamid.bench.%d", round), senders, d, tick)
			if on {
				onAcked = len(acked)
			}
			i := 0
			if on {
				i = 1
			}
			rate[i] += r / (rounds / 2)
			p99[i] = max(p99[i], p)
			c.cmd.Process.Signal(syscall.SIGTERM)
			c.cmd.Wait()
		}
		// Restore the last replicated run onto a fresh directory.
		fi, _ := os.Stat(filepath.Join(onDir, store.DBFile))
		t0 := time.Now()
		cmd := exec.Command(os.Args[0], "restore", "--from-replica", url, "--replica-key-file", key, "--data-dir", filepath.Join(b.TempDir(), "r"))
		cmd.Env = append(os.Environ(), "PFORTE_TEST_MAIN=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("restore: %v\n%s", err, out)
		}
		restore := time.Since(t0)
		b.ReportMetric(rate[0], "msgs/s-off")
		b.ReportMetric(rate[1], "msgs/s-on")
		b.ReportMetric(100*(rate[1]-rate[0])/rate[0], "throughput-change-%")
		b.ReportMetric(float64(p99[0].Microseconds())/1000, "p99-ms-off")
		b.ReportMetric(float64(p99[1].Microseconds())/1000, "p99-ms-on")
		b.ReportMetric(maxLag, "max-lag-s")
		b.ReportMetric(restore.Seconds(), "restore-s")
		if fi != nil {
			b.ReportMetric(float64(fi.Size())/(1<<20), "restored-db-MB")
		}
		b.ReportMetric(float64(onAcked), "msgs-restored")
		b.ReportMetric(0, "ns/op")
	}
}

// TestReplicaLeaseKeepsTwoInstancesFromRunning: while one instance holds
// the lease in the bucket a second refuses to start (so it cannot send),
// also right after the first was killed; once the lease expired the
// second starts.
func TestReplicaLeaseKeepsTwoInstancesFromRunning(t *testing.T) {
	s3 := startS3(t, "pforte")
	key := filepath.Join(t.TempDir(), "replica.key")
	if _, err := replica.WriteNewIdentity(key); err != nil {
		t.Fatal(err)
	}
	url := "s3://pforte/lease?endpoint=" + s3.url + "&region=eu-central-1"
	const ttl = 4 * time.Second
	flags := []string{"--replica-url", url, "--replica-key-file", key, "--replica-lease", "--replica-lease-ttl", ttl.String()}
	a := startChild(t, t.TempDir(), "s", flags...)
	t.Cleanup(func() {
		a.cmd.Process.Kill()
		a.cmd.Wait()
	})
	second := func() (string, error) {
		dir := t.TempDir()
		args := append([]string{"serve", "--data-dir", dir, "--http-addr", freeAddr(t), "--internal-addr", freeAddr(t),
			"--app-secret", "s", "--verify-token", "vt"}, flags...)
		cmd, out, done := startPforte(t, args...)
		select {
		case err := <-done:
			return out.String(), err
		case <-time.After(8 * time.Second):
			cmd.Process.Signal(syscall.SIGTERM)
			<-done
			return out.String(), nil // it ran
		}
	}
	out, err := second()
	if err == nil || !strings.Contains(out, "another instance holds the lease") {
		t.Fatalf("a second instance started while the first holds the lease: %v\n%s", err, out)
	}
	a.cmd.Process.Signal(syscall.SIGKILL)
	a.cmd.Wait()
	killed := time.Now()
	if out, err := second(); err == nil || !strings.Contains(out, "another instance holds the lease") {
		t.Fatalf("a second instance started right after the first was killed, inside its lease: %s", out)
	}
	time.Sleep(time.Until(killed.Add(ttl + time.Second)))
	if out, err := second(); err != nil || !strings.Contains(out, "holding the replica lease") {
		t.Fatalf("after the lease expired the second instance did not take over: %v\n%s", err, out)
	}
}

// TestReplicaStandbyPromote follows a primary with "pforte standby" on a
// second directory, kills the primary, promotes the standby with one
// command and starts it: every acknowledged message is there, the erased
// customer is not, and the promoted instance starts only after the dead
// primary's lease expired.
func TestReplicaStandbyPromote(t *testing.T) {
	s3 := startS3(t, "pforte")
	key := filepath.Join(t.TempDir(), "replica.key")
	if _, err := replica.WriteNewIdentity(key); err != nil {
		t.Fatal(err)
	}
	url := "s3://pforte/ha?endpoint=" + s3.url + "&region=eu-central-1"
	const ttl = 10 * time.Second
	flags := []string{"--replica-url", url, "--replica-key-file", key, "--replica-lease", "--replica-lease-ttl", ttl.String(),
		"--replica-sync-interval", "100ms", "--replica-media-interval", "200ms"}
	primary := t.TempDir()
	secret := "ha-secret"
	a := startChild(t, primary, secret, flags...)
	t.Cleanup(func() {
		a.cmd.Process.Kill()
		a.cmd.Wait()
	})
	standbyDir := filepath.Join(t.TempDir(), "standby")
	sb, sbOut, sbDone := startPforte(t, "standby", "--from-replica", url, "--replica-key-file", key, "--data-dir", standbyDir, "--interval", "300ms")
	t.Cleanup(func() {
		sb.Process.Kill()
		select {
		case <-sbDone:
		case <-time.After(5 * time.Second):
		}
		if t.Failed() {
			t.Logf("standby output:\n%s", sbOut.String())
		}
	})

	const canaryWaID = "4917099990003"
	postWebhook(t, a, secret, canaryBody(canaryWaID, "wamid.canary.3", "KANARIE-standby"))
	_, _, acked := ingestLoad(t, a, secret, "wamid.ha", 4, 2*time.Second, nil)
	runPforte(t, "erase", "--data-dir", primary, "--contact", canaryWaID, "--yes", "--reason", "test")
	_, _, more := ingestLoad(t, a, secret, "wamid.ha2", 4, time.Second, nil)
	acked = append(acked, more...)
	a.cmd.Process.Signal(syscall.SIGKILL)
	a.cmd.Wait()
	killed := time.Now()
	final := waitReplica(t, primary, "final sync after SIGKILL", func(s *replica.Status) bool { return s.Stopped })

	// The standby catches up to the primary's last transaction.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if standbyTXID(standbyDir) >= final.RemoteTXID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("standby did not reach transaction %d in 60s (has %d)", final.RemoteTXID, standbyTXID(standbyDir))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // one more refresh of tombstones and media
	out := runPforte(t, "promote", "--data-dir", standbyDir)
	t.Logf("promote: %s", out)
	select {
	case <-sbDone:
	case <-time.After(10 * time.Second):
		t.Fatal("the standby process did not stop on promote")
	}

	// Inside the dead primary's lease the promoted instance refuses to run.
	if time.Since(killed) > ttl-time.Second {
		t.Fatalf("promotion took %s, longer than the lease; raise the test's TTL", time.Since(killed))
	}
	{
		args := []string{"serve", "--data-dir", standbyDir, "--http-addr", freeAddr(t), "--internal-addr", freeAddr(t), "--app-secret", secret, "--verify-token", "vt"}
		cmd := exec.Command(os.Args[0], append(args, flags...)...)
		cmd.Env = append(os.Environ(), "PFORTE_TEST_MAIN=1")
		b, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(b), "another instance holds the lease") {
			t.Fatalf("promoted instance started inside the old primary's lease: %v\n%s", err, b)
		}
	}
	time.Sleep(time.Until(killed.Add(ttl + time.Second)))
	c := startChild(t, standbyDir, secret, flags...)
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.cmd.Wait()

	st, err := store.Open(context.Background(), standbyDir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	missing := 0
	for _, id := range acked {
		if _, err := st.MessageByWAMID(context.Background(), id); err != nil {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d acknowledged messages missing after promotion", missing, len(acked))
	}
	if _, err := st.MessageByWAMID(context.Background(), "wamid.canary.3"); err == nil {
		t.Fatal("the promoted standby holds the erased customer's message")
	}
	t.Logf("%d acknowledged messages present after promotion", len(acked))
}

// TestReplicaBucketDownLocalGoesOn: with the bucket unreachable the
// gateway still acknowledges deliveries, the status and /metrics show the
// lag and the error, and once the bucket answers the replica catches up.
func TestReplicaBucketDownLocalGoesOn(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_CA_BUNDLE", "")
	b := s3mem.New()
	if err := b.CreateBucket("pforte"); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t) // nothing listens there yet
	key := filepath.Join(t.TempDir(), "replica.key")
	if _, err := replica.WriteNewIdentity(key); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	internal := freeAddr(t)
	url := "s3://pforte/down?endpoint=http://" + addr + "&region=eu-central-1"
	c := startChild(t, dir, "s", "--internal-addr", internal, "--replica-url", url, "--replica-key-file", key,
		"--replica-sync-interval", "100ms", "--replica-media-interval", "200ms")
	t.Cleanup(func() {
		c.cmd.Process.Signal(syscall.SIGTERM)
		c.cmd.Wait()
		if t.Failed() {
			t.Logf("serve's output:\n%s", c.stderr.String())
		}
	})
	_, _, acked := ingestLoad(t, c, "s", "wamid.down", 2, time.Second, nil)
	if len(acked) == 0 {
		t.Fatal("no delivery acknowledged while the bucket was down")
	}
	st := waitReplica(t, dir, "an error and a lag", func(s *replica.Status) bool { return s.LastError != "" && s.LagSeconds > 0.5 })
	t.Logf("while down: lag %.1fs, error %q", st.LagSeconds, st.LastError)
	resp, err := http.Get("http://" + internal + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(m, []byte("pforte_replica_lag_seconds")) || bytes.Contains(m, []byte("pforte_replica_lag_seconds 0\n")) {
		t.Fatalf("metrics do not show the lag:\n%s", grepLines(string(m), "pforte_replica"))
	}

	// The bucket comes back on the same address.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: gofakes3.New(b).Server()}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	st = waitReplica(t, dir, "catching up", func(s *replica.Status) bool {
		return s.LagSeconds == 0 && s.RemoteTXID > 0 && s.RemoteTXID == s.LocalTXID
	})
	t.Logf("caught up at transaction %d", st.RemoteTXID)
}

// restoreReplica runs "pforte restore --from-replica" onto a new data
// directory and opens what it restored; the caller closes the store. It
// returns the store, the directory and the command's output.
func restoreReplica(t *testing.T, url, key string, extra ...string) (*store.Store, string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "restored")
	out := runPforte(t, append([]string{"restore", "--from-replica", url, "--replica-key-file", key, "--data-dir", dir}, extra...)...)
	t.Logf("restore %v: %s", extra, out)
	st, err := store.Open(context.Background(), dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st, dir, out
}
