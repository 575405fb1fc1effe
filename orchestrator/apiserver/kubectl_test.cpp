// Every kubectl on the image (1.27 to 1.33) against a real `switchyard apiserver` process over
// HTTPS with a bearer token: each step checks what kubectl prints, not only its exit code.
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>
#include <gtest/gtest.h>

#include "netns-tests/support/process.h"

namespace switchyard::apiserver {
namespace {

using switchyard::testing::ChildProcess;
using switchyard::testing::run;
using switchyard::testing::wait_until;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::Not;

const char* kKubectlDir = "/usr/lib/google-cloud-sdk/bin";

class KubectlAgainstApiserver : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    kubectl_ = std::string(kKubectlDir) + "/kubectl." + GetParam();
    // A missing kubectl fails: the machine image ships 1.27–1.33 (README, "kubectl").
    ASSERT_TRUE(std::filesystem::exists(kubectl_)) << kubectl_ << " is not on this machine";
    dir_ = std::filesystem::temp_directory_path() / ("sy-kubectl-" + GetParam() + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    port_ = std::to_string(switchyard::testing::free_loopback_port());
    ASSERT_EQ(run("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=switchyard "
                  "-addext subjectAltName=IP:127.0.0.1 -keyout " +
                  (dir_ / "key.pem").string() + " -out " + (dir_ / "cert.pem").string())
                  .exit_code,
              0);
    std::ofstream(dir_ / "token") << "t0ken-" << getpid() << "\n";
    const auto ca = run("base64 -w0 " + (dir_ / "cert.pem").string()).output;
    std::ofstream(dir_ / "kubeconfig") << "apiVersion: v1\nkind: Config\nclusters: [{name: sy, cluster: {server: \"https://127.0.0.1:"
                                       << port_ << "\", certificate-authority-data: " << ca
                                       << "}}]\nusers: [{name: admin, user: {token: t0ken-" << getpid()
                                       << "}}]\ncontexts: [{name: sy, context: {cluster: sy, user: admin}}]\ncurrent-context: sy\n";
    start_server();
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }
  void start_server() {
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{SWITCHYARD_BINARY, "apiserver", "--data-dir", dir_.string(), "--listen", "127.0.0.1:" + port_,
                                 "--tls-cert-file", (dir_ / "cert.pem").string(), "--tls-private-key-file", (dir_ / "key.pem").string(),
                                 "--token-file", (dir_ / "token").string()},
        (dir_ / "apiserver.log").string());
    ASSERT_TRUE(wait_until(10, [&] { return k("get ns default -o name").output == "namespace/default\n"; }))
        << run("cat " + (dir_ / "apiserver.log").string()).output;
  }
  testing::CommandResult k(const std::string& args) {
    return run(kubectl_ + " --kubeconfig " + (dir_ / "kubeconfig").string() + " " + args);
  }
  std::string file(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }

  std::string kubectl_, port_;
  std::filesystem::path dir_;
  std::unique_ptr<ChildProcess> server_;
};

const char* kManifest = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: shop
  labels: {app: web}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: https, port: 443, targetPort: 8443}
)";

TEST_P(KubectlAgainstApiserver, DiscoveryCreateGetAndOutputFormats) {
  auto resources = k("api-resources");
  EXPECT_THAT(resources.output, ContainsRegex("\nservices +svc +v1 +true +Service\n"));
  EXPECT_THAT(resources.output, ContainsRegex("\nendpointslices +discovery.k8s.io/v1 +true +EndpointSlice\n"));
  auto created = k("create -f " + file("m.yaml", kManifest));
  EXPECT_EQ(created.exit_code, 0) << created.output;
  EXPECT_THAT(created.output, HasSubstr("namespace/shop created"));
  EXPECT_THAT(created.output, HasSubstr("service/web created"));
  auto table = k("get svc -n shop");
  EXPECT_THAT(table.output, HasSubstr("NAME   TYPE        CLUSTER-IP"));
  EXPECT_THAT(table.output, HasSubstr("80/TCP,443/TCP"));
  EXPECT_THAT(k("get svc web -n shop -o yaml").output, HasSubstr("    targetPort: http\n"));
  EXPECT_EQ(k("get svc web -n shop -o jsonpath={.spec.ports[1].targetPort}").output, "8443");
  EXPECT_EQ(k("get svc web -n shop -o jsonpath={.spec.sessionAffinity}").output, "None");  // defaulted by the server
  auto again = k("create -f " + file("m2.yaml", kManifest));
  EXPECT_THAT(again.output, HasSubstr("services \"web\" already exists"));
}

