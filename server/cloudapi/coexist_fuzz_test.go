package cloudapi

import (
	"bytes"
	"testing"
)

// FuzzCoexistenceDecoders: the echo, history chunk and group update
// decoders never panic, and an echo never keeps "to" or "history_context"
// among the properties it does not know.
func FuzzCoexistenceDecoders(f *testing.F) {
	f.Add([]byte(`{"from":"15550783881","to":"16505551234","id":"wamid.1","timestamp":"1739321024","type":"text","text":{"body":"Hi"}}`))
	f.Add([]byte(`{"from":"16505551234","id":"wamid.2","timestamp":"1739230970","type":"media_placeholder","history_context":{"status":"PLAYED"},"x":1}`))
	f.Add([]byte(`{"metadata":{"phase":0,"chunk_order":1,"progress":55},"threads":[{"id":"16505551234","messages":[{"id":"w"}]}]}`))
	f.Add([]byte(`{"timestamp":"1755548877","group_id":"Y2Fw","type":"group_create","subject":"K","added_participants":[{"wa_id":"1"}]}`))
	f.Add([]byte(`{"to":null,"history_context":null}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		if e, err := DecodeEcho(raw); err == nil {
			if bytes.Contains(e.Extra, []byte(`"to"`)) || bytes.Contains(e.Extra, []byte(`"history_context"`)) {
				t.Fatalf("echo keeps a known property as extra: %s", e.Extra)
			}
		}
		if c, err := DecodeHistoryChunk(raw); err == nil {
			for _, th := range c.Threads {
				_ = th.Messages
			}
		}
		if g, err := DecodeGroupUpdate(raw); err == nil && !bytes.Equal(g.Raw, raw) {
			t.Fatal("group update lost its raw form")
		}
	})
}
