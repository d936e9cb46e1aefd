package outbox

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// ErrStorage marks upload failures of Pforte's own storage, not Meta's.
var ErrStorage = errors.New("outbox: media storage")

// uploadKind is the kind whose size limit applies to a file: Meta's kind
// for a supported type, else the guess from the type's prefix (Meta
// itself decides whether it takes such a file).
func uploadKind(mimeType string) string {
	if k := cloudapi.MediaKind(mimeType); k != "" {
		return k
	}
	return cloudapi.KindOfMIME(mimeType)
}

// CheckFile applies Meta's size limit for the file's kind: a file over it
// is an ErrTooLarge refusal. Every upload passes here; the panel asks
// early too, so that a refused file is not even handed to a sender.
func CheckFile(mimeType string, size int64) error {
	kind := uploadKind(mimeType)
	if max := cloudapi.MaxSize(kind); size > max {
		return &Refusal{Reason: ErrTooLarge, Kind: kind, Size: size, Max: max,
			Details: fmt.Sprintf("The file has %d bytes; Meta allows at most %d for %s.", size, max, kind)}
	}
	return nil
}

// UploadFile keeps a file under media/ and uploads it to Meta from that
// copy (POST /{phone-number-id}/media), for sending it by id afterwards;
// the panel's composer uses it for attachments. A *Refusal explains a
// refusal before Meta (unknown number, too large for its kind); Meta's
// own error comes with its raw answer.
func (s *Sender) UploadFile(ctx context.Context, phoneNumberID, filename, mimeType string, r io.Reader) (string, *cloudapi.Response, error) {
	if err := s.CheckNumber(ctx, phoneNumberID); err != nil {
		return "", nil, err
	}
	tmp, err := s.store.NewMediaTemp()
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	defer tmp.Discard()
	// One byte over the kind's limit is enough to refuse it.
	if _, err := io.Copy(tmp, io.LimitReader(r, cloudapi.MaxSize(uploadKind(mimeType))+1)); err != nil {
		return "", nil, fmt.Errorf("outbox: reading upload: %w", err)
	}
	return s.upload(ctx, phoneNumberID, filename, mimeType, tmp)
}

// UploadTemp is UploadFile for a file already written to a media temp
// (the proxy streams a multipart body there).
func (s *Sender) UploadTemp(ctx context.Context, phoneNumberID, filename, mimeType string, tmp *store.MediaTemp) (string, *cloudapi.Response, error) {
	if err := s.CheckNumber(ctx, phoneNumberID); err != nil {
		return "", nil, err
	}
	return s.upload(ctx, phoneNumberID, filename, mimeType, tmp)
}

func (s *Sender) upload(ctx context.Context, phoneNumberID, filename, mimeType string, tmp *store.MediaTemp) (string, *cloudapi.Response, error) {
	if err := CheckFile(mimeType, tmp.Size()); err != nil {
		return "", nil, err
	}
	sum := base64.StdEncoding.EncodeToString(tmp.Sum())
	size := tmp.Size()
	rel, err := tmp.Commit()
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	f, err := s.store.OpenMedia(rel)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	defer f.Close()
	safe := cloudapi.SanitizeFilename(filename)
	name := safe
	if name == "" {
		name = cloudapi.Filename("", uploadKind(mimeType), mimeType, 0)
	}
	id, resp, err := s.client.Upload(ctx, phoneNumberID, name, mimeType, f)
	if err != nil {
		return "", resp, err
	}
	if err := s.store.RecordUpload(context.WithoutCancel(ctx), store.Upload{MediaID: id, PhoneNumberID: phoneNumberID, MimeType: mimeType,
		SHA256: sum, Size: size, Filename: safe, Path: rel}); err != nil {
		s.log.Error("upload not recorded", "err", err)
	}
	return id, resp, nil
}
