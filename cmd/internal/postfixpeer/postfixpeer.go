// Package postfixpeer starts a private, throw-away Postfix instance: the
// real Postfix that relayd is measured against (cmd/relayd-bench) and
// tested with (cmd/relayd's interop tests). It is the one place that knows
// how such an instance is set up.
//
// What it sets up, all under Options.Dir: etc/main.cf and etc/master.cf
// (Debian's services, no chroot, smtpd only on 127.0.0.1:SMTPPort),
// spool/ (the queue), data/ (owned by Postfix's mail_owner), maillog (the
// log: no syslog needed) and, with SASL, etc/sasl/smtpd.conf and a Cyrus
// sasldb. main.cf is a null client: loopback only, no local delivery,
// every message relayed to Options.RelayHost, Postfix's defaults otherwise
// (it fsyncs each queue file before its 250); callers add their own
// settings (Options.Settings). The system's Postfix and its queue are never
// touched, and everything listens on 127.0.0.1.
//
// What it needs: root (postfix start refuses anything else), and Debian's
// postfix package (/usr/sbin/postfix, postconf, sendmail); with SASL also
// sasl2-bin (saslpasswd2) and libsasl2-modules. Missing reports the first
// thing lacking, with the package to install: the interop tests skip on it
// locally and fail under CI=true; the benchmark stops with it.
//
// Names: an Instance is one running private Postfix; Start starts it and
// Stop stops it (stop, then abort, then SIGKILL of its own master).
package postfixpeer

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Options configure a private Postfix. Dir and RelayHost are required.
type Options struct {
	// Dir is the instance's directory, created with mode 0755 (Postfix's
	// unprivileged daemons traverse it). The caller removes it.
	Dir string
	// SMTPPort is the port of smtpd on 127.0.0.1; 0 = no smtpd (mail is
	// injected with Sendmail only).
	SMTPPort int
	// RelayHost is main.cf's relayhost, e.g. "[127.0.0.1]:2525": every
	// message goes there.
	RelayHost string
	// Hostname and Domain are myhostname and mydomain; "" =
	// "postfix.localdomain" and Hostname without its first label.
	Hostname, Domain string
	// Comment is the comment at the top of main.cf (lines without "# ").
	Comment string
	// Settings are further main.cf lines ("key = value"), written after
	// the common ones.
	Settings []string
	// TLSCert and TLSKey are PEM files: smtpd offers STARTTLS with them
	// (smtpd_tls_security_level = may). "" = no TLS.
	TLSCert, TLSKey string
	// SASL, when set, makes smtpd relay only for clients that
	// authenticated (PLAIN or LOGIN, after STARTTLS) as this user.
	SASL *SASL
}

// SASL is the one account of a private Postfix's Cyrus sasldb.
type SASL struct {
	User, Realm, Password string
}

// Instance is one running private Postfix. Its methods are safe for use
// by one goroutine at a time.
type Instance struct {
	dir    string
	etc    string
	master int // the master's pid
	addr   string
}

// Missing reports what a private Postfix needs that this machine lacks:
// what is missing and the Debian package that brings it, or "", "" when
// nothing is. sasl: also what Options.SASL needs.
func Missing(sasl bool) (what, pkg string) {
	for _, name := range []string{"postfix", "postconf"} {
		if _, err := Tool(name); err != nil {
			return name, "postfix"
		}
	}
	if sasl {
		if _, err := Tool("saslpasswd2"); err != nil {
			return "saslpasswd2", "sasl2-bin"
		}
		if m, _ := filepath.Glob("/usr/lib/*/sasl2/libplain.so*"); len(m) == 0 {
			return "Cyrus SASL PLAIN/LOGIN plugins", "libsasl2-modules"
		}
	}
	if os.Geteuid() != 0 {
		return "root (a private Postfix instance is started as root)", "postfix (and run as root)"
	}
	return "", ""
}

// Tool returns the path of one of Postfix's programs (or saslpasswd2):
// from PATH, else from /usr/sbin, /usr/bin or /sbin, where Debian puts
// them.
func Tool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH, /usr/sbin, /usr/bin or /sbin: install it (apt-get install postfix)", name)
}

// Start writes the configuration under o.Dir, runs `postfix check` and
// `postfix start` on it and waits (bounded) for the master's pid file and,
// with o.SMTPPort, for smtpd to listen. On an error the instance is
// stopped again; the error says which step failed and includes the
// maillog when there is one. Root only.
func Start(o Options) (*Instance, error) {
	if o.Dir == "" || o.RelayHost == "" {
		return nil, errors.New("postfixpeer: Options.Dir and Options.RelayHost are required")
	}
	if what, pkg := Missing(o.SASL != nil); what != "" {
		return nil, fmt.Errorf("a private Postfix needs %s: apt-get install %s", what, pkg)
	}
	p := &Instance{dir: o.Dir, etc: filepath.Join(o.Dir, "etc")}
	if o.SMTPPort != 0 {
		p.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(o.SMTPPort))
	}
	if err := p.configure(o); err != nil {
		return nil, err
	}
	if err := p.start(); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// configure makes the directories and writes main.cf, master.cf and, with
