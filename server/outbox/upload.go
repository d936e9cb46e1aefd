package outbox

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// ErrStorage marks upload failures of Pforte's own storage, not Meta's.
var ErrStorage = errors.New("sender: media storage")

// UploadFile keeps a file under media/ and uploads it to Meta from that
// copy (POST /{phone-number-id}/media), for sending it by id afterwards;
// the panel's composer uses it for attachments. A *cloudapi.Error explains a
// refusal (too large for its kind, or Meta's own error, whose raw answer
// is also returned).
func (s *Sender) UploadFile(ctx context.Context, phoneNumberID, filename, mimeType string, r io.Reader) (string, *cloudapi.Response, error) {
	tmp, err := s.store.NewMediaTemp()
	if err != nil {
		return "", nil, fmt.Errorf("%w: %v", ErrStorage, err)
	}
	defer tmp.Discard()
	if _, err := io.Copy(tmp, io.LimitReader(r, cloudapi.MaxDocument+1)); err != nil {
		return "", nil, fmt.Errorf("sender: reading upload: %w", err)
	}
	return s.UploadTemp(ctx, phoneNumberID, filename, mimeType, tmp)
}

// UploadTemp is UploadFile for a file already written to a media temp.
func (s *Sender) UploadTemp(ctx context.Context, phoneNumberID, filename, mimeType string, tmp *store.MediaTemp) (string, *cloudapi.Response, error) {
	kind := cloudapi.KindOfMIME(mimeType)
	if tmp.Size() > cloudapi.MaxSize(kind) {
		return "", nil, cloudapi.NewError(http.StatusBadRequest, 131053, "Media upload error",
			"The file has "+strconv.FormatInt(tmp.Size(), 10)+" bytes; Meta allows at most "+strconv.FormatInt(cloudapi.MaxSize(kind), 10)+" for "+kind+".")
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
		name = cloudapi.Filename("", kind, mimeType, 0)
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
