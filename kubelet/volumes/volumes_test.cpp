// The kubelet's volume files and env references without a runtime: AtomicWriter's swap,
// configMap/secret/downwardAPI/projected payloads with their error messages, env from
// ConfigMaps and Secrets, volumeMounts -> CRI mounts.
#include <sys/stat.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "kubelet/pods/pod_test_support.h"
#include "kubelet/volumes/atomic_writer.h"
#include "kubelet/volumes/pod_volumes.h"
#include "kubelet/volumes/volume_payload.h"
#include "orchestrator/api/protobuf_values.h"

namespace switchyard::kubelet {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Pair;

class FakeLookup : public ConfigLookup {
 public:
  std::map<std::string, api::ConfigMap> cms;
  std::map<std::string, api::Secret> secrets;
  Result<std::optional<api::ConfigMap>> config_map(const std::string& ns, const std::string& name) const override {
    auto it = cms.find(ns + "/" + name);
    return it == cms.end() ? std::optional<api::ConfigMap>() : std::optional(it->second);
  }
  Result<std::optional<api::Secret>> secret(const std::string& ns, const std::string& name) const override {
    auto it = secrets.find(ns + "/" + name);
    return it == secrets.end() ? std::optional<api::Secret>() : std::optional(it->second);
  }
  // What the kubelet's token manager was asked for: pod/sa/audience/lifetime.
  mutable std::vector<std::string> token_requests;
  Result<std::string> service_account_token(const api::Pod& pod, const std::string& audience,
                                            std::int64_t expiration_seconds) const override {
    token_requests.push_back(fmt::format("{}/{}/{}/{}", pod.metadata.name, pod.spec.service_account_name, audience, expiration_seconds));
    return "jwt-for-" + pod.metadata.uid;
  }
  std::vector<api::Service> service_list;
  bool services_synced = true;
  Result<std::vector<api::Service>> services(const std::string& ns) const override {
    if (!services_synced) return fail(ErrorCode::Unavailable, "the kubelet's Service cache has not synced yet");
    std::vector<api::Service> out;
    for (const auto& s : service_list)
      if (s.metadata.namespace_ == ns) out.push_back(s);
    return out;
  }
};

api::Service service(const std::string& ns, const std::string& name, const std::string& ip, std::vector<api::ServicePort> ports) {
  api::Service s;
  s.metadata.namespace_ = ns;
  s.metadata.name = name;
  s.spec.cluster_ip = ip;
  s.spec.ports = std::move(ports);
  return s;
}

FakeLookup lookup() {
  FakeLookup l;
  api::ConfigMap cm;
  cm.data = {{"mode", "fast"}, {"app.conf", "listen 80\n"}};
  l.cms["shop/app"] = cm;
  api::Secret s;
  s.data = {{"password", api::protobuf::values::base64_encode("s3cr3t")}};
  l.secrets["shop/db"] = s;
  return l;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

NodeSettings node() {
  NodeSettings n;
  n.node_name = "node-a";
  n.node_ip = "10.0.0.5";
  return n;
}

const char* kPod = R"json({"metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "labels": {"app": "web", "tier": "front"}},
  "spec": {"containers": [{"name": "c", "image": "busybox"}]}})json";

