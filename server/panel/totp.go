package panel

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"rsc.io/qr"

	"github.com/pforte/pforte/web"
)

// TOTP per RFC 6238 with the parameters every authenticator app accepts:
// SHA-1, 6 digits, 30-second steps.
const totpStep = 30

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// newTOTPSecret returns 160 random bits (RFC 4226 §4 recommends 160).
func newTOTPSecret() []byte {
	b := make([]byte, 20)
	rand.Read(b)
	return b
}

// totpCode computes the code of one time step (RFC 4226 §5.3).
func totpCode(secret []byte, step int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(step))
	m := hmac.New(sha1.New, secret)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

// totpMatch returns the step a code belongs to, allowing one step of clock
// drift each way (RFC 6238 §5.2), or 0 when it matches none.
func totpMatch(secret []byte, code string, now time.Time) int64 {
	code = normalizeCode(code)
	if len(code) != 6 {
		return 0
	}
	cur := now.Unix() / totpStep
	for _, step := range []int64{cur, cur - 1, cur + 1} {
		if hmac.Equal([]byte(totpCode(secret, step)), []byte(code)) {
			return step
		}
	}
	return 0
}

// normalizeCode drops spaces and dashes people type or paste.
func normalizeCode(s string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, strings.TrimSpace(s))
}

// totpURI is what the QR code carries (Key Uri Format of Google Authenticator).
func totpURI(secret []byte, account string) string {
	v := url.Values{"secret": {b32.EncodeToString(secret)}, "issuer": {"Pforte"}, "algorithm": {"SHA1"}, "digits": {"6"}, "period": {"30"}}
	return "otpauth://totp/" + url.PathEscape("Pforte:"+account) + "?" + v.Encode()
}

// qrModules encodes text as a QR code for the enrolment page.
func qrModules(text string) (web.QRVM, error) {
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return web.QRVM{}, fmt.Errorf("qr: %w", err)
	}
	vm := web.QRVM{Size: c.Size}
	for y := 0; y < c.Size; y++ {
		for x := 0; x < c.Size; x++ {
			if c.Black(x, y) {
				vm.Cells = append(vm.Cells, [2]int{x, y})
			}
		}
	}
	return vm, nil
}

// newRecoveryCodes returns ten one-time codes and their hashes.
func newRecoveryCodes() (codes, hashes []string) {
	for range 10 {
		b := make([]byte, 5)
		rand.Read(b)
		c := strings.ToLower(b32.EncodeToString(b)) // 8 characters
		c = c[:4] + "-" + c[4:]
		codes = append(codes, c)
		hashes = append(hashes, recoveryHash(c))
	}
	return codes, hashes
}

func recoveryHash(code string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(normalizeCode(code))))
	return hex.EncodeToString(sum[:])
}
