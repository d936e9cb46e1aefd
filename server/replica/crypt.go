package replica

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"filippo.io/age"
	"github.com/benbjohnson/litestream"
	"github.com/superfly/ltx"
)

// sealer encrypts with age to one recipient and decrypts with its identity.
type sealer struct {
	id     *age.X25519Identity
	hdrLen int64 // bytes of age header for one X25519 recipient
}

func newSealer(id *age.X25519Identity) (*sealer, error) {
	s := &sealer{id: id}
	var b bytes.Buffer
	w, err := age.Encrypt(&b, id.Recipient())
	if err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	// header + 16-byte nonce + the empty final chunk's 16-byte tag
	s.hdrLen = int64(b.Len()) - 32
	return s, nil
}

// seal returns a reader of the age ciphertext of r.
func (s *sealer) seal(r io.Reader) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		w, err := age.Encrypt(pw, s.id.Recipient())
		if err == nil {
			_, err = io.Copy(w, r)
			if cerr := w.Close(); err == nil {
				err = cerr
			}
		}
		pw.CloseWithError(err)
	}()
	return pr
}

func (s *sealer) open(r io.Reader) (io.Reader, error) {
	return age.Decrypt(r, s.id)
}

// plainSize is the size of the plaintext of n bytes of age ciphertext
// (64 KiB chunks, each with a 16-byte tag, after header and nonce).
func (s *sealer) plainSize(n int64) int64 {
	c := n - s.hdrLen - 16
	if c <= 0 {
		return 0
	}
	const chunk = 64<<10 + 16
	chunks := (c + chunk - 1) / chunk
	return c - 16*chunks
}

// cryptClient is a Litestream replica client that stores every LTX file
// as its 100-byte LTX header in the clear followed by the age ciphertext
// of the whole file. The header holds only page size, page count,
// transaction ids, a timestamp and checksums: the backends read it for the
// object's timestamp (point-in-time restore), and it carries no row data.
type cryptClient struct {
	inner litestream.ReplicaClient
	s     *sealer
}

var _ litestream.ReplicaClient = (*cryptClient)(nil)

func (c *cryptClient) Type() string                        { return c.inner.Type() }
func (c *cryptClient) Init(ctx context.Context) error      { return c.inner.Init(ctx) }
func (c *cryptClient) SetLogger(l *slog.Logger)            { c.inner.SetLogger(l) }
func (c *cryptClient) DeleteAll(ctx context.Context) error { return c.inner.DeleteAll(ctx) }

func (c *cryptClient) DeleteLTXFiles(ctx context.Context, a []*ltx.FileInfo) error {
	return c.inner.DeleteLTXFiles(ctx, a)
}

func (c *cryptClient) storedToPlain(info *ltx.FileInfo) *ltx.FileInfo {
	if info == nil {
		return nil
	}
	cp := *info
	cp.Size = c.s.plainSize(info.Size - ltx.HeaderSize)
	return &cp
}

func (c *cryptClient) LTXFiles(ctx context.Context, level int, seek ltx.TXID, useMetadata bool) (ltx.FileIterator, error) {
	it, err := c.inner.LTXFiles(ctx, level, seek, useMetadata)
	if err != nil {
		return nil, err
	}
	return &plainIter{FileIterator: it, c: c}, nil
}

type plainIter struct {
	ltx.FileIterator
	c *cryptClient
}

func (it *plainIter) Item() *ltx.FileInfo { return it.c.storedToPlain(it.FileIterator.Item()) }

func (c *cryptClient) WriteLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, r io.Reader) (*ltx.FileInfo, error) {
	hdr := make([]byte, ltx.HeaderSize)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, fmt.Errorf("replica: read ltx header: %w", err)
	}
	sealed := c.s.seal(io.MultiReader(bytes.NewReader(hdr), r))
	defer sealed.Close()
	info, err := c.inner.WriteLTXFile(ctx, level, minTXID, maxTXID, io.MultiReader(bytes.NewReader(hdr), sealed))
	return c.storedToPlain(info), err
}

func (c *cryptClient) OpenLTXFile(ctx context.Context, level int, minTXID, maxTXID ltx.TXID, offset, size int64) (io.ReadCloser, error) {
	rc, err := c.inner.OpenLTXFile(ctx, level, minTXID, maxTXID, 0, 0)
	if err != nil {
		return nil, err
	}
	if _, err := io.CopyN(io.Discard, rc, ltx.HeaderSize); err != nil {
		rc.Close()
		return nil, fmt.Errorf("replica: read ltx header: %w", err)
	}
	pr, err := c.s.open(rc)
	if err != nil {
		rc.Close()
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("replica: object %d/%s-%s is truncated: %w", level, minTXID, maxTXID, err)
		}
		return nil, fmt.Errorf("replica: decrypt %d/%s-%s (wrong --replica-key-file?): %w", level, minTXID, maxTXID, err)
	}
	if offset > 0 {
		if _, err := io.CopyN(io.Discard, pr, offset); err != nil {
			rc.Close()
			return nil, fmt.Errorf("replica: seek: %w", err)
		}
	}
	if size > 0 {
		pr = io.LimitReader(pr, size)
	}
	return readCloser{Reader: pr, Closer: rc}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
