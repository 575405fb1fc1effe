// ServiceAccounts end to end on `switchyard up` (its own containerd, in a node namespace of its
// own, the busybox test image): a pod runs as its namespace's `default` ServiceAccount with
// kube-api-access-XXXXX mounted at /var/run/secrets/kubernetes.io/serviceaccount (admission);
// the kubelet writes a token bound to the pod (TokenRequest), the cluster CA and the namespace
// there; the token read out of the pod is system:serviceaccount:NS:default to the API server
// (kubectl auth whoami) until the pod is deleted, then 401; the pod finds the API server through
// KUBERNETES_SERVICE_HOST/PORT; automountServiceAccountToken: false (pod or ServiceAccount) mounts
// nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "kubelet/runtime/containerd_config.h"
#include "kubelet/runtime/runtime_cleanup.h"
#include "netns-tests/support/process.h"

namespace switchyard {
namespace {

namespace fs = std::filesystem;
using testing::ChildProcess;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using testing::run;
using ::testing::StartsWith;
using testing::wait_until;

constexpr const char* kNodeIp = "10.88.0.2";
constexpr const char* kTokenDir = "/var/run/secrets/kubernetes.io/serviceaccount";

class ServiceAccountsOnUp : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::path("/tmp") / ("sy-satok-" + std::to_string(::getpid()));
    ns_ = "sa-" + std::to_string(::getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    netns_ = new testing::NetworkNamespace("satok");
    const std::string n = netns_->name();
    auto link = run("ip -n " + n + " link add sy-sa-a type veth peer name sy-sa-b && ip -n " + n + " addr add " + kNodeIp +
                    "/24 dev sy-sa-a && ip -n " + n + " link set sy-sa-a up && ip -n " + n + " link set sy-sa-b up && ip -n " + n +
                    " link set lo up 2>&1");
    ASSERT_EQ(link.exit_code, 0) << link.output;
    up_ = new ChildProcess(
        {"nsenter", "--net=/run/netns/" + n, SWITCHYARD_BINARY, "up", "--data-dir", (dir_ / "cluster").string(), "--node-name", "node-sa",
         "--node-ip", kNodeIp, "--healthz-bind-address", "127.0.0.1:10256", "--images-dir", SWITCHYARD_TEST_IMAGES_DIR},
        (dir_ / "up.log").string());
    ASSERT_TRUE(wait_until(90, [] { return up_output().find("Container runtime:") != std::string::npos; })) << up_output();
    ASSERT_EQ(kubectl("create namespace " + ns_).exit_code, 0);
    ASSERT_TRUE(wait_until(30, [] { return kn("get sa default -o name").output == "serviceaccount/default\n"; }))
        << kubectl("get sa -A").output;
  }

