package store

import "testing"

// FuzzSharedOwnNumber: whatever a contacts payload holds, the number taken
// from it is empty or 6–15 digits, and only a single marked card counts.
func FuzzSharedOwnNumber(f *testing.F) {
	f.Add([]byte(`[{"origin":"contact_request","phones":[{"phone":"+4915112345000","wa_id":"4915112345000"}]}]`))
	f.Add([]byte(`[{"origin":"request_contact_info","phones":[{"wa_id":"4915112345000"}]}]`))
	f.Add([]byte(`[{"phones":[{"wa_id":"4915112345000"}]}]`))
	f.Add([]byte(`[{"origin":"contact_request","phones":[{"wa_id":"49151; DROP"}]}]`))
	f.Add([]byte(`{"origin":"contact_request"}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		w := sharedOwnNumber(payload)
		if w == "" {
			return
		}
		if len(w) < 6 || len(w) > 15 {
			t.Fatalf("%q: length %d", w, len(w))
		}
		for _, r := range w {
			if r < '0' || r > '9' {
				t.Fatalf("%q holds %q", w, r)
			}
		}
	})
}

func TestSharedOwnNumberNeedsTheMarkedCard(t *testing.T) {
	for payload, want := range map[string]string{
		`[{"origin":"contact_request","phones":[{"wa_id":"4915112345000"}]}]`:                              "4915112345000",
		`[{"origin":"request_contact_info","phones":[{"wa_id":"4915112345000"}]}]`:                         "4915112345000",
		`[{"phones":[{"wa_id":"4915112345000"}]}]`:                                                         "",
		`[{"origin":"contact_request","phones":[{"wa_id":"4915112345000"},{"wa_id":"4915112345001"}]}]`:    "",
		`[{"origin":"contact_request","phones":[{"wa_id":"1"}]},{"origin":"contact_request","phones":[]}]`: "",
		`[{"origin":"contact_request","phones":[{"phone":"+49 151 12345000"}]}]`:                           "",
		`[{"origin":"contact_request","phones":[{"wa_id":"+4915112345000"}]}]`:                             "",
	} {
		if got := sharedOwnNumber([]byte(payload)); got != want {
			t.Errorf("%s: %q, want %q", payload, got, want)
		}
	}
}
