package panel_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// recordingSender stands where main wires the outbox: it records what the
// composer asked to send, so these tests check the composer's own rules
// (window, file types, placeholders). The browser tests send for real.
type recordingSender struct {
	mu    sync.Mutex
	sent  []panel.Message
	files [][]byte // the attachments' content, read during PanelSend
	err   error
}

func (r *recordingSender) PanelSend(ctx context.Context, m panel.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	var data []byte
	if m.File != nil {
		var err error
		if data, err = io.ReadAll(m.File.Content); err != nil {
			return err
		}
	}
	r.sent = append(r.sent, m)
	r.files = append(r.files, data)
	return nil
}

// lastFile is the content of the last message's attachment.
func (r *recordingSender) lastFile(t *testing.T) []byte {
	r.last(t)
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.files[len(r.files)-1]
}

func (r *recordingSender) last(t *testing.T) panel.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sent) == 0 {
		t.Fatal("nothing was sent")
	}
	return r.sent[len(r.sent)-1]
}

func (r *recordingSender) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.sent)
}

func composerFixture(t testing.TB) (*testenv.Gateway, *recordingSender, *browser, int64) {
	rs := &recordingSender{}
	g := testenv.New(t, testenv.Options{Panel: panel.Config{Sender: rs}})
	agent := addUser(t, g.Store, "agent@example.de", store.RoleAgent)
	deliver(t, g, textWebhook("106540352242922", "4930123456", "4917612345678", "Erika", "wamid.c1", time.Now().Unix()-60, "Hallo"))
	return g, rs, sessionFor(t, g, agent), conversationID(t, g.Store, "4917612345678")
}

func multipartPost(t *testing.T, b *browser, path string, fields map[string]string, fileName, fileType string, data []byte) page {
	return multipartPostAs(t, b, path, fields, "file", fileName, fileType, data)
}

