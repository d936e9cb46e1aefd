package gateway_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte/pforte/server/cloudapi"

	"github.com/pforte/pforte/jobs"
	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// syncBuffer collects log lines from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) Bytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.b.Bytes()...)
}

func dpText(waID, name, wamid, text string, ts int64) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"318824617705293","changes":[{"value":{
"messaging_product":"whatsapp","metadata":{"display_phone_number":"4930123456","phone_number_id":"412095873361844"},
"contacts":[{"profile":{"name":%q},"wa_id":%q}],
"messages":[{"from":%q,"id":%q,"timestamp":"%d","type":"text","text":{"body":%q}}]},"field":"messages"}]}]}`,
		name, waID, waID, wamid, ts, text))
}

func dpDocument(waID, name, wamid, caption, filename string, file []byte, ts int64) []byte {
	sum := sha256.Sum256(file)
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"318824617705293","changes":[{"value":{
"messaging_product":"whatsapp","metadata":{"display_phone_number":"4930123456","phone_number_id":"412095873361844"},
"contacts":[{"profile":{"name":%q},"wa_id":%q}],
"messages":[{"from":%q,"id":%q,"timestamp":"%d","type":"document","document":{"caption":%q,"filename":%q,
"mime_type":"application/pdf","sha256":%q,"id":"%s-media"}}]},"field":"messages"}]}]}`,
		name, waID, waID, wamid, ts, caption, filename, base64.StdEncoding.EncodeToString(sum[:]), wamid))
}

