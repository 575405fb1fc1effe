// The API in application/vnd.kubernetes.protobuf as client-go speaks it, through the project's
// HttpClient against a real server: protobuf writes, lists, gets, Status errors and watches of
// Services and EndpointSlices, each decoded answer checked against the JSON answer for the same
// objects and the raw bytes against protoc --decode_raw; bad bodies get 400; negotiation.
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/api/protobuf_codec.h"
#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/http/client.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::apiserver {
namespace {

namespace pb = api::protobuf;
using ::testing::HasSubstr;

const std::string kProtobuf(pb::kMediaType);
const std::string kClientGoAccept = kProtobuf + ", application/json";

class ProtobufApi : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::open((dir_.path() / "store.db").string());
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    registry_ = std::make_unique<ObjectRegistry>(*store_, api::ClusterNetworkConfig{});
    handler_ = std::make_unique<ApiHandler>(*registry_, "s3cret");
    auto server = HttpServer::start(*handler_, {"127.0.0.1:0", "", ""});
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
    auto client = http::HttpClient::create({.server = "http://127.0.0.1:" + std::to_string(server_->port()), .bearer_token = "s3cret"});
    ASSERT_TRUE(client) << client.error();
    client_ = std::move(*client);
    ASSERT_EQ(json_call("POST", "/api/v1/namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})").status, 201);
  }

  http::ClientResponse call(const std::string& method, const std::string& target, std::string body, const std::string& content_type,
                            const std::string& accept) {
    auto r = client_->request(
        {.method = method, .target = target, .body = std::move(body), .content_type = content_type, .headers = {{"Accept", accept}}});
    EXPECT_TRUE(r) << r.error();
    return r ? std::move(*r) : http::ClientResponse{};
  }
  http::ClientResponse json_call(const std::string& method, const std::string& target, const std::string& body = "") {
    return call(method, target, body, body.empty() ? "" : "application/json", "application/json");
  }
  Json json_get(const std::string& target) { return Json::parse(json_call("GET", target).body); }
  Json decode(const http::ClientResponse& r) {
    EXPECT_EQ(r.header("content-type"), kProtobuf);
    auto j = pb::decode_object(r.body);
    EXPECT_TRUE(j) << j.error();
    return j ? *j : Json();
  }

  static std::string service(const std::string& name, int port) {
    return R"({"apiVersion":"v1","kind":"Service","metadata":{"name":")" + name + R"(","labels":{"app":")" + name +
           R"("}},"spec":{"selector":{"app":")" + name + R"("},"ports":[{"name":"http","port":)" + std::to_string(port) +
           R"(,"targetPort":"http"}]}})";
  }
  static std::string slice(const std::string& name) {
    return R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":")" + name +
           R"(","labels":{"kubernetes.io/service-name":"web"}},"addressType":"IPv4",
             "endpoints":[{"addresses":["10.0.0.5"],"conditions":{"ready":false,"serving":true,"terminating":false},"nodeName":"n1"}],
             "ports":[{"name":"http","protocol":"TCP","port":8080}]})";
  }

  store::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<ObjectRegistry> registry_;
  std::unique_ptr<ApiHandler> handler_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<http::HttpClient> client_;
};

std::string protoc_decode_raw(std::string_view message) {
  const std::string path = ::testing::TempDir() + "/pb-" + std::to_string(getpid()) + ".bin";
  std::ofstream(path, std::ios::binary) << message;
  std::string text;
  if (FILE* p = popen(("protoc --decode_raw < " + path + " 2>&1").c_str(), "r")) {
    char buf[4096];
    while (std::size_t n = fread(buf, 1, sizeof buf, p)) text.append(buf, n);
    EXPECT_EQ(pclose(p), 0) << text;
  }
  std::remove(path.c_str());
  return text;
}