TEST(AtomicWriter, SwapsDataLinkAndKeepsOnlyTheCurrentVersion) {
  const fs::path dir = fs::temp_directory_path() / ("sy-atomic-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto first = write_atomically(dir, {{"a", {"1", 0644}}, {"sub/b", {"2", 0400}}});
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_TRUE(*first);
  EXPECT_TRUE(fs::is_symlink(dir / "..data"));
  EXPECT_TRUE(fs::is_symlink(dir / "a"));
  EXPECT_EQ(fs::read_symlink(dir / "a"), fs::path("..data/a"));
  EXPECT_EQ(slurp(dir / "sub" / "b"), "2");
  struct stat st {};
  ASSERT_EQ(::stat((dir / "sub" / "b").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0400u);
  const fs::path v1 = fs::read_symlink(dir / "..data");

  auto same = write_atomically(dir, {{"a", {"1", 0644}}, {"sub/b", {"2", 0400}}});
  ASSERT_TRUE(same.has_value());
  EXPECT_FALSE(*same) << "an unchanged payload is not rewritten";

  auto second = write_atomically(dir, {{"a", {"changed", 0644}}});
  ASSERT_TRUE(second.has_value());
  EXPECT_TRUE(*second);
  EXPECT_EQ(slurp(dir / "a"), "changed");
  EXPECT_FALSE(fs::exists(dir / "sub")) << "a key no longer there goes";
  EXPECT_FALSE(fs::exists(dir / v1)) << "the old version goes";
  fs::remove_all(dir);
}

TEST(VolumePayload, ConfigMapItemsModesAndMissingKeys) {
  const auto pod = testing::pod_from(kPod);
  const auto l = lookup();
  auto all = volume_payload(pod, nlohmann::json::parse(R"({"name": "v", "configMap": {"name": "app"}})"), l, node());
  ASSERT_TRUE(all.has_value());
  EXPECT_EQ(all->size(), 2u);
  EXPECT_EQ(all->at("mode"), (FileProjection{"fast", 0644}));
  auto items = volume_payload(
      pod, nlohmann::json::parse(R"({"name": "v", "configMap": {"name": "app", "items": [{"key": "mode", "path": "m/x", "mode": 256}]}})"),
      l, node());
  ASSERT_TRUE(items.has_value());
  EXPECT_EQ(items->size(), 1u);
  EXPECT_EQ(items->at("m/x"), (FileProjection{"fast", 0400}));
  auto missing_key = volume_payload(
      pod, nlohmann::json::parse(R"({"name": "v", "configMap": {"name": "app", "items": [{"key": "nope", "path": "x"}]}})"), l, node());
  ASSERT_FALSE(missing_key.has_value());
  EXPECT_EQ(missing_key.error().message, "configmap references non-existent config key: nope");
  auto missing = volume_payload(pod, nlohmann::json::parse(R"({"name": "v", "configMap": {"name": "gone"}})"), l, node());
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().message, "configmap \"gone\" not found");
  auto optional =
      volume_payload(pod, nlohmann::json::parse(R"({"name": "v", "configMap": {"name": "gone", "optional": true}})"), l, node());
  ASSERT_TRUE(optional.has_value());
  EXPECT_TRUE(optional->empty());
  auto escape = volume_payload(
      pod, nlohmann::json::parse(R"({"name": "v", "configMap": {"name": "app", "items": [{"key": "mode", "path": "../x"}]}})"), l, node());
  EXPECT_FALSE(escape.has_value()) << "a path may not leave the volume";
}

TEST(VolumePayload, SecretDefaultModeDownwardApiAndProjected) {
  const auto pod = testing::pod_from(kPod);
  const auto l = lookup();
  auto secret =
      volume_payload(pod, nlohmann::json::parse(R"({"name": "v", "secret": {"secretName": "db", "defaultMode": 256}})"), l, node());
  ASSERT_TRUE(secret.has_value());
  EXPECT_EQ(secret->at("password"), (FileProjection{"s3cr3t", 0400}));
  auto labels = volume_payload(
      pod,
      nlohmann::json::parse(
          R"({"name": "v", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}, {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]}})"),
      l, node());
  ASSERT_TRUE(labels.has_value()) << labels.error().message;
  EXPECT_EQ(labels->at("labels").data, "app=\"web\"\ntier=\"front\"");
  EXPECT_EQ(labels->at("name").data, "web");
  auto projected = volume_payload(
      pod,
      nlohmann::json::parse(
          R"({"name": "v", "projected": {"defaultMode": 288, "sources": [{"configMap": {"name": "app", "items": [{"key": "mode", "path": "mode"}]}}, {"secret": {"name": "db"}}, {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}})"),
      l, node());
  ASSERT_TRUE(projected.has_value()) << projected.error().message;
  EXPECT_EQ(projected->size(), 3u);
  EXPECT_EQ(projected->at("password"), (FileProjection{"s3cr3t", 0440}));
  EXPECT_EQ(projected->at("ns").data, "shop");
}

TEST(VolumePayload, ServiceAccountTokenAsTheAdmissionPluginMountsIt) {
  auto pod = testing::pod_from(kPod);
  pod.spec.service_account_name = "default";
  const auto l = lookup();
  auto api_access = volume_payload(pod, nlohmann::json::parse(R"({"name": "kube-api-access-x7k2p", "projected": {"defaultMode": 420,
      "sources": [{"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                  {"configMap": {"name": "app", "items": [{"key": "mode", "path": "ca.crt"}]}},
                  {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}})"),
                                   l, node());
  ASSERT_TRUE(api_access.has_value()) << api_access.error().message;
  EXPECT_EQ(api_access->at("token"), (FileProjection{"jwt-for-u-1", 0644}));
  EXPECT_EQ(api_access->at("ca.crt").data, "fast");
  EXPECT_EQ(api_access->at("namespace").data, "shop");
  EXPECT_THAT(l.token_requests, ::testing::ElementsAre("web/default//3607"));
  // An audience of its own, and the API's default lifetime (1 h) when none is given.
  auto vault = volume_payload(
      pod,
      nlohmann::json::parse(
          R"({"name": "v", "projected": {"sources": [{"serviceAccountToken": {"audience": "vault", "path": "vault/token"}}]}})"),
      l, node());
  ASSERT_TRUE(vault.has_value()) << vault.error().message;
  EXPECT_EQ(vault->at("vault/token").data, "jwt-for-u-1");
  EXPECT_EQ(l.token_requests.back(), "web/default/vault/3600");
  auto escape = volume_payload(
      pod, nlohmann::json::parse(R"({"name": "v", "projected": {"sources": [{"serviceAccountToken": {"path": "../token"}}]}})"), l, node());
  ASSERT_FALSE(escape.has_value());
  EXPECT_THAT(escape.error().message, HasSubstr("must not contain '..'"));
}

TEST(PodVolumes, HostPathTypeChecksEmptyDirAndConfigMapFilesThenTeardown) {
  const fs::path root = fs::temp_directory_path() / ("sy-podvol-" + std::to_string(getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "a-dir");
  NodeSettings n = node();
  n.root_dir = root.string();
  const auto l = lookup();
  PodVolumes volumes(l, n);
  auto pod = testing::pod_from(kPod);
  auto with_volumes = [&](const std::string& json) {
    pod.spec.passthrough["volumes"] = json;
    return volumes.prepare(pod);
  };
  const std::string missing = (root / "missing").string(), dir = (root / "a-dir").string();
  auto not_dir = with_volumes(R"([{"name": "h", "hostPath": {"path": ")" + missing + R"(", "type": "Directory"}}])");
  ASSERT_FALSE(not_dir.has_value());
  EXPECT_EQ(not_dir.error().message,
            "MountVolume.SetUp failed for volume \"h\" : hostPath type check failed: " + missing + " is not a directory");
  auto not_file = with_volumes(R"([{"name": "h", "hostPath": {"path": ")" + dir + R"(", "type": "File"}}])");
  ASSERT_FALSE(not_file.has_value());
  EXPECT_THAT(not_file.error().message, HasSubstr("hostPath type check failed: " + dir + " is not a file"));
  auto bad_type = with_volumes(R"([{"name": "h", "hostPath": {"path": ")" + dir + R"(", "type": "Weird"}}])");
  ASSERT_FALSE(bad_type.has_value());
  EXPECT_THAT(bad_type.error().message, HasSubstr("Weird is an invalid volume type"));

  auto ready = with_volumes(R"([{"name": "h", "hostPath": {"path": ")" + missing + R"(", "type": "DirectoryOrCreate"}},
    {"name": "f", "hostPath": {"path": ")" +
                            (root / "file").string() + R"(", "type": "FileOrCreate"}},
    {"name": "scratch", "emptyDir": {}}, {"name": "cfg", "configMap": {"name": "app"}}])");
  ASSERT_TRUE(ready.has_value()) << ready.error().message;
  EXPECT_TRUE(fs::is_directory(missing));
  EXPECT_TRUE(fs::is_regular_file(root / "file"));
  EXPECT_EQ(ready->at("h").host_path, missing);
  EXPECT_FALSE(ready->at("h").read_only);
  EXPECT_EQ(ready->at("scratch").host_path, (root / "pods" / "u-1" / "volumes" / "kubernetes.io~empty-dir" / "scratch").string());
  EXPECT_TRUE(fs::is_directory(ready->at("scratch").host_path));
  EXPECT_TRUE(ready->at("cfg").read_only);
  EXPECT_EQ(slurp(fs::path(ready->at("cfg").host_path) / "mode"), "fast");
  EXPECT_EQ(volumes.pod_uids_on_disk(), std::vector<std::string>{"u-1"});

  auto gone = with_volumes(R"([{"name": "cfg", "configMap": {"name": "absent"}}])");
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().message, "MountVolume.SetUp failed for volume \"cfg\" : configmap \"absent\" not found");

  ASSERT_TRUE(volumes.teardown("u-1").has_value());
  EXPECT_FALSE(fs::exists(root / "pods" / "u-1"));
  EXPECT_TRUE(fs::is_directory(missing)) << "a hostPath is the node's, never removed";
  fs::remove_all(root);
}

// securityContext.fsGroup: the volumes belong to the group (SetVolumeOwnership): files readable
// by it (the token 0640, a 0644 file stays 0644), directories setgid, the emptyDir writable by
// it; a later sync with nothing changed writes nothing.
TEST(PodVolumes, FsGroupOwnsTheVolumes) {
  const fs::path root = fs::temp_directory_path() / ("sy-fsgroup-" + std::to_string(getpid()));
  fs::remove_all(root);
  NodeSettings n = node();
  n.root_dir = root.string();
  const auto l = lookup();
  PodVolumes volumes(l, n);
  auto pod = testing::pod_from(kPod);
  pod.spec.passthrough["securityContext"] = R"({"fsGroup": 4321})";
  pod.spec.passthrough["volumes"] = R"([{"name": "api", "projected": {"defaultMode": 420, "sources": [
      {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
      {"configMap": {"name": "app", "items": [{"key": "mode", "path": "conf/mode"}]}}]}},
    {"name": "sec", "secret": {"secretName": "db", "defaultMode": 256}},
    {"name": "scratch", "emptyDir": {}}])";
  auto ready = volumes.prepare(pod);
  ASSERT_TRUE(ready.has_value()) << ready.error().message;
  auto stat_of = [](const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0) << p;
    return std::pair<unsigned, unsigned>(st.st_gid, st.st_mode & 07777);
  };
  const fs::path api = ready->at("api").host_path;
  EXPECT_EQ(stat_of(api / "token"), std::pair(4321u, 0640u));
  EXPECT_EQ(stat_of(api / "conf" / "mode"), std::pair(4321u, 0644u));
  EXPECT_EQ(stat_of(api / "conf").first, 4321u);
  EXPECT_EQ(stat_of(api / "conf").second & 02000, 02000u) << "setgid";
  EXPECT_EQ(stat_of(api).second & 02550, 02550u);
  EXPECT_EQ(stat_of(fs::path(ready->at("sec").host_path) / "password"), std::pair(4321u, 0440u));
  EXPECT_EQ(stat_of(ready->at("scratch").host_path), std::pair(4321u, 02777u));
  const auto data = fs::read_symlink(api / "..data");
  ASSERT_TRUE(volumes.prepare(pod).has_value());
  EXPECT_EQ(fs::read_symlink(api / "..data"), data) << "the same files in the same group: nothing rewritten";
  ASSERT_TRUE(volumes.teardown("u-1").has_value());
  fs::remove_all(root);
}

