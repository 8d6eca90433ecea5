package hub

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Fuzz targets for the parsers of names and server headers. Run one with, for example:
//
//	go test ./hf/hub -run XXX -fuzz '^FuzzParseRepoID$' -fuzztime 40s -parallel 1

// noControl fails the test if an error message holds a control character: every server- or
// user-supplied string in a message must be quoted, so that it cannot garble a terminal.
func noControl(t *testing.T, err error) {
	t.Helper()
	for _, r := range err.Error() {
		if r < 0x20 || r == 0x7f {
			t.Fatalf("error message holds control character %U: %q", r, err.Error())
		}
	}
}

// hubError checks that err is an *Error of the given kind with a message and a hint.
func hubError(t *testing.T, err error, kind error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, kind) {
		t.Fatalf("error %v (%T) is not an *Error of kind %v", err, err, kind)
	}
	if e.Message == "" || e.Hint == "" {
		t.Fatalf("error %q lacks a message or a hint", err)
	}
	noControl(t, err)
	return e
}

// FuzzParseRepoID: an accepted id splits into parts that are safe as path segments and as the
// two halves of the cache folder models--ORG--NAME, and joining them gives the id back.
func FuzzParseRepoID(f *testing.F) {
	for _, s := range []string{
		// valid (TestParseRepoID)
		"openai-community/gpt2", "Qwen/Qwen2.5-0.5B", "gpt2", "a_b/c_d", "a/b", "_", "a.b_c-d/e.f",
		strings.Repeat("a", 96) + "/" + strings.Repeat("b", 96),
		// hostile (HOSTILE-INPUTS C26, C29)
		"", "/", "a/", "/b", "a/b/c", "..", ".", "../x", "a/..", "a/../b", "./a", "/etc/passwd",
		`C:\x`, "D:foo", `\\host\share\x`, `a\b`, "a/b\x00", "a\x00/b", "a--b/c", "a/b--c",
		"models--a--b", "-a/b", "a-/b", "a/.b", "a/b.", "a/b-", ".a/b", "a..b/c", "a/b c", " a/b",
		"a/b\n", "ünï/x", "a/\u212a", "a/b%2fc", "a/b?c", "a/b#c", "a:b/c",
		strings.Repeat("a", 97) + "/b", "a/" + strings.Repeat("b", 97),
	} {
		f.Add(s)
	}
	allowed := func(b byte) bool {
		return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_' || b == '.'
	}
	f.Fuzz(func(t *testing.T, s string) {
		org, name, err := ParseRepoID(s)
		if err != nil {
			if org != "" || name != "" {
				t.Fatalf("rejected %q but returned %q, %q", s, org, name)
			}
			e := hubError(t, err, ErrInvalidName)
			if !strings.Contains(e.Message, quote(s)) {
				t.Fatalf("message %q does not name the id %q", e.Message, s)
			}
			return
		}
		// The parts give the id back.
		if org == "" {
			if name != s {
				t.Fatalf("ParseRepoID(%q) = %q, %q: a bare name must be the whole id", s, org, name)
			}
		} else if org+"/"+name != s {
			t.Fatalf("ParseRepoID(%q) = %q, %q: the parts do not join to the id", s, org, name)
		}
		parts := []string{name}
		if org != "" {
			parts = []string{org, name}
		}
		for _, p := range parts {
			switch {
			case p == "" || len(p) > maxRepoPart:
				t.Fatalf("ParseRepoID(%q): part %q is empty or too long", s, p)
			case strings.ContainsAny(p, "/\\:\x00"), strings.Contains(p, ".."), strings.Contains(p, "--"):
				t.Fatalf("ParseRepoID(%q): part %q holds a separator, \"..\" or \"--\"", s, p)
			case strings.ContainsAny(p[:1], "-.") || strings.ContainsAny(p[len(p)-1:], "-."):
				t.Fatalf("ParseRepoID(%q): part %q starts or ends with '-' or '.'", s, p)
			case !filepath.IsLocal(p) || filepath.Base(p) != p || checkPath(p, maxSegment) != "":
				t.Fatalf("ParseRepoID(%q): part %q is not a plain path segment", s, p)
			}
			for i := 0; i < len(p); i++ {
				if !allowed(p[i]) {
					t.Fatalf("ParseRepoID(%q): part %q holds byte %q", s, p, p[i])
				}
			}
		}
		// Parsing the joined parts again gives the same parts.
		org2, name2, err := ParseRepoID(strings.Join(parts, "/"))
		if err != nil || org2 != org || name2 != name {
			t.Fatalf("re-parse of %q = %q, %q, %v; want %q, %q", s, org2, name2, err, org, name)
		}
		// The cache folder is one folder directly under hub/, and names this repository only.
		root := filepath.Join(string(filepath.Separator)+"home", "u", ".cache", "huggingface")
		rc := newRepoCache(root, org, name)
		if filepath.Dir(rc.root) != filepath.Join(root, "hub") {
			t.Fatalf("cache folder of %q is %s, not directly under %s", s, rc.root, filepath.Join(root, "hub"))
		}
		folder := filepath.Base(rc.root)
		back := strings.Split(strings.TrimPrefix(folder, "models--"), "--")
		if !strings.HasPrefix(folder, "models--") || !slices.Equal(back, parts) {
			t.Fatalf("cache folder %q of %q does not decode to %q", folder, s, parts)
		}
	})
}

