package config

import (
	"crypto/tls"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Attachments is [attachments] (docs/relayd.toml.5.md): where attachments replaced by
// links are kept and the download server that answers the links.
type Attachments struct {
	BaseURL   string   `toml:"base_url"`
	Listen    string   `toml:"listen"`
	CertFile  string   `toml:"cert_file"`
	KeyFile   string   `toml:"key_file"`
	Dir       string   `toml:"dir"`
	Retention Duration `toml:"retention"`

	tableMeta
	tlsConfig *tls.Config
}

// Default [attachments] listen address.
const defaultAttachmentsListen = "127.0.0.1:9426"

// TLSConfig is the download server's certificate, nil for plain HTTP.
func (a *Attachments) TLSConfig() *tls.Config { return a.tlsConfig }

// Enabled reports whether links are configured (base_url set): then the
// store is opened and the download server runs.
func (a *Attachments) Enabled() bool { return a.BaseURL != "" }

// AttachmentsMode is [[profile]] attachments_as_url: never | oversize | always.
type AttachmentsMode string

// UnmarshalText implements encoding.TextUnmarshaler.
func (v *AttachmentsMode) UnmarshalText(b []byte) error {
	return setEnum((*string)(v), b, "never", "oversize", "always")
}

func attachmentsDefaults(f *File) {
	a := &f.Attachments
	if a.Listen == "" {
		a.Listen = defaultAttachmentsListen
	}
	if a.Dir == "" {
		a.Dir = filepath.Join(f.Server.StateDir, "attachments")
	}
	setDur(&a.tableMeta, "retention", &a.Retention, 30*24*time.Hour)
	for i := range f.Profiles {
		if f.Profiles[i].AttachmentsAsURL == "" {
			f.Profiles[i].AttachmentsAsURL = "never"
		}
	}
}

// validateAttachments checks [attachments] and the profiles' attachment keys.
func validateAttachments(f *File, p *problems) {
	a := &f.Attachments
	m := &a.tableMeta
	var linking *ProfileTable
	for i := range f.Profiles {
		pr := &f.Profiles[i]
		if pr.MaxAttachmentSize < 0 {
			p.err(&pr.tableMeta, "max_attachment_size", "must be 0 (no limit) or a size")
		}
		if pr.AttachmentsAsURL != "never" && linking == nil {
			linking = pr
		}
		if pr.AttachmentsAsURL == "oversize" && pr.MaxAttachmentSize == 0 {
			p.warn(&pr.tableMeta, "attachments_as_url", "\"oversize\" without max_attachment_size links nothing: set the limit")
		}
	}
	if linking != nil && a.BaseURL == "" {
		p.err(&linking.tableMeta, "attachments_as_url", "%q replaces attachments by links, which need [attachments] "+
			"base_url (e.g. \"https://files.example.com/relayd\"): set it, or use \"never\"", string(linking.AttachmentsAsURL))
	}
	if a.BaseURL != "" {
		u, err := url.Parse(a.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			p.err(m, "base_url", "%q is not an http:// or https:// URL without query: links are base_url/a/TOKEN/FILE", a.BaseURL)
		}
	}
	if host, port, err := net.SplitHostPort(a.Listen); err != nil || port == "" || strings.ContainsAny(host, "/ ") {
		p.err(m, "listen", "%q is not host:port (e.g. \"127.0.0.1:9426\")", a.Listen)
	}
	if a.Retention.D() <= 0 {
		p.err(m, "retention", "must be a positive duration such as \"30d\"")
	}
	switch {
	case (a.CertFile == "") != (a.KeyFile == ""):
		p.err(m, "cert_file", "HTTPS needs both cert_file and key_file")
	case a.CertFile != "" && a.Enabled() && f.mode.Full: // the CLI does not read the key
		cfg, err := loadServerTLS(a.CertFile, a.KeyFile)
		if err != nil {
			p.err(m, "cert_file", "%v", err)
		}
		a.tlsConfig = cfg
	}
}
