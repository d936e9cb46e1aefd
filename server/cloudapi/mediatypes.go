package cloudapi

import (
	"net/http"
	"strings"
)

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

// mediaKinds are the message types a media upload's type field may name
// instead of a MIME type; some SDKs send these (type=image).
var mediaKinds = [...]string{"image", "audio", "video", "document", "sticker"}

// IsMediaKind says whether s is a media kind ("image", "sticker", ...)
// rather than a MIME type.
func IsMediaKind(s string) bool {
	s = strings.ToLower(strings.TrimSpace(s))
	for _, k := range mediaKinds {
		if s == k {
			return true
		}
	}
	return false
}

// uploadTypesWording is the list in Meta's own refusal of an upload, in
// Meta's order; it names audio/opus, which messages carry as audio/ogg.
const uploadTypesWording = "audio/aac, audio/mp4, audio/mpeg, audio/amr, audio/ogg, audio/opus, " +
	"application/vnd.ms-powerpoint, application/msword, " +
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document, " +
	"application/vnd.openxmlformats-officedocument.presentationml.presentation, " +
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet, application/pdf, text/plain, " +
	"application/vnd.ms-excel, image/jpeg, image/png, image/webp, video/mp4, video/3gpp"

// UnsupportedFileMessage is Meta's #100 wording for an upload whose file
// part has a type Meta does not take.
func UnsupportedFileMessage(received string) string {
	return "Param file must be a file with one of the following types: " + uploadTypesWording +
		". Received file of type '" + received + "'."
}

// UploadSupported says whether Meta takes a file of this MIME type
// (audio/opus included, which Meta's upload list names).
func UploadSupported(mime string) bool {
	if baseMIME(mime) == "audio/opus" {
		return true
	}
	_, ok := supported(mime)
	return ok
}

// SniffMIME guesses a file's MIME type from its first bytes and, where
// the bytes say nothing Meta-specific (Office files are ZIPs), from the
// file name's extension. Otherwise it returns what the bytes look like
// (image/gif, application/octet-stream), which Meta refuses.
func SniffMIME(head []byte, filename string) string {
	sniffed := baseMIME(http.DetectContentType(head))
	switch {
	case UploadSupported(sniffed):
		return sniffed
	case sniffed == "application/ogg":
		return "audio/ogg"
	}
	if i := strings.LastIndexByte(filename, '.'); i >= 0 {
		if m := MIMEOfExtension(filename[i:]); m != "" {
			return m
		}
	}
	return sniffed
}
