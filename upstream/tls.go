package upstream

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// tlsConfig is the client TLS configuration of SPEC §8.1: the certificate
// must name serverName (the profile's host, or the MX host) and chain to
// RootCAs (nil = system roots), unless tls_verify = false.
func tlsConfig(prof *Profile, serverName string) *tls.Config {
	return &tls.Config{
		ServerName:         serverName,
		RootCAs:            prof.RootCAs,
		InsecureSkipVerify: !prof.TLSVerify, //nolint:gosec // the admin chose tls_verify = false
	}
}

// describeTLS turns a handshake error into the reason and what to do
// (SPEC §8.4 "TLS failure → the certificate or protocol reason").
func describeTLS(err error) string {
	var (
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
		alert    tls.AlertError
	)
	switch {
	case isTimeout(err):
		return "timeout during the TLS handshake"
	case errors.As(err, &unknown):
		return fmt.Sprintf("the certificate is signed by an unknown authority (%v): set ca_file to the CA "+
			"that issued it, or tls_verify = false if the network is trusted", unknown.Error())
	case errors.As(err, &hostname):
		return fmt.Sprintf("the certificate does not match the host name (%v): set host to a name "+
			"the certificate carries, or tls_verify = false if the network is trusted", hostname.Error())
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Sprintf("the certificate has expired or is not yet valid (%v): the server's "+
			"certificate must be renewed (or check the clock); tls_verify = false only as a stopgap", invalid.Error())
	case errors.As(err, &invalid):
		return fmt.Sprintf("the certificate is not valid (%v): set ca_file, or tls_verify = false "+
			"if the network is trusted", invalid.Error())
	case errors.As(err, &record):
		return "the server did not answer with TLS (tls: first record does not look like a TLS handshake): " +
			"the port expects plain SMTP; use tls = \"starttls-required\" (ports 25/587) or the TLS port (465)"
	case errors.As(err, &alert):
		return fmt.Sprintf("the server aborted the TLS handshake (%v): the TLS versions or ciphers "+
			"may not match, or it wants a client certificate", err)
	}
	return fmt.Sprintf("TLS handshake failed (%v)", err)
}
