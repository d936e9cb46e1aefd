package replica

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// s3Client speaks the handful of S3 REST calls the replica needs (put,
// get with a range, head, delete, batch delete, list v2). It replaces the
// AWS SDK's service/s3, which made up about a tenth of the binary; the
// requests are signed by the SDK's own SigV4 signer (aws/signer/v4).
type s3Client struct {
	hc        *http.Client
	base      *url.URL // scheme://host[/prefix] of the service
	bucket    string
	region    string
	pathStyle bool // bucket in the path, not in the host name
	creds     aws.Credentials
	signer    *v4.Signer

	attempts int                             // per request, the first included
	backoff  func(attempt int) time.Duration // wait before attempt n (n ≥ 1)
}

// s3Options is what a replica URL says about the service.
type s3Options struct {
	Endpoint   string // "" for AWS
	Region     string // "" for AWS: looked up from the bucket
	Bucket     string
	PathStyle  bool
	SkipVerify bool
}

// s3OptionsFromTarget reads endpoint, region, forcePathStyle and
// skipVerify the way Litestream's own S3 client did, so every URL that
// worked before still does: a custom endpoint means path style unless
// forcePathStyle=false.
func s3OptionsFromTarget(t *Target) s3Options {
	o := s3Options{Bucket: t.Bucket, Endpoint: t.Query.Get("endpoint"), Region: t.Query.Get("region")}
	o.PathStyle = o.Endpoint != ""
	if v, err := strconv.ParseBool(t.Query.Get("forcePathStyle")); err == nil {
		o.PathStyle = v
	}
	o.SkipVerify, _ = strconv.ParseBool(t.Query.Get("skipVerify"))
	return o
}

// errNoCredentials: the only credential source is the environment.
var errNoCredentials = errors.New("replica: s3: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN for temporary credentials)")

// credentialsFromEnv reads the keys from the environment (Litestream's
// LITESTREAM_ names are accepted too, as Litestream did).
func credentialsFromEnv() (aws.Credentials, error) {
	first := func(names ...string) string {
		for _, n := range names {
			if v := os.Getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	c := aws.Credentials{
		AccessKeyID:     first("AWS_ACCESS_KEY_ID", "LITESTREAM_ACCESS_KEY_ID"),
		SecretAccessKey: first("AWS_SECRET_ACCESS_KEY", "LITESTREAM_SECRET_ACCESS_KEY"),
		SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
		Source:          "environment",
	}
	if c.AccessKeyID == "" || c.SecretAccessKey == "" {
		return c, errNoCredentials
	}
	return c, nil
}

func newS3Client(ctx context.Context, o s3Options, creds aws.Credentials) (*s3Client, error) {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          32,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		ExpectContinueTimeout: time.Second,
	}
	if o.SkipVerify {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the admin asked for it in the URL
	}
	c := &s3Client{
		hc:        &http.Client{Transport: tr},
		bucket:    o.Bucket,
		region:    o.Region,
		pathStyle: o.PathStyle,
		creds:     creds,
		// S3 wants the path escaped once, which we do ourselves.
		signer:   v4.NewSigner(func(so *v4.SignerOptions) { so.DisableURIPathEscaping = true }),
		attempts: 6,
		backoff: func(n int) time.Duration {
			d := min(100*time.Millisecond<<(n-1), 2*time.Second)
			return d/2 + rand.N(d/2+1)
		},
	}
	if o.Endpoint != "" {
		u, err := url.Parse(o.Endpoint)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("replica: s3 endpoint %q: want https://host", o.Endpoint)
		}
		c.base = &url.URL{Scheme: u.Scheme, Host: u.Host, Path: strings.TrimSuffix(u.Path, "/")}
		if c.region == "" {
			c.region = "us-east-1" // S3-compatible services accept any region
		}
		return c, nil
	}
	if c.region == "" {
		c.region = c.bucketRegion(ctx)
	}
	host := "s3." + c.region + ".amazonaws.com"
	c.base = &url.URL{Scheme: "https", Host: host}
	return c, nil
}

// bucketRegion asks AWS where the bucket lives: S3 names the region in a
// header on any answer to HEAD bucket, even an unauthorised one. Without
// an answer it guesses us-east-1 and the requests will say what is wrong.
func (c *s3Client) bucketRegion(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, "https://"+c.bucket+".s3.amazonaws.com/", nil)
	if err != nil {
		return "us-east-1"
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return "us-east-1"
	}
	resp.Body.Close()
	if r := resp.Header.Get("X-Amz-Bucket-Region"); r != "" {
		return r
	}
	return "us-east-1"
}

// S3Error is an error answer of the service, with the code S3 gave
// (NoSuchKey, AccessDenied, SignatureDoesNotMatch, …).
type S3Error struct {
	Op        string // "GET", "PUT", …
	Key       string
	Status    int
	Code      string
	Message   string
	RequestID string
}

