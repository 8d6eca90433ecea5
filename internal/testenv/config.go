package testenv

import (
	"bytes"
	"strings"
	"testing"
)

// ConfigCodec is a model family's config.json parser and writer, for CheckConfigParser.
type ConfigCodec[C any] struct {
	Prefix  string                  // every parse error starts with it, e.g. "gpt config: "
	Parse   func([]byte) (C, error) // ParseConfig
	Marshal func(C) ([]byte, error) // MarshalConfig
	Same    func(a, b C) bool       // equality of two configs
	Valid   func(t *testing.T, c C) // what Parse promises of a config it accepts
}

// CheckConfigParser is the body of a config parser's fuzz target: whatever data holds, Parse
// either refuses it with an error that starts with Prefix and says more, returning the zero
// config, or returns a valid config that Marshal writes and Parse reads back unchanged, and that
// Marshal writes again byte for byte. Parsing never allocates more than 1 MiB plus 256 bytes per
// input byte.
func CheckConfigParser[C any](t *testing.T, codec ConfigCodec[C], data []byte) {
	t.Helper()
	var cfg C
	var err error
	if n := HeapAllocated(func() { cfg, err = codec.Parse(data) }); n > 1<<20+256*uint64(len(data)) {
		t.Fatalf("ParseConfig of %d bytes allocated %d bytes", len(data), n)
	}
	if err != nil {
		if msg := err.Error(); !strings.HasPrefix(msg, codec.Prefix) || len(msg) <= len(codec.Prefix) {
			t.Fatalf("error %q does not say what is wrong with the config", msg)
		}
		var zero C
		if !codec.Same(cfg, zero) {
			t.Fatalf("ParseConfig failed (%v) but returned %+v", err, cfg)
		}
		return
	}
	codec.Valid(t, cfg)

	out, err := codec.Marshal(cfg)
	if err != nil {
		t.Fatalf("MarshalConfig(%+v): %v", cfg, err)
	}
	back, err := codec.Parse(out)
	if err != nil {
		t.Fatalf("ParseConfig refuses what MarshalConfig wrote: %v\n%s", err, out)
	}
	if !codec.Same(cfg, back) {
		t.Fatalf("round trip changed the config:\n got %+v\nwant %+v\n%s", back, cfg, out)
	}
	if out2, err := codec.Marshal(back); err != nil || !bytes.Equal(out, out2) {
		t.Fatalf("MarshalConfig is not stable: %v\n%s\n%s", err, out, out2)
	}
}
