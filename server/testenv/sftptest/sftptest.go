// Package sftptest runs a real SFTP server for tests: an SSH server
// (golang.org/x/crypto/ssh) on loopback TCP with Ed25519 and ECDSA host
// keys, password and public-key login, and pkg/sftp's request server over
// a temporary directory that stands for the server's "/".
package sftptest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// Server is one running SFTP server.
type Server struct {
	Addr     string // 127.0.0.1:port
	Dir      string // what the server shows as "/"
	User     string
	Password string
	// HostKey is the Ed25519 host key in authorized_keys form; the server
	// also has an ECDSA key (ECDSAHostKey), which a client asks for first
	// unless it pins the algorithm.
	HostKey      string
	ECDSAHostKey string
	// ClientKeyFile is an unencrypted OpenSSH private key the server
	// accepts for User.
	ClientKeyFile string
	// Root is Dir's path as the server shows it: "" when Dir is the
	// server's "/" (pkg/sftp here), Dir itself for OpenSSH.
	Root   string
	Logins atomic.Int64 // successful logins

	ln    net.Listener
	mu    sync.Mutex
	conns map[net.Conn]bool
}

// Start runs a server until the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	cfg := &ssh.ServerConfig{}
	s := &Server{Dir: t.TempDir(), User: "u12345", Password: "richtig-" + rand.Text()[:8], conns: map[net.Conn]bool{}}
	for i, gen := range []func() (any, error){
		func() (any, error) { _, k, err := ed25519.GenerateKey(rand.Reader); return k, err },
		func() (any, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) },
	} {
		k, err := gen()
		if err != nil {
			t.Fatal(err)
		}
		signer, err := ssh.NewSignerFromKey(k)
		if err != nil {
			t.Fatal(err)
		}
		cfg.AddHostKey(signer)
		line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
		if i == 0 {
			s.HostKey = line
		} else {
			s.ECDSAHostKey = line
		}
	}

	_, clientKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(clientKey, "pforte test")
	if err != nil {
		t.Fatal(err)
	}
	s.ClientKeyFile = filepath.Join(t.TempDir(), "id_ed25519")
	if err := os.WriteFile(s.ClientKeyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	clientPub, err := ssh.NewPublicKey(clientKey.Public())
	if err != nil {
		t.Fatal(err)
	}
	cfg.PasswordCallback = func(c ssh.ConnMetadata, pw []byte) (*ssh.Permissions, error) {
		if c.User() == s.User && string(pw) == s.Password {
			return nil, nil
		}
		return nil, errors.New("wrong password")
	}
	cfg.PublicKeyCallback = func(c ssh.ConnMetadata, k ssh.PublicKey) (*ssh.Permissions, error) {
		if c.User() == s.User && string(k.Marshal()) == string(clientPub.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("unknown key")
	}

	s.ln, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = s.ln.Addr().String()
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			nc, err := s.ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[nc] = true
			s.mu.Unlock()
			wg.Go(func() {
				defer func() {
					nc.Close()
					s.mu.Lock()
					delete(s.conns, nc)
					s.mu.Unlock()
				}()
				s.serve(nc, cfg)
			})
		}
	})
	t.Cleanup(func() {
		s.ln.Close()
		s.DropConnections()
		wg.Wait()
	})
	return s
}

// DropConnections cuts every open connection, as a network failure would.
func (s *Server) DropConnections() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.Close()
	}
}

// URL is the sftp:// URL of dir on this server with the Ed25519 host key;
// extra query parameters (key_file=…) may follow.
func (s *Server) URL(dir string, extra ...string) string {
	q := "host_key=" + url.QueryEscape(s.HostKey)
	for _, e := range extra {
		q += "&" + e
	}
	return "sftp://" + s.User + "@" + s.Addr + s.Root + "/" + strings.TrimPrefix(dir, "/") + "?" + q
}

// Files returns every regular file on the server, path (from "/") → bytes.
func (s *Server) Files(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(s.Dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(s.Dir, p)
		out["/"+filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (s *Server) serve(nc net.Conn, cfg *ssh.ServerConfig) {
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	conn, chans, reqs, err := ssh.NewServerConn(nc, cfg)
	if err != nil {
		return
	}
	nc.SetDeadline(time.Time{})
	s.Logins.Add(1)
	defer conn.Close()
	go ssh.DiscardRequests(reqs)
	for nch := range chans {
		if nch.ChannelType() != "session" {
			nch.Reject(ssh.UnknownChannelType, "session only")
			continue
		}
		ch, creqs, err := nch.Accept()
		if err != nil {
			return
		}
		go func() {
			for req := range creqs {
				ok := req.Type == "subsystem" && len(req.Payload) > 4 && string(req.Payload[4:]) == "sftp"
				req.Reply(ok, nil)
				if ok {
					h := &dirHandler{root: s.Dir}
					srv := sftp.NewRequestServer(ch, sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h})
					srv.Serve()
					srv.Close()
					ch.Close()
				}
			}
		}()
	}
}

// dirHandler serves the files under root, with root as "/".
type dirHandler struct{ root string }

func (h *dirHandler) p(name string) string {
	return filepath.Join(h.root, filepath.FromSlash(filepath.Clean("/"+name)))
}

func (h *dirHandler) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	return os.Open(h.p(r.Filepath))
}

func (h *dirHandler) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	fl := os.O_WRONLY
	pf := r.Pflags()
	if pf.Creat {
		fl |= os.O_CREATE
	}
	if pf.Trunc {
		fl |= os.O_TRUNC
	}
	if pf.Excl {
		fl |= os.O_EXCL
	}
	return os.OpenFile(h.p(r.Filepath), fl, 0o600)
}

func (h *dirHandler) Filecmd(r *sftp.Request) error {
	p := h.p(r.Filepath)
	switch r.Method {
	case "Setstat":
		a, fl := r.Attributes(), r.AttrFlags()
		if fl.Size {
			if err := os.Truncate(p, int64(a.Size)); err != nil {
				return err
			}
		}
		if fl.Acmodtime {
			if err := os.Chtimes(p, time.Unix(int64(a.Atime), 0), time.Unix(int64(a.Mtime), 0)); err != nil {
				return err
			}
		}
		return nil
	case "Rename":
		// As the protocol (and OpenSSH) says: no replacing.
		if _, err := os.Lstat(h.p(r.Target)); err == nil {
			return os.ErrExist
		}
		return os.Rename(p, h.p(r.Target))
	case "Rmdir":
		return os.Remove(p)
	case "Remove":
		if fi, err := os.Lstat(p); err == nil && fi.IsDir() {
			return errors.New("is a directory")
		}
		return os.Remove(p)
	case "Mkdir":
		return os.Mkdir(p, 0o700)
	}
	return errors.New("unsupported")
}

// PosixRename is posix-rename@openssh.com: replaces the target.
func (h *dirHandler) PosixRename(r *sftp.Request) error {
	return os.Rename(h.p(r.Filepath), h.p(r.Target))
}

func (h *dirHandler) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	p := h.p(r.Filepath)
	switch r.Method {
	case "List":
		es, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		var out listerAt
		for _, e := range es {
			fi, err := e.Info()
			if err == nil {
				out = append(out, fi)
			}
		}
		return out, nil
	case "Stat", "Lstat":
		fi, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		return listerAt{fi}, nil
	}
	return nil, errors.New("unsupported")
}

type listerAt []os.FileInfo

func (l listerAt) ListAt(out []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if n < len(out) {
		return n, io.EOF
	}
	return n, nil
}
