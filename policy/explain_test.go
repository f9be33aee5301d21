package policy

import (
	"errors"
	"reflect"
	"testing"
)

func TestExplainSkipped(t *testing.T) {
	r := NewRouter(testConfig())
	for _, tc := range []struct {
		name        string
		req         Request
		wantProfile string
		wantSkipped []string
		wantErr     error
	}{
		{"disabled route skipped", Request{Sender: "a@legacy.example.com", Recipient: "b@y.com"}, "support",
			[]string{"route #3 skipped: profile old is disabled"}, nil},
		{"missing route skipped", Request{Sender: "a@ghost.example.com", Recipient: "b@y.com"}, "office365",
			[]string{"route #7 skipped: profile nosuch does not exist"}, nil},
		{"header and team default skipped", Request{HeaderProfile: "old", Team: "ops", Sender: "a@x.com", Recipient: "b@y.com"}, "office365",
			[]string{"X-Relay-Profile skipped: profile old is disabled", "team ops default skipped: profile old is disabled"}, nil},
		{"not allowed for team", Request{Team: "restricted", Sender: "a@legacy.example.com", Recipient: "b@y.com"}, "support",
			[]string{"route #3 skipped: profile old is disabled"}, nil},
		{"nothing left", Request{Team: "restricted", Sender: "a@x.com", Recipient: "b@y.com"}, "",
			[]string{"system default skipped: profile office365 is not in team restricted's profiles"}, ErrNoProfile},
		{"nothing skipped", Request{Sender: "a@x.com", Recipient: "b@y.com"}, "office365", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, skipped, err := r.Explain(tc.req)
			if !errors.Is(err, tc.wantErr) || d.Profile != tc.wantProfile {
				t.Fatalf("Explain = %q, %v; want %q, %v", d.Profile, err, tc.wantProfile, tc.wantErr)
			}
			var got []string
			for _, s := range skipped {
				got = append(got, s.String())
			}
			if !reflect.DeepEqual(got, tc.wantSkipped) {
				t.Errorf("skipped %q, want %q", got, tc.wantSkipped)
			}
			rd, rerr := r.Route(tc.req)
			if rd != d || !errors.Is(rerr, tc.wantErr) {
				t.Errorf("Route = %+v, %v; Explain = %+v, %v", rd, rerr, d, err)
			}
		})
	}
}

// TestExplainAgreesWithRoute: for every combination of the test config's
// teams, header values, senders and recipients, Explain decides as Route.
func TestExplainAgreesWithRoute(t *testing.T) {
	r := NewRouter(testConfig())
	teams := []string{"", "sales", "ops", "wide", "restricted", "gone", "ghost"}
	headers := []string{"", "support", "old", "nosuch", "office365"}
	senders := []string{"", "a@sales.example.com", "a@legacy.example.com", "billing-01@example.com", "a@ghost.example.com", "a@x.com"}
	rcpts := []string{"vip@x.com", "a@example.org", "a@support.example.net", "a@y.com"}
	for _, tm := range teams {
		for _, h := range headers {
			for _, s := range senders {
				for _, rc := range rcpts {
					req := Request{Sender: s, Team: tm, Recipient: rc, HeaderProfile: h}
					d1, err1 := r.Route(req)
					d2, _, err2 := r.Explain(req)
					if d1 != d2 || (err1 == nil) != (err2 == nil) {
						t.Errorf("%+v: Route %+v %v, Explain %+v %v", req, d1, err1, d2, err2)
					}
				}
			}
		}
	}
}
