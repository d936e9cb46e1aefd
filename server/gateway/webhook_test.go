package gateway_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// exampleMessage is what a test expects of one message in an example, read
// from the example with plain maps rather than Pforte's own types.
type exampleMessage struct {
	ID, Type, From, FromUserID, Name string
	Text                             *string
	Payload                          any
}

func exampleMessages(t *testing.T, body []byte) []exampleMessage {
	t.Helper()
	var n struct {
		Entry []struct {
			Changes []struct {
				Field string
				Value struct {
					Contacts []struct {
						WaID    string `json:"wa_id"`
						UserID  string `json:"user_id"`
						Profile struct{ Name string }
					}
					Messages []map[string]any
				}
			}
		}
	}
	if err := json.Unmarshal(body, &n); err != nil {
		t.Fatal(err)
	}
	var out []exampleMessage
	for _, e := range n.Entry {
		for _, c := range e.Changes {
			for _, m := range c.Value.Messages {
				em := exampleMessage{ID: m["id"].(string), Type: m["type"].(string), Payload: m[m["type"].(string)]}
				em.From, _ = m["from"].(string)
				em.FromUserID, _ = m["from_user_id"].(string)
				for _, ct := range c.Value.Contacts {
					if ct.WaID == em.From || (ct.UserID != "" && ct.UserID == em.FromUserID) {
						em.Name = ct.Profile.Name
					}
				}
				if obj, ok := em.Payload.(map[string]any); ok {
					if em.Type == "text" {
						s := obj["body"].(string)
						em.Text = &s
					} else if c, ok := obj["caption"].(string); ok {
						em.Text = &c
					}
				}
				out = append(out, em)
			}
		}
	}
	return out
}

func TestWebhookStoresEveryExample(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	names, bodies := testenv.Examples(t, "webhooks")
	seen := 0
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			resp := g.PostWebhook(t, bodies[name])
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", resp.StatusCode)
			}
			for _, want := range exampleMessages(t, bodies[name]) {
				seen++
				code, body := g.API(t, "GET", "/api/v1/messages/"+url.PathEscape(want.ID), nil)
				if code != http.StatusOK {
					t.Fatalf("GET message %s: %d %s", want.ID, code, body)
				}
				var got gateway.MessageJSON
				if err := json.Unmarshal(body, &got); err != nil {
					t.Fatal(err)
				}
				if got.ID != want.ID || got.Type != want.Type || got.Direction != "inbound" {
					t.Errorf("got id %q type %q direction %q, want %q %q inbound", got.ID, got.Type, got.Direction, want.ID, want.Type)
				}
				if (got.Text == nil) != (want.Text == nil) || (got.Text != nil && *got.Text != *want.Text) {
					t.Errorf("text = %v, want %v", deref(got.Text), deref(want.Text))
				}
				if want.From != "" && deref(got.Contact.WaID) != want.From {
					t.Errorf("contact wa_id = %q, want %q", deref(got.Contact.WaID), want.From)
				}
				if got.Contact.Name != want.Name {
					t.Errorf("contact name = %q, want %q", got.Contact.Name, want.Name)
				}
				var payload any
				if err := json.Unmarshal(got.Payload, &payload); err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(payload, want.Payload) {
					t.Errorf("payload = %s, want %v", got.Payload, want.Payload)
				}
				if cloudapi.IsMediaType(want.Type) {
					obj := want.Payload.(map[string]any)
					if got.Media == nil || got.Media.SHA256 != obj["sha256"] || got.Media.MimeType != obj["mime_type"] || got.Media.State != "pending" {
						t.Errorf("media = %+v, want sha256 %v mime %v pending", got.Media, obj["sha256"], obj["mime_type"])
					}
				}
			}
		})
	}
	if seen < 15 {
		t.Fatalf("only %d example messages checked; the examples folder looks incomplete", seen)
	}
	// Statuses and non-message fields are kept too.
	c, err := g.Store.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// Examples with a ban or a restriction raise alarms, and alarms are
	// Pforte's own signed events, stored beside Meta's deliveries.
	if c.Deliveries-ownEvents(t, g.Dir) != int64(len(names)) || c.Statuses == 0 || c.Events == 0 {
		t.Errorf("counts %+v: want one delivery per example (%d), some statuses and events", c, len(names))
	}
	tmpl, err := g.Store.EventsByField(context.Background(), "message_template_status_update", 10)
	if err != nil || len(tmpl) != 3 {
		t.Errorf("template status events = %d (%v), want 3", len(tmpl), err)
	}
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// TestWebhookBatch sends every example merged into one delivery: all entries,
// changes and messages in a batch must be stored, not just the first.
func TestWebhookBatch(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	names, bodies := testenv.Examples(t, "webhooks")
	var all struct {
		Object string            `json:"object"`
		Entry  []json.RawMessage `json:"entry"`
	}
	all.Object = "whatsapp_business_account"
	var want []exampleMessage
	for _, name := range names {
		var n struct{ Entry []json.RawMessage }
		json.Unmarshal(bodies[name], &n)
		all.Entry = append(all.Entry, n.Entry...)
		want = append(want, exampleMessages(t, bodies[name])...)
	}
	body, _ := json.Marshal(all)
	if resp := g.PostWebhook(t, body); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, m := range want {
		if code, _ := g.API(t, "GET", "/api/v1/messages/"+url.PathEscape(m.ID), nil); code != 200 {
			t.Errorf("message %s from %s not stored (%d)", m.ID, m.Type, code)
		}
	}
}

