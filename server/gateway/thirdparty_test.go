package gateway_test

// This file is a third party's WhatsApp Cloud API client, written from
// Meta's documentation with net/http only and no Pforte code, to show that
// existing code works against Pforte after changing the base URL and the
// token.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"testing"
	"time"

	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
)

type cloudAPI struct {
	BaseURL       string // "https://graph.facebook.com" normally
	Version       string
	Token         string
	PhoneNumberID string
}

type apiError struct {
	Message   string `json:"message"`
	Type      string `json:"type"`
	Code      int    `json:"code"`
	Subcode   int    `json:"error_subcode"`
	ErrorData struct {
		MessagingProduct string `json:"messaging_product"`
		Details          string `json:"details"`
	} `json:"error_data"`
	FBTraceID string `json:"fbtrace_id"`
}

func (e *apiError) Error() string { return fmt.Sprintf("whatsapp: %d %s", e.Code, e.Message) }

func (c *cloudAPI) call(method, path, contentType string, body io.Reader, out any) error {
	req, err := http.NewRequest(method, c.BaseURL+"/"+c.Version+"/"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error apiError `json:"error"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
			return fmt.Errorf("whatsapp: HTTP %d", resp.StatusCode)
		}
		return &e.Error
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

type sendResult struct {
	MessagingProduct string `json:"messaging_product"`
	Contacts         []struct {
		Input string `json:"input"`
		WaID  string `json:"wa_id"`
	} `json:"contacts"`
	Messages []struct {
		ID string `json:"id"`
	} `json:"messages"`
}

func (c *cloudAPI) sendText(to, text string) (*sendResult, error) {
	b, _ := json.Marshal(map[string]any{
		"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text",
		"text": map[string]any{"preview_url": false, "body": text},
	})
	var r sendResult
	return &r, c.call("POST", c.PhoneNumberID+"/messages", "application/json", bytes.NewReader(b), &r)
}

func (c *cloudAPI) markRead(messageID string) error {
	b, _ := json.Marshal(map[string]string{"messaging_product": "whatsapp", "status": "read", "message_id": messageID})
	var r struct {
		Success bool `json:"success"`
	}
	if err := c.call("POST", c.PhoneNumberID+"/messages", "application/json", bytes.NewReader(b), &r); err != nil {
		return err
	}
	if !r.Success {
		return fmt.Errorf("whatsapp: mark read not successful")
	}
	return nil
}

func (c *cloudAPI) uploadMedia(data []byte, mimeType, name string) (string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	w.WriteField("messaging_product", "whatsapp")
	w.WriteField("type", mimeType)
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="file"; filename="`+name+`"`)
	h.Set("Content-Type", mimeType)
	part, _ := w.CreatePart(h)
	part.Write(data)
	w.Close()
	var r struct {
		ID string `json:"id"`
	}
	return r.ID, c.call("POST", c.PhoneNumberID+"/media", w.FormDataContentType(), &buf, &r)
}

func (c *cloudAPI) downloadMedia(mediaID string) ([]byte, string, error) {
	var info struct {
		URL      string `json:"url"`
		MimeType string `json:"mime_type"`
		SHA256   string `json:"sha256"`
		FileSize string `json:"file_size"`
		ID       string `json:"id"`
	}
	if err := c.call("GET", mediaID, "", nil, &info); err != nil {
		return nil, "", err
	}
	// Meta's docs: GET the URL with the same bearer token.
	req, _ := http.NewRequest("GET", info.URL, nil)
	req.Header.Set("Authorization", "Bearer "+c.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return nil, "", fmt.Errorf("download: HTTP %d", resp.StatusCode)
	}
	b, err := io.ReadAll(resp.Body)
	return b, info.MimeType, err
}

func (c *cloudAPI) deleteMedia(mediaID string) error {
	var r struct {
		Success bool `json:"success"`
	}
	return c.call("DELETE", mediaID, "", nil, &r)
}

func TestThirdPartyClientAgainstProxy(t *testing.T) {
	g := testenv.NewSending(t, testenv.SendingOptions{Sim: simulator.Options{StatusDelay: 10 * time.Millisecond}})
	// The only changes from a Meta setup: base URL and token.
	wa := &cloudAPI{BaseURL: g.Internal.URL, Version: "v25.0", Token: g.APIKey, PhoneNumberID: g.Sim.Options().PhoneNumberID}

	// The customer has not written: Meta's re-engagement error, typed.
	_, err := wa.sendText("+447700902001", "Hallo")
	e, ok := err.(*apiError)
	if !ok || e.Code != 131047 || e.ErrorData.Details == "" {
		t.Fatalf("want a 131047 apiError, got %v", err)
	}
	inWamid, _, _ := g.Sim.Write(context.Background(), simulator.Customer{WaID: "447700902001", Name: "Jonas"}, "text")
	if err := wa.markRead(inWamid); err != nil {
		t.Fatal(err)
	}
	r, err := wa.sendText("+447700902001", "Danke für Ihre Nachricht!")
	if err != nil || r.MessagingProduct != "whatsapp" || len(r.Messages) != 1 || r.Contacts[0].WaID != "447700902001" || r.Contacts[0].Input != "+447700902001" {
		t.Fatalf("send: %+v %v", r, err)
	}
	waitStatus(t, g, r.Messages[0].ID, "read")

	img := jpeg("third-party")
	id, err := wa.uploadMedia(img, "image/jpeg", "foto.jpg")
	if err != nil || id == "" {
		t.Fatalf("upload: %v", err)
	}
	got, mt, err := wa.downloadMedia(id)
	if err != nil || !bytes.Equal(got, img) || mt != "image/jpeg" {
		t.Fatalf("download: %v %s", err, mt)
	}
	if err := wa.deleteMedia(id); err != nil {
		t.Fatal(err)
	}
	// Graph objects beyond the proxy's contract (the token's own user, the
	// WABA's templates) look to the SDK like objects Meta will not load.
	var obj map[string]any
	for _, path := range []string{"me", g.Sim.Options().WABAID + "/message_templates"} {
		err := wa.call("GET", path, "", nil, &obj)
		if e, ok := err.(*apiError); !ok || e.Code != 100 || e.Subcode != 33 {
			t.Fatalf("GET %s: want a 100/33 apiError, got %v", path, err)
		}
	}
	// With a wrong token the SDK sees Meta's auth error.
	wa.Token = "EAAG-not-a-pforte-key"
	if _, err := wa.sendText("+447700902001", "x"); err == nil || err.(*apiError).Code != 190 {
		t.Fatalf("wrong token: %v", err)
	}
}
