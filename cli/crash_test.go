package cli

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// TestMain lets tests run this test binary as the pforte command itself
// (PFORTE_TEST_MAIN=1), so child-process tests need no separate build.
func TestMain(m *testing.M) {
	if os.Getenv("PFORTE_TEST_MAIN") == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// child is a pforte process started from the test binary.
type child struct {
	cmd    *exec.Cmd
	public string
	stderr bytes.Buffer
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startChild runs "pforte serve" on dir and waits until it answers.
func startChild(t *testing.T, dir string, secret string, extra ...string) *child {
	return startChildTB(t, dir, secret, extra...)
}

func startChildTB(t testing.TB, dir string, secret string, extra ...string) *child {
	t.Helper()
	c := &child{public: freeAddr(t)}
	args := append([]string{"serve", "--data-dir", dir, "--http-addr", c.public, "--internal-addr", freeAddr(t),
		"--app-secret", secret, "--verify-token", "vt"}, extra...)
	c.cmd = exec.Command(os.Args[0], args...)
	c.cmd.Env = append(os.Environ(), "PFORTE_TEST_MAIN=1")
	c.cmd.Stderr = &c.stderr
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + c.public + "/healthz")
		if err == nil {
			resp.Body.Close()
			return c
		}
		if time.Now().After(deadline) {
			c.cmd.Process.Kill()
			t.Fatalf("child did not start: %v\n%s", err, c.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCrashLosesNothingAcknowledged kills the gateway with SIGKILL at random
// moments while many senders deliver, and checks after every crash that
// each delivery that got a 200 is stored and the database is intact.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	secret := "crash-secret"
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var (
		mu    sync.Mutex
		acked []string // wamids in deliveries that got 200
		seq   int
	)
	const kills = 6
	for round := range kills {
		c := startChild(t, dir, secret)
		ctx, stop := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
		for range 24 {
			wg.Go(func() {
				for ctx.Err() == nil {
					mu.Lock()
					n := 1 + rand.IntN(20)
					ids := make([]string, n)
					for i := range ids {
						seq++
						ids[i] = fmt.Sprintf("wamid.crash.%d", seq)
					}
					mu.Unlock()
					body := batchBody(ids)
					req, _ := http.NewRequest("POST", "http://"+c.public+"/webhook", bytes.NewReader(body))
					req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign([]byte(secret), body))
					resp, err := client.Do(req)
					if err != nil {
						continue // the process died under us: not acknowledged
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
		time.Sleep(time.Duration(150+rng.IntN(700)) * time.Millisecond)
		c.cmd.Process.Signal(syscall.SIGKILL)
		c.cmd.Wait()
		stop()
		wg.Wait()
		client.CloseIdleConnections()

		st, err := store.Open(context.Background(), dir, store.Options{})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		if err := st.IntegrityCheck(context.Background()); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		mu.Lock()
		missing := 0
		for _, id := range acked {
			if _, err := st.MessageByWAMID(context.Background(), id); err != nil {
				missing++
			}
		}
		n := len(acked)
		mu.Unlock()
		st.Close()
		t.Logf("round %d: %d acknowledged messages so far, %d missing after SIGKILL", round, n, missing)
		if missing > 0 {
			t.Fatalf("round %d: %d acknowledged messages lost", round, missing)
		}
	}
	if len(acked) < 500 {
		t.Fatalf("only %d messages acknowledged across %d crashes; the load did not reach the server", len(acked), kills)
	}
}

func batchBody(ids []string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"object":"whatsapp_business_account","entry":[{"id":"318824617705293","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"4930123456","phone_number_id":"412095873361844"},"contacts":[{"profile":{"name":"Crash Test"},"wa_id":"4915112345678"}],"messages":[`)
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"from":"4915112345678","id":%q,"timestamp":"1790000000","type":"text","text":{"body":"Nachricht %d"}}`, id, i)
	}
	b.WriteString(`]}}]}]}`)
	return b.Bytes()
}

// BenchmarkIdleRSS reports the resident memory of an idle "pforte serve"
// after startup and a few health checks.
//
//	go test -tags '...' -run '^$' -bench IdleRSS -benchtime 1x .
func BenchmarkIdleRSS(b *testing.B) {
	for range b.N {
		dir := b.TempDir()
		c := startChildTB(b, dir, "secret")
		for range 50 {
			if resp, err := http.Get("http://" + c.public + "/healthz"); err == nil {
				resp.Body.Close()
			}
		}
		time.Sleep(time.Second)
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
		c.cmd.Process.Signal(syscall.SIGTERM)
		c.cmd.Wait()
		if err != nil {
			b.Fatal(err)
		}
		// RssAnon is the process's own memory; the rest of VmRSS are pages
		// of the binary file, shared and reclaimable.
		var kb, anon int
		for _, line := range bytes.Split(status, []byte("\n")) {
			if bytes.HasPrefix(line, []byte("VmRSS:")) {
				fmt.Sscanf(string(line[6:]), "%d", &kb)
			}
			if bytes.HasPrefix(line, []byte("RssAnon:")) {
				fmt.Sscanf(string(line[8:]), "%d", &anon)
			}
		}
		b.ReportMetric(float64(kb)/1024, "idle-RSS-MB")
		b.ReportMetric(float64(anon)/1024, "idle-private-MB")
		b.ReportMetric(0, "ns/op")
	}
}
