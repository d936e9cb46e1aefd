package cloudapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Client calls the Graph API with the business's access token. It knows
// nothing about storage: the outbox and the proxy decide what to keep.
// Pforte builds one per process; the sender, the media fetcher, the proxy
// and erasures share it, so a token changed in the settings applies to all.
type Client struct {
	// BaseURL is e.g. https://graph.facebook.com (or the simulator's URL).
	BaseURL string
	// Version is the pinned Graph version, e.g. v24.0.
	Version string
	// HTTP does the requests; nil means a client with sane timeouts.
	HTTP *http.Client

	tokens TokenSource
}

// TokenSource returns the access token for the next call. It is asked on
// every request, so that a rotated token is used at once by every caller.
type TokenSource func(ctx context.Context) (string, error)

// ErrNoToken is returned, before anything is sent, when no access token is
// configured.
var ErrNoToken = errors.New("meta: no access token configured")

// StaticToken is a TokenSource that never changes (tests, one-shot commands).
func StaticToken(t string) TokenSource {
	return func(context.Context) (string, error) { return t, nil }
}

// NewClient returns a client for base URL and version with a fixed token.
func NewClient(baseURL, version, token string) *Client {
	return NewClientWithTokens(baseURL, version, StaticToken(token))
}

// NewClientWithTokens returns a client that asks tokens for the access
// token on every call.
func NewClientWithTokens(baseURL, version string, tokens TokenSource) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Version: version, tokens: tokens,
		HTTP: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
			Proxy:               http.ProxyFromEnvironment,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
			TLSHandshakeTimeout: 10 * time.Second,
		}}}
}

// token is the access token to send now; without one nothing is sent.
func (c *Client) token(ctx context.Context) (string, error) {
	if c.tokens == nil {
		return "", ErrNoToken
	}
	t, err := c.tokens(ctx)
	if err != nil {
		return "", fmt.Errorf("meta: access token: %w", err)
	}
	if t == "" {
		return "", ErrNoToken
	}
	return t, nil
}

// Response is a raw Graph answer: what the proxy hands back unchanged.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends one request to {BaseURL}/{Version}{path}. Transport failures
// after the request was fully written wrap ErrUncertain: Meta may have
// acted on it. Graph errors are not turned into Go errors here.
func (c *Client) Do(ctx context.Context, method, path, contentType string, body io.Reader) (*Response, error) {
	u := c.BaseURL + "/" + c.Version + path
	return c.do(ctx, method, u, contentType, body)
}

