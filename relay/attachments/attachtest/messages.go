// Package attachtest builds test messages the way real mail clients build
// them (Thunderbird, Outlook, S/MIME), for the tests of relay/attachments and
// relay. It is imported by tests only.
package attachtest

import (
	"encoding/base64"
	"math/rand"
	"strings"
)

// Content is n deterministic pseudo-random octets.
func Content(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

// Base64 is base64 in 76-character lines with CRLF, as clients write it.
func Base64(b []byte) string {
	s := base64.StdEncoding.EncodeToString(b)
	var out strings.Builder
	for len(s) > 76 {
		out.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	out.WriteString(s + "\r\n")
	return out.String()
}

func CRLF(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

// Thunderbird is multipart/mixed holding a multipart/alternative body and
// two attachments, the second with an RFC 2231 file name.
func Thunderbird(big, small []byte) string {
	return CRLF(`From: Alice <alice@example.com>
To: bob@example.org
Subject: Quarterly report
Message-ID: <0a1b2c3d-tb@example.com>
Date: Tue, 24 Nov 2026 09:00:00 +0000
MIME-Version: 1.0
User-Agent: Mozilla Thunderbird
Content-Language: en-US
Content-Type: multipart/mixed;
 boundary="------------mQz3n0JmWkSdJ5yCvYq0fT4a"

This is a multi-part message in MIME format.
--------------mQz3n0JmWkSdJ5yCvYq0fT4a
Content-Type: multipart/alternative;
 boundary="------------alT7uVwXyZ01"

--------------alT7uVwXyZ01
Content-Type: text/plain; charset=UTF-8; format=flowed
Content-Transfer-Encoding: 7bit

Hello Bob,

the report and the figures are attached.

Alice

--------------alT7uVwXyZ01
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: 7bit

<!DOCTYPE html>
<html><body><p>Hello Bob,</p><p>the report and the figures are attached.</p></body></html>

--------------alT7uVwXyZ01--
--------------mQz3n0JmWkSdJ5yCvYq0fT4a
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64

`) + Base64(big) + CRLF(`--------------mQz3n0JmWkSdJ5yCvYq0fT4a
Content-Type: text/csv; charset=UTF-8; name*=UTF-8''Zahlen%20M%C3%A4rz.csv
Content-Disposition: attachment; filename*=UTF-8''Zahlen%20M%C3%A4rz.csv
Content-Transfer-Encoding: base64

`) + Base64(small) + CRLF(`--------------mQz3n0JmWkSdJ5yCvYq0fT4a--
`)
}

// Outlook is multipart/mixed > multipart/related > (multipart/alternative,
// inline image with Content-ID) plus one attachment: the inline image is
// not an attachment.
func Outlook(img, xlsx []byte) string {
	return CRLF(`From: Carol <carol@example.com>
To: dave@example.org
Subject: Figures
Date: Tue, 24 Nov 2026 09:00:00 +0000
Message-ID: <DB9PR01MB1234@eurprd01.prod.outlook.com>
MIME-Version: 1.0
X-MS-Has-Attach: yes
Content-Type: multipart/mixed;
	boundary="_004_DB9PR01MB1234_"

--_004_DB9PR01MB1234_
Content-Type: multipart/related;
	boundary="_003_DB9PR01MB1234_";
	type="multipart/alternative"

--_003_DB9PR01MB1234_
Content-Type: multipart/alternative;
	boundary="_000_DB9PR01MB1234_"

--_000_DB9PR01MB1234_
Content-Type: text/plain; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

See the chart below.=20

--_000_DB9PR01MB1234_
Content-Type: text/html; charset="us-ascii"
Content-Transfer-Encoding: quoted-printable

<html><body><p>See the chart below.</p><img src=3D"cid:image001.png@01DB3E4F.5A6B7C80"></body></html>

--_000_DB9PR01MB1234_--

--_003_DB9PR01MB1234_
Content-Type: image/png; name="image001.png"
Content-Description: image001.png
Content-Disposition: inline; filename="image001.png"; size=`) + itoa(len(img)) + CRLF(`
Content-ID: <image001.png@01DB3E4F.5A6B7C80>
Content-Transfer-Encoding: base64

`) + Base64(img) + CRLF(`
--_003_DB9PR01MB1234_--

--_004_DB9PR01MB1234_
Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet;
	name="=?utf-8?B?RmlndXJlcyAyMDI2Lnhsc3g=?="
Content-Description: =?utf-8?B?RmlndXJlcyAyMDI2Lnhsc3g=?=
Content-Disposition: attachment;
	filename="=?utf-8?B?RmlndXJlcyAyMDI2Lnhsc3g=?="; size=`) + itoa(len(xlsx)) + CRLF(`
Content-Transfer-Encoding: base64

`) + Base64(xlsx) + CRLF(`
--_004_DB9PR01MB1234_--
`)
}

// Signed is a multipart/signed (S/MIME) message with an attachment.
func Signed(att []byte) string {
	return CRLF(`From: Erin <erin@example.com>
To: frank@example.org
Subject: Signed
MIME-Version: 1.0
Content-Type: multipart/signed; protocol="application/pkcs7-signature"; micalg=sha-256;
 boundary="----SIG0001"

This is an S/MIME signed message

------SIG0001
Content-Type: multipart/mixed; boundary="----MIX0001"

------MIX0001
Content-Type: text/plain; charset=utf-8

Signed contract attached.
------MIX0001
Content-Type: application/pdf; name="contract.pdf"
Content-Disposition: attachment; filename="contract.pdf"
Content-Transfer-Encoding: base64

`) + Base64(att) + CRLF(`------MIX0001--

------SIG0001
Content-Type: application/pkcs7-signature; name="smime.p7s"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="smime.p7s"

MIIBxjCCAW2gAwIBAgIUQ0VSVElGSUNBVEVTSUdOQVRVUkU=

------SIG0001--
`)
}

func itoa(n int) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var b []byte
	for n > 0 {
		b = append([]byte{digits[n%10]}, b...)
		n /= 10
	}
	return string(b)
}