// The watch events of one protobuf stream, decoded frame by frame.
std::vector<pb::WatchEventJson> watch_events(http::HttpClient& client, const std::string& target) {
  std::string bytes;
  auto r = client.stream(
      {.target = target, .headers = {{"Accept", kClientGoAccept}}}, [](int, const http::Headers&) { return true; },
      [&](std::string_view data) {
        bytes += data;
        return true;
      });
  EXPECT_TRUE(r) << r.error();
  std::vector<pb::WatchEventJson> out;
  std::string_view rest = bytes;
  while (rest.size() >= 4) {
    const std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(rest[0])) << 24 |
                            static_cast<std::uint32_t>(static_cast<unsigned char>(rest[1])) << 16 |
                            static_cast<std::uint32_t>(static_cast<unsigned char>(rest[2])) << 8 | static_cast<unsigned char>(rest[3]);
    if (n > rest.size() - 4) break;
    auto event = pb::decode_watch_event(rest.substr(4, n));
    EXPECT_TRUE(event) << event.error();
    if (event) out.push_back(std::move(*event));
    rest.remove_prefix(4 + n);
  }
  EXPECT_TRUE(rest.empty()) << rest.size() << " bytes of a cut frame";
  return out;
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST_F(ProtobufApi, ProtobufWritesStoreWhatJsonWritesStore) {
  // The same Service sent as JSON and, re-encoded, as protobuf (as client-go sends it).
  auto body = pb::encode_object(Json::parse(service("viaproto", 80)));
  ASSERT_TRUE(body) << body.error();
  auto created = call("POST", "/api/v1/namespaces/shop/services", *body, kProtobuf, kClientGoAccept);
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_EQ(json_call("POST", "/api/v1/namespaces/shop/services", service("viajson", 80)).status, 201);
  Json from_proto = decode(created);
  EXPECT_EQ(from_proto, json_get("/api/v1/namespaces/shop/services/viaproto"));
  Json a = json_get("/api/v1/namespaces/shop/services/viaproto"), b = json_get("/api/v1/namespaces/shop/services/viajson");
  for (Json* o : {&a, &b}) {
    for (const char* f : {"name", "uid", "resourceVersion", "creationTimestamp", "labels", "managedFields"}) (*o)["metadata"].erase(f);
    for (const char* f : {"clusterIP", "clusterIPs", "selector"}) (*o)["spec"].erase(f);
  }
  EXPECT_EQ(a, b);
  // PUT in protobuf: a label added to what was read.
  from_proto["metadata"]["labels"]["tier"] = "front";
  auto put = call("PUT", "/api/v1/namespaces/shop/services/viaproto", *pb::encode_object(from_proto), kProtobuf, kClientGoAccept);
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(decode(put)["metadata"]["labels"]["tier"], "front");
  // DELETE with client-go's protobuf DeleteOptions and a precondition on a wrong uid.
  auto options = pb::encode_object(Json::parse(R"({"apiVersion":"v1","kind":"DeleteOptions","preconditions":{"uid":"nope"}})"));
  ASSERT_TRUE(options) << options.error();
  auto refused = call("DELETE", "/api/v1/namespaces/shop/services/viaproto", *options, kProtobuf, kClientGoAccept);
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(decode(refused)["kind"], "Status");
}

TEST_F(ProtobufApi, BadProtobufBodiesGet400StatusInProtobuf) {
  const std::string good = *pb::encode_object(Json::parse(service("x", 80)));
  const std::string target = "/api/v1/namespaces/shop/services";
  std::string unknown_kind = *pb::encode_object(Json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}})"));
  unknown_kind.replace(unknown_kind.find("Pod"), 3, "Pox");
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"truncated", good.substr(0, good.size() - 20)},
      {"wrong magic", "k9s" + good.substr(3)},
      {"no magic", good.substr(4)},
      {"unknown kind", unknown_kind},
  };
  for (const auto& [what, body] : bad) {
    auto r = call("POST", target, body, kProtobuf, kClientGoAccept);
    EXPECT_EQ(r.status, 400) << what;
    Json status = decode(r);
    EXPECT_EQ(status["kind"], "Status") << what;
    EXPECT_EQ(status["code"], 400) << what;
    EXPECT_EQ(status["reason"], "BadRequest") << what;
  }
  // A well-formed object of another kind than the resource's is refused as JSON's would be.
  auto pod = call("POST", target, *pb::encode_object(Json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}})")), kProtobuf,
                  "application/json");
  EXPECT_EQ(pod.status, 400);
  EXPECT_THAT(pod.body, HasSubstr("expected Service"));
  EXPECT_EQ(json_get("/api/v1/namespaces/shop/services")["items"].size(), 0u);
}

