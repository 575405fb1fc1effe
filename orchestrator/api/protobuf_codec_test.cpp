// The Kubernetes protobuf encoding, checked against facts from outside this codec: bytes that
// kubectl 1.32/1.33 really sent (captured with -v=9) next to the JSON kubectl prints for the same
// object, protoc --decode_raw's reading of what we write, and malformed input.
#include <cstdio>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/api/json_codec.h"
#include "orchestrator/api/protobuf_codec.h"
#include "orchestrator/api/protobuf_values.h"

namespace switchyard::api::protobuf {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string unhex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size();) {
    if (hex[i] == ' ' || hex[i] == '\n') {
      ++i;
      continue;
    }
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
    i += 2;
  }
  return out;
}

// What protoc, a reader that shares nothing with this codec, makes of an enveloped message
// (the `k8s\0` magic stripped); a protoc failure fails the calling test.
std::string protoc_decode_raw(const std::string& enveloped) {
  const std::string path = ::testing::TempDir() + "/protoc-" + std::to_string(getpid()) + ".pb";
  std::ofstream(path, std::ios::binary) << enveloped.substr(4);
  std::string text;
  if (FILE* p = popen(("protoc --decode_raw < " + path + " 2>&1").c_str(), "r")) {
    char buf[4096];
    while (std::size_t n = fread(buf, 1, sizeof buf, p)) text.append(buf, n);
    EXPECT_EQ(pclose(p), 0) << text;
  }
  std::remove(path.c_str());
  return text;
}

// kubectl 1.33 `create service nodeport s --tcp=80:8080`, as it sent it.
const char* kKubectlNodePortServiceHex =
    "6b 38 73 00 0a 0d 0a 02 76 31 12 07 53 65 72 76 69 63 65 12 62 0a 1b 0a 01 73 12 00 1a 00 22 00"
    " 2a 00 32 00 38 00 42 00 5a 08 0a 03 61 70 70 12 01 73 12 3f 0a 1b 0a 07 38 30 2d 38 30 38 30 12"
    " 03 54 43 50 18 50 22 07 08 00 10 90 3f 1a 00 28 00 12 08 0a 03 61 70 70 12 01 73 1a 00 22 08 4e"
    " 6f 64 65 50 6f 72 74 3a 00 42 00 52 00 5a 00 60 00 68 00 1a 02 0a 00 1a 00 22 00";
// kubectl 1.32 `create namespace x`.
const char* kKubectlNamespaceHex =
    "6b 38 73 00 0a 0f 0a 02 76 31 12 09 4e 61 6d 65 73 70 61 63 65 12 19 0a 11 0a 01 78 12 00 1a 00"
    " 22 00 2a 00 32 00 38 00 42 00 12 00 1a 02 0a 00 1a 00 22 00";

TEST(ProtobufCodec, KubectlsNodePortServiceReadsAsTheJsonKubectlPrintsForIt) {
  auto decoded = decode_object(unhex(kKubectlNodePortServiceHex));
  ASSERT_TRUE(decoded) << decoded.error();
  // `kubectl create service nodeport s --tcp=80:8080 --dry-run=client -o json`
  const json want = json::parse(R"({"kind":"Service","apiVersion":"v1",
    "metadata":{"name":"s","creationTimestamp":null,"labels":{"app":"s"}},
    "spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080}],"selector":{"app":"s"},"type":"NodePort"},
    "status":{"loadBalancer":{}}})");
  EXPECT_EQ(*decoded, want);
  // And the object model reads it exactly as it reads the JSON.
  auto from_proto = api::decode_object(*decoded);
  auto from_json = api::decode_object(want);
  ASSERT_TRUE(from_proto && from_json);
  EXPECT_EQ(from_proto->object, from_json->object);
}

TEST(ProtobufCodec, KubectlsNamespaceReadsAsTheJsonKubectlPrintsForIt) {
  auto decoded = decode_object(unhex(kKubectlNamespaceHex));
  ASSERT_TRUE(decoded) << decoded.error();
  EXPECT_EQ(*decoded, json::parse(R"({"kind":"Namespace","apiVersion":"v1","metadata":{"name":"x","creationTimestamp":null},
                                     "spec":{},"status":{}})"));
}

