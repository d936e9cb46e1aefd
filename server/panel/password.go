package panel

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters from OWASP ASVS 5.0 appendix C: 19 MiB, 2 passes.
const (
	argonMemory  = 19456
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

// hashSlots bounds concurrent hashing: each takes 19 MiB, and a burst of
// logins must not exhaust a small VPS.
var hashSlots = make(chan struct{}, 2)

// hashPassword returns an argon2id PHC string.
func hashPassword(pw string) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	hashSlots <- struct{}{}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	<-hashSlots
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

type phc struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

var errBadHash = errors.New("not an argon2id hash")

// parsePHC reads "$argon2id$v=19$m=..,t=..,p=..$salt$key".
func parsePHC(s string) (*phc, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return nil, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return nil, errBadHash
	}
	var h phc
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.memory, &h.time, &h.threads); err != nil {
		return nil, errBadHash
	}
	// Refuse absurd costs so a tampered row cannot exhaust memory.
	if h.memory < 1024 || h.memory > 1<<20 || h.time < 1 || h.time > 16 || h.threads < 1 || h.threads > 16 {
		return nil, errBadHash
	}
	var err error
	b64 := base64.RawStdEncoding
	if h.salt, err = b64.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return nil, errBadHash
	}
	if h.key, err = b64.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return nil, errBadHash
	}
	return &h, nil
}

// checkPassword compares pw with a stored hash in constant time.
func checkPassword(stored, pw string) bool {
	h, err := parsePHC(stored)
	if err != nil {
		return false
	}
	hashSlots <- struct{}{}
	key := argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	<-hashSlots
	return subtle.ConstantTimeCompare(key, h.key) == 1
}

// argonCounter counts one server's argon2 computations, so that a test can
// show a path hashes nothing (a timing assertion would be flaky).
type argonCounter struct{ n atomic.Int64 }

// hashPassword and checkPassword are the handlers' way to argon2: counted.
func (s *Server) hashPassword(pw string) string {
	s.panel.argon.n.Add(1)
	return hashPassword(pw)
}

func (s *Server) checkPassword(stored, pw string) bool {
	s.panel.argon.n.Add(1)
	return checkPassword(stored, pw)
}

// noSuchUserHash returns the hash compared against when an account does
// not exist, so that a wrong e-mail costs as much time as a wrong password
// (no enumeration). It is made on first use: hashing takes argon2's 19 MiB,
// which at startup stayed in the idle process's memory.
func noSuchUserHash() func() string {
	return sync.OnceValue(func() string { return hashPassword("pforte-no-such-user") })
}

// passwordProblem explains why a new password is refused ("" if fine).
// ASVS 6.2: length only, no composition rules, not a well-known password.
func passwordProblem(pw, email string) string {
	n := len([]rune(pw))
	switch {
	case n < 12:
		return "Das Passwort ist zu kurz: mindestens 12 Zeichen."
	case n > 256:
		return "Das Passwort ist zu lang: höchstens 256 Zeichen."
	case strings.EqualFold(pw, email):
		return "Das Passwort darf nicht die E-Mail-Adresse sein."
	case commonPasswords[strings.ToLower(pw)]:
		return "Dieses Passwort ist zu verbreitet. Bitte wählen Sie ein anderes."
	}
	return ""
}

// commonPasswords are long-enough passwords that still top breach lists.
var commonPasswords = map[string]bool{
	"123456789012": true, "1234567890123": true, "12345678901234": true, "password1234": true, "passwort1234": true,
	"qwertzuiop12": true, "qwertyuiop12": true, "111111111111": true, "000000000000": true, "aaaaaaaaaaaa": true,
	"passwortpasswort": true, "passwordpassword": true, "hallo1234567": true, "administrator": true, "letmein12345": true,
	"iloveyou1234": true, "qwertyuiopasdfgh": true, "1q2w3e4r5t6y": true, "abcdefghijkl": true, "abc123456789": true,
	"sommer2026!!": true, "winter2026!!": true, "pforte123456": true, "whatsapp1234": true,
}

// HashPassword hashes a panel password (for "pforte user add").
func HashPassword(pw string) string { return hashPassword(pw) }

// PasswordProblem explains why a password would be refused, in German;
// empty when it is acceptable.
func PasswordProblem(pw, email string) string { return passwordProblem(pw, email) }

// CheckPassword reports whether pw matches a stored hash.
func CheckPassword(stored, pw string) bool { return checkPassword(stored, pw) }
