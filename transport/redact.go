package transport

import (
	"net/url"
	"regexp"
	"strings"
)

// redacted replaces secrets in anything orgstream logs.
const redacted = "REDACTED"

// redactQuery returns rawQuery with the value of every parameter whose name
// mentions a token (access_token first of all) or a ticket (a connect
// ticket opens a stream as its token would) replaced by REDACTED. It
// works on malformed queries too: names it cannot unescape are judged as
// they are.
func redactQuery(rawQuery string) string {
	if rawQuery == "" {
		return ""
	}
	var b strings.Builder
	b.Grow(len(rawQuery))
	for i, part := range strings.Split(rawQuery, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		key, _, hasVal := strings.Cut(part, "=")
		name, err := url.QueryUnescape(key)
		if err != nil {
			name = key
		}
		if !secretParam(name) {
			b.WriteString(part)
			continue
		}
		b.WriteString(key)
		if hasVal {
			b.WriteString("=" + redacted)
		}
	}
	return b.String()
}

func secretParam(name string) bool {
	n := strings.ToLower(name)
	return strings.Contains(n, "token") || strings.Contains(n, "ticket") ||
		strings.Contains(n, "secret") || strings.Contains(n, "password")
}

// redactURL returns u as a string fit for a log: token parameters redacted
// and any userinfo password hidden.
func redactURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.RawQuery = redactQuery(u.RawQuery)
	c.ForceQuery = false
	return c.Redacted()
}

var (
	tokenParamRE = regexp.MustCompile(`(?i)([a-z_]*(?:token|ticket)=)[^&\s"']*`)
	bearerRE     = regexp.MustCompile(`(?i)(bearer\s+)[^\s"',]+`)
	jwtRE        = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*`)
)

// redactText hides token-shaped substrings of a free-form message (lines
// net/http logs on its own): token and ticket query parameters, bearer credentials and
// anything shaped like a JWT.
func redactText(s string) string {
	s = tokenParamRE.ReplaceAllString(s, "${1}"+redacted)
	s = bearerRE.ReplaceAllString(s, "${1}"+redacted)
	return jwtRE.ReplaceAllString(s, redacted)
}