func (e *S3Error) Error() string {
	s := fmt.Sprintf("s3 %s %s: %d %s", e.Op, e.Key, e.Status, e.Code)
	if e.Message != "" {
		s += ": " + e.Message
	}
	switch e.Code {
	case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken":
		s += " (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and the bucket's permissions)"
	case "NoSuchBucket":
		s += " (check the bucket name and the endpoint in --replica-url)"
	}
	return s
}

// isNotFound: the object does not exist (not: the bucket does not).
func isNotFound(err error) bool {
	var e *S3Error
	return errors.As(err, &e) && e.Status == http.StatusNotFound && (e.Code == "NoSuchKey" || e.Code == "NotFound")
}

// isPrecondition: a conditional write or delete lost (If-Match/If-None-Match).
func isPrecondition(err error) bool {
	var e *S3Error
	// 409 ConditionalRequestConflict: AWS's answer to two racing conditional writes.
	return errors.As(err, &e) && (e.Status == http.StatusPreconditionFailed || e.Code == "ConditionalRequestConflict")
}

// objectURL is the address of key (or of the bucket for key "").
func (c *s3Client) objectURL(key string, q url.Values) *url.URL {
	u := *c.base
	p := c.base.Path
	if c.pathStyle {
		p += "/" + c.bucket
	} else {
		u.Host = c.bucket + "." + u.Host
	}
	p += "/" + key
	u.Path = p
	u.RawPath = awsEscapePath(p)
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return &u
}

// awsEscapePath escapes like SigV4's canonical URI: everything but the
// unreserved characters and "/".
func awsEscapePath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		ch := p[i]
		if ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || strings.IndexByte("-._~/", ch) >= 0 {
			b.WriteByte(ch)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", ch)
	}
	return b.String()
}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// request is one S3 call; body is re-readable so it can be retried.
type request struct {
	method string
	key    string
	query  url.Values
	header http.Header
	body   io.ReadSeeker // nil: no body
	size   int64
	sha256 string // hex payload hash; "" for no body
}

// do sends r, retrying network errors, 5xx, 408 and 429 with backoff. A
// non-2xx answer becomes an *S3Error read from the XML body.
func (c *s3Client) do(ctx context.Context, r request) (*http.Response, error) {
	var last error
	for attempt := range c.attempts {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return nil, errors.Join(ctx.Err(), last)
			case <-time.After(c.backoff(attempt)):
			}
		}
		resp, err := c.once(ctx, r)
		if err == nil {
			return resp, nil
		}
		last = err
		if ctx.Err() != nil || !retryable(err) {
			return nil, err
		}
	}
	return nil, last
}

func retryable(err error) bool {
	var e *S3Error
	if errors.As(err, &e) {
		return e.Status >= 500 || e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests ||
			e.Code == "RequestTimeout" || e.Code == "SlowDown" || e.Code == "RequestCanceled"
	}
	return true // transport: connection refused, reset, timeout
}