TEST_P(KubectlAgainstApiserver, LabelAnnotatePatchAndSelectors) {
  ASSERT_EQ(k("create -f " + file("m.yaml", kManifest)).exit_code, 0);
  EXPECT_EQ(k("label svc web -n shop tier=front").output, "service/web labeled\n");
  // kubectl 1.27 prints "annotate" (its own typo), later versions "annotated".
  EXPECT_THAT(k("annotate svc web -n shop owner=team-a").output, ContainsRegex("^service/web annotated?\n$"));
  EXPECT_EQ(k("get svc web -n shop -o jsonpath={.metadata.annotations.owner}").output, "team-a");
  EXPECT_EQ(k("get svc -n shop -l 'tier in (front,back)' -o name").output, "service/web\n");
  EXPECT_EQ(k("get svc -n shop -l tier!=front -o name").output, "");
  EXPECT_EQ(k("patch svc web -n shop --type merge -p '{\"spec\":{\"sessionAffinity\":\"ClientIP\"}}'").output, "service/web patched\n");
  EXPECT_EQ(k("get svc web -n shop -o jsonpath={.spec.sessionAffinityConfig.clientIP.timeoutSeconds}").output, "10800");
  EXPECT_EQ(k("patch svc web -n shop --type json -p '[{\"op\":\"replace\",\"path\":\"/spec/ports/0/port\",\"value\":8080}]'").output,
            "service/web patched\n");
  EXPECT_EQ(k("get svc web -n shop -o jsonpath={.spec.ports[0].port}").output, "8080");
  EXPECT_EQ(k("get svc -n shop --field-selector metadata.name=web -o name").output, "service/web\n");

  // Pods by node, as a node agent lists them; a field the server does not select on is refused.
  const char* pods = R"(apiVersion: v1
kind: Pod
metadata: {name: on-n1, namespace: shop}
spec: {nodeName: n1, containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: on-n2, namespace: shop}
spec: {nodeName: n2, containers: [{name: c, image: nginx}]}
)";
  ASSERT_EQ(k("create -f " + file("pods.yaml", pods)).exit_code, 0);
  EXPECT_EQ(k("get pods -A --field-selector spec.nodeName=n1 -o name").output, "pod/on-n1\n");
  EXPECT_EQ(k("get pods -n shop --field-selector spec.nodeName!=n1,spec.hostNetwork=false -o name").output, "pod/on-n2\n");
  EXPECT_THAT(k("get pods -n shop --field-selector spec.nodeNam=n1").output, HasSubstr("field label not supported: spec.nodeNam"));
}

TEST_P(KubectlAgainstApiserver, ApplyTwiceServerSideApplyStrategicPatchAndEdit) {
  auto first = k("apply -f " + file("m.yaml", kManifest));
  EXPECT_EQ(first.exit_code, 0) << first.output;
  EXPECT_THAT(first.output, HasSubstr("service/web created"));
  // Client-side apply again with a change: the port list merges by port, a label is added.
  std::string changed = kManifest;
  changed.replace(changed.find("labels: {app: web}"), 18, "labels: {app: web, tier: front}");
  changed.replace(changed.find("targetPort: 8443"), 16, "targetPort: 9443");
  auto second = k("apply -f " + file("m2.yaml", changed));
  EXPECT_THAT(second.output, HasSubstr("service/web configured"));
  EXPECT_EQ(k("get svc web -n shop -o jsonpath={.spec.ports[1].targetPort}/{.metadata.labels.tier}").output, "9443/front");
  EXPECT_THAT(k("apply -f " + file("m3.yaml", changed)).output, HasSubstr("service/web unchanged"));
  // Strategic merge patch: port 80's targetPort changes, port 443 stays.
  EXPECT_EQ(k("patch svc web -n shop -p '{\"spec\":{\"ports\":[{\"port\":80,\"targetPort\":8080}]}}'").output, "service/web patched\n");
  EXPECT_EQ(k("get svc web -n shop -o jsonpath={.spec.ports[*].targetPort}").output, "8080 9443");
  // Server-side apply of another object, then again with a change.
  const std::string ssa = "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: shop}\nspec:\n  ports: [{port: 8080}]\n";
  auto created = k("apply --server-side -f " + file("ssa.yaml", ssa));
  EXPECT_THAT(created.output, HasSubstr("service/api serverside-applied"));
  std::string ssa2 = ssa;
  ssa2.replace(ssa2.find("8080"), 4, "9090");
  EXPECT_THAT(k("apply --server-side -f " + file("ssa2.yaml", ssa2)).output, HasSubstr("service/api serverside-applied"));
  EXPECT_EQ(k("get svc api -n shop -o jsonpath={.spec.ports[*].port}").output, "9090");
  EXPECT_THAT(k("get svc api -n shop -o jsonpath={.metadata.managedFields[0].manager}").output, HasSubstr("kubectl"));
  // kubectl edit with a scripted editor.
  const auto editor = file("editor.sh", "#!/bin/sh\nsed -i 's/sessionAffinity: None/sessionAffinity: ClientIP/' \"$1\"\n");
  std::filesystem::permissions(editor, std::filesystem::perms::owner_all);
  auto edited = run("KUBE_EDITOR=" + editor + " " + kubectl_ + " --kubeconfig " + (dir_ / "kubeconfig").string() + " edit svc web -n shop");
  EXPECT_THAT(edited.output, HasSubstr("service/web edited"));
  EXPECT_EQ(k("get svc web -n shop -o jsonpath={.spec.sessionAffinity}").output, "ClientIP");
}