func TestWebhookRedeliveryStoresOnce(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	names, bodies := testenv.Examples(t, "webhooks")
	for _, name := range names {
		for range 3 {
			if resp := g.PostWebhook(t, bodies[name]); resp.StatusCode != 200 {
				t.Fatalf("%s: status %d", name, resp.StatusCode)
			}
		}
	}
	// A redelivery may also arrive re-batched with other content: the
	// messages inside must still not be stored twice.
	var n map[string]any
	json.Unmarshal(bodies["text"], &n)
	n["entry"] = append(n["entry"].([]any), map[string]any{"id": "1", "changes": []any{}})
	rebatched, _ := json.Marshal(n)
	g.PostWebhook(t, rebatched)

	c, _ := g.Store.Count(context.Background())
	var wantMsgs int64
	for _, name := range names {
		wantMsgs += int64(len(exampleMessages(t, bodies[name])))
	}
	if c.Messages != wantMsgs || c.Deliveries-ownEvents(t, g.Dir) != int64(len(names))+1 {
		t.Errorf("after 3 deliveries each: %d messages, %d deliveries; want %d and %d", c.Messages, c.Deliveries, wantMsgs, len(names)+1)
	}
	db := openRaw(t, g.Dir)
	var dup int
	db.QueryRow("SELECT count(*) FROM (SELECT wamid FROM message_statuses GROUP BY wamid, status HAVING count(*) > 1)").Scan(&dup)
	var events int
	db.QueryRow("SELECT count(*) FROM events").Scan(&events)
	if dup != 0 {
		t.Errorf("%d duplicate statuses", dup)
	}
	if int64(events) != c.Events || events != 5 {
		t.Errorf("events = %d, want 5 (one per non-message example)", events)
	}
}

func openRaw(t *testing.T, dir string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, store.DBFile)+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// statusDelivery builds a status webhook for one outbound message.
func statusDelivery(wamid, status string, ts int64, withError bool) []byte {
	errs := ""
	if withError {
		errs = `,"errors":[{"code":131026,"title":"Message undeliverable","message":"Message undeliverable","error_data":{"details":"not a WhatsApp user"}}]`
	}
	return fmt.Appendf(nil, `{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
		"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001111","phone_number_id":"111"},
		"statuses":[{"id":%q,"status":%q,"timestamp":"%d","recipient_id":"4915112345678"%s}]}}]}]}`, wamid, status, ts, errs)
}

