package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Mailpit is a real SMTP server (axllent/mailpit, pinned as a go tool in
// go.mod) run as a child process for the test, with its HTTP API for
// reading what arrived.
type Mailpit struct {
	Host     string // 127.0.0.1
	SMTPPort int
	APIURL   string
	// CA signed the STARTTLS certificate (for localhost and 127.0.0.1).
	CA *CA
}

// MailpitMessage is one message in Mailpit's list.
type MailpitMessage struct {
	ID      string `json:"ID"`
	Subject string `json:"Subject"`
	To      []struct {
		Address string `json:"Address"`
	} `json:"To"`
	Snippet string `json:"Snippet"`
}

// mailpitBinary builds (once, cached by the go command) and finds the
// pinned mailpit. Without it the test skips, or fails under CI.
func mailpitBinary(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "tool", "-n", "mailpit").Output()
	path := strings.TrimSpace(string(out))
	if err != nil || path == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("mailpit not available (go tool -n mailpit): %v", err)
		}
		t.Skipf("mailpit not available (go tool -n mailpit): %v", err)
	}
	return path
}

// StartMailpit runs Mailpit with STARTTLS offered (and, if requireTLS,
// required) until the test ends.
func StartMailpit(t testing.TB, requireTLS bool) *Mailpit {
	t.Helper()
	bin := mailpitBinary(t)
	dir := t.TempDir()
	ca := NewCA(t, "Mailpit Test CA")
	certPEM, keyPEM := ca.Issue(t, Leaf{CN: "localhost", DNSNames: []string{"localhost"}})
	certFile, keyFile := WritePair(t, dir, certPEM, keyPEM)
	smtpPort, httpPort := FreePort(t), FreePort(t)
	args := []string{"--smtp", "127.0.0.1:" + strconv.Itoa(smtpPort), "--listen", "127.0.0.1:" + strconv.Itoa(httpPort),
		"--database", filepath.Join(dir, "mailpit.db"), "--smtp-tls-cert", certFile, "--smtp-tls-key", keyFile,
		"--smtp-auth-accept-any", "--disable-version-check", "--quiet"}
	if requireTLS {
		args = append(args, "--smtp-require-starttls")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("mailpit: %v", err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	m := &Mailpit{Host: "127.0.0.1", SMTPPort: smtpPort, APIURL: fmt.Sprintf("http://127.0.0.1:%d", httpPort), CA: ca}
	Eventually(t, 20*time.Second, "mailpit to listen", func() bool {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", smtpPort), 200*time.Millisecond)
		if err != nil {
			return false
		}
		c.Close()
		resp, err := http.Get(m.APIURL + "/api/v1/messages")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return m
}

// Messages lists what Mailpit received, newest first.
func (m *Mailpit) Messages(t testing.TB) []MailpitMessage {
	t.Helper()
	resp, err := http.Get(m.APIURL + "/api/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Messages []MailpitMessage `json:"messages"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Messages
}
