package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/BurntSushi/toml"
)

// SendmailClient is what `relayd sendmail` (docs/relayd.8.md) needs from the config
// file. It is read leniently, without Load: a local user may not read the
// secrets, keys and certificates the file names (or the file itself, see
// ReadSendmailClient).
type SendmailClient struct {
	Server struct {
		Hostname string `toml:"hostname"`
		StateDir string `toml:"state_dir"`
	} `toml:"server"`
	Admin struct {
		Listen    *string `toml:"listen"`
		TokenFile string  `toml:"token_file"`
	} `toml:"admin"`
	Sendmail struct {
		Socket string `toml:"socket"`
	} `toml:"sendmail"`

	Path string `toml:"-"` // "" for the embedded default
}

// ReadSendmailClient reads the config at path ("" the embedded default),
// as Resolve found it. A file the caller may not read
// (/etc/relayd/relayd.toml is often private to relayd) gives the defaults:
// the socket in /var/lib/relayd.
func ReadSendmailClient(path string) (*SendmailClient, error) {
	sc := &SendmailClient{Path: path}
	data := []byte(defaultTOML)
	if path != "" {
		b, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrPermission):
			b = nil
		case err != nil:
			return nil, fmt.Errorf("cannot read the config file %s: %v", path, err)
		}
		data = b
	}
	if _, err := toml.Decode(string(data), sc); err != nil {
		return nil, fmt.Errorf("the config file %s is not valid TOML (check it with relayd check-config): %v", Name(path), err)
	}
	if sc.Server.Hostname == "" {
		sc.Server.Hostname = hostname()
	}
	if sc.Server.StateDir == "" {
		sc.Server.StateDir = defaultStateDir
	}
	if sc.Sendmail.Socket == "" {
		sc.Sendmail.Socket = filepath.Join(sc.Server.StateDir, "sendmail.sock")
	}
	return sc, nil
}

// AdminTable is the [admin] table `relayd sendmail -bp` (mailq) lists the
// queue through: listen (default 127.0.0.1:9425) and the bearer token of
// token_file, when the caller may read it.
func (sc *SendmailClient) AdminTable() *Admin {
	a := &Admin{Listen: defaultAdminListen}
	if sc.Admin.Listen != nil {
		a.Listen = *sc.Admin.Listen
	}
	if sc.Admin.TokenFile != "" {
		if b, err := os.ReadFile(sc.Admin.TokenFile); err == nil {
			a.token = trimNewline(b)
		}
	}
	return a
}