var strictContentRange = regexp.MustCompile(`^bytes ([0-9]+)-([0-9]+)/([0-9]+)$`)

// FuzzParseContentRange: an accepted range is 0 ≤ start ≤ end < total (so end-start+1 bytes
// never overflow), prints back to itself, and every well-formed header is accepted with its
// values.
func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{
		// from TestParsers
		"bytes 5-9/10", "bytes 0-0/1", "bytes 5-4/10", "bytes 5-10/10", "bytes */10", "bytes -1-3/10", "5-9/10", "bytes 5-9/x",
		// edges and hostile
		"", "bytes ", "bytes 0-9223372036854775806/9223372036854775807",
		"bytes 9223372036854775807-9223372036854775807/9223372036854775807",
		"bytes 0-9223372036854775807/9223372036854775808", "bytes 0-1/-5", "bytes 5-9/*", "bytes=5-9/10",
		" bytes 5-9/10 ", "bytes 5 -9/10", "bytes 5--9/10", "bytes 5-9/10/11", "bytes 5-9-10/11",
		"bytes +5-+9/+10", "bytes 05-09/010", "BYTES 5-9/10", "bytes 0x5-9/10", "bytes 1_0-11/12",
		"bytes 5-9/10\x00", "bytes 99999999999999999999-1/2",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, total, ok := parseContentRange(s)
		if !ok {
			if start != 0 || end != 0 || total != 0 {
				t.Fatalf("parseContentRange(%q) refused but returned %d, %d, %d", s, start, end, total)
			}
		} else {
			if !(0 <= start && start <= end && end < total) {
				t.Fatalf("parseContentRange(%q) = %d-%d/%d: want 0 ≤ start ≤ end < total", s, start, end, total)
			}
			canon := fmt.Sprintf("bytes %d-%d/%d", start, end, total)
			s2, e2, t2, ok2 := parseContentRange(canon)
			if !ok2 || s2 != start || e2 != end || t2 != total {
				t.Fatalf("%q → %q does not parse back: %d-%d/%d %v", s, canon, s2, e2, t2, ok2)
			}
		}
		// A well-formed header (RFC 9110: bytes first-last/complete, all digits) with consistent
		// values that fit an int64 is accepted with exactly those values.
		m := strictContentRange.FindStringSubmatch(strings.TrimSpace(s))
		if m == nil {
			return
		}
		a, err1 := strconv.ParseInt(m[1], 10, 64)
		b, err2 := strconv.ParseInt(m[2], 10, 64)
		c, err3 := strconv.ParseInt(m[3], 10, 64)
		if err1 == nil && err2 == nil && err3 == nil && a <= b && b < c {
			if !ok || start != a || end != b || total != c {
				t.Fatalf("parseContentRange(%q) = %d-%d/%d %v, want %d-%d/%d", s, start, end, total, ok, a, b, c)
			}
		} else if ok {
			t.Fatalf("parseContentRange(%q) accepted an inconsistent range: %d-%d/%d", s, start, end, total)
		}
	})
}

