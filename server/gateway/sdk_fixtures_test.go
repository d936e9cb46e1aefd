package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
)

// replay sends one captured SDK request body through the proxy, as the SDK
// would: its own bytes, its own Content-Type, the API key as the token.
func replay(t *testing.T, g *testenv.SendingGateway, path, contentType string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.Internal.URL+"/v25.0/"+g.Sim.Options().PhoneNumberID+"/"+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+g.APIKey)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func fixture(t *testing.T, name string, fill map[string]string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sdk", name))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for k, v := range fill {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	return []byte(s)
}

// Three SDKs' exact request bodies (testdata/sdk/README.md says where each
// comes from) go through the proxy: text, reply buttons, a reaction,
// mark-read with and without the typing indicator, and the upload in each
// SDK's multipart shape, including the kind (type=image) with an
// octet-stream file part, which Pforte used to refuse.
func TestSDKFixturesAgainstProxy(t *testing.T) {
	g := testenv.NewSending(t, testenv.SendingOptions{Sim: simulator.Options{StatusDelay: 10 * time.Millisecond}})
	inWamid, _, err := g.Sim.Write(context.Background(), simulator.Customer{WaID: "447700903001", Name: "Mara"}, "text")
	if err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the inbound message", func() bool {
		_, err := g.Store.MessageByWAMID(context.Background(), inWamid)
		return err == nil
	})
	fill := map[string]string{"TO": "447700903001", "MESSAGE_ID": inWamid}

	for _, sdk := range []string{"netflie-php", "heyoo-python"} {
		for _, name := range []string{"text.json", "reply_buttons.json", "reaction.json"} {
			if _, err := os.Stat(filepath.Join("testdata", "sdk", sdk, name)); err != nil {
				continue // heyoo has no reactions
			}
			body := fixture(t, sdk+"/"+name, fill)
			st, out := replay(t, g, "messages", "application/json", body)
			msgs, _ := out["messages"].([]any)
			if st != http.StatusOK || len(msgs) != 1 {
				t.Fatalf("%s/%s: %d %v", sdk, name, st, out)
			}
			id := msgs[0].(map[string]any)["id"].(string)
			waitStatus(t, g, id, "delivered")
		}
	}
	for _, name := range []string{"netflie-php/mark_read_typing.json", "heyoo-python/mark_read.json"} {
		st, out := replay(t, g, "messages", "application/json", fixture(t, name, fill))
		if st != http.StatusOK || out["success"] != true {
			t.Fatalf("%s: %d %v", name, st, out)
		}
	}
	for _, sdk := range []string{"netflie-php", "heyoo-python", "kombyte-php"} {
		ct := string(fixture(t, sdk+"/upload.content-type", nil))
		st, out := replay(t, g, "media", ct, fixture(t, sdk+"/upload.multipart", nil))
		id, _ := out["id"].(string)
		if st != http.StatusOK || id == "" {
			t.Fatalf("%s upload: %d %v", sdk, st, out)
		}
		m, err := g.Store.StoredMediaByMediaID(context.Background(), id)
		if err != nil || m.MimeType != "image/jpeg" {
			t.Fatalf("%s upload stored as %+v %v; want image/jpeg", sdk, m, err)
		}
	}
	// A kind with a file Meta does not take: Meta's #100 in Meta's words.
	ct := string(fixture(t, "kombyte-php/upload.content-type", nil))
	st, out := replay(t, g, "media", ct, fixture(t, "kombyte-php/upload_gif.multipart", nil))
	e, _ := out["error"].(map[string]any)
	msg, _ := e["message"].(string)
	if st != http.StatusBadRequest || e["code"] != float64(100) ||
		!strings.HasPrefix(msg, "(#100) Param file must be a file with one of the following types: audio/aac") ||
		!strings.HasSuffix(msg, "Received file of type 'image/gif'.") {
		t.Fatalf("gif: %d %v", st, out)
	}
}
