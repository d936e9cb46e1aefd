package panel_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte/pforte/store"
)

// rawPost sends a POST over its own connection so that the test controls
// the framing: a declared Content-Length (or -1 for chunked) and a body
// that may be much shorter, longer, or cut off. It returns the status the
// server answered with, 0 when the connection closed without an answer.
func rawPost(t testing.TB, base, path, contentType string, contentLength int64, cookie string, body io.Reader) int {
	t.Helper()
	u, _ := url.Parse(base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var hdr strings.Builder
	fmt.Fprintf(&hdr, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\nSec-Fetch-Site: same-origin\r\n", path, u.Host, contentType)
	if cookie != "" {
		fmt.Fprintf(&hdr, "Cookie: pforte=%s\r\n", cookie)
	}
	if contentLength >= 0 {
		fmt.Fprintf(&hdr, "Content-Length: %d\r\n\r\n", contentLength)
	} else {
		hdr.WriteString("Transfer-Encoding: chunked\r\n\r\n")
	}
	go func() {
		// The server may stop reading and close: write errors are expected.
		bw := bufio.NewWriterSize(conn, 64<<10)
		bw.WriteString(hdr.String())
		var w io.Writer = bw
		var cw io.WriteCloser
		if contentLength < 0 {
			cw = httputilChunked(bw)
			w = cw
		}
		src := &sourceErr{r: body}
		if _, err := io.Copy(w, src); err != nil {
			if src.err != nil {
				conn.Close() // the client went away mid-body
			}
			return
		}
		if cw != nil {
			cw.Close()
			bw.WriteString("\r\n")
		}
		bw.Flush()
	}()
	conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// sourceErr remembers whether reading the body (not sending it) failed.
type sourceErr struct {
	r   io.Reader
	err error
}

func (s *sourceErr) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// chunkWriter writes HTTP/1.1 chunked framing.
type chunkWriter struct{ w *bufio.Writer }

func httputilChunked(w *bufio.Writer) io.WriteCloser { return chunkWriter{w} }

func (c chunkWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	fmt.Fprintf(c.w, "%x\r\n", len(p))
	c.w.Write(p)
	_, err := c.w.WriteString("\r\n")
	return len(p), err
}

func (c chunkWriter) Close() error { _, err := c.w.WriteString("0\r\n"); return err }

// multipartStream is a multipart body with fields and one file part of
// size bytes, produced on the fly; cut > 0 ends it with an error after
// that many file bytes (a client that went away mid-upload).
func multipartStream(fields map[string]string, fileName, fileType string, size, cut int64) (io.Reader, string) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for k, v := range fields {
			mw.WriteField(k, v)
		}
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name="file"; filename=%q`, fileName)}
		h["Content-Type"] = []string{fileType}
		fw, _ := mw.CreatePart(h)
		n := size
		if cut > 0 {
			n = cut
		}
		if _, err := io.CopyN(fw, zeros{}, n); err != nil {
			pw.CloseWithError(err)
			return
		}
		if cut > 0 {
			pw.CloseWithError(errors.New("client went away"))
			return
		}
		mw.Close()
		pw.Close()
	}()
	return pr, mw.FormDataContentType()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// leftovers lists the files in dir whose names match pattern.
func leftovers(t testing.TB, dir, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// waitEmpty waits until no file matches pattern in dir: a handler may
// still be removing its spool when the client has its answer.
func waitEmpty(t testing.TB, dir, pattern string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := leftovers(t, dir, pattern)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("files left in %s: %v", dir, left)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func vmRSS(t testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal("no /proc/self/status (Linux only):", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// The security review's finding: unauthenticated multipart posts to the
// login form were parsed with net/http's defaults (32 MB in memory, the
// rest in os.TempDir) and the spill files were never removed. Now every
// panel route has a body limit checked before parsing, and nothing is left
// in the temporary directory or the spool.
func TestPanelOversizeBodiesLeaveNoTempFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // not parallel: the spill files would land here
	g, rs, b, conv := composerFixture(t)
	spool := filepath.Join(g.Dir, store.SpoolDirName)

	// A declared length over the limit is refused before a byte is read.
	if st := rawPost(t, g.Public.URL, "/login", "application/x-www-form-urlencoded", 1<<30, "", strings.NewReader("email=a")); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("login with Content-Length 1 GiB: %d, want 413", st)
	}
	// A 40 MB multipart login (more than net/http keeps in memory) is
	// refused without being parsed, with or without a length.
	body, ct := multipartStream(map[string]string{"email": "a@example.de", "password": "x"}, "x.bin", "application/octet-stream", 40<<20, 0)
	if st := rawPost(t, g.Public.URL, "/login", ct, -1, "", body); st != http.StatusUnsupportedMediaType && st != http.StatusRequestEntityTooLarge {
		t.Fatalf("40 MB multipart login: %d", st)
	}
	// A long urlencoded login without a length stops at the limit.
	if st := rawPost(t, g.Public.URL, "/login", "application/x-www-form-urlencoded", -1, "", io.MultiReader(strings.NewReader("email=a&password="), io.LimitReader(zeros{}, 20<<20))); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("20 MB urlencoded login: %d, want 413", st)
	}
	// A page takes no body at all.
	if st := rawPost(t, g.Public.URL, "/logout", "application/x-www-form-urlencoded", -1, "", strings.NewReader(strings.Repeat("a", 64<<10))); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("64 KiB to logout: %d, want 413", st)
	}

	cookie := b.cookie("pforte")
	send := fmt.Sprintf("/conversations/%d/send", conv)
	who := map[string]string{"contact": contactField(t, g.Store, conv)[0]}
	// An attachment over the largest kind (documents, 100 MB) is refused
	// while it streams in; an image over Meta's 5 MB is refused after.
	body, ct = multipartStream(nil, "gross.pdf", "application/pdf", 101<<20+1, 0)
	if st := rawPost(t, g.Public.URL, send, ct, -1, cookie, body); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("101 MB document: %d, want 413", st)
	}
	body, ct = multipartStream(who, "foto.jpg", "image/jpeg", 5<<20+1, 0)
	if st := rawPost(t, g.Public.URL, send, ct, -1, cookie, body); st != http.StatusRequestEntityTooLarge {
		t.Fatalf("image over 5 MB: %d, want 413", st)
	}
	// A client that goes away mid-upload leaves nothing behind either.
	body, ct = multipartStream(who, "abbruch.pdf", "application/pdf", 8<<20, 3<<20)
	rawPost(t, g.Public.URL, send, ct, -1, cookie, body)
	if rs.count() != 0 {
		t.Fatalf("%d refused uploads were sent", rs.count())
	}
	waitEmpty(t, spool, "*")
	if left := leftovers(t, tmp, "*"); len(left) > 0 {
		t.Fatalf("files left in TMPDIR: %v", left)
	}

	// 20 parallel oversize posts (31 MB logins, 31 MB images): nothing left, and the process's memory
	// (reported, not asserted: it is the whole test binary's) stays flat.
	before := vmRSS(t)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			if i%2 == 0 {
				body, ct := multipartStream(map[string]string{"email": "a@example.de"}, "x.bin", "application/octet-stream", 31<<20, 0)
				rawPost(t, g.Public.URL, "/login", ct, -1, "", body)
				return
			}
			body, ct := multipartStream(who, "gross.jpg", "image/jpeg", 31<<20, 0)
			rawPost(t, g.Public.URL, send, ct, -1, cookie, body)
		})
	}
	wg.Wait()
	after := vmRSS(t)
	t.Logf("VmRSS before 20 parallel 31 MB posts: %d MB, after: %d MB", before>>20, after>>20)
	waitEmpty(t, spool, "*")
	if left := leftovers(t, tmp, "*"); len(left) > 0 {
		t.Fatalf("files left in TMPDIR: %v", left)
	}
}

// The container image has no /tmp, and systemd's PrivateTmp may be small:
// attachments are spooled in the data directory instead of os.TempDir.
func TestComposerAttachmentWithoutTempDir(t *testing.T) {
	t.Setenv("TMPDIR", filepath.Join(t.TempDir(), "fehlt")) // does not exist
	g, rs, b, conv := composerFixture(t)
	pdf := append([]byte("%PDF-1.4 "), bytes.Repeat([]byte("x"), 2<<20)...)
	p := multipartPost(t, b, fmt.Sprintf("/conversations/%d/send", conv), map[string]string{"text": "Ihr Angebot", "contact": contactField(t, g.Store, conv)[0]}, "Angebot.pdf", "application/pdf", pdf)
	if p.status != http.StatusSeeOther {
		t.Fatalf("2 MB attachment without a temp dir: %d %.300s", p.status, p.body)
	}
	if m := rs.last(t); m.Type != "document" || m.File.Size != int64(len(pdf)) || !bytes.Equal(rs.lastFile(t), pdf) || m.Text != "Ihr Angebot" {
		t.Fatalf("sent %s %d bytes %q", m.Type, len(rs.lastFile(t)), m.Text)
	}
	waitEmpty(t, filepath.Join(g.Dir, store.SpoolDirName), "*")
}

// BenchmarkPanelOversizePosts reports the process's resident memory after
// 20 parallel oversize posts (half unauthenticated logins, half composer
// uploads), per round.
func BenchmarkPanelOversizePosts(b *testing.B) {
	b.Setenv("TMPDIR", b.TempDir())
	g, _, br, conv := composerFixture(b)
	cookie := br.cookie("pforte")
	send := fmt.Sprintf("/conversations/%d/send", conv)
	start := vmRSS(b)
	var after int64
	for b.Loop() {
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				if i%2 == 0 {
					body, ct := multipartStream(map[string]string{"email": "a@example.de"}, "x.bin", "application/octet-stream", 31<<20, 0)
					rawPost(b, g.Public.URL, "/login", ct, -1, "", body)
					return
				}
				body, ct := multipartStream(nil, "gross.pdf", "application/pdf", 110<<20, 0)
				rawPost(b, g.Public.URL, send, ct, -1, cookie, body)
			})
		}
		wg.Wait()
		after = max(after, vmRSS(b))
	}
	b.ReportMetric(float64(start>>20), "rss-start-MB")
	b.ReportMetric(float64(after>>20), "rss-after-MB")
}
