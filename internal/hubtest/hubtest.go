// Package hubtest serves folders in the HuggingFace Hub's download layout on loopback, for
// tests of code that pulls models: GET/HEAD /ORG/NAME/resolve/REV/FILE with X-Repo-Commit, ETag,
// and, for .safetensors files, the LFS headers X-Linked-Etag (SHA-256) and X-Linked-Size.
package hubtest

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
)

// Server is a fake Hub serving repositories from local folders.
type Server struct {
	*httptest.Server
	repos    map[string]string // ORG/NAME → folder
	Requests atomic.Int64
}

// Commit is the commit id every repository reports.
const Commit = "0123456789abcdef0123456789abcdef01234567"

// New starts a fake Hub serving each repository id from its folder.
func New(repos map[string]string) *Server {
	s := &Server{repos: repos}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.Requests.Add(1)
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 5)
	if len(parts) != 5 || parts[2] != "resolve" {
		http.NotFound(w, r)
		return
	}
	repo, rev, name := parts[0]+"/"+parts[1], parts[3], parts[4]
	dir, ok := s.repos[repo]
	if !ok {
		w.Header().Set("X-Error-Code", "RepoNotFound")
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if rev != "main" && rev != Commit {
		w.Header().Set("X-Error-Code", "RevisionNotFound")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("X-Repo-Commit", Commit)
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil || strings.Contains(name, "..") {
		w.Header().Set("X-Error-Code", "EntryNotFound")
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if strings.HasSuffix(name, ".safetensors") {
		sum := sha256.Sum256(data)
		w.Header().Set("X-Linked-Etag", `"`+hex.EncodeToString(sum[:])+`"`)
		w.Header().Set("X-Linked-Size", strconv.Itoa(len(data)))
	}
	oid := sha1.Sum(append([]byte(fmt.Sprintf("blob %d\x00", len(data))), data...))
	w.Header().Set("ETag", `"`+hex.EncodeToString(oid[:])+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(data)
	}
}
