package cloudapi

import "strings"

// mediaType is one row of Meta's supported-media table: the MIME type,
// the message type (kind) it is sent as, and its usual file extensions
// (the first is the one Pforte names files with).
type mediaType struct {
	mime, kind string
	exts       []string
}

// supportedMedia is Meta's list of media a message may carry ("Supported
// media types"); sizes per kind are in MaxSize.
var supportedMedia = [...]mediaType{
	{"image/jpeg", "image", []string{".jpg", ".jpeg"}},
	{"image/png", "image", []string{".png"}},
	{"image/webp", "sticker", []string{".webp"}},
	{"video/mp4", "video", []string{".mp4"}},
	{"video/3gpp", "video", []string{".3gp"}},
	{"audio/aac", "audio", []string{".aac"}},
	{"audio/amr", "audio", []string{".amr"}},
	{"audio/mpeg", "audio", []string{".mp3"}},
	{"audio/mp4", "audio", []string{".m4a"}},
	{"audio/ogg", "audio", []string{".ogg", ".opus"}},
	{"text/plain", "document", []string{".txt"}},
	{"application/pdf", "document", []string{".pdf"}},
	{"application/vnd.ms-excel", "document", []string{".xls"}},
	{"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "document", []string{".xlsx"}},
	{"application/msword", "document", []string{".doc"}},
	{"application/vnd.openxmlformats-officedocument.wordprocessingml.document", "document", []string{".docx"}},
	{"application/vnd.ms-powerpoint", "document", []string{".ppt"}},
	{"application/vnd.openxmlformats-officedocument.presentationml.presentation", "document", []string{".pptx"}},
}

func baseMIME(mime string) string {
	return strings.ToLower(strings.TrimSpace(strings.SplitN(mime, ";", 2)[0]))
}

func supported(mime string) (mediaType, bool) {
	mime = baseMIME(mime)
	for _, t := range supportedMedia {
		if t.mime == mime {
			return t, true
		}
	}
	return mediaType{}, false
}

// MediaKind returns the message type Meta sends a supported MIME type as
// (image, sticker, video, audio, document), or "" for a type Meta does
// not take in messages.
func MediaKind(mime string) string {
	t, _ := supported(mime)
	return t.kind
}

// MIMEOfExtension returns the supported MIME type a file name extension
// (".pdf", any case) stands for, or "" for any other.
func MIMEOfExtension(ext string) string {
	ext = strings.ToLower(ext)
	for _, t := range supportedMedia {
		for _, e := range t.exts {
			if e == ext {
				return t.mime
			}
		}
	}
	return ""
}
