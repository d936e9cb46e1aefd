package gateway_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/mediafetch"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

var mediafetchFast = mediafetch.Config{BaseBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Poll: 20 * time.Millisecond, MaxAttempts: 4}

func waitMedia(t *testing.T, g *testenv.SendingGateway, wamid string, states ...string) *store.Message {
	t.Helper()
	var m *store.Message
	testenv.Eventually(t, 10*time.Second, "media of "+wamid+" to be "+strings.Join(states, "/"), func() bool {
		var err error
		m, err = g.Store.MessageByWAMID(context.Background(), wamid)
		if err != nil || m.Media == nil {
			return false
		}
		for _, s := range states {
			if string(m.Media.State) == s {
				return true
			}
		}
		return false
	})
	return m
}

func mediaFiles(t *testing.T, g *testenv.SendingGateway) []string {
	files, _ := filepath.Glob(filepath.Join(g.Store.MediaDir(), "[0-9a-f]*"))
	return files
}

func jpeg(fill string) []byte {
	return append([]byte{0xff, 0xd8, 0xff, 0xe0}, bytes.Repeat([]byte(fill), 400)...)
}

// An inbound image is downloaded, checked against Meta's sha256, stored
// by content hash and served only with a key, as an attachment that
// browsers must not sniff.
func TestInboundMediaStoredAndServed(t *testing.T) {
	g := newSending(t)
	data := jpeg("paket")
	wamid, st, err := g.Sim.WriteFile(context.Background(), simulator.Customer{WaID: "447700901001", Name: "Ida"}, "document",
		simulator.File{Data: data, MimeType: "application/pdf", Filename: "..\\..\\Rechnung \"Mai\".pdf"})
	if err != nil || st != 200 {
		t.Fatal(st, err)
	}
	m := waitMedia(t, g, wamid, "stored", "failed")
	sum := sha256.Sum256(data)
	if m.Media.State != "stored" || m.Media.Size != int64(len(data)) || m.Media.SHA256 != base64.StdEncoding.EncodeToString(sum[:]) ||
		m.Media.Path != hex.EncodeToString(sum[:]) || m.Media.Filename != "Rechnung _Mai_.pdf" {
		t.Fatalf("media: %+v", m.Media)
	}
	onDisk, err := os.ReadFile(filepath.Join(g.Store.MediaDir(), m.Media.Path))
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("file on disk: %v", err)
	}
	st2, body := g.API(t, "GET", "/api/v1/messages/"+wamid, nil)
	if st2 != 200 || !strings.Contains(string(body), `"download_path":"/api/v1/messages/`+wamid+`/media"`) || !strings.Contains(string(body), `"state":"stored"`) {
		t.Fatalf("message JSON: %s", body)
	}
	req, _ := http.NewRequest("GET", g.Internal.URL+"/api/v1/messages/"+wamid+"/media", nil)
	resp, _ := http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("without a key: %d", resp.StatusCode)
	}
	req.Header.Set("Authorization", "Bearer "+g.APIKey)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, data) || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="Rechnung _Mai_.pdf"` || resp.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("download: %d %v", resp.StatusCode, resp.Header)
	}
}

// A corrupted download fails the sha256 check, is thrown away and
// fetched again; an expired URL is renewed within the same attempt.
func TestCorruptAndExpiredDownloads(t *testing.T) {
	g := newSending(t)
	g.Sim.CorruptDownloads(1)
	wamid, _, _ := g.Sim.WriteFile(context.Background(), simulator.Customer{WaID: "447700901002"}, "image", simulator.File{Data: jpeg("a"), MimeType: "image/jpeg"})
	m := waitMedia(t, g, wamid, "stored", "failed")
	if m.Media.State != "stored" || g.Sim.Downloads() != 2 {
		t.Fatalf("corrupt: state %s after %d downloads", m.Media.State, g.Sim.Downloads())
	}
	sum := sha256.Sum256(jpeg("a"))
	if m.Media.Path != hex.EncodeToString(sum[:]) {
		t.Fatal("the corrupted bytes were stored")
	}

	g.Sim.ExpireDownloads(1)
	wamid, _, _ = g.Sim.WriteFile(context.Background(), simulator.Customer{WaID: "447700901002"}, "image", simulator.File{Data: jpeg("b"), MimeType: "image/jpeg"})
	m = waitMedia(t, g, wamid, "stored", "failed")
	if m.Media.State != "stored" || g.Sim.Downloads() != 4 {
		t.Fatalf("expired: state %s after %d downloads", m.Media.State, g.Sim.Downloads())
	}
	if len(mediaFiles(t, g)) != 2 {
		t.Fatalf("files: %v", mediaFiles(t, g))
	}
}

// The same file sent twice is stored once.
func TestMediaDeduplicated(t *testing.T) {
	g := newSending(t)
	data := jpeg("same")
	var ids []string
	for _, c := range []string{"447700901003", "447700901004"} {
		w, _, _ := g.Sim.WriteFile(context.Background(), simulator.Customer{WaID: c}, "image", simulator.File{Data: data, MimeType: "image/jpeg"})
		ids = append(ids, w)
	}
	a, b := waitMedia(t, g, ids[0], "stored"), waitMedia(t, g, ids[1], "stored")
	if a.Media.Path != b.Media.Path || len(mediaFiles(t, g)) != 1 {
		t.Fatalf("paths %s %s, files %v", a.Media.Path, b.Media.Path, mediaFiles(t, g))
	}
}

// A file Meta cannot provide (unknown id, too large for its type) is
// marked failed, visibly, and the message itself stays.
func TestMediaFinalFailureVisible(t *testing.T) {
	g := newSending(t)
	gone, _, _ := g.Sim.WriteFile(context.Background(), simulator.Customer{WaID: "447700901005"}, "image", simulator.File{MediaID: "999999999", MimeType: "image/jpeg", Data: []byte("x")})
	big, _, _ := g.Sim.WriteFile(context.Background(), simulator.Customer{WaID: "447700901005"}, "sticker", simulator.File{Data: make([]byte, 600<<10), MimeType: "image/webp"})
	for _, w := range []string{gone, big} {
		m := waitMedia(t, g, w, "failed", "stored")
		if m.Media.State != "failed" || m.Media.LastError == "" {
			t.Fatalf("%s: %+v", w, m.Media)
		}
		st, b := g.API(t, "GET", "/api/v1/messages/"+w+"/media", nil)
		if st != 410 || !strings.Contains(string(b), "media_failed") {
			t.Fatalf("%s: %d %s", w, st, b)
		}
		st, b = g.API(t, "GET", "/api/v1/messages/"+w, nil)
		if st != 200 || !strings.Contains(string(b), `"state":"failed"`) {
			t.Fatalf("message lost or failure hidden: %d %s", st, b)
		}
	}
	if len(mediaFiles(t, g)) != 0 {
		t.Fatal("a rejected file was stored")
	}
}

// Webhook acknowledgement does not wait for media: with no fetcher at all
// the delivery is acknowledged and the file waits in the queue.
func TestMediaNeverBlocksAck(t *testing.T) {
	g := testenv.NewSending(t, testenv.SendingOptions{NoMediaFetcher: true, Sim: simulator.Options{StatusDelay: -1}})
	w, st, err := g.Sim.Write(context.Background(), simulator.Customer{WaID: "447700901006"}, "image")
	if err != nil || st != 200 {
		t.Fatal(st, err)
	}
	m, err := g.Store.MessageByWAMID(context.Background(), w)
	if err != nil || m.Media == nil || m.Media.State != "pending" {
		t.Fatalf("%+v %v", m, err)
	}
	if st, _ := g.API(t, "GET", "/api/v1/messages/"+w+"/media", nil); st != 409 {
		t.Fatalf("pending media: %d", st)
	}
}

func TestSanitizeFilename(t *testing.T) {
	for in, want := range map[string]string{
		"Rechnung.pdf":           "Rechnung.pdf",
		"../../etc/passwd":       "passwd",
		`C:\Users\x\a.pdf`:       "a.pdf",
		"a\x00b\nc.txt":          "a_b_c.txt",
		"\u202eexe.pdf":          "_exe.pdf",
		"...":                    "",
		"":                       "",
		`"quoted".pdf`:           "_quoted_.pdf",
		strings.Repeat("ä", 100): strings.Repeat("ä", 60),
	} {
		if got := cloudapi.SanitizeFilename(in); got != want {
			t.Errorf("%q: got %q, want %q", in, got, want)
		}
	}
}

func FuzzSanitizeFilename(f *testing.F) {
	for _, s := range []string{"a.pdf", "../x", "\x00", "a/b\\c", "日本語.txt", "\u202e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := cloudapi.SanitizeFilename(in)
		if len(out) > 120 || strings.ContainsAny(out, "/\\\"\x00\r\n") || strings.HasPrefix(out, ".") || out == ".." {
			t.Fatalf("%q → unsafe %q", in, out)
		}
		if out != "" && cloudapi.SanitizeFilename(out) != out {
			t.Fatalf("not idempotent: %q → %q → %q", in, out, cloudapi.SanitizeFilename(out))
		}
	})
}