func (c *s3Client) once(ctx context.Context, r request) (*http.Response, error) {
	u := c.objectURL(r.key, r.query)
	var body io.Reader
	hash := r.sha256
	if r.body != nil {
		if _, err := r.body.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		body = io.NopCloser(r.body) // the client must not close our file
	} else {
		hash = emptySHA256
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), body)
	if err != nil {
		return nil, err
	}
	req.URL = u // keep RawPath exactly as signed
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if r.body != nil {
		req.ContentLength = r.size
		if r.size == 0 {
			req.Body = http.NoBody
		}
	}
	// The payload is always signed: several S3-compatible providers
	// (Hetzner, Scaleway, MinIO, R2, …) refuse UNSIGNED-PAYLOAD.
	req.Header.Set("X-Amz-Content-Sha256", hash)
	if err := c.signer.SignHTTP(ctx, c.creds, req, hash, "s3", c.region, time.Now().UTC()); err != nil {
		return nil, fmt.Errorf("s3: sign: %w", err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("s3 %s %s: %w", r.method, r.key, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, readS3Error(r.method, r.key, resp)
}

func readS3Error(op, key string, resp *http.Response) error {
	e := &S3Error{Op: op, Key: key, Status: resp.StatusCode, RequestID: resp.Header.Get("X-Amz-Request-Id")}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var x struct {
		Code      string `xml:"Code"`
		Message   string `xml:"Message"`
		RequestID string `xml:"RequestId"`
	}
	if xml.Unmarshal(raw, &x) == nil {
		e.Code, e.Message = x.Code, x.Message
		if x.RequestID != "" {
			e.RequestID = x.RequestID
		}
	}
	if e.Code == "" { // HEAD answers carry no body
		switch resp.StatusCode {
		case http.StatusNotFound:
			e.Code = "NotFound"
		case http.StatusForbidden:
			e.Code = "AccessDenied"
		case http.StatusPreconditionFailed:
			e.Code = "PreconditionFailed"
		default:
			e.Code = http.StatusText(resp.StatusCode)
		}
	}
	return e
}

// objectInfo is what the headers say about an object.
type objectInfo struct {
	ETag         string
	Size         int64
	LastModified time.Time
	Meta         map[string]string // x-amz-meta-*, names lower case without the prefix
}

func infoFromHeader(h http.Header, size int64) objectInfo {
	o := objectInfo{ETag: h.Get("ETag"), Size: size, Meta: map[string]string{}}
	if t, err := http.ParseTime(h.Get("Last-Modified")); err == nil {
		o.LastModified = t.UTC()
	}
	for k, v := range h {
		if lk := strings.ToLower(k); strings.HasPrefix(lk, "x-amz-meta-") && len(v) > 0 {
			o.Meta[strings.TrimPrefix(lk, "x-amz-meta-")] = v[0]
		}
	}
	return o
}

// putOptions are the optional headers of a PutObject.
type putOptions struct {
	IfMatch     string // replace only this version (its ETag)
	IfNoneMatch string // "*": create only
	ContentType string
	Meta        map[string]string
}

// spoolInMemory is the largest body kept in memory for signing and
// retries: the LTX files of each sync are small; snapshots and media
// beyond it go to an unlinked temporary file.
const spoolInMemory = 1 << 20

// memBody is a spooled body held in memory.
type memBody struct{ *bytes.Reader }

func (memBody) Close() error { return nil }

// spool reads r once while hashing it: S3 wants the length up front, the
// signature the SHA-256, and a retry the bytes again.
func spool(r io.Reader) (body io.ReadSeekCloser, size int64, sum string, err error) {
	h := sha256.New()
	var head bytes.Buffer
	if _, err := io.Copy(&head, io.LimitReader(r, spoolInMemory+1)); err != nil {
		return nil, 0, "", err
	}
	if head.Len() <= spoolInMemory {
		h.Write(head.Bytes())
		return memBody{bytes.NewReader(head.Bytes())}, int64(head.Len()), hex.EncodeToString(h.Sum(nil)), nil
	}
	f, err := os.CreateTemp("", "pforte-s3-*")
	if err != nil {
		return nil, 0, "", err
	}
	os.Remove(f.Name()) // unlinked: gone when closed, whatever happens
	size, err = io.Copy(io.MultiWriter(f, h), io.MultiReader(&head, r))
	if err != nil {
		f.Close()
		return nil, 0, "", err
	}
	return f, size, hex.EncodeToString(h.Sum(nil)), nil
}

// Put stores r under key and returns the new ETag and the size.
func (c *s3Client) Put(ctx context.Context, key string, r io.Reader, o putOptions) (string, int64, error) {
	body, size, sum, err := spool(r)
	if err != nil {
		return "", 0, fmt.Errorf("s3 PUT %s: %w", key, err)
	}
	defer body.Close()
	h := http.Header{}
	if o.IfMatch != "" {
		h.Set("If-Match", o.IfMatch)
	}
	if o.IfNoneMatch != "" {
		h.Set("If-None-Match", o.IfNoneMatch)
	}
	if o.ContentType != "" {
		h.Set("Content-Type", o.ContentType)
	}
	for k, v := range o.Meta {
		h.Set("X-Amz-Meta-"+k, v)
	}
	resp, err := c.do(ctx, request{method: http.MethodPut, key: key, header: h, body: body, size: size, sha256: sum})
	if err != nil {
		return "", 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Header.Get("ETag"), size, nil
}

// Get opens key; with size > 0 only size bytes from offset, with offset
// > 0 and size 0 the rest from offset.
func (c *s3Client) Get(ctx context.Context, key string, offset, size int64) (io.ReadCloser, objectInfo, error) {
	h := http.Header{}
	switch {
	case size > 0:
		h.Set("Range", fmt.Sprintf("bytes=%d-%d", offset, offset+size-1))
	case offset > 0:
		h.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, key: key, header: h})
	if err != nil {
		return nil, objectInfo{}, err
	}
	return resp.Body, infoFromHeader(resp.Header, resp.ContentLength), nil
}

// Head returns the object's headers without its bytes.
func (c *s3Client) Head(ctx context.Context, key string) (objectInfo, error) {
	resp, err := c.do(ctx, request{method: http.MethodHead, key: key})
	if err != nil {
		return objectInfo{}, err
	}
	resp.Body.Close()
	return infoFromHeader(resp.Header, resp.ContentLength), nil
}

// Delete removes key (missing is no error); ifMatch makes it conditional.
func (c *s3Client) Delete(ctx context.Context, key, ifMatch string) error {
	h := http.Header{}
	if ifMatch != "" {
		h.Set("If-Match", ifMatch)
	}
	resp, err := c.do(ctx, request{method: http.MethodDelete, key: key, header: h})
	if isNotFound(err) { // S3 says 204 here; some providers say NoSuchKey
		return nil
	}
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	return resp.Body.Close()
}

// maxDeleteKeys is S3's limit per DeleteObjects call (and per list page).
const maxDeleteKeys = 1000

// DeleteMany removes keys in batches of 1000 (DeleteObjects); a key that
// could not be deleted is an error naming it.
func (c *s3Client) DeleteMany(ctx context.Context, keys []string) error {
	for len(keys) > 0 {
		n := min(len(keys), maxDeleteKeys)
		if err := c.deleteBatch(ctx, keys[:n]); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

type deleteRequest struct {
	XMLName xml.Name `xml:"Delete"`
	Quiet   bool     `xml:"Quiet"`
	Objects []struct {
		Key string `xml:"Key"`
	} `xml:"Object"`
}

type deleteResult struct {
	Errors []struct {
		Key     string `xml:"Key"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
}

func (c *s3Client) deleteBatch(ctx context.Context, keys []string) error {
	d := deleteRequest{Quiet: true}
	for _, k := range keys {
		d.Objects = append(d.Objects, struct {
			Key string `xml:"Key"`
		}{k})
	}
	body, err := xml.Marshal(d)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(body)
	md := md5.Sum(body) // DeleteObjects requires Content-MD5 (or a newer checksum header)
	h := http.Header{}
	h.Set("Content-MD5", base64.StdEncoding.EncodeToString(md[:]))
	h.Set("Content-Type", "application/xml")
	resp, err := c.do(ctx, request{method: http.MethodPost, query: url.Values{"delete": {""}}, header: h,
		body: bytes.NewReader(body), size: int64(len(body)), sha256: hex.EncodeToString(sum[:])})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var res deleteResult
	if err := xml.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&res); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("s3 DeleteObjects: reading the answer: %w", err)
	}
	if len(res.Errors) > 0 {
		e := res.Errors[0]
		return fmt.Errorf("s3 DeleteObjects: %d of %d keys not deleted, first %s: %w", len(res.Errors), len(keys), e.Key,
			&S3Error{Op: "DELETE", Key: e.Key, Status: http.StatusOK, Code: e.Code, Message: e.Message})
	}
	return nil
}

// listObject is one entry of a ListObjectsV2 page.
type listObject struct {
	Key          string    `xml:"Key"`
	LastModified time.Time `xml:"LastModified"`
	ETag         string    `xml:"ETag"`
	Size         int64     `xml:"Size"`
}

// listPage is a ListObjectsV2 answer.
type listPage struct {
	IsTruncated           bool         `xml:"IsTruncated"`
	NextContinuationToken string       `xml:"NextContinuationToken"`
	Contents              []listObject `xml:"Contents"`
}

// parseListPage reads a ListObjectsV2 XML answer. A truncated page
// without a token would make a caller loop forever: it is an error.
func parseListPage(r io.Reader) (*listPage, error) {
	var p listPage
	if err := xml.NewDecoder(r).Decode(&p); err != nil {
		return nil, fmt.Errorf("s3 ListObjectsV2: %w", err)
	}
	if p.IsTruncated && p.NextContinuationToken == "" {
		return nil, errors.New("s3 ListObjectsV2: truncated page without a continuation token")
	}
	return &p, nil
}

// ListPage returns one page of the keys under prefix after token ("" for
// the first page).
func (c *s3Client) ListPage(ctx context.Context, prefix, token string) (*listPage, error) {
	q := url.Values{"list-type": {"2"}, "prefix": {prefix}, "max-keys": {strconv.Itoa(maxDeleteKeys)}}
	if token != "" {
		q.Set("continuation-token", token)
	}
	resp, err := c.do(ctx, request{method: http.MethodGet, query: q})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return parseListPage(io.LimitReader(resp.Body, 64<<20))
}

// List calls fn for every object under prefix, in key order.
func (c *s3Client) List(ctx context.Context, prefix string, fn func(listObject) error) error {
	token := ""
	for {
		p, err := c.ListPage(ctx, prefix, token)
		if err != nil {
			return err
		}
		for _, o := range p.Contents {
			if err := fn(o); err != nil {
				return err
			}
		}
		if !p.IsTruncated {
			return nil
		}
		if p.NextContinuationToken == token {
			return errors.New("s3 ListObjectsV2: the service repeated its continuation token")
		}
		token = p.NextContinuationToken
	}
}
