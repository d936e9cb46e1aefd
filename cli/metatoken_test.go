package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte/pforte/server/simulator"
)

// graphCall is one request that reached the (fake) Graph API.
type graphCall struct{ Method, Path, Auth string }

// graphRecorder sits in front of the simulator and notes who called what
// with which token.
type graphRecorder struct {
	mu    sync.Mutex
	calls []graphCall
	next  http.Handler
}

func (g *graphRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.calls = append(g.calls, graphCall{r.Method, r.URL.Path, r.Header.Get("Authorization")})
	g.mu.Unlock()
	g.next.ServeHTTP(w, r)
}

func (g *graphRecorder) all() []graphCall {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]graphCall(nil), g.calls...)
}

// After an admin replaces the Meta access token in the panel, the media
// deletions of an erasure (and every other call to Meta) carry the new
// token, not the one "pforte serve" was started with.
func TestErasureUsesTokenChangedInPanel(t *testing.T) {
	const tokenA, tokenB = "token-A-from-the-command-line", "token-B-saved-in-the-panel"
	dir := t.TempDir()
	sim := simulator.New(simulator.Options{AppSecret: []byte("secret"), StatusDelay: -1}) // any token; the recorder checks them
	rec := &graphRecorder{next: sim.Handler()}
	graph := httptest.NewServer(rec)
	defer graph.Close()
	defer sim.Close()
	public, internal := freeAddr(t), freeAddr(t)
	r := startServe(t, "--data-dir", dir, "--http-addr", public, "--internal-addr", internal, "--app-secret", "secret",
		"--verify-token", "v", "--access-token", tokenA, "--graph-url", graph.URL, "--backup-schedule", "off")
	waitUntil(t, 30*time.Second, "serve to be ready", r, func() bool { return strings.Contains(r.out.String(), "pforte ready") })
	sim.SetWebhook("http://"+public+"/webhook", []byte("secret"))

	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"apikey", "create", "--data-dir", dir, "--name", "t", "--scopes", "send,gdpr"}, nil, &out, &errb); code != 0 {
		t.Fatalf("apikey create: %s", errb.String())
	}
	key := strings.TrimSpace(out.String())
	const password = "korrekt-pferd-batterie-heftklammer"
	if code := run(t.Context(), []string{"user", "add", "--data-dir", dir, "--email", "admin@example.de", "--role", "admin", "--password-stdin"},
		strings.NewReader(password+"\n"), io.Discard, &errb); code != 0 {
		t.Fatalf("user add: %s", errb.String())
	}

	call := func(method, path, contentType string, body io.Reader) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+internal+path, body)
		req.Header.Set("Authorization", "Bearer "+key)
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	pnid := sim.Options().PhoneNumberID
	// A customer writes; the business answers with an uploaded photo.
	photoTo := func(waID string) string {
		t.Helper()
		if _, st, err := sim.Write(context.Background(), simulator.Customer{WaID: waID, Name: "Erika"}, "text"); err != nil || st != 200 {
			t.Fatalf("customer: %d %v", st, err)
		}
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("messaging_product", "whatsapp")
		mw.WriteField("type", "image/jpeg")
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="foto.jpg"`)
		h.Set("Content-Type", "image/jpeg")
		p, _ := mw.CreatePart(h)
		p.Write(append([]byte{0xff, 0xd8, 0xff, 0xe0}, bytes.Repeat([]byte(waID), 50)...))
		mw.Close()
		st, b := call("POST", "/v24.0/"+pnid+"/media", mw.FormDataContentType(), &buf)
		var up struct{ ID string }
		if json.Unmarshal(b, &up); st != 200 || up.ID == "" {
			t.Fatalf("upload: %d %s", st, b)
		}
		send := fmt.Sprintf(`{"messaging_product":"whatsapp","to":"+%s","type":"image","image":{"id":%q}}`, waID, up.ID)
		if st, b := call("POST", "/v24.0/"+pnid+"/messages", "application/json", strings.NewReader(send)); st != 200 {
			t.Fatalf("send: %d %s", st, b)
		}
		return up.ID
	}
	const waID, waID2 = "4915112345678", "4915187654321"
	upload, upload2 := photoTo(waID), photoTo(waID2)

	before := len(rec.all())
	// The admin replaces the token in the panel (the old one was revoked at Meta).
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	postForm := func(path string, form url.Values) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+public+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", "http://"+public)
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := postForm("/login", url.Values{"email": {"admin@example.de"}, "password": {password}}); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := postForm("/settings/meta", url.Values{"access_token": {tokenB}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("settings: %d", resp.StatusCode)
	}

	// The next send and the erasure's deletion at Meta carry token B.
	text := fmt.Sprintf(`{"messaging_product":"whatsapp","to":"+%s","type":"text","text":{"body":"Ihre Daten werden gelöscht."}}`, waID)
	if st, b := call("POST", "/v24.0/"+pnid+"/messages", "application/json", strings.NewReader(text)); st != 200 {
		t.Fatalf("send after the change: %d %s", st, b)
	}
	st, b := call("DELETE", "/api/v1/contacts/"+waID, "", nil)
	var er struct {
		Status    string
		MetaMedia struct{ Deleted, Failed, Skipped int } `json:"meta_media"`
	}
	if json.Unmarshal(b, &er); st != 200 || er.Status != "erased" || er.MetaMedia.Deleted != 1 {
		t.Fatalf("erase: %d %s", st, b)
	}
	if _, ok := sim.Media(upload); ok {
		t.Fatal("the upload still exists at Meta")
	}
	// So does "pforte erase" without --access-token: it reads the settings.
	var eout, eerr bytes.Buffer
	if code := run(t.Context(), []string{"erase", "--data-dir", dir, "--contact", waID2, "--yes", "--graph-url", graph.URL}, nil, &eout, &eerr); code != 0 ||
		!strings.Contains(eout.String(), "deleted at Meta: 1 of 1") {
		t.Fatalf("pforte erase: %d %s %s", code, eout.String(), eerr.String())
	}
	if _, ok := sim.Media(upload2); ok {
		t.Fatal("the CLI erasure left the upload at Meta")
	}
	calls, deletes := rec.all(), 0
	for i, c := range calls {
		want := "Bearer " + tokenA
		if i >= before {
			want = "Bearer " + tokenB
		}
		if c.Auth != want {
			t.Errorf("call %d %s %s carried %q, want %q", i, c.Method, c.Path, c.Auth, want)
		}
		if c.Method == "DELETE" {
			deletes++
			if c.Path != "/v24.0/"+upload && c.Path != "/v24.0/"+upload2 {
				t.Errorf("delete at Meta: %s", c.Path)
			}
		}
	}
	if deletes != 2 || before < 4 {
		t.Fatalf("calls to Meta: %+v (token changed after %d)", calls, before)
	}
}
