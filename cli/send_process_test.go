package cli

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
)

// sendChild is "pforte serve" run from the test binary (see TestMain in
// crash_test.go) with both listeners known.
type sendChild struct {
	cmd      *exec.Cmd
	log      *bytes.Buffer
	public   string
	internal string
}

// pforteCmd runs a pforte command from the test binary.
func pforteCmd(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "PFORTE_TEST_MAIN=1")
	return cmd
}

func startSendChild(t *testing.T, args ...string) *sendChild {
	t.Helper()
	c := &sendChild{log: &bytes.Buffer{}, public: freeAddr(t), internal: freeAddr(t)}
	c.cmd = pforteCmd(append([]string{"serve", "--http-addr", c.public, "--internal-addr", c.internal}, args...)...)
	c.cmd.Stdout, c.cmd.Stderr = c.log, c.log
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.cmd.ProcessState == nil {
			c.cmd.Process.Kill()
			c.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("child log:\n%s", c.log)
		}
	})
	testenv.Eventually(t, 30*time.Second, "pforte to answer /healthz", func() bool {
		resp, err := http.Get("http://" + c.public + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return c
}

func (c *sendChild) kill9(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()
}

// The outbox survives kill -9: queued messages go out after the restart,
// one that was mid-send becomes "unknown" instead of being repeated, and
// no message reaches Meta twice.
func TestOutboxSurvivesKillAndRestart(t *testing.T) {
	const n = 30
	dir := t.TempDir()
	sim := simulator.New(simulator.Options{AccessToken: "tok", AppSecret: []byte("secret"), StatusDelay: -1, Latency: 20 * time.Millisecond})
	graph := httptest.NewServer(sim.Handler())
	defer graph.Close()
	defer sim.Close()
	args := []string{"--data-dir", dir, "--app-secret", "secret", "--verify-token", "v", "--access-token", "tok",
		"--graph-url", graph.URL, "--send-rate", "10", "--send-concurrency", "1"}
	c := startSendChild(t, args...)
	sim.SetWebhook("http://"+c.public+"/webhook", []byte("secret"))

	key, ids := enqueueToCustomers(t, sim, dir, c.internal, n)
	testenv.Eventually(t, 10*time.Second, "some sends before the kill", func() bool { return len(sim.Accepted()) >= 5 })
	c.kill9(t)
	before := len(sim.Accepted())
	if before >= n {
		t.Fatalf("all %d sent before the kill; the test proves nothing", before)
	}

	c = startSendChild(t, args...)
	sim.SetWebhook("http://"+c.public+"/webhook", []byte("secret"))
	states := map[string]string{}
	testenv.Eventually(t, 20*time.Second, "every message to finish", func() bool {
		for _, id := range ids {
			req, _ := http.NewRequest("GET", "http://"+c.internal+"/api/v1/messages/"+id, nil)
			req.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return false
			}
			var m struct {
				Delivery struct{ State string } `json:"delivery"`
			}
			json.NewDecoder(resp.Body).Decode(&m)
			resp.Body.Close()
			states[id] = m.Delivery.State
			if m.Delivery.State == "queued" || m.Delivery.State == "sending" || m.Delivery.State == "" {
				return false
			}
		}
		return true
	})
	seen := map[string]int{}
	for _, r := range sim.Accepted() {
		var b struct{ Text struct{ Body string } }
		json.Unmarshal(r.Body, &b)
		seen[b.Text.Body]++
	}
	accepted, unknown := 0, 0
	for i, id := range ids {
		body := fmt.Sprintf("Nachricht %d", i)
		switch states[id] {
		case "accepted":
			accepted++
			if seen[body] != 1 {
				t.Errorf("%s accepted but reached Meta %d times", body, seen[body])
			}
		case "unknown":
			unknown++
			if seen[body] > 1 {
				t.Errorf("%s unknown and sent %d times", body, seen[body])
			}
		default:
			t.Errorf("%s ended %q", body, states[id])
		}
	}
	t.Logf("before kill: %d sent; after restart: %d accepted, %d unknown (of %d)", before, accepted, unknown, n)
	if len(sim.Accepted()) <= before {
		t.Fatal("nothing was sent after the restart")
	}
	if accepted+unknown != n || unknown > 1 {
		t.Fatalf("accepted %d + unknown %d != %d (one request in flight at a time: at most one can be mid-send)", accepted, unknown, n)
	}
}

// serve --demo fills the inbox within seconds with no Meta account.
func TestDemoFillsInbox(t *testing.T) {
	dir := t.TempDir()
	c := startSendChild(t, "--demo", "--data-dir", dir)
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "pforte.db")+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var msgs, media int
	testenv.Eventually(t, 15*time.Second, "the demo inbox to fill", func() bool {
		db.QueryRow("SELECT count(*) FROM messages WHERE direction = 'inbound'").Scan(&msgs)
		db.QueryRow("SELECT count(*) FROM media WHERE state = 'stored'").Scan(&media)
		return msgs >= 10 && media >= 1
	})
	t.Logf("%d messages, %d media files stored", msgs, media)
	_ = c
}

