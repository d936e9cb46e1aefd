package cloudapi

import "bytes"

// scanner walks JSON in one pass without reflection or allocation, for
// the webhook shapes Pforte reads on every delivery. It is strict: it
// accepts exactly what encoding/json's validity check accepts. Whatever
// it does not expect (a key that differs from a known one only in case,
// escapes in keys, a repeated key, a value of an unexpected type) makes
// the fast decoders give up, and the caller decodes with encoding/json,
// so the two paths never differ in what they produce (see the fuzz tests).
type scanner struct {
	b     []byte
	i     int
	bad   bool // invalid JSON or a shape the fast path leaves to encoding/json
	depth int  // nesting of the value being read
}

// maxDepth is encoding/json's nesting limit; deeper input is left to it.
const maxDepth = 10000

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (s *scanner) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) expect(c byte) bool {
	if s.peek() != c {
		s.bad = true
		return false
	}
	s.i++
	return true
}

// str reads a string and returns its raw bytes with the quotes; plain
// reports printable ASCII without escapes, whose text is the bytes inside.
func (s *scanner) str() (raw []byte, plain bool) {
	if s.peek() != '"' {
		s.bad = true
		return nil, false
	}
	start := s.i
	s.i++
	plain = true
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start:s.i], plain
		case c == '\\':
			plain = false
			s.i++
			if s.i >= len(s.b) {
				s.bad = true
				return nil, false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				if s.i+4 >= len(s.b) || !isHex(s.b[s.i+1]) || !isHex(s.b[s.i+2]) || !isHex(s.b[s.i+3]) || !isHex(s.b[s.i+4]) {
					s.bad = true
					return nil, false
				}
				s.i += 5
			default:
				s.bad = true
				return nil, false
			}
		case c < 0x20:
			s.bad = true
			return nil, false
		default:
			if c > 0x7e {
				plain = false
			}
			s.i++
		}
	}
	s.bad = true
	return nil, false
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// value skips any value and returns its raw bytes.
func (s *scanner) value() []byte {
	c := s.peek()
	start := s.i
	if s.depth++; s.depth > maxDepth {
		s.bad = true
		return nil
	}
	switch {
	case c == '"':
		s.str()
	case c == '{':
		s.i++
		s.sequence('}', func() {
			s.str()
			s.expect(':')
			s.value()
		})
	case c == '[':
		s.i++
		s.sequence(']', func() { s.value() })
	case c == '-' || c >= '0' && c <= '9':
		s.number()
	case c == 't':
		s.literal("true")
	case c == 'f':
		s.literal("false")
	case c == 'n':
		s.literal("null")
	default:
		s.bad = true
	}
	s.depth--
	if s.bad {
		return nil
	}
	return s.b[start:s.i]
}

func (s *scanner) literal(lit string) {
	if !bytes.HasPrefix(s.b[s.i:], []byte(lit)) {
		s.bad = true
		return
	}
	s.i += len(lit)
}

// number follows JSON's grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() {
	b := s.b
	if s.i < len(b) && b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(b) && b[s.i] == '0':
		s.i++
	case s.i < len(b) && b[s.i] >= '1' && b[s.i] <= '9':
		s.digits()
	default:
		s.bad = true
		return
	}
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		if !s.digits() {
			s.bad = true
			return
		}
	}
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		s.i++
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			s.bad = true
		}
	}
}

func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}

// end checks that nothing but white space follows.
func (s *scanner) end() {
	if s.peek() != 0 || s.i != len(s.b) {
		s.bad = true
	}
}

// members calls fn for each member of an object with the key's text; fn
// reads the value. A key with escapes or outside printable ASCII could
// match a field by encoding/json's rules in ways the fast path does not
// follow, so it stops the fast path.
func (s *scanner) members(fn func(key []byte)) {
	if !s.expect('{') {
		return
	}
	s.sequence('}', func() {
		raw, plain := s.str()
		if !plain {
			s.bad = true
			return
		}
		if s.expect(':') {
			fn(raw[1 : len(raw)-1])
		}
	})
}

// sequence reads the rest of an object or array after its opening
// bracket: item reads one member or element, then a comma or the closing
// bracket follows.
func (s *scanner) sequence(closing byte, item func()) {
	if s.peek() == closing {
		s.i++
		return
	}
	for !s.bad {
		item()
		if s.bad {
			return
		}
		if s.peek() == ',' {
			s.i++
			continue
		}
		s.expect(closing)
		return
	}
}

// text reads a string field the way encoding/json fills a string: null
// leaves it as it was (the zero value, as the fast path allows no repeats).
func (s *scanner) text() string {
	raw := s.value()
	if s.bad {
		return ""
	}
	t, err := unquoteField(raw)
	if err != nil {
		s.bad = true
	}
	return t
}

// flex reads a FlexString field.
func (s *scanner) flex() FlexString {
	raw := s.value()
	if s.bad {
		return ""
	}
	var f FlexString
	if err := f.UnmarshalJSON(raw); err != nil {
		s.bad = true
	}
	return f
}

// raw reads a json.RawMessage field: the value's exact bytes.
func (s *scanner) raw() []byte {
	return s.value()
}

// known tracks which keys of one object were seen, so that a repeated key
// (where encoding/json's last-one-wins would apply) stops the fast path,
// as does a key that matches a field only when case is ignored.
type known struct {
	keys []string
	seen uint64
}

// field returns the index of key among the known keys, or -1 for a key
// that is not one; it marks the scanner bad on a repeat or a case-only
// difference.
func (k *known) field(s *scanner, key []byte) int {
	for i, name := range k.keys {
		if string(key) == name {
			if k.seen&(1<<i) != 0 {
				s.bad = true
			}
			k.seen |= 1 << i
			return i
		}
	}
	for _, name := range k.keys {
		if len(key) == len(name) && bytes.EqualFold(key, []byte(name)) {
			s.bad = true
		}
	}
	return -1
}