// Writes that are not server-side apply own what they set (an `Update` entry per manager), so a
// later `apply --server-side` of a different value conflicts and names them, as kube-apiserver
// answers; --force-conflicts takes the fields over.
TEST_P(KubectlAgainstApiserver, EditLabelAndPatchOwnFieldsThatServerSideApplyConflictsWith) {
  ASSERT_EQ(k("create service clusterip web --tcp=80:80").exit_code, 0);
  EXPECT_THAT(
      k("get svc web --show-managed-fields -o jsonpath={.metadata.managedFields[*].manager}/{.metadata.managedFields[*].operation}").output,
      HasSubstr("kubectl-create/Update"));
  ASSERT_EQ(k("label svc web tier=front").exit_code, 0);
  const auto editor = file("editor.sh", "#!/bin/sh\nsed -i 's/sessionAffinity: None/sessionAffinity: ClientIP/' \"$1\"\n");
  std::filesystem::permissions(editor, std::filesystem::perms::owner_all);
  auto edited = run("KUBE_EDITOR=" + editor + " " + kubectl_ + " --kubeconfig " + (dir_ / "kubeconfig").string() + " edit svc web");
  ASSERT_THAT(edited.output, HasSubstr("service/web edited"));

  const std::string mine =
      "apiVersion: v1\nkind: Service\nmetadata: {name: web, labels: {tier: back}}\n"
      "spec:\n  sessionAffinity: None\n  ports: [{name: 80-80, port: 80, targetPort: 80}]\n";
  auto refused = k("apply --server-side -f " + file("web.yaml", mine));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("Apply failed with 2 conflicts"));
  EXPECT_THAT(refused.output, HasSubstr("conflicts with \"kubectl-edit\" using v1:\n- .spec.sessionAffinity"));
  EXPECT_THAT(refused.output, HasSubstr("conflicts with \"kubectl-label\" using v1:\n- .metadata.labels.tier"));
  EXPECT_EQ(k("get svc web -o jsonpath={.spec.sessionAffinity}/{.metadata.labels.tier}").output, "ClientIP/front") << "nothing applied";

  auto forced = k("apply --server-side --force-conflicts -f " + file("web.yaml", mine));
  ASSERT_EQ(forced.exit_code, 0) << forced.output;
  EXPECT_EQ(k("get svc web -o jsonpath={.spec.sessionAffinity}/{.metadata.labels.tier}").output, "None/back");
  // The fields moved: kubectl-edit and kubectl-label owned nothing else, so their entries are gone.
  EXPECT_EQ(k("get svc web --show-managed-fields -o jsonpath={.metadata.managedFields[*].manager}").output, "kubectl-create kubectl")
      << "kubectl apply --server-side's manager is \"kubectl\"";
  // Another write of the same value as an applied field shares it: no conflict on the next apply.
  ASSERT_EQ(k("patch svc web -p '{\"spec\":{\"sessionAffinity\":\"None\"}}'").exit_code, 0);
  EXPECT_EQ(k("apply --server-side -f " + file("web.yaml", mine)).exit_code, 0);
}

