package buffer

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// decodeBody decodes data with the library's own decoders.
func decodeBody(codec Codec, data []byte) ([]byte, error) {
	switch codec {
	case None:
		return data, nil
	case Zstd:
		dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		defer dec.Close()
		return dec.DecodeAll(data, nil)
	case Gzip:
		r, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(r)
	}
	return nil, fmt.Errorf("no decoder for %q", codec)
}

func mustDecode(t testing.TB, codec Codec, data []byte) []byte {
	t.Helper()
	out, err := decodeBody(codec, data)
	if err != nil {
		t.Fatalf("%s decode: %v", codec, err)
	}
	return out
}

func TestCompressRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 200_000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	var records [][]byte
	for i := range 2000 {
		records = append(records, fmt.Appendf(nil, `{"event":{"id":"%08x","action":"invocation"},"faas":{"name":"orders-api","coldstart":%t}}`, rng.Uint32(), i == 0))
	}
	ndjson := AppendNDJSON(nil, records)
	inputs := map[string][]byte{
		"empty":          {},
		"one byte":       {'x'},
		"record":         records[0],
		"ndjson":         ndjson,
		"incompressible": random,
		"above window":   bytes.Repeat(ndjson, 60), // > 8 MiB, several blocks
	}
	c := NewCompressor()
	prefix := []byte("prefix")
	for _, codec := range []Codec{None, Gzip, Zstd} {
		for name, in := range inputs {
			t.Run(string(codec)+"/"+name, func(t *testing.T) {
				dst := append([]byte(nil), prefix...)
				out, err := c.Compress(dst, codec, in)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.HasPrefix(out, prefix) {
					t.Fatalf("Compress did not append: dst prefix lost")
				}
				got := mustDecode(t, codec, out[len(prefix):])
				if !bytes.Equal(got, in) {
					t.Fatalf("round trip: got %d bytes, want %d", len(got), len(in))
				}
				if codec != None && name == "ndjson" && len(out)-len(prefix) > len(in)/2 {
					t.Errorf("%s compressed %d bytes of records to %d", codec, len(in), len(out)-len(prefix))
				}
			})
		}
	}
}

// An empty body still compresses to a valid, non-empty frame, so a strict
// receiver can decode it.
func TestCompressEmpty(t *testing.T) {
	c := NewCompressor()
	for _, codec := range []Codec{Gzip, Zstd} {
		for _, in := range [][]byte{nil, {}} {
			out, err := c.Compress(nil, codec, in)
			if err != nil {
				t.Fatalf("%s: %v", codec, err)
			}
			if len(out) == 0 {
				t.Fatalf("%s: empty input gave no frame", codec)
			}
			if got := mustDecode(t, codec, out); len(got) != 0 {
				t.Fatalf("%s: empty input decoded to %q", codec, got)
			}
		}
	}
	out, err := c.Compress(nil, None, nil)
	if err != nil || len(out) != 0 {
		t.Fatalf("none: %q, %v", out, err)
	}
}

// Reused encoders keep no state from one body to the next.
func TestCompressReuse(t *testing.T) {
	c := NewCompressor()
	for _, codec := range []Codec{Gzip, Zstd} {
		for i := range 20 {
			in := bytes.Repeat(fmt.Appendf(nil, `{"n":%d}`, i), i*100)
			out, err := c.Compress(nil, codec, in)
			if err != nil {
				t.Fatal(err)
			}
			if got := mustDecode(t, codec, out); !bytes.Equal(got, in) {
				t.Fatalf("%s body %d: round trip differs", codec, i)
			}
		}
	}
}

