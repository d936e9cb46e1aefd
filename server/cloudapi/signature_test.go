package cloudapi

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func examples(t testing.TB) [][]byte {
	files, _ := filepath.Glob("../../testdata/cloudapi/webhooks/*.json")
	if len(files) == 0 {
		t.Fatal("no webhook examples found in testdata/cloudapi")
	}
	var out [][]byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"object":"whatsapp_business_account","entry":[]}`)
	secret := []byte("s3cret")
	good := Sign(secret, body)
	cases := []struct {
		header string
		body   []byte
		want   error
	}{
		{good, body, nil},
		{"", body, ErrSignatureMissing},
		{"sha1=" + good[7:47], body, ErrSignatureMalformed},
		{good[7:], body, ErrSignatureMalformed},
		{"sha256=" + string(bytes.ToUpper([]byte(good[7:]))), body, ErrSignatureMalformed},
		{good + "00", body, ErrSignatureMalformed},
		{"sha256=zz" + good[9:], body, ErrSignatureMalformed},
		{good, append(bytes.Clone(body), ' '), ErrSignatureMismatch},
		{Sign([]byte("other"), body), body, ErrSignatureMismatch},
	}
	for _, c := range cases {
		if err := VerifySignature(c.header, c.body, secret); err != c.want {
			t.Errorf("%q: %v, want %v", c.header, err, c.want)
		}
	}
	if err := VerifySignature(good, body, []byte("new"), secret); err != nil {
		t.Errorf("second secret of a rotation not accepted: %v", err)
	}
	if err := VerifySignature(good, body, nil, []byte{}); err != ErrSignatureMismatch {
		t.Errorf("empty secrets must never verify: %v", err)
	}
}

func FuzzVerifySignature(f *testing.F) {
	for _, b := range examples(f) {
		f.Add(b, "app-secret", Sign([]byte("app-secret"), b))
	}
	f.Add([]byte("{}"), "k", "sha256=")
	f.Fuzz(func(t *testing.T, body []byte, secret string, header string) {
		err := VerifySignature(header, body, []byte(secret))
		if err == nil && header != Sign([]byte(secret), body) {
			t.Fatalf("accepted %q which is not the signature", header)
		}
		if secret != "" {
			if err := VerifySignature(Sign([]byte(secret), body), body, []byte(secret)); err != nil {
				t.Fatalf("own signature refused: %v", err)
			}
		}
	})
}
