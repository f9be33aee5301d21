package postfixpeer

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// MainCF is the main.cf that Start writes for o: the common null-client
// settings (with maillog_file_prefixes = o.Dir when o.Dir is not under
// /var, where Postfix would refuse the log file), then o.Settings, then TLS and the relay restrictions (with
// SASL: authenticated clients only; else permit_mynetworks).
func MainCF(o Options) string {
	host, domain := o.Hostname, o.Domain
	if host == "" {
		host = "postfix.localdomain"
	}
	if domain == "" {
		_, domain, _ = strings.Cut(host, ".")
	}
	var b strings.Builder
	for _, line := range strings.Split(strings.TrimSpace(o.Comment), "\n") {
		if line != "" {
			fmt.Fprintf(&b, "# %s\n", line)
		}
	}
	fmt.Fprintf(&b, mainCFCommon, o.Dir, host, domain, o.RelayHost)
	if !strings.HasPrefix(filepath.Clean(o.Dir), "/var/") {
		// Postfix refuses a maillog_file outside maillog_file_prefixes,
		// by default /var and /dev/stdout.
		fmt.Fprintf(&b, "maillog_file_prefixes = %s\n", o.Dir)
	}
	for _, s := range o.Settings {
		b.WriteString(s + "\n")
	}
	if o.TLSCert != "" {
		fmt.Fprintf(&b, "smtpd_tls_security_level = may\nsmtpd_tls_cert_file = %s\nsmtpd_tls_key_file = %s\nsmtpd_tls_received_header = yes\n",
			o.TLSCert, o.TLSKey)
	}
	if o.SASL != nil {
		b.WriteString("smtpd_sasl_auth_enable = yes\nsmtpd_sasl_type = cyrus\nsmtpd_sasl_path = smtpd\n" +
			"smtpd_tls_auth_only = yes\nsmtpd_sasl_authenticated_header = yes\n" +
			"smtpd_relay_restrictions = permit_sasl_authenticated, reject\n")
	} else {
		b.WriteString("smtpd_relay_restrictions = permit_mynetworks, reject\n")
	}
	return b.String()
}

// mainCFCommon: loopback only, no local delivery, everything to the
// relayhost, the log in a file (maillog_file: no syslog needed).
const mainCFCommon = `compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/data
maillog_file = %[1]s/maillog
myhostname = %[2]s
mydomain = %[3]s
myorigin = $myhostname
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery disabled
alias_maps =
alias_database =
relayhost = %[4]s
biff = no
`

// MasterCF is the master.cf that Start writes: smtpd only on
// 127.0.0.1:smtpPort (none when 0), and Debian's services without chroot.
func MasterCF(smtpPort int) string {
	if smtpPort == 0 {
		return masterCFServices
	}
	return fmt.Sprintf("127.0.0.1:%d inet n - n - - smtpd\n", smtpPort) + masterCFServices
}

const masterCFServices = `pickup    unix  n - n 60    1 pickup
cleanup   unix  n - n -     0 cleanup
qmgr      unix  n - n 300   1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -     - trivial-rewrite
bounce    unix  - - n -     0 bounce
defer     unix  - - n -     0 bounce
trace     unix  - - n -     0 bounce
verify    unix  - - n -     1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -     - proxymap
proxywrite unix - - n -     1 proxymap
smtp      unix  - - n -     - smtp
relay     unix  - - n -     - smtp
showq     unix  n - n -     - showq
error     unix  - - n -     - error
retry     unix  - - n -     - error
discard   unix  - - n -     - discard
local     unix  - n n -     - local
anvil     unix  - - n -     1 anvil
scache    unix  - - n -     1 scache
postlog   unix-dgram n - n - 1 postlogd
`

// waitFor polls cond every 20 ms until it holds (true) or within passed
// (false).
func waitFor(within time.Duration, cond func() bool) bool {
	end := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readPIDFile returns the number in file, 0 when absent or invalid.
func readPIDFile(file string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// listening reports whether addr accepts a TCP connection.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
