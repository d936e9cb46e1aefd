package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// blobs is the plain object store beside Litestream's LTX files: media
// under their hash and the small files a restore needs. Keys are relative
// to the replica's path ("pforte/media/<hash>").
type blobs interface {
	Put(ctx context.Context, key string, r io.Reader) error
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	Delete(ctx context.Context, key string) error
	// List returns the keys under prefix.
	List(ctx context.Context, prefix string) ([]string, error)
}

// closeBlobs ends a blob store's connection, if it keeps one (sftp).
func closeBlobs(b blobs) {
	if c, ok := b.(io.Closer); ok {
		c.Close()
	}
}

// errNotFound is returned by Get for a missing key.
var errNotFound = errors.New("replica: no such object")

func newBlobs(ctx context.Context, t *Target) (blobs, error) {
	switch t.Scheme {
	case "file":
		return fileBlobs{root: t.Path}, nil
	case "s3":
		cl, err := newS3ClientFor(ctx, t)
		if err != nil {
			return nil, err
		}
		return &s3Blobs{cl: cl, prefix: t.Path}, nil
	case "sftp":
		return &sftpBlobs{conn: newSFTPConn(t.SFTP), root: t.Path}, nil
	}
	return nil, fmt.Errorf("replica: scheme %q", t.Scheme)
}

// newS3ClientFor builds the S3 client for an s3:// target; the keys come
// from the environment only.
func newS3ClientFor(ctx context.Context, t *Target) (*s3Client, error) {
	creds, err := credentialsFromEnv()
	if err != nil {
		return nil, err
	}
	return newS3Client(ctx, s3OptionsFromTarget(t), creds)
}

type fileBlobs struct{ root string }

func (b fileBlobs) p(key string) string { return filepath.Join(b.root, filepath.FromSlash(key)) }

func (b fileBlobs) Put(_ context.Context, key string, r io.Reader) error {
	dst := b.p(key)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), dst)
}

func (b fileBlobs) Get(_ context.Context, key string) (io.ReadCloser, error) {
	f, err := os.Open(b.p(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNotFound
	}
	return f, err
}

func (b fileBlobs) Delete(_ context.Context, key string) error {
	err := os.Remove(b.p(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

func (b fileBlobs) List(_ context.Context, prefix string) ([]string, error) {
	var out []string
	root := b.p(prefix)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".tmp-") {
			return nil
		}
		rel, err := filepath.Rel(b.root, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	return out, err
}

type s3Blobs struct {
	cl     *s3Client
	prefix string
}

func (b *s3Blobs) key(k string) string { return path.Join(b.prefix, k) }

func (b *s3Blobs) Put(ctx context.Context, key string, r io.Reader) error {
	if _, _, err := b.cl.Put(ctx, b.key(key), r, putOptions{}); err != nil {
		return fmt.Errorf("replica: put %s: %w", key, err)
	}
	return nil
}

func (b *s3Blobs) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	rc, _, err := b.cl.Get(ctx, b.key(key), 0, 0)
	if isNotFound(err) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("replica: get %s: %w", key, err)
	}
	return rc, nil
}

func (b *s3Blobs) Delete(ctx context.Context, key string) error {
	if err := b.cl.Delete(ctx, b.key(key), ""); err != nil {
		return fmt.Errorf("replica: delete %s: %w", key, err)
	}
	return nil
}

func (b *s3Blobs) List(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	err := b.cl.List(ctx, b.key(prefix)+"/", func(o listObject) error {
		out = append(out, strings.TrimPrefix(o.Key, b.prefix+"/"))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("replica: list %s: %w", prefix, err)
	}
	return out, nil
}
