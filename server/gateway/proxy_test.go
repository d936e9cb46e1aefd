package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

const pnid = "106540352242922"

func newSending(t *testing.T) *testenv.SendingGateway { return testenv.NewFastSending(t) }

// exampleTemplates approves the utility templates the send examples use:
// one Pforte knows no category of needs a marketing opt-in.
func exampleTemplates(t *testing.T, g *testenv.SendingGateway) {
	t.Helper()
	g.ApproveTemplate(t, "appointment_reminder", "en_US", "UTILITY")
	g.ApproveTemplate(t, "order_shipped_v2", "en_GB", "UTILITY")
}

// post sends body to the internal listener with a bearer key.
func post(t *testing.T, url, key, contentType string, body []byte, hdr ...string) (int, []byte, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

// openWindows lets every recipient of the send examples write first.
func openWindows(t *testing.T, g *testenv.SendingGateway) {
	t.Helper()
	for _, c := range []simulator.Customer{
		{WaID: "447700900123", Name: "Tom"}, {WaID: "13105550142", Name: "Maya"}, {WaID: "61491570156", Name: "Ava"},
		{WaID: "16175550199", Name: "Sam"}, {UserID: "US.13491208655302741918", Name: "Lee"},
	} {
		if _, st, err := g.Sim.Write(context.Background(), c, "text"); err != nil || st != 200 {
			t.Fatalf("customer %v: %d %v", c, st, err)
		}
	}
}

type graphSendOK struct {
	MessagingProduct string `json:"messaging_product"`
	Contacts         []struct {
		Input  string `json:"input"`
		WaID   string `json:"wa_id"`
		UserID string `json:"user_id"`
	} `json:"contacts"`
	Messages []struct {
		ID string `json:"id"`
	} `json:"messages"`
	Success bool `json:"success"`
}

func waitStatus(t *testing.T, g *testenv.SendingGateway, key, want string) *store.Message {
	t.Helper()
	var m *store.Message
	testenv.Eventually(t, 10*time.Second, key+" to become "+want, func() bool {
		var err error
		if strings.HasPrefix(key, "wamid.") {
			m, err = g.Store.MessageByWAMID(context.Background(), key)
		} else {
			var id int64
			fmt.Sscan(key, &id)
			m, err = g.Store.MessageByID(context.Background(), id)
		}
		return err == nil && string(m.Status) == want
	})
	return m
}

// Every example send body goes through the proxy unchanged; Meta's answer
// comes back as is, the message is stored outbound, and the simulator's
// sent/delivered/read webhooks move its status to read.
func TestProxySendsEveryKind(t *testing.T) {
	g := newSending(t)
	openWindows(t, g)
	exampleTemplates(t, g)
	names, bodies := testenv.Examples(t, "send")
	url := g.Internal.URL + "/v24.0/" + pnid + "/messages"
	for _, name := range names {
		st, b, hdr := post(t, url, g.APIKey, "application/json", bodies[name])
		if st != 200 {
			t.Fatalf("%s: %d %s", name, st, b)
		}
		var ok graphSendOK
		if err := json.Unmarshal(b, &ok); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.HasPrefix(name, "mark_read") || strings.HasPrefix(name, "typing") {
			if !ok.Success {
				t.Errorf("%s: %s", name, b)
			}
			continue
		}
		if ok.MessagingProduct != "whatsapp" || len(ok.Messages) != 1 || len(ok.Contacts) != 1 || hdr.Get("X-Pforte-Message-Id") == "" {
			t.Fatalf("%s: answer %s", name, b)
		}
		m := waitStatus(t, g, ok.Messages[0].ID, "read")
		if m.Direction != "outbound" || m.PhoneNumberID != pnid {
			t.Errorf("%s: stored as %+v", name, m)
		}
		var sent struct {
			Type string `json:"type"`
		}
		json.Unmarshal(bodies[name], &sent)
		if m.Type != sent.Type || len(m.Payload) == 0 {
			t.Errorf("%s: stored type %q payload %s", name, m.Type, m.Payload)
		}
	}
	// What the simulator received is byte for byte what the caller sent.
	for _, r := range g.Sim.Requests() {
		found := false
		for _, b := range bodies {
			found = found || bytes.Equal(b, r.Body)
		}
		if !found {
			t.Errorf("relayed body differs from every example: %s", r.Body)
		}
	}
}

// The queued send API takes every example too and tracks each to "read".
func TestQueuedSendAPI(t *testing.T) {
	g := newSending(t)
	openWindows(t, g)
	exampleTemplates(t, g)
	names, bodies := testenv.Examples(t, "send")
	for _, name := range names {
		body := []byte(fmt.Sprintf(`{"phone_number_id":%q,"message":%s}`, pnid, bodies[name]))
		st, b, hdr := post(t, g.Internal.URL+"/api/v1/messages", g.APIKey, "application/json", body)
		if strings.HasPrefix(name, "mark_read") || strings.HasPrefix(name, "typing") {
			if st != 400 {
				t.Errorf("%s: read receipts are not queued, got %d", name, st)
			}
			continue
		}
		var acc struct {
			ID      string `json:"id"`
			Status  string `json:"status"`
			Message struct {
				LocalID  int64 `json:"local_id"`
				Delivery struct {
					State string `json:"state"`
				} `json:"delivery"`
			} `json:"message"`
		}
		if err := json.Unmarshal(b, &acc); st != 202 || err != nil || acc.ID == "" || hdr.Get("Location") != "/api/v1/messages/"+acc.ID {
			t.Fatalf("%s: %d %s", name, st, b)
		}
		if st := acc.Message.Delivery.State; (acc.Status != "queued" && acc.Status != "accepted") || (st != "queued" && st != "sending" && st != "accepted") {
			t.Errorf("%s: %s", name, b)
		}
		m := waitStatus(t, g, acc.ID, "read")
		st, b = g.API(t, "GET", "/api/v1/messages/"+m.WAMID, nil)
		if st != 200 || !strings.Contains(string(b), `"state":"accepted"`) || !strings.Contains(string(b), `"status":"read"`) {
			t.Errorf("%s: GET by wamid %d %s", name, st, b)
		}
	}
	// Idempotency: the same key gives the same message, sent once.
	body := []byte(fmt.Sprintf(`{"phone_number_id":%q,"message":%s}`, pnid, bodies["text_preview_url"]))
	st1, b1, _ := post(t, g.Internal.URL+"/api/v1/messages", g.APIKey, "application/json", body, "Idempotency-Key", "order-1")
	st2, b2, _ := post(t, g.Internal.URL+"/api/v1/messages", g.APIKey, "application/json", body, "Idempotency-Key", "order-1")
	var a1, a2 struct{ ID string }
	json.Unmarshal(b1, &a1)
	json.Unmarshal(b2, &a2)
	if st1 != 202 || st2 != 200 || a1.ID == "" || a1.ID != a2.ID {
		t.Fatalf("idempotency: %d %s / %d %s", st1, b1, st2, b2)
	}
	// Bad input is refused and changes nothing.
	for _, bad := range []string{`{}`, `{"phone_number_id":"1","message":{"to":"1"}}`, `not json`, `{"phone_number_id":"1","message":{},"extra":1}`} {
		if st, b, _ := post(t, g.Internal.URL+"/api/v1/messages", g.APIKey, "application/json", []byte(bad)); st != 400 {
			t.Errorf("%s: %d %s", bad, st, b)
		}
	}
}

// Outside the window a free-form message is refused locally with Meta's
// 131047 before anything reaches Meta; a template still goes out.
func TestWindowRefusal(t *testing.T) {
	g := newSending(t)
	text := []byte(`{"messaging_product":"whatsapp","to":"+447700900777","type":"text","text":{"body":"Hallo"}}`)
	st, b, _ := post(t, g.Internal.URL+"/v24.0/"+pnid+"/messages", g.APIKey, "application/json", text)
	var e struct {
		Error struct {
			Code      cloudapi.ErrorCode `json:"code"`
			Type      string             `json:"type"`
			Message   string             `json:"message"`
			ErrorData struct {
				Details string `json:"details"`
			} `json:"error_data"`
		} `json:"error"`
	}
	if err := json.Unmarshal(b, &e); st != 400 || err != nil || e.Error.Code != cloudapi.CodeReEngagement || e.Error.Type != "OAuthException" ||
		!strings.Contains(e.Error.ErrorData.Details, "template") || !strings.HasPrefix(e.Error.Message, "(#131047)") {
		t.Fatalf("%d %s", st, b)
	}
	st, b, _ = post(t, g.Internal.URL+"/api/v1/messages", g.APIKey, "application/json", []byte(fmt.Sprintf(`{"phone_number_id":%q,"message":%s}`, pnid, text)))
	if st != 422 || !strings.Contains(string(b), `"window_closed"`) || !strings.Contains(string(b), codeJSON(cloudapi.CodeReEngagement)) {
		t.Fatalf("queued: %d %s", st, b)
	}
	if n := len(g.Sim.Requests()); n != 0 {
		t.Fatalf("Meta was called %d times", n)
	}
	if st, _ := g.API(t, "GET", "/api/v1/contacts/447700900777", nil); st != 404 {
		t.Fatalf("a refused message left a contact behind: %d", st)
	}
	tpl := []byte(`{"messaging_product":"whatsapp","to":"+447700900777","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`)
	if st, b, _ := post(t, g.Internal.URL+"/v24.0/"+pnid+"/messages", g.APIKey, "application/json", tpl); st != 200 {
		t.Fatalf("template: %d %s", st, b)
	}
	// The window's end is in the contact JSON once the customer writes.
	g.Sim.Write(context.Background(), simulator.Customer{WaID: "447700900777"}, "text")
	st, b = g.API(t, "GET", "/api/v1/contacts/447700900777", nil)
	if st != 200 || !strings.Contains(string(b), `"expires_at"`) || !strings.Contains(string(b), `"open":true`) {
		t.Fatalf("contact: %d %s", st, b)
	}
	if st, b, _ := post(t, g.Internal.URL+"/v24.0/"+pnid+"/messages", g.APIKey, "application/json", text); st != 200 {
		t.Fatalf("inside the window: %d %s", st, b)
	}
}

// The proxy accepts Pforte keys with the send scope only, and answers
// refusals in Graph's shape so SDKs report them.
func TestProxyAuth(t *testing.T) {
	g := newSending(t)
	readKey, _, err := g.Store.CreateAPIKey(context.Background(), "reader", store.Scopes{store.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"messaging_product":"whatsapp","to":"+447700900778","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`)
	url := g.Internal.URL + "/v24.0/" + pnid + "/messages"
	for _, tc := range []struct {
		key  string
		st   int
		code cloudapi.ErrorCode
	}{{"", 401, cloudapi.CodeAccessTokenExpired}, {testenv.Token, 401, cloudapi.CodeAccessTokenExpired}, {readKey, 403, cloudapi.CodePermissionDenied}} {
		st, b, _ := post(t, url, tc.key, "application/json", body)
		var e struct{ Error cloudapi.Error }
		json.Unmarshal(b, &e)
		if st != tc.st || e.Error.Code != tc.code || e.Error.Type != "OAuthException" {
			t.Errorf("key %q: %d %s", tc.key, st, b)
		}
	}
	if n := len(g.Sim.Requests()); n != 0 {
		t.Fatalf("unauthorised requests reached Meta: %d", n)
	}
	// SDKs that pass the token as a query parameter work too.
	st, b, _ := post(t, url+"?access_token="+g.APIKey, "", "application/json", body)
	if st != 200 {
		t.Fatalf("access_token parameter: %d %s", st, b)
	}
}

// A throughput error is retried within the request; Meta's own errors
// come back exactly as Meta sent them.
func TestProxyRetriesAndErrors(t *testing.T) {
	g := newSending(t)
	tpl := func(to string) []byte {
		return []byte(`{"messaging_product":"whatsapp","to":"+` + to + `","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`)
	}
	url := g.Internal.URL + "/v24.0/" + pnid + "/messages"
	g.Sim.Inject(simulator.Fault{Code: cloudapi.CodeThroughputReached, To: "447700900801"})
	if st, b, _ := post(t, url, g.APIKey, "application/json", tpl("447700900801")); st != 200 {
		t.Fatalf("after a retry: %d %s", st, b)
	}
	if n := len(g.Sim.Accepted()); n != 1 {
		t.Fatalf("%d accepted", n)
	}
	g.Sim.Inject(simulator.Fault{Code: cloudapi.CodeTemplateNotFound, To: "447700900802"})
	st, b, hdr := post(t, url, g.APIKey, "application/json", tpl("447700900802"))
	var e struct {
		Error struct {
			Code      cloudapi.ErrorCode `json:"code"`
			FBTraceID string             `json:"fbtrace_id"`
		} `json:"error"`
	}
	json.Unmarshal(b, &e)
	if st != 404 || e.Error.Code != cloudapi.CodeTemplateNotFound || e.Error.FBTraceID == "pforte" || e.Error.FBTraceID == "" {
		t.Fatalf("Meta's error not handed on: %d %s", st, b)
	}
	m := waitStatus(t, g, hdr.Get("X-Pforte-Message-Id"), "failed")
	if !strings.Contains(string(m.Errors), codeJSON(cloudapi.CodeTemplateNotFound)) {
		t.Fatalf("error not kept: %s", m.Errors)
	}
	// No answer after the request went out: a Graph-shaped 502, marked unknown.
	g.Sim.Inject(simulator.Fault{Hang: true, To: "447700900803"})
	st, b, hdr = post(t, url, g.APIKey, "application/json", tpl("447700900803"))
	if st != 502 || !strings.Contains(string(b), codeJSON(cloudapi.CodeSomethingWentWrong)) {
		t.Fatalf("hang: %d %s", st, b)
	}
	waitStatus(t, g, hdr.Get("X-Pforte-Message-Id"), "unknown")
}

func multipartUpload(t *testing.T, data []byte, mimeType, filename string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("messaging_product", "whatsapp")
	mw.WriteField("type", mimeType)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, filename))
	h.Set("Content-Type", mimeType)
	p, _ := mw.CreatePart(h)
	p.Write(data)
	mw.Close()
	return mw.FormDataContentType(), buf.Bytes()
}

// Upload keeps a local copy and returns Meta's id; a message sending that
// id links the local file; GET/DELETE relay Meta's answers.
func TestProxyMedia(t *testing.T) {
	g := newSending(t)
	data := append([]byte{0xff, 0xd8, 0xff, 0xe0}, bytes.Repeat([]byte("pforte"), 500)...)
	ct, body := multipartUpload(t, data, "image/jpeg", "../../etc/passwd.jpg")
	st, b, _ := post(t, g.Internal.URL+"/v24.0/"+pnid+"/media", g.APIKey, ct, body)
	var up struct{ ID string }
	if json.Unmarshal(b, &up); st != 200 || up.ID == "" {
		t.Fatalf("upload: %d %s", st, b)
	}
	if got, ok := g.Sim.Media(up.ID); !ok || !bytes.Equal(got, data) {
		t.Fatal("Meta did not get the file")
	}
	u, err := g.Store.UploadByMediaID(context.Background(), up.ID)
	if err != nil || u.Size != int64(len(data)) || u.Filename != "passwd.jpg" {
		t.Fatalf("upload record: %+v %v", u, err)
	}
	if _, err := os.Stat(g.Store.MediaDir() + "/" + u.Path); err != nil {
		t.Fatalf("local copy: %v", err)
	}
	// Too large for its kind: refused before Meta.
	big := make([]byte, cloudapi.MaxSticker+1)
	ct2, body2 := multipartUpload(t, big, "image/webp", "s.webp")
	if st, b, _ := post(t, g.Internal.URL+"/v24.0/"+pnid+"/media", g.APIKey, ct2, body2); st != 400 || !strings.Contains(string(b), "131053") {
		t.Fatalf("oversized sticker: %d %s", st, b)
	}

	g.Sim.Write(context.Background(), simulator.Customer{WaID: "447700900900"}, "text")
	send := []byte(`{"messaging_product":"whatsapp","to":"+447700900900","type":"image","image":{"id":"` + up.ID + `","caption":"Ersatzteil"}}`)
	st, b, hdr := post(t, g.Internal.URL+"/v24.0/"+pnid+"/messages", g.APIKey, "application/json", send)
	if st != 200 {
		t.Fatalf("send image: %d %s", st, b)
	}
	st, got := g.API(t, "GET", "/api/v1/messages/"+hdr.Get("X-Pforte-Message-Id")+"/media", nil)
	if st != 200 || !bytes.Equal(got, data) {
		t.Fatalf("outbound media: %d (%d bytes)", st, len(got))
	}

	// GET gives Meta's fields with a download URL on Pforte.
	req, _ := http.NewRequest("GET", g.Internal.URL+"/v24.0/"+up.ID, nil)
	req.Header.Set("Authorization", "Bearer "+g.APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var info cloudapi.MediaInfo
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(info.URL, g.Internal.URL+"/") || info.MimeType != "image/jpeg" || string(info.FileSize) != fmt.Sprint(len(data)) {
		t.Fatalf("media info: %d %+v", resp.StatusCode, info)
	}
	req, _ = http.NewRequest("DELETE", g.Internal.URL+"/v24.0/"+up.ID, nil)
	req.Header.Set("Authorization", "Bearer "+g.APIKey)
	resp, _ = http.DefaultClient.Do(req)
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(b)) != `{"success":true}` {
		t.Fatalf("delete: %d %s", resp.StatusCode, b)
	}
	if _, ok := g.Sim.Media(up.ID); ok {
		t.Fatal("not deleted at Meta")
	}
}

// Every /api/v1 route in routes.go is described in the OpenAPI document.
func TestOpenAPIListsEveryRoute(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	resp, err := http.Get(g.Internal.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi.json: %d %v", resp.StatusCode, err)
	}
	src, err := os.ReadFile("routes.go")
	if err != nil {
		t.Fatal(err)
	}
	routes := regexp.MustCompile(`"(GET|POST|PUT|PATCH|DELETE) (/api/v1/[^"]*)"`).FindAllStringSubmatch(string(src), -1)
	if len(routes) < 5 {
		t.Fatalf("found only %d /api/v1 routes in routes.go", len(routes))
	}
	for _, r := range routes {
		if _, ok := doc.Paths[r[2]][strings.ToLower(r[1])]; !ok {
			t.Errorf("%s %s is in routes.go but not in openapi.json", r[1], r[2])
		}
	}
}

// graphDo sends one request to the internal listener with key (none if
// empty) and decodes a Graph error, if the answer is one.
func graphDo(t *testing.T, method, url, key string, body []byte) (int, cloudapi.Error, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct{ Error cloudapi.Error }
	json.Unmarshal(b, &e)
	return resp.StatusCode, e.Error, b
}

// A send-scoped key reaches through the proxy only what its contract
// names: sends and uploads for the company's numbers, and media Pforte
// uploaded or received. Everything else (the token's own user, the WABA,
// other numbers, unknown ids, other methods and edges, paths smuggled past
// the router) gets Meta's "unsupported request" error and Meta is never
// called.
func TestProxyRelaysOnlyItsContract(t *testing.T) {
	g := newSending(t)
	ctx := context.Background()
	sendKey, _, err := g.Store.CreateAPIKey(ctx, "sender", store.Scopes{store.ScopeSend})
	if err != nil {
		t.Fatal(err)
	}
	// One file uploaded through Pforte, one received from a customer.
	ct, body := multipartUpload(t, jpeg("upload"), "image/jpeg", "a.jpg")
	st, b, _ := post(t, g.Internal.URL+"/v24.0/"+pnid+"/media", sendKey, ct, body)
	var up struct{ ID string }
	if json.Unmarshal(b, &up); st != 200 || up.ID == "" {
		t.Fatalf("upload: %d %s", st, b)
	}
	if _, st, err := g.Sim.Write(ctx, simulator.Customer{WaID: "447700900321"}, "image"); err != nil || st != 200 {
		t.Fatalf("customer image: %d %v", st, err)
	}
	var received string
	testenv.Eventually(t, 5*time.Second, "the received image", func() bool {
		for _, c := range g.GraphCalls() {
			if c.Method == "GET" && strings.HasPrefix(c.Path, "/v24.0/") && strings.Count(c.Path, "/") == 2 && c.Path != "/v24.0/"+up.ID {
				received = strings.TrimPrefix(c.Path, "/v24.0/")
			}
		}
		if received == "" {
			return false
		}
		// The fetcher's download comes after the record: wait for it too,
		// so that no call of its own falls into the window checked below.
		if !slices.ContainsFunc(g.GraphCalls(), func(c testenv.GraphCall) bool { return strings.HasPrefix(c.Path, "/lookaside/") }) {
			return false
		}
		o, err := g.Store.MediaOriginOf(ctx, received)
		return err == nil && o == store.MediaReceived
	})
	wabaID := g.Sim.Options().WABAID
	base := g.Internal.URL + "/v24.0/"
	send := []byte(`{"messaging_product":"whatsapp","to":"+447700900321","type":"text","text":{"body":"x"}}`)
	before := len(g.GraphCalls())

	for _, tc := range []struct {
		method, path string
		body         []byte
		object       string
	}{
		{"GET", "me", nil, "me"},
		{"GET", "me?fields=id,name", nil, "me"},
		{"DELETE", "me", nil, "me"},
		{"GET", "me/accounts", nil, "me"},
		{"GET", "debug_token?input_token=x", nil, "debug_token"},
		{"DELETE", "4815162342", nil, "4815162342"},
		{"GET", "4815162342", nil, "4815162342"},
		{"GET", wabaID, nil, wabaID},
		{"GET", wabaID + "/phone_numbers", nil, wabaID},
		{"GET", wabaID + "/message_templates?fields=name,components", nil, wabaID},
		{"POST", wabaID + "/message_templates", []byte(`{"name":"x"}`), wabaID},
		{"DELETE", wabaID + "/subscribed_apps", nil, wabaID},
		{"GET", pnid, nil, pnid},
		{"GET", pnid + "?fields=verified_name,display_phone_number", nil, pnid},
		{"POST", pnid, []byte(`{}`), pnid},
		{"POST", pnid + "/register", []byte(`{"messaging_product":"whatsapp","pin":"123456"}`), pnid},
		{"POST", pnid + "/deregister", nil, pnid},
		{"GET", pnid + "/messages", nil, pnid},
		{"POST", "1234567890/messages", send, "1234567890"},
		{"POST", "1234567890/media", []byte("x"), "1234567890"},
		{"PUT", up.ID, []byte(`{}`), up.ID},
		{"POST", up.ID, []byte(`{}`), up.ID},
		{"GET", up.ID + "/insights", nil, up.ID},
		{"GET", up.ID + "?phone_number_id=1234567890", nil, "1234567890"},
		{"DELETE", up.ID + "?phone_number_id=1234567890", nil, "1234567890"},
		{"GET", "123%2F..%2Fme", nil, "123/../me"},
		{"GET", up.ID + "%2F..%2F..%2Fme", nil, up.ID + "/../../me"},
		{"DELETE", "..%2Fme", nil, "../me"},
		{"GET", "123/../me", nil, "me"},                   // the router cleans it to /me
		{"DELETE", up.ID + "/../me?fields=id", nil, "me"}, // redirected, then refused
		{"GET", "", nil, ""},
	} {
		st, e, raw := graphDo(t, tc.method, base+tc.path, sendKey, tc.body)
		if st != http.StatusBadRequest || e.Code != cloudapi.CodeInvalidParameter || e.Subcode != cloudapi.SubcodeUnsupportedObject || e.Type != "GraphMethodException" || e.FBTraceID == "" ||
			!strings.Contains(e.Message, "Object with ID '"+tc.object+"' does not exist") {
			t.Errorf("%s /v24.0/%s: %d %s", tc.method, tc.path, st, raw)
		}
	}
	if st, _, raw := graphDo(t, "GET", g.Internal.URL+"/pforte/media/4815162342", sendKey, nil); st != 400 || !strings.Contains(string(raw), `"error_subcode":33`) {
		t.Errorf("download of an unknown id: %d %s", st, raw)
	}
	// Without a key nothing is revealed, not even whether a path exists.
	if st, e, raw := graphDo(t, "GET", base+"me", "", nil); st != 401 || e.Code != cloudapi.CodeAccessTokenExpired {
		t.Errorf("/me without a key: %d %s", st, raw)
	}
	// A customer's file needs the read scope as well.
	for _, m := range []string{"GET", "DELETE"} {
		if st, e, raw := graphDo(t, m, base+received, sendKey, nil); st != 403 || e.Code != cloudapi.CodePermissionDenied {
			t.Errorf("%s received media with a send-only key: %d %s", m, st, raw)
		}
	}
	if st, e, raw := graphDo(t, "GET", g.Internal.URL+"/pforte/media/"+received, sendKey, nil); st != 403 || e.Code != cloudapi.CodePermissionDenied {
		t.Errorf("download of received media with a send-only key: %d %s", st, raw)
	}
	if calls := g.GraphCalls()[before:]; len(calls) != 0 {
		t.Fatalf("refused requests reached Meta: %+v", calls)
	}

	// What the contract names still works.
	if st, _, raw := graphDo(t, "GET", base+up.ID, sendKey, nil); st != 200 {
		t.Errorf("GET own upload: %d %s", st, raw)
	}
	if st, _, raw := graphDo(t, "GET", base+received+"?phone_number_id="+pnid, g.APIKey, nil); st != 200 {
		t.Errorf("GET received media with read: %d %s", st, raw)
	}
	if st, _, raw := graphDo(t, "POST", base+pnid+"/messages", sendKey, send); st != 200 {
		t.Errorf("send: %d %s", st, raw)
	}
	if st, _, raw := graphDo(t, "DELETE", base+up.ID, sendKey, nil); st != 200 {
		t.Errorf("DELETE own upload: %d %s", st, raw)
	}
	var relayed []string
	for _, c := range g.GraphCalls()[before:] {
		relayed = append(relayed, c.Method+" "+c.Path)
	}
	if want := []string{"POST /v24.0/" + pnid + "/messages", "DELETE /v24.0/" + up.ID}; strings.Join(relayed, ",") != strings.Join(want, ",") {
		t.Fatalf("relayed to Meta: %v, want %v", relayed, want)
	}
	// Paths outside the Graph versions keep the router's answers.
	if st, _, _ := graphDo(t, "GET", g.Internal.URL+"/nothing/here/at/all", g.APIKey, nil); st != 404 {
		t.Errorf("unknown path: %d", st)
	}
	if st, _, _ := graphDo(t, "PUT", g.Internal.URL+"/api/v1/contacts/447700900321", g.APIKey, nil); st != 405 {
		t.Errorf("wrong method on the API: %d", st)
	}
}

// codeJSON is how a Graph error body carries a code.
func codeJSON(c cloudapi.ErrorCode) string { return fmt.Sprintf(`"code":%d`, c) }

// A phone number id that is none of the company's is refused by the
// outbox for the queued API as for the proxy, each in its own shape, and
// Meta is never called.
func TestUnknownNumberRefusedWithoutMeta(t *testing.T) {
	g := newSending(t)
	msg := []byte(`{"messaging_product":"whatsapp","to":"+447700900999","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`)
	before := len(g.GraphCalls())
	st, b, _ := post(t, g.Internal.URL+"/api/v1/messages", g.APIKey, "application/json", []byte(fmt.Sprintf(`{"phone_number_id":"999999","message":%s}`, msg)))
	if st != http.StatusBadRequest || !strings.Contains(string(b), `"code":"unknown_phone_number_id"`) || !strings.Contains(string(b), `"error_subcode":33`) {
		t.Fatalf("queued API: %d %s", st, b)
	}
	st, e, raw := graphDo(t, "POST", g.Internal.URL+"/v24.0/999999/messages", g.APIKey, msg)
	if st != http.StatusBadRequest || e.Code != cloudapi.CodeInvalidParameter || e.Subcode != cloudapi.SubcodeUnsupportedObject {
		t.Fatalf("proxy: %d %s", st, raw)
	}
	if calls := g.GraphCalls()[before:]; len(calls) != 0 {
		t.Fatalf("Meta was called: %+v", calls)
	}
	if c, err := g.Store.Count(context.Background()); err == nil && c.Messages != 0 {
		t.Fatalf("%d messages stored", c.Messages)
	}
}
