package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// AllowedHost is one entry of [admin] allowed_hosts, or a name the admin
// listener always answers to (its listen address).
type AllowedHost struct {
	Name string // lower case; IPv6 literals without brackets
	Port int    // 0 allows every port
}

// ParseAllowedHost parses an [admin] allowed_hosts entry: "name" (any
// port) or "name:port"; IPv6 literals in brackets when a port is given.
// The error completes a sentence that starts with the entry.
func ParseAllowedHost(s string) (AllowedHost, error) {
	if strings.Contains(s, "://") || strings.ContainsAny(s, "/*?# ") {
		return AllowedHost{}, errors.New("is not a host name: give a name as browsers send it in Host (\"relay.example.com\" or \"relay.example.com:9425\"), without scheme, path or wildcard")
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return AllowedHost{Name: a.String()}, nil
	}
	name, port := s, 0
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return AllowedHost{}, fmt.Errorf("has no valid port after the colon (1-65535)")
		}
		name, port = h, n
	}
	if a, err := netip.ParseAddr(name); err == nil {
		return AllowedHost{Name: a.String(), Port: port}, nil
	}
	if !validHostname(name) {
		return AllowedHost{}, errors.New("is not a host name or IP address")
	}
	return AllowedHost{Name: strings.ToLower(name), Port: port}, nil
}
