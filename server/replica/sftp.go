package replica

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// sftpConn is one SSH connection with its SFTP session, shared by
// Litestream's files and Pforte's own; it is dialled on first use and
// again after it broke (the replicator runs for months).
type sftpConn struct {
	t       *SFTPTarget
	timeout time.Duration // dial + handshake, and the keepalive's answer

	mu  sync.Mutex
	ssh *ssh.Client
	c   *sftp.Client
}

func newSFTPConn(t *SFTPTarget) *sftpConn { return &sftpConn{t: t, timeout: 30 * time.Second} }

// errHostKey: the server is not the one the URL pins.
var errHostKey = errors.New("host key does not match host_key")

// errLoginRefused: the server took neither the key nor the password.
var errLoginRefused = errors.New("login refused")

// client returns the live session or dials a new one.
func (s *sftpConn) client(ctx context.Context) (*sftp.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c != nil {
		return s.c, nil
	}
	auth, err := s.t.auth()
	if err != nil {
		return nil, err
	}
	want := s.t.HostKey
	cfg := &ssh.ClientConfig{
		User: s.t.User,
		Auth: auth,
		// Fail closed: exactly the pinned key, never "accept any".
		HostKeyCallback: func(_ string, _ net.Addr, got ssh.PublicKey) error {
			if bytes.Equal(got.Marshal(), want.Marshal()) {
				return nil
			}
			return fmt.Errorf("%w: the server shows %s %s, the URL pins %s; if the server's key really changed, check it and get the new one with ssh-keyscan",
				errHostKey, got.Type(), ssh.FingerprintSHA256(got), ssh.FingerprintSHA256(want))
		},
		HostKeyAlgorithms: hostKeyAlgorithms(want),
		Timeout:           s.timeout,
	}
	dctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	nc, err := (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext(dctx, "tcp", s.t.Addr)
	if err != nil {
		return nil, fmt.Errorf("sftp: connect %s: %w", s.t.Addr, err)
	}
	// The handshake has the same bound as the dial: a server that takes
	// the connection and never answers must not stall the replicator.
	nc.SetDeadline(time.Now().Add(s.timeout))
	cc, chans, reqs, err := ssh.NewClientConn(nc, s.t.Addr, cfg)
	if err != nil {
		nc.Close()
		if errors.Is(err, errHostKey) {
			return nil, fmt.Errorf("sftp: %s: %w", s.t.Addr, err)
		}
		if strings.Contains(err.Error(), "unable to authenticate") {
			return nil, fmt.Errorf("sftp: %s refused the login as %q: check key_file (its public key in the server's authorized_keys) or %s: %w: %w", s.t.Addr, s.t.User, SFTPPasswordEnv, errLoginRefused, err)
		}
		return nil, fmt.Errorf("sftp: ssh %s: %w", s.t.Addr, err)
	}
	nc.SetDeadline(time.Time{})
	sc := ssh.NewClient(cc, chans, reqs)
	c, err := sftp.NewClient(sc, sftp.UseConcurrentWrites(true))
	if err != nil {
		sc.Close()
		return nil, fmt.Errorf("sftp: %s: no SFTP subsystem: %w", s.t.Addr, err)
	}
	s.ssh, s.c = sc, c
	go s.watch(sc, c)
	return c, nil
}

// watch forgets the session once it ends, and ends it when the server
// stops answering keepalives (a dead peer otherwise blocks every request).
func (s *sftpConn) watch(sc *ssh.Client, c *sftp.Client) {
	done := make(chan struct{})
	go func() {
		c.Wait()
		close(done)
	}()
	t := time.NewTicker(s.timeout)
	defer t.Stop()
	for alive := true; alive; {
		select {
		case <-done:
			alive = false
		case <-t.C:
			answered := make(chan error, 1)
			go func() {
				_, _, err := sc.SendRequest("keepalive@openssh.com", true, nil)
				answered <- err
			}()
			select {
			case err := <-answered:
				alive = err == nil
			case <-time.After(s.timeout):
				alive = false
			case <-done:
				alive = false
			}
		}
	}
	c.Close()
	sc.Close()
	s.mu.Lock()
	if s.c == c {
		s.c, s.ssh = nil, nil
	}
	s.mu.Unlock()
}

// check drops a session that a request found broken, so that the next
// call dials again.
func (s *sftpConn) check(c *sftp.Client, err error) error {
	if err != nil && errors.Is(err, sftp.ErrSSHFxConnectionLost) {
		s.mu.Lock()
		mine := s.c == c
		if mine {
			s.c, s.ssh = nil, nil
		}
		s.mu.Unlock()
		if mine {
			c.Close()
		}
	}
	return err
}

func (s *sftpConn) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		return nil
	}
	s.c.Close()
	err := s.ssh.Close()
	s.c, s.ssh = nil, nil
	return err
}

