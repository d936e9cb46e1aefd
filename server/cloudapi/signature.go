package cloudapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
)

// SignatureHeader is the header Meta signs webhook bodies with.
const SignatureHeader = "X-Hub-Signature-256"

// Signature errors. They are distinct so that logs and metrics can say why a
// delivery was refused; the HTTP answer is 401 for all of them.
var (
	ErrSignatureMissing   = errors.New("signature header missing")
	ErrSignatureMalformed = errors.New("signature header malformed")
	ErrSignatureMismatch  = errors.New("signature does not match body")
)

// Sign returns the X-Hub-Signature-256 value for body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks header against the HMAC-SHA256 of the exact raw body
// under any of secrets (several during a secret rotation). The comparison is
// constant time; the header must be "sha256=" followed by 64 hex digits.
func VerifySignature(header string, body []byte, secrets ...[]byte) error {
	if header == "" {
		return ErrSignatureMissing
	}
	hexsum, ok := strings.CutPrefix(header, "sha256=")
	if !ok || len(hexsum) != 2*sha256.Size {
		return ErrSignatureMalformed
	}
	// Meta writes lowercase hex; anything else was not written by Meta.
	if strings.IndexFunc(hexsum, func(r rune) bool { return !('0' <= r && r <= '9' || 'a' <= r && r <= 'f') }) >= 0 {
		return ErrSignatureMalformed
	}
	want, err := hex.DecodeString(hexsum)
	if err != nil {
		return ErrSignatureMalformed
	}
	matched := 0
	for _, s := range secrets {
		if len(s) == 0 {
			continue
		}
		m := hmac.New(sha256.New, s)
		m.Write(body)
		// Check every secret so the time taken does not say which one matched.
		if hmac.Equal(m.Sum(nil), want) {
			matched++
		}
	}
	if matched == 0 {
		return ErrSignatureMismatch
	}
	return nil
}
