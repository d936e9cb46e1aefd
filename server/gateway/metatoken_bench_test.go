package gateway_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
)

// BenchmarkProxyGuards measures what the proxy's allow-list and the
// settings-backed token add to one call to Meta: reading the sealed token,
// checking the business number, and looking a media id up among the
// uploads and the received files (media.media_id has no index, so the
// last is a scan; 20 000 received files here).
func BenchmarkProxyGuards(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, b.TempDir(), store.Options{IsStopWord: outbox.IsStopWord})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.SetSecret(ctx, store.SettingAccessToken, []byte("EAAG-some-long-system-user-token")); err != nil {
		b.Fatal(err)
	}
	const files = 20_000
	now := time.Now()
	for i := 0; i < files; i += 500 {
		d := &store.Delivery{Body: []byte(`{}`), ReceivedAt: now}
		for j := i; j < i+500; j++ {
			d.Messages = append(d.Messages, store.InboundMessage{Number: store.Number{PhoneNumberID: "100"}, From: store.Party{WaID: fmt.Sprint(491510000000 + j%50)},
				WAMID: fmt.Sprintf("wamid.%d", j), Type: "image", TS: now.Unix(), Media: &store.MediaRef{MediaID: fmt.Sprint(1_000_000_000 + j), MimeType: "image/jpeg"}})
		}
		if _, err := st.Ingest(ctx, d); err != nil {
			b.Fatal(err)
		}
	}
	// What the one Meta client's token source does on every call.
	tokens := func(ctx context.Context) (string, error) {
		tok, _, err := st.Secret(ctx, store.SettingAccessToken)
		return string(tok), err
	}
	b.Run("token", func(b *testing.B) {
		for b.Loop() {
			if t, err := tokens(ctx); err != nil || t == "" {
				b.Fatal(t, err)
			}
		}
	})
	b.Run("number", func(b *testing.B) {
		for b.Loop() {
			if ok, err := st.IsBusinessNumber(ctx, "100"); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
	b.Run("media", func(b *testing.B) {
		for b.Loop() {
			if o, err := st.MediaOriginOf(ctx, fmt.Sprint(1_000_000_000+files-1)); err != nil || o != store.MediaReceived {
				b.Fatal(o, err)
			}
		}
	})
}