// SASL, the sasldb.
func (p *Instance) configure(o Options) error {
	for _, d := range []string{"", "etc", "etc/sasl", "spool", "data"} {
		if err := os.MkdirAll(filepath.Join(p.dir, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(p.dir, 0o755); err != nil { // Postfix's daemons read the config and sasldb
		return err
	}
	if o.SASL != nil {
		if err := p.writeSASL(o.SASL); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(p.etc, "main.cf"), []byte(MainCF(o)), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(p.etc, "master.cf"), []byte(MasterCF(o.SMTPPort)), 0o644); err != nil {
		return err
	}
	return p.chownPostfix(filepath.Join(p.dir, "data")) // master.lock lives here
}

// start runs postfix check and start and waits for the master and smtpd.
func (p *Instance) start() error {
	if out, err := p.postfix("check"); err != nil {
		return fmt.Errorf("postfix check in %s failed: %v\n%s\n(postfix reports details only on a terminal or in its log:\n%s)",
			p.etc, err, out, p.Maillog())
	}
	if out, err := p.postfix("start"); err != nil {
		return fmt.Errorf("postfix start in %s failed: %v\n%s\n%s", p.etc, err, out, p.Maillog())
	}
	pidFile := filepath.Join(p.dir, "spool", "pid", "master.pid")
	if !waitFor(10*time.Second, func() bool { p.master = readPIDFile(pidFile); return p.master > 0 }) {
		return fmt.Errorf("postfix wrote no master pid to %s within 10 s\n%s", pidFile, p.Maillog())
	}
	if p.addr != "" && !waitFor(20*time.Second, func() bool { return listening(p.addr) }) {
		return fmt.Errorf("postfix smtpd not listening on %s after 20 s\n%s", p.addr, p.Maillog())
	}
	return nil
}

// Dir is the instance's directory (Options.Dir).
func (p *Instance) Dir() string { return p.dir }

// ConfigDir is its configuration directory, for `postfix -c` and
// `sendmail -C`.
func (p *Instance) ConfigDir() string { return p.etc }

// Master is the pid of its master process.
func (p *Instance) Master() int { return p.master }

// Addr is smtpd's address, "127.0.0.1:PORT"; "" without Options.SMTPPort.
func (p *Instance) Addr() string { return p.addr }

// Queued counts the files still in the instance's queue directories.
func (p *Instance) Queued() int {
	n := 0
	for _, q := range []string{"incoming", "active", "deferred", "maildrop", "hold"} {
		filepath.WalkDir(filepath.Join(p.dir, "spool", q), func(_ string, d fs.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				n++
			}
			return nil
		})
	}
	return n
}

// Sendmail injects one message with Postfix's sendmail(1) into this
// instance: `sendmail -C DIR/etc -f from -- to`, msg on its input.
func (p *Instance) Sendmail(from, to, msg string) error {
	bin, err := Tool("sendmail")
	if err != nil {
		return err
	}
	out, err := run(msg, bin, "-C", p.etc, "-f", from, "--", to)
	if err != nil {
		return fmt.Errorf("sendmail -C %s: %v\n%s\n%s", p.etc, err, out, p.Maillog())
	}
	return nil
}

// Maillog returns the instance's log so far.
func (p *Instance) Maillog() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "maillog"))
	return string(b)
}

// WaitLog returns the log once it contains want, or whatever it holds
// after within: Postfix's smtp client writes its "status=sent" line only
// after the 250 that a caller may already have seen at the upstream.
func (p *Instance) WaitLog(want string, within time.Duration) string {
	var log string
	waitFor(within, func() bool { log = p.Maillog(); return strings.Contains(log, want) })
	return log
}

// Stop stops the instance: `postfix stop`, up to 10 s for the master to
// exit, then `postfix abort`, up to 5 s, then SIGKILL of the master this
// instance started. Calling it again is harmless.
func (p *Instance) Stop() {
	if _, err := os.Stat(p.etc); err != nil {
		return
	}
	p.postfix("stop")
	if p.master <= 0 {
		return
	}
	gone := func() bool { return !alive(p.master) }
	if waitFor(10*time.Second, gone) {
		return
	}
	p.postfix("abort")
	if !waitFor(5*time.Second, gone) {
		syscall.Kill(p.master, syscall.SIGKILL)
	}
}

// postfix runs `postfix -c DIR/etc verb`.
func (p *Instance) postfix(verb string) (string, error) {
	bin, err := Tool("postfix")
	if err != nil {
		return "", err
	}
	return run("", bin, "-c", p.etc, verb)
}

// writeSASL writes Cyrus' smtpd.conf (Debian's Postfix reads it from
// config_directory/sasl) and a sasldb with the one account.
func (p *Instance) writeSASL(s *SASL) error {
	sasldb := filepath.Join(p.dir, "sasldb2")
	conf := fmt.Sprintf("pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: %s\n", sasldb)
	if err := os.WriteFile(filepath.Join(p.etc, "sasl", "smtpd.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	bin, err := Tool("saslpasswd2")
	if err != nil {
		return err
	}
	if out, err := run(s.Password, bin, "-c", "-p", "-f", sasldb, "-u", s.Realm, s.User); err != nil {
		return fmt.Errorf("saslpasswd2 for %s@%s failed: %v\n%s", s.User, s.Realm, err, out)
	}
	return p.chownPostfix(sasldb)
}

// chownPostfix gives path to Postfix's mail_owner.
func (p *Instance) chownPostfix(path string) error {
	owner := "postfix"
	if bin, err := Tool("postconf"); err == nil {
		if out, err := run("", bin, "-d", "-h", "mail_owner"); err == nil && strings.TrimSpace(out) != "" {
			owner = strings.TrimSpace(out)
		}
	}
	u, err := user.Lookup(owner)
	if err != nil {
		return fmt.Errorf("postfix mail_owner %q is not a user: %w", owner, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	return os.Chown(path, uid, -1)
}

// run runs a program with stdin in the C locale, bounded by 60 s, and
// returns its combined output.
func run(stdin, bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s did not finish within 60 s: %w", filepath.Base(bin), ctx.Err())
	}
	return string(out), err
}