// FuzzParseRetryAfter: an accepted header gives 0 ≤ d ≤ 24h; delay seconds within the cap give
// exactly that many seconds; a date gives no longer a wait when asked later.
func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, s := range []string{
		// from TestParsers
		"5", "0", now.Add(time.Minute).Format(http.TimeFormat), "99999999999", "", "-1", "soon",
		// edges and hostile
		" 5 ", "+5", "86400", "86401", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
		"1e3", "0x10", "1.5", "5s", "Thu, 01 Jan 1970 00:00:00 GMT", now.Add(-time.Hour).Format(http.TimeFormat),
		"Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Wed, 01 Jan 2025 00:00:00 PST",
		"5\x00", "\t7\r\n",
		// Found by this target: a date more than 24 hours ahead was not capped as delay seconds
		// are ("Fri, 31 Dec 9999 23:59:59 GMT" gave 2562047h47m16s).
		now.Add(48 * time.Hour).Format(http.TimeFormat), "Fri, 31 Dec 9999 23:59:59 GMT",
	} {
		f.Add(s, now.Unix())
	}
	f.Fuzz(func(t *testing.T, s string, unix int64) {
		// now within two centuries of 1970, so that the dates of the seeds are near it.
		now := time.Unix(unix%(200*365*24*3600), 0).UTC()
		d, ok := parseRetryAfter(s, now)
		if !ok {
			if d != 0 {
				t.Fatalf("parseRetryAfter(%q) refused but returned %v", s, d)
			}
		} else if d < 0 || d > maxRetryAfterHeader {
			t.Fatalf("parseRetryAfter(%q, %v) = %v: want 0 ≤ d ≤ %v", s, now, d, maxRetryAfterHeader)
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64); err == nil && n <= uint64(maxRetryAfterHeader/time.Second) {
			if !ok || d != time.Duration(n)*time.Second {
				t.Fatalf("parseRetryAfter(%q) = %v, %v; want %ds", s, d, ok, n)
			}
		}
		// Asked an hour later, the same header is accepted and the wait is no longer.
		later, ok2 := parseRetryAfter(s, now.Add(time.Hour))
		if ok2 != ok || later > d {
			t.Fatalf("parseRetryAfter(%q): %v, %v now but %v, %v an hour later", s, d, ok, later, ok2)
		}
	})
}

// FuzzNormalizeETag: normalisation only removes (it returns a substring of its input); any
// result that checkETag accepts — the only results ever used — is a fixed point, and a safe
// etag comes back unchanged from every form a server may wrap it in (quoted, weak, padded).
//
// normalizeETag is not idempotent on inputs that are not entity tags (`""abc""` gives `"abc"`,
// then `abc`); those results hold a quote, a space or "W/" and checkETag refuses them, so only
// one round of unwrapping is ever trusted.
func FuzzNormalizeETag(f *testing.F) {
	for _, s := range []string{
		// from TestParsers
		`W/"abc"`, `"abc"`, "abc", ` W/"a-b" `, `"`,
		// real etags (git blob ids, LFS SHA-256) and hostile ones
		`"0123456789abcdef0123456789abcdef01234567"`,
		`W/"` + strings.Repeat("AB", 32) + `"`, `""`, `W/""`, `W/`, `w/"x"`, `""abc""`, `W/"W/"abc""`,
		`"../../snapshots/x"`, `"sha256:../../../evil"`, `"abc.incomplete"`, "\"a\x00b\"", `" abc "`,
		"\t\"abc\"\n", `"abc`, `abc"`, strings.Repeat("a", 129),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := normalizeETag(s)
		if !strings.Contains(s, n) {
			t.Fatalf("normalizeETag(%q) = %q, which is not part of the input", s, n)
		}
		if checkETag(n) {
			if again := normalizeETag(n); again != n {
				t.Fatalf("normalizeETag not idempotent on an accepted etag: %q → %q → %q", s, n, again)
			}
			if strings.ContainsAny(n, `./\: "`) || filepath.Base(n) != n || !filepath.IsLocal(n) || strings.HasSuffix(n, ".incomplete") {
				t.Fatalf("normalizeETag(%q) = %q passes checkETag but is not a plain blob name", s, n)
			}
		}
		if !checkETag(s) {
			return
		}
		// A safe etag survives every wrapping unchanged.
		for _, w := range []string{s, `"` + s + `"`, `W/"` + s + `"`, `w/"` + s + `"`, " \t" + `W/"` + s + `"` + "\r\n"} {
			if got := normalizeETag(w); got != s {
				t.Fatalf("normalizeETag(%q) = %q, want %q", w, got, s)
			}
		}
	})
}