func TestStatusesEndCorrectInAnyOrder(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	cases := []struct {
		statuses []string
		want     string
	}{
		{[]string{"sent", "delivered", "read"}, "read"},
		{[]string{"sent", "read"}, "read"}, // delivered skipped when read at once
		{[]string{"sent", "delivered"}, "delivered"},
		{[]string{"sent", "delivered", "read", "played"}, "played"},
		{[]string{"sent", "failed"}, "failed"},
		{[]string{"sent", "delivered", "mystery_new_status"}, "delivered"},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i, c := range cases {
		for round := range 6 {
			wamid := fmt.Sprintf("wamid.case%d.round%d", i, round)
			order := append([]string(nil), c.statuses...)
			rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
			// Half the rounds record the send first; the others let
			// receipts arrive before the send response was stored.
			recordFirst := round%2 == 0
			record := func() {
				_, err := g.Store.RecordSent(ctx, store.SentMessage{Number: store.Number{PhoneNumberID: "111"},
					To: store.Party{WaID: "4915112345678"}, WAMID: wamid, Type: "text", Text: "Hallo"})
				if err != nil {
					t.Fatal(err)
				}
			}
			if recordFirst {
				record()
			}
			for j, st := range order {
				ts := int64(1790000000 + 10*indexOf(c.statuses, st))
				if resp := g.PostWebhook(t, statusDelivery(wamid, st, ts, st == "failed")); resp.StatusCode != 200 {
					t.Fatalf("status %d", resp.StatusCode)
				}
				if j == 0 { // and once more, as Meta redelivers
					g.PostWebhook(t, statusDelivery(wamid, st, ts, st == "failed"))
				}
			}
			if !recordFirst {
				record()
			}
			code, body := g.API(t, "GET", "/api/v1/messages/"+wamid, nil)
			var got gateway.MessageJSON
			json.Unmarshal(body, &got)
			if code != 200 || deref(got.Status) != c.want {
				t.Errorf("order %v (recorded first: %v): status %q (%d), want %q", order, recordFirst, deref(got.Status), code, c.want)
			}
			if c.want == "failed" && !bytes.Contains(got.Errors, []byte("131026")) {
				t.Errorf("failed message lost Meta's error: %s", got.Errors)
			}
			hist, _ := g.Store.MessageStatuses(ctx, wamid)
			if len(hist) != len(c.statuses) {
				t.Errorf("history has %d receipts, want %d", len(hist), len(c.statuses))
			}
		}
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestWebhookRejectsWhatMetaDidNotSign(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	_, bodies := testenv.Examples(t, "webhooks")
	body := bodies["text"]
	good := cloudapi.Sign(g.AppSecret, body)
	var v any
	json.Unmarshal(body, &v)
	reserialised, _ := json.Marshal(v)
	flipped := bytes.Clone(body)
	flipped[len(flipped)/2] ^= 1

	cases := []struct {
		name      string
		body      []byte
		signature string
		want      int
	}{
		{"unsigned", body, "", 401},
		{"wrong secret", body, cloudapi.Sign([]byte("not the secret"), body), 401},
		{"re-serialised body", reserialised, good, 401},
		{"truncated body", body[:len(body)-10], good, 401},
		{"one flipped byte", flipped, good, 401},
		{"sha1 only", body, "sha1=" + strings.Repeat("a", 40), 401},
		{"no prefix", body, strings.TrimPrefix(good, "sha256="), 401},
		{"uppercase hex", body, "sha256=" + strings.ToUpper(strings.TrimPrefix(good, "sha256=")), 401},
		{"short hex", body, good[:len(good)-2], 401},
		{"empty body", nil, good, 401},
		{"oversized", bytes.Repeat([]byte(" "), gateway.DefaultMaxBody+1), "sha256=" + strings.Repeat("0", 64), 413},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if resp := g.PostWebhookSigned(t, c.body, c.signature); resp.StatusCode != c.want {
				t.Errorf("status %d, want %d", resp.StatusCode, c.want)
			}
		})
	}
	// Oversized without a Content-Length (chunked) is cut off while reading.
	big := io.MultiReader(bytes.NewReader(body), bytes.NewReader(bytes.Repeat([]byte(" "), gateway.DefaultMaxBody)))
	req, _ := http.NewRequest("POST", g.Public.URL+"/webhook", big)
	req.Header.Set(cloudapi.SignatureHeader, good)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 413 {
		t.Errorf("chunked oversized: status %d, want 413", resp.StatusCode)
	}
	c, _ := g.Store.Count(context.Background())
	if c != (store.Counts{}) {
		t.Fatalf("rejected deliveries left rows behind: %+v", c)
	}
	// A body of exactly Meta's maximum is fine.
	max := padTo(t, body, 3<<20)
	if resp := g.PostWebhook(t, max); resp.StatusCode != 200 {
		t.Errorf("3 MB delivery: status %d, want 200", resp.StatusCode)
	}
}

// padTo grows a JSON body to n bytes with insignificant whitespace.
func padTo(t *testing.T, body []byte, n int) []byte {
	t.Helper()
	if len(body) > n {
		t.Fatal("body already larger")
	}
	out := append(bytes.Clone(body[:len(body)-1]), bytes.Repeat([]byte(" "), n-len(body))...)
	return append(out, body[len(body)-1])
}

func TestWebhookVerificationHandshake(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	cases := []struct {
		query string
		code  int
		body  string
	}{
		{"hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=" + g.VerifyToken, 200, "1158201444"},
		{"hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=wrong", 403, ""},
		{"hub.mode=unsubscribe&hub.challenge=1&hub.verify_token=" + g.VerifyToken, 403, ""},
		{"hub.mode=subscribe&hub.challenge=1", 403, ""},
	}
	for _, c := range cases {
		resp, err := http.Get(g.Public.URL + "/webhook?" + c.query)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.code || (c.code == 200 && (string(b) != c.body || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"))) {
			t.Errorf("%s: %d %q %s, want %d %q text/plain", c.query, resp.StatusCode, b, resp.Header.Get("Content-Type"), c.code, c.body)
		}
	}
}

// TestWebhookKeepsTheUnknown checks that new message types, fields and
// properties are stored rather than dropped or answered with an error.
func TestWebhookKeepsTheUnknown(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"318824617705293","time":"1790001000","changes":[
	 {"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"12125550173","phone_number_id":412095873361844},
	   "contacts":[{"profile":{"name":"Kim","username":"kim.k"},"user_id":"DE.5550001"}],
	   "messages":[{"from_user_id":"DE.5550001","id":"wamid.NEW1","timestamp":1790001001,"type":"poll_vote","poll_vote":{"option":"B"},"shiny_new_prop":{"a":1}},
	               {"from_user_id":"DE.5550001","id":"wamid.NEW2","timestamp":"1790001002","type":"order","order":{"catalog_id":"9","product_items":[{"product_retailer_id":"x","quantity":"2","item_price":7.99,"currency":"EUR"}]}}]}},
	 {"field":"brand_new_field","value":{"anything":[1,2,3]}},
	 {"field":"messages","value":"not even an object"}]}]}`)
	if resp := g.PostWebhook(t, body); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	code, b := g.API(t, "GET", "/api/v1/messages/wamid.NEW1", nil)
	var m gateway.MessageJSON
	json.Unmarshal(b, &m)
	if code != 200 || m.Type != "poll_vote" || string(m.Payload) != `{"option":"B"}` || !bytes.Contains(m.Extra, []byte("shiny_new_prop")) {
		t.Errorf("unknown type: %d %s", code, b)
	}
	if m.Contact.UserID == nil || *m.Contact.UserID != "DE.5550001" || m.Contact.WaID != nil || m.Contact.Name != "Kim" {
		t.Errorf("username-only contact: %+v", m.Contact)
	}
	if m.Timestamp.Unix() != 1790001001 {
		t.Errorf("numeric timestamp decoded as %v", m.Timestamp)
	}
	if code, b := g.API(t, "GET", "/api/v1/messages/wamid.NEW2", nil); code != 200 || !bytes.Contains(b, []byte("7.99")) {
		t.Errorf("order with float price: %d %s", code, b)
	}
	if ev, _ := g.Store.EventsByField(context.Background(), "brand_new_field", 5); len(ev) != 1 || string(ev[0].Value) != `{"anything":[1,2,3]}` {
		t.Errorf("unknown field not stored raw: %+v", ev)
	}
	if ev, _ := g.Store.EventsByField(context.Background(), "messages", 5); len(ev) != 1 {
		t.Errorf("unreadable messages value not kept: %+v", ev)
	}
	// A delivery that is authentic but not JSON at all is kept raw.
	if resp := g.PostWebhook(t, []byte("this is not json")); resp.StatusCode != 200 {
		t.Errorf("authentic garbage: status %d, want 200 (stored raw)", resp.StatusCode)
	}
	var parseErrs int
	openRaw(t, g.Dir).QueryRow("SELECT count(*) FROM deliveries WHERE parse_error IS NOT NULL").Scan(&parseErrs)
	if parseErrs != 2 {
		t.Errorf("%d deliveries marked with a parse error, want 2", parseErrs)
	}
}

// TestWebhookStorageFailure makes the database refuse one message of a
// batch: the delivery gets 503 and nothing of it is stored, not even the
// messages before the failing one.
func TestWebhookStorageFailure(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	err := g.Store.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(`CREATE TRIGGER fail_disk BEFORE INSERT ON messages WHEN new.wamid = 'wamid.FAIL'
			BEGIN SELECT RAISE(ABORT, 'simulated disk failure'); END`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
		"metadata":{"phone_number_id":"111"},"contacts":[{"profile":{"name":"A"},"wa_id":"491"}],
		"messages":[{"from":"491","id":"wamid.OK","timestamp":"1","type":"text","text":{"body":"first"}},
		            {"from":"491","id":"wamid.FAIL","timestamp":"2","type":"text","text":{"body":"second"}}]}}]}]}`)
	if resp := g.PostWebhook(t, body); resp.StatusCode != 503 {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	if c, _ := g.Store.Count(ctx); c != (store.Counts{}) {
		t.Fatalf("half-written delivery: %+v", c)
	}
	// Concurrent good deliveries in the same group commit are unaffected.
	var wg sync.WaitGroup
	codes := make([]int, 20)
	for i := range codes {
		wg.Go(func() {
			b := bytes.Replace(body, []byte("wamid.FAIL"), fmt.Appendf(nil, "wamid.G%d", i), 1)
			b = bytes.Replace(b, []byte("wamid.OK"), fmt.Appendf(nil, "wamid.H%d", i), 1)
			if i%2 == 0 {
				b = body
			}
			codes[i] = g.PostWebhook(t, b).StatusCode
		})
	}
	wg.Wait()
	for i, c := range codes {
		if want := map[bool]int{true: 503, false: 200}[i%2 == 0]; c != want {
			t.Errorf("delivery %d: %d, want %d", i, c, want)
		}
	}
	if c, _ := g.Store.Count(ctx); c.Messages != 20 {
		t.Errorf("%d messages stored, want 20 from the 10 good deliveries", c.Messages)
	}
}

