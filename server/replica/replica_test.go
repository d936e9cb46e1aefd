package replica

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/url"
	"strings"
	"testing"

	"filippo.io/age"
)

// FuzzParseURL: no input panics, and what is accepted has a scheme Pforte
// can serve and never carries credentials.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"s3://bucket/pforte?endpoint=https://fsn1.your-objectstorage.com&region=fsn1",
		"s3://bucket/pforte?region=eu-central-1",
		"s3://user:pw@bucket/p",
		"s3://bucket",
		"file:///var/backups/pforte",
		"file://host/x",
		"sftp://u@h/p",
		"sftp://u12345@u12345.your-storagebox.de:23/home/pforte?host_key=ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl&key_file=%2Fetc%2Fpforte%2Fid",
		"sftp://u:pw@h/p?host_key=ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
		"sftp://u@h:99999/p?host_key=x",
		"s3://b/p?endpoint=ftp://x",
		"s3://b/p?foo=1",
		"",
		"::",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseURL(s)
		if err != nil {
			return
		}
		switch tg.Scheme {
		case "s3":
			if tg.Bucket == "" || tg.Path == "" {
				t.Fatalf("%q accepted without bucket or path", s)
			}
			if strings.Contains(s, "@"+tg.Bucket) {
				t.Fatalf("%q accepted with credentials", s)
			}
		case "file":
			if !strings.HasPrefix(tg.Path, "/") {
				t.Fatalf("%q accepted with a relative path", s)
			}
		case "sftp":
			if tg.SFTP == nil || tg.SFTP.User == "" || tg.SFTP.HostKey == nil || !strings.HasPrefix(tg.Path, "/") || tg.Path == "/" {
				t.Fatalf("%q accepted without user, host key or path", s)
			}
			if u, _ := url.Parse(s); u != nil && u.User != nil {
				if _, has := u.User.Password(); has {
					t.Fatalf("%q accepted with a password", s)
				}
			}
		default:
			t.Fatalf("%q accepted with scheme %q", s, tg.Scheme)
		}
	})
}

// TestPlainSizeInvertsAge: the listed size of an encrypted LTX file is
// mapped back to its plaintext size exactly, across chunk boundaries;
// Litestream reads the page index from the end by that size.
func TestPlainSizeInvertsAge(t *testing.T) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSealer(id)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1, 100, 64<<10 - 1, 64 << 10, 64<<10 + 1, 3 * 64 << 10, 1<<20 + 17} {
		plain := make([]byte, n)
		rand.Read(plain)
		ct, err := io.ReadAll(s.seal(bytes.NewReader(plain)))
		if err != nil {
			t.Fatal(err)
		}
		if got := s.plainSize(int64(len(ct))); got != int64(n) {
			t.Fatalf("plainSize(%d) = %d, want %d", len(ct), got, n)
		}
		r, err := s.open(bytes.NewReader(ct))
		if err != nil {
			t.Fatal(err)
		}
		back, _ := io.ReadAll(r)
		if !bytes.Equal(back, plain) {
			t.Fatalf("round trip of %d bytes differs", n)
		}
		if n >= 16 && bytes.Contains(ct, plain[:16]) {
			t.Fatal("ciphertext contains the plaintext")
		}
	}
}
