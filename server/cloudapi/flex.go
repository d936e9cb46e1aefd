// Package meta holds the WhatsApp Cloud API wire types: webhook deliveries,
// send requests and responses, Graph errors, and the signature scheme.
//
// Meta's payloads drift: ids arrive as strings or numbers, prices as floats
// where the docs say integers, and new fields appear without a version bump.
// Every type here decodes leniently and keeps the raw JSON it came from.
package cloudapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// FlexString decodes a JSON string, number or boolean into its text form,
// and null into "". Meta sends ids and sizes both ways.
type FlexString string

// UnmarshalJSON implements json.Unmarshaler.
func (f *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || bytes.Equal(b, []byte("null")):
		*f = ""
	case b[0] == '"':
		s, err := unquote(b)
		if err != nil {
			return err
		}
		*f = FlexString(s)
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9') || bytes.Equal(b, []byte("true")) || bytes.Equal(b, []byte("false")):
		*f = FlexString(b)
	default:
		return fmt.Errorf("meta: want string or number, got %.20s", b)
	}
	return nil
}

// Int64 returns the value as an integer; fractional and malformed values give ok=false.
func (f FlexString) Int64() (int64, bool) {
	n, err := strconv.ParseInt(string(f), 10, 64)
	return n, err == nil
}

// unquote decodes a JSON string. Ids, types and timestamps are plain ASCII
// without escapes; those are sliced out directly, which spares a full
// json.Unmarshal (and its allocations) per field. Anything else goes
// through encoding/json, so the result is always the same as its.
func unquote(b []byte) (string, error) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		plain := true
		for _, c := range b[1 : len(b)-1] {
			if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
				plain = false
				break
			}
		}
		if plain {
			return string(b[1 : len(b)-1]), nil
		}
	}
	var s string
	err := json.Unmarshal(b, &s)
	return s, err
}
