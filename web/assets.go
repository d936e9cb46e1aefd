package web

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

//go:embed static
var staticFS embed.FS

// asset is one embedded file with its content-hash URL.
type asset struct {
	url  string
	body []byte
	ct   string
}

var (
	assetsByName = map[string]*asset{}
	assetsByURL  = map[string]*asset{}
)

// StaticPrefix is where assets are served.
const StaticPrefix = "/static/"

func init() {
	entries, err := fs.ReadDir(staticFS, "static")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".md") {
			continue
		}
		b, err := staticFS.ReadFile("static/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		ext := path.Ext(e.Name())
		a := &asset{
			// The hash in the name makes every URL immutable, so browsers
			// may cache it for a year and still never see a stale file.
			url:  StaticPrefix + strings.TrimSuffix(e.Name(), ext) + "." + hex.EncodeToString(sum[:6]) + ext,
			body: b,
			ct:   mime.TypeByExtension(ext),
		}
		if a.ct == "" {
			a.ct = "application/octet-stream"
		}
		assetsByName[e.Name()] = a
		assetsByURL[a.url] = a
	}
}

// Asset returns the content-hash URL of an embedded file; it panics on an
// unknown name so that a typo fails every test that renders the page.
func Asset(name string) string {
	a, ok := assetsByName[name]
	if !ok {
		panic("web: unknown asset " + name)
	}
	return a.url
}

// StaticHandler serves the embedded assets under their hashed URLs.
func StaticHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := assetsByURL[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", a.ct)
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Write(a.body)
	})
}
