package panel_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// testPassword is long enough for the policy; hashing it is the slow part
// of creating users, so tests share it.
const testPassword = "korrekt-pferd-batterie-heftklammer"

var (
	hashOnce sync.Once
	pwHash   string
)

// pnid is the simulator's business number.
const pnid = "106540352242922"

func testHash() string {
	hashOnce.Do(func() { pwHash = panel.HashPassword(testPassword) })
	return pwHash
}

// addUser creates an account directly in the store.
func addUser(t testing.TB, st *store.Store, email string, role store.Role) *store.User {
	t.Helper()
	u, err := st.CreateUser(context.Background(), store.NewUser{Email: email, Name: strings.Split(email, "@")[0], Role: role, PasswordHash: testHash()}, false)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// addNamedUser creates an account with a display name.
func addNamedUser(t testing.TB, st *store.Store, name, email string, role store.Role) *store.User {
	t.Helper()
	u, err := st.CreateUser(context.Background(), store.NewUser{Email: email, Name: name, Role: role, PasswordHash: testHash()}, false)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// browser is an HTTP client with a cookie jar that behaves like a
// same-origin browser (it sends Sec-Fetch-Site and Origin on POSTs).
type browser struct {
	t      testing.TB
	base   string
	client *http.Client
}

func newBrowser(t testing.TB, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, client: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	body   string
	header http.Header
}

func (b *browser) do(method, path string, form url.Values, hdr map[string]string) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("Origin", b.base)
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, body: string(out), header: resp.Header}
}

func (b *browser) get(path string) page { return b.do(http.MethodGet, path, nil, nil) }
func (b *browser) post(path string, form url.Values) page {
	return b.do(http.MethodPost, path, form, nil)
}

func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.base)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// login logs in with the test password and fails the test otherwise.
func (b *browser) login(email string) {
	b.t.Helper()
	p := b.post("/login", url.Values{"email": {email}, "password": {testPassword}})
	if p.status != http.StatusSeeOther || (p.header.Get("Location") != "/" && p.header.Get("Location") != "/login/2fa") {
		b.t.Fatalf("login %s: %d %s", email, p.status, p.header.Get("Location"))
	}
}

// textWebhook builds a signed-ready delivery with one customer text.
func textWebhook(phoneNumberID, display, waID, name, wamid string, ts int64, text string) []byte {
	v := map[string]any{
		"object": "whatsapp_business_account",
		"entry": []any{map[string]any{"id": "1234567890", "changes": []any{map[string]any{"field": "messages", "value": map[string]any{
			"messaging_product": "whatsapp",
			"metadata":          map[string]any{"display_phone_number": display, "phone_number_id": phoneNumberID},
			"contacts":          []any{map[string]any{"profile": map[string]any{"name": name}, "wa_id": waID}},
			"messages":          []any{map[string]any{"from": waID, "id": wamid, "timestamp": fmt.Sprint(ts), "type": "text", "text": map[string]any{"body": text}}},
		}}}}},
	}
	b, _ := json.Marshal(v)
	return b
}

// deliver posts a webhook and fails the test unless it is acknowledged.
func deliver(t testing.TB, g *testenv.Gateway, body []byte) {
	t.Helper()
	if resp := g.PostWebhook(t, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}
}

// conversationID finds the conversation of a customer.
func conversationID(t testing.TB, st *store.Store, waID string) int64 {
	t.Helper()
	c, err := st.ContactByKey(context.Background(), waID)
	if err != nil {
		t.Fatal(err)
	}
	convs, err := st.ContactConversations(context.Background(), c.ID)
	if err != nil || len(convs) == 0 {
		t.Fatalf("no conversation for %s: %v", waID, err)
	}
	return convs[0].ID
}
