package relay

import (
	"bytes"
	"net"
	"net/mail"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"golang.org/x/crypto/bcrypt"

	"github.com/relayd/relayd/policy"
	"github.com/relayd/relayd/spool"
)

// twoUpstreams is a relay with profiles "a" (system default) and "b", each
// relaying to its own sink, and a team "sales" whose default is "b".
func twoUpstreams(t *testing.T) (*Config, *sink, *sink) {
	t.Helper()
	sa, sb := newSink(t), newSink(t)
	cfg := baseConfig(sa.addr)
	delete(cfg.Profiles, "sink")
	cfg.Profiles["a"] = profileFor("a", sa.addr)
	cfg.Profiles["b"] = profileFor("b", sb.addr)
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw-crm"), bcrypt.MinCost)
	cfg.Users = map[string]User{"crm": {Team: "sales", PasswordHash: string(hash)}}
	cfg.Policy = policy.Config{DefaultProfile: "a", Enabled: map[string]bool{"a": true, "b": true},
		Teams: []policy.Team{{Name: "sales", DefaultProfile: "b",
			Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}}}}
	return cfg, sa, sb
}

func profileFor(name, addr string) *Profile {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return sinkProfile(name, host, p)
}

// sendAs submits a message with optional AUTH and a local address.
func sendAs(t *testing.T, addr, local string, auth sasl.Client, from string, to []string, body string) (*smtp.DataResponse, error) {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := smtp.NewClient(nc)
	defer c.Close()
	if err := c.Hello("client.test"); err != nil {
		t.Fatal(err)
	}
	if auth != nil {
		if err := c.Auth(auth); err != nil {
			return nil, err
		}
	}
	if err := c.Mail(from, nil); err != nil {
		return nil, err
	}
	for _, a := range to {
		if err := c.Rcpt(a, nil); err != nil {
			return nil, err
		}
	}
	w, err := c.Data()
	if err != nil {
		return nil, err
	}
	w.Write([]byte(body))
	return w.CloseWithResponse()
}

func TestTeamByAuthUser(t *testing.T) {
	for _, tc := range []struct {
		mech string
		auth sasl.Client
	}{
		{"PLAIN", sasl.NewPlainClient("", "crm", "pw-crm")},
		{"LOGIN", sasl.NewLoginClient("crm", "pw-crm")},
	} {
		t.Run(tc.mech, func(t *testing.T) {
			cfg, sa, sb := twoUpstreams(t)
			r := startRelay(t, cfg)
			if _, err := sendAs(t, r.addr, "", tc.auth, "crm@example.com", []string{"x@example.org"}, simpleBody); err != nil {
				t.Fatal(err)
			}
			m := sb.wait()
			if !bytes.Contains(m.Data, []byte("authenticated as crm")) || !bytes.Contains(m.Data, []byte("ESMTPA")) {
				t.Errorf("Received lacks the AUTH state:\n%s", m.Data)
			}
			sa.none(r)
		})
	}
}

func TestBadAuthIsRefusedAndSlowed(t *testing.T) {
	cfg, _, _ := twoUpstreams(t)
	r := startRelay(t, cfg)
	start := time.Now()
	_, err := sendAs(t, r.addr, "", sasl.NewPlainClient("", "crm", "wrong"), "crm@example.com", []string{"x@example.org"}, simpleBody)
	var se *smtp.SMTPError
	if !errorsAs(err, &se) || se.Code != 535 || se.EnhancedCode != (smtp.EnhancedCode{5, 7, 8}) {
		t.Fatalf("bad password: %v, want 535 5.7.8", err)
	}
	if time.Since(start) < time.Second {
		t.Errorf("failed AUTH answered after %v, want >= 1s", time.Since(start))
	}
}

func TestTeamByNetwork(t *testing.T) {
	cfg, sa, sb := twoUpstreams(t)
	r := startRelay(t, cfg)
	if _, err := sendAs(t, r.addr, "127.0.0.2", nil, "app@example.com", []string{"x@example.org"}, simpleBody); err != nil {
		t.Fatal(err)
	}
	sb.wait()
	if _, err := sendAs(t, r.addr, "127.0.0.1", nil, "app@example.com", []string{"x@example.org"}, simpleBody); err != nil {
		t.Fatal(err)
	}
	sa.wait()
	sa.none(r)
	sb.none(r)
}