func (c *Client) do(ctx context.Context, method, u, contentType string, body io.Reader) (*Response, error) {
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}}
	tok, err := c.token(ctx)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, u, body)
	if err != nil {
		return nil, fmt.Errorf("meta: request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("User-Agent", "pforte")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if wrote.Load() {
			return nil, fmt.Errorf("%w: %s %s: %v", ErrUncertain, method, redactURL(u), stripURL(err))
		}
		return nil, fmt.Errorf("meta: %s %s: %v", method, redactURL(u), stripURL(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		// The status line came back, so Meta has the request; the body did not.
		return nil, fmt.Errorf("%w: reading answer: %v", ErrUncertain, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// stripURL drops the URL from a *url.Error, which may carry a media link.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redactURL keeps scheme, host and path; query strings may hold signed
// download parameters.
func redactURL(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// Send posts a message body to /{phoneNumberID}/messages. On a Graph error
// it returns *Error (with Meta's raw body), on success the parsed answer and
// the raw response.
func (c *Client) Send(ctx context.Context, phoneNumberID string, body []byte) (*SendResponse, *Response, error) {
	resp, err := c.Do(ctx, http.MethodPost, "/"+url.PathEscape(phoneNumberID)+"/messages", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, nil, err
	}
	if resp.Status/100 != 2 {
		return nil, resp, ParseError(resp.Status, resp.Body)
	}
	var sr SendResponse
	if err := json.Unmarshal(resp.Body, &sr); err != nil {
		// 200 with a body we cannot read: Meta accepted something.
		return nil, resp, fmt.Errorf("%w: unreadable success answer: %v", ErrUncertain, err)
	}
	return &sr, resp, nil
}

// MediaInfo asks Meta for a media file's short-lived download URL.
func (c *Client) MediaInfo(ctx context.Context, mediaID, phoneNumberID string) (*MediaInfo, error) {
	p := "/" + url.PathEscape(mediaID)
	if phoneNumberID != "" {
		p += "?phone_number_id=" + url.QueryEscape(phoneNumberID)
	}
	resp, err := c.Do(ctx, http.MethodGet, p, "", nil)
	if err != nil {
		return nil, err
	}
	if resp.Status != http.StatusOK {
		return nil, ParseError(resp.Status, resp.Body)
	}
	var mi MediaInfo
	if err := json.Unmarshal(resp.Body, &mi); err != nil || mi.URL == "" {
		return nil, fmt.Errorf("meta: media info without url: %v", err)
	}
	return &mi, nil
}

// ErrTooLarge is returned when a download exceeds its limit.
var ErrTooLarge = errors.New("meta: media larger than allowed")

// Download fetches a media URL (valid five minutes) with the token into w,
// reading at most limit bytes. A 404 or 401 means the URL expired; the
// caller asks MediaInfo again.
func (c *Client) Download(ctx context.Context, mediaURL string, w io.Writer, limit int64) (n int64, contentType string, err error) {
	tok, err := c.token(ctx)
	if err != nil {
		return 0, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, mediaURL, nil)
	if err != nil {
		return 0, "", fmt.Errorf("meta: download: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("User-Agent", "pforte") // the lookaside host wants a non-empty one
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("meta: download: %v", stripURL(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		return 0, "", ParseError(resp.StatusCode, b)
	}
	if resp.ContentLength > limit {
		return 0, "", ErrTooLarge
	}
	n, err = io.Copy(w, io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return n, "", fmt.Errorf("meta: download: %w", err)
	}
	if n > limit {
		return n, "", ErrTooLarge
	}
	return n, resp.Header.Get("Content-Type"), nil
}

// Upload sends a file to POST /{phoneNumberID}/media as Meta's multipart
// form and returns the new media id. r is streamed, not buffered.
func (c *Client) Upload(ctx context.Context, phoneNumberID, filename, mimeType string, r io.Reader) (string, *Response, error) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			if err := mw.WriteField("messaging_product", "whatsapp"); err != nil {
				return err
			}
			if err := mw.WriteField("type", mimeType); err != nil {
				return err
			}
			h := make(textproto.MIMEHeader)
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, filename))
			h.Set("Content-Type", mimeType)
			part, err := mw.CreatePart(h)
			if err != nil {
				return err
			}
			if _, err := io.Copy(part, r); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	resp, err := c.Do(ctx, http.MethodPost, "/"+url.PathEscape(phoneNumberID)+"/media", mw.FormDataContentType(), pr)
	pr.CloseWithError(io.ErrClosedPipe)
	if err != nil {
		return "", nil, err
	}
	if resp.Status/100 != 2 {
		return "", resp, ParseError(resp.Status, resp.Body)
	}
	var out struct {
		ID FlexString `json:"id"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil || out.ID == "" {
		return "", resp, fmt.Errorf("meta: upload answer without id: %v", err)
	}
	return string(out.ID), resp, nil
}

// DeleteMedia deletes an uploaded file at Meta.
func (c *Client) DeleteMedia(ctx context.Context, mediaID, phoneNumberID string) (*Response, error) {
	p := "/" + url.PathEscape(mediaID)
	if phoneNumberID != "" {
		p += "?phone_number_id=" + url.QueryEscape(phoneNumberID)
	}
	resp, err := c.Do(ctx, http.MethodDelete, p, "", nil)
	if err != nil {
		return nil, err
	}
	if resp.Status/100 != 2 {
		return resp, ParseError(resp.Status, resp.Body)
	}
	return resp, nil
}
