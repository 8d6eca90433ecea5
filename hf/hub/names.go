package hub

import (
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on names, far above what the Hub allows, so that no name can grow a path without bound.
const (
	maxRepoPart     = 96   // the Hub's own limit for an org or repository name
	maxSegment      = 255  // one path segment of a filename or revision
	maxFilename     = 1024 // a whole filename
	maxRevision     = 256  // a whole revision (branch, tag or commit)
	maxETag         = 128
	maxServerString = 300 // how much of a server's message an error quotes
)

// ParseRepoID splits a repository id "ORG/NAME" into its parts. A bare "NAME" is accepted for
// the Hub's legacy top-level models (such as "gpt2") and gives org "". Each part is 1 to 96
// characters of letters, digits, '-', '_' and '.', neither starting nor ending with '-' or '.',
// and without "--" or "..", as the Hub requires; so the cache folder models--ORG--NAME names one
// repository only.
func ParseRepoID(s string) (org, name string, err error) {
	bad := func(why string) (string, string, error) {
		return "", "", &Error{Kind: ErrInvalidName, Message: "repository id " + quote(s) + " " + why,
			Hint: "write it as ORG/NAME, as in the model page's URL (e.g. openai-community/gpt2)"}
	}
	if s == "" {
		return bad("is empty")
	}
	parts := strings.Split(s, "/")
	switch len(parts) {
	case 1:
		name = parts[0]
	case 2:
		org, name = parts[0], parts[1]
		if why := checkRepoPart(org); why != "" {
			return bad("has an invalid owner: " + why)
		}
	default:
		return bad("has more than one '/'")
	}
	if why := checkRepoPart(name); why != "" {
		return bad("has an invalid name: " + why)
	}
	return org, name, nil
}

func checkRepoPart(p string) string {
	switch {
	case p == "":
		return "empty"
	case len(p) > maxRepoPart:
		return "longer than 96 characters"
	case strings.Contains(p, "--") || strings.Contains(p, ".."):
		return `contains "--" or ".."`
	case strings.ContainsAny(p[:1], "-.") || strings.ContainsAny(p[len(p)-1:], "-."):
		return "starts or ends with '-' or '.'"
	}
	for i := 0; i < len(p); i++ {
		b := p[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.') {
			return "has a character other than letters, digits, '-', '_' and '.'"
		}
	}
	return ""
}

// checkPath validates a '/'-separated relative path (a filename in a repository, or a revision,
// which becomes a path under refs/). It rejects anything that could leave the directory it is
// joined to on any operating system: absolute paths, drive letters ("C:\x", "D:foo"), UNC paths,
// backslashes, ".." and "." segments, empty segments, NUL and other control characters, and
// invalid UTF-8. It returns why the path is rejected, or "".
func checkPath(p string, maxLen int) string {
	switch {
	case p == "":
		return "is empty"
	case len(p) > maxLen:
		return "is too long"
	case !utf8.ValidString(p):
		return "is not valid UTF-8"
	case strings.HasPrefix(p, "/"):
		return "is an absolute path"
	case strings.ContainsRune(p, '\\'):
		return "contains a backslash"
	case strings.ContainsRune(p, ':'):
		return "contains ':' (a drive letter or stream name on Windows)"
	}
	for _, r := range p {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return "contains a control character"
		}
	}
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "":
			return "has an empty path segment"
		case seg == "." || seg == "..":
			return "has a '.' or '..' segment"
		case len(seg) > maxSegment:
			return "has a path segment longer than 255 bytes"
		}
	}
	return ""
}

// checkFilename validates a filename in a repository.
func checkFilename(f string) error {
	if why := checkPath(f, maxFilename); why != "" {
		return &Error{Kind: ErrInvalidName, File: f, Message: "filename " + quote(f) + " " + why,
			Hint: "use the file's path as listed in the repository, with '/' between folders"}
	}
	return nil
}

// checkRevision validates a revision: a branch, a tag or a commit id.
func checkRevision(r string) error {
	if why := checkPath(r, maxRevision); why != "" {
		return &Error{Kind: ErrInvalidName, Revision: r, Message: "revision " + quote(r) + " " + why,
			Hint: `use a branch ("main"), a tag or a 40-hex commit id`}
	}
	return nil
}

// isCommit reports whether s is a full commit id: 40 lowercase hex digits.
func isCommit(s string) bool { return len(s) == 40 && isHex(s, false) }

// isSHA256 reports whether an etag is a SHA-256 digest (the etag of LFS files), in any case.
func isSHA256(s string) bool { return len(s) == 64 && isHex(s, true) }

func isHex(s string, upperOK bool) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= '0' && b <= '9' || b >= 'a' && b <= 'f' || upperOK && b >= 'A' && b <= 'F') {
			return false
		}
	}
	return true
}

// normalizeETag strips the weak marker W/ and the quotes of an HTTP entity tag.
func normalizeETag(e string) string {
	e = strings.TrimSpace(e)
	e = strings.TrimPrefix(e, "W/")
	e = strings.TrimPrefix(e, "w/")
	if len(e) >= 2 && e[0] == '"' && e[len(e)-1] == '"' {
		e = e[1 : len(e)-1]
	}
	return e
}

// checkETag reports whether a normalised etag is safe as a file name under blobs/: 1 to 128
// letters, digits, '-' and '_'. No '.', '/', '\\' or ':' can appear, so an etag can neither
// climb out of blobs/ nor look like a temporary file.
func checkETag(e string) bool {
	if e == "" || len(e) > maxETag {
		return false
	}
	for i := 0; i < len(e); i++ {
		b := e[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// escapePath escapes each segment of a '/'-separated path for a URL.
func escapePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// quote quotes a user- or server-supplied string for an error message, shortened and with
// control characters escaped so it cannot garble a terminal.
func quote(s string) string {
	if len(s) > maxServerString {
		s = s[:maxServerString] + "…"
	}
	return strconv.Quote(s)
}

// sanitize makes a server-supplied message safe to print: control characters become spaces,
// runs of spaces collapse, and the result is at most maxServerString bytes.
func sanitize(s string) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if unicode.IsControl(r) || unicode.IsSpace(r) || r == utf8.RuneError {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		if b.Len()+utf8.RuneLen(r) > maxServerString {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
