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

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
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

// errNotFound is returned by Get for a missing key.
var errNotFound = errors.New("replica: no such object")

func newBlobs(ctx context.Context, t *Target) (blobs, error) {
	switch t.Scheme {
	case "file":
		return fileBlobs{root: t.Path}, nil
	case "s3":
		region := t.Query.Get("region")
		if region == "" {
			region = "us-east-1"
		}
		cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(region))
		if err != nil {
			return nil, fmt.Errorf("replica: s3 config: %w", err)
		}
		endpoint := t.Query.Get("endpoint")
		cl := s3.NewFromConfig(cfg, func(o *s3.Options) {
			if endpoint != "" {
				o.BaseEndpoint = aws.String(endpoint)
				o.UsePathStyle = t.Query.Get("forcePathStyle") != "false"
			}
			// S3-compatible providers (and older MinIO) reject the newer
			// default checksums.
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		})
		return &s3Blobs{cl: cl, bucket: t.Bucket, prefix: t.Path}, nil
	}
	return nil, fmt.Errorf("replica: scheme %q", t.Scheme)
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
	cl     *s3.Client
	bucket string
	prefix string
}

func (b *s3Blobs) key(k string) string { return path.Join(b.prefix, k) }

func (b *s3Blobs) Put(ctx context.Context, key string, r io.Reader) error {
	// PutObject needs a known length or a seeker; spool small bodies.
	f, err := os.CreateTemp("", "pforte-replica-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, r)
	if err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err = b.cl.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.bucket, Key: aws.String(b.key(key)), Body: f, ContentLength: aws.Int64(n)})
	if err != nil {
		return fmt.Errorf("replica: put %s: %w", key, err)
	}
	return nil
}

func (b *s3Blobs) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := b.cl.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: aws.String(b.key(key))})
	var nsk *s3types.NoSuchKey
	if errors.As(err, &nsk) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("replica: get %s: %w", key, err)
	}
	return out.Body, nil
}

func (b *s3Blobs) Delete(ctx context.Context, key string) error {
	_, err := b.cl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: aws.String(b.key(key))})
	if err != nil {
		return fmt.Errorf("replica: delete %s: %w", key, err)
	}
	return nil
}

func (b *s3Blobs) List(ctx context.Context, prefix string) ([]string, error) {
	var out []string
	p := s3.NewListObjectsV2Paginator(b.cl, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: aws.String(b.key(prefix) + "/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("replica: list %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, strings.TrimPrefix(aws.ToString(o.Key), b.prefix+"/"))
		}
	}
	return out, nil
}
