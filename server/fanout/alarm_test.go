package fanout_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// An alarm reaches "other" subscriptions as exactly one signed
// pforte_alarm event when raised and one when resolved; repeats of a
// standing alarm and clearing an alarm that does not stand send nothing,
// and a messages-only subscription hears nothing.
func TestAlarmRaisedAndResolvedFanOutOnce(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	other := newReceiver(t, "secret-for-alarms-0123456789")
	subscribe(t, g, other, "other")
	msgs := newReceiver(t, "secret-for-messages-0123456789")
	subscribe(t, g, msgs, "messages")
	startWorker(t, g, fastOptions())

	ctx := context.Background()
	now := time.Unix(1_800_000_000, 0)
	key := store.AlarmQuality + ":1234567890"
	for i := range 3 { // the second and third raise only count
		if err := g.Store.RaiseAlarmAt(ctx, key, "Qualitätsbewertung der Nummer 1234567890 ist RED.", now.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 2 { // the second clear finds nothing standing
		if err := g.Store.ClearAlarmAt(ctx, key, "Qualitätsbewertung der Nummer 1234567890 ist wieder GREEN.", now.Add(time.Hour+time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	// A later alarm of another kind marks the end: once it arrived, all
	// before it has (one lane, in order).
	if err := g.Store.RaiseAlarmAt(ctx, store.AlarmDisk, "Die Festplatte ist fast voll.", now.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "three alarm events", func() bool { return len(other.accepted()) >= 3 })
	time.Sleep(50 * time.Millisecond) // room for a wrong extra delivery to show up

	type value struct {
		Key, Alarm, Kind, Message string
		At                        int64
	}
	var got []value
	for _, r := range other.all() {
		if !r.Signature {
			t.Fatalf("unsigned or wrongly signed alarm event: %s", r.Body)
		}
		var env struct {
			Object string
			Entry  []struct {
				ID      string
				Changes []struct {
					Field string
					Value value
				}
			}
		}
		if err := json.Unmarshal(r.Body, &env); err != nil {
			t.Fatal(err)
		}
		if env.Object != "pforte" || len(env.Entry) != 1 || len(env.Entry[0].Changes) != 1 || env.Entry[0].Changes[0].Field != store.AlarmField {
			t.Fatalf("event shape: %s", r.Body)
		}
		got = append(got, env.Entry[0].Changes[0].Value)
	}
	want := []value{
		{Key: key, Alarm: "quality", Kind: "raised", Message: "Qualitätsbewertung der Nummer 1234567890 ist RED.", At: now.Unix()},
		{Key: key, Alarm: "quality", Kind: "resolved", Message: "Qualitätsbewertung der Nummer 1234567890 ist wieder GREEN.", At: now.Add(time.Hour).Unix()},
		{Key: store.AlarmDisk, Alarm: "disk", Kind: "raised", Message: "Die Festplatte ist fast voll.", At: now.Add(2 * time.Hour).Unix()},
	}
	if len(got) != len(want) {
		t.Fatalf("alarm events: got %d %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	if n := len(msgs.all()); n != 0 {
		t.Errorf("a messages-only subscription got %d alarm events", n)
	}
}
