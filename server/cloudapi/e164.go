package cloudapi

import (
	"errors"
	"strings"
)

// ErrNotPhoneNumber: the input is not a phone number Pforte can write to.
var ErrNotPhoneNumber = errors.New("cloudapi: not an international phone number")

// NormalizeE164 reads a phone number as people type it and returns its
// E.164 digits (no "+"): "+49 151 2345-6789", "0049 151 23456789" and,
// with defaultCC "49", "0151 23456789" all become "4915123456789". Only
// spaces, dashes, dots, slashes and parentheses may separate the digits; a
// number without a country (no "+", "00" or single leading "0") is taken
// as already international. The result has 8 to 15 digits and does not
// start with 0 (ITU-T E.164).
func NormalizeE164(input, defaultCC string) (string, error) {
	s := strings.TrimSpace(input)
	if s == "" || len(s) > 40 {
		return "", ErrNotPhoneNumber
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
		case r == ' ' || r == '-' || r == '.' || r == '/' || r == '(' || r == ')' || r == '\u00a0':
		default:
			return "", ErrNotPhoneNumber
		}
	}
	d := b.String()
	switch {
	case strings.HasPrefix(s, "+"):
	case strings.HasPrefix(d, "00"):
		d = d[2:]
	case strings.HasPrefix(d, "0"):
		if defaultCC == "" {
			return "", ErrNotPhoneNumber
		}
		d = defaultCC + d[1:]
	}
	if len(d) < 8 || len(d) > 15 || d[0] == '0' {
		return "", ErrNotPhoneNumber
	}
	return d, nil
}