// TestWebhookBusyDatabase holds the write lock from another connection, as
// a CLI command or a backup might: the webhook answers 503 and Meta retries.
func TestWebhookBusyDatabase(t *testing.T) {
	g := testenv.New(t, testenv.Options{Store: store.Options{BusyTimeout: 200 * time.Millisecond}})
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(g.Dir, store.DBFile)+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	_, bodies := testenv.Examples(t, "webhooks")
	if resp := g.PostWebhook(t, bodies["text"]); resp.StatusCode != 503 {
		t.Errorf("locked database: status %d, want 503", resp.StatusCode)
	}
	tx.Rollback()
	if resp := g.PostWebhook(t, bodies["text"]); resp.StatusCode != 200 {
		t.Errorf("after the lock is gone: status %d, want 200", resp.StatusCode)
	}
}

func TestWebhookUnconfigured(t *testing.T) {
	g := testenv.New(t, testenv.Options{Gateway: gateway.Config{AppSecrets: [][]byte{}}})
	_, bodies := testenv.Examples(t, "webhooks")
	if resp := g.PostWebhook(t, bodies["text"]); resp.StatusCode != 503 {
		t.Errorf("no app secret: status %d, want 503 so that Meta retries", resp.StatusCode)
	}
}

func TestAppSecretRotation(t *testing.T) {
	g := testenv.New(t, testenv.Options{Gateway: gateway.Config{AppSecrets: [][]byte{[]byte("new"), []byte("old")}}})
	_, bodies := testenv.Examples(t, "webhooks")
	for _, secret := range []string{"old", "new"} {
		if resp := g.PostWebhookSigned(t, bodies["text"], cloudapi.Sign([]byte(secret), bodies["text"])); resp.StatusCode != 200 {
			t.Errorf("signed with %s secret: %d", secret, resp.StatusCode)
		}
	}
}

// ownEvents counts the deliveries Pforte stored itself (object "pforte":
// alarms, bot handovers) so that tests can count Meta's alone.
func ownEvents(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	if err := openRaw(t, dir).QueryRow(`SELECT count(*) FROM deliveries WHERE instr(body, '"object":"pforte"') > 0`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