TEST_F(ProtobufApi, ListsAndGetsOfServicesAndEndpointSlicesMatchTheirJson) {
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(json_call("POST", "/api/v1/namespaces/shop/services", service("s" + std::to_string(i), 80 + i)).status, 201);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(json_call("POST", "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices", slice("web-" + std::to_string(i))).status, 201);
  for (const std::string target :
       {"/api/v1/namespaces/shop/services", "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices",
        "/api/v1/namespaces/shop/services/s3", "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices/web-1"}) {
    auto r = call("GET", target, "", "", kClientGoAccept);
    ASSERT_EQ(r.status, 200) << target;
    Json want = json_get(target);
    // List items carry no apiVersion/kind in protobuf (upstream's JSON lists leave them out too).
    if (want.contains("items"))
      for (auto& item : want["items"]) item.erase("apiVersion"), item.erase("kind");
    EXPECT_EQ(decode(r), want) << target;
  }
  // protoc's reading of the list: ServiceList{metadata=1{resourceVersion=2}, items=2 x5}, each
  // Service{metadata=1{name=1}, spec=2{ports=1{name=1, port=3}}}.
  auto list = call("GET", "/api/v1/namespaces/shop/services", "", "", kProtobuf);
  const std::string envelope = protoc_decode_raw(list.body.substr(4));
  EXPECT_THAT(envelope, HasSubstr("  2: \"ServiceList\"\n"));
  auto raw_start = list.body.find("ServiceList") + std::string("ServiceList").size();
  // runtime.Unknown raw=2 follows typeMeta: its tag byte, a varint length, then the list.
  std::size_t at = raw_start + 1;
  while (static_cast<unsigned char>(list.body[at]) & 0x80) ++at;
  const std::string items = protoc_decode_raw(list.body.substr(at + 1, list.body.size() - at - 1 - 4));
  EXPECT_EQ(count(items, "\n2 {\n"), 5u) << items;
  EXPECT_THAT(items, HasSubstr("1: \"s4\"\n"));
  EXPECT_THAT(items, HasSubstr("      1: \"http\"\n"));
  EXPECT_THAT(items, HasSubstr("      3: 84\n"));
  // EndpointSlice: the pointer false of conditions.ready is on the wire (field 1 = 0).
  auto one = call("GET", "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices/web-0", "", "", kProtobuf);
  EXPECT_EQ(decode(one)["endpoints"][0]["conditions"]["ready"], false);
}

