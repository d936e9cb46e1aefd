package simulator_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
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
	_, sends := testenv.Examples(t, "send")
	_, resps := testenv.Examples(t, "send/responses")
	_, errs := testenv.Examples(t, "errors")
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
	throughput := strconv.Itoa(int(cloudapi.CodeThroughputReached))
	if st, b := call(t, "POST", srv.URL+"/_simulator/faults", "", []byte(`{"code":`+throughput+`,"times":1}`)); st != 204 {
		t.Fatalf("fault: %d %s", st, b)
	}
	st, b = call(t, "POST", url, "tok", sends["text_preview_url"])
	if st != 429 || strings.Join(keys(t, b), ",") != strings.Join(keys(t, errs["error_131047_reengagement"]), ",") || !strings.Contains(string(b), throughput) {
		t.Errorf("fault: %d %s", st, b)
	}
	if _, b := call(t, "GET", srv.URL+"/_simulator/requests", "", nil); !strings.Contains(string(b), `"error `+throughput+`":1`) {
		t.Errorf("requests: %s", b)
	}
}

// With EnforceWindow a free-form message needs the customer to have
// written first; templates need not.
func TestEnforceWindow(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	sim := simulator.New(simulator.Options{AccessToken: "tok", StatusDelay: -1, EnforceWindow: true, WebhookURL: g.Public.URL + "/webhook", AppSecret: g.AppSecret})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	url := srv.URL + "/v24.0/106540352242922/messages"
	text := []byte(`{"messaging_product":"whatsapp","to":"+447700900321","type":"text","text":{"body":"Hallo"}}`)
	if st, b := call(t, "POST", url, "tok", text); st != 400 || !strings.Contains(string(b), strconv.Itoa(int(cloudapi.CodeReEngagement))) {
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

// Customers are German, of many names, and their numbers are the mobile
// numbers the Bundesnetzagentur keeps free for fiction.
func TestCustomersAreGermanWithDramaNumbers(t *testing.T) {
	mobile := regexp.MustCompile(`^49(15|16|17)\d{8,9}$`)
	names, numbers := map[string]bool{}, map[string]bool{}
	umlauts, firstOnly := 0, 0
	for _, c := range simulator.Customers(210) {
		names[c.Name] = true
		if strings.ContainsAny(c.Name, "äöüÄÖÜßëı") {
			umlauts++
		}
		if !strings.Contains(c.Name, " ") {
			firstOnly++
		}
		if c.WaID == "" {
			continue
		}
		if !mobile.MatchString(c.WaID) || numbers[c.WaID] {
			t.Errorf("%s: number %s is not a new German mobile number", c.Name, c.WaID)
		}
		numbers[c.WaID] = true
		// 0176 040690xx, 0171 39200xx or one of the single drama numbers.
		if !strings.HasPrefix(c.WaID, "49176040690") && !strings.HasPrefix(c.WaID, "4917139200") &&
			!strings.HasPrefix(c.WaID, "49152") && !strings.HasPrefix(c.WaID, "49172") && !strings.HasPrefix(c.WaID, "49174") {
			t.Errorf("%s: %s is outside the drama numbers", c.Name, c.WaID)
		}
	}
	if len(names) < 150 || umlauts < 20 || firstOnly < 10 {
		t.Fatalf("%d distinct names, %d with umlauts, %d first names only", len(names), umlauts, firstOnly)
	}
}

// With known templates the simulator checks a template send like Meta:
// an unknown name or language is 132001, wrong parameters are 132000.
func TestKnownTemplates(t *testing.T) {
	tpl := simulator.Template{ID: 1, Name: "rueckruf", Language: "de", Category: "UTILITY", Body: "Hallo {{name}}, wir rufen am {{termin}} an."}
	sim := simulator.New(simulator.Options{AccessToken: "tok", StatusDelay: -1, Templates: []simulator.Template{tpl}})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	url := srv.URL + "/v24.0/106540352242922/messages"
	send := func(name, lang, params string) (int, string) {
		body := `{"messaging_product":"whatsapp","to":"+491713920001","type":"template","template":{"name":"` + name +
			`","language":{"code":"` + lang + `"},"components":[{"type":"body","parameters":[` + params + `]}]}}`
		st, b := call(t, "POST", url, "tok", []byte(body))
		return st, string(b)
	}
	ok := `{"type":"text","parameter_name":"name","text":"Jörg"},{"type":"text","parameter_name":"termin","text":"Dienstag"}`
	for _, c := range []struct {
		name, lang, params string
		status             int
		code               cloudapi.ErrorCode
	}{
		{"rueckruf", "de", ok, 200, 0},
		{"rueckruf", "en_US", ok, 404, cloudapi.CodeTemplateNotFound},
		{"hello_world", "de", ok, 404, cloudapi.CodeTemplateNotFound},
		{"rueckruf", "de", `{"type":"text","parameter_name":"name","text":"Jörg"}`, 400, cloudapi.CodeTemplateParamCount},
		{"rueckruf", "de", `{"type":"text","parameter_name":"name","text":"Jörg"},{"type":"text","parameter_name":"datum","text":"Di"}`, 400, cloudapi.CodeTemplateParamCount},
	} {
		want := ""
		if c.code != 0 {
			want = fmt.Sprintf(`"code":%d`, c.code)
		}
		if st, b := send(c.name, c.lang, c.params); st != c.status || !strings.Contains(b, want) {
			t.Errorf("%s/%s %s: %d %s, want %d %d", c.name, c.lang, c.params, st, b, c.status, c.code)
		}
	}
}

// The simulator's template status webhook teaches the gateway that a
// template is approved, with its category, as Meta's does.
func TestTemplateStatusWebhook(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	sim := simulator.New(simulator.Options{StatusDelay: -1, WebhookURL: g.Public.URL + "/webhook", AppSecret: g.AppSecret})
	tpl := simulator.Template{ID: 42, Name: "versand_bestaetigung", Language: "de", Category: "UTILITY", Body: "Hallo {{1}}"}
	if err := sim.PostTemplateStatus(t.Context(), tpl, simulator.TemplateApproved); err != nil {
		t.Fatal(err)
	}
	tpls, err := g.Store.Templates(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(tpls) != 1 || tpls[0].Name != tpl.Name || tpls[0].Language != "de" || tpls[0].Category != "UTILITY" || !tpls[0].Usable() {
		t.Fatalf("gateway knows %+v", tpls)
	}
}

// A long-running simulator remembers only the newest send calls, yet
// counts every one by outcome.
func TestKeepRequestsBoundsMemory(t *testing.T) {
	sim := simulator.New(simulator.Options{AccessToken: "tok", StatusDelay: -1, EnforceWindow: true, KeepRequests: 5})
	srv := httptest.NewServer(sim.Handler())
	defer srv.Close()
	url := srv.URL + "/v24.0/106540352242922/messages"
	for i := range 23 {
		body := fmt.Sprintf(`{"messaging_product":"whatsapp","to":"+4915112340%03d","type":"text","text":{"body":"Nachricht %d"}}`, i, i)
		if i%2 == 0 { // outside the window: refused with 131047
			call(t, "POST", url, "tok", []byte(body))
			continue
		}
		tpl := fmt.Sprintf(`{"messaging_product":"whatsapp","to":"+4915112340%03d","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`, i)
		if st, b := call(t, "POST", url, "tok", []byte(tpl)); st != 200 {
			t.Fatalf("template: %d %s", st, b)
		}
	}
	kept := sim.Requests()
	if len(kept) != 5 || kept[4].To != "4915112340022" || kept[0].To != "4915112340018" {
		t.Fatalf("kept %d, want the newest 5: %+v", len(kept), kept)
	}
	want := map[string]int{"accepted": 11, "error " + strconv.Itoa(int(cloudapi.CodeReEngagement)): 12}
	if got := sim.Outcomes(); !maps.Equal(got, want) {
		t.Fatalf("outcomes %v, want %v", got, want)
	}
	st, b := call(t, "GET", srv.URL+"/_simulator/requests", "", nil)
	var counts map[string]int
	if st != 200 || json.Unmarshal(b, &counts) != nil || !maps.Equal(counts, want) {
		t.Fatalf("/_simulator/requests: %d %s", st, b)
	}
}