// multipartPostAs posts a multipart form with the file in field fileField.
func multipartPostAs(t *testing.T, b *browser, path string, fields map[string]string, fileField, fileName, fileType string, data []byte) page {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if fileName != "" {
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name=%q; filename=%q`, fileField, fileName)}
		h["Content-Type"] = []string{fileType}
		w, _ := mw.CreatePart(h)
		w.Write(data)
	}
	mw.Close()
	req, _ := http.NewRequest("POST", b.base+path, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return page{status: resp.StatusCode, body: out.String(), header: resp.Header}
}

func TestComposerSendsTextWithReply(t *testing.T) {
	g, rs, b, conv := composerFixture(t)
	who := contactField(t, g.Store, conv)
	p := b.post(fmt.Sprintf("/conversations/%d/send", conv), url.Values{"text": {"  Gern, bis morgen!  "}, "context": {"wamid.c1"}, "contact": who})
	if p.status != http.StatusSeeOther {
		t.Fatalf("send: %d %.300s", p.status, p.body)
	}
	m := rs.last(t)
	if m.Type != "text" || m.Text != "Gern, bis morgen!" || m.ReplyTo != "wamid.c1" || m.ToWaID != "4917612345678" || m.PhoneNumberID != "106540352242922" {
		t.Fatalf("sent %+v", m)
	}
	if p := b.post(fmt.Sprintf("/conversations/%d/send", conv), url.Values{"text": {"   "}, "contact": who}); p.status != http.StatusUnprocessableEntity || rs.count() != 1 {
		t.Fatalf("empty message: %d, sent %d", p.status, rs.count())
	}
	if p := b.post(fmt.Sprintf("/conversations/%d/send", conv), url.Values{"text": {strings.Repeat("x", 4097)}, "contact": who}); p.status != http.StatusUnprocessableEntity || rs.count() != 1 {
		t.Fatalf("too long: %d", p.status)
	}
}

func TestComposerRefusesFreeTextOutsideTheWindow(t *testing.T) {
	g, rs, b, _ := composerFixture(t)
	deliver(t, g, textWebhook("106540352242922", "4930123456", "4915100000002", "Alt", "wamid.old", time.Now().Add(-25*time.Hour).Unix(), "alte Nachricht"))
	old := conversationID(t, g.Store, "4915100000002")
	page := b.get(fmt.Sprintf("/conversations/%d", old))
	if !strings.Contains(page.body, `data-testid="window-closed"`) || strings.Contains(page.body, `data-testid="composer-text"`) {
		t.Fatal("closed window: the free-text box is offered")
	}
	if p := b.post(fmt.Sprintf("/conversations/%d/send", old), url.Values{"text": {"Hallo?"}, "contact": contactField(t, g.Store, old)}); p.status != http.StatusConflict || rs.count() != 0 {
		t.Fatalf("send outside the window: %d, sent %d", p.status, rs.count())
	}
}

func TestComposerAttachments(t *testing.T) {
	g, rs, b, conv := composerFixture(t)
	who := contactField(t, g.Store, conv)[0]
	pdf := []byte("%PDF-1.4 Angebot")
	p := multipartPost(t, b, fmt.Sprintf("/conversations/%d/send", conv), map[string]string{"text": "Ihr Angebot", "contact": who}, "Angebot 2026.pdf", "application/pdf", pdf)
	if p.status != http.StatusSeeOther {
		t.Fatalf("pdf: %d %.300s", p.status, p.body)
	}
	m := rs.last(t)
	if m.Type != "document" || m.File == nil || m.File.Name != "Angebot 2026.pdf" || !bytes.Equal(rs.lastFile(t), pdf) || m.Text != "Ihr Angebot" {
		t.Fatalf("sent %+v", m)
	}
	p = multipartPost(t, b, fmt.Sprintf("/conversations/%d/send", conv), map[string]string{"contact": who}, "foto.jpg", "image/jpeg", []byte{0xff, 0xd8, 0xff})
	if p.status != http.StatusSeeOther || rs.last(t).Type != "image" {
		t.Fatalf("jpeg: %d %+v", p.status, rs.last(t).Type)
	}
	n := rs.count()
	p = multipartPost(t, b, fmt.Sprintf("/conversations/%d/send", conv), map[string]string{"contact": who}, "virus.exe", "application/x-msdownload", []byte("MZ"))
	if p.status != http.StatusUnsupportedMediaType || rs.count() != n {
		t.Fatalf("exe: %d, sent %d", p.status, rs.count())
	}
}

func TestComposerTemplate(t *testing.T) {
	g, rs, b, _ := composerFixture(t)
	_, bodies := testenv.Examples(t, "webhooks")
	deliver(t, g, bodies["template_status_update_approved"])
	deliver(t, g, bodies["template_status_update_rejected"])
	if err := g.Store.SaveTemplateText(context.Background(), "order_shipped_v2", "en_US", "Hallo {{1}}, Ihre Bestellung {{2}} ist unterwegs."); err != nil {
		t.Fatal(err)
	}
	// A customer who never wrote: only templates.
	g.Store.AddBusinessNumber(context.Background(), store.Number{PhoneNumberID: "106540352242922"})
	if err := g.Store.Write(context.Background(), func(tx *store.Tx) error {
		_, err := tx.Exec(`INSERT INTO contacts(wa_id, name, created_at, updated_at) VALUES ('4917000000009', 'Neu', 0, 0)`)
		if err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO conversations(business_number_id, contact_id, last_message_at, created_at, updated_at)
			SELECT 1, id, 0, 0, 0 FROM contacts WHERE wa_id = '4917000000009'`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	conv := conversationID(t, g.Store, "4917000000009")
	page := b.get(fmt.Sprintf("/conversations/%d", conv))
	if !strings.Contains(page.body, "order_shipped_v2") || strings.Contains(page.body, `value="autumn_sale_blast|en_GB"`) {
		t.Fatal("picker must offer the approved template and not the rejected one")
	}
	path := fmt.Sprintf("/conversations/%d/template", conv)
	who := contactField(t, g.Store, conv)
	if p := b.post(path, url.Values{"template": {"order_shipped_v2|en_US"}, "p_1": {"Tom"}, "contact": who}); p.status != http.StatusUnprocessableEntity || rs.count() != 0 {
		t.Fatalf("missing placeholder: %d", p.status)
	}
	if p := b.post(path, url.Values{"template": {"autumn_sale_blast|en_GB"}, "contact": who}); p.status != http.StatusUnprocessableEntity || rs.count() != 0 {
		t.Fatalf("rejected template: %d", p.status)
	}
	if p := b.post(path, url.Values{"template": {"order_shipped_v2|en_US"}, "p_1": {"Tom"}, "p_2": {"77812"}, "contact": who}); p.status != http.StatusSeeOther {
		t.Fatalf("template: %d %.300s", p.status, p.body)
	}
	m := rs.last(t)
	if m.Type != "template" || m.Template.Name != "order_shipped_v2" || len(m.Template.Params) != 2 || m.Template.Params[1].Value != "77812" {
		t.Fatalf("sent %+v", m)
	}
	// The body sent to Meta has the parameters in order.
	body, err := panel.SendBody(m, "")
	if err != nil {
		t.Fatal(err)
	}
	var sent struct {
		To       string `json:"to"`
		Template struct {
			Name       string `json:"name"`
			Components []struct {
				Parameters []struct{ Text string } `json:"parameters"`
			} `json:"components"`
		} `json:"template"`
	}
	json.Unmarshal(body, &sent)
	if sent.To != "+4917000000009" || sent.Template.Components[0].Parameters[0].Text != "Tom" {
		t.Fatalf("body %s", body)
	}
}
