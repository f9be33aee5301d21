package main

import (
	"maps"
	"strings"
	"testing"

	"github.com/relayd/relayd/cmd/internal/postfixpeer"
)

// settings parses main.cf into its key = value settings.
func settings(t *testing.T, mainCF string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(mainCF, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, " =")
		if !ok {
			t.Fatalf("main.cf line %q is not key = value", line)
		}
		if _, dup := m[k]; dup {
			t.Errorf("main.cf sets %s twice", k)
		}
		m[k] = strings.TrimSpace(v)
	}
	return m
}

// TestBenchPostfixMainCF: the benchmark's Postfix (in the default -workdir
// /var/tmp) has exactly the main.cf settings of the shell harness it
// replaced (and of relayd-bench before package postfixpeer), so its
// numbers mean what they meant.
func TestBenchPostfixMainCF(t *testing.T) {
	const was = `compatibility_level = 3.6
queue_directory = /var/tmp/w/postfix/spool
data_directory = /var/tmp/w/postfix/data
maillog_file = /var/tmp/w/postfix/maillog
myhostname = relaybench.localdomain
mydomain = localdomain
myorigin = $myhostname
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery disabled
alias_maps =
alias_database =
relayhost = [127.0.0.1]:2626
smtpd_relay_restrictions = permit_mynetworks, reject
biff = no
`
	got := settings(t, postfixpeer.MainCF(benchPostfix("/var/tmp/w/postfix", 2525, 2626)))
	if want := settings(t, was); !maps.Equal(got, want) {
		t.Errorf("main.cf settings\n got %v\nwant %v", got, want)
	}
	if m := postfixpeer.MasterCF(2525); !strings.HasPrefix(m, "127.0.0.1:2525 inet n - n - - smtpd\npickup ") {
		t.Errorf("master.cf starts %q", m[:60])
	}
}
