package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestE2EOfflineTryIt is the README's first try of the embedded default on
// a machine without network: the embedded default as it is, but on free
// ports and with its direct profile's resolver on a closed loopback port
// (so that any DNS lookup fails instead of reaching the system resolver).
// A message from and to .invalid addresses is accepted and bounces at
// once, with a plain diagnosis and no DNS lookup; the bounce to the
// .invalid sender is dropped and logged, and nothing stays queued.
func TestE2EOfflineTryIt(t *testing.T) {
	b, err := os.ReadFile("config/default.toml") // the embedded default
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for _, r := range [][2]string{
		{`state_dir = "./relayd-data"`, `state_dir = "@DIR@/relayd-data"`},
		{`listen = "127.0.0.1:9425"`, fmt.Sprintf(`listen = "127.0.0.1:%d"`, freePort(t))},
		{`address        = "127.0.0.1:2525"`, fmt.Sprintf(`address = "127.0.0.1:%d"`, freePort(t))},
	} {
		if !strings.Contains(cfg, r[0]) {
			t.Fatalf("the embedded default has no %s; adapt the test:\n%s", r[0], cfg)
		}
		cfg = strings.Replace(cfg, r[0], r[1], 1)
	}
	cfg += "resolver = \"127.0.0.1:1\"\n"
	p := startRelayd(t, cfg)
	msg := "From: app@example.invalid\r\nTo: someone@example.invalid\r\nSubject: try\r\n\r\nhello\r\n"
	res, err := sendMail(p.smtpAddr, "app@example.invalid", []string{"someone@example.invalid"}, msg, 10*time.Second)
	if err != nil {
		t.Fatalf("not accepted: %v (%q)", err, res.Reply)
	}
	var item struct {
		Recipients []struct {
			State     string `json:"state"`
			LastError string `json:"last_error"`
		} `json:"recipients"`
	}
	err = poll(10*time.Second, func() (bool, error) {
		if err := json.Unmarshal([]byte(httpGet(t, "http://"+p.adminAddr+"/api/v1/queue/"+res.QueueID)), &item); err != nil {
			return false, err
		}
		return len(item.Recipients) == 1 && item.Recipients[0].State == "bounced", nil
	})
	if err != nil {
		t.Fatalf("not bounced: %v %+v", err, item)
	}
	if d := item.Recipients[0].LastError; !strings.Contains(d, "example.invalid does not exist: .invalid is reserved") {
		t.Errorf("diagnosis %q", d)
	}
	if err := poll(10*time.Second, func() (bool, error) {
		return strings.Contains(p.out.String(), "bounce dropped: null sender and no [notify] bounces"), nil
	}); err != nil {
		t.Errorf("the bounce of the bounce was not dropped and logged:\n%s", p.out)
	}
	if m := p.metrics(t); !strings.Contains(m, `relayd_deliveries_total{profile="direct",result="bounced"} 2`) {
		t.Errorf("want 2 bounced deliveries (the message and its DSN):\n%s", grepLines(m, "relayd_deliveries_total"))
	}
}
