package cloudapi

import (
	"encoding/json"
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