// put writes r to name through a temporary file in the same directory
// and a rename, so that a reader never sees half a file; the data is
// flushed first where the server offers fsync. mtime, if set, becomes
// the file's modification time (Litestream lists LTX files by it).
func (s *sftpConn) put(ctx context.Context, name string, r io.Reader, mtime time.Time) (n int64, err error) {
	c, err := s.client(ctx)
	if err != nil {
		return 0, err
	}
	defer func() { s.check(c, err) }()
	dir := path.Dir(name)
	if err := c.MkdirAll(dir); err != nil {
		return 0, fmt.Errorf("sftp: mkdir %s: %w", dir, err)
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := path.Join(dir, ".tmp-"+hex.EncodeToString(rnd[:]))
	f, err := c.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		return 0, fmt.Errorf("sftp: create %s: %w", tmp, err)
	}
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil {
			c.Remove(tmp)
		}
	}()
	if n, err = f.ReadFrom(contextReader{ctx, r}); err != nil {
		return n, fmt.Errorf("sftp: write %s: %w", name, err)
	}
	if _, ok := c.HasExtension("fsync@openssh.com"); ok {
		if err := f.Sync(); err != nil {
			return n, fmt.Errorf("sftp: fsync %s: %w", name, err)
		}
	}
	err = f.Close()
	f = nil
	if err != nil {
		return n, fmt.Errorf("sftp: close %s: %w", name, err)
	}
	if !mtime.IsZero() {
		if err := c.Chtimes(tmp, mtime, mtime); err != nil {
			return n, fmt.Errorf("sftp: set time of %s: %w", name, err)
		}
	}
	// Plain SFTP rename refuses an existing target; OpenSSH's extension
	// replaces it atomically.
	if _, ok := c.HasExtension("posix-rename@openssh.com"); ok {
		err = c.PosixRename(tmp, name)
	} else {
		if err = c.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("sftp: replace %s: %w", name, err)
		}
		err = c.Rename(tmp, name)
	}
	if err != nil {
		return n, fmt.Errorf("sftp: rename to %s: %w", name, err)
	}
	return n, nil
}

// open returns name from offset on; a missing file is fs.ErrNotExist.
func (s *sftpConn) open(ctx context.Context, name string, offset int64) (_ io.ReadCloser, err error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { s.check(c, err) }()
	f, err := c.Open(name)
	if err != nil {
		return nil, err
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

func (s *sftpConn) remove(ctx context.Context, name string) (err error) {
	c, err := s.client(ctx)
	if err != nil {
		return err
	}
	defer func() { s.check(c, err) }()
	if err := c.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("sftp: delete %s: %w", name, err)
	}
	return nil
}

// walk calls f for every regular file under root (none if root is
// missing), skipping temporary files unless tmp; dirs gets the
// directories, deepest last.
func (s *sftpConn) walk(ctx context.Context, root string, tmp bool, f func(p string, fi fs.FileInfo) error) (dirs []string, err error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	defer func() { s.check(c, err) }()
	w := c.Walk(root)
	for w.Step() {
		if err := w.Err(); errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("sftp: list %s: %w", w.Path(), err)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fi := w.Stat()
		if fi.IsDir() {
			dirs = append(dirs, w.Path())
			continue
		}
		if !fi.Mode().IsRegular() || !tmp && strings.HasPrefix(path.Base(w.Path()), ".tmp-") {
			continue
		}
		if err := f(w.Path(), fi); err != nil {
			return nil, err
		}
	}
	return dirs, nil
}

// contextReader stops a long upload when ctx ends.
type contextReader struct {
	ctx context.Context
	r   io.Reader
}

func (r contextReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}

// sftpBlobs keeps media and the small files under the replica's directory
// on the SFTP server, keys as relative paths.
type sftpBlobs struct {
	conn *sftpConn
	root string
}

func (b *sftpBlobs) p(key string) string { return path.Join(b.root, key) }

// Close ends the SSH connection; a later call dials again.
func (b *sftpBlobs) Close() error { return b.conn.Close() }

func (b *sftpBlobs) Put(ctx context.Context, key string, r io.Reader) error {
	_, err := b.conn.put(ctx, b.p(key), r, time.Time{})
	return err
}

func (b *sftpBlobs) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, err := b.conn.open(ctx, b.p(key), 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("replica: get %s: %w", key, err)
	}
	return rc, nil
}

func (b *sftpBlobs) Delete(ctx context.Context, key string) error {
	return b.conn.remove(ctx, b.p(key))
}

func (b *sftpBlobs) List(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	_, err := b.conn.walk(ctx, b.p(prefix), false, func(p string, _ fs.FileInfo) error {
		out = append(out, strings.TrimPrefix(p, b.root+"/"))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("replica: list %s: %w", prefix, err)
	}
	slices.Sort(out)
	return out, nil
}
