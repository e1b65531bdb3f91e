package detect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/audittrail/audittrail/schema"
)

// withLuhn completes the digits of prefix with the Luhn check digit.
func withLuhn(prefix string) string {
	for d := '0'; d <= '9'; d++ {
		if c := prefix + string(d); luhn([]byte(c)) {
			return c
		}
	}
	panic("unreachable")
}

// makeIBAN computes the check digits of an IBAN (ISO 13616).
func makeIBAN(cc, bban string) string {
	var n strings.Builder
	for _, c := range bban + cc + "00" {
		if c >= 'A' && c <= 'Z' {
			fmt.Fprint(&n, int(c-'A'+10))
		} else {
			n.WriteRune(c)
		}
	}
	v, _ := new(big.Int).SetString(n.String(), 10)
	check := 98 - new(big.Int).Mod(v, big.NewInt(97)).Int64()
	return fmt.Sprintf("%s%02d%s", cc, check, bban)
}

func makeJWT(header, payload string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(header)) + "." + enc([]byte(payload)) + ".c2lnbmF0dXJlLWJ5dGVzLWhlcmU"
}

// repeatJoin formats n values with f and joins them as a JSON list.
func repeatJoin(n int, f func(i int) string) string {
	vals := make([]string, n)
	for i := range vals {
		vals[i] = `"` + f(i) + `"`
	}
	return "[" + strings.Join(vals, ",") + "]"
}

