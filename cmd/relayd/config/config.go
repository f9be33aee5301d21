// Package config is relayd's configuration file: finding it (docs/relayd.8.md, FILES),
// the TOML schema, decoding, extends, defaults, validation and warnings
// (docs/relayd.toml.5.md), the embedded default (default.toml), and the translation into
// what the other packages take.
//
// It sits at the start of the data flow, wired by cmd/relayd:
//
//	TOML file → config.File (Load) → relay.Config (File.Relay), which
//	carries policy.Config and upstream's settings to the relay
//
// Load runs, in order: decode (decode.go; unknown keys and bad values,
// with lines), resolveExtends (extends.go), setDefaults (defaults.go),
// validate (validate*.go; also reads every certificate, key and secret
// the file names). (*File).Relay (relay.go) then translates the result
// into relay.Config.
//
// Names: File is one whole file as decoded and checked; each TOML table
// has its type (Server, Admin, RelayTable, Listener, Team, User,
// ProfileTable, OAuth2, Route, DKIM, Notify, Cluster, Attachments,
// Sendmail). ProfileTable is one [[profile]] table as written, then
// completed by extends and defaults; relay.Profile is what the relay
// delivers with, built from it by File.Relay (the names differ so that
// neither reads as the other). Every problem found is an Error with the
// file, line and key; Load returns all of them as Errors. Messages never
// carry a secret.
package config

import (
	_ "embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// defaultTOML is the embedded default configuration (docs/relayd.toml.5.md,
// EMBEDDED DEFAULT).
//
//go:embed default.toml
var defaultTOML string

const (
	// SystemPath is used when neither -config nor $RELAYD_CONFIG is
	// given and the file exists.
	SystemPath = "/etc/relayd/relayd.toml"
	// Env names the config path when -config is not given.
	Env = "RELAYD_CONFIG"
	// embeddedName stands for the embedded default in messages.
	embeddedName = "embedded default"
	// maxConfigFile bounds what Load reads.
	maxConfigFile = 16 << 20
)

// Load reads, checks and defaults the configuration at path; "" loads the
// embedded default. On success it returns the File and any warnings (each
// "PATH:LINE: key: message"), for check-config to print and serve to log.
// On failure the error is an Errors listing every problem found (or a
// plain error when the file cannot be read), and the warnings found so far
// are returned with it. No error text contains a secret.
func Load(path string) (*File, []string, error) {
	return LoadWith(path, LoadMode{Full: true})
}

// LoadMode says which secrets LoadWith reads (a command reads only
// the secrets it uses, so `relayd route` works while another profile's
// password_env is unset) and whether it checks the config against the
// machine's state (the spool's encryption, transcript files).
// The zero LoadMode reads no profile's secrets.
type LoadMode struct {
	Full    bool   // serve and check-config: every secret and every check
	Profile string // otherwise: the one profile whose secrets are read ("" none)
	// Check is check-config's: an unset password_env or client_secret_env
	// variable is a warning, not an error. The admin's shell lacks the
	// variables the systemd unit gives serve (EnvironmentFile).
	Check bool
	// Login is `relayd oauth login`'s: the profile's secrets are read,
	// but its refresh_token_file need not exist yet.
	Login bool
}

// secretUse is how the secrets of one profile are treated.
type secretUse int

const (
	secretSkip  secretUse = iota // not read
	secretRead                   // read; an unset variable is an error
	secretCheck                  // read; an unset variable is a warning
	secretLogin                  // read, except refresh_token_file, which login writes
)

// The listeners' TLS keys are read only with full; DKIM keys with full or
// a profile (relayd test -send signs); [admin] token_file always (the queue
// commands send it).

// secretsOf says how the secrets of profile name are treated.
func (m LoadMode) secretsOf(name string) secretUse {
	switch {
	case m.Full && m.Check:
		return secretCheck
	case m.Login && name != "" && name == m.Profile:
		return secretLogin
	case m.Full || name != "" && name == m.Profile:
		return secretRead
	}
	return secretSkip
}

// LoadWith is Load reading only what mode asks for. A File loaded without
// mode.Full lacks the secrets it did not read and must not be served.
func LoadWith(path string, mode LoadMode) (*File, []string, error) {
	if path == "" {
		return load(embeddedName, "", []byte(defaultTOML), 0o600, mode)
	}
	b, perm, err := readSmallFile(path, maxConfigFile)
	if err != nil {
		return nil, nil, err
	}
	return load(path, path, b, perm, mode)
}

// Embedded returns the embedded default configuration, loaded like a file.
func Embedded() (*File, error) {
	f, _, err := Load("")
	return f, err
}

// load is Load on data already read. perm is the file's permission bits,
// for the literal-password warning.
func load(name, path string, data []byte, perm fs.FileMode, mode LoadMode) (*File, []string, error) {
	p := newProblems(name)
	f := decode(p, string(data))
	if f == nil {
		return nil, nil, p.result()
	}
	f.Path, f.name, f.mode = path, name, mode
	p.nameProfiles(f)
	resolveExtends(f, p)
	setDefaults(f, hostname())
	validate(f, p)
	if path != "" {
		checkLiteralSecrets(f, perm, configReaders(path, perm), p)
	}
	if err := p.result(); err != nil {
		return nil, p.warningTexts(), err
	}
	return f, p.warningTexts(), nil
}

// Name is how messages name the config at path: the path, or "embedded
// default" for "".
func Name(path string) string {
	if path == "" {
		return embeddedName
	}
	return path
}

// hostname is the default server.hostname.
func hostname() string {
	h, err := os.Hostname()
	if err != nil || !validHostname(h) {
		return defaultHostname
	}
	return h
}

// Resolve finds the configuration file (docs/relayd.8.md, FILES): flagPath
// (-config), else envPath ($RELAYD_CONFIG), else systemPath
// (/etc/relayd/relayd.toml) if it exists, else the embedded default,
// returned as "". A path given by -config or $RELAYD_CONFIG that does not
// exist is an error (exit 2), never a silent fall-back.
func Resolve(flagPath, envPath, systemPath string) (string, error) {
	for _, c := range []struct{ path, from string }{{flagPath, "-config"}, {envPath, "$" + Env}} {
		if c.path == "" {
			continue
		}
		if _, err := os.Stat(c.path); errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("config file %s (from %s) does not exist", c.path, c.from)
		}
		return c.path, nil
	}
	if _, err := os.Stat(systemPath); err == nil {
		return systemPath, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return systemPath, nil // exists but unreadable: let Load say why
	}
	return "", nil
}