func TestSenderGlobRouteAndSplitDelivery(t *testing.T) {
	cfg, sa, sb := twoUpstreams(t)
	cfg.Policy.Routes = []policy.Route{{Index: 1, Recipient: "*@example.net", Profile: "b"},
		{Index: 2, Sender: "*@SALES.example.com", Profile: "b"}}
	r := startRelay(t, cfg)
	send(t, r.addr, "app@example.com", []string{"one@example.org", "two@example.net", "three@example.org"}, simpleBody)
	ma, mb := sa.wait(), sb.wait()
	if strings.Join(ma.To, ",") != "one@example.org,three@example.org" || strings.Join(mb.To, ",") != "two@example.net" {
		t.Fatalf("split: a=%v b=%v", ma.To, mb.To)
	}
	if !bytes.Equal(stripReceived(ma.Data), stripReceived(mb.Data)) {
		t.Errorf("the two deliveries of one message differ")
	}
	id := send(t, r.addr, "boss@sales.example.com", []string{"x@example.org"}, simpleBody)
	sb.wait()
	m, _ := r.store.Get(id)
	if m.Recipients[0].Rule != "route #2" || m.Recipients[0].Profile != "b" {
		t.Errorf("recorded decision %q %q", m.Recipients[0].Profile, m.Recipients[0].Rule)
	}
}

func stripReceived(b []byte) []byte { return b[bytes.Index(b, []byte("\r\nFrom:")):] }

func TestRelayProfileHeaderOnlyWhenAllowed(t *testing.T) {
	body := "X-Relay-Profile: b\r\n" + simpleBody
	for _, allow := range []bool{false, true} {
		t.Run("allow="+strconv.FormatBool(allow), func(t *testing.T) {
			cfg, sa, sb := twoUpstreams(t)
			cfg.Listeners[0].AllowProfileHeader = allow
			r := startRelay(t, cfg)
			send(t, r.addr, "app@example.com", []string{"x@example.org"}, body)
			got, other := sa, sb
			if allow {
				got, other = sb, sa
			}
			m := got.wait()
			if bytes.Contains(m.Data, []byte("X-Relay-Profile")) {
				t.Errorf("X-Relay-Profile not removed")
			}
			other.none(r)
		})
	}
}

func TestNoEnabledProfileIs451(t *testing.T) {
	cfg, _, _ := twoUpstreams(t)
	cfg.Policy.Enabled = map[string]bool{"a": false, "b": false}
	cfg.Profiles["a"].Enabled, cfg.Profiles["b"].Enabled = false, false
	r := startRelay(t, cfg)
	c := dialRaw(t, r.addr)
	c.greet()
	c.cmd("MAIL FROM:<app@example.com>\r\n")
	got := c.cmd("RCPT TO:<x@example.org>\r\n")
	if !strings.HasPrefix(got, "451 4.3.5") || !strings.Contains(got, "app@example.com") || !strings.Contains(got, "x@example.org") {
		t.Fatalf("RCPT with no profile: %q", got)
	}
}

func TestReloadDisablingProfileReroutesQueuedMail(t *testing.T) {
	cfg, sa, sb := twoUpstreams(t)
	cfg.Profiles["b"].SendDelay = time.Hour
	cfg.Policy.Routes = []policy.Route{{Index: 1, Recipient: "*@example.org", Profile: "b"}}
	r := startRelay(t, cfg)
	c2 := *cfg
	id := send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody) // routed to b, delayed
	if m, _ := r.store.Get(id); m.Recipients[0].Profile != "b" {
		t.Fatalf("routed to %q", m.Recipients[0].Profile)
	}
	b := *cfg.Profiles["b"]
	b.Enabled = false
	c3 := c2
	c3.Profiles = map[string]*Profile{"a": cfg.Profiles["a"], "b": &b}
	c3.Policy.Enabled = map[string]bool{"a": true, "b": false}
	if err := r.srv.Reload(&c3); err != nil {
		t.Fatal(err)
	}
	r.advance(time.Hour)
	m := sa.wait()
	if len(m.To) != 1 {
		t.Fatalf("re-routed delivery %v", m.To)
	}
	got := r.waitState(id, spool.StateSent)
	if got.Recipients[0].Profile != "a" || got.Recipients[0].Rule != "system default" {
		t.Errorf("after re-route: profile %q rule %q", got.Recipients[0].Profile, got.Recipients[0].Rule)
	}
	sb.none(r)
}

