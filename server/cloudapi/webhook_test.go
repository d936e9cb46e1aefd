package cloudapi

import (
	"encoding/json"
	"testing"
)

func TestFlexString(t *testing.T) {
	for in, want := range map[string]string{`"12"`: "12", `12`: "12", `12.5`: "12.5", `null`: "", `true`: "true", `"a\"b"`: `a"b`} {
		var f FlexString
		if err := json.Unmarshal([]byte(in), &f); err != nil || string(f) != want {
			t.Errorf("%s: %q %v, want %q", in, f, err, want)
		}
	}
	for _, bad := range []string{`{}`, `[1]`} {
		var f FlexString
		if err := json.Unmarshal([]byte(bad), &f); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestDecodeMessageKeepsEverything(t *testing.T) {
	raw := json.RawMessage(`{"from":"49","id":"wamid.X","timestamp":1790000000,"type":"image",
		"image":{"id":123,"mime_type":"image/jpeg","sha256":"abc=","caption":"Rechnung"},"future":{"x":1},"context":{"forwarded":true}}`)
	m, err := DecodeMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	if string(m.Extra) != `{"future":{"x":1}}` || string(m.Context) != `{"forwarded":true}` {
		t.Errorf("extra %s context %s", m.Extra, m.Context)
	}
	c := m.Content()
	if !c.HasText || c.Text != "Rechnung" {
		t.Errorf("caption %q %v", c.Text, c.HasText)
	}
	if c.Media == nil || c.Media.ID != "123" || c.Media.SHA256 != "abc=" {
		t.Errorf("media %+v", c.Media)
	}
	ts, ok := m.Timestamp.Int64()
	if !ok || ts != 1790000000 {
		t.Errorf("numeric timestamp: %d %v", ts, ok)
	}
}

func TestContactFor(t *testing.T) {
	v := &MessagesValue{}
	json.Unmarshal([]byte(`{"contacts":[{"profile":{"name":"A"},"wa_id":"1"},{"profile":{"name":"B"},"user_id":"DE.2"}]}`), v)
	if c, ok := v.ContactFor("1", ""); !ok || c.Profile.Name != "A" {
		t.Errorf("by wa_id: %+v", c)
	}
	if c, ok := v.ContactFor("", "DE.2"); !ok || c.Profile.Name != "B" {
		t.Errorf("by user id: %+v", c)
	}
	if _, ok := v.ContactFor("3", ""); ok {
		t.Error("unknown sender matched a contact of a batch")
	}
}

// FuzzUnquote checks the fast path for plain strings against encoding/json:
// the same string, and an error exactly when encoding/json gives one.
func FuzzUnquote(f *testing.F) {
	for _, s := range []string{`"wamid.HBgLNDkxNTEy"`, `"text"`, `""`, `"a\"b"`, `"\u00fc"`, `"Grüße"`, `"tab	"`, `12`, `null`, `"unterminated`, `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := unquote(b)
		var want string
		werr := json.Unmarshal(b, &want)
		if (err != nil) != (werr != nil) {
			t.Fatalf("unquote(%q): error %v, encoding/json %v", b, err, werr)
		}
		if err == nil && got != want {
			t.Fatalf("unquote(%q) = %q, encoding/json %q", b, got, want)
		}
	})
}
