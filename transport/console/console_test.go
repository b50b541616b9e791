package console

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	jsHash, cssHash := Hash("/console/app.js"), Hash("/console/app.css")
	if jsHash == "" || cssHash == "" {
		t.Fatalf("dist lacks app.js or app.css: %v", Paths())
	}
	tests := []struct {
		name        string
		method      string
		path        string
		header      map[string]string
		status      int
		ctype       string
		cache       string
		bodyHas     string
		wantNoBody  bool
		wantAllow   string
		wantNoCache bool // error answers carry no caching headers of ours
	}{
		{name: "index", path: "/", status: 200, ctype: "text/html; charset=utf-8", cache: cacheRevalidate, bodyHas: `<script src="/console/app.js?v=`},
		{name: "index HEAD", method: http.MethodHead, path: "/", status: 200, ctype: "text/html; charset=utf-8", cache: cacheRevalidate, wantNoBody: true},
		{name: "index query ignored", path: "/?v=" + Hash("/"), status: 200, ctype: "text/html; charset=utf-8", cache: cacheRevalidate},
		{name: "script", path: "/console/app.js", status: 200, ctype: "text/javascript; charset=utf-8", cache: cacheRevalidate},
		{name: "script hashed", path: "/console/app.js?v=" + jsHash, status: 200, ctype: "text/javascript; charset=utf-8", cache: cacheImmutable},
		{name: "script stale hash", path: "/console/app.js?v=0000", status: 200, ctype: "text/javascript; charset=utf-8", cache: cacheRevalidate},
		{name: "style hashed", path: "/console/app.css?v=" + cssHash, status: 200, ctype: "text/css; charset=utf-8", cache: cacheImmutable},
		{name: "revalidated", path: "/console/app.js", header: map[string]string{"If-None-Match": `"` + jsHash + `"`}, status: 304, wantNoBody: true},
		{name: "changed etag", path: "/console/app.js", header: map[string]string{"If-None-Match": `"other"`}, status: 200, ctype: "text/javascript; charset=utf-8", cache: cacheRevalidate},
		{name: "unknown asset", path: "/console/nope.js", status: 404, wantNoCache: true},
		{name: "asset dir", path: "/console/", status: 404, wantNoCache: true},
		{name: "index by name", path: "/index.html", status: 404, wantNoCache: true},
		{name: "post", method: http.MethodPost, path: "/", status: 405, wantAllow: "GET, HEAD", wantNoCache: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodGet
			}
			req, err := http.NewRequest(method, srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			h := resp.Header
			if got := h.Get("Content-Security-Policy"); got != ContentSecurityPolicy {
				t.Errorf("CSP %q", got)
			}
			if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("X-Content-Type-Options %q", got)
			}
			if tt.ctype != "" && h.Get("Content-Type") != tt.ctype {
				t.Errorf("Content-Type %q, want %q", h.Get("Content-Type"), tt.ctype)
			}
			if tt.cache != "" && h.Get("Cache-Control") != tt.cache {
				t.Errorf("Cache-Control %q, want %q", h.Get("Cache-Control"), tt.cache)
			}
			if tt.wantNoCache && (h.Get("Cache-Control") != "" || h.Get("ETag") != "") {
				t.Errorf("error answer with Cache-Control %q, ETag %q", h.Get("Cache-Control"), h.Get("ETag"))
			}
			if tt.status == 200 && h.Get("ETag") == "" {
				t.Error("no ETag")
			}
			if tt.bodyHas != "" && !strings.Contains(string(body), tt.bodyHas) {
				t.Errorf("body lacks %q:\n%s", tt.bodyHas, body)
			}
			if tt.wantNoBody && len(body) != 0 {
				t.Errorf("body of %d bytes, want none", len(body))
			}
			if tt.wantAllow != "" && h.Get("Allow") != tt.wantAllow {
				t.Errorf("Allow %q, want %q", h.Get("Allow"), tt.wantAllow)
			}
		})
	}
}

// TestIndexReferencesCurrentAssets checks the committed build: every asset
// index.html loads exists and carries its current hash, so the immutable
// caching never pins a stale file.
func TestIndexReferencesCurrentAssets(t *testing.T) {
	index := string(assets[IndexPath].body)
	refs := regexp.MustCompile(`(?:src|href)="(/console/[^"?]+)\?v=([0-9a-f]+)"`).FindAllStringSubmatch(index, -1)
	if len(refs) < 2 {
		t.Fatalf("index.html references %d hashed assets, want app.js and app.css:\n%s", len(refs), index)
	}
	for _, ref := range refs {
		if got := Hash(ref[1]); got != ref[2] {
			t.Errorf("index.html loads %s?v=%s; the embedded file's hash is %q (rebuild: make console)", ref[1], ref[2], got)
		}
	}
	for _, inline := range []string{"<script>", "<style", " style="} {
		if strings.Contains(index, inline) {
			t.Errorf("index.html has inline %q, which the CSP forbids", inline)
		}
	}
}

func TestContentType(t *testing.T) {
	for name, want := range map[string]string{
		"dist/index.html": "text/html; charset=utf-8",
		"dist/app.js":     "text/javascript; charset=utf-8",
		"dist/app.css":    "text/css; charset=utf-8",
		"dist/x.svg":      "image/svg+xml",
		"dist/blob":       "application/octet-stream",
	} {
		if got := contentType(name); got != want {
			t.Errorf("contentType(%q) = %q, want %q", name, got, want)
		}
	}
}
