package fanout_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
)

// binDir holds the pforte binary that the child-process tests run; it is
// built at most once per test binary and removed in TestMain.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// pforteBinary builds ./pforte from the module root with the release tags.
func pforteBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		root, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			binError = fmt.Errorf("go env GOMOD: %w", err)
			return
		}
		if binDir, err = os.MkdirTemp("", "pforte-bin-"); err != nil {
			binError = err
			return
		}
		binPath = filepath.Join(binDir, "pforte")
		cmd := exec.Command("go", "build", "-tags", "sqlite_omit_load_extension sqlite_fts5 osusergo netgo", "-o", binPath, ".")
		cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
		cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			binError = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

// child is one "pforte serve" process.
type child struct {
	cmd      *exec.Cmd
	public   string
	internal string
	exited   chan struct{}
	mu       sync.Mutex
	log      bytes.Buffer
}

var readyLine = regexp.MustCompile(`msg="pforte ready".* public=(\S+) internal=(\S+)`)

func startServe(t *testing.T, bin, dataDir, appSecret string) *child {
	t.Helper()
	c := &child{exited: make(chan struct{})}
	c.cmd = exec.Command(bin, "serve", "--data-dir", dataDir, "--http-addr", "127.0.0.1:0", "--internal-addr", "127.0.0.1:0",
		"--app-secret", appSecret, "--verify-token", "crash-test", "--fanout-retry-base", "20ms", "--fanout-retry-max", "200ms",
		"--log-level", "info")
	stderr, err := c.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan [2]string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			c.mu.Lock()
			c.log.WriteString(line + "\n")
			c.mu.Unlock()
			if m := readyLine.FindStringSubmatch(line); m != nil {
				ready <- [2]string{m[1], m[2]}
			}
		}
		io.Copy(io.Discard, stderr)
		c.cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		// Never leave a child behind, whatever happened.
		c.cmd.Process.Kill()
		<-c.exited
		if t.Failed() {
			c.mu.Lock()
			t.Logf("pforte log:\n%s", c.log.String())
			c.mu.Unlock()
		}
	})
	select {
	case addrs := <-ready:
		c.public, c.internal = "http://"+addrs[0], "http://"+addrs[1]
	case <-c.exited:
		t.Fatalf("pforte serve exited before it was ready:\n%s", c.log.String())
	case <-time.After(60 * time.Second):
		t.Fatal("pforte serve did not get ready")
	}
	return c
}

func TestQueueSurvivesKill9(t *testing.T) {
	bin := pforteBinary(t)
	dataDir := t.TempDir()
	const appSecret = "crash-test-app-secret"
	out, err := exec.Command(bin, "apikey", "create", "--data-dir", dataDir, "--name", "crash", "--scopes", "admin").Output()
	if err != nil {
		t.Fatalf("apikey create: %v", err)
	}
	apiKey := strings.TrimSpace(string(out))

	rc := newReceiver(t, "crash-receiver-secret-0123")
	// Before the crash the receiver is unreliable, so that some deliveries
	// wait in backoff and some are in flight when the process dies.
	rc.setAnswer(func(r received) int {
		if r.Sequence%2 == 1 && r.Attempt < 3 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})

	c := startServe(t, bin, dataDir, appSecret)
	sub, _ := json.Marshal(map[string]any{"url": rc.srv.URL + "/hook", "secret": rc.secret, "name": "crash"})
	req, _ := http.NewRequest(http.MethodPost, c.internal+"/api/v1/subscriptions", bytes.NewReader(sub))
	req.Header.Set("Authorization", "Bearer "+apiKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create subscription: %d", resp.StatusCode)
	}

	// Post signed deliveries from four clients until the process is gone.
	var (
		mu    sync.Mutex
		acked = map[string]bool{}
		next  atomic.Int64
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				body := textBody(int(next.Add(1)))
				req, _ := http.NewRequest(http.MethodPost, c.public+"/webhook", bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign([]byte(appSecret), body))
				resp, err := client.Do(req)
				if err != nil {
					return // the process was killed
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked[digest(body)] = true
					mu.Unlock()
				}
			}
		}()
	}
	waitFor(t, "200 acknowledged deliveries", func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 200 })
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-c.exited
	wg.Wait()
	before := map[string]bool{}
	for _, r := range rc.accepted() {
		before[r.Delivery] = true
	}
	t.Logf("killed with %d deliveries acknowledged; receiver had accepted %d", len(acked), len(before))

	// After a restart every acknowledged delivery reaches the receiver.
	rc.setAnswer(nil)
	c2 := startServe(t, bin, dataDir, appSecret)
	missing := func() int {
		got := map[string]bool{}
		for _, r := range rc.accepted() {
			got[r.Delivery] = true
		}
		n := 0
		for d := range acked {
			if !got[d] {
				n++
			}
		}
		return n
	}
	waitFor(t, "every acknowledged delivery at the receiver", func() bool { return missing() == 0 })
	for i, r := range rc.all() {
		if !r.Signature || digest(r.Body) != r.Delivery {
			t.Fatalf("request %d: signature ok %v, body digest matches %v", i, r.Signature, digest(r.Body) == r.Delivery)
		}
	}
	// The CLI works beside the running server: a replay it queues is found
	// by the server's poll and sent.
	waitFor(t, "queue drained", func() bool {
		out, err := exec.Command(bin, "fanout", "list", "--data-dir", dataDir).Output()
		return err == nil && regexp.MustCompile(`(?m)^1\s+crash\s+\S+\s+messages,statuses,errors,other\s+true\s+0\s`).Match(out)
	})
	already := len(rc.accepted())
	out, err = exec.Command(bin, "fanout", "replay", "--data-dir", dataDir, "--id", "1", "--from", "1h").CombinedOutput()
	var queued int
	if _, serr := fmt.Sscanf(string(out), "%d deliveries queued", &queued); err != nil || serr != nil || queued < len(acked) {
		t.Fatalf("fanout replay while serving: %v %q", err, out)
	}
	waitFor(t, "CLI replay delivered", func() bool { return len(rc.accepted()) >= already+queued })

	// A clean stop after the crash recovery.
	c2.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c2.exited:
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop on SIGTERM")
	}
	if code := c2.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM", code)
	}
}
