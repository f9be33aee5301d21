package relay

import (
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/relayd/relayd/policy"
)

// TestSendmailSocket: a session on the sendmail socket takes the team that
// unix_users gives the connecting user (SO_PEERCRED), else the listener's
// team ([sendmail] team); AUTH is not offered; Received: names the user.
func TestSendmailSocket(t *testing.T) {
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		unixUsers map[string]string
		wantTeam  string
	}{
		{"unix_users", map[string]string{me.Username: "ops", "someone-else": "sales"}, "ops"},
		{"[sendmail] team", map[string]string{"someone-else": "ops"}, "sales"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig("127.0.0.1:1")
			cfg.Policy.Teams = []policy.Team{{Name: "ops"}, {Name: "sales"}}
			sm := cfg.Listeners[0]
			sm.Name, sm.Network, sm.Address, sm.Auth, sm.Team = "sendmail", "unix", filepath.Join(t.TempDir(), "sendmail.sock"), "none", "sales"
			sm.Sendmail, sm.UnixUsers = true, tc.unixUsers
			cfg.Listeners = append(cfg.Listeners, sm)
			r := startRelay(t, cfg)
			if fi, err := os.Stat(sm.Address); err != nil || fi.Mode().Perm() != 0o666 {
				t.Fatalf("socket mode: %v %v, want 0666", fi.Mode(), err)
			}

			conn, err := net.DialTimeout("unix", sm.Address, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c := smtp.NewClient(conn)
			defer c.Close()
			if err := c.Hello("client.test"); err != nil {
				t.Fatal(err)
			}
			if ok, _ := c.Extension("AUTH"); ok {
				t.Error("AUTH offered on the sendmail socket")
			}
			if err := c.Mail("app@example.com", nil); err != nil {
				t.Fatal(err)
			}
			if err := c.Rcpt("a@example.net", nil); err != nil {
				t.Fatal(err)
			}
			w, err := c.Data()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprint(w, "Subject: s\r\n\r\nhi\r\n")
			resp, err := w.CloseWithResponse()
			if err != nil {
				t.Fatal(err)
			}
			_, id, _ := strings.Cut(resp.StatusText, "Ok: queued as ")
			m, err := r.store.Get(id)
			if err != nil {
				t.Fatal(err)
			}
			if m.Team != tc.wantTeam {
				t.Errorf("team %q, want %q", m.Team, tc.wantTeam)
			}
			body, err := r.store.Body(id)
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("Received: from local user %s (uid %d) by relay.test (relayd) with ESMTP id %s", me.Username, os.Getuid(), id)
			unfolded := strings.NewReplacer("\r\n ", " ", "\r\n\t", " ").Replace(string(body))
			if !strings.HasPrefix(unfolded, want) {
				t.Errorf("Received: %q, want it to start %q", strings.SplitN(unfolded, "\r\n", 2)[0], want)
			}
		})
	}
}