func TestCompressConcurrent(t *testing.T) {
	c := NewCompressor()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 8 {
		wg.Go(func() {
			codec := []Codec{Gzip, Zstd}[g%2]
			for i := range 50 {
				in := bytes.Repeat(fmt.Appendf(nil, `{"g":%d,"i":%d}`+"\n", g, i), 50+i)
				out, err := c.Compress(nil, codec, in)
				if err != nil {
					errs <- err
					return
				}
				if got, err := decodeBody(codec, out); err != nil || !bytes.Equal(got, in) {
					errs <- fmt.Errorf("goroutine %d body %d (%s): round trip differs (%v)", g, i, codec, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCompressUnknownCodec(t *testing.T) {
	c := NewCompressor()
	dst := []byte("keep")
	out, err := c.Compress(dst, Codec("br"), []byte("x"))
	if err == nil || !strings.Contains(err.Error(), `"br"`) {
		t.Fatalf("err = %v, want an error naming the codec", err)
	}
	if string(out) != "keep" {
		t.Fatalf("dst changed on error: %q", out)
	}
}

func TestParseCodec(t *testing.T) {
	tests := []struct {
		in      string
		want    Codec
		wantErr bool
	}{
		{"", None, false},
		{"none", None, false},
		{"NONE", None, false},
		{"gzip", Gzip, false},
		{"GZip", Gzip, false},
		{" zstd ", Zstd, false},
		{"ZSTD", Zstd, false},
		{"br", "", true},
		{"deflate", "", true},
		{"gz", "", true},
		{"zstd,gzip", "", true},
		{"identity", "", true},
		{"\x00", "", true},
	}
	for _, tt := range tests {
		got, err := ParseCodec(tt.in)
		if tt.wantErr {
			if err == nil {
				t.Errorf("ParseCodec(%q) = %q, want an error", tt.in, got)
			} else if !strings.Contains(err.Error(), "want none, gzip or zstd") {
				t.Errorf("ParseCodec(%q) error %q does not list the accepted values", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseCodec(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestContentEncoding(t *testing.T) {
	tests := []struct {
		c    Codec
		want string
	}{
		{None, ""},
		{"", ""},
		{Gzip, "gzip"},
		{Zstd, "zstd"},
		{"br", ""},
	}
	for _, tt := range tests {
		if got := tt.c.ContentEncoding(); got != tt.want {
			t.Errorf("%q.ContentEncoding() = %q, want %q", tt.c, got, tt.want)
		}
	}
}

func TestAppendNDJSON(t *testing.T) {
	tests := []struct {
		name    string
		dst     string
		records []string
		want    string
	}{
		{"none", "", nil, ""},
		{"none keeps dst", "x\n", nil, "x\n"},
		{"one", "", []string{`{"a":1}`}, "{\"a\":1}\n"},
		{"several", "", []string{`{"a":1}`, `{"b":2}`, `{}`}, "{\"a\":1}\n{\"b\":2}\n{}\n"},
		{"appends", "{\"z\":0}\n", []string{`{"a":1}`}, "{\"z\":0}\n{\"a\":1}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var recs [][]byte
			for _, r := range tt.records {
				recs = append(recs, []byte(r))
			}
			if got := string(AppendNDJSON([]byte(tt.dst), recs)); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzCompress: every input round-trips through every codec.
func FuzzCompress(f *testing.F) {
	f.Add([]byte(""))
	f.Add([]byte(`{"event":{"id":"1"}}` + "\n"))
	f.Add(bytes.Repeat([]byte("ab"), 1000))
	c := NewCompressor()
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, codec := range []Codec{None, Gzip, Zstd} {
			out, err := c.Compress(nil, codec, in)
			if err != nil {
				t.Fatalf("%s: %v", codec, err)
			}
			if got := mustDecode(t, codec, out); !bytes.Equal(got, in) {
				t.Fatalf("%s: round trip differs", codec)
			}
		}
	})
}

// FuzzParseCodec: ParseCodec never panics, and what it accepts is a known
// codec that parses back to itself.
func FuzzParseCodec(f *testing.F) {
	for _, s := range []string{"", "none", "GZIP", " zstd", "br"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCodec(s)
		if err != nil {
			return
		}
		if c != None && c != Gzip && c != Zstd {
			t.Fatalf("ParseCodec(%q) = %q", s, c)
		}
		if again, err := ParseCodec(string(c)); err != nil || again != c {
			t.Fatalf("ParseCodec(%q) = %q, %v", c, again, err)
		}
	})
}