TEST_P(KubectlAgainstApiserver, ValidationErrorsShowTheFieldPath) {
  ASSERT_EQ(k("create -f " + file("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")).exit_code, 0);
  auto bad = k("create -f " + file("bad.yaml",
                                   "apiVersion: v1\nkind: Service\nmetadata: {name: bad, namespace: shop}\nspec:\n  type: NodePort\n  "
                                   "ports: [{port: 80, nodePort: 80}]\n"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.output, HasSubstr("The Service \"bad\" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in "
                                    "the valid range. The range of valid ports is 30000-32767"));
  auto unknown = k("create -f " +
                   file("unknown.yaml",
                        "apiVersion: v1\nkind: Service\nmetadata: {name: u, namespace: shop}\nspec:\n  ports: [{port: 80}]\n  tipe: X\n"));
  EXPECT_THAT(unknown.output, HasSubstr("strict decoding error: unknown field \"spec.tipe\""));
  EXPECT_THAT(k("get svc nope -n shop").output, HasSubstr("Error from server (NotFound): services \"nope\" not found"));
  EXPECT_THAT(k("get svc -n nowhere -o name").output, Not(HasSubstr("service/")));
}

TEST_P(KubectlAgainstApiserver, WatchSeesAddedModifiedDeleted) {
  ASSERT_EQ(k("create -f " + file("ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n")).exit_code, 0);
  ChildProcess watcher(
      {"sh", "-c",
       kubectl_ + " --kubeconfig " + (dir_ / "kubeconfig").string() + " get svc -n shop -w --output-watch-events --request-timeout=8s"},
      (dir_ / "watch.txt").string());
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  const std::string service_only = std::string(kManifest).substr(std::string(kManifest).find("---\n") + 4);
  ASSERT_EQ(k("create -f " + file("svc.yaml", service_only)).exit_code, 0);
  ASSERT_EQ(k("label svc web -n shop tier=front").exit_code, 0);
  ASSERT_EQ(k("delete svc web -n shop").output, "service \"web\" deleted\n");
  EXPECT_TRUE(wait_until(10, [&] { return run("cat " + (dir_ / "watch.txt").string()).output.find("DELETED") != std::string::npos; }))
      << run("cat " + (dir_ / "watch.txt").string()).output;
  const auto seen = run("cat " + (dir_ / "watch.txt").string()).output;
  EXPECT_THAT(seen, ContainsRegex("ADDED +web +ClusterIP"));
  EXPECT_THAT(seen, ContainsRegex("MODIFIED +web +ClusterIP"));
  EXPECT_THAT(seen, ContainsRegex("DELETED +web +ClusterIP"));
}

TEST_P(KubectlAgainstApiserver, DeleteNamespaceDeletesItsContents) {
  ASSERT_EQ(k("create -f " + file("m.yaml", kManifest)).exit_code, 0);
  EXPECT_EQ(k("delete namespace shop").output, "namespace \"shop\" deleted\n");
  EXPECT_THAT(k("get svc web -n shop").output, HasSubstr("not found"));
  EXPECT_THAT(k("get ns shop").output, HasSubstr("namespaces \"shop\" not found"));
}

TEST_P(KubectlAgainstApiserver, KillNineAndRestartKeepsEveryAcknowledgedWrite) {
  ASSERT_EQ(k("create -f " + file("m.yaml", kManifest)).exit_code, 0);
  for (int i = 0; i < 5; ++i) {
    const std::string name = "s" + std::to_string(i);
    ASSERT_EQ(k("create -f " + file(name + ".yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: " + name +
                                                        ", namespace: shop}\nspec:\n  ports: [{port: 80}]\n"))
                  .exit_code,
              0);
  }
  const std::string each = "-o jsonpath='{range .items[*]}{.metadata.name}={.metadata.resourceVersion}/{.spec.clusterIP}{\"\\n\"}{end}'";
  const auto before = k("get svc -n shop " + each).output;
  const std::string rv = nlohmann::json::parse(k("get --raw /api/v1/namespaces/shop/services").output)["metadata"]["resourceVersion"];
  ASSERT_FALSE(rv.empty());
  server_->kill_now(SIGKILL);
  server_.reset();
  start_server();
  EXPECT_EQ(k("get svc -n shop " + each).output, before);  // same objects, resourceVersions and cluster IPs
  EXPECT_EQ(std::count(before.begin(), before.end(), '\n'), 6);
  EXPECT_THAT(before, ContainsRegex("s0=[0-9]+/10\\.[0-9]+\\.[0-9]+\\.[0-9]+\n"));
  // A watch from the revision seen before the crash resumes: it gets what changed after it.
  ASSERT_EQ(k("label svc s3 -n shop after=crash").exit_code, 0);
  auto resumed = k("get --raw '/api/v1/namespaces/shop/services?watch=true&timeoutSeconds=1&resourceVersion=" + rv + "'");
  EXPECT_THAT(resumed.output, HasSubstr("\"type\":\"MODIFIED\""));
  EXPECT_THAT(resumed.output, HasSubstr("\"after\":\"crash\""));
  EXPECT_THAT(resumed.output, Not(HasSubstr("\"name\":\"s1\"")));  // nothing from before the revision
}

// What a `create` made, without what the server assigns per object (so two creates compare).
nlohmann::json comparable(nlohmann::json o) {
  auto& m = o["metadata"];
  for (const char* f : {"uid", "resourceVersion", "creationTimestamp", "namespace"}) m.erase(f);
  for (auto& entry : m["managedFields"]) entry.erase("time");
  for (const char* f : {"clusterIP", "clusterIPs"}) o["spec"].erase(f);
  for (auto& port : o["spec"]["ports"]) port.erase("nodePort");
  return o;
}

// kubectl 1.32 and later send the bodies of `create` generators in protobuf (1.27–1.31 in JSON):
// every generator for a kind the server serves must make the object 1.31's JSON makes.
TEST_P(KubectlAgainstApiserver, CreateSubcommandsMakeTheSameObjectsAs131) {
  const std::string ref = "ref-" + std::to_string(getpid()), mine = "v-" + std::to_string(getpid());
  const std::string kubectl_131 = std::string(kKubectlDir) + "/kubectl.1.31 --kubeconfig " + (dir_ / "kubeconfig").string() + " ";
  const std::vector<std::pair<std::string, std::string>> creates = {
      {"service clusterip cip --tcp=80:8080 --tcp=443:8443", "service/cip"},
      {"service clusterip headless --clusterip=None", "service/headless"},
      {"service nodeport np --tcp=80:8080", "service/np"},
      {"service loadbalancer lb --tcp=443:https", "service/lb"},
      {"service externalname ext --external-name=db.example.com --tcp=5432", "service/ext"},
  };
  auto made = k("create namespace " + mine);
  ASSERT_EQ(made.exit_code, 0) << made.output;
  EXPECT_EQ(made.output, "namespace/" + mine + " created\n");
  ASSERT_EQ(run(kubectl_131 + "create namespace " + ref).exit_code, 0);
  EXPECT_EQ(comparable(nlohmann::json::parse(k("get ns " + mine + " -o json").output))["spec"],
            comparable(nlohmann::json::parse(k("get ns " + ref + " -o json").output))["spec"]);
  for (const auto& [args, name] : creates) {
    auto created = k("create " + args + " -n " + mine);
    EXPECT_EQ(created.output, name + " created\n") << args;
    ASSERT_EQ(run(kubectl_131 + "create " + args + " -n " + ref).exit_code, 0) << args;
    auto got = nlohmann::json::parse(k("get " + name + " -n " + mine + " -o json").output, nullptr, false);
    auto want = nlohmann::json::parse(k("get " + name + " -n " + ref + " -o json").output, nullptr, false);
    ASSERT_TRUE(got.is_object() && want.is_object()) << args;
    EXPECT_EQ(comparable(got), comparable(want)) << args;
  }
  // A chosen node port (one create only: the two namespaces cannot share it).
  EXPECT_EQ(k("create service nodeport fixed --tcp=80 --node-port=30123 -n " + mine).output, "service/fixed created\n");
  EXPECT_EQ(k("get svc fixed -n " + mine + " -o jsonpath={.spec.ports[0].nodePort}").output, "30123");
  EXPECT_EQ(k("get svc headless -n " + mine + " -o jsonpath={.spec.clusterIP}").output, "None");
  // The same name again is the server's AlreadyExists, decoded from its protobuf Status.
  EXPECT_THAT(k("create service clusterip cip --tcp=80 -n " + mine).output,
              HasSubstr("failed to create ClusterIP service: services \"cip\" already exists"));
}

std::vector<std::string> kubectl_versions() { return {"1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33"}; }

INSTANTIATE_TEST_SUITE_P(EveryKubectl, KubectlAgainstApiserver, ::testing::ValuesIn(kubectl_versions()),
                         [](const auto& info) { return "v" + info.param.substr(0, 1) + "_" + info.param.substr(2); });

}  // namespace
}  // namespace switchyard::apiserver
