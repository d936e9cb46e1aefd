package replica

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/superfly/ltx"
	"golang.org/x/crypto/ssh"

	"github.com/pforte/pforte/server/testenv/sftptest"
)

var sftpLayout = Layout{DBFile: "test.db", MediaDir: "media", SideFiles: []string{"tombs"}, TombstoneFile: "tombs"}

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func waitStatus(t *testing.T, dir, what string, ok func(*Status) bool) *Status {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if st, _ := ReadStatus(dir); st != nil && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			st, _ := ReadStatus(dir)
			t.Fatalf("%s did not happen in 20s; status %+v", what, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func restoredRows(t *testing.T, dbPath string) []string {
	t.Helper()
	db, err := sql.Open("sqlite", dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query("SELECT x FROM t ORDER BY x")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		out = append(out, s)
	}
	return out
}

// TestSFTPReplicateRestoreEncrypted replicates a database, a media file
// and a side file over a real SFTP server (key login), restores the newest
// state and a point in time onto fresh directories, and finds neither the
// row's text nor the media's bytes in any file on the server. A media
// file deleted locally leaves the server too. It runs against pkg/sftp's
// server and against Debian's OpenSSH.
func TestSFTPReplicateRestoreEncrypted(t *testing.T) {
	for name, start := range map[string]func(testing.TB) *sftptest.Server{"pkg-sftp": sftptest.Start, "openssh": sftptest.StartOpenSSH} {
		t.Run(name, func(t *testing.T) { sftpReplicateRestore(t, start(t)) })
	}
}

func sftpReplicateRestore(t *testing.T, srv *sftptest.Server) {
	dir := t.TempDir()
	key := filepath.Join(t.TempDir(), "replica.key")
	if _, err := WriteNewIdentity(key); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const canary = "KANARIE-sftp-klartext-4c1d"
	for _, q := range []string{"PRAGMA journal_mode=WAL", "CREATE TABLE t(x TEXT)", "INSERT INTO t VALUES ('" + canary + "')"} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "tombs"), []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mdir := filepath.Join(dir, "media")
	os.MkdirAll(mdir, 0o700)
	media := []byte("KANARIE-sftp-mediendaten-" + strings.Repeat("m", 3000))
	gone := []byte("KANARIE-sftp-wird-geloescht-" + strings.Repeat("g", 300))
	for _, b := range [][]byte{media, gone} {
		if err := os.WriteFile(filepath.Join(mdir, hashName(b)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	cfg := Config{URL: srv.URL("backup/pforte", "key_file="+url.QueryEscape(srv.ClientKeyFile)), KeyFile: key,
		SyncInterval: 50 * time.Millisecond, MediaInterval: 100 * time.Millisecond, Retention: time.Hour, RetentionCheck: time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := New(ctx, dir, cfg, sftpLayout, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	waitStatus(t, dir, "first sync", func(s *Status) bool {
		return s.RemoteTXID > 0 && s.RemoteTXID == s.LocalTXID && s.MediaFiles == 2
	})
	// A standby follows the same replica.
	standby := t.TempDir()
	sctx, scancel := context.WithCancel(context.Background())
	defer scancel()
	sdone := make(chan error, 1)
	go func() {
		sdone <- Standby(sctx, standby, Config{URL: cfg.URL, KeyFile: key}, sftpLayout, 100*time.Millisecond, quietLog())
	}()
	time.Sleep(300 * time.Millisecond)
	between := time.Now().UTC()
	time.Sleep(300 * time.Millisecond)
	if _, err := db.Exec("INSERT INTO t VALUES ('spaeter')"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(mdir, hashName(gone))); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, dir, "second sync", func(s *Status) bool {
		return s.RemoteTXID == s.LocalTXID && s.RemoteTXID > 1 && s.MediaFiles == 1
	})
	deadline := time.Now().Add(10 * time.Second)
	for srv.Files(t)["/backup/pforte/"+mediaPrefix+"/"+hashName(gone)] != nil {
		if time.Now().After(deadline) {
			t.Fatal("the media file deleted locally is still on the server")
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.ParentGone() // the writer ended: the last sync leaves the stop mark
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The standby catches up to the stop mark the replicator left.
	var comp Completeness
	for deadline := time.Now().Add(10 * time.Second); !comp.Complete; time.Sleep(50 * time.Millisecond) {
		if comp = CheckComplete(t.Context(), standby, Config{URL: cfg.URL, KeyFile: key}, quietLog()); time.Now().After(deadline) {
			t.Fatalf("standby not complete: %+v", comp)
		}
	}
	scancel()
	if err := <-sdone; err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(standby, "media", hashName(media))); !bytes.Equal(b, media) {
		t.Fatal("the standby lacks the media file")
	}
	if _, err := os.Stat(filepath.Join(standby, "media", hashName(gone))); err == nil {
		t.Fatal("the standby keeps the media file deleted at the primary")
	}
	if got := restoredRows(t, filepath.Join(standby, StandbyDB)); strings.Join(got, ",") != canary+",spaeter" {
		t.Fatalf("standby rows %q", got)
	}

	files := srv.Files(t)
	var ltxFiles int
	for name, b := range files {
		if !strings.HasPrefix(name, "/backup/pforte/") {
			t.Errorf("%s written outside the replica's directory", name)
		}
		if strings.HasSuffix(name, ".ltx") {
			ltxFiles++
		}
		for _, plain := range [][]byte{[]byte(canary), []byte("spaeter"), media[:40]} {
			if bytes.Contains(b, plain) {
				t.Errorf("%s holds plaintext %.20q", name, plain)
			}
		}
	}
	if ltxFiles == 0 || files["/backup/pforte/"+mediaPrefix+"/"+hashName(media)] == nil || files["/backup/pforte/"+filesPrefix+"/tombs"] == nil {
		t.Fatalf("the server lacks LTX files, the media or the side file: %v", keysOfFiles(files))
	}

	fresh := filepath.Join(t.TempDir(), "fresh")
	res, err := Restore(t.Context(), fresh, Config{URL: cfg.URL, KeyFile: key}, sftpLayout, time.Time{}, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if got := restoredRows(t, res.DBPath); strings.Join(got, ",") != canary+",spaeter" {
		t.Fatalf("restored rows %q", got)
	}
	if b, _ := os.ReadFile(filepath.Join(fresh, "media", hashName(media))); !bytes.Equal(b, media) {
		t.Fatal("the media file did not come back")
	}
	if b, _ := os.ReadFile(filepath.Join(fresh, "tombs")); string(b) != "x\n" || res.MediaFiles != 1 || res.SideFiles != 1 {
		t.Fatalf("side file %q, %d media, %d side files", b, res.MediaFiles, res.SideFiles)
	}

	pit, err := Restore(t.Context(), filepath.Join(t.TempDir(), "pit"), Config{URL: cfg.URL, KeyFile: key}, sftpLayout, between, quietLog())
	if err != nil {
		t.Fatal(err)
	}
	if got := restoredRows(t, pit.DBPath); strings.Join(got, ",") != canary {
		t.Fatalf("point-in-time restore to before the second insert: rows %q", got)
	}
}

func hashName(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func keysOfFiles(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestSFTPHostKeyFailsClosed: a server that shows another key than the
// URL pins gets nothing, not even a login; a URL without a host key is
// refused with the command that fetches it. The server's ECDSA key, if
// pinned instead, works too (the pin decides the algorithm).
func TestSFTPHostKeyFailsClosed(t *testing.T) {
	srv := sftptest.Start(t)
	t.Setenv(SFTPPasswordEnv, srv.Password)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewPublicKey(pub)
	wrong := "sftp://" + srv.User + "@" + srv.Addr + "/pforte?host_key=" + url.QueryEscape(string(ssh.MarshalAuthorizedKey(other)))
	for _, op := range []struct {
		name string
		do   func(ctx context.Context, cl interface{ Init(context.Context) error }, b blobs) error
	}{
		{"init", func(ctx context.Context, cl interface{ Init(context.Context) error }, _ blobs) error {
			return cl.Init(ctx)
		}},
		{"put", func(ctx context.Context, _ interface{ Init(context.Context) error }, b blobs) error {
			return b.Put(ctx, "pforte/files/x", strings.NewReader("geheim"))
		}},
	} {
		cl, b, _, err := open(t.Context(), &Config{URL: wrong, Unencrypted: true})
		if err != nil {
			t.Fatal(err)
		}
		err = op.do(t.Context(), cl, b)
		if !errors.Is(err, errHostKey) || !strings.Contains(err.Error(), ssh.FingerprintSHA256(other)) {
			t.Fatalf("%s with a wrong host key: %v", op.name, err)
		}
	}
	_, err := Restore(t.Context(), t.TempDir(), Config{URL: wrong, Unencrypted: true}, sftpLayout, time.Time{}, quietLog())
	if !errors.Is(err, errHostKey) {
		t.Fatalf("restore with a wrong host key: %v", err)
	}
	if n := srv.Logins.Load(); n != 0 || len(srv.Files(t)) != 0 {
		t.Fatalf("wrong host key: %d logins, files %v", n, keysOfFiles(srv.Files(t)))
	}

	_, err = ParseURL("sftp://" + srv.User + "@" + srv.Addr + "/pforte")
	if err == nil || !strings.Contains(err.Error(), "ssh-keyscan -p ") {
		t.Fatalf("URL without host key: %v", err)
	}

	// Control: the right keys log in, Ed25519 although the server would
	// offer ECDSA first, and ECDSA when that is pinned.
	for _, hk := range []string{srv.HostKey, srv.ECDSAHostKey, "[127.0.0.1]:2222 " + srv.HostKey} {
		u := "sftp://" + srv.User + "@" + srv.Addr + "/pforte?host_key=" + url.QueryEscape(hk)
		_, b, _, err := open(t.Context(), &Config{URL: u, Unencrypted: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Put(t.Context(), "pforte/files/x", strings.NewReader("da")); err != nil {
			t.Fatalf("host key %.30s: %v", hk, err)
		}
	}
	if got := string(srv.Files(t)["/pforte/pforte/files/x"]); got != "da" {
		t.Fatalf("control put: %q", got)
	}
}

// TestSFTPLoginErrors: a wrong password says which setting to check; no
// password and no key is refused before anything dials.
func TestSFTPLoginErrors(t *testing.T) {
	srv := sftptest.Start(t)
	t.Setenv(SFTPPasswordEnv, "falsch")
	_, b, _, err := open(t.Context(), &Config{URL: srv.URL("pforte"), Unencrypted: true})
	if err != nil {
		t.Fatal(err)
	}
	err = b.Put(t.Context(), "pforte/files/x", strings.NewReader("x"))
	if err == nil || !strings.Contains(err.Error(), "refused the login as \"u12345\"") || !strings.Contains(err.Error(), SFTPPasswordEnv) {
		t.Fatalf("wrong password: %v", err)
	}
	t.Setenv(SFTPPasswordEnv, "")
	err = (&Config{URL: srv.URL("pforte"), Unencrypted: true}).Validate()
	if err == nil || !strings.Contains(err.Error(), "key_file=") || !strings.Contains(err.Error(), SFTPPasswordEnv) {
		t.Fatalf("neither key nor password: %v", err)
	}
	t.Setenv(SFTPPasswordEnv, srv.Password)
	if err := (&Config{URL: srv.URL("pforte"), Unencrypted: true}).Validate(); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(t.Context(), "pforte/files/x", strings.NewReader("x")); err != nil {
		t.Fatalf("right password: %v", err)
	}
}

// TestSFTPBlobsSemanticsAndReconnect: overwrite, missing keys, listing,
// and a new connection after the old one broke.
func TestSFTPBlobsSemanticsAndReconnect(t *testing.T) {
	srv := sftptest.Start(t)
	t.Setenv(SFTPPasswordEnv, srv.Password)
	_, bl, _, err := open(t.Context(), &Config{URL: srv.URL("srv/pforte"), Unencrypted: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	get := func(key string) (string, error) {
		rc, err := bl.Get(ctx, key)
		if err != nil {
			return "", err
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		return string(b), err
	}
	for _, v := range []string{"eins", "zwei"} { // the second replaces the first
		if err := bl.Put(ctx, "pforte/files/keys", strings.NewReader(v)); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := get("pforte/files/keys"); got != "zwei" || err != nil {
		t.Fatalf("get after overwrite: %q %v", got, err)
	}
	if _, err := get("pforte/files/fehlt"); !errors.Is(err, errNotFound) {
		t.Fatalf("get of a missing key: %v", err)
	}
	if err := bl.Delete(ctx, "pforte/media/fehlt"); err != nil {
		t.Fatalf("delete of a missing key: %v", err)
	}
	bl.Put(ctx, "pforte/media/aa", strings.NewReader("a"))
	bl.Put(ctx, "pforte/media/bb", strings.NewReader("b"))
	keys, err := bl.List(ctx, "pforte/media")
	if err != nil || strings.Join(keys, ",") != "pforte/media/aa,pforte/media/bb" {
		t.Fatalf("list: %q %v", keys, err)
	}
	if keys, err := bl.List(ctx, "pforte/nichts"); err != nil || len(keys) != 0 {
		t.Fatalf("list of a missing prefix: %q %v", keys, err)
	}

	logins := srv.Logins.Load()
	srv.DropConnections()
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := bl.Put(ctx, "pforte/media/cc", strings.NewReader("c"))
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reconnect after the connection broke: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if srv.Logins.Load() != logins+1 {
		t.Fatalf("logins %d → %d, want one more", logins, srv.Logins.Load())
	}
	if got := string(srv.Files(t)["/srv/pforte/pforte/media/cc"]); got != "c" {
		t.Fatalf("after reconnect: %q", got)
	}
}

// TestParseSFTPURL: what an sftp:// URL must and must not hold.
func TestParseSFTPURL(t *testing.T) {
	const hk = "ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
	for _, c := range []struct{ url, err, addr, path string }{
		{"sftp://u1@h.example/p?host_key=" + hk, "", "h.example:22", "/p"},
		{"sftp://u1@h.example:23/./home/pforte/?host_key=" + hk + "&key_file=%2Fetc%2Fk", "", "h.example:23", "/home/pforte"},
		{"sftp://u1@h.example/p?host_key=h.example%20" + hk, "", "h.example:22", "/p"},
		{"sftp://h.example/p?host_key=" + hk, "want a user", "", ""},
		{"sftp://u1:geheim@h.example/p?host_key=" + hk, "no password into the URL", "", ""},
		{"sftp://u1@h.example/?host_key=" + hk, "want a directory", "", ""},
		{"sftp://u1@h.example:0/p?host_key=" + hk, "port", "", ""},
		{"sftp://u1@h.example:23/p", "ssh-keyscan -p 23 -t ed25519 h.example", "", ""},
		{"sftp://u1@h.example/p?host_key=ssh-ed25519+AAAA", "%2B", "", ""},
		{"sftp://u1@h.example/p?host_key=" + hk + "&password=x", "unknown parameter \"password\"", "", ""},
		{"sftp://u1@h.example/p?host_key=" + hk + "&key_file=", "key_file", "", ""},
		{"sftp://u1@/p?host_key=" + hk, "want a host", "", ""},
	} {
		tg, err := ParseURL(c.url)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.url, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.url, err)
			continue
		}
		if tg.SFTP.Addr != c.addr || tg.Bucket != c.addr || tg.Path != c.path || tg.SFTP.User != "u1" || tg.SFTP.HostKey.Type() != ssh.KeyAlgoED25519 {
			t.Errorf("%s: addr %q path %q user %q", c.url, tg.SFTP.Addr, tg.Path, tg.SFTP.User)
		}
	}
	// A passphrase-protected key is refused with what to do instead.
	_, k, _ := ed25519.GenerateKey(rand.Reader)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(k, "", []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	kf := filepath.Join(t.TempDir(), "k")
	os.WriteFile(kf, pem.EncodeToMemory(block), 0o600)
	err = (&Config{URL: "sftp://u1@h.example/p?host_key=" + hk + "&key_file=" + url.QueryEscape(kf), Unencrypted: true}).Validate()
	if err == nil || !strings.Contains(err.Error(), "passphrase") {
		t.Fatalf("passphrase key: %v", err)
	}
	// The lease stays S3-only.
	_, err = AcquireLease(t.Context(), Config{URL: "sftp://u1@h.example/p?host_key=" + hk}, "me", time.Minute, quietLog())
	if err == nil || !strings.Contains(err.Error(), "s3://") {
		t.Fatalf("lease on sftp: %v", err)
	}
}

// TestSFTPReplicaClientLTX: Litestream's side of the SFTP target —
// layout, listing with seek, the millisecond from the header for a
// point-in-time restore, ranged reads, deletes, and DeleteAll also of the
// leftovers of an interrupted upload.
func TestSFTPReplicaClientLTX(t *testing.T) {
	srv := sftptest.Start(t)
	t.Setenv(SFTPPasswordEnv, srv.Password)
	client, _, _, err := open(t.Context(), &Config{URL: srv.URL("srv/pforte"), Unencrypted: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	ts := []time.Time{time.UnixMilli(1790000000123).UTC(), time.UnixMilli(1790000001987).UTC()}
	for i, at := range ts {
		id := ltx.TXID(i + 1)
		hdr := ltx.Header{Version: ltx.Version, Flags: ltx.HeaderFlagNoChecksum, PageSize: 4096, Commit: 1, MinTXID: id, MaxTXID: id, Timestamp: at.UnixMilli()}
		b, err := hdr.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		info, err := client.WriteLTXFile(ctx, 0, id, id, io.MultiReader(bytes.NewReader(b), strings.NewReader("seiten-"+id.String())))
		if err != nil {
			t.Fatal(err)
		}
		if !info.CreatedAt.Equal(at) || info.Size != int64(len(b))+int64(len("seiten-"+id.String())) {
			t.Fatalf("write info %+v", info)
		}
	}
	if srv.Files(t)["/srv/pforte/ltx/0/"+ltx.FormatFilename(1, 1)] == nil {
		t.Fatalf("not in Litestream's layout: %v", keysOfFiles(srv.Files(t)))
	}
	list := func(seek ltx.TXID, meta bool) []*ltx.FileInfo {
		t.Helper()
		it, err := client.LTXFiles(ctx, 0, seek, meta)
		if err != nil {
			t.Fatal(err)
		}
		infos, err := ltx.SliceFileIterator(it)
		if err != nil {
			t.Fatal(err)
		}
		return infos
	}
	if got := list(0, false); len(got) != 2 || !got[0].CreatedAt.Equal(ts[0].Truncate(time.Second)) {
		t.Fatalf("listing by mtime: %+v", got)
	}
	if got := list(0, true); len(got) != 2 || !got[0].CreatedAt.Equal(ts[0]) || !got[1].CreatedAt.Equal(ts[1]) {
		t.Fatalf("listing with the header's time: %+v", got)
	}
	if got := list(2, false); len(got) != 1 || got[0].MinTXID != 2 {
		t.Fatalf("listing from TX 2: %+v", got)
	}
	rc, err := client.OpenLTXFile(ctx, 0, 2, 2, ltx.HeaderSize, 6)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "seiten" {
		t.Fatalf("ranged read %q", b)
	}
	if _, err := client.OpenLTXFile(ctx, 0, 7, 7, 0, 0); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("open of a missing file: %v", err)
	}
	if err := client.DeleteLTXFiles(ctx, list(1, false)[:1]); err != nil {
		t.Fatal(err)
	}
	if got := list(0, false); len(got) != 1 || got[0].MinTXID != 2 {
		t.Fatalf("after delete: %+v", got)
	}
	// An interrupted upload's leftover.
	if err := os.WriteFile(filepath.Join(srv.Dir, "srv/pforte/ltx/0/.tmp-0123"), []byte("halb"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := client.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	if files := srv.Files(t); len(files) != 0 {
		t.Fatalf("after DeleteAll: %v", keysOfFiles(files))
	}
}

// BenchmarkSFTPMediaRoundTrip: 1 MB media objects up and down over a real
// SFTP server on loopback (encryption is separate and not included).
func BenchmarkSFTPMediaRoundTrip(b *testing.B) {
	srv := sftptest.Start(b)
	b.Setenv(SFTPPasswordEnv, srv.Password)
	_, bl, _, err := open(b.Context(), &Config{URL: srv.URL("bench"), Unencrypted: true})
	if err != nil {
		b.Fatal(err)
	}
	defer closeBlobs(bl)
	data := make([]byte, 1<<20)
	rand.Read(data)
	b.SetBytes(2 * int64(len(data)))
	i := 0
	for b.Loop() {
		key := "pforte/media/" + strings.Repeat("0", 8) + string(rune('a'+i%26))
		i++
		if err := bl.Put(b.Context(), key, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		rc, err := bl.Get(b.Context(), key)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, rc)
		rc.Close()
		if n != int64(len(data)) {
			b.Fatalf("read %d bytes", n)
		}
	}
}

// TestProbeSFTPWithThePanelsPassword: the settings page's "check the
// connection" logs in with the password typed there (none in the
// environment), leaves nothing behind, and tells a refused login and a
// server with another host key apart. Config.Validate takes the same
// explicit password, as serve checks a replica set in the panel.
func TestProbeSFTPWithThePanelsPassword(t *testing.T) {
	srv := sftptest.Start(t)
	t.Setenv(SFTPPasswordEnv, "")
	cfg := Config{URL: srv.URL("pforte"), Unencrypted: true}
	if err := cfg.Validate(); err == nil {
		t.Fatal("no password anywhere, yet valid")
	}
	withPW := Config{URL: srv.URL("pforte"), Unencrypted: true, SFTPPassword: srv.Password}
	if err := withPW.Validate(); err != nil {
		t.Fatalf("explicit password: %v", err)
	}

	if err := Probe(t.Context(), cfg, Credentials{SFTPPassword: srv.Password}); err != nil {
		t.Fatalf("probe with the typed password: %v", err)
	}
	if files := srv.Files(t); len(files) != 0 {
		t.Fatalf("the probe left %v on the server", keysOfFiles(files))
	}
	var pe *ProbeError
	err := Probe(t.Context(), cfg, Credentials{SFTPPassword: "falsch"})
	if !errors.As(err, &pe) || pe.Kind != ProbeDenied {
		t.Fatalf("wrong password: %v", err)
	}
	other := sftptest.Start(t)
	wrongKey := "sftp://" + srv.User + "@" + srv.Addr + "/pforte?host_key=" + url.QueryEscape(other.HostKey)
	logins := srv.Logins.Load()
	err = Probe(t.Context(), Config{URL: wrongKey, Unencrypted: true}, Credentials{SFTPPassword: srv.Password})
	if !errors.As(err, &pe) || pe.Kind != ProbeHostKey {
		t.Fatalf("another host key: %v", err)
	}
	if srv.Logins.Load() != logins {
		t.Fatal("logged in to a server with the wrong host key")
	}
}
