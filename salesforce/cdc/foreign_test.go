package cdc

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/linkedin/goavro/v2"
)

// foreignSchema uses every Avro type the binary decoder supports, including
// a recursive record, as a schema from elsewhere might.
const foreignSchema = `{"type":"record","name":"Foreign__e","namespace":"com.sforce.eventbus","fields":[
  {"name":"CreatedDate","type":"long","doc":"CreatedDate:DateTime"},
  {"name":"F","type":"float"},
  {"name":"B","type":"bytes"},
  {"name":"E","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},
  {"name":"X","type":{"type":"fixed","name":"Four","size":4}},
  {"name":"M","type":{"type":"map","values":["null","int"]}},
  {"name":"L","type":["null",{"type":"record","name":"Node","fields":[
     {"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}]},
  {"name":"A","type":{"type":"array","items":"Node"}}
]}`

func TestParseSchema_ForeignTypes(t *testing.T) {
	t.Parallel()
	s, err := ParseSchema(foreignSchema)
	if err != nil {
		t.Fatal(err)
	}
	if s.Kind() != KindPlatformEvent || !s.Fields()[6].Compound || s.Fields()[0].Type != "datetime" {
		t.Fatalf("layout %v %+v", s.Kind(), s.Fields())
	}
	codec, err := goavro.NewCodec(foreignSchema)
	if err != nil {
		t.Fatal(err)
	}
	native := map[string]any{
		"CreatedDate": int64(5), "F": float32(1.5), "B": []byte{0, 1, 2}, "E": "GREEN", "X": []byte("abcd"),
		"M": map[string]any{"a": goavro.Union("int", int32(1)), "b": nil},
		"L": goavro.Union("com.sforce.eventbus.Node", map[string]any{
			"v": int32(1), "next": goavro.Union("com.sforce.eventbus.Node", map[string]any{"v": int32(2), "next": nil}),
		}),
		"A": []any{map[string]any{"v": int32(3), "next": nil}},
	}
	payload, err := codec.BinaryFromNative(nil, native)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := s.DecodePlatform(payload)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"CreatedDate": int64(5), "F": float32(1.5), "B": []byte{0, 1, 2}, "E": "GREEN", "X": []byte("abcd"),
		"M": map[string]any{"a": int32(1), "b": nil},
		"L": map[string]any{"v": int32(1), "next": map[string]any{"v": int32(2)}},
		"A": []any{map[string]any{"v": int32(3)}},
	}
	if !reflect.DeepEqual(ev.Fields, want) {
		t.Fatalf("decoded\n%#v\nwant\n%#v", ev.Fields, want)
	}
	// Without the fixed field Encode takes it all back, byte for byte.
	noFixed := `{"type":"record","name":"Foreign__e","namespace":"com.sforce.eventbus","fields":[
	  {"name":"F","type":"float"},{"name":"B","type":"bytes"},
	  {"name":"E","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},
	  {"name":"M","type":{"type":"map","values":["null","int"]}},
	  {"name":"L","type":["null",{"type":"record","name":"Node","fields":[{"name":"v","type":"int"},{"name":"next","type":["null","Node"]}]}]}]}`
	s2, err := ParseSchema(noFixed)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := goavro.NewCodec(noFixed)
	if err != nil {
		t.Fatal(err)
	}
	delete(native, "CreatedDate")
	delete(native, "X")
	delete(native, "A")
	native["M"] = map[string]any{"a": goavro.Union("int", int32(1))} // one key: map order is free
	theirs, err := c2.BinaryFromNative(nil, native)
	if err != nil {
		t.Fatal(err)
	}
	ev2, err := s2.DecodePlatform(theirs)
	if err != nil {
		t.Fatal(err)
	}
	ours, err := s2.EncodePlatform(ev2)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ours, theirs) {
		t.Fatalf("re-encoded\n%x\nwant\n%x", ours, theirs)
	}
}

func TestDecode_DepthLimit(t *testing.T) {
	t.Parallel()
	s, err := ParseSchema(`{"type":"record","name":"Deep__e","fields":[
	  {"name":"L","type":["null",{"type":"record","name":"Node","fields":[{"name":"next","type":["null","Node"]}]}]}]}`)
	if err != nil {
		t.Fatal(err)
	}
	deep := bytes.Repeat([]byte{0x02}, 10_000) // branch 1 (Node) ten thousand times
	deep = append(deep, 0x00)
	if _, err := s.DecodePlatform(deep); !errors.Is(err, ErrMalformedPayload) {
		t.Fatalf("err = %v, want ErrMalformedPayload", err)
	}
	shallow := append(bytes.Repeat([]byte{0x02}, 10), 0x00)
	if _, err := s.DecodePlatform(shallow); err != nil {
		t.Fatalf("shallow: %v", err)
	}
	// A cyclic value cannot recurse forever either.
	cyc := map[string]any{}
	cyc["next"] = cyc
	if _, err := s.EncodePlatform(&PlatformEvent{Fields: map[string]any{"L": cyc}}); !errors.Is(err, ErrInvalidValue) {
		t.Fatalf("cyclic value: %v", err)
	}
}
