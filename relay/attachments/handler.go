package attachments

import (
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// Handler is the download server of [attachments] listen: GET and HEAD of
// /a/<token>/<file name> answer the stored file with its original type as
// a download (Range requests through http.ServeContent); an unknown token
// answers 404, an expired or revoked one 410. The file name in the path is
// for the person and the browser; the token alone finds the file. Every
// request is logged, without the token (it is the capability). The links
// are served under base_url's path and, for a reverse proxy that strips
// that path, at the root.
func (s *Store) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /a/{token}/{name...}", s.download)
	if u, err := url.Parse(s.opts.BaseURL); err == nil && strings.Trim(u.Path, "/") != "" {
		mux.HandleFunc("GET /"+strings.Trim(u.Path, "/")+"/a/{token}/{name...}", s.download)
	}
	return mux
}

func (s *Store) download(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	m, f, ok := s.lookup(token)
	log := s.log.With("method", r.Method, "remote", r.RemoteAddr, "range", r.Header.Get("Range"))
	if !ok {
		s.metrics.downloads.WithLabelValues(resultNotFound).Inc()
		log.Info("attachment download", "result", resultNotFound, "status", http.StatusNotFound)
		http.Error(w, "No file is stored under this link. Check that the link was copied whole.", http.StatusNotFound)
		return
	}
	log = log.With("msg_id", m.MessageID, "file", f.Name)
	gone := func(why string) {
		s.metrics.downloads.WithLabelValues(resultExpired).Inc()
		log.Info("attachment download", "result", resultExpired, "status", http.StatusGone, "why", why)
		http.Error(w, "This download link has "+why+". Ask the sender for the file again.", http.StatusGone)
	}
	if f.Revoked {
		gone("been revoked")
		return
	}
	if m.Removed || !s.now().Before(m.Expires) {
		gone("expired")
		return
	}
	fh, err := s.open(&f)
	if err != nil {
		log.Error("stored attachment unreadable", "err", err)
		gone("expired") // removed by GC or revoked meanwhile
		return
	}
	defer fh.Close()
	h := w.Header()
	if f.Type == "" {
		f.Type = "application/octet-stream"
	}
	h.Set("Content-Type", f.Type)
	h.Set("Content-Disposition", disposition(f.Name))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "sandbox")
	h.Set("Cache-Control", "private, no-store")
	s.metrics.downloads.WithLabelValues(resultOK).Inc()
	log.Info("attachment download", "result", resultOK, "size", f.Size)
	http.ServeContent(w, r, "", m.Created, io.NewSectionReader(fh, f.Off, f.Size))
}

// open opens the file that holds f's content (its segment, or an older
// relayd's file of its own). The caller reads f.Size octets at f.Off.
func (s *Store) open(f *file) (*os.File, error) {
	if f.Seg == 0 {
		return os.Open(filepath.Join(s.files, f.Token))
	}
	return os.Open(s.segs.path(f.Seg))
}

// disposition is Content-Disposition: attachment with the file name,
// RFC 2231-encoded when it is not plain ASCII (mime.FormatMediaType).
func disposition(name string) string {
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
		return v
	}
	return "attachment"
}
