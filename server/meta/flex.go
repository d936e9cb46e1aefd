// Package meta holds the WhatsApp Cloud API wire types: webhook deliveries,
// send requests and responses, Graph errors, and the signature scheme.
//
// Meta's payloads drift: ids arrive as strings or numbers, prices as floats
// where the docs say integers, and new fields appear without a version bump.
// Every type here decodes leniently and keeps the raw JSON it came from.
package meta

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
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
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
