package meta

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// DeleteMedia deletes a file uploaded to Meta (DELETE /{version}/{media-id}),
// as an erasure requires. A 404 counts as done: the file is gone already
// (Meta drops uploads after 30 days).
func DeleteMedia(ctx context.Context, c *http.Client, graphURL, version, token, mediaID string) error {
	if mediaID == "" || strings.ContainsAny(mediaID, "/?#") {
		return fmt.Errorf("meta: invalid media id")
	}
	u := strings.TrimRight(graphURL, "/") + "/" + url.PathEscape(version) + "/" + url.PathEscape(mediaID)
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u, nil)
	if err != nil {
		return fmt.Errorf("meta: delete media: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("meta: delete media: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNotFound {
		return nil
	}
	return fmt.Errorf("meta: delete media: HTTP %d", resp.StatusCode)
}