  static void TearDownTestSuite() {
    if (up_) {
      kn("delete pod --all --grace-period=0 --force --wait=false");
      delete up_;  // SIGTERM, then SIGKILL: up stops its containerd
      up_ = nullptr;
    }
    kubelet::runtime::ContainerdOptions ours;
    ours.data_dir = kubelet::runtime::node_containerd_dir(dir_ / "cluster");
    if (auto r = kubelet::runtime::remove_runtime_leftovers(ours); !r) ADD_FAILURE() << r.error().message;
    // Volumes of pods the kubelet had no time to tear down.
    run("grep -o ' " + dir_.string() + "/[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l 2>/dev/null");
    delete netns_;
    netns_ = nullptr;
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  static std::string up_output() {
    std::ifstream in(dir_ / "up.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  static std::string in_node(const std::string& command) { return "nsenter --net=/run/netns/" + netns_->name() + " " + command; }
  static testing::CommandResult kubectl(const std::string& args, int minor = 33) {
    return run(in_node("/usr/lib/google-cloud-sdk/bin/kubectl.1." + std::to_string(minor) + " --kubeconfig " +
                       (dir_ / "cluster" / "kubeconfig").string() + " " + args + " 2>&1"));
  }
  // In the test's namespace (the flag first: what follows `exec POD --` is the container's).
  static testing::CommandResult kn(const std::string& args, int minor = 33) { return kubectl("-n " + ns_ + " " + args, minor); }
  // kubectl holding nothing but `token` (no kubeconfig credentials).
  static testing::CommandResult as_token(const std::string& token, const std::string& args) {
    const std::string server = kubectl("config view -o jsonpath={.clusters[0].cluster.server}").output;
    return run(in_node("/usr/lib/google-cloud-sdk/bin/kubectl.1.33 --kubeconfig /dev/null --server " + server +
                       " --certificate-authority " + (dir_ / "cluster" / "pki" / "ca.crt").string() + " --token " + token + " " + args +
                       " 2>&1"));
  }
  static std::string apply(const std::string& name, const std::string& yaml) {
    std::ofstream(dir_ / name) << yaml;
    return kn("apply -f " + (dir_ / name).string()).output;
  }
  static bool running(const std::string& pod) { return kn("get pod " + pod + " -o jsonpath={.status.phase}").output == "Running"; }
  static std::string busybox_pod(const std::string& name, const std::string& extra_spec = "") {
    return "apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + "}\nspec:\n  terminationGracePeriodSeconds: 0\n" + extra_spec +
           "  containers:\n  - name: main\n    image: switchyard.local/busybox:1\n    command: [sleep, '3600']\n";
  }

  static inline fs::path dir_;
  static inline std::string ns_;
  static inline testing::NetworkNamespace* netns_ = nullptr;
  static inline ChildProcess* up_ = nullptr;
};

TEST_F(ServiceAccountsOnUp, APodsTokenIsItsServiceAccountUntilThePodIsDeleted) {
  ASSERT_THAT(apply("reader.yaml", busybox_pod("reader")), HasSubstr("pod/reader created"));
  ASSERT_TRUE(wait_until(90, [] { return running("reader"); })) << kn("describe pod reader").output << up_output();

  // Admission: the default ServiceAccount and its API access volume, mounted read-only.
  EXPECT_EQ(kn("get pod reader -o jsonpath={.spec.serviceAccountName}/{.spec.serviceAccount}").output, "default/default");
  const std::string volume = kn("get pod reader -o jsonpath={.spec.volumes[0].name}").output;
  EXPECT_THAT(volume, MatchesRegex("kube-api-access-[bcdfghjklmnpqrstvwxz2456789]{5}"));
  EXPECT_EQ(kn("get pod reader -o jsonpath={.spec.containers[0].volumeMounts[0].mountPath}").output, kTokenDir);

  // The files: a JWT bound to this pod, the cluster CA, the namespace; 0644, read-only.
  const std::string dir = kTokenDir;
  const std::string token = kn("exec reader -- cat " + dir + "/token").output;
  ASSERT_THAT(token, MatchesRegex("[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+")) << token;
  std::ifstream ca_file(dir_ / "cluster" / "pki" / "ca.crt");
  const std::string ca((std::istreambuf_iterator<char>(ca_file)), {});
  ASSERT_THAT(ca, StartsWith("-----BEGIN CERTIFICATE-----"));
  EXPECT_EQ(kn("exec reader -- cat " + dir + "/ca.crt").output, ca);
  EXPECT_EQ(kn("exec reader -- cat " + dir + "/namespace").output, ns_);
  EXPECT_EQ(kn("exec reader -- stat -L -c %a " + dir + "/token").output, "644\n");
  EXPECT_THAT(kn("exec reader -- ls -a " + dir).output, HasSubstr("..data"));
  EXPECT_THAT(kn("exec reader -- touch " + dir + "/x").output, HasSubstr("Read-only file system"));
  const std::string claims =
      run("python3 -c 'import sys,base64; p=sys.argv[1].split(\".\")[1]; print(base64.urlsafe_b64decode(p+\"=\"*(-len(p)%4)).decode())' " +
          token)
          .output;
  const std::string uid = kn("get pod reader -o jsonpath={.metadata.uid}").output;
  EXPECT_THAT(claims, HasSubstr("\"pod\":{\"name\":\"reader\",\"uid\":\"" + uid + "\"}")) << claims;
  EXPECT_THAT(claims, HasSubstr("\"sub\":\"system:serviceaccount:" + ns_ + ":default\"")) << claims;

  // In-cluster clients find the API server through the kubernetes Service's variables.
  const std::string service_ip = kubectl("get service kubernetes -n default -o jsonpath={.spec.clusterIP}").output;
  EXPECT_EQ(kn("exec reader -- sh -c 'echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT'").output, service_ip + ":443\n");
  EXPECT_EQ(kn("exec reader -- sh -c 'echo $KUBERNETES_PORT'").output, "tcp://" + service_ip + ":443\n");

  // The token is the pod's ServiceAccount to the API server.
  const auto whoami = as_token(token, "auth whoami");
  EXPECT_EQ(whoami.exit_code, 0) << whoami.output;
  EXPECT_THAT(whoami.output, HasSubstr("system:serviceaccount:" + ns_ + ":default"));
  EXPECT_THAT(whoami.output, HasSubstr("[system:serviceaccounts system:serviceaccounts:" + ns_ + " system:authenticated]"));

  // The pod reaches the API server at those addresses (the Service through the dataplane; a
  // port the Service does not have is refused).
  EXPECT_EQ(kn("exec reader -- sh -c 'timeout 10 nc -w 5 $KUBERNETES_SERVICE_HOST $KUBERNETES_SERVICE_PORT </dev/null; echo rc=$?'").output,
            "rc=0\n");
  EXPECT_THAT(kn("exec reader -- sh -c 'timeout 10 nc -w 5 $KUBERNETES_SERVICE_HOST 444 </dev/null; echo rc=$?'").output,
              HasSubstr("rc=1"));

  // Deleted, the pod takes its token with it.
  ASSERT_EQ(kn("delete pod reader --grace-period=0 --force").exit_code, 0);
  ASSERT_TRUE(wait_until(30, [] { return kn("get pods -o name").output.empty(); })) << kn("get pods").output;
  const auto after = as_token(token, "auth whoami");
  EXPECT_NE(after.exit_code, 0);
  EXPECT_THAT(after.output, HasSubstr("Unauthorized")) << after.output;
}

TEST_F(ServiceAccountsOnUp, AutomountFalseMountsNothing) {
  ASSERT_THAT(kn("create serviceaccount quiet").output, HasSubstr("serviceaccount/quiet created"));
  ASSERT_THAT(kn("patch serviceaccount quiet -p '{\"automountServiceAccountToken\":false}'").output, HasSubstr("patched"));
  ASSERT_THAT(apply("optout.yaml", busybox_pod("optout", "  automountServiceAccountToken: false\n") + "---\n" +
                                       busybox_pod("quiet", "  serviceAccountName: quiet\n")),
              HasSubstr("pod/quiet created"));
  ASSERT_TRUE(wait_until(90, [] { return running("optout") && running("quiet"); })) << kn("describe pods").output;
  for (const char* pod : {"optout", "quiet"}) {
    EXPECT_EQ(kn(std::string("get pod ") + pod + " -o jsonpath={.spec.volumes}").output, "") << pod;
    EXPECT_THAT(kn(std::string("exec ") + pod + " -- ls " + kTokenDir).output, HasSubstr("No such file or directory")) << pod;
  }
  EXPECT_EQ(kn("get pod quiet -o jsonpath={.spec.serviceAccountName}").output, "quiet");
  // A ServiceAccount that does not exist: the admission plugin's 403.
  EXPECT_THAT(
      apply("ghost.yaml", busybox_pod("ghost", "  serviceAccountName: ghost\n")),
      HasSubstr("pods \"ghost\" is forbidden: error looking up service account " + ns_ + "/ghost: serviceaccount \"ghost\" not found"));
  ASSERT_EQ(kn("delete pod optout quiet --grace-period=0 --force").exit_code, 0);
}

// securityContext.fsGroup: a non-root container reads its token through the group (0640), and
// what it makes in an emptyDir belongs to the group (setgid directory).
TEST_F(ServiceAccountsOnUp, FsGroupLetsANonRootContainerReadItsToken) {
  ASSERT_THAT(apply("grouped.yaml", busybox_pod("grouped",
                                                "  securityContext: {runAsUser: 1000, fsGroup: 2000}\n"
                                                "  volumes: [{name: scratch, emptyDir: {}}]\n") +
                                        "    volumeMounts: [{name: scratch, mountPath: /scratch}]\n"),
              HasSubstr("pod/grouped created"));
  ASSERT_TRUE(wait_until(90, [] { return running("grouped"); })) << kn("describe pod grouped").output << up_output();
  const std::string dir = kTokenDir;
  EXPECT_THAT(kn("exec grouped -- id").output, HasSubstr("uid=1000"));
  EXPECT_EQ(kn("exec grouped -- stat -L -c '%g %a' " + dir + "/token").output, "2000 640\n");
  EXPECT_THAT(kn("exec grouped -- cat " + dir + "/token").output, MatchesRegex("[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+"));
  EXPECT_EQ(kn("exec grouped -- stat -L -c '%g %a' " + dir + "/namespace").output, "2000 644\n");
  EXPECT_EQ(kn("exec grouped -- stat -c '%g %a' /scratch").output, "2000 2777\n");
  EXPECT_EQ(kn("exec grouped -- sh -c 'touch /scratch/made && stat -c %g /scratch/made'").output, "2000\n");
  ASSERT_EQ(kn("delete pod grouped --grace-period=0 --force").exit_code, 0);
}

}  // namespace
}  // namespace switchyard
