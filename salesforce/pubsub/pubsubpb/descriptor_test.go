package pubsubpb_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
)

// docMessages is the message table of salesforce-protocol.md section 1.2,
// written as "name=number [repeated] type" in the doc's own notation. Field
// numbers are the wire contract with the real server and Node client.
var docMessages = map[string][]string{
	"TopicInfo":     {"topic_name=1 string", "tenant_guid=2 string", "can_publish=3 bool", "can_subscribe=4 bool", "schema_id=5 string", "rpc_id=6 string"},
	"TopicRequest":  {"topic_name=1 string"},
	"EventHeader":   {"key=1 string", "value=2 bytes"},
	"ProducerEvent": {"id=1 string", "schema_id=2 string", "payload=3 bytes", "headers=4 repeated EventHeader"},
	"ConsumerEvent": {"event=1 ProducerEvent", "replay_id=2 bytes"},
	"PublishResult": {"replay_id=1 bytes", "error=2 Error", "correlation_key=3 string"},
	"Error":         {"code=1 ErrorCode", "msg=2 string"},
	"FetchRequest": {
		"topic_name=1 string", "replay_preset=2 ReplayPreset", "replay_id=3 bytes", "num_requested=4 int32",
		"auth_refresh=5 string",
	},
	"FetchResponse":   {"events=1 repeated ConsumerEvent", "latest_replay_id=2 bytes", "rpc_id=3 string", "pending_num_requested=4 int32"},
	"SchemaRequest":   {"schema_id=1 string"},
	"SchemaInfo":      {"schema_json=1 string", "schema_id=2 string", "rpc_id=3 string"},
	"PublishRequest":  {"topic_name=1 string", "events=2 repeated ProducerEvent", "auth_refresh=3 string"},
	"PublishResponse": {"results=1 repeated PublishResult", "schema_id=2 string", "rpc_id=3 string"},
	"ManagedFetchRequest": {
		"subscription_id=1 string", "developer_name=2 string", "num_requested=3 int32", "auth_refresh=4 string",
		"commit_replay_id_request=5 CommitReplayRequest",
	},
	"ManagedFetchResponse": {
		"events=1 repeated ConsumerEvent", "latest_replay_id=2 bytes", "rpc_id=3 string", "pending_num_requested=4 int32",
		"commit_response=5 CommitReplayResponse",
	},
	"CommitReplayRequest":  {"commit_request_id=1 string", "replay_id=2 bytes"},
	"CommitReplayResponse": {"commit_request_id=1 string", "replay_id=2 bytes", "error=3 Error", "process_time=4 int64"},
}

// docEnums is the enum part of the same table, as "NAME=number".
var docEnums = map[string][]string{
	"ErrorCode":    {"UNKNOWN=0", "PUBLISH=1", "COMMIT=2"},
	"ReplayPreset": {"LATEST=0", "EARLIEST=1", "CUSTOM=2"},
}

// docMethods is the RPC table of section 1.1, as "Name(Request) Response",
// with "stream" before a streamed side.
var docMethods = []string{
	"Subscribe(stream FetchRequest) stream FetchResponse",
	"GetSchema(SchemaRequest) SchemaInfo",
	"GetTopic(TopicRequest) TopicInfo",
	"Publish(PublishRequest) PublishResponse",
	"PublishStream(stream PublishRequest) stream PublishResponse",
	"ManagedSubscribe(stream ManagedFetchRequest) stream ManagedFetchResponse",
}

// fileDesc is the descriptor of the generated pubsub_api.proto.
func fileDesc() protoreflect.FileDescriptor {
	return pubsubpb.File_pubsub_api_proto
}

// fieldSpec renders a field descriptor in the doc's notation.
func fieldSpec(fd protoreflect.FieldDescriptor) string {
	typ := fd.Kind().String()
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		typ = string(fd.Message().Name())
	case protoreflect.EnumKind:
		typ = string(fd.Enum().Name())
	}
	if fd.IsList() {
		typ = "repeated " + typ
	}
	return fmt.Sprintf("%s=%d %s", fd.Name(), fd.Number(), typ)
}

