package replica

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
)

// SFTPPasswordEnv holds the SFTP password; it never goes into the URL
// (which shows up in process lists, logs and the status file).
const SFTPPasswordEnv = "PFORTE_REPLICA_SFTP_PASSWORD"

// SFTPTarget is the SSH side of an sftp:// URL.
type SFTPTarget struct {
	User    string
	Addr    string        // host:port
	HostKey ssh.PublicKey // the one key the server must present
	KeyFile string        // SSH private key (path); empty: password only
	// Password is given explicitly (the settings page's "check the
	// connection"); empty: the environment's.
	Password string
}

// parseSFTP fills t from sftp://user@host[:port]/path?host_key=…&key_file=….
func parseSFTP(u *url.URL, t *Target) error {
	const example = "sftp://u12345@u12345.your-storagebox.de:23/pforte?host_key=ssh-ed25519%20AAAA…&key_file=/etc/pforte/replica_ssh_key"
	if u.User == nil || u.User.Username() == "" {
		return errors.New("want a user: " + example)
	}
	if _, has := u.User.Password(); has {
		return errors.New("put no password into the URL; set " + SFTPPasswordEnv + " or, better, use an SSH key with key_file=/path/to/key")
	}
	host, port := u.Hostname(), u.Port()
	if host == "" {
		return errors.New("want a host: " + example)
	}
	if port == "" {
		port = "22"
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("port %q: want 1–65535", port)
	}
	p := path.Clean("/" + u.Path)
	if p == "/" {
		return errors.New("want a directory on the server, e.g. " + example)
	}
	s := &SFTPTarget{User: u.User.Username(), Addr: net.JoinHostPort(host, port)}
	for k, v := range t.Query {
		switch k {
		case "host_key":
		case "key_file":
			if len(v) != 1 || v[0] == "" {
				return errors.New("key_file: want one path to an SSH private key")
			}
			s.KeyFile = v[0]
		default:
			return fmt.Errorf("unknown parameter %q (known: host_key, key_file)", k)
		}
	}
	hk := t.Query["host_key"]
	scan := "ssh-keyscan -t ed25519 " + host
	if port != "22" {
		scan = "ssh-keyscan -p " + port + " -t ed25519 " + host
	}
	if len(hk) == 0 || strings.TrimSpace(hk[0]) == "" {
		return fmt.Errorf("want the server's host key as host_key=… (URL-encoded): without it anyone on the way could pose as the server; get it with: %s", scan)
	}
	if len(hk) > 1 {
		return errors.New("host_key: give it once")
	}
	key, err := parseHostKey(hk[0])
	if err != nil {
		return fmt.Errorf("host_key: %v; want the line of %s, URL-encoded (space as %%20, + as %%2B)", err, scan)
	}
	s.HostKey = key
	t.Path = p
	t.Bucket = s.Addr
	t.SFTP = s
	return nil
}

// parseHostKey reads "ssh-ed25519 AAAA… [comment]" (authorized_keys form)
// or "host ssh-ed25519 AAAA…" (what ssh-keyscan prints).
func parseHostKey(s string) (ssh.PublicKey, error) {
	f := strings.Fields(s)
	if len(f) >= 3 && !isKeyAlgo(f[0]) && isKeyAlgo(f[1]) {
		f = f[1:] // ssh-keyscan's host in front
	}
	if len(f) < 2 || !isKeyAlgo(f[0]) {
		return nil, errors.New("not a public key")
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(f[0] + " " + f[1]))
	if err != nil {
		return nil, errors.New("not a public key (a + read as a space? encode it as %2B)")
	}
	if key.Type() != f[0] {
		return nil, fmt.Errorf("the key is a %s, not a %s", key.Type(), f[0])
	}
	return key, nil
}

func isKeyAlgo(s string) bool {
	switch s {
	case ssh.KeyAlgoED25519, ssh.KeyAlgoRSA, ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
		return true
	}
	return false
}

// hostKeyAlgorithms pins the negotiation to the pinned key's type: by
// default the client asks for ECDSA before Ed25519, and a server with both
// would present the one that was not pinned.
func hostKeyAlgorithms(k ssh.PublicKey) []string {
	if k.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}
	}
	return []string{k.Type()}
}

// auth returns the login methods: the key file first, the password from
// the environment as well if set. Neither is an error that says what to do.
func (s *SFTPTarget) auth() ([]ssh.AuthMethod, error) {
	var out []ssh.AuthMethod
	if s.KeyFile != "" {
		b, err := os.ReadFile(s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("key_file: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(b)
		var pp *ssh.PassphraseMissingError
		if errors.As(err, &pp) {
			return nil, fmt.Errorf("key_file %s is protected by a passphrase; Pforte logs in unattended: use a key without one (ssh-keygen -t ed25519 -N '' -f FILE)", s.KeyFile)
		}
		if err != nil {
			return nil, fmt.Errorf("key_file %s: %w", s.KeyFile, err)
		}
		out = append(out, ssh.PublicKeys(signer))
	}
	pw := s.Password
	if pw == "" {
		pw = os.Getenv(SFTPPasswordEnv)
	}
	if pw != "" {
		// Some servers ask for the password as keyboard-interactive; a
		// single prompt gets it, anything more (a second factor) nothing.
		out = append(out, ssh.Password(pw), ssh.KeyboardInteractive(func(_, _ string, qs []string, _ []bool) ([]string, error) {
			if len(qs) > 1 {
				return nil, errors.New("the server asks more than a password")
			}
			ans := make([]string, len(qs))
			for i := range ans {
				ans[i] = pw
			}
			return ans, nil
		}))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no way to log in as %s: give an SSH private key with key_file=/path/to/key (preferred) or set %s", s.User, SFTPPasswordEnv)
	}
	return out, nil
}
