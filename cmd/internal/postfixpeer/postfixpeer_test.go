package postfixpeer

import (
	"bufio"
	"net"
	"os"
	"strings"
	"testing"
)

func TestMainCF(t *testing.T) {
	got := MainCF(Options{Dir: "/w", RelayHost: "[127.0.0.1]:2626", Comment: "one\ntwo",
		Settings: []string{"queue_run_delay = 1s"}, TLSCert: "/w/c.pem", TLSKey: "/w/k.pem",
		SASL: &SASL{User: "u", Realm: "r", Password: "p"}})
	for _, want := range []string{"# one\n# two\ncompatibility_level = 3.6\n", "queue_directory = /w/spool\n",
		"myhostname = postfix.localdomain\nmydomain = localdomain\n", "relayhost = [127.0.0.1]:2626\n",
		"biff = no\nmaillog_file_prefixes = /w\nqueue_run_delay = 1s\nsmtpd_tls_security_level = may\nsmtpd_tls_cert_file = /w/c.pem\n",
		"smtpd_relay_restrictions = permit_sasl_authenticated, reject\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("main.cf lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "permit_mynetworks, reject") || strings.Contains(got, "p\n") {
		t.Errorf("main.cf with SASL relays for mynetworks or holds the password:\n%s", got)
	}
	if m := MasterCF(0); !strings.HasPrefix(m, "pickup ") {
		t.Errorf("master.cf without smtpd starts %q", m[:20])
	}
}

// TestStart starts a real private Postfix: smtpd answers 220 on Addr, the
// queue is empty, and Stop ends its master.
func TestStart(t *testing.T) {
	if what, pkg := Missing(false); what != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("postfixpeer: %s not available: apt-get install %s", what, pkg)
		}
		t.Skipf("postfixpeer: %s not available (apt-get install %s)", what, pkg)
	}
	dir, err := os.MkdirTemp("", "postfixpeer-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	p, err := Start(Options{Dir: dir, SMTPPort: port, RelayHost: "[127.0.0.1]:9", Hostname: "peer.test"})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	c.Close()
	if err != nil || !strings.HasPrefix(line, "220 peer.test") {
		t.Errorf("greeting %q, %v; want 220 peer.test", line, err)
	}
	if n := p.Queued(); n != 0 {
		t.Errorf("Queued = %d, want 0", n)
	}
	p.Stop()
	if alive(p.Master()) {
		t.Errorf("master %d still alive after Stop", p.Master())
	}
}
