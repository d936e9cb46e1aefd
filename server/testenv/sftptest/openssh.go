package sftptest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// sshdPath is where Debian's openssh-server puts the daemon (it must be
// started by its absolute path).
const sshdPath = "/usr/sbin/sshd"

// StartOpenSSH runs Debian's OpenSSH daemon on loopback for the test: an
// Ed25519 host key, key login only for the user running the test, and its
// built-in SFTP server over the real file system; Dir is a temporary
// directory, reached at the path Root. Without sshd the test is skipped
// locally but fails in CI (CI=true), where .ci/run installs openssh-server.
func StartOpenSSH(t testing.TB) *Server {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("sshd is missing; .ci/run installs it with apt-get install openssh-server")
		}
		t.Skip("sshd not installed (apt-get install openssh-server)")
	}
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	etc := t.TempDir()
	s := &Server{Dir: t.TempDir(), User: me.Username}
	s.Root = s.Dir

	writeKey := func(name string) (ssh.PublicKey, string) {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		block, err := ssh.MarshalPrivateKey(k, "pforte test")
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(etc, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		pub, err := ssh.NewPublicKey(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		return pub, path
	}
	hostPub, hostKey := writeKey("host_ed25519")
	s.HostKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(hostPub)))
	clientPub, clientKey := writeKey("id_ed25519")
	s.ClientKeyFile = clientKey
	if err := os.WriteFile(filepath.Join(etc, "authorized_keys"), ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		t.Fatal(err)
	}

	// A free port: taken, noted and given back for sshd to bind.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(s.Addr)
	conf := filepath.Join(etc, "sshd_config")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `Port %s
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
AllowUsers %s
Subsystem sftp internal-sftp
`, port, hostKey, filepath.Join(etc, "sshd.pid"), filepath.Join(etc, "authorized_keys"), s.User), 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		// Privilege separation needs its empty directory.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", conf)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("sshd:\n%s", log.String())
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", s.Addr); err == nil {
			c.Close()
			return s
		}
		select {
		case <-exited:
			t.Fatalf("sshd ended at start:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited // the log is complete only then
			t.Fatalf("sshd not listening after 10s:\n%s", log.String())
		}
	}
}
