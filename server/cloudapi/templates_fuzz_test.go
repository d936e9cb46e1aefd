package cloudapi

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzTemplateParams feeds arbitrary components and send payloads to the
// parser and the parameter check: neither may panic, a refusal always
// names a field and one of Meta's codes, and a send built from the slots
// the parser found is accepted.
func FuzzTemplateParams(f *testing.F) {
	f.Add(`[{"type":"BODY","text":"Hallo {{1}}, Bestellung {{2}}"}]`, `{"components":[{"type":"body","parameters":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}`)
	f.Add(`[{"type":"HEADER","format":"IMAGE"},{"type":"BODY","text":"x"}]`, `{"components":[{"type":"header","parameters":[{"type":"image","image":{"link":"https://e.de/a.jpg"}}]}]}`)
	f.Add(`[{"type":"BODY","text":"Hi {{vorname}}"},{"type":"BUTTONS","buttons":[{"type":"URL","url":"https://e.de/{{1}}"},{"type":"COPY_CODE"}]}]`,
		`{"components":[{"type":"button","sub_type":"url","index":0,"parameters":[{"type":"text","text":"x"}]}]}`)
	f.Add(`{"body":"Neu {{1}}","header":"Kopf","buttons":[{"message_template_button_type":"QUICK_REPLY","message_template_button_text":"Ja"}]}`, `{}`)
	f.Add(`[{"type":"CAROUSEL","cards":[]}]`, `{"components":[{"type":"carousel"}]}`)
	f.Add(`null`, `not json`)
	f.Fuzz(func(t *testing.T, comps, payload string) {
		cs, err := ParseComponents([]byte(comps))
		if err != nil {
			return
		}
		sl := SlotsOf(cs)
		if pe := CheckTemplateParams(cs, []byte(payload)); pe != nil {
			if pe.Field == "" || pe.Details == "" || pe.Code == 0 {
				t.Fatalf("refusal without field, details or code: %+v", pe)
			}
		}
		if sl.Unchecked || sl.HeaderFormat == HeaderLocation {
			return
		}
		// A send filling exactly the slots is accepted.
		var out []any
		param := func(name string) map[string]string {
			p := map[string]string{"type": "text", "text": "v"}
			if !isDigits(name) {
				p["parameter_name"] = name
			}
			return p
		}
		switch sl.HeaderFormat {
		case HeaderText:
			if len(sl.HeaderParams) > 0 {
				var ps []any
				for _, n := range sl.HeaderParams {
					ps = append(ps, param(n))
				}
				out = append(out, map[string]any{"type": "header", "parameters": ps})
			}
		case HeaderImage, HeaderVideo, HeaderGIF, HeaderDocument:
			kind := map[string]string{HeaderImage: "image", HeaderVideo: "video", HeaderGIF: "video", HeaderDocument: "document"}[sl.HeaderFormat]
			out = append(out, map[string]any{"type": "header", "parameters": []any{map[string]any{"type": kind, kind: map[string]string{"link": "https://e.de/f"}}}})
		}
		if len(sl.BodyParams) > 0 {
			var ps []any
			for _, n := range sl.BodyParams {
				ps = append(ps, param(n))
			}
			out = append(out, map[string]any{"type": "body", "parameters": ps})
		}
		for _, i := range sl.URLParams {
			if sl.Buttons[i].Type == ButtonCopyCode {
				out = append(out, map[string]any{"type": "button", "sub_type": "copy_code", "index": i, "parameters": []any{map[string]string{"type": "coupon_code", "coupon_code": "C"}}})
			} else {
				out = append(out, map[string]any{"type": "button", "sub_type": "url", "index": i, "parameters": []any{map[string]string{"type": "text", "text": "s"}}})
			}
		}
		good, _ := json.Marshal(map[string]any{"components": out})
		if pe := CheckTemplateParams(cs, good); pe != nil {
			t.Fatalf("a send filling every slot was refused: %v\ncomponents %s\nsend %s", pe, comps, good)
		}
	})
}

// FuzzNormalizeE164 checks the phone number reader: whatever it accepts is
// 8 to 15 digits without a leading 0, and reading its own answer with a
// "+" gives the same number.
func FuzzNormalizeE164(f *testing.F) {
	for _, s := range []string{"0151 23456789", "+49 (0)30 23125-100", "0049 151 2345 6789", "+43 664 1234567", "12345", "abc", "+", "00", "0", "4915123456789", "01/51.23-45"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		d, err := NormalizeE164(in, "49")
		if err != nil {
			return
		}
		if len(d) < 8 || len(d) > 15 || d[0] == '0' || strings.Trim(d, "0123456789") != "" {
			t.Fatalf("%q → %q is not E.164", in, d)
		}
		if again, err := NormalizeE164("+"+d, "49"); err != nil || again != d {
			t.Fatalf("%q → %q → %q %v", in, d, again, err)
		}
	})
}

func TestNormalizeE164(t *testing.T) {
	for in, want := range map[string]string{
		"0151 23456789": "4915123456789", "+49 151 23456789": "4915123456789", "0049-151-23456789": "4915123456789",
		"+43 664 1234567": "436641234567", "(030) 231 25 100": "493023125100",
	} {
		if got, err := NormalizeE164(in, "49"); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0151 2345678x", "12", "+0049151", "0151 23456789 0151 23456789 0151", "++49151234567"} {
		if got, err := NormalizeE164(bad, "49"); err == nil {
			t.Errorf("%q accepted as %q", bad, got)
		}
	}
}

// BenchmarkCheckTemplateParams is the send-time check of a template with
// header, body and a URL button: parse the stored components and compare.
func BenchmarkCheckTemplateParams(b *testing.B) {
	comps := []byte(`[{"type":"HEADER","format":"TEXT","text":"Bestellung {{1}}"},{"type":"BODY","text":"Hallo {{1}}, am {{2}}."},{"type":"BUTTONS","buttons":[{"type":"URL","text":"Los","url":"https://e.de/{{1}}"}]}]`)
	send := []byte(`{"name":"x","language":{"code":"de"},"components":[{"type":"header","parameters":[{"type":"text","text":"1"}]},{"type":"body","parameters":[{"type":"text","text":"a"},{"type":"text","text":"b"}]},{"type":"button","sub_type":"url","index":"0","parameters":[{"type":"text","text":"s"}]}]}`)
	for i := 0; i < b.N; i++ {
		cs, err := ParseComponents(comps)
		if err != nil {
			b.Fatal(err)
		}
		if pe := CheckTemplateParams(cs, send); pe != nil {
			b.Fatal(pe)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "checks/s")
}