// Pods and Nodes carry the most fields the server keeps without interpreting (probes, env,
// volumes, resources, tolerations, node status): all of it must survive protobuf both ways.
TEST_F(ProtobufApi, PodsAndNodesKeepEveryFieldThroughProtobuf) {
  const Json pod = Json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"app":"web"}},
    "spec":{"nodeName":"node-a","restartPolicy":"Always","terminationGracePeriodSeconds":0,
      "containers":[{"name":"c","image":"busybox","command":["sleep","3600"],"ports":[{"containerPort":8080,"name":"http","protocol":"TCP"}],
        "env":[{"name":"A","value":"b"},{"name":"P","valueFrom":{"fieldRef":{"fieldPath":"status.podIP"}}}],
        "resources":{"limits":{"cpu":"100m","memory":"64Mi"}},
        "readinessProbe":{"httpGet":{"path":"/","port":"http"},"periodSeconds":5},
        "securityContext":{"runAsNonRoot":false,"capabilities":{"add":["NET_ADMIN"]}},
        "volumeMounts":[{"name":"v","mountPath":"/data"}]}],
      "volumes":[{"name":"v","emptyDir":{}},{"name":"cm","configMap":{"name":"x","defaultMode":420}}],
      "tolerations":[{"key":"k","operator":"Exists","tolerationSeconds":30}],
      "affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{"nodeSelectorTerms":[
        {"matchExpressions":[{"key":"zone","operator":"In","values":["a"]}]}]}}}}})");
  auto body = pb::encode_object(pod);
  ASSERT_TRUE(body) << body.error();
  auto created = call("POST", "/api/v1/namespaces/shop/pods", *body, kProtobuf, kClientGoAccept);
  ASSERT_EQ(created.status, 201) << created.body;
  const Json stored = json_get("/api/v1/namespaces/shop/pods/p");
  EXPECT_EQ(decode(created), stored);
  EXPECT_EQ(stored["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"], "http");
  EXPECT_EQ(stored["spec"]["containers"][0]["securityContext"]["runAsNonRoot"], false);
  EXPECT_EQ(stored["spec"]["volumes"][0]["emptyDir"], Json::object());
  EXPECT_EQ(stored["spec"]["terminationGracePeriodSeconds"], 0);
  // The same Pod sent as JSON is stored the same.
  Json as_json = pod;
  as_json["metadata"]["name"] = "q";
  ASSERT_EQ(json_call("POST", "/api/v1/namespaces/shop/pods", as_json.dump()).status, 201);
  Json a = stored, b = json_get("/api/v1/namespaces/shop/pods/q");
  for (Json* o : {&a, &b})
    for (const char* f : {"name", "uid", "resourceVersion", "creationTimestamp"}) (*o)["metadata"].erase(f);
  EXPECT_EQ(a, b);

  const Json node = Json::parse(R"({"apiVersion":"v1","kind":"Node","metadata":{"name":"node-a"},
    "spec":{"podCIDR":"10.1.0.0/24","podCIDRs":["10.1.0.0/24"],"taints":[{"key":"k","value":"v","effect":"NoSchedule"}]},
    "status":{"capacity":{"cpu":"2","pods":"110"},"allocatable":{"cpu":"2"},
      "addresses":[{"type":"InternalIP","address":"192.0.2.10"}],
      "conditions":[{"type":"Ready","status":"True","lastHeartbeatTime":"2026-12-07T01:00:00Z","reason":"KubeletReady"}],
      "nodeInfo":{"kubeletVersion":"v1.31.0","osImage":"Debian","architecture":"amd64","machineID":"","systemUUID":"",
                  "bootID":"","kernelVersion":"6.1","containerRuntimeVersion":"containerd://1.6","kubeProxyVersion":"",
                  "operatingSystem":"linux"},
      "daemonEndpoints":{"kubeletEndpoint":{"Port":10250}}}})");
  auto node_created = call("POST", "/api/v1/nodes", *pb::encode_object(node), kProtobuf, kClientGoAccept);
  ASSERT_EQ(node_created.status, 201) << node_created.body;
  const Json node_stored = json_get("/api/v1/nodes/node-a");
  EXPECT_EQ(decode(node_created), node_stored);
  EXPECT_EQ(node_stored["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"], 10250);
  EXPECT_EQ(node_stored["status"]["nodeInfo"]["kubeletVersion"], "v1.31.0");
}