TEST(ContainerEnv, ConfigMapAndSecretReferencesAndEnvFrom) {
  auto pod = testing::pod_from(R"json({"metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
    "spec": {"containers": [{"name": "c", "image": "busybox",
      "envFrom": [{"configMapRef": {"name": "app"}, "prefix": "CFG_"}],
      "env": [{"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "mode"}}},
              {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "db", "key": "password"}}},
              {"name": "MAYBE", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "nope", "optional": true}}}],
      "volumeMounts": [{"name": "cfg", "mountPath": "/etc/app"}, {"name": "scratch", "mountPath": "/data", "subPath": "one"}]}]}})json");
  const auto l = lookup();
  RuntimeFacts facts;
  facts.config = &l;
  facts.volumes = {{"cfg", {"/v/cfg", true}}, {"scratch", {"/v/scratch", false}}};
  auto config = make_container_config(pod, pod.spec.containers[0], 0, facts, node());
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_THAT(config->envs, Contains(Pair("MODE", "fast")));
  EXPECT_THAT(config->envs, Contains(Pair("PASS", "s3cr3t")));
  EXPECT_THAT(config->envs, Contains(Pair("CFG_mode", "fast")));
  for (const auto& [k, v] : config->envs) EXPECT_NE(k, "MAYBE");
  bool cfg = false, scratch = false;
  for (const auto& m : config->mounts) {
    if (m.container_path == "/etc/app") cfg = m.host_path == "/v/cfg" && m.readonly;
    if (m.container_path == "/data") scratch = m.host_path == "/v/scratch/one" && !m.readonly;
  }
  EXPECT_TRUE(cfg && scratch);

  auto missing = pod;
  missing.spec.containers[0].passthrough["env"] = R"([{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "app", "key": "nope"}}}])";
  auto bad = make_container_config(missing, missing.spec.containers[0], 0, facts, node());
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message, "couldn't find key nope in ConfigMap shop/app");
  missing.spec.containers[0].passthrough["env"] = R"([{"name": "X", "valueFrom": {"secretKeyRef": {"name": "none", "key": "k"}}}])";
  bad = make_container_config(missing, missing.spec.containers[0], 0, facts, node());
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().message, "secret \"none\" not found");
  missing.spec.containers[0].passthrough["volumeMounts"] = R"([{"name": "other", "mountPath": "/x"}])";
  missing.spec.containers[0].passthrough.erase("env");
  bad = make_container_config(missing, missing.spec.containers[0], 0, facts, node());
  ASSERT_FALSE(bad.has_value());
  EXPECT_THAT(bad.error().message, HasSubstr("cannot find volume \"other\" to mount into container \"c\""));
}