// pforte simulate drives signed customer webhooks at a gateway and prints
// a summary table.
func TestSimulateCommand(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"simulate", "--listen", "", "--target", g.Public.URL + "/webhook",
		"--app-secret", string(g.AppSecret), "--count", "40", "--rate", "200", "--kinds", "text,location,image"}, nil, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s %s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "ack p50") || !strings.Contains(stdout.String(), "40 ") {
		t.Fatalf("table: %s", stdout.String())
	}
	db, _ := sql.Open("sqlite3", "file:"+g.Store.Path()+"?mode=ro")
	defer db.Close()
	var n int
	db.QueryRow("SELECT count(*) FROM messages").Scan(&n)
	if n != 40 {
		t.Fatalf("gateway stored %d of 40 messages", n)
	}
	// A wrong secret is refused by the gateway and reported.
	code = run(context.Background(), []string{"simulate", "--listen", "", "--target", g.Public.URL + "/webhook",
		"--app-secret", "wrong", "--count", "2", "--rate", "50"}, nil, io.Discard, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "not acknowledged") {
		t.Fatalf("wrong secret: exit %d, %s", code, stderr.String())
	}
}

// Bad sending settings stop startup with a sentence naming the flag and
// its variable, and leave the data directory untouched.
func TestInvalidSendingSettings(t *testing.T) {
	for _, tc := range []struct{ args []string }{
		{[]string{"--send-rate", "0"}}, {[]string{"--send-rate", "5000"}}, {[]string{"--pair-burst", "0"}},
		{[]string{"--send-concurrency", "0"}}, {[]string{"--send-attempts", "0"}}, {[]string{"--media-workers", "100"}},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"serve", "--data-dir", dir}, tc.args...), nil, &out, &errb)
		flag := strings.TrimPrefix(tc.args[0], "--")
		if code != 1 || !strings.Contains(errb.String(), "--"+flag) || !strings.Contains(errb.String(), envName(flag)) {
			t.Errorf("%v: exit %d, %q", tc.args, code, errb.String())
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%v: data directory created despite the bad setting", tc.args)
		}
	}
	var errb bytes.Buffer
	code := run(context.Background(), []string{"simulate", "--target", "http://127.0.0.1:1/webhook"}, nil, io.Discard, &errb)
	if code != 1 || !strings.Contains(errb.String(), "--app-secret") {
		t.Errorf("simulate without a secret: %d %q", code, errb.String())
	}
}

// enqueueToCustomers lets n simulated customers write (so their windows
// are open), then queues one text to each through a running child's API
// with a new key; it returns the key and the queued message ids.
func enqueueToCustomers(t *testing.T, sim *simulator.Simulator, dataDir, internal string, n int) (key string, ids []string) {
	t.Helper()
	out, err := pforteCmd("apikey", "create", "--name", "t", "--scopes", "send,read", "--data-dir", dataDir).Output()
	if err != nil {
		t.Fatal(err)
	}
	key = strings.TrimSpace(string(out))
	customers := simulator.Customers(n)
	for _, cu := range customers {
		if _, st, err := sim.Write(context.Background(), cu, "text"); err != nil || st != 200 {
			t.Fatalf("customer: %d %v", st, err)
		}
	}
	for i, cu := range customers {
		to := `"to":"+` + cu.WaID + `"`
		if cu.WaID == "" {
			to = `"recipient":"` + cu.UserID + `"`
		}
		body := fmt.Sprintf(`{"phone_number_id":"%s","message":{"messaging_product":"whatsapp",%s,"type":"text","text":{"body":"Nachricht %d"}}}`,
			sim.Options().PhoneNumberID, to, i)
		req, _ := http.NewRequest("POST", "http://"+internal+"/api/v1/messages", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var acc struct{ ID string }
		json.NewDecoder(resp.Body).Decode(&acc)
		resp.Body.Close()
		if resp.StatusCode != 202 {
			t.Fatalf("enqueue: %d", resp.StatusCode)
		}
		ids = append(ids, acc.ID)
	}
	return key, ids
}