TEST(ProtobufCodec, EncodingReadsBackAsTheSameJson) {
  const json service = json::parse(R"({"apiVersion":"v1","kind":"Service",
    "metadata":{"name":"web","namespace":"shop","uid":"u-1","resourceVersion":"42","creationTimestamp":"2026-11-23T10:00:00Z",
                "labels":{"app":"web","tier":"front"},"deletionGracePeriodSeconds":0,
                "ownerReferences":[{"apiVersion":"v1","kind":"Node","name":"n1","uid":"u-2","controller":false}],
                "managedFields":[{"manager":"kubectl","operation":"Apply","apiVersion":"v1","time":"2026-11-23T10:00:00Z",
                                  "fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:ports":{}}}}]},
    "spec":{"ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":"http","nodePort":30080},
                     {"name":"dns","protocol":"UDP","port":53,"targetPort":5353}],
            "selector":{"app":"web"},"clusterIP":"10.96.0.10","clusterIPs":["10.96.0.10"],"type":"NodePort",
            "sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":300}},
            "externalTrafficPolicy":"Cluster","ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack",
            "allocateLoadBalancerNodePorts":false,"internalTrafficPolicy":"Cluster"},
    "status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.1","ipMode":"VIP"}]}}})");
  auto bytes = encode_object(service);
  ASSERT_TRUE(bytes) << bytes.error();
  EXPECT_TRUE(bytes->starts_with(kMagic));
  auto back = decode_object(*bytes);
  ASSERT_TRUE(back) << back.error();
  // Go pointers keep their zero values (deletionGracePeriodSeconds 0, controller false).
  EXPECT_EQ(*back, service);
}

TEST(ProtobufCodec, EndpointSliceWithPointerFieldsAndMicroTimeEvent) {
  const json slice = json::parse(R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
    "metadata":{"name":"web-abc","namespace":"shop","labels":{"kubernetes.io/service-name":"web"}},
    "addressType":"IPv4",
    "endpoints":[{"addresses":["10.0.0.5"],"conditions":{"ready":false,"serving":true,"terminating":false},
                  "nodeName":"n1","zone":"","targetRef":{"kind":"Pod","namespace":"shop","name":"web-1","uid":"u"},
                  "hints":{"forZones":[{"name":"a"}]}}],
    "ports":[{"name":"","protocol":"TCP","port":8080}]})");
  auto bytes = encode_object(slice);
  ASSERT_TRUE(bytes) << bytes.error();
  auto back = decode_object(*bytes);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, slice);

  const json event = json::parse(R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"e","namespace":"d"},
    "involvedObject":{"kind":"Pod","name":"p"},"reason":"Started","count":3,
    "firstTimestamp":"2026-11-23T10:00:00Z","eventTime":"2026-11-23T10:00:00.123456Z","source":{"component":"kubelet"}})");
  auto eb = encode_object(event);
  ASSERT_TRUE(eb) << eb.error();
  auto eback = decode_object(*eb);
  ASSERT_TRUE(eback) << eback.error();
  EXPECT_EQ(*eback, event);
}

// protoc, a reader that shares nothing with this codec, sees the field numbers of upstream's
// generated.proto: Unknown{typeMeta=1{apiVersion=1,kind=2},raw=2}, Service{metadata=1{name=1,
// namespace=3}, spec=2{ports=1{port=3, targetPort=4{type=1,intVal=2,strVal=3}}, clusterIP=3, type=4}}.
TEST(ProtobufCodec, ProtocDecodeRawSeesUpstreamFieldNumbers) {
  auto bytes = encode_object(json::parse(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"shop"},
    "spec":{"ports":[{"port":80,"targetPort":8080}],"clusterIP":"10.96.0.10","type":"ClusterIP"}})"));
  ASSERT_TRUE(bytes) << bytes.error();
  const std::string text = protoc_decode_raw(*bytes);
  // protoc prints nested messages whose bytes parse as messages, so the shape is fixed text.
  EXPECT_THAT(text, HasSubstr("1 {\n  1: \"v1\"\n  2: \"Service\"\n}\n"));
  EXPECT_THAT(text, HasSubstr("  1 {\n    1: \"web\"\n    3: \"shop\"\n  }\n"));
  EXPECT_THAT(text, HasSubstr("    1 {\n      3: 80\n      4 {\n        1: 0\n        2: 8080\n"));
  EXPECT_THAT(text, HasSubstr("    3: \"10.96.0.10\"\n    4: \"ClusterIP\"\n"));
}

// The node heartbeat's kind: coordination.k8s.io/v1 Lease{metadata=1, spec=2{holderIdentity=1,
// leaseDurationSeconds=2, renewTime=4 (MicroTime{seconds=1, nanos=2})}}, as protoc reads it.
TEST(ProtobufCodec, LeasesHaveUpstreamsFieldNumbers) {
  const json lease = json::parse(R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",
    "metadata":{"name":"node-1","namespace":"kube-node-lease"},
    "spec":{"holderIdentity":"node-1","leaseDurationSeconds":40,"renewTime":"2026-11-23T10:00:00.250000Z"}})");
  auto bytes = encode_object(lease);
  ASSERT_TRUE(bytes) << bytes.error();
  auto back = decode_object(*bytes);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(*back, lease);
  const std::string text = protoc_decode_raw(*bytes);
  EXPECT_THAT(text, HasSubstr("1 {\n  1: \"coordination.k8s.io/v1\"\n  2: \"Lease\"\n}\n"));
  EXPECT_THAT(text, HasSubstr("  2 {\n    1: \"node-1\"\n    2: 40\n    4 {\n      1: 1795428000\n      2: 250000000\n    }\n"));
}