func TestSensitiveKinds(t *testing.T) {
	jwt := makeJWT(`{"alg":"HS256","typ":"JWT"}`, `{"sub":"1234567890","name":"Jane"}`)
	emails := func(n int) string {
		return repeatJoin(n, func(i int) string { return fmt.Sprintf("user%d@example.com", i) })
	}
	ssns := func(n int) string {
		return repeatJoin(n, func(i int) string { return fmt.Sprintf("%03d-%02d-%04d", 101+i, 12+i, 3456+i) })
	}
	ibans := func(n int) string {
		return repeatJoin(n, func(i int) string { return makeIBAN("DE", fmt.Sprintf("37040044053201300%d", i)) })
	}
	cases := []struct {
		name string
		body string
		want map[string]int // kind → count; nil: no finding
	}{
		{"visa", `{"card":"4111111111111111"}`, map[string]int{"card_number": 1}},
		{"visa grouped", `{"card":"4111 1111 1111 1111"}`, map[string]int{"card_number": 1}},
		{"mastercard dashed", `{"card":"5500-0000-0000-0004"}`, map[string]int{"card_number": 1}},
		{"mastercard 2-series", `pan=2223003122003222;`, map[string]int{"card_number": 1}},
		{"amex 4-6-5", `Amex 3782 822463 10005 on file`, map[string]int{"card_number": 1}},
		{"discover", `{"n":6011111111111117}`, map[string]int{"card_number": 1}},
		{"jcb", `"3530111333300000"`, map[string]int{"card_number": 1}},
		{"diners", `36227206271667`, map[string]int{"card_number": 1}},
		{"unionpay", `6200000000000005`, map[string]int{"card_number": 1}},
		{"two cards in csv", "4111111111111111,5500000000000004\n4111111111111111", map[string]int{"card_number": 2}},
		{"card json escaped", `{"card":"4111\u002d1111\u002d1111\u002d1111"}`, map[string]int{"card_number": 1}},
		{"luhn fails", `{"order":"4111111111111112"}`, nil},
		{"no network", `{"n":"1234567812345670"}`, nil},
		{"13 digit visa-like ean", `{"ean":"4222222222222"}`, nil},
		{"inside longer run", `{"n":"41111111111111110"}`, nil},
		{"inside token", `{"id":"tok_4111111111111111"}`, nil},
		{"dashed id", `{"id":"ORD-4111111111111111"}`, nil},
		{"decimal", `{"x":0.4111111111111111}`, nil},
		{"phone with plus", `{"phone":"+4111111111111111"}`, nil},
		{"uuid", `{"id":"41111111-1111-1111-1111-111111111111"}`, nil},
		{"bad groups", `{"c":"4111 11111 1111 111"}`, nil},
		{"mixed separators", `{"c":"4111-1111 1111-1111"}`, nil},
		{"masked", `{"c":"411111******1111","d":"**** **** **** 1111"}`, nil},
		{"epoch millis", `{"ts":1718035200123,"us":1718035200123456}`, nil},
		{"identifiers, one card-like", `{"ids":[4111111111111111,1234567890123456,2345678901234567,3456789012345678,5678901234567890,6789012345678901]}`, nil},
		{"five stored cards", `{"cards":["4111111111111111","5500000000000004","4242424242424242","1234567890123456","2345678901234567"]}`, map[string]int{"card_number": 3}},
		{"identifiers and a grouped card", `{"ids":[1234567890123456,2345678901234567,3456789012345678,5678901234567890,6789012345678901],"card":"4111 1111 1111 1111"}`, map[string]int{"card_number": 1}},

		{"aws key id", `{"AccessKeyId":"AKIAIOSFODNN7EXAMPLE"}`, map[string]int{"aws_access_key_id": 1}},
		{"aws temporary key id", `AccessKeyId: ASIAY34FZKBOKMUTVV7A`, map[string]int{"aws_access_key_id": 1}},
		{"aws key id too long", `{"k":"AKIAIOSFODNN7EXAMPLE1"}`, nil},
		{"aws key id lower", `{"k":"AKIAiosfodnn7example"}`, nil},
		{"aws secret", `{"SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`, map[string]int{"aws_secret_access_key": 1}},
		{"aws secret env", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n", map[string]int{"aws_secret_access_key": 1}},
		{"aws secret xml", `<SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY</SecretAccessKey>`, map[string]int{"aws_secret_access_key": 1}},
		{"secret unlabelled", `{"token":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`, nil},
		{"secret hex digest", `{"secret":"3f786850e387550fdab836ed7e6dc881de23001b"}`, nil},
		{"secret too long", `{"secret":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEYX"}`, nil},
		{"client secret", `{"client_secret":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`, nil},

		{"rsa private key", "-----BEGIN RSA PRIVATE KEY-----\nMIIEow...\n-----END RSA PRIVATE KEY-----", map[string]int{"private_key": 1}},
		{"pkcs8 in json", `{"pem":"-----BEGIN PRIVATE KEY-----\nMIIEvQ...\n-----END PRIVATE KEY-----\n"}`, map[string]int{"private_key": 1}},
		{"openssh and ec", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----BEGIN EC PRIVATE KEY-----\nMHc", map[string]int{"private_key": 2}},
		{"pgp", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQ", map[string]int{"private_key": 1}},
		{"public key", "-----BEGIN PUBLIC KEY-----\nMIIBIj\n-----END PUBLIC KEY-----", nil},
		{"certificate", "-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----", nil},

		{"jwt", `{"session":"` + jwt + `"}`, map[string]int{"jwt": 1}},
		{"jwt alg none", `{"t":"` + strings.TrimSuffix(makeJWT(`{"alg":"none"}`, `{"sub":"x"}`), "c2lnbmF0dXJlLWJ5dGVzLWhlcmU") + `"}`, map[string]int{"jwt": 1}},
		{"jwt twice", jwt + " " + jwt, map[string]int{"jwt": 1}},
		{"base64 json cursor", `{"next":"eyJwYWdlIjoyLCJzaXplIjo1MH0"}`, nil},
		{"jwt-like without alg", `{"t":"` + makeJWT(`{"typ":"JWT"}`, `{"sub":"x"}`) + `"}`, nil},
		{"jwt-like not json", `{"t":"eyJub3QganNvbg.eyJzdWIiOiJ4In0.c2ln"}`, nil},

		{"bulk emails", `{"users":` + emails(10) + `}`, map[string]int{"email": 10}},
		{"few emails", `{"users":` + emails(9) + `}`, nil},
		{"one email many times", strings.Repeat(`{"from":"support@example.com"}`, 20), nil},
		{"image names", `{"i":["logo@2x.png","icon@3x.png","a@1x.jpg","b@2x.webp","c@2x.png","d@2x.png","e@2x.png","f@2x.png","g@2x.png","h@2x.png","i@2x.png"]}`, nil},
		{"bulk ssn", `{"ssn":` + ssns(10) + `}`, map[string]int{"us_ssn": 10}},
		{"invalid ssn", `{"ssn":["000-12-3456","666-12-3456","900-12-3456","123-00-4567","123-45-0000","078-05-1120","219-09-9999","123-45-6789","1123-45-6789","123-45-67890"]}`, nil},
		{"bulk iban", `{"accounts":` + ibans(10) + `}`, map[string]int{"iban": 10}},
		{"iban grouped", strings.Repeat("", 0) + `x ` + strings.Join([]string{"DE89 3704 0044 0532 0130 00", "GB82 WEST 1234 5698 7654 32", "FR14 2004 1010 0505 0001 3M02 606", "NL91ABNA0417164300", "ES9121000418450200051332", "IT60X0542811101000000123456", "BE68539007547034", "CH9300762011623852957", makeIBAN("AT", "1904300234573201"), makeIBAN("PL", "109010140000071219812874")}, " ; "), map[string]int{"iban": 10}},
		{"iban bad check", `{"a":["DE89370400440532013001","GB82WEST12345698765433","DE8937040044053201300","XX89370400440532013000"]}`, nil},

		{"sorted kinds", `{"k":"AKIAIOSFODNN7EXAMPLE","card":"4111111111111111","u":` + emails(12) + `}`, map[string]int{"aws_access_key_id": 1, "card_number": 1, "email": 12}},
		{"empty", ``, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Sensitive([]byte(tc.body), SensitiveOptions{})
			if tc.want == nil {
				if got != nil {
					t.Fatalf("got %+v, want nothing", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("got %d findings %+v, want 1", len(got), got)
			}
			f := got[0]
			if f.Type != schema.FindingSensitiveDataExposure || f.Evidence.Location != "response.body" || !slices.IsSorted(f.Evidence.Kinds) {
				t.Errorf("finding %+v", f)
			}
			gotKinds := map[string]int{}
			for i, k := range f.Evidence.Kinds {
				gotKinds[k] = f.Evidence.Counts[i]
			}
			if fmt.Sprint(gotKinds) != fmt.Sprint(tc.want) {
				t.Errorf("kinds %v, want %v", gotKinds, tc.want)
			}
			high := false
			for k := range tc.want {
				high = high || !bulkKind(k)
			}
			if want := map[bool]string{true: "high", false: "medium"}[high]; f.Severity != want {
				t.Errorf("severity %s, want %s", f.Severity, want)
			}
		})
	}
}

// TestSensitiveFinding checks a whole finding, and that it holds no
// value.
func TestSensitiveFinding(t *testing.T) {
	body := `{"card":"4111111111111111","k":"AKIAIOSFODNN7EXAMPLE","ssn":` +
		repeatJoin(10, func(i int) string { return fmt.Sprintf("%03d-45-%04d", 120+i, 1000+i) }) + `}`
	got := Sensitive([]byte(body), SensitiveOptions{})
	want := []schema.Finding{{
		Type:     "sensitive_data_exposure",
		Severity: "high",
		Reason:   "Sensitive data in the response body: 1 aws_access_key_id, 1 card_number, 10 us_ssn.",
		Evidence: schema.Evidence{Location: "response.body", Kinds: []string{"aws_access_key_id", "card_number", "us_ssn"}, Counts: []int{1, 1, 10}},
	}}
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if string(gj) != string(wj) {
		t.Fatalf("got  %s\nwant %s", gj, wj)
	}
	for _, v := range []string{"4111", "AKIA", "120-45"} {
		if strings.Contains(string(gj), v) {
			t.Errorf("finding holds %q", v)
		}
	}
}

func TestSensitiveOptions(t *testing.T) {
	body := []byte(`{"card":"4111111111111111","u":` + repeatJoin(5, func(i int) string { return fmt.Sprintf("u%d@example.org", i) }) + `}`)
	kinds := func(f []schema.Finding) []string {
		if len(f) == 0 {
			return nil
		}
		return f[0].Evidence.Kinds
	}
	for _, tc := range []struct {
		name string
		opt  SensitiveOptions
		want []string
	}{
		{"defaults", SensitiveOptions{}, []string{"card_number"}},
		{"bulk threshold", SensitiveOptions{BulkThreshold: 5}, []string{"card_number", "email"}},
		{"kinds", SensitiveOptions{BulkThreshold: 5, Kinds: []string{"email"}}, []string{"email"}},
		{"no kinds", SensitiveOptions{Kinds: []string{}}, nil},
		{"unknown kind", SensitiveOptions{Kinds: []string{"nope"}}, nil},
		{"max bytes", SensitiveOptions{MaxBytes: 20}, nil},
	} {
		if got := kinds(Sensitive(body, tc.opt)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: kinds %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := SensitiveKinds(); !slices.IsSorted(got) || len(got) != 8 {
		t.Errorf("SensitiveKinds() = %v", got)
	}
}

// TestSensitivePathological: inputs built to make a scanner slow give an
// answer (their time is measured by BenchmarkSensitivePathological).
func TestSensitivePathological(t *testing.T) {
	for _, in := range sensitivePathological() {
		got := Sensitive([]byte(in.s), SensitiveOptions{MaxBytes: 1 << 20})
		for _, f := range got {
			if len(f.Evidence.Kinds) != len(f.Evidence.Counts) {
				t.Errorf("%s: %+v", in.name, f)
			}
		}
	}
}

func sensitivePathological() []pathological {
	const mib = 1 << 20
	return []pathological{
		{"digits", strings.Repeat("4", mib)},
		{"grouped digits", strings.Repeat("4111 ", mib/5)},
		{"at signs", strings.Repeat("a@", mib/2)},
		{"email-ish", strings.Repeat("a.b@c.", mib/6)},
		{"eyJ", strings.Repeat("eyJ.", mib/4)},
		{"begin", strings.Repeat("-----BEGIN ", mib/11)},
		{"secret", strings.Repeat("secret=", mib/7)},
		{"akia", strings.Repeat("AKIA", mib/4)},
		{"backslashes", strings.Repeat(`\u`, mib/2)},
		{"iban-ish", strings.Repeat("DE89 ", mib/5)},
	}
}

func FuzzSensitive(f *testing.F) {
	f.Add([]byte(`{"card":"4111 1111 1111 1111","k":"AKIAIOSFODNN7EXAMPLE","s":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`), 10)
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\n"+makeJWT(`{"alg":"RS256"}`, `{}`)), 1)
	f.Add([]byte(`a@b.co c@d.io 123-45-6780 DE89 3704 0044 0532 0130 00 \u0041\ud83d\ude00\`), 1)
	f.Fuzz(func(t *testing.T, data []byte, threshold int) {
		got := Sensitive(data, SensitiveOptions{BulkThreshold: threshold})
		if len(got) > 1 {
			t.Fatalf("%d findings", len(got))
		}
		for _, f := range got {
			ev := f.Evidence
			if len(ev.Kinds) == 0 || len(ev.Kinds) != len(ev.Counts) || !slices.IsSorted(ev.Kinds) {
				t.Fatalf("bad evidence %+v", ev)
			}
			for i, k := range ev.Kinds {
				if !slices.Contains(SensitiveKinds(), k) || ev.Counts[i] < 1 {
					t.Fatalf("bad kind %q count %d", k, ev.Counts[i])
				}
			}
		}
	})
}

// benchResponse is a realistic response body of about size bytes, with
// nothing to report: order ids, UUIDs, timestamps, phone numbers, one
// contact address.
func benchResponse(size int) []byte {
	var b strings.Builder
	b.WriteString(`{"contact":"support@shop.example.com","orders":[`)
	for i := 0; b.Len() < size-40; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"7f3c2a9e-1b4d-4c8e-9a2f-%012d","number":"%d","placed":"2024-06-10T12:00:%02dZ","ts":%d,"phone":"+1 415 555 %04d","total":"129.90","status":"shipped"}`,
			i, 4000000000000000+int64(i)*7919, i%60, 1718035200000+int64(i), 2671+i%1000)
	}
	b.WriteString(`],"next":"eyJwYWdlIjoyfQ"}`)
	return []byte(b.String())
}

func BenchmarkSensitive(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"1KB", 1 << 10}, {"64KB", 64 << 10}} {
		b.Run(size.name, func(b *testing.B) {
			body := benchResponse(size.n)
			if got := Sensitive(body, SensitiveOptions{}); got != nil {
				b.Fatalf("benign body reported: %+v", got)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				Sensitive(body, SensitiveOptions{})
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/body")
		})
	}
}

func BenchmarkSensitivePathological(b *testing.B) {
	for _, in := range sensitivePathological() {
		b.Run(in.name, func(b *testing.B) {
			body := []byte(in.s)
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				Sensitive(body, SensitiveOptions{MaxBytes: 1 << 20})
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/body")
		})
	}
}

// TestNextMarker: searching by a rarer part of a marker finds every
// occurrence bytes.Index finds, in the same order, overlapping ones and
// those at either end included.
func TestNextMarker(t *testing.T) {
	for _, tc := range []struct {
		marker string
		anchor int
		text   string
	}{
		{"-----BEGIN ", 5, "x------BEGIN -----BEGIN ----BEGIN BEGIN -----BEGIN"},
		{"-----BEGIN ", 5, "-----BEGIN "},
		{"eyJ", 2, "eyJeyJ yJ J eeyJ eyJ"},
		{"eyJ", 2, "J"},
		{"ecret", 1, "secret ecrecret cret ecret"},
		{"ECRET", 1, "SECRET ECRECRET"},
		{"aaa", 1, "aaaaa"},
		{"aaa", 1, "baaaa"}, // a failed check, then a marker one byte on
		{"ab", 0, "abab"},
	} {
		var want []int
		for off := 0; ; {
			i := bytes.Index([]byte(tc.text)[off:], []byte(tc.marker))
			if i < 0 {
				break
			}
			want = append(want, off+i)
			off += i + 1
		}
		var got []int
		for off := 0; ; {
			i := nextMarker([]byte(tc.text), off, tc.marker, tc.anchor)
			if i < 0 {
				break
			}
			got = append(got, i)
			off = i + 1
		}
		if !slices.Equal(got, want) {
			t.Errorf("nextMarker(%q, %q, %d) finds %v, want %v", tc.text, tc.marker, tc.anchor, got, want)
		}
	}
}

// TestCardNumberDigits: the digits come back in the caller's array, the
// separators dropped, and a run that is no card leaves ok false.
func TestCardNumberDigits(t *testing.T) {
	var d [19]byte
	for _, tc := range []struct {
		run, digits string
		ok          bool
	}{
		{"4111 1111 1111 1111", "4111111111111111", true},
		{"4111-1111-1111-1111", "4111111111111111", true},
		{"378282246310005", "378282246310005", true},
		{"4111 1111-1111 1111", "", false}, // two kinds of separator
		{"4111111111111112", "4111111111111112", false},
		{"411111111111", "", false}, // too short
	} {
		n, ok := cardNumber([]byte(tc.run), &d)
		if ok != tc.ok || tc.digits != "" && string(d[:n]) != tc.digits {
			t.Errorf("cardNumber(%q) = %q, %v; want %q, %v", tc.run, d[:n], ok, tc.digits, tc.ok)
		}
	}
}