TEST_F(ProtobufApi, NegotiationFollowsTheAcceptHeader) {
  ASSERT_EQ(json_call("POST", "/api/v1/namespaces/shop/services", service("web", 80)).status, 201);
  const std::string target = "/api/v1/namespaces/shop/services/web";
  EXPECT_EQ(call("GET", target, "", "", "application/json, " + kProtobuf).header("content-type"), "application/json");
  EXPECT_EQ(call("GET", target, "", "", kClientGoAccept).header("content-type"), kProtobuf);
  EXPECT_EQ(call("GET", target, "", "", "").header("content-type"), "application/json");
  // kubectl get: Tables are JSON only.
  auto table = call("GET", target, "", "", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json");
  EXPECT_EQ(Json::parse(table.body)["kind"], "Table");
  // Nothing acceptable: 406, as upstream (a Table in protobuf, or no type it produces at all).
  auto none = call("GET", target, "", "", kProtobuf + ";as=Table;v=v1;g=meta.k8s.io");
  EXPECT_EQ(none.status, 406);
  EXPECT_EQ(Json::parse(none.body)["reason"], "NotAcceptable");
  EXPECT_EQ(call("GET", target, "", "", "text/html").status, 406);
  // Discovery has no protobuf form here: JSON when JSON is acceptable too.
  EXPECT_EQ(call("GET", "/api/v1", "", "", kClientGoAccept).header("content-type"), "application/json");
  // OpenAPI v3 names the protobuf media types per operation, as kube-apiserver's does.
  const Json doc = json_get("/openapi/v3/api/v1");
  const Json& list = doc["paths"]["/api/v1/namespaces/{namespace}/services"]["get"]["responses"]["200"]["content"];
  EXPECT_TRUE(list.contains(kProtobuf) && list.contains(std::string(pb::kWatchMediaType))) << list;
  EXPECT_TRUE(doc["paths"]["/api/v1/namespaces/{namespace}/services"]["post"]["requestBody"]["content"].contains("*/*"));
  // Errors in protobuf when protobuf is asked for.
  auto missing = call("GET", "/api/v1/namespaces/shop/services/nope", "", "", kClientGoAccept);
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(decode(missing)["reason"], "NotFound");
}

TEST_F(ProtobufApi, WatchStreamsLengthPrefixedWatchEvents) {
  for (const auto& [plural, prefix] :
       std::vector<std::pair<std::string, std::string>>{{"services", "/api/v1"}, {"endpointslices", "/apis/discovery.k8s.io/v1"}}) {
    const std::string collection = prefix + "/namespaces/shop/" + plural;
    std::mutex mu;
    std::string bytes, content_type;
    std::thread watcher([&] {
      auto r = client_->stream(
          {.target = collection + "?watch=true&timeoutSeconds=2", .headers = {{"Accept", kClientGoAccept}}},
          [&](int, const http::Headers& h) {
            std::lock_guard lock(mu);
            content_type = http::find_header(h, "content-type");
            return true;
          },
          [&](std::string_view data) {
            std::lock_guard lock(mu);
            bytes += data;
            return true;
          });
      EXPECT_TRUE(r) << r.error();
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const std::string body = plural == "services" ? service("w", 80) : slice("w");
    ASSERT_EQ(json_call("POST", collection, body).status, 201);
    Json changed = json_get(collection + "/w");
    changed["metadata"]["labels"]["tier"] = "front";
    auto put = json_call("PUT", collection + "/w", changed.dump());
    ASSERT_EQ(put.status, 200);
    const Json after_put = Json::parse(put.body);
    ASSERT_EQ(json_call("DELETE", collection + "/w").status, 200);
    watcher.join();
    EXPECT_EQ(content_type, pb::kWatchMediaType);
    std::vector<std::string> types;
    std::string_view rest = bytes;
    while (rest.size() >= 4) {
      const std::uint32_t n = static_cast<std::uint32_t>(static_cast<unsigned char>(rest[0])) << 24 |
                              static_cast<std::uint32_t>(static_cast<unsigned char>(rest[1])) << 16 |
                              static_cast<std::uint32_t>(static_cast<unsigned char>(rest[2])) << 8 | static_cast<unsigned char>(rest[3]);
      ASSERT_LE(n, rest.size() - 4);
      auto event = pb::decode_watch_event(rest.substr(4, n));
      ASSERT_TRUE(event) << event.error();
      rest.remove_prefix(4 + n);
      if (event->type == "BOOKMARK") continue;
      types.push_back(event->type);
      EXPECT_EQ(event->object["metadata"]["name"], "w");
      if (event->type == "MODIFIED") EXPECT_EQ(event->object, after_put);  // what the JSON PUT answered
    }
    EXPECT_TRUE(rest.empty());
    EXPECT_EQ(types, (std::vector<std::string>{"ADDED", "MODIFIED", "DELETED"})) << plural;
  }
}

TEST_F(ProtobufApi, WatchBookmarksAndExpiryErrorsAreFramesToo) {
  ASSERT_EQ(json_call("POST", "/api/v1/namespaces/shop/services", service("web", 80)).status, 201);
  const std::string rv = json_get("/api/v1/namespaces/shop/services")["metadata"]["resourceVersion"];
  auto marked =
      watch_events(*client_, "/api/v1/namespaces/shop/services?watch=true&allowWatchBookmarks=true&timeoutSeconds=2&resourceVersion=" + rv);
  ASSERT_FALSE(marked.empty());
  EXPECT_EQ(marked.back().type, "BOOKMARK");
  EXPECT_EQ(marked.back().object["kind"], "Service");
  EXPECT_EQ(marked.back().object["metadata"]["resourceVersion"], rv);
  // After compaction an old revision is gone: the watch's ERROR event carries a 410 Status.
  ASSERT_EQ(json_call("DELETE", "/api/v1/namespaces/shop/services/web").status, 200);
  ASSERT_TRUE(store_->compact(*store_->current_revision()));
  auto expired = watch_events(*client_, "/api/v1/namespaces/shop/services?watch=true&timeoutSeconds=1&resourceVersion=" + rv);
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].type, "ERROR");
  EXPECT_EQ(expired[0].object["kind"], "Status");
  EXPECT_EQ(expired[0].object["code"], 410);
  EXPECT_EQ(expired[0].object["reason"], "Expired");
}

}  // namespace
}  // namespace switchyard::apiserver