TEST(ProtobufCodec, MalformedBodiesAreErrorsThatSayWhy) {
  const std::string good = unhex(kKubectlNamespaceHex);
  auto wrong_magic = decode_object("k9s" + good.substr(3));
  ASSERT_FALSE(wrong_magic);
  EXPECT_THAT(wrong_magic.error().message, HasSubstr("prefix"));
  // Any cut before the end of the object's bytes (the envelope's two empty strings follow them).
  for (std::size_t cut = 0; cut < good.size() - 4; ++cut) {
    auto truncated = decode_object(good.substr(0, cut));
    EXPECT_FALSE(truncated) << "cut at " << cut;
  }
  std::string unknown_kind = good;
  unknown_kind.replace(unknown_kind.find("Namespace"), 9, "Namespacf");
  auto unknown = decode_object(unknown_kind);
  ASSERT_FALSE(unknown);
  EXPECT_THAT(unknown.error().message, HasSubstr("Namespacf"));
  std::string bad_utf8 = good;
  bad_utf8[bad_utf8.find("\x0a\x01x") + 2] = '\xff';
  EXPECT_FALSE(decode_object(bad_utf8));
  // metadata (field 1) as a varint instead of a message.
  auto wrong_wire = decode_object(std::string(kMagic) + unhex("0a 0f 0a 02 76 31 12 09 4e 61 6d 65 73 70 61 63 65 12 02 08 01"));
  ASSERT_FALSE(wrong_wire);
  EXPECT_THAT(wrong_wire.error().message, HasSubstr("metadata"));
}

TEST(ProtobufCodec, JsonThatDoesNotFitTheSchemaIsRefused) {
  auto e = encode_object(json::parse(R"({"apiVersion":"v1","kind":"Service","spec":{"ports":[{"port":"eighty"}]}})"));
  ASSERT_FALSE(e);
  EXPECT_THAT(e.error().message, HasSubstr("spec.ports[0].port"));
  auto table = encode_object(json::parse(R"({"apiVersion":"meta.k8s.io/v1","kind":"Table"})"));
  ASSERT_FALSE(table);
  EXPECT_EQ(table.error().code, ErrorCode::NotFound);
}

TEST(ProtobufCodec, WatchFramesCarryALengthAndAnEnvelopedObject) {
  const json svc = json::parse(R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"a","resourceVersion":"7"}})");
  auto frame = encode_watch_frame("ADDED", svc);
  ASSERT_TRUE(frame) << frame.error();
  const auto n = static_cast<std::uint32_t>(static_cast<std::uint8_t>((*frame)[0]) << 24 | static_cast<std::uint8_t>((*frame)[1]) << 16 |
                                            static_cast<std::uint8_t>((*frame)[2]) << 8 | static_cast<std::uint8_t>((*frame)[3]));
  EXPECT_EQ(n, frame->size() - 4);
  // metav1.WatchEvent: type=1 "ADDED", then object=2 whose raw=1 starts with the prefix.
  EXPECT_EQ(frame->substr(4, 7), std::string("\x0a\x05"
                                             "ADDED",
                                             7));
  EXPECT_NE(frame->find(std::string(kMagic)), std::string::npos);
  auto event = decode_watch_event(frame->substr(4));
  ASSERT_TRUE(event) << event.error();
  EXPECT_EQ(event->type, "ADDED");
  EXPECT_EQ(event->object, svc);
}

TEST(ProtobufValues, TimesAndDurationsInGosTextForms) {
  EXPECT_EQ(values::format_time(0, 0, false), "1970-01-01T00:00:00Z");
  EXPECT_EQ(values::format_time(1795428000, 123456789, true), "2026-11-23T10:00:00.123456Z");
  EXPECT_EQ(values::format_time(-62135596800, 0, false), "0001-01-01T00:00:00Z");
  std::int64_t s = 0;
  std::int32_t ns = 0;
  ASSERT_TRUE(values::parse_time("2026-11-23T11:00:00+01:00", s, ns));
  EXPECT_EQ(s, 1795428000);
  EXPECT_FALSE(values::parse_time("2026-11-23 10:00:00", s, ns));
  EXPECT_EQ(values::format_duration(3600'000'000'000), "1h0m0s");
  EXPECT_EQ(values::format_duration(1'500'000'000), "1.5s");
  EXPECT_EQ(values::format_duration(300'000'000), "300ms");
  std::int64_t d = 0;
  ASSERT_TRUE(values::parse_duration("1h30m", d));
  EXPECT_EQ(d, 5400'000'000'000);
}

}  // namespace
}  // namespace switchyard::api::protobuf
