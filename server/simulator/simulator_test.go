package simulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/pforte/pforte/server/servertest"
	"github.com/pforte/pforte/server/simulator"
)

func call(t *testing.T, method, url, token string, body []byte) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// keys returns the JSON object's key paths, for comparing shapes.
func keys(t *testing.T, b []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	var out []string
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				out = append(out, prefix+k)
				walk(prefix+k+".", e)
			}
		case []any:
			if len(x) > 0 {
				walk(prefix+"[].", x[0])
			}
		}
	}
	walk("", v)
	sort.Strings(out)
	return out
}

// The simulator answers in the shapes of Meta's documented examples.
func TestAnswersHaveMetasShapes(t *testing.T) {
	sim := simulator.New(simulator.Options{AccessToken: "tok", StatusDelay: -1})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	_, sends := servertest.Examples(t, "send")
	_, resps := servertest.Examples(t, "send/responses")
	_, errs := servertest.Examples(t, "errors")
	url := srv.URL + "/v24.0/106540352242922/messages"
	for send, resp := range map[string]string{"text_preview_url": "send_ok", "text_to_bsuid_recipient": "send_ok_bsuid",
		"template_positional_params": "send_ok_template_paced", "mark_read": "mark_read_ok"} {
		st, b := call(t, "POST", url, "tok", sends[send])
		if st != 200 || strings.Join(keys(t, b), ",") != strings.Join(keys(t, resps[resp]), ",") {
			t.Errorf("%s: %d %s, want the shape of %s", send, st, b, resps[resp])
		}
	}
	st, b := call(t, "POST", url, "wrong", sends["text_preview_url"])
	if st != 401 || strings.Join(keys(t, b), ",") != strings.Join(keys(t, errs["error_190_token_expired"]), ",") {
		t.Errorf("bad token: %d %s", st, b)
	}
	// Faults can be queued over HTTP too.
	if st, b := call(t, "POST", srv.URL+"/_simulator/faults", "", []byte(`{"code":130429,"times":1}`)); st != 204 {
		t.Fatalf("fault: %d %s", st, b)
	}
	st, b = call(t, "POST", url, "tok", sends["text_preview_url"])
	if st != 429 || strings.Join(keys(t, b), ",") != strings.Join(keys(t, errs["error_131047_reengagement"]), ",") || !strings.Contains(string(b), "130429") {
		t.Errorf("fault: %d %s", st, b)
	}
	if _, b := call(t, "GET", srv.URL+"/_simulator/requests", "", nil); !strings.Contains(string(b), `"error 130429":1`) {
		t.Errorf("requests: %s", b)
	}
}

// With EnforceWindow a free-form message needs the customer to have
// written first; templates need not.
func TestEnforceWindow(t *testing.T) {
	g := servertest.New(t, servertest.Options{})
	sim := simulator.New(simulator.Options{AccessToken: "tok", StatusDelay: -1, EnforceWindow: true, WebhookURL: g.Public.URL + "/webhook", AppSecret: g.AppSecret})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	url := srv.URL + "/v24.0/106540352242922/messages"
	text := []byte(`{"messaging_product":"whatsapp","to":"+447700900321","type":"text","text":{"body":"Hallo"}}`)
	if st, b := call(t, "POST", url, "tok", text); st != 400 || !strings.Contains(string(b), "131047") {
		t.Fatalf("outside: %d %s", st, b)
	}
	tpl := []byte(`{"messaging_product":"whatsapp","to":"+447700900321","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`)
	if st, b := call(t, "POST", url, "tok", tpl); st != 200 {
		t.Fatalf("template: %d %s", st, b)
	}
	if _, st, err := sim.Write(t.Context(), simulator.Customer{WaID: "447700900321", Name: "Emma"}, "text"); err != nil || st != 200 {
		t.Fatalf("customer: %d %v", st, err)
	}
	if st, b := call(t, "POST", url, "tok", text); st != 200 {
		t.Fatalf("inside: %d %s", st, b)
	}
}
