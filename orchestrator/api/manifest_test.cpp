// Manifests as users write them, and what bad manifests get.
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "orchestrator/api/defaults.h"
#include "orchestrator/api/manifest.h"
#include "orchestrator/api/validation.h"

namespace switchyard::api {
namespace {

std::string read_testdata(const std::string& name) {
  std::ifstream in(std::string(API_TESTDATA) + "/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(Manifest, MultiDocumentYamlWithCommentsAnchorsAndLists) {
  auto docs = decode_manifest(read_testdata("multi.yaml"));
  ASSERT_TRUE(docs.has_value()) << docs.error().message;
  ASSERT_EQ(docs->size(), 4u);
  const auto& svc = std::get<Service>((*docs)[0].object);
  EXPECT_EQ(svc.metadata.labels.at("tier"), "1");
  EXPECT_EQ(svc.spec.selector, svc.metadata.labels);  // the alias expanded
  EXPECT_EQ(svc.metadata.annotations.at("description"), "Public entry point.\nTwo lines.\n");
  EXPECT_EQ(svc.spec.ports[0].target_port, IntOrString::of(std::string("http")));
  EXPECT_EQ(svc.spec.ports[1].target_port, IntOrString::of(8443));
  EXPECT_EQ(svc.spec.load_balancer_source_ranges, (std::vector<std::string>{"10.0.0.0/8", "192.168.0.0/16"}));
  const auto& slice = std::get<EndpointSlice>((*docs)[1].object);
  EXPECT_EQ(slice.endpoints[0].conditions.terminating, false);
  EXPECT_EQ(std::get<Namespace>((*docs)[2].object).metadata.name, "shop");
  EXPECT_TRUE(std::get<Node>((*docs)[3].object).unschedulable);
  for (const auto& d : *docs) EXPECT_TRUE(d.unknown_fields.empty());
}

TEST(Manifest, DecodedManifestsDefaultValidateAndEncodeForClients) {
  auto docs = decode_manifest(read_testdata("multi.yaml"));
  ASSERT_TRUE(docs);
  ClusterNetworkConfig net;
  for (auto& d : *docs) {
    apply_defaults(d.object, net);
    EXPECT_TRUE(validate(d.object, net).empty()) << invalid_message(kind_of(d.object), meta_of(d.object).name, validate(d.object, net));
    auto j = encode_object(d.object);
    // What we write, a Kubernetes client reads: camelCase, apiVersion and kind set, and it decodes back the same.
    EXPECT_TRUE(j.contains("apiVersion") && j.contains("kind") && j.contains("metadata"));
    auto again = decode_object(j);
    ASSERT_TRUE(again);
    EXPECT_EQ(again->object, d.object);
  }
  auto svc = encode_object((*docs)[0].object);
  EXPECT_EQ(svc["spec"]["ports"][0]["targetPort"], "http");
  EXPECT_EQ(svc["spec"]["ports"][1]["targetPort"], 8443);
  EXPECT_EQ(svc["spec"]["externalTrafficPolicy"], "Local");
  EXPECT_EQ(svc["spec"]["allocateLoadBalancerNodePorts"], true);
}

TEST(Manifest, JsonManifest) {
  auto docs = decode_manifest(read_testdata("service.json"));
  ASSERT_TRUE(docs) << docs.error().message;
  ASSERT_EQ(docs->size(), 1u);
  EXPECT_EQ(std::get<Service>((*docs)[0].object).spec.ports[1].protocol, "TCP");
}

TEST(Manifest, YamlScalarsAreTypedAsKubernetesReadsThem) {
  auto docs = parse_documents("a: 80\nb: '80'\nc: 0x1F\nd: true\ne: off\nf: ~\ng: 1.5\nh: !!str 12\ni: -7\nj: 0o17\n");
  ASSERT_TRUE(docs);
  const auto& j = (*docs)[0];
  EXPECT_EQ(j["a"], 80);
  EXPECT_EQ(j["b"], "80");
  EXPECT_EQ(j["c"], 31);
  EXPECT_EQ(j["d"], true);
  EXPECT_EQ(j["e"], false);
  EXPECT_TRUE(j["f"].is_null());
  EXPECT_EQ(j["g"], 1.5);
  EXPECT_EQ(j["h"], "12");
  EXPECT_EQ(j["i"], -7);
  EXPECT_EQ(j["j"], 15);
}

struct BadManifest {
  std::string text;
  std::string want;  // the start of the error message
};

TEST(Manifest, BadInputGetsAnErrorThatSaysWhat) {
  for (const auto& c : std::vector<BadManifest>{
           {"kind: Service\napiVersion: v1\nmetadata: {name: x\n", "yaml: line"},
           {"apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\n", "document 1: line 5: key \"name\" is repeated"},
           {"just a string\n", "document 1: expected a JSON object, got string"},
           {"apiVersion: v1\nkind: Service\n---\napiVersion: v1\nkind: Sevice\n",
            "document 2: no kind \"Sevice\" is registered for version \"v1\""},
           {"apiVersion: v1\nkind: Service\nspec:\n  ports:\n  - port: eighty\n",
            "document 1: Service in v1: spec.ports[0].port: expected an integer, got string \"eighty\""},
           {"apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: [x]}}\n",
            "document 1: items[0]: Pod in v1: metadata.name: expected a string, got array"},
           {"{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"spec\": ", "yaml: line"},
           // yaml-cpp's LoadAll never returns on these (found by the fuzzer): they must fail at once.
           {"{},", "yaml: line 1, column 3: unexpected content after the end of a document"},
           {"{\"a\": 1},\n \"b\": {\"c\": 1},", "yaml: line 1, column 9: unexpected content after the end of a document"},
           {"[], a", "yaml: line 1, column 3: unexpected content after the end of a document"},
           {"a: \"x\x9d\"\n", "the manifest is not valid UTF-8 (byte 5)"},
           {"a: \xed\xa0\x80\n", "the manifest is not valid UTF-8 (byte 3)"},  // a UTF-16 surrogate
           // Found by the fuzzer: yaml-cpp unescapes \N to a lone 0x85 byte.
           {"a: \"x\\Ny\"\n", "document 1: line 1: a string is not valid UTF-8 after unescaping"},
           {"a: &x 1\nb: *y\n", "yaml: line 2, column 4: the referenced anchor is not defined"},
       }) {
    auto d = decode_manifest(c.text);
    ASSERT_FALSE(d.has_value()) << c.text;
    EXPECT_EQ(d.error().message.rfind(c.want, 0), 0u) << "got: " << d.error().message;
  }
}

TEST(Manifest, AbsurdSizesAreRefused) {
  ManifestLimits limits;
  limits.max_bytes = 1024;
  auto big = decode_manifest(std::string(2048, '#'), limits);
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().message, "the manifest is 2048 bytes, more than the limit of 1024");

  std::string deep_json(100000, '[');
  auto deep = parse_documents(deep_json + std::string(100000, ']'));
  ASSERT_FALSE(deep);
  EXPECT_EQ(deep.error().message, "the JSON is nested deeper than 200 levels");

  std::string deep_yaml;
  for (int i = 0; i < 5000; ++i) deep_yaml += "[";
  EXPECT_FALSE(parse_documents(deep_yaml));

  // "Billion laughs": aliases that expand exponentially.
  std::string laughs = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  char prev = 'a';
  for (char c = 'b'; c <= 'k'; ++c, ++prev)
    laughs += fmt::format("{}: &{} [*{}, *{}, *{}, *{}, *{}, *{}, *{}, *{}, *{}, *{}]\n", c, c, prev, prev, prev, prev, prev, prev, prev,
                          prev, prev, prev);
  auto bomb = parse_documents(laughs);
  ASSERT_FALSE(bomb);
  EXPECT_NE(bomb.error().message.find("values (YAML aliases expanded)"), std::string::npos);
}

}  // namespace
}  // namespace switchyard::api
