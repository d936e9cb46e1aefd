package replica

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/benbjohnson/litestream"
	_ "github.com/benbjohnson/litestream/s3" // the stock client, for the compatibility test only
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/superfly/ltx"
)

const (
	testBucket = "pforte-test"
	testKeyID  = "AKIDPFORTETEST"
	testSecret = "pforte-test-secret"
)

// fakeS3 is gofakes3 (a real S3 server, in memory) on loopback behind a
// SigV4 check: gofakes3 itself accepts any signature, so the check signs
// each request again with the known secret and compares, and it compares
// the payload's SHA-256 with the one the client signed.
type fakeS3 struct {
	backend *s3mem.Backend
	srv     *httptest.Server
	// fail, while > 0, answers that many requests with 503 first.
	fail     atomic.Int32
	requests atomic.Int32
}

func startFakeS3(t *testing.T, opts ...gofakes3.Option) *fakeS3 {
	t.Helper()
	f := &fakeS3{backend: s3mem.New()}
	if err := f.backend.CreateBucket(testBucket); err != nil {
		t.Fatal(err)
	}
	s3 := gofakes3.New(f.backend, opts...).Server()
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		if f.fail.Load() > 0 {
			f.fail.Add(-1)
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
			return
		}
		if code, msg := verifySigV4(r); code != "" {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>test</RequestId></Error>`, code, msg)
			return
		}
		s3.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// verifySigV4 returns an S3 error code if r is not signed with the test
// key, or its body does not match the signed hash.
func verifySigV4(r *http.Request) (code, msg string) {
	auth := r.Header.Get("Authorization")
	var cred, signed, sig string
	for _, part := range strings.Split(strings.TrimPrefix(auth, "AWS4-HMAC-SHA256 "), ", ") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "Credential":
			cred = v
		case "SignedHeaders":
			signed = v
		case "Signature":
			sig = v
		}
	}
	scope := strings.Split(cred, "/")
	if len(scope) != 5 || sig == "" {
		return "AccessDenied", "no SigV4 authorization"
	}
	if scope[0] != testKeyID {
		return "InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records."
	}
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	sum := sha256.Sum256(body)
	if got := r.Header.Get("X-Amz-Content-Sha256"); got != hex.EncodeToString(sum[:]) {
		return "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' header does not match what was computed."
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "AccessDenied", "no X-Amz-Date"
	}
	again, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), nil)
	again.URL.RawPath = r.URL.RawPath
	again.ContentLength = r.ContentLength
	for _, h := range strings.Split(signed, ";") {
		if h != "host" && h != "content-length" {
			again.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	s := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := s.SignHTTP(context.Background(), aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret, SessionToken: r.Header.Get("X-Amz-Security-Token")},
		again, r.Header.Get("X-Amz-Content-Sha256"), "s3", scope[2], at); err != nil {
		return "AccessDenied", err.Error()
	}
	if !strings.HasSuffix(again.Header.Get("Authorization"), "Signature="+sig) {
		return "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	}
	return "", ""
}

func (f *fakeS3) client(t *testing.T, secret string) *s3Client {
	t.Helper()
	c, err := newS3Client(context.Background(), s3Options{Endpoint: f.srv.URL, Bucket: testBucket, PathStyle: true, Region: "fsn1"},
		aws.Credentials{AccessKeyID: testKeyID, SecretAccessKey: secret})
	if err != nil {
		t.Fatal(err)
	}
	c.backoff = func(int) time.Duration { return time.Millisecond }
	return c
}

func (f *fakeS3) keys(t *testing.T) []string {
	t.Helper()
	list, err := f.backend.ListBucket(testBucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range list.Contents {
		out = append(out, c.Key)
	}
	return out
}

func (f *fakeS3) putDirect(t *testing.T, key string, body []byte) {
	t.Helper()
	if _, err := f.backend.PutObject(testBucket, key, nil, bytes.NewReader(body), int64(len(body)), nil); err != nil {
		t.Fatal(err)
	}
}

// TestS3ClientListContinuation: more keys than fit on one page come back
// all, in order, over several pages joined by continuation tokens.
func TestS3ClientListContinuation(t *testing.T) {
	f := startFakeS3(t)
	c := f.client(t, testSecret)
	const n = 1205
	for i := range n {
		f.putDirect(t, fmt.Sprintf("p/media/%05d", i), []byte{byte(i)})
	}
	f.putDirect(t, "p/other", []byte("x")) // outside the prefix
	ctx := context.Background()
	first, err := c.ListPage(ctx, "p/media/", "")
	if err != nil {
		t.Fatal(err)
	}
	if !first.IsTruncated || first.NextContinuationToken == "" || len(first.Contents) != maxDeleteKeys {
		t.Fatalf("first page: truncated %v, token %q, %d keys; want a full, truncated page", first.IsTruncated, first.NextContinuationToken, len(first.Contents))
	}
	var got []string
	if err := c.List(ctx, "p/media/", func(o listObject) error {
		if o.Size != 1 || o.LastModified.IsZero() {
			t.Errorf("%s: size %d, modified %v", o.Key, o.Size, o.LastModified)
		}
		got = append(got, o.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("listed %d keys, want %d", len(got), n)
	}
	for i, k := range got {
		if want := fmt.Sprintf("p/media/%05d", i); k != want {
			t.Fatalf("key %d = %q, want %q", i, k, want)
		}
	}
}

// TestS3ClientRangeRead: a byte range comes back exactly, from the middle
// and to the end, and a put object round-trips.
func TestS3ClientRangeRead(t *testing.T) {
	f := startFakeS3(t)
	c := f.client(t, testSecret)
	ctx := context.Background()
	body := make([]byte, 300<<10)
	rand.Read(body)
	etag, n, err := c.Put(ctx, "p/blob with space+plus", bytes.NewReader(body), putOptions{Meta: map[string]string{"litestream-timestamp": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(body)) || etag == "" {
		t.Fatalf("put: size %d etag %q", n, etag)
	}
	read := func(off, size int64) []byte {
		rc, _, err := c.Get(ctx, "p/blob with space+plus", off, size)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if got := read(0, 0); !bytes.Equal(got, body) {
		t.Fatalf("whole object: %d bytes differ", len(got))
	}
	if got := read(70000, 1234); !bytes.Equal(got, body[70000:71234]) {
		t.Fatalf("range 70000+1234: got %d bytes, not the slice", len(got))
	}
	if got := read(int64(len(body))-10, 0); !bytes.Equal(got, body[len(body)-10:]) {
		t.Fatalf("open range: got %d bytes", len(got))
	}
	info, err := c.Head(ctx, "p/blob with space+plus")
	if err != nil {
		t.Fatal(err)
	}
	if info.Size != int64(len(body)) || info.Meta["litestream-timestamp"] != "x" {
		t.Fatalf("head: %+v", info)
	}
}

// TestS3ClientDeleteMany: more keys than one DeleteObjects call may name
// are all deleted, and nothing else.
func TestS3ClientDeleteMany(t *testing.T) {
	f := startFakeS3(t)
	c := f.client(t, testSecret)
	var keys []string
	for i := range 1500 {
		k := fmt.Sprintf("p/0000/%04d.ltx", i)
		f.putDirect(t, k, []byte("x"))
		keys = append(keys, k)
	}
	f.putDirect(t, "p/keep", []byte("x"))
	before := f.requests.Load()
	if err := c.DeleteMany(context.Background(), keys); err != nil {
		t.Fatal(err)
	}
	if calls := f.requests.Load() - before; calls != 2 {
		t.Fatalf("%d requests for 1500 keys, want 2 batches", calls)
	}
	if left := f.keys(t); len(left) != 1 || left[0] != "p/keep" {
		t.Fatalf("left in the bucket: %v", left)
	}
}

// TestS3ClientErrorNamesCode: an error answer becomes an *S3Error with the
// code from the XML body; a missing key is "not found", a missing bucket
// is not.
func TestS3ClientErrorNamesCode(t *testing.T) {
	f := startFakeS3(t)
	c := f.client(t, testSecret)
	ctx := context.Background()
	_, _, err := c.Get(ctx, "p/missing", 0, 0)
	if !isNotFound(err) {
		t.Fatalf("missing key: %v, want not found", err)
	}
	if _, err := c.Head(ctx, "p/missing"); !isNotFound(err) {
		t.Fatalf("head of a missing key: %v, want not found", err)
	}
	c.bucket = "no-such-bucket"
	_, _, err = c.Put(ctx, "p/x", strings.NewReader("x"), putOptions{})
	var se *S3Error
	if !errors.As(err, &se) || se.Code != "NoSuchBucket" || se.Status != 404 {
		t.Fatalf("put into a missing bucket: %v, want S3Error NoSuchBucket", err)
	}
	if isNotFound(err) || !strings.Contains(err.Error(), "NoSuchBucket") || !strings.Contains(err.Error(), "bucket name") {
		t.Fatalf("error text: %v", err)
	}
	// The wrapping by the blob store keeps the code reachable.
	b := &s3Blobs{cl: c, prefix: "p"}
	if err := b.Put(ctx, "k", strings.NewReader("x")); !errors.As(err, &se) || se.Code != "NoSuchBucket" {
		t.Fatalf("blob put: %v", err)
	}
}

// TestS3ClientWrongCredentials: a wrong secret is refused by the server's
// signature check and said as such; the right one passes the same check.
func TestS3ClientWrongCredentials(t *testing.T) {
	f := startFakeS3(t)
	ctx := context.Background()
	if _, _, err := f.client(t, testSecret).Put(ctx, "p/ok", strings.NewReader("x"), putOptions{}); err != nil {
		t.Fatalf("right secret: %v", err)
	}
	before := f.requests.Load()
	_, _, err := f.client(t, "wrong").Put(ctx, "p/no", strings.NewReader("x"), putOptions{})
	var se *S3Error
	if !errors.As(err, &se) || se.Code != "SignatureDoesNotMatch" || se.Status != 403 {
		t.Fatalf("wrong secret: %v", err)
	}
	if !strings.Contains(err.Error(), "AWS_SECRET_ACCESS_KEY") {
		t.Fatalf("error does not say what to check: %v", err)
	}
	if n := f.requests.Load() - before; n != 1 {
		t.Fatalf("a refused signature was sent %d times; it is not worth a retry", n)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("LITESTREAM_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "x")
	if _, err := credentialsFromEnv(); !errors.Is(err, errNoCredentials) || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("no key in the environment: %v", err)
	}
}

// TestS3ClientRetries5xx: a service that sheds load (503) for a few
// requests is retried, the body sent again whole.
func TestS3ClientRetries5xx(t *testing.T) {
	f := startFakeS3(t)
	c := f.client(t, testSecret)
	f.fail.Store(3)
	body := bytes.Repeat([]byte("abc"), 1000)
	if _, _, err := c.Put(context.Background(), "p/retried", bytes.NewReader(body), putOptions{}); err != nil {
		t.Fatal(err)
	}
	o, err := f.backend.GetObject(testBucket, "p/retried", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(o.Contents)
	if !bytes.Equal(got, body) {
		t.Fatalf("stored %d bytes, want %d", len(got), len(body))
	}
	f.fail.Store(100)
	_, _, err = c.Get(context.Background(), "p/retried", 0, 0)
	var se *S3Error
	if !errors.As(err, &se) || se.Code != "SlowDown" || se.Status != 503 {
		t.Fatalf("after the retries: %v", err)
	}
}

// TestS3ClientVirtualHosted: without forcePathStyle the bucket goes into
// the host name (bucket.endpoint), as AWS and most providers want.
func TestS3ClientVirtualHosted(t *testing.T) {
	f := startFakeS3(t, gofakes3.WithHostBucket(true))
	addr := f.srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	tg, err := ParseURL("s3://" + testBucket + "/p?endpoint=http://s3.example.test:" + port + "&forcePathStyle=false")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", testKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecret)
	c, err := newS3ClientFor(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	c.hc.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, a string) (net.Conn, error) {
		hosts = append(hosts, a)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	if _, _, err := c.Put(context.Background(), "p/v", strings.NewReader("hosted"), putOptions{}); err != nil {
		t.Fatal(err)
	}
	if len(hosts) == 0 || hosts[0] != testBucket+".s3.example.test:"+port {
		t.Fatalf("dialled %v, want the bucket in the host name", hosts)
	}
	if k := f.keys(t); len(k) != 1 || k[0] != "p/v" {
		t.Fatalf("bucket holds %v", k)
	}
	// The default for a custom endpoint stays path style.
	tg, _ = ParseURL("s3://" + testBucket + "/p?endpoint=http://s3.example.test:" + port)
	if o := s3OptionsFromTarget(tg); !o.PathStyle {
		t.Fatal("custom endpoint without forcePathStyle: want path style")
	}
	if u := (&s3Client{base: mustURL("https://s3.eu-central-1.amazonaws.com"), bucket: "b"}).objectURL("p/x y", nil); u.String() != "https://b.s3.eu-central-1.amazonaws.com/p/x%20y" {
		t.Fatalf("AWS address: %s", u)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func ltxBytes(t *testing.T, lo, hi ltx.TXID, at time.Time, payload int) []byte {
	t.Helper()
	hdr := ltx.Header{Version: ltx.Version, PageSize: 4096, Commit: 1, MinTXID: lo, MaxTXID: hi, Timestamp: at.UnixMilli()}
	b, err := hdr.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	rest := make([]byte, payload)
	rand.Read(rest)
	return append(b, rest...)
}

// TestS3ReplicaLayoutAndMetadata: LTX files lie where the stock litestream
// client puts them, carry the header's time as metadata (what a
// point-in-time restore reads), open at an offset, and delete.
func TestS3ReplicaLayoutAndMetadata(t *testing.T) {
	f := startFakeS3(t)
	r := &s3Replica{c: f.client(t, testSecret), path: "pforte"}
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 123e6, time.UTC)
	var files []*ltx.FileInfo
	for i := 1; i <= 3; i++ {
		b := ltxBytes(t, ltx.TXID(i), ltx.TXID(i), at.Add(time.Duration(i)*time.Minute), 1000*i)
		info, err := r.WriteLTXFile(ctx, 1, ltx.TXID(i), ltx.TXID(i), bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if info.Size != int64(len(b)) || !info.CreatedAt.Equal(at.Add(time.Duration(i)*time.Minute)) {
			t.Fatalf("write %d: %+v", i, info)
		}
		files = append(files, info)
	}
	f.putDirect(t, "pforte/0001/not-an-ltx-file", []byte("x"))
	want := "pforte/0001/" + ltx.FormatFilename(1, 1)
	if k := f.keys(t); k[0] != want {
		t.Fatalf("first key %q, want %q (Litestream's layout)", k[0], want)
	}
	list := func(seek ltx.TXID, meta bool) []*ltx.FileInfo {
		it, err := r.LTXFiles(ctx, 1, seek, meta)
		if err != nil {
			t.Fatal(err)
		}
		var out []*ltx.FileInfo
		for it.Next() {
			out = append(out, it.Item())
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := list(2, true)
	if len(got) != 2 || got[0].MinTXID != 2 || got[1].MaxTXID != 3 {
		t.Fatalf("from txid 2: %+v", got)
	}
	if !got[0].CreatedAt.Equal(files[1].CreatedAt) || got[0].Size != files[1].Size {
		t.Fatalf("with metadata: %+v, want %+v", got[0], files[1])
	}
	if fast := list(0, false); len(fast) != 3 || fast[0].CreatedAt.Equal(files[0].CreatedAt) || fast[0].CreatedAt.IsZero() {
		t.Fatalf("without metadata: want 3 files dated by LastModified, got %+v", fast)
	}
	rc, err := r.OpenLTXFile(ctx, 1, 2, 2, 50, 100)
	if err != nil {
		t.Fatal(err)
	}
	part, _ := io.ReadAll(rc)
	rc.Close()
	obj, _ := f.backend.GetObject(testBucket, "pforte/0001/"+ltx.FormatFilename(2, 2), nil)
	whole, _ := io.ReadAll(obj.Contents)
	if !bytes.Equal(part, whole[50:150]) {
		t.Fatal("OpenLTXFile at offset 50, size 100: wrong bytes")
	}
	if _, err := r.OpenLTXFile(ctx, 1, 9, 9, 0, 0); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing LTX file: %v, want os.ErrNotExist", err)
	}
	if err := r.DeleteLTXFiles(ctx, files[:2]); err != nil {
		t.Fatal(err)
	}
	if left := list(0, false); len(left) != 1 || left[0].MinTXID != 3 {
		t.Fatalf("after delete: %+v", left)
	}
	if err := r.DeleteAll(ctx); err != nil {
		t.Fatal(err)
	}
	if k := f.keys(t); len(k) != 0 {
		t.Fatalf("after DeleteAll: %v", k)
	}
}

// FuzzParseListPage: no answer panics the parser, and a page it accepts
// never asks for another page without saying where to continue.
func FuzzParseListPage(f *testing.F) {
	for _, s := range []string{
		`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated><Contents><Key>p/0001/0000000000000001-0000000000000001.ltx</Key><LastModified>2026-03-01T12:00:00.000Z</LastModified><ETag>"abc"</ETag><Size>4096</Size><StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>`,
		`<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken><Contents><Key>a</Key><Size>1</Size></Contents><Contents><Key>b</Key><Size>2</Size></Contents></ListBucketResult>`,
		`<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>`,
		`<ListBucketResult><Contents><Key>x</Key><LastModified>yesterday</LastModified></Contents></ListBucketResult>`,
		`<ListBucketResult><Contents><Size>-1</Size></Contents></ListBucketResult>`,
		`<Error><Code>AccessDenied</Code></Error>`,
		``,
		`<`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseListPage(bytes.NewReader(b))
		if err != nil {
			return
		}
		if p.IsTruncated && p.NextContinuationToken == "" {
			t.Fatal("accepted a truncated page without a token")
		}
	})
}

// TestS3ReplicaReadableByLitestream: what Pforte's client writes, the
// stock Litestream S3 client (the one the litestream command uses) lists
// with the same creation times and sizes and reads back byte for byte, so
// an unencrypted replica stays restorable with "litestream restore".
func TestS3ReplicaReadableByLitestream(t *testing.T) {
	f := startFakeS3(t)
	ours := &s3Replica{c: f.client(t, testSecret), path: "db"}
	ctx := context.Background()
	at := time.Date(2026, 4, 2, 8, 30, 0, 5e6, time.UTC)
	want := map[ltx.TXID][]byte{}
	for i := 1; i <= 3; i++ {
		b := ltxBytes(t, ltx.TXID(i), ltx.TXID(i), at.Add(time.Duration(i)*time.Second), 700*i)
		if _, err := ours.WriteLTXFile(ctx, 0, ltx.TXID(i), ltx.TXID(i), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		want[ltx.TXID(i)] = b
	}
	t.Setenv("AWS_ACCESS_KEY_ID", testKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", testSecret)
	t.Setenv("AWS_CA_BUNDLE", "") // the SDK cannot combine it with Litestream's HTTP client
	stock, err := litestream.NewReplicaClientFromURL("s3://" + testBucket + "/db?endpoint=" + f.srv.URL + "&region=fsn1")
	if err != nil {
		t.Fatal(err)
	}
	it, err := stock.LTXFiles(ctx, 0, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for it.Next() {
		info := it.Item()
		n++
		wantAt := at.Add(time.Duration(info.MinTXID) * time.Second)
		if !info.CreatedAt.Equal(wantAt) || info.Size != int64(len(want[info.MinTXID])) {
			t.Fatalf("litestream lists %+v, want created %v, size %d", info, wantAt, len(want[info.MinTXID]))
		}
		rc, err := stock.OpenLTXFile(ctx, 0, info.MinTXID, info.MaxTXID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, want[info.MinTXID]) {
			t.Fatalf("litestream reads %d bytes of txid %d, not what was written", len(got), info.MinTXID)
		}
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("litestream lists %d files, want 3", n)
	}
}

// TestS3ClientDeleteMissing: deleting a key that is not there is no error
// (a retried delete), deleting in a bucket that is not there is.
func TestS3ClientDeleteMissing(t *testing.T) {
	f := startFakeS3(t)
	c := f.client(t, testSecret)
	if err := c.Delete(context.Background(), "p/never-there", ""); err != nil {
		t.Fatalf("missing key: %v", err)
	}
	c.bucket = "no-such-bucket"
	var se *S3Error
	if err := c.Delete(context.Background(), "p/x", ""); !errors.As(err, &se) || se.Code != "NoSuchBucket" {
		t.Fatalf("missing bucket: %v, want NoSuchBucket", err)
	}
}

// A body larger than what is kept in memory goes through a temporary file
// and is sent again, whole, on a retry.
func TestS3ClientLargeBodyRetried(t *testing.T) {
	f := startFakeS3(t)
	c := f.client(t, testSecret)
	body := make([]byte, spoolInMemory+300<<10)
	rand.Read(body)
	f.fail.Store(2)
	if _, n, err := c.Put(context.Background(), "p/large", bytes.NewReader(body), putOptions{}); err != nil || n != int64(len(body)) {
		t.Fatalf("put: %d %v", n, err)
	}
	o, err := f.backend.GetObject(testBucket, "p/large", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(o.Contents)
	if !bytes.Equal(got, body) {
		t.Fatalf("stored %d bytes, want %d", len(got), len(body))
	}
}