// FuzzParseMeta: the headers of a HEAD answer. Accepted metadata has a 40-hex lowercase commit,
// an etag safe as a blob name (from X-Linked-Etag before ETag), a non-negative size (from
// X-Linked-Size, or Content-Length of a 200 only), and a Location exactly for a redirect;
// anything else is an ErrBadResponse *Error with a hint, quoting server strings safely.
func FuzzParseMeta(f *testing.F) {
	const (
		commit = "0123456789abcdef0123456789abcdef01234567"
		oid    = "fedcba9876543210fedcba9876543210fedcba98"
		sha    = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
		cdn    = "https://cdn-lfs.example.com/lfs/" + sha + "?X-Amz-Signature=s3cr3t"
	)
	type hdr struct {
		status                                          int
		commit, etag, linkedEtag, linkedSize, cl, where string
	}
	seeds := []hdr{
		// what the fake Hub answers: a small file (200) and an LFS file (302 to the CDN)
		{200, commit, `"` + oid + `"`, "", "", "1234", ""},
		{302, commit, `W/"` + oid + `"`, `"` + sha + `"`, "5000", "", cdn},
		{307, commit, `"` + oid + `"`, "", "", "12", "/other/name/resolve/main/file.bin"},
		{200, strings.ToUpper(commit), `W/"` + strings.ToUpper(sha) + `"`, "", "", " 0 ", ""},
		// TestMetadataFaults
		{200, "", `"` + oid + `"`, "", "", "10", ""},
		{200, "abc123", `"` + oid + `"`, "", "", "10", ""},
		{200, "../../../../../../tmp/evil-commit-0000000", `"` + oid + `"`, "", "", "10", ""},
		{200, commit, "", "", "", "10", ""},
		{302, commit, "", "", "5000", "", cdn},
		{302, commit, `"` + oid + `"`, `"sha256:../../../evil"`, "5000", "", cdn},
		{200, commit, `"../../snapshots/x"`, "", "", "10", ""},
		{200, commit, `"abc.incomplete"`, "", "", "10", ""},
		{302, commit, `"` + oid + `"`, `"` + sha + `"`, "", "99", cdn},
		{302, commit, `"` + oid + `"`, `"` + sha + `"`, "-5", "", cdn},
		{302, commit, `"` + oid + `"`, `"` + sha + `"`, "lots", "", cdn},
		{302, commit, `"` + oid + `"`, `"` + sha + `"`, "5000", "", "file:///etc/passwd"},
		// more hostile values
		{200, commit + "\x00", `"` + oid + `"`, "", "", "10", ""},
		{200, commit, "\"a\x1b[2Jb\"", "", "", "10", ""},
		{200, commit, `"` + oid + `"`, "", "", "9223372036854775808", ""},
		{200, commit, `"` + oid + `"`, "", "", "+7", ""},
		{302, commit, `"` + oid + `"`, `"` + sha + `"`, "5000", "", "http://[::1"},
		{404, commit, `"` + oid + `"`, "", "", "10", ""},
	}
	for _, s := range seeds {
		f.Add(s.status, s.commit, s.etag, s.linkedEtag, s.linkedSize, s.cl, s.where)
	}
	base, _ := url.Parse("https://huggingface.co/org/name/resolve/main/file.bin?token=x")
	f.Fuzz(func(t *testing.T, status int, commit, etag, linkedEtag, linkedSize, cl, where string) {
		h := http.Header{}
		for k, v := range map[string]string{"X-Repo-Commit": commit, "Etag": etag, "X-Linked-Etag": linkedEtag,
			"X-Linked-Size": linkedSize, "Content-Length": cl, "Location": where} {
			if v != "" {
				h[k] = []string{v}
			}
		}
		resp := &http.Response{StatusCode: status, Header: h, Request: &http.Request{Method: http.MethodHead, URL: base}}
		m, err := parseMeta(resp, base)
		if err != nil {
			if m != nil {
				t.Fatalf("parseMeta returned both %+v and %v", m, err)
			}
			e := hubError(t, err, ErrBadResponse)
			if e.Status != status || strings.Contains(e.URL, "token") {
				t.Fatalf("error %q: status %d (want %d), URL %q (query must be dropped)", err, e.Status, status, e.URL)
			}
			return
		}
		if !isCommit(m.Commit) || m.Commit != strings.ToLower(strings.TrimSpace(commit)) {
			t.Fatalf("commit %q accepted as %q", commit, m.Commit)
		}
		raw := linkedEtag
		if raw == "" {
			raw = etag
		}
		if !checkETag(m.ETag) || m.ETag != normalizeETag(raw) {
			t.Fatalf("etag %q (X-Linked-Etag %q) accepted as %q", etag, linkedEtag, m.ETag)
		}
		blobs := filepath.Join(string(filepath.Separator)+"cache", "blobs")
		if p := filepath.Join(blobs, m.ETag); filepath.Dir(p) != blobs {
			t.Fatalf("etag %q leaves blobs/: %s", m.ETag, p)
		}
		size := linkedSize
		if size == "" {
			if status != http.StatusOK {
				t.Fatalf("status %d without X-Linked-Size accepted with size %d (Content-Length %q)", status, m.Size, cl)
			}
			size = cl
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(size), 10, 64); err != nil || n != m.Size || m.Size < 0 {
			t.Fatalf("size %q accepted as %d", size, m.Size)
		}
		if isRedirect(status) != (m.Location != nil) {
			t.Fatalf("status %d gave Location %v", status, m.Location)
		}
		if m.Location != nil {
			want, err := base.Parse(where)
			if err != nil || m.Location.String() != want.String() {
				t.Fatalf("Location %q resolved to %v, want %v", where, m.Location, want)
			}
		}
	})
}