func dpStatus(waID, wamid, status string, ts int64) []byte {
	return []byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"318824617705293","changes":[{"value":{
"messaging_product":"whatsapp","metadata":{"display_phone_number":"4930123456","phone_number_id":"412095873361844"},
"statuses":[{"id":%q,"status":%q,"timestamp":"%d","recipient_id":%q}]},"field":"messages"}]}]}`, wamid, status, ts, waID))
}

// storeMedia does what the media downloader does once a file is fetched.
func storeMedia(t *testing.T, g *testenv.Gateway, wamid string, file []byte) {
	t.Helper()
	sum := sha256.Sum256(file)
	rel := hex.EncodeToString(sum[:])
	dir := filepath.Join(g.Dir, "media")
	os.MkdirAll(dir, 0o700)
	if err := os.WriteFile(filepath.Join(dir, rel), file, 0o600); err != nil {
		t.Fatal(err)
	}
	err := g.Store.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Exec(`UPDATE media SET state = 'stored', path = ?, size = ? WHERE message_id = (SELECT id FROM messages WHERE wamid = ?)`, rel, len(file), wamid)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func dpPost(t testing.TB, g *testenv.Gateway, body []byte) {
	t.Helper()
	if resp := g.PostWebhook(t, body); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook: %d", resp.StatusCode)
	}
}

var canaries = []string{"4915198765432", "zqcanaryname", "zqcanarytext", "zqcanarycaption", "zqcanaryfile", "zqcanarybytes",
	"zqcanaryiban", "zqcanaryupload", "wamid.zqcanary"}

func grep(t *testing.T, dir string, skip string) map[string]int {
	t.Helper()
	hits := map[string]int{}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return nil
		}
		if info.IsDir() {
			if info.Name() == skip {
				return filepath.SkipDir
			}
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range canaries {
			if n := bytes.Count(b, []byte(c)); n > 0 {
				hits[c+" in "+strings.TrimPrefix(p, dir)] += n
			}
		}
		return nil
	})
	return hits
}

// TestErasureOverHTTPLeavesNoCanary drives everything through the real
// listeners: webhooks in, a secure-link answer, an export, a backup, the
// erasure, a restore of the older backup; then no canary may be left in the
// data directory (database, -wal, -shm, media) or the logs.
func TestErasureOverHTTPLeavesNoCanary(t *testing.T) {
	logs := &syncBuffer{}
	dir := t.TempDir()
	g := testenv.New(t, testenv.Options{Dir: dir, Log: logs})
	now := time.Now().Unix()
	victim := "4915198765432"

	dpPost(t, g, dpText("4917600000001", "Bernd", "wamid.bystander1", "guten tag", now))
	dpPost(t, g, dpText(victim, "Anna zqcanaryname", "wamid.zqcanary1", "hallo zqcanarytext", now))
	dpPost(t, g, dpDocument(victim, "Anna zqcanaryname", "wamid.zqcanary2", "rechnung zqcanarycaption", "zqcanaryfile.pdf", []byte("%PDF zqcanarybytes"), now+1))
	storeMedia(t, g, "wamid.zqcanary2", []byte("%PDF zqcanarybytes"))
	dpPost(t, g, dpStatus(victim, "wamid.zqcanary3", "delivered", now+2))

	// A secure link, answered with text and a file.
	code, body := g.API(t, "POST", "/api/v1/contacts/"+victim+"/secure-links", strings.NewReader(`{"prompt":"Bitte IBAN","ttl_hours":1}`))
	if code != http.StatusCreated {
		t.Fatalf("secure link: %d %s", code, body)
	}
	var link struct{ URL string }
	json.Unmarshal(body, &link)
	if !strings.HasPrefix(link.URL, g.Public.URL+"/s/") {
		t.Fatalf("link url %q", link.URL)
	}
	resp, err := http.Get(link.URL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Bitte IBAN") || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Fatalf("answer page: %d %s", resp.StatusCode, page)
	}
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	mw.WriteField("text", "DE00 zqcanaryiban")
	fw, _ := mw.CreateFormFile("file", "ausweis.pdf")
	fw.Write([]byte("scan zqcanaryupload"))
	mw.Close()
	resp, err = http.Post(link.URL, mw.FormDataContentType(), &form)
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "Danke") {
		t.Fatalf("answer: %d %s", resp.StatusCode, page)
	}
	// The link is used up.
	if resp, _ := http.Get(link.URL); resp.StatusCode != http.StatusGone {
		t.Fatalf("second visit: %d", resp.StatusCode)
	}

	// The export has it all.
	code, body = g.API(t, "GET", "/api/v1/contacts/"+victim+"/export", nil)
	if code != 200 {
		t.Fatalf("export: %d %s", code, body)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	var all []byte
	for _, f := range zr.File {
		r, _ := f.Open()
		b, _ := io.ReadAll(r)
		all = append(all, b...)
	}
	for _, c := range []string{"zqcanarytext", "zqcanarycaption", "zqcanarybytes", "zqcanaryiban", "zqcanaryupload"} {
		if !bytes.Contains(all, []byte(c)) {
			t.Fatalf("export lacks %q", c)
		}
	}
	// A backup before the erasure.
	backup := filepath.Join(dir, "backups", store.BackupName(time.Now(), false))
	if _, err := g.Store.Backup(context.Background(), backup, store.BackupOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(grep(t, dir, "backups")) == 0 {
		t.Fatal("no canary found before the erasure: the search is blind")
	}

	// A key without the gdpr scope may not erase.
	readKey, _, _ := g.Store.CreateAPIKey(context.Background(), "reader", store.Scopes{store.ScopeRead})
	req, _ := http.NewRequest("DELETE", g.Internal.URL+"/api/v1/contacts/"+victim, nil)
	req.Header.Set("Authorization", "Bearer "+readKey)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("erase with a read key: %v %v", resp.StatusCode, err)
	}

	code, body = g.API(t, "DELETE", "/api/v1/contacts/"+victim, strings.NewReader(`{"reason":"Antrag vom 27.11."}`))
	if code != 200 {
		t.Fatalf("erase: %d %s", code, body)
	}
	var er struct {
		Status     string `json:"status"`
		Messages   int    `json:"messages"`
		Deliveries int    `json:"deliveries"`
		MediaFiles int    `json:"media_files"`
		Subject    string `json:"subject"`
	}
	json.Unmarshal(body, &er)
	if er.Status != "erased" || er.Messages != 3 || er.Deliveries != 3 || er.MediaFiles != 2 || len(er.Subject) != 64 {
		t.Fatalf("erase result: %s", body)
	}
	if code, _ := g.API(t, "GET", "/api/v1/contacts/"+victim, nil); code != 404 {
		t.Fatalf("contact after erasure: %d", code)
	}
	if code, _ := g.API(t, "GET", "/api/v1/contacts/4917600000001", nil); code != 200 {
		t.Fatalf("bystander after erasure: %d", code)
	}
	if hits := grep(t, dir, "backups"); len(hits) != 0 {
		t.Fatalf("left after erasure: %v", hits)
	}

	// Restore the older backup: the erased customer stays erased.
	g.Close()
	if _, err := store.Restore(context.Background(), dir, backup, store.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	g2 := testenv.New(t, testenv.Options{Dir: dir, Log: logs})
	if code, _ := g2.API(t, "GET", "/api/v1/contacts/"+victim, nil); code != 404 {
		t.Fatalf("restored backup brought the customer back: %d", code)
	}
	if code, _ := g2.API(t, "GET", "/api/v1/contacts/4917600000001", nil); code != 200 {
		t.Fatalf("bystander after restore: %d", code)
	}
	g2.Close()
	if hits := grep(t, dir, "backups"); len(hits) != 0 {
		t.Fatalf("left after restore: %v", hits)
	}
	// Logs never held any of it, nor a secure link's token.
	for _, c := range canaries {
		if bytes.Contains(logs.Bytes(), []byte(c)) {
			t.Errorf("%q in the logs", c)
		}
	}
	token := link.URL[strings.LastIndex(link.URL, "/")+1:]
	if bytes.Contains(logs.Bytes(), []byte(token)) {
		t.Error("a secure link token is in the logs")
	}
	if !regexp.MustCompile(`contact erased`).Match(logs.Bytes()) {
		t.Error("the erasure was not logged at all")
	}
}

func TestEraseUnderHoldAnswers202AndKeepsData(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	now := time.Now().Unix()
	dpPost(t, g, dpText("4915198765432", "Anna", "wamid.h1", "rechnung", now))
	code, body := g.API(t, "POST", "/api/v1/contacts/4915198765432/legal-holds", strings.NewReader(`{"preset":"voucher","reason":"Rechnung 17"}`))
	if code != http.StatusCreated || !strings.Contains(string(body), `"until"`) {
		t.Fatalf("hold: %d %s", code, body)
	}
	code, body = g.API(t, "DELETE", "/api/v1/contacts/4915198765432", nil)
	if code != http.StatusAccepted || !strings.Contains(string(body), `"restricted"`) {
		t.Fatalf("erase under hold: %d %s", code, body)
	}
	if code, _ := g.API(t, "GET", "/api/v1/messages/wamid.h1", nil); code != 200 {
		t.Fatalf("held message gone: %d", code)
	}
	// Bad hold requests change nothing.
	for _, b := range []string{`{"reason":""}`, `{"preset":"forever","reason":"x"}`, `{"reason":"x","preset":"voucher","until":"2030-01-01T00:00:00Z"}`, `{"bogus":1}`} {
		if code, body := g.API(t, "POST", "/api/v1/contacts/4915198765432/legal-holds", strings.NewReader(b)); code != 400 {
			t.Errorf("%s: %d %s", b, code, body)
		}
	}
	code, body = g.API(t, "GET", "/api/v1/contacts/4915198765432/legal-holds", nil)
	var list struct{ Data []map[string]any }
	json.Unmarshal(body, &list)
	if code != 200 || len(list.Data) != 1 {
		t.Fatalf("holds: %d %s", code, body)
	}
}

func TestConsentAndRecordsAPI(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	dpPost(t, g, dpText("4915198765432", "Anna", "wamid.c1", "hallo", time.Now().Unix()))
	code, body := g.API(t, "POST", "/api/v1/contacts/4915198765432/consent", strings.NewReader(`{"purpose":"marketing","action":"opt_in","source":"web_form","evidence":"Formular 12"}`))
	if code != http.StatusCreated {
		t.Fatalf("consent: %d %s", code, body)
	}
	if code, _ := g.API(t, "POST", "/api/v1/contacts/4915198765432/consent", strings.NewReader(`{"purpose":"tracking","action":"opt_in","source":"x"}`)); code != 400 {
		t.Fatalf("bad purpose: %d", code)
	}
	dpPost(t, g, dpText("4915198765432", "Anna", "wamid.c2", "STOP", time.Now().Unix()))
	code, body = g.API(t, "GET", "/api/v1/contacts/4915198765432/consent", nil)
	var c struct {
		Marketing bool
		Records   []map[string]any
	}
	json.Unmarshal(body, &c)
	if code != 200 || c.Marketing || len(c.Records) != 2 {
		t.Fatalf("consent after STOP: %d %s", code, body)
	}
	code, body = g.API(t, "GET", "/api/v1/records-of-processing", nil)
	if code != 200 || !strings.Contains(string(body), "Meta Platforms Ireland") || !strings.Contains(string(body), "180 Tage") {
		t.Fatalf("records: %d %s", code, body)
	}
	code, body = g.API(t, "GET", "/api/v1/retention/preview", nil)
	if code != 200 || !strings.Contains(string(body), `"would_delete"`) {
		t.Fatalf("preview: %d %s", code, body)
	}
}

type fakeJobs struct {
	mu      sync.Mutex
	started []string
}

func (f *fakeJobs) Entries() []jobs.Entry {
	return []jobs.Entry{{Name: "retention", Next: time.Date(2026, 11, 28, 3, 30, 0, 0, time.UTC)}}
}

func (f *fakeJobs) StartJob(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.started = append(f.started, name)
	return true
}

func TestJobsAPI(t *testing.T) {
	fj := &fakeJobs{}
	g := testenv.New(t, testenv.Options{Gateway: gateway.Config{Jobs: fj}})
	code, body := g.API(t, "GET", "/api/v1/jobs", nil)
	if code != 200 || !strings.Contains(string(body), `"next_run":"2026-11-28T03:30:00Z"`) {
		t.Fatalf("jobs: %d %s", code, body)
	}
	if code, _ := g.API(t, "POST", "/api/v1/jobs/nope/run", nil); code != 404 {
		t.Fatalf("unknown job: %d", code)
	}
	if code, _ := g.API(t, "POST", "/api/v1/jobs/retention/run", nil); code != 202 {
		t.Fatalf("run: %d", code)
	}
	fj.mu.Lock()
	defer fj.mu.Unlock()
	if len(fj.started) != 1 || fj.started[0] != "retention" {
		t.Fatalf("started: %v", fj.started)
	}
}

// A marketing template is refused, before Meta is called, to a customer
// without a marketing opt-in; both the proxy and the queued API say so.
func TestMarketingTemplateNeedsConsent(t *testing.T) {
	g := newSending(t)
	ctx := context.Background()
	if _, st, err := g.Sim.Write(ctx, simulator.Customer{WaID: "447700900123", Name: "Tom"}, "text"); err != nil || st != 200 {
		t.Fatalf("customer writes: %d %v", st, err)
	}
	ev := `{"object":"whatsapp_business_account","entry":[{"id":"318824617705293","time":1790010100,"changes":[{"value":{"event":"APPROVED",
"message_template_id":1,"message_template_name":"angebot_november","message_template_language":"de","reason":"NONE",
"message_template_category":"MARKETING"},"field":"message_template_status_update"}]}]}`
	dpPost(t, g.Gateway, []byte(ev))
	tpl := []byte(`{"messaging_product":"whatsapp","to":"447700900123","type":"template","template":{"name":"angebot_november","language":{"code":"de"}}}`)
	sendRefused(t, g, tpl, []string{codeJSON(cloudapi.CodeMarketingOptOut)}, "no_marketing_consent")
	if code, body := g.API(t, "POST", "/api/v1/contacts/447700900123/consent", strings.NewReader(`{"purpose":"marketing","action":"opt_in","source":"web_form","evidence":"Newsletter-Formular"}`)); code != 201 {
		t.Fatalf("consent: %d %s", code, body)
	}
	if st, b, _ := post(t, g.Internal.URL+"/v24.0/"+pnid+"/messages", g.APIKey, "application/json", tpl); st != 200 {
		t.Fatalf("after opt-in: %d %s", st, b)
	}
}

// sendRefused sends msg through the Graph-compatible proxy and the queued
// API: the proxy must answer 400 with every one of proxyWants in its body,
// the API 422 with apiCode, and Meta must not be called by either.
func sendRefused(t *testing.T, g *testenv.SendingGateway, msg []byte, proxyWants []string, apiCode string) {
	t.Helper()
	before := len(g.Sim.Requests())
	st, b, _ := post(t, g.Internal.URL+"/v24.0/"+pnid+"/messages", g.APIKey, "application/json", msg)
	if st != 400 {
		t.Fatalf("proxy: %d %s", st, b)
	}
	for _, want := range proxyWants {
		if !strings.Contains(string(b), want) {
			t.Fatalf("proxy: %d %s", st, b)
		}
	}
	st, b, _ = post(t, g.Internal.URL+"/api/v1/messages", g.APIKey, "application/json", []byte(fmt.Sprintf(`{"phone_number_id":%q,"message":%s}`, pnid, msg)))
	if st != 422 || !strings.Contains(string(b), `"`+apiCode+`"`) {
		t.Fatalf("queued: %d %s", st, b)
	}
	if n := len(g.Sim.Requests()) - before; n != 0 {
		t.Fatalf("Meta was called %d times", n)
	}
}

// A restricted customer (erasure waiting for a legal hold) gets nothing
// from any send path, and Meta is never called.
func TestRestrictedContactGetsNoMessages(t *testing.T) {
	g := newSending(t)
	ctx := context.Background()
	if _, st, err := g.Sim.Write(ctx, simulator.Customer{WaID: "447700900124", Name: "Ina"}, "text"); err != nil || st != 200 {
		t.Fatalf("customer writes: %d %v", st, err)
	}
	testenv.Restrict(t, g.Store, "447700900124")
	text := []byte(`{"messaging_product":"whatsapp","to":"447700900124","type":"text","text":{"body":"Hallo"}}`)
	sendRefused(t, g, text, []string{codeJSON(cloudapi.CodeUndeliverable), "Art. 18"}, "contact_restricted")
	counts, err := g.Store.OutboxCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for state, n := range counts {
		if n != 0 {
			t.Fatalf("%d messages %s for a restricted customer", n, state)
		}
	}
}

// FuzzSecureLinkAnswer throws arbitrary form bodies at the public answer
// page: it must answer 200, 400 or 410, never fail or store a partial
// answer.
func FuzzSecureLinkAnswer(f *testing.F) {
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	mw.WriteField("text", "DE00 1234")
	fw, _ := mw.CreateFormFile("file", "a.pdf")
	fw.Write([]byte("%PDF"))
	mw.Close()
	f.Add(form.Bytes(), mw.FormDataContentType())
	f.Add([]byte("text=hallo"), "application/x-www-form-urlencoded")
	f.Add([]byte("--x\r\nContent-Disposition: form-data; name=\"text\"\r\n\r\n\r\n--x--\r\n"), "multipart/form-data; boundary=x")
	f.Add([]byte("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../x\"\r\n\r\nabc\r\n--x--\r\n"), "multipart/form-data; boundary=x")
	f.Add([]byte{}, "multipart/form-data")
	g := testenv.New(f, testenv.Options{})
	dpPost(f, g, dpText("4915198765432", "Anna", "wamid.fz", "hallo", time.Now().Unix()))
	ctx := context.Background()
	c, err := g.Store.ContactByKey(ctx, "4915198765432")
	if err != nil {
		f.Fatal(err)
	}
	conv, err := g.Store.ContactConversation(ctx, c.ID, "")
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		token, _, err := g.Store.CreateSecureLink(ctx, conv, "Bitte", "test", time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		before, _, _ := g.Store.ContactMessages(ctx, c.ID, store.Page{Limit: 500})
		req, _ := http.NewRequest("POST", g.Public.URL+"/s/"+token, bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		after, _, _ := g.Store.ContactMessages(ctx, c.ID, store.Page{Limit: 500})
		switch resp.StatusCode {
		case 200:
			if len(after) != len(before)+1 {
				t.Fatalf("200 but %d new messages", len(after)-len(before))
			}
		case 400:
			if len(after) != len(before) {
				t.Fatal("a refused answer was stored")
			}
		default:
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}
