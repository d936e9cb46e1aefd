package cloudapi

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// EraseMedia deletes a file uploaded to Meta (DELETE /{version}/{media-id}),
// as an erasure requires. A 404 counts as done: the file is gone already
// (Meta drops uploads after 30 days). It uses the client's current token,
// so an erasure after a token change in the settings uses the new one.
func (c *Client) EraseMedia(ctx context.Context, mediaID string) error {
	if mediaID == "" || strings.ContainsAny(mediaID, "/?#%\\") || mediaID == "." || mediaID == ".." {
		return fmt.Errorf("meta: delete media: invalid media id")
	}
	resp, err := c.DeleteMedia(ctx, mediaID, "")
	if resp == nil {
		return fmt.Errorf("meta: delete media: %w", err)
	}
	if resp.Status/100 == 2 || resp.Status == http.StatusNotFound {
		return nil
	}
	return fmt.Errorf("meta: delete media: HTTP %d: %w", resp.Status, err)
}