func TestImmediateModePassesPermanentFailureThrough(t *testing.T) {
	cfg, sa, _ := twoUpstreams(t)
	cfg.Profiles["a"].Immediate = true
	sa.set(func() { sa.onRcpt = func(string) error { return errPerm } })
	r := startRelay(t, cfg)
	_, err := sendAs(t, r.addr, "", nil, "app@example.com", []string{"x@example.org"}, simpleBody)
	var se *smtp.SMTPError
	if !errorsAs(err, &se) || se.Code != 550 || se.EnhancedCode != (smtp.EnhancedCode{5, 1, 1}) ||
		!strings.HasPrefix(se.Message, "a: ") || !strings.Contains(se.Message, "no such user") {
		t.Fatalf("immediate 550: %v", err)
	}
	sa.none(r) // no DSN for a failure the client was told about
}

func TestImmediateModeSuccessAndTemporary(t *testing.T) {
	cfg, sa, _ := twoUpstreams(t)
	cfg.Profiles["a"].Immediate = true
	r := startRelay(t, cfg)
	resp, err := sendAs(t, r.addr, "", nil, "app@example.com", []string{"x@example.org"}, simpleBody)
	if err != nil || resp.StatusText == "" {
		t.Fatalf("immediate success: %v", err)
	}
	sa.wait()
	sa.set(func() { sa.onData = func(int) error { return errTemp } })
	resp, err = sendAs(t, r.addr, "", nil, "app@example.com", []string{"x@example.org"}, simpleBody)
	if err != nil || !strings.Contains(resp.StatusText, "queued for retry") || !strings.Contains(resp.StatusText, "451") {
		t.Fatalf("immediate temporary: %+v %v", resp, err)
	}
}

func TestFallbackDeliversWhilePrimaryDown(t *testing.T) {
	cfg, sa, sb := twoUpstreams(t)
	cfg.Profiles["a"].Fallback = []string{"b"}
	r := startRelay(t, cfg)
	// Primary down: connection refused. Closed only now, so that the
	// relay's own listeners cannot be given its port (they were, once in
	// ~100 runs, and the message went to the relay itself).
	sa.srv.Close()
	id := send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody)
	sb.wait()
	m := r.waitState(id, spool.StateSent)
	if m.Recipients[0].Profile != "b" {
		t.Errorf("delivered through %q", m.Recipients[0].Profile)
	}
}

func TestHeaderRewritesReachUpstream(t *testing.T) {
	cfg, sa, _ := twoUpstreams(t)
	cfg.Profiles["a"].Rewrite = policy.Rewrite{FromAddress: "system@example.com", RewriteHeaderFrom: true,
		DefaultReplyTo: "help@example.com"}
	r := startRelay(t, cfg)
	send(t, r.addr, "app@example.com", []string{"x@example.org"}, simpleBody)
	m := sa.wait()
	if m.From != "system@example.com" {
		t.Errorf("envelope from %q", m.From)
	}
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	from, _ := mail.ParseAddress(msg.Header.Get("From"))
	if from == nil || from.Address != "system@example.com" || from.Name != "App" {
		t.Errorf("From %q", msg.Header.Get("From"))
	}
	if rt, _ := mail.ParseAddress(msg.Header.Get("Reply-To")); rt == nil || rt.Address != "app@example.com" {
		t.Errorf("Reply-To %q, want the original From", msg.Header.Get("Reply-To"))
	}
}
