package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Paths of the console.
const (
	// IndexPath serves index.html.
	IndexPath = "/"
	// AssetPrefix is the path under which the other files of dist are
	// served (/console/app.js).
	AssetPrefix = "/console/"
)

// ContentSecurityPolicy is sent with every answer: scripts and styles only
// from this origin, no inline code, fetch/XHR to this origin and WebSockets
// to any ws:/wss: URL (the stream is on the same host, but a CSP 'self' does
// not cover ws: in every browser), nothing framed, no forms posted.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; " +
	"form-action 'none'; frame-ancestors 'none'"

// Cache-Control values.
const (
	cacheRevalidate = "no-cache"
	cacheImmutable  = "public, max-age=31536000, immutable"
)

//go:embed dist
var dist embed.FS

// asset is one embedded file, ready to serve.
type asset struct {
	body  []byte
	ctype string
	hash  string // hex prefix of the SHA-256 of body
	etag  string
}

// assets maps request paths to files: "/" to index.html, AssetPrefix+name
// to the others.
var assets = load(dist)

// hashLen is the length of the hex hash used in ETags and ?v=.
const hashLen = 16

// Hash returns the hash of the embedded file served at urlPath (the value
// of its ?v= and ETag), or "" if there is none.
func Hash(urlPath string) string {
	if a, ok := assets[urlPath]; ok {
		return a.hash
	}
	return ""
}

// Paths lists the request paths the console serves, index first.
func Paths() []string {
	out := []string{IndexPath}
	for p := range assets {
		if p != IndexPath {
			out = append(out, p)
		}
	}
	return out
}

func load(fsys fs.FS) map[string]*asset {
	m := make(map[string]*asset)
	err := fs.WalkDir(fsys, "dist", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		h := hex.EncodeToString(sum[:])[:hashLen]
		a := &asset{body: body, ctype: contentType(p), hash: h, etag: `"` + h + `"`}
		name := strings.TrimPrefix(p, "dist/")
		if name == "index.html" {
			m[IndexPath] = a
		} else {
			m[AssetPrefix+name] = a
		}
		return nil
	})
	if err != nil {
		panic("console: embedded dist: " + err.Error()) // the binary itself is broken
	}
	return m
}

// contentType is by extension, from a fixed table: the system's MIME
// database must not decide how the page is served.
func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	case ".json", ".map":
		return "application/json"
	default:
		return "application/octet-stream"
	}
}

// Handler serves the console (see the package doc).
func Handler() http.Handler { return handler{} }

type handler struct{}

func (handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	a, ok := assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	if r.URL.Path != IndexPath && r.URL.Query().Get("v") == a.hash {
		h.Set("Cache-Control", cacheImmutable)
	} else {
		h.Set("Cache-Control", cacheRevalidate)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
