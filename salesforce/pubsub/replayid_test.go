package pubsub

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func TestEncodeReplayID_RoundTrip(t *testing.T) {
	t.Parallel()
	for _, n := range []int64{0, 1, 296772, 1104717, math.MaxInt32, math.MaxInt64, -1, math.MinInt64} {
		b := EncodeReplayID(n)
		if len(b) != 8 {
			t.Fatalf("EncodeReplayID(%d) = %d bytes, want 8", n, len(b))
		}
		got, err := DecodeReplayID(b)
		if err != nil {
			t.Fatalf("DecodeReplayID(EncodeReplayID(%d)): %v", n, err)
		}
		if got != n {
			t.Fatalf("DecodeReplayID(EncodeReplayID(%d)) = %d", n, got)
		}
		// The 10-byte server form decodes to the same value.
		got, err = DecodeReplayID(append(b, 0, 0))
		if err != nil || got != n {
			t.Fatalf("DecodeReplayID(10-byte form of %d) = %d, %v", n, got, err)
		}
	}
}

func TestEncodeReplayID_BigEndian(t *testing.T) {
	t.Parallel()
	want := []byte{0, 0, 0, 0, 0, 16, 219, 77}
	if got := EncodeReplayID(1104717); !bytes.Equal(got, want) {
		t.Fatalf("EncodeReplayID(1104717) = %v, want %v", got, want)
	}
}

// TestDecodeReplayID_ServerSamples decodes replay ids captured from real
// servers (quoted in salesforce-protocol.md section 1.3).
func TestDecodeReplayID_ServerSamples(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
		want int64
	}{
		{name: "node client issue 36", in: []byte{0, 0, 0, 0, 0, 16, 219, 77, 0, 0}, want: 1104717},
		{name: "node client issue 59", in: []byte{0, 0, 0, 0, 0, 4, 135, 68, 0, 0}, want: 296772},
		{name: "java client issue 6", in: []byte("\000\000\000\000\000+\247+\000\000"), want: 0x2ba72b},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeReplayID(tt.in)
			if err != nil {
				t.Fatalf("DecodeReplayID(%v): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("DecodeReplayID(%v) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

func TestDecodeReplayID_BadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   []byte
	}{
		{name: "nil", in: nil},
		{name: "empty", in: []byte{}},
		{name: "1 byte", in: []byte{1}},
		{name: "7 bytes", in: make([]byte, 7)},
		{name: "9 bytes", in: make([]byte, 9)},
		{name: "11 bytes", in: make([]byte, 11)},
		{name: "16 bytes", in: make([]byte, 16)},
		{name: "10 bytes, byte 9 set", in: []byte{0, 0, 0, 0, 0, 0, 0, 1, 1, 0}},
		{name: "10 bytes, byte 10 set", in: []byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 1}},
		{name: "10 bytes, both trailing set", in: []byte{0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeReplayID(tt.in)
			if err == nil {
				t.Fatalf("DecodeReplayID(%v) = %d, want an error", tt.in, got)
			}
			if !errors.Is(err, ErrInvalidReplayID) {
				t.Fatalf("DecodeReplayID(%v) error %q does not wrap ErrInvalidReplayID", tt.in, err)
			}
			if got != 0 {
				t.Fatalf("DecodeReplayID(%v) = %d with an error, want 0", tt.in, got)
			}
		})
	}
}

func FuzzDecodeReplayID(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0, 0, 16, 219, 77})
	f.Add([]byte{0, 0, 0, 0, 0, 16, 219, 77, 0, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 16, 219, 77, 0, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		n, err := DecodeReplayID(b)
		valid := len(b) == 8 || (len(b) == 10 && b[8] == 0 && b[9] == 0)
		if !valid {
			if err == nil || !errors.Is(err, ErrInvalidReplayID) {
				t.Fatalf("DecodeReplayID(%v) = %d, %v; want ErrInvalidReplayID", b, n, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("DecodeReplayID(%v): %v", b, err)
		}
		if enc := EncodeReplayID(n); !bytes.Equal(enc, b[:8]) {
			t.Fatalf("EncodeReplayID(DecodeReplayID(%v)) = %v", b, enc)
		}
	})
}