TEST(ContainerEnv, ServiceVariablesForTheKubernetesServiceAndThePodsNamespace) {
  auto pod = testing::pod_from(R"json({"metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
    "spec": {"containers": [{"name": "c", "image": "busybox", "args": ["$(KUBERNETES_SERVICE_HOST)"],
      "env": [{"name": "DB_SERVICE_PORT", "value": "override"}, {"name": "URL", "value": "$(DB_PORT)"}]}]}})json");
  auto l = lookup();
  l.service_list = {
      service("default", "kubernetes", "10.96.0.1", {{.name = "https", .protocol = "TCP", .port = 443}}),
      service("default", "other", "10.96.0.7", {{.name = "", .protocol = "TCP", .port = 80}}),
      service("shop", "db", "10.96.0.9", {{.name = "sql", .protocol = "TCP", .port = 5432}, {.name = "", .protocol = "UDP", .port = 53}}),
      service("shop", "headless", "None", {{.name = "", .protocol = "TCP", .port = 80}}),
      service("shop", "my-cache", "fd00::5", {{.name = "", .protocol = "TCP", .port = 6379}})};
  RuntimeFacts facts;
  facts.config = &l;
  auto config = make_container_config(pod, pod.spec.containers[0], 0, facts, node());
  ASSERT_TRUE(config.has_value()) << config.error().message;
  const auto& e = config->envs;
  EXPECT_THAT(e, Contains(Pair("KUBERNETES_SERVICE_HOST", "10.96.0.1")));
  EXPECT_THAT(e, Contains(Pair("KUBERNETES_SERVICE_PORT", "443")));
  EXPECT_THAT(e, Contains(Pair("KUBERNETES_SERVICE_PORT_HTTPS", "443")));
  EXPECT_THAT(e, Contains(Pair("KUBERNETES_PORT", "tcp://10.96.0.1:443")));
  EXPECT_THAT(e, Contains(Pair("KUBERNETES_PORT_443_TCP", "tcp://10.96.0.1:443")));
  EXPECT_THAT(e, Contains(Pair("KUBERNETES_PORT_443_TCP_PROTO", "tcp")));
  EXPECT_THAT(e, Contains(Pair("KUBERNETES_PORT_443_TCP_PORT", "443")));
  EXPECT_THAT(e, Contains(Pair("KUBERNETES_PORT_443_TCP_ADDR", "10.96.0.1")));
  EXPECT_THAT(e, Contains(Pair("DB_SERVICE_HOST", "10.96.0.9")));
  EXPECT_THAT(e, Contains(Pair("DB_SERVICE_PORT", "override"))) << "the container's own env wins";
  EXPECT_THAT(e, Contains(Pair("DB_SERVICE_PORT_SQL", "5432")));
  EXPECT_THAT(e, Contains(Pair("DB_PORT_53_UDP", "udp://10.96.0.9:53")));
  EXPECT_THAT(e, Contains(Pair("URL", "tcp://10.96.0.9:5432"))) << "env may refer to service variables";
  EXPECT_THAT(e, Contains(Pair("MY_CACHE_PORT", "tcp://[fd00::5]:6379")));
  EXPECT_EQ(config->args, std::vector<std::string>{"10.96.0.1"});
  for (const auto& [k, v] : e) {
    EXPECT_FALSE(k.starts_with("OTHER_")) << "another namespace's Service: " << k;
    EXPECT_FALSE(k.starts_with("HEADLESS_")) << "no cluster IP: " << k;
  }
  EXPECT_EQ(std::ranges::count_if(e, [](const auto& kv) { return kv.first == "DB_SERVICE_PORT"; }), 1);

  // enableServiceLinks: false leaves only the API server's.
  pod.spec.passthrough["enableServiceLinks"] = "false";
  config = make_container_config(pod, pod.spec.containers[0], 0, facts, node());
  ASSERT_TRUE(config.has_value()) << config.error().message;
  EXPECT_THAT(config->envs, Contains(Pair("KUBERNETES_SERVICE_HOST", "10.96.0.1")));
  for (const auto& [k, v] : config->envs) EXPECT_FALSE(k.starts_with("DB_PORT")) << k;
  // Not read yet: the container waits (Unavailable), as the kubelet does.
  l.services_synced = false;
  auto waiting = make_container_config(pod, pod.spec.containers[0], 0, facts, node());
  ASSERT_FALSE(waiting.has_value());
  EXPECT_EQ(waiting.error().code, ErrorCode::Unavailable);
}

}  // namespace
}  // namespace switchyard::kubelet