func TestPubSubProto_Package(t *testing.T) {
	t.Parallel()
	fd := fileDesc()
	if got := fd.Package(); got != "eventbus.v1" {
		t.Fatalf("package = %q, want eventbus.v1", got)
	}
	if got := fd.Syntax(); got != protoreflect.Proto3 {
		t.Fatalf("syntax = %v, want proto3", got)
	}
	if got := pubsubpb.PubSub_Subscribe_FullMethodName; got != "/eventbus.v1.PubSub/Subscribe" {
		t.Fatalf("Subscribe method path = %q", got)
	}
}

func TestPubSubProto_FieldNumbers(t *testing.T) {
	t.Parallel()
	msgs := fileDesc().Messages()
	var got []string
	for i := range msgs.Len() {
		got = append(got, string(msgs.Get(i).Name()))
	}
	var want []string
	for name := range docMessages {
		want = append(want, name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("messages = %v, want exactly %v", got, want)
	}
	for name, wantFields := range docMessages {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			md := msgs.ByName(protoreflect.Name(name))
			fields := md.Fields()
			var gotFields []string
			for i := range fields.Len() {
				fd := fields.Get(i)
				if fd.HasPresence() && fd.Kind() != protoreflect.MessageKind {
					t.Errorf("%s.%s: proto3 optional, want a plain field", name, fd.Name())
				}
				gotFields = append(gotFields, fieldSpec(fd))
			}
			if !slices.Equal(gotFields, wantFields) {
				t.Errorf("%s fields:\n got  %s\n want %s", name, strings.Join(gotFields, "; "), strings.Join(wantFields, "; "))
			}
			// Look each documented field up by number too, the way the wire does.
			for _, spec := range wantFields {
				var fname string
				var num int32
				if _, err := fmt.Sscanf(strings.Replace(spec, "=", " ", 1), "%s %d", &fname, &num); err != nil {
					t.Fatalf("bad spec %q: %v", spec, err)
				}
				fd := fields.ByNumber(protoreflect.FieldNumber(num))
				if fd == nil || string(fd.Name()) != fname {
					t.Errorf("%s: field %d is %v, want %s", name, num, fd, fname)
				}
			}
		})
	}
}

func TestPubSubProto_Enums(t *testing.T) {
	t.Parallel()
	enums := fileDesc().Enums()
	if enums.Len() != len(docEnums) {
		t.Fatalf("%d enums, want %d", enums.Len(), len(docEnums))
	}
	for name, wantValues := range docEnums {
		ed := enums.ByName(protoreflect.Name(name))
		if ed == nil {
			t.Fatalf("enum %s missing", name)
		}
		var got []string
		for i := range ed.Values().Len() {
			v := ed.Values().Get(i)
			got = append(got, fmt.Sprintf("%s=%d", v.Name(), v.Number()))
		}
		if !slices.Equal(got, wantValues) {
			t.Errorf("enum %s = %v, want %v", name, got, wantValues)
		}
	}
}

func TestPubSubProto_Service(t *testing.T) {
	t.Parallel()
	svcs := fileDesc().Services()
	if svcs.Len() != 1 || svcs.Get(0).Name() != "PubSub" {
		t.Fatalf("want exactly one service PubSub, got %d", svcs.Len())
	}
	methods := svcs.Get(0).Methods()
	var got []string
	for i := range methods.Len() {
		m := methods.Get(i)
		in, out := string(m.Input().Name()), string(m.Output().Name())
		if m.IsStreamingClient() {
			in = "stream " + in
		}
		if m.IsStreamingServer() {
			out = "stream " + out
		}
		got = append(got, fmt.Sprintf("%s(%s) %s", m.Name(), in, out))
	}
	if !slices.Equal(got, docMethods) {
		t.Fatalf("methods:\n got  %s\n want %s", strings.Join(got, "\n      "), strings.Join(docMethods, "\n      "))
	}
}
